# einc_generate(): run `einc gen` as a build step.
#
#   einc_generate(<target>
#     MANIFEST <file>...          pattern manifests (README.md, "Code generation")
#     [NAME <base>]               generated files are <base>.h / <base>.c (default: the manifest's
#                                 name without its extension when there is one manifest, as
#                                 `einc gen` and `einc lint --fix` name the header, else
#                                 <target>_einc)
#     [OUTPUT_DIR <dir>]          default ${CMAKE_CURRENT_BINARY_DIR}/einc_generated
#     [TARGETS c cuda opencl]     code targets (default c); cuda writes <base>.cuh / <base>.cu
#                                 (entries with `targets = cuda`), compiled into <target> with
#                                 the project's CUDA toolchain when the CUDA language is enabled
#                                 (architectures from CMAKE_CUDA_ARCHITECTURES, e.g.
#                                 "90a-real;90-virtual" for sm_90a and portable PTX) and linked
#                                 with CUDA::cudart; opencl writes <base>.cl (kernels for entries
#                                 with `targets = opencl`, every length known), which is not
#                                 compiled into <target>: load it at run time
#     [OUT_VAR <var>])            receives the generated files' paths
#
# The generated source is added to <target>, its folder to <target>'s include path (PUBLIC), and
# the generated code's one dependency (pthreads) to its link libraries. The files are regenerated
# whenever a manifest or the einc tool changes.
#
# The einc tool is the `einc` target when einc is part of the same CMake project, the imported
# einc::einc after find_package(einc), or EINC_EXECUTABLE when set.
include_guard(GLOBAL)

function(einc_generate target)
  cmake_parse_arguments(PARSE_ARGV 1 EG "" "NAME;OUTPUT_DIR;OUT_VAR" "MANIFEST;TARGETS")
  if(NOT EG_MANIFEST)
    message(FATAL_ERROR "einc_generate(${target}): MANIFEST is required")
  endif()
  if(EG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "einc_generate(${target}): unknown arguments ${EG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT EG_NAME)
    list(LENGTH EG_MANIFEST n_manifests)
    if(n_manifests EQUAL 1)
      get_filename_component(EG_NAME "${EG_MANIFEST}" NAME_WE)
    else()
      set(EG_NAME "${target}_einc")
    endif()
  endif()
  if(NOT EG_OUTPUT_DIR)
    set(EG_OUTPUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/einc_generated")
  endif()
  if(NOT EG_TARGETS)
    set(EG_TARGETS c)
  endif()

  if(EINC_EXECUTABLE)
    set(tool "${EINC_EXECUTABLE}")
    set(tool_dep "${EINC_EXECUTABLE}")
  elseif(TARGET einc::einc)
    set(tool "$<TARGET_FILE:einc::einc>")
    set(tool_dep einc::einc)
  elseif(TARGET einc)
    set(tool "$<TARGET_FILE:einc>")
    set(tool_dep einc)
  else()
    message(FATAL_ERROR "einc_generate(${target}): no einc tool (find_package(einc) first, or "
                        "set EINC_EXECUTABLE)")
  endif()

  set(manifests "")
  foreach(m IN LISTS EG_MANIFEST)
    get_filename_component(abs "${m}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND manifests "${abs}")
  endforeach()

  set(outputs "")
  set(target_args "")
  foreach(t IN LISTS EG_TARGETS)
    if(t STREQUAL "c")
      list(APPEND outputs "${EG_OUTPUT_DIR}/${EG_NAME}.h" "${EG_OUTPUT_DIR}/${EG_NAME}.c")
    elseif(t STREQUAL "cuda")
      list(APPEND outputs "${EG_OUTPUT_DIR}/${EG_NAME}.cuh" "${EG_OUTPUT_DIR}/${EG_NAME}.cu")
    elseif(t STREQUAL "opencl")
      list(APPEND outputs "${EG_OUTPUT_DIR}/${EG_NAME}.cl")
    else()
      message(FATAL_ERROR
              "einc_generate(${target}): target '${t}' is not available (c, cuda, opencl)")
    endif()
    list(APPEND target_args --target "${t}")
  endforeach()

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${EG_OUTPUT_DIR}"
    COMMAND ${tool} gen -o "${EG_OUTPUT_DIR}" --name "${EG_NAME}" ${target_args} ${manifests}
    DEPENDS ${manifests} ${tool_dep}
    COMMENT "einc gen ${EG_NAME}"
    VERBATIM)

  find_package(Threads REQUIRED)
  target_sources(${target} PRIVATE ${outputs})
  if("cuda" IN_LIST EG_TARGETS)
    get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
    if("CUDA" IN_LIST languages)
      if(NOT TARGET CUDA::cudart)
        find_package(CUDAToolkit REQUIRED)
      endif()
      target_link_libraries(${target} PUBLIC CUDA::cudart)
    else()
      # Without the CUDA language the .cu is generated but not compiled.
      set_source_files_properties("${EG_OUTPUT_DIR}/${EG_NAME}.cu" PROPERTIES HEADER_FILE_ONLY ON)
      message(STATUS "einc_generate(${target}): CUDA is not enabled; ${EG_NAME}.cu is generated, "
                     "not compiled")
    endif()
  endif()
  target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${EG_OUTPUT_DIR}>")
  target_link_libraries(${target} PRIVATE Threads::Threads)
  if(EG_OUT_VAR)
    set(${EG_OUT_VAR} ${outputs} PARENT_SCOPE)
  endif()
endfunction()

# Compiles the OpenCL C kernels with clang for every dtype, the Intel subgroup kernel included
# (no CI device runs it): cmake -DCLANG=clang -DKERNELS=dir -DWORK=dir -P check_cl.cmake
file(READ "${KERNELS}/dtype.cl" dtype)
file(READ "${KERNELS}/gated_rmsnorm.cl" norm)
file(READ "${KERNELS}/gemm_nt.cl" gemm)
file(WRITE "${WORK}/all_kernels.cl" "${dtype}${norm}${gemm}")
foreach(dt F32 BF16 F16)
  # OpenCL C 2.0 headers declare the subgroup builtins that Intel's 1.2 compiler provides.
  execute_process(
    COMMAND ${CLANG} -x cl -cl-std=CL2.0 -target spir64 -Xclang -finclude-default-header
            -fsyntax-only -Werror -DEINC_DT_${dt} -DEINC_NORM_LOCAL=64 -DEINC_TILE=64 -DEINC_TK=16 -DEINC_WPT=8 -DEINC_GEMV_ROWS=8 -DEINC_GEMV_LOCAL=64
            -DEINC_INTEL_SUBGROUPS
            -Xclang -cl-ext=+cl_intel_subgroups,+cl_intel_required_subgroup_size,+cl_khr_subgroups
            ${WORK}/all_kernels.cl
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "OpenCL kernels (${dt}) do not compile:\n${out}")
  endif()
endforeach()
message(STATUS "OpenCL kernels compile for F32, BF16 and F16")

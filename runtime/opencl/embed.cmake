# Turns OpenCL C sources into a C file of string constants, one per source:
#   cmake -DOUT=file.c -DSOURCES="a.cl;b.cl" -P embed.cmake
# `a.cl` becomes `const char einc_rt__cl_a[]`, one string literal per source line.
set(text "/* Generated from OpenCL C sources by runtime/opencl/embed.cmake; do not edit. */\n")
foreach(src IN LISTS SOURCES)
  get_filename_component(name "${src}" NAME_WE)
  file(READ "${src}" body)
  string(REPLACE "\\" "\\\\" body "${body}")
  string(REPLACE "\"" "\\\"" body "${body}")
  string(REPLACE "\n" "\\n\"\n  \"" body "${body}")
  string(APPEND text "const char einc_rt__cl_${name}[] =\n  \"${body}\";\n")
endforeach()
file(WRITE "${OUT}" "${text}")

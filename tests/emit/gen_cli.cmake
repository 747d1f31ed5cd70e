# `einc gen` from the command line: a good manifest writes a header and a source that compile
# warning-free; an invalid pattern exits 1 with einops' error; a malformed manifest exits 2 with
# FILE:LINE; a second run leaves unchanged files untouched.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

execute_process(COMMAND ${EINC} gen -o ${WORK} --name good ${SRC}/intree.einc
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/good.h OR NOT EXISTS ${WORK}/good.c)
  message(FATAL_ERROR "einc gen failed (${rc}): ${err}")
endif()
execute_process(COMMAND cc -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror -O2 -c
  ${WORK}/good.c -o ${WORK}/good.o RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "generated C does not compile warning-free: ${err}")
endif()
file(TIMESTAMP ${WORK}/good.c t1 "%s")
execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1.1)
execute_process(COMMAND ${EINC} gen -o ${WORK} --name good ${SRC}/intree.einc RESULT_VARIABLE rc)
file(TIMESTAMP ${WORK}/good.c t2 "%s")
if(NOT rc EQUAL 0 OR NOT t1 STREQUAL t2)
  message(FATAL_ERROR "a second einc gen rewrote an unchanged file")
endif()

file(WRITE ${WORK}/bad.einc "[oops]\nop = rearrange\npattern = (h d) -> h d\nshape = 12\ndtype = float32\n")
execute_process(COMMAND ${EINC} gen -o ${WORK} ${WORK}/bad.einc RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "oops" OR NOT err MATCHES "error\\[")
  message(FATAL_ERROR "invalid pattern: expected exit 1 and an error naming the entry, got ${rc}: ${err}")
endif()

file(WRITE ${WORK}/malformed.einc "[a]\nop = rearrange\npattern = a -> a\nshape = 3\nflavour = sweet\n")
execute_process(COMMAND ${EINC} gen -o ${WORK} ${WORK}/malformed.einc RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "malformed.einc:5: unknown key")
  message(FATAL_ERROR "malformed manifest: expected exit 2 and FILE:LINE, got ${rc}: ${err}")
endif()

# The OpenCL target: kernels for entries with every length known, an error for the others.
file(WRITE ${WORK}/cl.einc "[cl_nhwc]\nop = rearrange\npattern = b c h w -> b h w c\nshape = 2, 3, 4, 5\ndtype = float32\ntargets = c, opencl\n")
execute_process(COMMAND ${EINC} gen -o ${WORK} --target c --target opencl ${WORK}/cl.einc
  RESULT_VARIABLE rc ERROR_VARIABLE err)
file(READ ${WORK}/cl.cl cl_text)
if(NOT rc EQUAL 0 OR NOT cl_text MATCHES "__kernel void cl_nhwc")
  message(FATAL_ERROR "einc gen --target opencl failed (${rc}): ${err}")
endif()
file(WRITE ${WORK}/cl_open.einc "[cl_open]\nop = rearrange\npattern = a b -> b a\nshape = ?, 4\ntargets = opencl\n")
execute_process(COMMAND ${EINC} gen -o ${WORK} --target opencl ${WORK}/cl_open.einc
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "every length known")
  message(FATAL_ERROR "opencl with a run-time length: expected exit 1, got ${rc}: ${err}")
endif()

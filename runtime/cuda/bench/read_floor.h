/* A kernel that only reads `bytes` (a multiple of 16, 16-byte aligned) once: read_floor.cu.
 * `sink` holds at least `blocks` words. */
#ifndef EINC_RT_CUDA_BENCH_READ_FLOOR_H
#define EINC_RT_CUDA_BENCH_READ_FLOOR_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
cudaError_t bench_read_launch(const void *p, size_t bytes, uint32_t *sink, int blocks,
                              cudaStream_t s);
#ifdef __cplusplus
}
#endif
#endif

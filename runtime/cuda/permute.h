/*
 * Permute-copies on CUDA, read from a coalesced loop description: the CUDA side of einc's code
 * generator (a COPY plan's `loops[]`, each {length, in_stride, out_stride}, in output order).
 * The kernels themselves are templates in permute.cuh so that generated code can instantiate
 * them for one plan; einc_rt__cuda_permute is the run-time launcher over any description.
 */
#ifndef EINC_RT_CUDA_PERMUTE_H
#define EINC_RT_CUDA_PERMUTE_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EINC_RT_CUDA_PERMUTE_MAX_RANK 6

/* One loop of the nest, strides in elements (einc_loop's first three fields). */
typedef struct einc_rt_cuda_permute_loop {
  int64_t length;
  int64_t in_stride;
  int64_t out_stride;
} einc_rt_cuda_permute_loop;

/* out[Σ i_k * out_stride_k] = in[Σ i_k * in_stride_k] for every index of the nest (outermost
 * first), elements of `elem_size` bytes (1, 2, 4, 8 or 16). Loops are coalesced first; after
 * that at most EINC_RT_CUDA_PERMUTE_MAX_RANK may remain (EINC_RT_EINVAL otherwise). Strides
 * must be non-negative and the output must not overlap itself. Enqueues on `stream` only: no
 * allocation, no synchronisation. Returns an einc_rt_status. */
int einc_rt__cuda_permute(const einc_rt_cuda_permute_loop *loops, int32_t n_loops, size_t elem_size,
                          const void *in, void *out, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif /* EINC_RT_CUDA_PERMUTE_H */

/*
 * Shared by the CUDA benchmarks: checked calls, event timing (median of repeats) and the two
 * floors every figure is judged against, measured in the same run: device copy bandwidth
 * (cudaMemcpy device to device, bytes read plus written) and the bf16 GEMM rate of cuBLASLt at
 * a large square size (through the backend's own GEMM).
 */
#ifndef EINC_RT_CUDA_BENCH_COMMON_H
#define EINC_RT_CUDA_BENCH_COMMON_H

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CUDA call that must succeed: the expression, where, and the driver's message, then exit.
 * (The CUDA tests use it too, as CHECK_CUDA.) */
#define BENCH_CUDA(expr)                                                                           \
  do {                                                                                             \
    cudaError_t e_ = (expr);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_));       \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static inline int bench_cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Time `fn(ctx, i)` for i = 0..iters-1 between two events, `reps` times; the median in
 * microseconds per call. One warm-up pass first. */
static inline double bench_time_us(cudaStream_t s, int iters, int reps, void (*fn)(void *, int),
                                   void *ctx) {
  cudaEvent_t a, b;
  double t[64];
  if (reps > 64) reps = 64;
  BENCH_CUDA(cudaEventCreate(&a));
  BENCH_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < iters; i++)
    fn(ctx, i);
  BENCH_CUDA(cudaStreamSynchronize(s));
  for (int r = 0; r < reps; r++) {
    float ms;
    BENCH_CUDA(cudaEventRecord(a, s));
    for (int i = 0; i < iters; i++)
      fn(ctx, i);
    BENCH_CUDA(cudaEventRecord(b, s));
    BENCH_CUDA(cudaEventSynchronize(b));
    BENCH_CUDA(cudaEventElapsedTime(&ms, a, b));
    t[r] = 1000.0 * ms / iters;
  }
  BENCH_CUDA(cudaGetLastError());
  qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return t[reps / 2];
}

typedef struct bench_copy_ctx {
  cudaStream_t s;
  void *dst, *src;
  size_t bytes;
} bench_copy_ctx;

static inline void bench_copy_fn(void *p, int i) {
  bench_copy_ctx *c = p;
  (void)i;
  BENCH_CUDA(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, c->s));
}

/* Device copy bandwidth in bytes/s, counting bytes read plus bytes written. */
static inline double bench_copy_bandwidth(cudaStream_t s) {
  bench_copy_ctx c = {s, NULL, NULL, (size_t)1 << 30};
  BENCH_CUDA(cudaMalloc(&c.src, c.bytes));
  BENCH_CUDA(cudaMalloc(&c.dst, c.bytes));
  BENCH_CUDA(cudaMemsetAsync(c.src, 0x3c, c.bytes, s));
  const double us = bench_time_us(s, 5, 9, bench_copy_fn, &c);
  cudaFree(c.src);
  cudaFree(c.dst);
  return 2.0 * (double)c.bytes / (us * 1e-6);
}

#endif /* EINC_RT_CUDA_BENCH_COMMON_H */

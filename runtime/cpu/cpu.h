/*
 * Internal to the CPU backend: the thread pool, the gated RMSNorm kernels (portable and x86
 * SIMD, picked once at run time), the one-token float16 product and the GEMM through oneDNN.
 */
#ifndef EINC_RT_CPU_H
#define EINC_RT_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* ---- thread pool (pool.c) ---- */

typedef struct einc_rt__pool einc_rt__pool;
/* fn(ctx, begin, end) runs on a part of [0, n). */
typedef void (*einc_rt__pool_fn)(void *ctx, int64_t begin, int64_t end);

int einc_rt__pool_new(int32_t n_threads, einc_rt__pool **out);
void einc_rt__pool_delete(einc_rt__pool *self);
int32_t einc_rt__pool_size(const einc_rt__pool *self);
/* Split [0, n) into at most one part per thread, each at least `grain` long, run them and wait.
 * The calling thread runs the first part. */
void einc_rt__pool_run(einc_rt__pool *self, int64_t n, int64_t grain, einc_rt__pool_fn fn,
                       void *ctx);

/* ---- gated RMSNorm kernels (norm.c, norm_x86.c) ---- */

/* One call's operands; pointers address element [0, 0, 0], strides count elements. */
typedef struct einc_rt__norm_job {
  const void *o, *z;
  int64_t o_stride, z_stride; /* token strides */
  const float *w;             /* the norm weight, widened to float */
  int64_t heads, d;
  float eps;
  einc_rt_gate gate;
  einc_rt_dtype dt; /* of O and Z, and what Y is rounded to */
  void *y;
  int64_t y_stride; /* token stride of Y */
  bool y_f32;       /* store Y widened back to float (after rounding to dt) for an f32 GEMM */
} einc_rt__norm_job;

/* Tokens [t0, t1) of a job. */
typedef void (*einc_rt__norm_fn)(const einc_rt__norm_job *job, int64_t t0, int64_t t1);

/* dst[0, n) = src rounded to dt (bfloat16 or float16), nearest even. */
typedef void (*einc_rt__narrow_fn)(const float *src, uint16_t *dst, int64_t n, einc_rt_dtype dt);

typedef struct einc_rt__norm_impl {
  const char *name; /* "avx512_bf16", "avx512", "avx2", "portable" */
  einc_rt__norm_fn run;
  einc_rt__narrow_fn narrow; /* the GEMM's float output back to the activation dtype */
} einc_rt__norm_impl;

/* The CPU has AVX-512 BF16 (bfloat16 dot products and conversions). */
bool einc_rt__cpu_has_avx512bf16(void);
/* The fastest kernel this CPU runs. */
einc_rt__norm_impl einc_rt__norm_pick(void);
void einc_rt__norm_portable(const einc_rt__norm_job *job, int64_t t0, int64_t t1);
void einc_rt__narrow_portable(const float *src, uint16_t *dst, int64_t n, einc_rt_dtype dt);
#if defined(__x86_64__) || defined(__i386__)
void einc_rt__norm_avx2(const einc_rt__norm_job *job, int64_t t0, int64_t t1);
void einc_rt__norm_avx512(const einc_rt__norm_job *job, int64_t t0, int64_t t1);
void einc_rt__norm_avx512_bf16(const einc_rt__norm_job *job, int64_t t0, int64_t t1);
void einc_rt__narrow_avx2(const float *src, uint16_t *dst, int64_t n, einc_rt_dtype dt);
void einc_rt__narrow_avx512(const float *src, uint16_t *dst, int64_t n, einc_rt_dtype dt);
#endif

/* ---- the one-token float16 product (gemv_x86.c) ---- */

/* out[r] = sum_c w[r * ldw + c] * x[c] rounded to float16, for rows [r0, r1); W float16. */
typedef void (*einc_rt__gemv_f16_fn)(const uint16_t *w, int64_t ldw, const float *x, int64_t k,
                                     uint16_t *out, int64_t r0, int64_t r1);

/* The fastest kernel this CPU runs, or NULL (no F16C): float16 products then go through float. */
einc_rt__gemv_f16_fn einc_rt__gemv_f16_pick(void);
#if defined(__x86_64__) || defined(__i386__)
void einc_rt__gemv_f16_avx2(const uint16_t *w, int64_t ldw, const float *x, int64_t k,
                            uint16_t *out, int64_t r0, int64_t r1);
void einc_rt__gemv_f16_avx512(const uint16_t *w, int64_t ldw, const float *x, int64_t k,
                              uint16_t *out, int64_t r0, int64_t r1);
#endif

#endif /* EINC_RT_CPU_H */

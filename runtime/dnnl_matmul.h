/*
 * Internal to the CPU and OpenCL backends: oneDNN primitives for out = x · wᵀ (matmul; inner
 * product for one row on the CPU), created once per shape, strides and dtypes and kept in a small
 * per-owner cache.
 */
#ifndef EINC_RT_DNNL_MATMUL_H
#define EINC_RT_DNNL_MATMUL_H

#include <dnnl.h>
#include <pthread.h>
#include <stdbool.h>

#include "backend.h"

/* Checks a oneDNN call; on failure records expression, file, line and oneDNN's status name and
 * jumps to `label` with `rc` set. */
#define EINC_RT__DNNL_CHECK(expr, label)                                                           \
  do {                                                                                             \
    dnnl_status_t einc_rt__s = (expr);                                                             \
    if (einc_rt__s != dnnl_success) {                                                              \
      rc = einc_rt__fail(EINC_RT_EBACKEND, "%s failed at %s:%d: %s", #expr, __FILE__, __LINE__,    \
                         einc_rt__dnnl_status_name(einc_rt__s));                                   \
      goto label;                                                                                  \
    }                                                                                              \
  } while (0)

const char *einc_rt__dnnl_status_name(dnnl_status_t s);

/* One GEMM's description: out[m, n] = sum_k x[m, k] * w[n, k]; leading dims in elements, byte
 * offsets of the operands in `*_offset` (OpenCL buffers). */
typedef struct einc_rt__mm_key {
  dnnl_data_type_t x_dt, w_dt, out_dt;
  int64_t m, k, n;
  int64_t ldx, ldw, ldo;
  int64_t x_offset, w_offset, out_offset; /* in elements (offset0 of the memory descriptors) */
} einc_rt__mm_key;

typedef struct einc_rt__mm_entry {
  einc_rt__mm_key key;
  dnnl_primitive_t prim;
  dnnl_memory_t x, w, out; /* handles replaced per call */
  uint64_t last_use;
  char impl[64];
} einc_rt__mm_entry;

#define EINC_RT__MM_CACHE_SIZE 12

typedef struct einc_rt__mm_cache {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  bool ocl_buffers;   /* an OpenCL engine: operands are cl_mem buffers */
  pthread_mutex_t mu; /* entries and the execution with their memory objects */
  uint64_t clock;
  einc_rt__mm_entry entries[EINC_RT__MM_CACHE_SIZE];
} einc_rt__mm_cache;

void einc_rt__mm_cache_init(einc_rt__mm_cache *self, dnnl_engine_t engine, dnnl_stream_t stream,
                            bool ocl_buffers);
void einc_rt__mm_cache_clear(einc_rt__mm_cache *self);
/* Run out = x · wᵀ (handles: host pointers on the CPU engine, cl_mem on an OpenCL engine). The
 * primitive for `key` is created on first use. `impl` (may be NULL) receives oneDNN's
 * implementation name. */
int einc_rt__mm_run(einc_rt__mm_cache *self, const einc_rt__mm_key *key, void *x, void *w,
                    void *out, const char **impl);

#endif /* EINC_RT_DNNL_MATMUL_H */

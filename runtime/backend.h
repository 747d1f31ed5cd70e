/*
 * Internal to libeinc_rt: the table of functions every backend fills, and helpers shared by the
 * backends. The public entry points (einc_rt.h) check their arguments once, in gdn.c, and then
 * call through this table, so a backend's functions may trust shapes, dtypes and strides.
 */
#ifndef EINC_RT_BACKEND_H
#define EINC_RT_BACKEND_H

#include "einc/einc_rt.h"

typedef struct einc_rt_backend_vtable {
  void (*destroy)(einc_rt_backend *self);
  bool (*supports)(const einc_rt_backend *self, einc_rt_op op, einc_rt_dtype dt);
  int (*synchronize)(einc_rt_backend *self);

  /* y[T,H,d] (contiguous) = gated_rmsnorm(o, z) * w */
  int (*gated_rmsnorm)(einc_rt_backend *self, const einc_rt_tensor *o, const einc_rt_tensor *z,
                       const einc_rt_tensor *norm_weight, const einc_rt_gdn_params *params,
                       einc_rt_tensor *y);
  /* out[T,D] = x[T,K] · w[D,K]ᵀ; x and w have unit stride in their last dim */
  int (*gemm_nt)(einc_rt_backend *self, const einc_rt_tensor *x, const einc_rt_tensor *w,
                 einc_rt_tensor *out);

  /* The bound projection: prepare once, run many times. `state` is the backend's own. */
  int (*proj_new)(einc_rt_backend *self, const einc_rt_tensor *norm_weight,
                  const einc_rt_tensor *proj_weight, const einc_rt_gdn_params *params,
                  int64_t max_tokens, void **state);
  int (*proj_run)(einc_rt_backend *self, void *state, const einc_rt_tensor *o,
                  const einc_rt_tensor *z, einc_rt_tensor *out);
  void (*proj_delete)(einc_rt_backend *self, void *state);

  /* Optional: device memory (einc_rt_backend_alloc ...). Left NULL, host memory backs the CPU
   * backend, cudart's blocking calls a CUDA backend (backend.c), and others answer
   * EINC_RT_EUNSUPPORTED. */
  int (*mem_alloc)(einc_rt_backend *self, size_t bytes, void **out);
  void (*mem_free)(einc_rt_backend *self, void *buf);
  int (*mem_upload)(einc_rt_backend *self, void *buf, const void *host, size_t bytes);
  int (*mem_download)(einc_rt_backend *self, void *host, const void *buf, size_t bytes);
} einc_rt_backend_vtable;

struct einc_rt_backend {
  einc_rt_backend_kind kind;
  const einc_rt_backend_vtable *vt;
  char name[160];
  void *impl; /* the backend's own state */
};

/* Constructors, one per backend; each returns EINC_RT_ENOTAVAIL when not built in or no device. */
int einc_rt__cpu_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out);
int einc_rt__opencl_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out);
int einc_rt__cuda_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out);

/* The head merge X = rearrange(Y, "... h d -> ... (h d)"), generated at build time by `einc gen`
 * from runtime/patterns.einc (head_merge.c): checked once when a projection is created, applied
 * per call. Applying it to a contiguous [T, H, d] descriptor gives the [T, H*d] view over the
 * same data (no element moves). */
typedef struct einc_rt__head_merge {
  int64_t heads, head_dim;
  int64_t merged_len; /* H*d */
} einc_rt__head_merge;

int einc_rt__head_merge_compile(int64_t heads, int64_t head_dim, einc_rt__head_merge *out);
/* ELAYOUT when `y`'s heads cannot merge into one dim without a copy. */
int einc_rt__head_merge_apply(const einc_rt__head_merge *self, const einc_rt_tensor *y,
                              einc_rt_tensor *x);

/* What every backend's bound projection keeps: dtype, sizes (H heads of d, K = H*d inputs, D = n
 * outputs), the parameters and the compiled head merge. Filled from arguments gdn.c checked. */
typedef struct einc_rt__proj_info {
  einc_rt__head_merge merge;
  einc_rt_dtype dt;
  int64_t heads, d, k, n;
  einc_rt_gdn_params params;
} einc_rt__proj_info;

int einc_rt__proj_info_init(einc_rt__proj_info *self, const einc_rt_tensor *norm_weight,
                            const einc_rt_tensor *proj_weight, const einc_rt_gdn_params *params);

/* Record a failure's detail for einc_rt_last_error() (thread-local) and return `status`. */
int einc_rt__fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* EINC_RT_BACKEND_H */

/*
 * libeinc_rt — einc's runtime: tensors, backends (CPU, CUDA, OpenCL), the run-time pattern API
 * and the Gated DeltaNet output projection of Qwen3.5 / Qwen3-Next.
 *
 * Conventions
 * - A tensor descriptor is plain data: shape and strides outermost-first, strides in elements.
 * - Every function returns an einc_rt_status (0 = EINC_RT_OK, negative on failure); nothing
 *   exits or prints. On failure nothing is written to any output.
 * - Objects returned through `**out` are owned by the caller; _delete(NULL) is a no-op.
 */
#ifndef EINC_EINC_RT_H
#define EINC_EINC_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Section 1: status codes
 * ------------------------------------------------------------------------------------------- */

/* X(NAME, value, message) */
#define EINC_RT_STATUS_TABLE(X)                                                                    \
  X(OK, 0, "success")                                                                              \
  X(EINVAL, -1, "invalid argument")                                                                \
  X(ESHAPE, -2, "tensor shapes do not match")                                                      \
  X(EDTYPE, -3, "dtype not supported or not matching")                                             \
  X(ELAYOUT, -4, "tensor layout (strides) not supported by this backend")                          \
  X(EDEVICE, -5, "tensor lives on another device than the backend")                                \
  X(ENOMEM, -6, "out of memory")                                                                   \
  X(EUNSUPPORTED, -7, "operation not supported by this backend")                                   \
  X(EBACKEND, -8, "backend library call failed")                                                   \
  X(ENOTAVAIL, -9, "backend not available on this machine")                                        \
  X(EPATTERN, -10, "invalid pattern")

typedef enum einc_rt_status {
#define EINC_RT__STATUS_ENUM(name, value, msg) EINC_RT_##name = value,
  EINC_RT_STATUS_TABLE(EINC_RT__STATUS_ENUM)
#undef EINC_RT__STATUS_ENUM
} einc_rt_status;

const char *einc_rt_status_message(int status); /* never NULL */
const char *einc_rt_status_name(int status);    /* "EINC_RT_ESHAPE"; never NULL */

/* The last failure's detail on this thread ("W has 4096 columns, expected H*d = 4096"), or "". */
const char *einc_rt_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * Section 2: tensors
 * ------------------------------------------------------------------------------------------- */

#define EINC_RT_MAX_DIMS 8

typedef enum einc_rt_dtype {
  EINC_RT_F32,
  EINC_RT_BF16,
  EINC_RT_F16,
} einc_rt_dtype;

typedef enum einc_rt_device {
  EINC_RT_DEVICE_CPU,
  EINC_RT_DEVICE_CUDA,
  EINC_RT_DEVICE_OPENCL,
} einc_rt_device;

typedef struct einc_rt_tensor {
  einc_rt_dtype dtype;
  int32_t rank;
  int64_t shape[EINC_RT_MAX_DIMS];   /* outermost first */
  int64_t strides[EINC_RT_MAX_DIMS]; /* in elements, outermost first */
  void *data;     /* CPU: host pointer; CUDA: device pointer; OpenCL: a cl_mem (buffer object) */
  int64_t offset; /* elements from `data` to element [0,...,0] (OpenCL buffers cannot be offset) */
  einc_rt_device device;
} einc_rt_tensor;

size_t einc_rt_dtype_size(einc_rt_dtype dt);
const char *einc_rt_dtype_name(einc_rt_dtype dt); /* "float32", "bfloat16", "float16" */

/* A contiguous descriptor of `rank` dims over `data` (offset 0). rank is clamped to
 * [0, EINC_RT_MAX_DIMS]. */
einc_rt_tensor einc_rt_tensor_contiguous(einc_rt_dtype dt, einc_rt_device dev, void *data,
                                         int32_t rank, const int64_t *shape);
/* Product of the shape (1 for rank 0). */
int64_t einc_rt_tensor_numel(const einc_rt_tensor *t);

/* Scalar conversions; float -> bfloat16 / float16 round to nearest even, NaN stays NaN,
 * overflow of float16 gives infinity. */
uint16_t einc_rt_f32_to_bf16(float x);
float einc_rt_bf16_to_f32(uint16_t x);
uint16_t einc_rt_f32_to_f16(float x);
float einc_rt_f16_to_f32(uint16_t x);

/* ---------------------------------------------------------------------------------------------
 * Section 3: backends
 * ------------------------------------------------------------------------------------------- */

typedef enum einc_rt_backend_kind {
  EINC_RT_BACKEND_CPU,
  EINC_RT_BACKEND_CUDA,
  EINC_RT_BACKEND_OPENCL,
} einc_rt_backend_kind;

typedef enum einc_rt_op {
  EINC_RT_OP_GATED_RMSNORM,
  EINC_RT_OP_GEMM,
  EINC_RT_OP_GDN_OUT_PROJ,
} einc_rt_op;

typedef struct einc_rt_backend einc_rt_backend;

/* Backend options; zero-initialise and set what you need. */
typedef struct einc_rt_backend_options {
  int32_t n_threads;    /* CPU: threads of the norm, 0 = all cores. The GEMM runs on oneDNN's
                           threads (Debian's oneDNN: OpenMP, OMP_NUM_THREADS); in GCC builds the
                           norm runs on that same OpenMP team, with n_threads of its threads */
  int32_t device_index; /* CUDA / OpenCL: which device (0 = first) */
  void *stream;         /* CUDA: a cudaStream_t to run on (NULL = the legacy default stream) */
  void *opencl_queue;   /* OpenCL: a cl_command_queue to use, or NULL to make one */
} einc_rt_backend_options;

/* Create a backend. EINC_RT_ENOTAVAIL when the kind was not built in or no device is present. */
int einc_rt_backend_new(einc_rt_backend_kind kind, const einc_rt_backend_options *opts,
                        einc_rt_backend **out);
void einc_rt_backend_delete(einc_rt_backend *self);
/* "cpu (2 threads, norm avx512, oneDNN 2.6)", "opencl (<device>, norm portable, GEMM tiled
 * kernel)"; never NULL. */
const char *einc_rt_backend_name(const einc_rt_backend *self);
einc_rt_backend_kind einc_rt_backend_get_kind(const einc_rt_backend *self);
/* Whether `op` runs on this backend for activations of dtype `dt`. */
bool einc_rt_backend_supports(const einc_rt_backend *self, einc_rt_op op, einc_rt_dtype dt);
/* Wait until all work queued by the backend is done (CUDA / OpenCL; CPU: no-op). */
int einc_rt_backend_synchronize(einc_rt_backend *self);

/* Memory on the backend's device, for callers without their own allocator (benchmarks, demos):
 * CPU: 64-byte aligned host memory; OpenCL: a cl_mem buffer in the backend's context; CUDA:
 * device memory. Copies are blocking. EINC_RT_EUNSUPPORTED where a backend does not offer it. */
int einc_rt_backend_alloc(einc_rt_backend *self, size_t bytes, void **out);
void einc_rt_backend_free(einc_rt_backend *self, void *buf);
int einc_rt_backend_upload(einc_rt_backend *self, void *buf, const void *host, size_t bytes);
int einc_rt_backend_download(einc_rt_backend *self, void *host, const void *buf, size_t bytes);

/* ---------------------------------------------------------------------------------------------
 * Section 4: the Gated DeltaNet output projection
 *
 *   O, Z : [T, H, d]   activation dtype (bf16, f16 or f32); unit stride within a row of H*d,
 *                      any token stride (Z may be a slice of a larger projection output)
 *   w    : [d]         same dtype
 *   W    : [D, H*d]    same dtype, row-major (PyTorch's Linear.weight)
 *   out  : [T, D]      same dtype, any row stride (may be a row slice of a larger buffer)
 *
 *   r[t,h]   = (mean_i O[t,h,i]^2 + eps)^(-1/2)                      fp32 math
 *   Y[t,h,i] = cast( O[t,h,i] * r[t,h] * w[i] * act(Z[t,h,i]) )      act = silu or sigmoid
 *   X        = rearrange(Y, "... h d -> ... (h d)")                  a view, compiled by einc
 *   out      = X · Wᵀ                                                no bias
 *
 * Y is rounded to the activation dtype before the GEMM, as vLLM's RMSNormGated does.
 * ------------------------------------------------------------------------------------------- */

typedef enum einc_rt_gate {
  EINC_RT_GATE_SILU,
  EINC_RT_GATE_SIGMOID,
} einc_rt_gate;

typedef struct einc_rt_gdn_params {
  float eps;         /* 1e-6 for Qwen3.5 */
  einc_rt_gate gate; /* silu by default (0) */
} einc_rt_gdn_params;

/* A projection bound to its weights on one backend. It owns a workspace sized for up to
 * `max_tokens` tokens (grown by _run only where the backend allows allocation there; the CUDA
 * backend never allocates inside _run, so it is CUDA-graph capture safe for T <= max_tokens).
 * One projection runs on one thread at a time (its workspace is shared by its calls); separate
 * projections may run concurrently. W may have a row stride larger than H*d. On the CPU, for a
 * 16-bit dtype the CPU cannot multiply natively, _new keeps a float copy of W (2x its size) and
 * uses it for T > 1, which runs oneDNN's much faster float32 kernels. */
typedef struct einc_rt_gdn_out_proj einc_rt_gdn_out_proj;

/* Check shapes and dtypes of the weights and prepare (pack weights, pick GEMM algorithms). The
 * weight tensors must stay alive and unchanged while the projection is used. On CUDA, with
 * max_tokens >= 4096, _new times cuBLASLt's candidate algorithms for a full chunk on the
 * backend's stream and waits for them (tens of milliseconds); while that stream is being
 * captured it skips the timing and keeps the heuristic's choice. */
int einc_rt_gdn_out_proj_new(einc_rt_backend *backend, const einc_rt_tensor *norm_weight,
                             const einc_rt_tensor *proj_weight, const einc_rt_gdn_params *params,
                             int64_t max_tokens, einc_rt_gdn_out_proj **out);
void einc_rt_gdn_out_proj_delete(einc_rt_gdn_out_proj *self);

/* out = out_proj(flatten(gated_rmsnorm(O, Z))). O, Z: [T, H, d]; out: [T, D]. */
int einc_rt_gdn_out_proj_run(einc_rt_gdn_out_proj *self, const einc_rt_tensor *o,
                             const einc_rt_tensor *z, einc_rt_tensor *out);

/* The two steps on their own, for tests and benchmarks. y: [T, H, d] contiguous. */
int einc_rt_gated_rmsnorm(einc_rt_backend *backend, const einc_rt_tensor *o,
                          const einc_rt_tensor *z, const einc_rt_tensor *norm_weight,
                          const einc_rt_gdn_params *params, einc_rt_tensor *y);
/* out[T, D] = x[T, K] · W[D, K]ᵀ */
int einc_rt_gemm_nt(einc_rt_backend *backend, const einc_rt_tensor *x, const einc_rt_tensor *w,
                    einc_rt_tensor *out);

/* ---------------------------------------------------------------------------------------------
 * Section 5: run-time pattern API
 *
 * einops for C: apply a rearrange / reduce / repeat pattern to a contiguous (C-order) host buffer
 * and write the contiguous result. The pattern is compiled by einc's pattern compiler and run by
 * its interpreter; compiled plans are cached, keyed like einops (op, pattern, reduction, axis
 * names and sizes, dtype, input shape), in a bounded, thread-safe LRU cache (1024 plans), so a
 * repeated call costs a hash and a lookup before the data moves.
 *
 * Errors: EINC_RT_EPATTERN for an invalid pattern, EINC_RT_ESHAPE when the input shape or the
 * sizes do not fit it, EINC_RT_EDTYPE (mean of an integer dtype), EINC_RT_EINVAL for NULL
 * arguments; einc_rt_last_error() then holds einops' message. Nothing is written on failure.
 *
 * `einc lint --fix` on C/C++/CUDA sources rewrites calls whose pattern and sizes are constants
 * into calls of functions generated at build time (`einc gen`, CMake einc_generate()), which
 * need neither the pattern compiler nor the strings at run time.
 * ------------------------------------------------------------------------------------------- */

/* A keyword axis size, as einops' **axes_lengths. Lists end with {NULL, 0}. */
typedef struct einc_rt_axis_size {
  const char *name;
  int64_t value;
} einc_rt_axis_size;

/* A {NULL, 0}-terminated size list: EINC_RT_SIZES({"h", 8}, {"w", 2}) (C99 compound literal). */
#define EINC_RT_SIZES(...) ((const einc_rt_axis_size[]){__VA_ARGS__, {NULL, 0}})

typedef enum einc_rt_pattern_op {
  EINC_RT_PATTERN_REARRANGE,
  EINC_RT_PATTERN_REDUCE,
  EINC_RT_PATTERN_REPEAT,
} einc_rt_pattern_op;

/* out = rearrange(in, pattern, **sizes). `in` has `rank` dims `shape`; `out` must hold the
 * result's elements (einc_rt_pattern_shape gives its shape). `sizes` may be NULL. `in` and `out`
 * may be the same buffer only when the pattern is a view (then nothing is copied). */
int einc_rt_rearrange(const char *pattern, einc_rt_dtype dtype, const void *in, int32_t rank,
                      const int64_t *shape, void *out, const einc_rt_axis_size *sizes);
/* out = reduce(in, pattern, reduction, **sizes); reduction: "sum", "mean", "max", "min", "prod".
 * Accumulates in double over the reduced axes in left order (reproducible to the bit). */
int einc_rt_reduce(const char *pattern, const char *reduction, einc_rt_dtype dtype, const void *in,
                   int32_t rank, const int64_t *shape, void *out, const einc_rt_axis_size *sizes);
/* out = repeat(in, pattern, **sizes). */
int einc_rt_repeat(const char *pattern, einc_rt_dtype dtype, const void *in, int32_t rank,
                   const int64_t *shape, void *out, const einc_rt_axis_size *sizes);

/* The output's rank and shape (out_shape needs room for 32 dims) of one
 * of the calls above; `reduction` is used by EINC_RT_PATTERN_REDUCE only. Uses the same cache. */
int einc_rt_pattern_shape(einc_rt_pattern_op op, const char *pattern, const char *reduction,
                          einc_rt_dtype dtype, int32_t rank, const int64_t *shape,
                          const einc_rt_axis_size *sizes, int32_t *out_rank, int64_t *out_shape);

/* Cache statistics since start (or the last clear) and emptying it (for tests and tools). */
typedef struct einc_rt_pattern_cache_stats {
  uint64_t hits, misses, evictions;
  int64_t size, capacity;
} einc_rt_pattern_cache_stats;
void einc_rt_pattern_cache_get_stats(einc_rt_pattern_cache_stats *out);
void einc_rt_pattern_cache_clear(void);

#ifdef __cplusplus
}
#endif
#endif /* EINC_EINC_RT_H */

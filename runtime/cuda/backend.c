/*
 * The CUDA backend of libeinc_rt: device selection, the cuBLASLt handle, and the GDN projection
 * as the gated-norm kernel followed by one cuBLASLt GEMM, or for up to 16 tokens of bf16/f16 by
 * the small-batch GEMV launched as the norm's programmatic dependent (the fused norm + product
 * kernel for one token where the GEMV does not apply, or on request). Everything a projection needs
 * on the device (its activation buffer, the GEMM workspace) is allocated when it is created;
 * running it only enqueues work on the backend's stream, never allocates device memory and never
 * waits for the device, so a run can be captured into a CUDA graph.
 */
#include <cublasLt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

/* cuBLASLt asks for 32 MiB of workspace on Hopper to reach its fastest kernels. */
#define EINC_RT__CUDA_WORKSPACE          ((size_t)32 << 20)
#define EINC_RT__CUDA_TUNE_CANDIDATES    8    /* cuBLASLt candidates timed per tuned GEMM */
#define EINC_RT__CUDA_TUNE_MIN_TOKENS    4096 /* smaller GEMMs read W: the heuristic's pick won */
#define EINC_RT__CUDA_GEMM_CACHE         32
#define EINC_RT__CUDA_UNSPLIT_MAX_TOKENS 64 /* up to here a split K is dropped: algo_unsplit() */
/* Tokens a projection's activation buffer holds when max_tokens is 0: long enough that the
 * GEMM runs at full rate, short enough to cost a few MiB. */
#define EINC_RT__CUDA_DEFAULT_TOKENS 1024

static const char *einc_rt__cublas_name(cublasStatus_t st) {
  switch (st) {
  case CUBLAS_STATUS_SUCCESS:
    return "CUBLAS_STATUS_SUCCESS";
  case CUBLAS_STATUS_NOT_INITIALIZED:
    return "CUBLAS_STATUS_NOT_INITIALIZED";
  case CUBLAS_STATUS_ALLOC_FAILED:
    return "CUBLAS_STATUS_ALLOC_FAILED";
  case CUBLAS_STATUS_INVALID_VALUE:
    return "CUBLAS_STATUS_INVALID_VALUE";
  case CUBLAS_STATUS_ARCH_MISMATCH:
    return "CUBLAS_STATUS_ARCH_MISMATCH";
  case CUBLAS_STATUS_MAPPING_ERROR:
    return "CUBLAS_STATUS_MAPPING_ERROR";
  case CUBLAS_STATUS_EXECUTION_FAILED:
    return "CUBLAS_STATUS_EXECUTION_FAILED";
  case CUBLAS_STATUS_INTERNAL_ERROR:
    return "CUBLAS_STATUS_INTERNAL_ERROR";
  case CUBLAS_STATUS_NOT_SUPPORTED:
    return "CUBLAS_STATUS_NOT_SUPPORTED";
  case CUBLAS_STATUS_LICENSE_ERROR:
    return "CUBLAS_STATUS_LICENSE_ERROR";
  default:
    return "unknown cuBLAS status";
  }
}

int einc_rt__cuda_check(cudaError_t err, const char *expr, const char *file, int line) {
  if (err == cudaSuccess) return EINC_RT_OK;
  return einc_rt__fail(err == cudaErrorMemoryAllocation ? EINC_RT_ENOMEM : EINC_RT_EBACKEND,
                       "%s:%d: %s: %s (%s)", file, line, expr, cudaGetErrorString(err),
                       cudaGetErrorName(err));
}

static int einc_rt__cublas_check(cublasStatus_t st, const char *expr, const char *file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return EINC_RT_OK;
  return einc_rt__fail(st == CUBLAS_STATUS_ALLOC_FAILED ? EINC_RT_ENOMEM : EINC_RT_EBACKEND,
                       "%s:%d: %s: %s", file, line, expr, einc_rt__cublas_name(st));
}
#define EINC_RT__CUBLAS(expr) einc_rt__cublas_check((expr), #expr, __FILE__, __LINE__)

/* ---------------------------------------------------------------------------------------------
 * GEMM plans: out[T,D] = x[T,K] · w[D,K]ᵀ through cuBLASLt, one plan per shape, layout and
 * alignment, with the heuristic's first algorithm picked once and kept.
 * ------------------------------------------------------------------------------------------- */

typedef struct einc_rt__gemm_key {
  einc_rt_dtype dtype;
  int64_t t, d, k, ldx, ldw, ldout;
  int32_t align; /* the smallest power-of-two alignment (bytes, <= 256) of the three pointers */
} einc_rt__gemm_key;

typedef struct einc_rt__gemm_plan {
  einc_rt__gemm_key key;
  bool used;
  uint64_t last_use;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulAlgo_t algo;
} einc_rt__gemm_plan;

typedef struct einc_rt__cuda {
  int device;
  int sm_count;
  cudaStream_t stream;
  cublasLtHandle_t lt;
  void *workspace; /* shared by every GEMM of this backend: they run in order on one stream */
  uint64_t clock;
  einc_rt__gemm_plan plans[EINC_RT__CUDA_GEMM_CACHE];
} einc_rt__cuda;

static size_t einc_rt__cuda_esize(einc_rt_dtype dt) {
  return dt == EINC_RT_F32 ? 4 : 2;
}

static const char *einc_rt__cuda_dtype_name(einc_rt_dtype dt) {
  return dt == EINC_RT_F32 ? "float32" : dt == EINC_RT_BF16 ? "bfloat16" : "float16";
}

static cudaDataType_t einc_rt__cuda_type(einc_rt_dtype dt) {
  return dt == EINC_RT_F32 ? CUDA_R_32F : dt == EINC_RT_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

static void einc_rt__gemm_plan_clear(einc_rt__gemm_plan *p) {
  if (p->c) cublasLtMatrixLayoutDestroy(p->c);
  if (p->b) cublasLtMatrixLayoutDestroy(p->b);
  if (p->a) cublasLtMatrixLayoutDestroy(p->a);
  if (p->op) cublasLtMatmulDescDestroy(p->op);
  memset(p, 0, sizeof *p);
}

static int32_t einc_rt__align_of(const void *p) {
  uintptr_t u = (uintptr_t)p;
  int32_t a = 256;
  while (a > 1 && (u % (uintptr_t)a) != 0)
    a /= 2;
  return a;
}

/* For a few tokens the product reads W and little else. Where the heuristic's first choice
 * splits K and adds the parts in a second pass, the same kernel without the split measured
 * faster on the H100 (W cold, T = 2-64: H=32 D=2048 9.0-9.3 against 9.8-10.3 us, H=64 D=4096
 * 26.0-27.3 against 27.0-28.4 at T <= 32) and never slower; for H=16 and H=48 the heuristic
 * did not split. So for bf16 and f16 (f32 was not measured) the split is dropped when cuBLASLt
 * accepts the algorithm without it (README: CUDA; runtime/cuda/bench/results/
 * 2026-11-25-h100-unsplit.log). */
static void einc_rt__algo_unsplit(einc_rt__cuda *cu, einc_rt__gemm_plan *p) {
  cublasLtMatmulAlgo_t algo = p->algo;
  cublasLtMatmulHeuristicResult_t check;
  int32_t split = 1;
  uint32_t scheme = CUBLASLT_REDUCTION_SCHEME_NONE;
  size_t size = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split,
                                           sizeof split, &size) != CUBLAS_STATUS_SUCCESS ||
      split <= 1)
    return;
  split = 1;
  if (cublasLtMatmulAlgoConfigSetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split,
                                           sizeof split) == CUBLAS_STATUS_SUCCESS &&
      cublasLtMatmulAlgoConfigSetAttribute(&algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &scheme,
                                           sizeof scheme) == CUBLAS_STATUS_SUCCESS &&
      cublasLtMatmulAlgoCheck(cu->lt, p->op, p->a, p->b, p->c, p->c, &algo, &check) ==
          CUBLAS_STATUS_SUCCESS &&
      check.workspaceSize <= EINC_RT__CUDA_WORKSPACE)
    p->algo = algo;
}

/* Column-major view: out^T[D,T] = op(W^T)[D,K] · X^T[K,T], i.e. cuBLAS "TN" with m=D, n=T. */
static int einc_rt__gemm_plan_make(einc_rt__cuda *cu, einc_rt__gemm_plan *p,
                                   const einc_rt__gemm_key *key,
                                   cublasLtMatmulHeuristicResult_t *cand, int *n_cand) {
  int st;
  cudaDataType_t ty = einc_rt__cuda_type(key->dtype);
  /* Plain fp32 for f32 activations: TF32 would change results beyond an f32 user's tolerance. */
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  uint64_t ws = EINC_RT__CUDA_WORKSPACE;
  uint32_t align = (uint32_t)key->align;
  cublasLtMatmulPreference_t pref = NULL;
  cublasLtMatmulHeuristicResult_t first[1], *result = cand ? cand : first;
  int found = 0;

  memset(p, 0, sizeof *p);
  if ((st = EINC_RT__CUBLAS(cublasLtMatmulDescCreate(&p->op, compute, CUDA_R_32F))) ||
      (st = EINC_RT__CUBLAS(
           cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta))) ||
      (st = EINC_RT__CUBLAS(
           cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb))) ||
      (st = EINC_RT__CUBLAS(
           cublasLtMatrixLayoutCreate(&p->a, ty, (uint64_t)key->k, (uint64_t)key->d, key->ldw))) ||
      (st = EINC_RT__CUBLAS(
           cublasLtMatrixLayoutCreate(&p->b, ty, (uint64_t)key->k, (uint64_t)key->t, key->ldx))) ||
      (st = EINC_RT__CUBLAS(cublasLtMatrixLayoutCreate(&p->c, ty, (uint64_t)key->d,
                                                       (uint64_t)key->t, key->ldout))) ||
      (st = EINC_RT__CUBLAS(cublasLtMatmulPreferenceCreate(&pref))) ||
      (st = EINC_RT__CUBLAS(cublasLtMatmulPreferenceSetAttribute(
           pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws))))
    goto fail_plan;
  static const cublasLtMatmulPreferenceAttributes_t aligns[] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
    if ((st = EINC_RT__CUBLAS(
             cublasLtMatmulPreferenceSetAttribute(pref, aligns[i], &align, sizeof align))))
      goto fail_pref;
  if ((st = EINC_RT__CUBLAS(cublasLtMatmulAlgoGetHeuristic(
           cu->lt, p->op, p->a, p->b, p->c, p->c, pref, cand ? EINC_RT__CUDA_TUNE_CANDIDATES : 1,
           result, &found))))
    goto fail_pref;
  if (found < 1) {
    st = einc_rt__fail(EINC_RT_EUNSUPPORTED,
                       "cuBLASLt has no algorithm for %s GEMM T=%lld D=%lld K=%lld",
                       einc_rt__cuda_dtype_name(key->dtype), (long long)key->t, (long long)key->d,
                       (long long)key->k);
    goto fail_pref;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  p->algo = result[0].algo;
  if (key->t <= EINC_RT__CUDA_UNSPLIT_MAX_TOKENS && key->dtype != EINC_RT_F32)
    einc_rt__algo_unsplit(cu, p);
  if (n_cand) *n_cand = found;
  p->key = *key;
  p->used = true;
  return EINC_RT_OK;

fail_pref:
  cublasLtMatmulPreferenceDestroy(pref);
fail_plan:
  einc_rt__gemm_plan_clear(p);
  return st;
}

/* The cached plan for `key`, made on first use (host work only: safe during graph capture).
 * With `cand`, a plan made now also returns the heuristic's first candidates (*n_cand of them;
 * 0 when the plan was cached already). */
static int einc_rt__gemm_plan_get(einc_rt__cuda *cu, const einc_rt__gemm_key *key,
                                  einc_rt__gemm_plan **out, cublasLtMatmulHeuristicResult_t *cand,
                                  int *n_cand) {
  if (n_cand) *n_cand = 0;
  einc_rt__gemm_plan *victim = &cu->plans[0];
  for (int i = 0; i < EINC_RT__CUDA_GEMM_CACHE; i++) {
    einc_rt__gemm_plan *p = &cu->plans[i];
    if (p->used && memcmp(&p->key, key, sizeof *key) == 0) {
      p->last_use = ++cu->clock;
      *out = p;
      return EINC_RT_OK;
    }
    if (!p->used || (victim->used && p->last_use < victim->last_use)) victim = p;
  }
  if (victim->used) einc_rt__gemm_plan_clear(victim);
  int st = einc_rt__gemm_plan_make(cu, victim, key, cand, n_cand);
  if (st) return st;
  victim->last_use = ++cu->clock;
  *out = victim;
  return EINC_RT_OK;
}

static void einc_rt__gemm_key_set(einc_rt__gemm_key *key, einc_rt_dtype dt, const void *x,
                                  int64_t ldx, const void *w, int64_t ldw, const void *out,
                                  int64_t ldout, int64_t t, int64_t d, int64_t k) {
  memset(key, 0, sizeof *key); /* padding takes part in memcmp */
  key->dtype = dt, key->t = t, key->d = d, key->k = k, key->ldx = ldx, key->ldw = ldw;
  key->ldout = ldout;
  key->align = einc_rt__align_of(x);
  if (einc_rt__align_of(w) < key->align) key->align = einc_rt__align_of(w);
  if (einc_rt__align_of(out) < key->align) key->align = einc_rt__align_of(out);
}

/* Time cuBLASLt's first candidates for one GEMM on real buffers and keep the fastest in the
 * plan cache. For large batches the heuristic's first choice measured up to 1.15x slower than
 * the best of its first eight (H100, T = 32768, README: CUDA). It synchronises, so it runs when
 * a projection is created, never inside a call, and not at all while the stream is captured. */
static int einc_rt__gemm_tune(einc_rt__cuda *cu, einc_rt_dtype dt, const void *x, int64_t ldx,
                              const void *w, int64_t ldw, void *out, int64_t ldout, int64_t t,
                              int64_t d, int64_t k) {
  cublasLtMatmulHeuristicResult_t cand[EINC_RT__CUDA_TUNE_CANDIDATES];
  enum cudaStreamCaptureStatus capture;
  cudaEvent_t start = NULL, stop = NULL;
  einc_rt__gemm_key key;
  einc_rt__gemm_plan *p;
  const float one = 1.0f, zero = 0.0f;
  float best = INFINITY;
  int n = 0, best_i = 0, st;
  if ((st = EINC_RT__CUDA(cudaStreamIsCapturing(cu->stream, &capture))) ||
      capture != cudaStreamCaptureStatusNone)
    return st;
  einc_rt__gemm_key_set(&key, dt, x, ldx, w, ldw, out, ldout, t, d, k);
  if ((st = einc_rt__gemm_plan_get(cu, &key, &p, cand, &n)) || n < 2) return st;
  if ((st = EINC_RT__CUDA(cudaEventCreate(&start))) || (st = EINC_RT__CUDA(cudaEventCreate(&stop))))
    goto done;
  for (int i = 0; i < n; i++) {
    float ms;
    bool ok = true;
    /* one warm-up call, then three timed; a candidate that fails to run is passed over */
    for (int r = 0; r < 4 && ok; r++) {
      if (r == 1 && (st = EINC_RT__CUDA(cudaEventRecord(start, cu->stream)))) goto done;
      ok = cublasLtMatmul(cu->lt, p->op, &one, w, p->a, x, p->b, &zero, out, p->c, out, p->c,
                          &cand[i].algo, cu->workspace, EINC_RT__CUDA_WORKSPACE,
                          cu->stream) == CUBLAS_STATUS_SUCCESS;
    }
    if ((st = EINC_RT__CUDA(cudaEventRecord(stop, cu->stream))) ||
        (st = EINC_RT__CUDA(cudaEventSynchronize(stop))))
      goto done;
    if (ok && (st = EINC_RT__CUDA(cudaEventElapsedTime(&ms, start, stop)))) goto done;
    if (ok && ms < best) best = ms, best_i = i;
  }
  p->algo = cand[best_i].algo;

done:
  if (stop) cudaEventDestroy(stop);
  if (start) cudaEventDestroy(start);
  return st;
}

static int einc_rt__cuda_gemm(einc_rt__cuda *cu, einc_rt_dtype dt, const void *x, int64_t ldx,
                              const void *w, int64_t ldw, void *out, int64_t ldout, int64_t t,
                              int64_t d, int64_t k) {
  einc_rt__gemm_key key;
  einc_rt__gemm_plan *p;
  const float one = 1.0f, zero = 0.0f;
  int st;
  if (t == 0 || d == 0) return EINC_RT_OK;
  if (k == 0) /* an empty sum: cuBLAS does not take K = 0 */
    return EINC_RT__CUDA(cudaMemset2DAsync(out, (size_t)ldout * einc_rt__cuda_esize(dt), 0,
                                           (size_t)d * einc_rt__cuda_esize(dt), (size_t)t,
                                           cu->stream));
  einc_rt__gemm_key_set(&key, dt, x, ldx, w, ldw, out, ldout, t, d, k);
  if ((st = einc_rt__gemm_plan_get(cu, &key, &p, NULL, NULL))) return st;
  return EINC_RT__CUBLAS(cublasLtMatmul(cu->lt, p->op, &one, w, p->a, x, p->b, &zero, out, p->c,
                                        out, p->c, &p->algo, cu->workspace, EINC_RT__CUDA_WORKSPACE,
                                        cu->stream));
}

/* ---------------------------------------------------------------------------------------------
 * The backend table
 * ------------------------------------------------------------------------------------------- */

static void *einc_rt__cuda_ptr(const einc_rt_tensor *t) {
  return (char *)t->data + t->offset * (int64_t)einc_rt__cuda_esize(t->dtype);
}

/* Calls may come from a thread whose current device is another one. */
static int einc_rt__cuda_enter(einc_rt__cuda *cu) {
  int cur = -1;
  int st = EINC_RT__CUDA(cudaGetDevice(&cur));
  if (st || cur == cu->device) return st;
  return EINC_RT__CUDA(cudaSetDevice(cu->device));
}

static void einc_rt__cuda_destroy(einc_rt_backend *self) {
  einc_rt__cuda *cu = self->impl;
  if (cu) {
    einc_rt__cuda_enter(cu);
    for (int i = 0; i < EINC_RT__CUDA_GEMM_CACHE; i++)
      if (cu->plans[i].used) einc_rt__gemm_plan_clear(&cu->plans[i]);
    if (cu->workspace) cudaFree(cu->workspace);
    if (cu->lt) cublasLtDestroy(cu->lt);
    free(cu);
  }
  free(self);
}

static bool einc_rt__cuda_supports(const einc_rt_backend *self, einc_rt_op op, einc_rt_dtype dt) {
  (void)self;
  return (op == EINC_RT_OP_GATED_RMSNORM || op == EINC_RT_OP_GEMM ||
          op == EINC_RT_OP_GDN_OUT_PROJ) &&
         (dt == EINC_RT_F32 || dt == EINC_RT_BF16 || dt == EINC_RT_F16);
}

static int einc_rt__cuda_synchronize(einc_rt_backend *self) {
  einc_rt__cuda *cu = self->impl;
  int st = einc_rt__cuda_enter(cu);
  return st ? st : EINC_RT__CUDA(cudaStreamSynchronize(cu->stream));
}

static int einc_rt__cuda_norm(einc_rt__cuda *cu, const einc_rt_tensor *o, const einc_rt_tensor *z,
                              const einc_rt_tensor *w, const einc_rt_gdn_params *params, void *y,
                              int64_t y_token_stride, int64_t y_head_stride, int64_t t0,
                              int64_t tokens) {
  einc_rt__cuda_norm_args a = {
      .dtype = o->dtype,
      .o = (const char *)einc_rt__cuda_ptr(o) +
           t0 * o->strides[0] * (int64_t)einc_rt__cuda_esize(o->dtype),
      .z = (const char *)einc_rt__cuda_ptr(z) +
           t0 * z->strides[0] * (int64_t)einc_rt__cuda_esize(z->dtype),
      .w = einc_rt__cuda_ptr(w),
      .y = y,
      .o_token_stride = o->strides[0],
      .o_head_stride = o->strides[1],
      .z_token_stride = z->strides[0],
      .z_head_stride = z->strides[1],
      .y_token_stride = y_token_stride,
      .y_head_stride = y_head_stride,
      .tokens = tokens,
      .heads = (int32_t)o->shape[1],
      .dim = (int32_t)o->shape[2],
      .eps = params->eps,
      .gate = params->gate,
  };
  return EINC_RT__CUDA(einc_rt__cuda_gated_norm_launch(&a, cu->stream));
}

static int einc_rt__cuda_gated_rmsnorm(einc_rt_backend *self, const einc_rt_tensor *o,
                                       const einc_rt_tensor *z, const einc_rt_tensor *norm_weight,
                                       const einc_rt_gdn_params *params, einc_rt_tensor *y) {
  einc_rt__cuda *cu = self->impl;
  int st = einc_rt__cuda_enter(cu);
  if (st) return st;
  return einc_rt__cuda_norm(cu, o, z, norm_weight, params, einc_rt__cuda_ptr(y), y->strides[0],
                            y->strides[1], 0, o->shape[0]);
}

static int einc_rt__cuda_gemm_nt(einc_rt_backend *self, const einc_rt_tensor *x,
                                 const einc_rt_tensor *w, einc_rt_tensor *out) {
  einc_rt__cuda *cu = self->impl;
  int st = einc_rt__cuda_enter(cu);
  if (st) return st;
  return einc_rt__cuda_gemm(cu, x->dtype, einc_rt__cuda_ptr(x), x->strides[0], einc_rt__cuda_ptr(w),
                            w->strides[0], einc_rt__cuda_ptr(out), out->strides[0], x->shape[0],
                            w->shape[0], x->shape[1]);
}

/* A bound projection. */
typedef struct einc_rt__cuda_proj {
  einc_rt_tensor norm_weight, proj_weight;
  einc_rt_gdn_params params;
  int64_t capacity;          /* tokens the activation buffer holds; longer runs go in chunks */
  void *y;                   /* [capacity, H*d] activations between the norm and the GEMM */
  int path;                  /* einc_rt__cuda_proj_path */
  einc_rt__head_merge merge; /* X = rearrange(Y, "... h d -> ... (h d)"), generated by einc gen */
  einc_rt__cuda_large_map large; /* W's tensor map for the large kernel, where it takes W */
} einc_rt__cuda_proj;

static int einc_rt__cuda_proj_tune(einc_rt__cuda *cu, einc_rt__cuda_proj *p, int64_t d, int64_t k) {
  const einc_rt_dtype dt = p->proj_weight.dtype;
  const size_t es = einc_rt__cuda_esize(dt);
  void *out = NULL;
  int st;
  if ((st = EINC_RT__CUDA(cudaMalloc(&out, (size_t)(p->capacity * d) * es))) ||
      (st = EINC_RT__CUDA(cudaMemsetAsync(p->y, 0, (size_t)(p->capacity * k) * es, cu->stream))))
    goto done;
  st = einc_rt__gemm_tune(cu, dt, p->y, k, einc_rt__cuda_ptr(&p->proj_weight),
                          p->proj_weight.strides[0], out, d, p->capacity, d, k);
done:
  if (out) cudaFree(out);
  return st;
}

static int einc_rt__cuda_proj_new(einc_rt_backend *self, const einc_rt_tensor *norm_weight,
                                  const einc_rt_tensor *proj_weight,
                                  const einc_rt_gdn_params *params, int64_t max_tokens,
                                  void **state) {
  einc_rt__cuda *cu = self->impl;
  einc_rt__cuda_proj *p;
  int st = einc_rt__cuda_enter(cu);
  if (st) return st;
  if (!(p = calloc(1, sizeof *p))) return einc_rt__fail(EINC_RT_ENOMEM, "out of host memory");
  p->norm_weight = *norm_weight;
  p->proj_weight = *proj_weight;
  p->params = *params;
  /* max_tokens = 0 leaves the size to the backend: long runs then go in chunks of this many. */
  p->capacity = max_tokens > 0 ? max_tokens : EINC_RT__CUDA_DEFAULT_TOKENS;
  const int64_t k = proj_weight->shape[1];
  /* false leaves the map unready: the large kernel is then never taken */
  if (norm_weight->shape[0] == 128)
    einc_rt__cuda_large_map_init(proj_weight->dtype, einc_rt__cuda_ptr(proj_weight),
                                 proj_weight->shape[0], k, proj_weight->strides[0], &p->large);
  if ((st = einc_rt__head_merge_compile(k / norm_weight->shape[0], norm_weight->shape[0],
                                        &p->merge))) {
    free(p);
    return st;
  }
  if ((st = EINC_RT__CUDA(cudaMalloc(&p->y, (size_t)(p->capacity * k) *
                                                einc_rt__cuda_esize(proj_weight->dtype))))) {
    free(p);
    return st;
  }
  /* A full chunk's GEMM is compute-bound from a few thousand tokens on: tune it now, for a
   * contiguous output (other outputs get the heuristic's choice). */
  if (p->capacity >= EINC_RT__CUDA_TUNE_MIN_TOKENS &&
      (st = einc_rt__cuda_proj_tune(cu, p, proj_weight->shape[0], k))) {
    cudaFree(p->y);
    free(p);
    return st;
  }
  *state = p;
  return EINC_RT_OK;
}

static void einc_rt__cuda_proj_delete(einc_rt_backend *self, void *state) {
  einc_rt__cuda_proj *p = state;
  if (!p) return;
  einc_rt__cuda_enter(self->impl);
  cudaFree(p->y);
  free(p);
}

static int einc_rt__cuda_proj_run(einc_rt_backend *self, void *state, const einc_rt_tensor *o,
                                  const einc_rt_tensor *z, einc_rt_tensor *out) {
  einc_rt__cuda *cu = self->impl;
  einc_rt__cuda_proj *p = state;
  const int64_t tokens = o->shape[0], heads = o->shape[1], dim = o->shape[2];
  const int64_t k = heads * dim, d = p->proj_weight.shape[0];
  const size_t es = einc_rt__cuda_esize(o->dtype);
  int st = einc_rt__cuda_enter(cu);
  if (st || tokens == 0) return st;

  /* A few tokens: the norm kernel, then the GEMV launched as its programmatic dependent, which
   * streams W while the norm runs. */
  const int64_t gemv_max = p->path == EINC_RT__CUDA_PATH_GEMV   ? EINC_RT__CUDA_GEMV_MAX_TOKENS
                           : p->path == EINC_RT__CUDA_PATH_AUTO ? EINC_RT__CUDA_GEMV_AUTO_TOKENS
                                                                : 0;
  if (tokens <= gemv_max && tokens <= p->capacity) {
    int64_t y_shape[3] = {tokens, heads, dim};
    einc_rt_tensor y = einc_rt_tensor_contiguous(o->dtype, EINC_RT_DEVICE_CUDA, p->y, 3, y_shape);
    einc_rt_tensor x;
    if ((st = einc_rt__head_merge_apply(&p->merge, &y, &x))) return st;
    einc_rt__cuda_gemv_args g = {
        .dtype = o->dtype,
        .y = x.data,
        .W = einc_rt__cuda_ptr(&p->proj_weight),
        .out = einc_rt__cuda_ptr(out),
        .y_token_stride = x.strides[0],
        .W_row_stride = p->proj_weight.strides[0],
        .out_row_stride = out->strides[0],
        .rows = d,
        .cols = x.shape[1],
        .tokens = (int32_t)tokens,
    };
    if (einc_rt__cuda_gemv_fits(&g)) {
      if ((st = einc_rt__cuda_norm(cu, o, z, &p->norm_weight, &p->params, p->y, k, dim, 0, tokens)))
        return st;
      return EINC_RT__CUDA(einc_rt__cuda_gemv_launch(&g, cu->stream));
    }
  }

  /* Norm and product in one kernel: for one token by default where the GEMV does not apply
   * (faster there than the norm kernel followed by cuBLASLt's GEMV), and the large-batch kernel
   * on request (not yet faster than the norm + cuBLASLt below): README, CUDA. */
  const int64_t fused_max = p->path == EINC_RT__CUDA_PATH_FUSED  ? EINC_RT__CUDA_SMALL_MAX_TOKENS
                            : p->path == EINC_RT__CUDA_PATH_AUTO ? EINC_RT__CUDA_FUSED_AUTO_TOKENS
                                                                 : 0;
  const bool large = p->path == EINC_RT__CUDA_PATH_LARGE;
  if (dim == 128 && o->strides[1] == dim && z->strides[1] == dim && tokens <= INT32_MAX &&
      (tokens <= fused_max || large)) {
    einc_rt__cuda_fused_args a = {
        .dtype = o->dtype,
        .o = einc_rt__cuda_ptr(o),
        .z = einc_rt__cuda_ptr(z),
        .w = einc_rt__cuda_ptr(&p->norm_weight),
        .W = einc_rt__cuda_ptr(&p->proj_weight),
        .out = einc_rt__cuda_ptr(out),
        .o_token_stride = o->strides[0],
        .z_token_stride = z->strides[0],
        .W_row_stride = p->proj_weight.strides[0],
        .out_row_stride = out->strides[0],
        .tokens = (int32_t)tokens,
        .heads = (int32_t)heads,
        .rows = (int32_t)d,
        .eps = p->params.eps,
        .gate = p->params.gate,
    };
    if (large && einc_rt__cuda_large_fits(&a, &p->large))
      return EINC_RT__CUDA(einc_rt__cuda_large_launch(&a, &p->large, cu->stream));
    if (!large && einc_rt__cuda_small_fits(&a))
      return EINC_RT__CUDA(einc_rt__cuda_small_launch(&a, cu->stream));
  }

  /* Norm into the activation buffer, then the GEMM, in chunks of at most `capacity` tokens. */
  char *outp = einc_rt__cuda_ptr(out);
  for (int64_t t0 = 0; t0 < tokens; t0 += p->capacity) {
    const int64_t n = tokens - t0 < p->capacity ? tokens - t0 : p->capacity;
    if ((st = einc_rt__cuda_norm(cu, o, z, &p->norm_weight, &p->params, p->y, k, dim, t0, n)))
      return st;
    /* the GEMM reads Y [n, H, d] through the generated head merge: a [n, H*d] view */
    int64_t y_shape[3] = {n, heads, dim};
    einc_rt_tensor y = einc_rt_tensor_contiguous(o->dtype, EINC_RT_DEVICE_CUDA, p->y, 3, y_shape);
    einc_rt_tensor x;
    if ((st = einc_rt__head_merge_apply(&p->merge, &y, &x)) ||
        (st = einc_rt__cuda_gemm(cu, o->dtype, x.data, x.strides[0],
                                 einc_rt__cuda_ptr(&p->proj_weight), p->proj_weight.strides[0],
                                 outp + t0 * out->strides[0] * (int64_t)es, out->strides[0], n, d,
                                 x.shape[1])))
      return st;
  }
  return EINC_RT_OK;
}

static const einc_rt_backend_vtable einc_rt__cuda_vtable = {
    .destroy = einc_rt__cuda_destroy,
    .supports = einc_rt__cuda_supports,
    .synchronize = einc_rt__cuda_synchronize,
    .gated_rmsnorm = einc_rt__cuda_gated_rmsnorm,
    .gemm_nt = einc_rt__cuda_gemm_nt,
    .proj_new = einc_rt__cuda_proj_new,
    .proj_run = einc_rt__cuda_proj_run,
    .proj_delete = einc_rt__cuda_proj_delete,
};

void einc_rt__cuda_proj_set_path(void *state, int path) {
  ((einc_rt__cuda_proj *)state)->path = path;
}

int einc_rt__cuda_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out) {
  einc_rt_backend *self;
  einc_rt__cuda *cu;
  struct cudaDeviceProp prop;
  int count = 0, st;
  *out = NULL;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError(); /* clear the sticky "no device" error */
    return einc_rt__fail(EINC_RT_ENOTAVAIL, "no CUDA device: %s",
                         e != cudaSuccess ? cudaGetErrorString(e) : "none found");
  }
  if (opts->device_index < 0 || opts->device_index >= count)
    return einc_rt__fail(EINC_RT_ENOTAVAIL, "CUDA device %d asked for, %d present",
                         (int)opts->device_index, count);
  if (!(self = calloc(1, sizeof *self)) || !(cu = calloc(1, sizeof *cu))) {
    free(self);
    return einc_rt__fail(EINC_RT_ENOMEM, "out of host memory");
  }
  self->kind = EINC_RT_BACKEND_CUDA;
  self->vt = &einc_rt__cuda_vtable;
  self->impl = cu;
  cu->device = opts->device_index;
  cu->stream = (cudaStream_t)opts->stream;
  if ((st = EINC_RT__CUDA(cudaSetDevice(cu->device))) ||
      (st = EINC_RT__CUDA(cudaGetDeviceProperties(&prop, cu->device))))
    goto fail_backend;
  cu->sm_count = prop.multiProcessorCount;
  if (prop.major < 9) {
    /* The kernels are built for sm_90 (Hopper) and later. */
    st = einc_rt__fail(EINC_RT_ENOTAVAIL,
                       "CUDA device %d (%s) has compute capability %d.%d; "
                       "libeinc_rt's CUDA kernels need 9.0 or later",
                       cu->device, prop.name, prop.major, prop.minor);
    goto fail_backend;
  }
  if ((st = EINC_RT__CUBLAS(cublasLtCreate(&cu->lt))) ||
      (st = EINC_RT__CUDA(cudaMalloc(&cu->workspace, EINC_RT__CUDA_WORKSPACE))) ||
      (st = EINC_RT__CUDA(einc_rt__cuda_small_prepare(cu->sm_count))) ||
      (st = EINC_RT__CUDA(einc_rt__cuda_large_prepare())))
    goto fail_backend;
  snprintf(self->name, sizeof self->name, "cuda (%.80s, sm_%d%d, %d SMs, cuBLASLt %zu)", prop.name,
           prop.major, prop.minor, prop.multiProcessorCount, cublasLtGetVersion());
  *out = self;
  return EINC_RT_OK;

fail_backend:
  einc_rt__cuda_destroy(self);
  return st;
}

/*
 * The CPU backend: the norm on the backend's threads (pool.c) with the SIMD kernel picked at
 * creation, the GEMM through oneDNN's matmul (never a hand-written one). For bfloat16 and float16
 * on CPUs without native 16-bit dot products oneDNN's 16-bit matmul is slower than its float32 one
 * (or, for float16, missing), so a projection widens its weights to float once, the norm writes Y
 * already rounded to the activation dtype but stored as float, and the output is narrowed after
 * the GEMM; a single-token GEMM, bound by reading W, keeps the 16-bit weights (oneDNN's for
 * bfloat16, gemv_x86.c's for float16: oneDNN has none that is not its reference kernel).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "cpu.h"
#include "dnnl_matmul.h"

typedef struct einc_rt__cpu {
  einc_rt__pool *pool;
  einc_rt__norm_impl norm;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  bool native_bf16;              /* the CPU multiplies bfloat16 natively (AVX-512 BF16) */
  einc_rt__gemv_f16_fn gemv_f16; /* NULL: one-token float16 products go through float too */
  einc_rt__mm_cache mm;
} einc_rt__cpu;

static inline einc_rt__cpu *einc_rt__cpu_of(einc_rt_backend *b) {
  return b->impl;
}

static dnnl_data_type_t einc_rt__dnnl_dt(einc_rt_dtype dt) {
  switch (dt) {
  case EINC_RT_BF16:
    return dnnl_bf16;
  case EINC_RT_F16:
    return dnnl_f16;
  case EINC_RT_F32:
    break;
  }
  return dnnl_f32;
}

static void *einc_rt__host_ptr(const einc_rt_tensor *t) {
  return (char *)t->data + t->offset * (int64_t)einc_rt_dtype_size(t->dtype);
}

static void *einc_rt__aligned_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
  return p;
}

/* Elements a pool thread gets at least. Waking a sleeping pthread (and, on a busy machine,
 * waiting for a core) costs more than about 100 µs of norm work saves; OpenMP's workers are
 * still spinning from the GEMM before or after, so about 1.5 µs of work is enough there. On a
 * 16-core Xeon the norm of 4-16 tokens took 0.006-0.010 ms in parts of 2048 against 0.007-0.018
 * in parts of 8192 (three alternating runs, H·d = 2048 and 4096); from T·H·d = 131072 up both
 * give every thread a part. */
#ifdef EINC_RT_POOL_OPENMP
#define EINC_RT__MIN_PART_ELEMS 2048
#else
#define EINC_RT__MIN_PART_ELEMS 131072
#endif

/* ---- conversions run on the pool ---- */

typedef struct einc_rt__convert_job {
  einc_rt__narrow_fn narrow;
  const void *src;
  void *dst;
  int64_t cols, src_ld, dst_ld;
  einc_rt_dtype src_dt, dst_dt;
} einc_rt__convert_job;

static void einc_rt__convert_rows(void *ctx, int64_t r0, int64_t r1) {
  const einc_rt__convert_job *j = ctx;
  size_t es = einc_rt_dtype_size(j->src_dt);
  for (int64_t r = r0; r < r1; r++) {
    if (j->src_dt == j->dst_dt) {
      memcpy((char *)j->dst + r * j->dst_ld * (int64_t)es,
             (const char *)j->src + r * j->src_ld * (int64_t)es, (size_t)j->cols * es);
    } else if (j->src_dt == EINC_RT_F32) {
      j->narrow((const float *)j->src + r * j->src_ld, (uint16_t *)j->dst + r * j->dst_ld, j->cols,
                j->dst_dt);
    } else {
      const uint16_t *s = (const uint16_t *)j->src + r * j->src_ld;
      float *d = (float *)j->dst + r * j->dst_ld;
      if (j->src_dt == EINC_RT_BF16)
        for (int64_t c = 0; c < j->cols; c++)
          d[c] = einc_rt__bf16_to_f32(s[c]);
      else
        for (int64_t c = 0; c < j->cols; c++)
          d[c] = einc_rt__f16_to_f32(s[c]);
    }
  }
}

/* rows x cols between float and a 16-bit dtype, or copied in one dtype, on the pool. */
static void einc_rt__convert(einc_rt__cpu *cpu, const void *src, einc_rt_dtype src_dt,
                             int64_t src_ld, void *dst, einc_rt_dtype dst_dt, int64_t dst_ld,
                             int64_t rows, int64_t cols) {
  einc_rt__convert_job j = {cpu->norm.narrow, src, dst, cols, src_ld, dst_ld, src_dt, dst_dt};
  int64_t grain = (EINC_RT__MIN_PART_ELEMS + cols - 1) / cols;
  einc_rt__pool_run(cpu->pool, rows, grain, einc_rt__convert_rows, &j);
}

/* ---- the norm ---- */

typedef struct einc_rt__norm_task {
  einc_rt__norm_fn fn;
  const einc_rt__norm_job *job;
} einc_rt__norm_task;

static void einc_rt__norm_part(void *ctx, int64_t t0, int64_t t1) {
  const einc_rt__norm_task *task = ctx;
  task->fn(task->job, t0, t1);
}

static void einc_rt__norm_run(einc_rt__cpu *cpu, const einc_rt__norm_job *job, int64_t tokens) {
  einc_rt__norm_task task = {cpu->norm.run, job};
  int64_t per_token = job->heads * job->d;
  int64_t grain = (EINC_RT__MIN_PART_ELEMS + per_token - 1) / per_token;
  einc_rt__pool_run(cpu->pool, tokens, grain, einc_rt__norm_part, &task);
}

static int einc_rt__widen_weight(einc_rt_dtype dt, const einc_rt_tensor *w, float **out) {
  int64_t n = w->shape[0];
  float *f = einc_rt__aligned_alloc((size_t)n * sizeof(float));
  if (!f) return einc_rt__fail(EINC_RT_ENOMEM, "allocating the norm weight");
  const void *p = einc_rt__host_ptr(w);
  for (int64_t i = 0; i < n; i++)
    f[i] = dt == EINC_RT_F32    ? ((const float *)p)[i]
           : dt == EINC_RT_BF16 ? einc_rt__bf16_to_f32(((const uint16_t *)p)[i])
                                : einc_rt__f16_to_f32(((const uint16_t *)p)[i]);
  *out = f;
  return EINC_RT_OK;
}

static int einc_rt__cpu_gated_rmsnorm(einc_rt_backend *self, const einc_rt_tensor *o,
                                      const einc_rt_tensor *z, const einc_rt_tensor *norm_weight,
                                      const einc_rt_gdn_params *params, einc_rt_tensor *y) {
  float *w = NULL;
  int rc = einc_rt__widen_weight(o->dtype, norm_weight, &w);
  if (rc) return rc;
  einc_rt__norm_job job = {
      .o = einc_rt__host_ptr(o),
      .z = einc_rt__host_ptr(z),
      .o_stride = o->strides[0],
      .z_stride = z->strides[0],
      .w = w,
      .heads = o->shape[1],
      .d = o->shape[2],
      .eps = params->eps,
      .gate = params->gate,
      .dt = o->dtype,
      .y = einc_rt__host_ptr(y),
      .y_stride = o->shape[1] * o->shape[2],
  };
  einc_rt__norm_run(einc_rt__cpu_of(self), &job, o->shape[0]);
  free(w);
  return EINC_RT_OK;
}

/* ---- the one-token float16 product ---- */

typedef struct einc_rt__gemv_job {
  einc_rt__gemv_f16_fn fn;
  const uint16_t *w;
  int64_t ldw, k;
  const float *x;
  uint16_t *out;
} einc_rt__gemv_job;

static void einc_rt__gemv_part(void *ctx, int64_t r0, int64_t r1) {
  const einc_rt__gemv_job *j = ctx;
  j->fn(j->w, j->ldw, j->x, j->k, j->out, r0, r1);
}

/* out[0, n) = W[n, k] · x, float16 W and out, on the pool. */
static void einc_rt__gemv_f16(einc_rt__cpu *cpu, const void *w, int64_t ldw, const float *x,
                              int64_t k, void *out, int64_t n) {
  einc_rt__gemv_job j = {cpu->gemv_f16, w, ldw, k, x, out};
  int64_t grain = (EINC_RT__MIN_PART_ELEMS + k - 1) / k;
  einc_rt__pool_run(cpu->pool, n, grain < 4 ? 4 : grain, einc_rt__gemv_part, &j);
}

/* ---- the GEMM ---- */

static einc_rt__mm_key einc_rt__key(dnnl_data_type_t x_dt, dnnl_data_type_t w_dt,
                                    dnnl_data_type_t out_dt, int64_t m, int64_t k, int64_t n,
                                    int64_t ldx, int64_t ldw, int64_t ldo) {
  einc_rt__mm_key key;
  memset(&key, 0, sizeof key); /* the key is compared bytewise */
  key.x_dt = x_dt;
  key.w_dt = w_dt;
  key.out_dt = out_dt;
  key.m = m;
  key.k = k;
  key.n = n;
  key.ldx = m > 1 ? ldx : k;
  key.ldw = ldw;
  key.ldo = m > 1 ? ldo : n;
  return key;
}

/* Whether a GEMM of m rows in dt goes through float (see the top of the file). A projection
 * widens its weights once, so any m > 1 pays; einc_rt_gemm_nt must widen W on every call, which
 * pays only from about 32 rows (measured: oneDNN 2.6 on AVX-512 without BF16). */
#define EINC_RT__WIDEN_MIN_ROWS_UNPREPARED 32
static bool einc_rt__gemm_widens(const einc_rt__cpu *cpu, einc_rt_dtype dt, int64_t m,
                                 bool prepared) {
  if (dt == EINC_RT_F16) return true;
  if (dt == EINC_RT_BF16)
    return !cpu->native_bf16 && m > (prepared ? 1 : EINC_RT__WIDEN_MIN_ROWS_UNPREPARED - 1);
  return false;
}

/* The rows a GEMM of m rows in dt runs with. oneDNN 2.6's AMX bfloat16 matmul
 * (`brg:avx512_core_amx_bf16`) takes 4-9x its time for some row counts with a large prime factor
 * (16-core Xeon, K x N = 4096 x 2048 and 6144 x 5120: 488 rows 19 and 78 ms against 2.7 and 9.1
 * for 512; 928 and 992 rows 20-21 and 71-82 ms against 4.1 and 19.5 for 1024), and never did for
 * a multiple of 64 rows, nor up to 64 rows for a multiple of 8. Native bfloat16 GEMMs are padded
 * to those: the extra rows multiply zeros into a scratch output. */
static int64_t einc_rt__gemm_rows(const einc_rt__cpu *cpu, einc_rt_dtype dt, bool widen,
                                  int64_t m) {
  if (!cpu->native_bf16 || dt != EINC_RT_BF16 || widen || m <= 1) return m;
  int64_t q = m <= 64 ? 8 : 64;
  return (m + q - 1) / q * q;
}

static int einc_rt__cpu_gemm_nt(einc_rt_backend *self, const einc_rt_tensor *x,
                                const einc_rt_tensor *w, einc_rt_tensor *out) {
  einc_rt__cpu *cpu = einc_rt__cpu_of(self);
  einc_rt_dtype dt = x->dtype;
  int64_t m = x->shape[0], k = x->shape[1], n = w->shape[0];
  int64_t ldx = x->strides[0], ldw = w->strides[0], ldo = out->strides[0];
  int rc = EINC_RT_OK;
  if (!einc_rt__gemm_widens(cpu, dt, m, false)) {
    dnnl_data_type_t t = einc_rt__dnnl_dt(dt);
    int64_t rows = einc_rt__gemm_rows(cpu, dt, false, m);
    if (rows == m) {
      einc_rt__mm_key key = einc_rt__key(t, t, t, m, k, n, ldx, ldw, ldo);
      return einc_rt__mm_run(&cpu->mm, &key, einc_rt__host_ptr(x), einc_rt__host_ptr(w),
                             einc_rt__host_ptr(out), NULL);
    }
    /* Padded: x's rows and zeros in, a scratch output out. */
    size_t es = einc_rt_dtype_size(dt);
    char *xp = einc_rt__aligned_alloc((size_t)(rows * k) * es);
    void *op = einc_rt__aligned_alloc((size_t)(rows * n) * es);
    if (!xp || !op) {
      rc = einc_rt__fail(EINC_RT_ENOMEM, "allocating padded operands");
      goto fail_pad;
    }
    einc_rt__convert(cpu, einc_rt__host_ptr(x), dt, ldx, xp, dt, k, m, k);
    memset(xp + (size_t)(m * k) * es, 0, (size_t)((rows - m) * k) * es);
    einc_rt__mm_key key = einc_rt__key(t, t, t, rows, k, n, k, ldw, n);
    if ((rc = einc_rt__mm_run(&cpu->mm, &key, xp, einc_rt__host_ptr(w), op, NULL))) goto fail_pad;
    einc_rt__convert(cpu, op, dt, n, einc_rt__host_ptr(out), dt, ldo, m, n);
  fail_pad:
    free(op);
    free(xp);
    return rc;
  }
  if (dt == EINC_RT_F16 && m == 1 && cpu->gemv_f16) {
    float *xf = einc_rt__aligned_alloc((size_t)k * sizeof(float));
    if (!xf) return einc_rt__fail(EINC_RT_ENOMEM, "allocating a float copy of x");
    einc_rt__convert(cpu, einc_rt__host_ptr(x), dt, ldx, xf, EINC_RT_F32, k, 1, k);
    einc_rt__gemv_f16(cpu, einc_rt__host_ptr(w), ldw, xf, k, einc_rt__host_ptr(out), n);
    free(xf);
    return EINC_RT_OK;
  }
  /* Unprepared 16-bit weights: widen everything for this one call. */
  float *xf = einc_rt__aligned_alloc((size_t)(m * k) * sizeof(float));
  float *wf = einc_rt__aligned_alloc((size_t)(n * k) * sizeof(float));
  float *of = einc_rt__aligned_alloc((size_t)(m * n) * sizeof(float));
  if (!xf || !wf || !of) {
    rc = einc_rt__fail(EINC_RT_ENOMEM, "allocating float copies for a %s GEMM",
                       einc_rt_dtype_name(dt));
    goto fail_alloc;
  }
  einc_rt__convert(cpu, einc_rt__host_ptr(x), dt, ldx, xf, EINC_RT_F32, k, m, k);
  einc_rt__convert(cpu, einc_rt__host_ptr(w), dt, ldw, wf, EINC_RT_F32, k, n, k);
  einc_rt__mm_key key = einc_rt__key(dnnl_f32, dnnl_f32, dnnl_f32, m, k, n, k, k, n);
  if ((rc = einc_rt__mm_run(&cpu->mm, &key, xf, wf, of, NULL))) goto fail_alloc;
  einc_rt__convert(cpu, of, EINC_RT_F32, n, einc_rt__host_ptr(out), dt, ldo, m, n);
fail_alloc:
  free(of);
  free(wf);
  free(xf);
  return rc;
}

/* ---- the bound projection ---- */

/* Tokens per block of a projection: the norm, the GEMM and the narrowing run block by block, so
 * that Y and the float output of a block (about 8 MiB of Y) are still cached when the next step
 * reads them, and the workspace stays bounded. Measured on this kind of CPU at T = 8192: a whole
 * Y of 64 MiB went to memory and back (the norm at 1.5x its cached time, the projection 1.15x its
 * GEMM; in blocks 1.03-1.08x). oneDNN's GEMM is about as fast per token from 128 rows up; blocks
 * of at least 512 tokens keep W's reads from memory (128 MiB as float at H·d = 8192) per block
 * small next to the block's arithmetic. Both bounds count Y as stored: a bfloat16 Y (a CPU that
 * multiplies bfloat16 natively) makes blocks twice as long as a float one, at least 1024 tokens,
 * which its AMX GEMM needs (16-core Xeon, H·d = 6144 and 8192, T = 1024 and 2048, three
 * alternating runs: at least 512 tokens 1.10-1.40x the GEMM alone, 1024 1.04-1.18x, 2048
 * 1.03-1.23x; at H·d = 4096 blocks of 512 took 1.34x, one block 1.14x). */
#define EINC_RT__BLOCK_Y_BYTES    (8 << 20)
#define EINC_RT__BLOCK_MIN_TOKENS 512 /* of float Y */
static int64_t einc_rt__block_tokens(int64_t k, size_t y_elem_bytes) {
  int64_t b = EINC_RT__BLOCK_Y_BYTES / (k * (int64_t)y_elem_bytes) / 64 * 64;
  int64_t min = EINC_RT__BLOCK_MIN_TOKENS * (int64_t)sizeof(float) / (int64_t)y_elem_bytes;
  return b < min ? min : b;
}

typedef struct einc_rt__cpu_proj {
  einc_rt__proj_info info;
  float *norm_w; /* widened norm weight */
  const void *w; /* the caller's W */
  int64_t ldw;
  float *w_f32;  /* W widened once, when GEMMs of more than one token go through float */
  void *y;       /* workspace: Y of one block (float when widened) */
  void *out_tmp; /* workspace: a block's float output before narrowing, or its padded output */
  size_t y_bytes, out_bytes;
  einc_rt__mm_cache mm; /* this projection's primitives, one per token count */
} einc_rt__cpu_proj;

static void einc_rt__cpu_proj_delete(einc_rt_backend *self, void *state) {
  (void)self;
  einc_rt__cpu_proj *p = state;
  if (!p) return;
  einc_rt__mm_cache_clear(&p->mm);
  free(p->out_tmp);
  free(p->y);
  free(p->w_f32);
  free(p->norm_w);
  free(p);
}

/* Grows *buf to at least `bytes`. */
static int einc_rt__grow(void **buf, size_t *cap, size_t bytes) {
  if (bytes <= *cap) return EINC_RT_OK;
  void *b = einc_rt__aligned_alloc(bytes);
  if (!b) return einc_rt__fail(EINC_RT_ENOMEM, "allocating %zu bytes of workspace", bytes);
  free(*buf);
  *buf = b;
  *cap = bytes;
  return EINC_RT_OK;
}

/* Workspace for a block of tb tokens: Y for the rows its GEMM runs with, and the GEMM's output
 * where it does not go to the caller's rows directly (float to narrow, or padded rows). */
static int einc_rt__cpu_proj_reserve(einc_rt__cpu *cpu, einc_rt__cpu_proj *p, bool widen,
                                     int64_t tb) {
  einc_rt_dtype dt = p->info.dt;
  size_t es = widen ? sizeof(float) : einc_rt_dtype_size(dt);
  int64_t rows = einc_rt__gemm_rows(cpu, dt, widen, tb);
  size_t out_bytes = widen && dt != EINC_RT_F32 ? (size_t)(tb * p->info.n) * sizeof(float)
                     : rows != tb               ? (size_t)(rows * p->info.n) * es
                                                : 0;
  int rc = einc_rt__grow(&p->y, &p->y_bytes, (size_t)(rows * p->info.k) * es);
  if (!rc) rc = einc_rt__grow(&p->out_tmp, &p->out_bytes, out_bytes);
  return rc;
}

/* A call of `t` tokens: whether its GEMM goes through float, and its block length (a multiple
 * of 64 tokens, so only a last, shorter block is ever padded). */
static void einc_rt__cpu_proj_plan(einc_rt__cpu *cpu, einc_rt__cpu_proj *p, int64_t t,
                                   int64_t *block, bool *widen) {
  *widen = einc_rt__gemm_widens(cpu, p->info.dt, t, true);
  *block =
      einc_rt__block_tokens(p->info.k, *widen ? sizeof(float) : einc_rt_dtype_size(p->info.dt));
}

static int einc_rt__cpu_proj_new(einc_rt_backend *self, const einc_rt_tensor *norm_weight,
                                 const einc_rt_tensor *proj_weight,
                                 const einc_rt_gdn_params *params, int64_t max_tokens,
                                 void **state) {
  einc_rt__cpu *cpu = einc_rt__cpu_of(self);
  einc_rt__cpu_proj *p = calloc(1, sizeof *p);
  if (!p) return einc_rt__fail(EINC_RT_ENOMEM, "allocating the projection");
  einc_rt__mm_cache_init(&p->mm, cpu->engine, cpu->stream, false);
  int rc;
  p->w = einc_rt__host_ptr(proj_weight);
  p->ldw = proj_weight->strides[0];
  if ((rc = einc_rt__proj_info_init(&p->info, norm_weight, proj_weight, params))) goto fail;
  if ((rc = einc_rt__widen_weight(p->info.dt, norm_weight, &p->norm_w))) goto fail;
  if (einc_rt__gemm_widens(cpu, p->info.dt, 2, true)) {
    p->w_f32 = einc_rt__aligned_alloc((size_t)(p->info.n * p->info.k) * sizeof(float));
    if (!p->w_f32) {
      rc = einc_rt__fail(EINC_RT_ENOMEM, "allocating float weights");
      goto fail;
    }
    einc_rt__convert(cpu, p->w, p->info.dt, p->ldw, p->w_f32, EINC_RT_F32, p->info.k, p->info.n,
                     p->info.k);
  }
  int64_t block, t = max_tokens <= 0 ? 1 : max_tokens;
  bool widen;
  einc_rt__cpu_proj_plan(cpu, p, t, &block, &widen);
  if ((rc = einc_rt__cpu_proj_reserve(cpu, p, widen, t < block ? t : block))) goto fail;
  *state = p;
  return EINC_RT_OK;
fail:
  einc_rt__cpu_proj_delete(self, p);
  return rc;
}

/* Tokens [t0, t0 + tb) of a projection; `widen` is decided once per call. */
static int einc_rt__cpu_proj_block(einc_rt__cpu *cpu, einc_rt__cpu_proj *p, bool widen,
                                   const einc_rt_tensor *o, const einc_rt_tensor *z,
                                   einc_rt_tensor *out, int64_t t0, int64_t tb) {
  int64_t es = (int64_t)einc_rt_dtype_size(p->info.dt);
  char *out_rows = (char *)einc_rt__host_ptr(out) + t0 * out->strides[0] * es;
  int64_t rows = einc_rt__gemm_rows(cpu, p->info.dt, widen, tb);
  int rc = einc_rt__cpu_proj_reserve(cpu, p, widen, tb);
  if (rc) return rc;
  /* Y [tb, H, d], contiguous in the workspace (then zeros up to the GEMM's rows). */
  einc_rt__norm_job job = {
      .o = (const char *)einc_rt__host_ptr(o) + t0 * o->strides[0] * es,
      .z = (const char *)einc_rt__host_ptr(z) + t0 * z->strides[0] * es,
      .o_stride = o->strides[0],
      .z_stride = z->strides[0],
      .w = p->norm_w,
      .heads = p->info.heads,
      .d = p->info.d,
      .eps = p->info.params.eps,
      .gate = p->info.params.gate,
      .dt = p->info.dt,
      .y = p->y,
      .y_stride = p->info.k,
      .y_f32 = widen && p->info.dt != EINC_RT_F32,
  };
  einc_rt__norm_run(cpu, &job, tb);
  if (rows != tb)
    memset((char *)p->y + tb * p->info.k * es, 0, (size_t)((rows - tb) * p->info.k * es));

  /* X = rearrange(Y, "... h d -> ... (h d)"): a view, from the compiled plan. */
  int64_t y_shape[3] = {rows, p->info.heads, p->info.d};
  einc_rt_tensor y = einc_rt_tensor_contiguous(widen ? EINC_RT_F32 : p->info.dt, EINC_RT_DEVICE_CPU,
                                               p->y, 3, y_shape);
  einc_rt_tensor x;
  if ((rc = einc_rt__head_merge_apply(&p->info.merge, &y, &x))) return rc;

  if (!widen) {
    dnnl_data_type_t dt = einc_rt__dnnl_dt(p->info.dt);
    bool padded = rows != tb;
    void *dst = padded ? p->out_tmp : out_rows;
    einc_rt__mm_key key = einc_rt__key(dt, dt, dt, rows, p->info.k, p->info.n, x.strides[0], p->ldw,
                                       padded ? p->info.n : out->strides[0]);
    if ((rc = einc_rt__mm_run(&p->mm, &key, x.data, (void *)p->w, dst, NULL))) return rc;
    if (padded)
      einc_rt__convert(cpu, p->out_tmp, p->info.dt, p->info.n, out_rows, p->info.dt,
                       out->strides[0], tb, p->info.n);
    return EINC_RT_OK;
  }
  if (p->info.dt == EINC_RT_F16 && tb == 1 && cpu->gemv_f16) {
    einc_rt__gemv_f16(cpu, p->w, p->ldw, x.data, p->info.k, out_rows, p->info.n);
    return EINC_RT_OK;
  }
  float *dst = p->info.dt == EINC_RT_F32 ? (float *)out_rows : p->out_tmp;
  int64_t ldo = p->info.dt == EINC_RT_F32 ? out->strides[0] : p->info.n;
  einc_rt__mm_key key = einc_rt__key(dnnl_f32, dnnl_f32, dnnl_f32, tb, p->info.k, p->info.n,
                                     x.strides[0], p->info.k, ldo);
  if ((rc = einc_rt__mm_run(&p->mm, &key, x.data, p->w_f32, dst, NULL))) return rc;
  if (p->info.dt != EINC_RT_F32)
    einc_rt__convert(cpu, p->out_tmp, EINC_RT_F32, p->info.n, out_rows, p->info.dt, out->strides[0],
                     tb, p->info.n);
  return EINC_RT_OK;
}

static int einc_rt__cpu_proj_run(einc_rt_backend *self, void *state, const einc_rt_tensor *o,
                                 const einc_rt_tensor *z, einc_rt_tensor *out) {
  einc_rt__cpu *cpu = einc_rt__cpu_of(self);
  einc_rt__cpu_proj *p = state;
  int64_t t = o->shape[0], block;
  bool widen;
  int rc = EINC_RT_OK;
  einc_rt__cpu_proj_plan(cpu, p, t, &block, &widen);
  for (int64_t t0 = 0; t0 < t; t0 += block)
    if ((rc = einc_rt__cpu_proj_block(cpu, p, widen, o, z, out, t0,
                                      t - t0 < block ? t - t0 : block)))
      return rc;
  return EINC_RT_OK;
}

/* ---- the backend ---- */

static bool einc_rt__cpu_supports(const einc_rt_backend *self, einc_rt_op op, einc_rt_dtype dt) {
  (void)self;
  (void)op;
  return dt == EINC_RT_F32 || dt == EINC_RT_BF16 || dt == EINC_RT_F16;
}

static int einc_rt__cpu_synchronize(einc_rt_backend *self) {
  (void)self;
  return EINC_RT_OK;
}

static void einc_rt__cpu_destroy(einc_rt_backend *self) {
  einc_rt__cpu *cpu = einc_rt__cpu_of(self);
  einc_rt__mm_cache_clear(&cpu->mm);
  dnnl_stream_destroy(cpu->stream);
  dnnl_engine_destroy(cpu->engine);
  einc_rt__pool_delete(cpu->pool);
  free(cpu);
  free(self);
}

static const einc_rt_backend_vtable einc_rt__cpu_vtable = {
    .destroy = einc_rt__cpu_destroy,
    .supports = einc_rt__cpu_supports,
    .synchronize = einc_rt__cpu_synchronize,
    .gated_rmsnorm = einc_rt__cpu_gated_rmsnorm,
    .gemm_nt = einc_rt__cpu_gemm_nt,
    .proj_new = einc_rt__cpu_proj_new,
    .proj_run = einc_rt__cpu_proj_run,
    .proj_delete = einc_rt__cpu_proj_delete,
};

int einc_rt__cpu_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out) {
  int rc = EINC_RT_OK;
  einc_rt_backend *b = calloc(1, sizeof *b);
  einc_rt__cpu *cpu = calloc(1, sizeof *cpu);
  if (!b || !cpu) {
    rc = einc_rt__fail(EINC_RT_ENOMEM, "allocating the CPU backend");
    goto fail_alloc;
  }
  int32_t threads = opts->n_threads;
  if (threads <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (int32_t)n : 1;
  }
  if ((rc = einc_rt__pool_new(threads, &cpu->pool))) goto fail_alloc;
  EINC_RT__DNNL_CHECK(dnnl_engine_create(&cpu->engine, dnnl_cpu, 0), fail_pool);
  EINC_RT__DNNL_CHECK(dnnl_stream_create(&cpu->stream, cpu->engine, dnnl_stream_default_flags),
                      fail_engine);
  einc_rt__mm_cache_init(&cpu->mm, cpu->engine, cpu->stream, false);
  cpu->norm = einc_rt__norm_pick();
  /* EINC_RT_CPU_BF16=native takes the native-bfloat16 paths (no widening, padded row counts) on
   * any AVX-512 CPU, where oneDNN emulates bfloat16: tests run them on CPUs without AMX. */
  const char *bf16 = getenv("EINC_RT_CPU_BF16");
  cpu->native_bf16 = einc_rt__cpu_has_avx512bf16() || (bf16 && strcmp(bf16, "native") == 0);
  cpu->gemv_f16 = einc_rt__gemv_f16_pick();
  const dnnl_version_t *v = dnnl_version();
  b->kind = EINC_RT_BACKEND_CPU;
  b->vt = &einc_rt__cpu_vtable;
  b->impl = cpu;
  snprintf(b->name, sizeof b->name, "cpu (%d threads, norm %s, oneDNN %d.%d%s)",
           (int)einc_rt__pool_size(cpu->pool), cpu->norm.name, v->major, v->minor,
           cpu->native_bf16 ? ", native bf16" : "");
  *out = b;
  return EINC_RT_OK;
fail_engine:
  dnnl_engine_destroy(cpu->engine);
fail_pool:
  einc_rt__pool_delete(cpu->pool);
fail_alloc:
  free(cpu);
  free(b);
  return rc;
}

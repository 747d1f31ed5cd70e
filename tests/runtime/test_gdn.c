/*
 * The GDN projection, the gated RMSNorm and the GEMM of one backend (named on the command line)
 * against a float64 reference on fresh random inputs (the seed is printed; EINC_TEST_SEED
 * replays one), with per-dtype error bounds. Outputs are poisoned with a NaN pattern first so an
 * unwritten element, or one written outside the output's rows, fails. Then every invalid
 * argument: its status, a detail in einc_rt_last_error, and nothing written.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"
#include "einc/einc_rt.h"

#define SKIP_CODE 77

static rt_device g_dev;
static einc_rt_backend *g_be;
static uint64_t g_rng;

static double rnd(double lo, double hi) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return lo + (hi - lo) * (double)(g_rng >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- host arrays of one dtype ---- */

static double get(einc_rt_dtype dt, const void *p, int64_t i) {
  switch (dt) {
  case EINC_RT_BF16:
    return einc_rt_bf16_to_f32(((const uint16_t *)p)[i]);
  case EINC_RT_F16:
    return einc_rt_f16_to_f32(((const uint16_t *)p)[i]);
  case EINC_RT_F32:
    break;
  }
  return ((const float *)p)[i];
}

static void set(einc_rt_dtype dt, void *p, int64_t i, double v) {
  switch (dt) {
  case EINC_RT_BF16:
    ((uint16_t *)p)[i] = einc_rt_f32_to_bf16((float)v);
    return;
  case EINC_RT_F16:
    ((uint16_t *)p)[i] = einc_rt_f32_to_f16((float)v);
    return;
  case EINC_RT_F32:
    break;
  }
  ((float *)p)[i] = (float)v;
}

/* A NaN bit pattern no computation produces. */
static void poison(einc_rt_dtype dt, void *p, int64_t n) {
  size_t es = einc_rt_dtype_size(dt);
  for (int64_t i = 0; i < n; i++) {
    if (es == 2)
      ((uint16_t *)p)[i] = 0xffd1;
    else
      ((uint32_t *)p)[i] = 0xffd1d1d1u;
  }
}

static bool is_poison(einc_rt_dtype dt, const void *p, int64_t i) {
  return einc_rt_dtype_size(dt) == 2 ? ((const uint16_t *)p)[i] == 0xffd1
                                     : ((const uint32_t *)p)[i] == 0xffd1d1d1u;
}

/* Spacing of the dtype's subnormals: the absolute part of a rounding error. */
static double tiny(einc_rt_dtype dt) {
  return dt == EINC_RT_F16 ? 5.9604644775390625e-8 : 1e-30;
}

/* Unit roundoff of the dtype's storage. */
static double ulp(einc_rt_dtype dt) {
  return dt == EINC_RT_BF16 ? 1.0 / 256 : dt == EINC_RT_F16 ? 1.0 / 2048 : 1.0 / 8388608;
}

static void *host_random(einc_rt_dtype dt, int64_t n, double lo, double hi) {
  void *p = malloc((size_t)(n > 0 ? n : 1) * einc_rt_dtype_size(dt));
  assert_non_null(p);
  for (int64_t i = 0; i < n; i++)
    set(dt, p, i, rnd(lo, hi));
  return p;
}

static void *dev_copy(const void *host, size_t bytes) {
  void *d = rt_device_alloc(&g_dev, bytes);
  rt_device_upload(&g_dev, d, host, bytes);
  return d;
}

static einc_rt_tensor tensor(einc_rt_dtype dt, void *data, int64_t offset, int32_t rank,
                             const int64_t *shape, const int64_t *strides) {
  einc_rt_tensor t = einc_rt_tensor_contiguous(dt, g_dev.device, data, rank, shape);
  for (int32_t i = 0; i < rank; i++)
    t.strides[i] = strides[i];
  t.offset = offset;
  return t;
}

/* ---- the float64 reference ---- */

typedef struct problem {
  einc_rt_dtype dt;
  einc_rt_gate gate;
  int64_t t, h, d, n; /* tokens, heads, head size, D */
  int64_t o_ld, z_ld, out_ld, out_row0, w_ld;
  void *o, *z, *nw, *w; /* host, dtype */
} problem;

static double act(einc_rt_gate g, double z) {
  double s = 1.0 / (1.0 + exp(-z));
  return g == EINC_RT_GATE_SILU ? z * s : s;
}

/* y[t, h*d + i] in float64 (unrounded). */
static double *ref_y(const problem *p) {
  int64_t k = p->h * p->d;
  double *y = malloc((size_t)(p->t * k + 1) * sizeof(double));
  assert_non_null(y);
  for (int64_t t = 0; t < p->t; t++)
    for (int64_t h = 0; h < p->h; h++) {
      double ss = 0;
      for (int64_t i = 0; i < p->d; i++) {
        double v = get(p->dt, p->o, t * p->o_ld + h * p->d + i);
        ss += v * v;
      }
      double r = 1.0 / sqrt(ss / (double)p->d + 1e-6);
      for (int64_t i = 0; i < p->d; i++) {
        double o = get(p->dt, p->o, t * p->o_ld + h * p->d + i);
        double z = get(p->dt, p->z, t * p->z_ld + h * p->d + i);
        y[t * k + h * p->d + i] = o * r * get(p->dt, p->nw, i) * act(p->gate, z);
      }
    }
  return y;
}

static void problem_init(problem *p, einc_rt_dtype dt, einc_rt_gate gate, int64_t t, int64_t h,
                         int64_t d, int64_t n) {
  memset(p, 0, sizeof *p);
  p->dt = dt;
  p->gate = gate;
  p->t = t;
  p->h = h;
  p->d = d;
  p->n = n;
  int64_t k = h * d;
  p->o_ld = k;
  p->z_ld = 2 * k + 8; /* Z a slice of a wider projection output */
  p->out_ld = n + 5;   /* out rows of a wider buffer */
  p->out_row0 = 2;     /* and not its first rows */
  p->w_ld = k;
  p->o = host_random(dt, t * p->o_ld, -2, 2);
  p->z = host_random(dt, t * p->z_ld, -5, 5);
  p->nw = host_random(dt, d, 0.5, 1.5);
  p->w = host_random(dt, n * p->w_ld, -1, 1);
}

static void problem_free(problem *p) {
  free(p->o);
  free(p->z);
  free(p->nw);
  free(p->w);
}

/* Compare out [t, n] (row stride ld, from row row0 of a buffer of `rows` rows) with the float64
 * GEMM of the reference Y, rounded like the implementation rounds it, and check that nothing
 * outside the output was written. */
static void check_out(const problem *p, const double *y, bool round_y, const void *buf,
                      int64_t rows) {
  int64_t k = p->h * p->d;
  double u = ulp(p->dt), worst = 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < p->out_ld; c++) {
      int64_t i = r * p->out_ld + c;
      bool inside = r >= p->out_row0 && r < p->out_row0 + p->t && c < p->n;
      if (!inside) {
        if (!is_poison(p->dt, buf, i))
          fail_msg("element (%lld, %lld) outside the output was written", (long long)r,
                   (long long)c);
        continue;
      }
      if (is_poison(p->dt, buf, i))
        fail_msg("out[%lld, %lld] was not written", (long long)(r - p->out_row0), (long long)c);
      int64_t t = r - p->out_row0;
      double ref = 0, mag = 0;
      for (int64_t j = 0; j < k; j++) {
        double x = y[t * k + j];
        if (round_y) {
          uint32_t tmp = 0;
          set(p->dt, &tmp, 0, x);
          x = get(p->dt, &tmp, 0);
        }
        double term = x * get(p->dt, p->w, c * p->w_ld + j);
        ref += term;
        mag += fabs(term);
      }
      double got = get(p->dt, buf, i);
      /* output rounding + Y elements that round the other way (each by at most one unit of
       * the dtype: the backend's float math may land on the other side of a rounding boundary)
       * + float accumulation */
      double tol =
          u * fabs(ref) + u * mag * (p->dt == EINC_RT_F32 ? 0 : 1) + 2e-6 * mag + tiny(p->dt);
      double err = fabs(got - ref);
      if (!(err <= tol))
        fail_msg("%s %s out[%lld, %lld] = %.9g, reference %.9g (error %.3g > bound %.3g)",
                 g_dev.name, einc_rt_dtype_name(p->dt), (long long)t, (long long)c, got, ref, err,
                 tol);
      if (mag > 0 && err / mag > worst) worst = err / mag;
    }
}

/* ---- the projection ---- */

static void run_proj(einc_rt_dtype dt, einc_rt_gate gate, int64_t t, int64_t h, int64_t d,
                     int64_t n) {
  if (!einc_rt_backend_supports(g_be, EINC_RT_OP_GDN_OUT_PROJ, dt)) return;
  problem p;
  problem_init(&p, dt, gate, t, h, d, n);
  size_t es = einc_rt_dtype_size(dt);
  int64_t k = h * d, rows = p.out_row0 + t + 1;
  void *o = dev_copy(p.o, (size_t)(t * p.o_ld) * es);
  void *z = dev_copy(p.z, (size_t)(t * p.z_ld) * es);
  void *nw = dev_copy(p.nw, (size_t)d * es);
  void *w = dev_copy(p.w, (size_t)(n * k) * es);
  void *host_out = malloc((size_t)(rows * p.out_ld) * es);
  poison(dt, host_out, rows * p.out_ld);
  void *out = dev_copy(host_out, (size_t)(rows * p.out_ld) * es);

  einc_rt_tensor tnw = tensor(dt, nw, 0, 1, (int64_t[]){d}, (int64_t[]){1});
  einc_rt_tensor tw = tensor(dt, w, 0, 2, (int64_t[]){n, k}, (int64_t[]){k, 1});
  einc_rt_gdn_params params = {.eps = 1e-6f, .gate = gate};
  einc_rt_gdn_out_proj *proj = NULL;
  /* CUDA never allocates in _run: give it room; the others grow from 4 tokens. */
  int64_t max_tokens = g_dev.kind == EINC_RT_BACKEND_CUDA ? t : 4;
  int rc = einc_rt_gdn_out_proj_new(g_be, &tnw, &tw, &params, max_tokens, &proj);
  if (rc) fail_msg("proj_new: %s: %s", einc_rt_status_name(rc), einc_rt_last_error());
  einc_rt_tensor to = tensor(dt, o, 0, 3, (int64_t[]){t, h, d}, (int64_t[]){p.o_ld, d, 1});
  einc_rt_tensor tz = tensor(dt, z, 0, 3, (int64_t[]){t, h, d}, (int64_t[]){p.z_ld, d, 1});
  einc_rt_tensor tout =
      tensor(dt, out, p.out_row0 * p.out_ld, 2, (int64_t[]){t, n}, (int64_t[]){p.out_ld, 1});
  /* Twice: the second run reuses the cached primitives and workspace. */
  for (int rep = 0; rep < 2; rep++) {
    rc = einc_rt_gdn_out_proj_run(proj, &to, &tz, &tout);
    if (rc) fail_msg("proj_run: %s: %s", einc_rt_status_name(rc), einc_rt_last_error());
  }
  assert_int_equal(einc_rt_backend_synchronize(g_be), EINC_RT_OK);
  rt_device_download(&g_dev, host_out, out, (size_t)(rows * p.out_ld) * es);
  double *y = ref_y(&p);
  check_out(&p, y, true, host_out, rows);
  free(y);
  einc_rt_gdn_out_proj_delete(proj);
  rt_device_free(&g_dev, out);
  rt_device_free(&g_dev, w);
  rt_device_free(&g_dev, nw);
  rt_device_free(&g_dev, z);
  rt_device_free(&g_dev, o);
  free(host_out);
  problem_free(&p);
}

static const einc_rt_dtype k_dtypes[] = {EINC_RT_F32, EINC_RT_BF16, EINC_RT_F16};

static void test_proj_silu(void **state) {
  (void)state;
  for (int i = 0; i < 3; i++) {
    run_proj(k_dtypes[i], EINC_RT_GATE_SILU, 1, 2, 128, 48);
    run_proj(k_dtypes[i], EINC_RT_GATE_SILU, 7, 3, 64, 40);
    run_proj(k_dtypes[i], EINC_RT_GATE_SILU, 37, 2, 40, 33); /* d not a multiple of 16 */
  }
}

/* One token: a GEMV that only streams W (the CPU's float16 one is the backend's own kernel).
 * Rows of W not a multiple of 4, K not a multiple of the vector width, and enough rows of a
 * long K that they are split over the threads. */
static void test_proj_one_token(void **state) {
  (void)state;
  for (int i = 0; i < 3; i++) {
    run_proj(k_dtypes[i], EINC_RT_GATE_SILU, 1, 3, 40, 37);
    run_proj(k_dtypes[i], EINC_RT_GATE_SIGMOID, 1, 1, 20, 6);
    run_proj(k_dtypes[i], EINC_RT_GATE_SILU, 1, 32, 128, 301);
  }
}

static void test_proj_sigmoid(void **state) {
  (void)state;
  for (int i = 0; i < 3; i++)
    run_proj(k_dtypes[i], EINC_RT_GATE_SIGMOID, 5, 2, 64, 24);
}

static void test_proj_zero_tokens(void **state) {
  (void)state;
  for (int i = 0; i < 3; i++)
    run_proj(k_dtypes[i], EINC_RT_GATE_SILU, 0, 2, 64, 16);
}

/* More tokens than the projection was made for: the workspace grows (CPU, OpenCL). */
static void test_proj_many_tokens(void **state) {
  (void)state;
  if (g_dev.kind == EINC_RT_BACKEND_CUDA) return;
  run_proj(EINC_RT_F32, EINC_RT_GATE_SILU, 70, 2, 32, 20);
  /* Enough elements that the CPU splits the norm and the conversions across threads. */
  run_proj(EINC_RT_BF16, EINC_RT_GATE_SILU, 600, 4, 128, 8);
  run_proj(EINC_RT_F16, EINC_RT_GATE_SIGMOID, 600, 4, 128, 300);
  /* More tokens than the CPU runs in one block (512 at H·d = 4096 through float, 1024 in
   * bfloat16 on a CPU that multiplies it natively): two blocks and a short one, each written to
   * its own rows of the output. */
  run_proj(EINC_RT_BF16, EINC_RT_GATE_SILU, 1030, 32, 128, 6);
  run_proj(EINC_RT_BF16, EINC_RT_GATE_SIGMOID, 2050, 32, 128, 3);
  run_proj(EINC_RT_F32, EINC_RT_GATE_SIGMOID, 1030, 32, 128, 5);
}

/* The CPU backend's loops over its threads: one thread, and more threads than this machine may
 * have cores, with token and output counts that split unevenly. */
static void test_proj_thread_counts(void **state) {
  (void)state;
  if (g_dev.kind != EINC_RT_BACKEND_CPU) return;
  einc_rt_backend *shared = g_be;
  static const int32_t threads[] = {1, 3, 5};
  for (int i = 0; i < 3; i++) {
    einc_rt_backend_options opts = {.n_threads = threads[i]};
    int rc = einc_rt_backend_new(EINC_RT_BACKEND_CPU, &opts, &g_be);
    if (rc) fail_msg("backend with %d threads: %s", (int)threads[i], einc_rt_last_error());
    run_proj(EINC_RT_BF16, EINC_RT_GATE_SILU, 601, 4, 128, 130);
    run_proj(EINC_RT_F16, EINC_RT_GATE_SIGMOID, 257, 4, 128, 16);
    run_proj(EINC_RT_F32, EINC_RT_GATE_SILU, 129, 2, 128, 40);
    run_proj(EINC_RT_F16, EINC_RT_GATE_SILU, 1, 4, 128, 131);
    einc_rt_backend_delete(g_be);
  }
  g_be = shared;
}

/* ---- the norm alone ---- */

static void test_norm(void **state) {
  (void)state;
  for (int di = 0; di < 3; di++)
    for (int g = 0; g < 2; g++) {
      einc_rt_dtype dt = k_dtypes[di];
      if (!einc_rt_backend_supports(g_be, EINC_RT_OP_GATED_RMSNORM, dt)) continue;
      problem p;
      problem_init(&p, dt, (einc_rt_gate)g, 6, 3, 72, 1);
      size_t es = einc_rt_dtype_size(dt);
      int64_t k = p.h * p.d, n = p.t * k;
      void *o = dev_copy(p.o, (size_t)(p.t * p.o_ld) * es);
      void *z = dev_copy(p.z, (size_t)(p.t * p.z_ld) * es);
      void *nw = dev_copy(p.nw, (size_t)p.d * es);
      void *host_y = malloc((size_t)(n + 8) * es);
      poison(dt, host_y, n + 8);
      void *y = dev_copy(host_y, (size_t)(n + 8) * es);
      int64_t shape[3] = {p.t, p.h, p.d};
      einc_rt_tensor to = tensor(dt, o, 0, 3, shape, (int64_t[]){p.o_ld, p.d, 1});
      einc_rt_tensor tz = tensor(dt, z, 0, 3, shape, (int64_t[]){p.z_ld, p.d, 1});
      einc_rt_tensor tnw = tensor(dt, nw, 0, 1, (int64_t[]){p.d}, (int64_t[]){1});
      einc_rt_tensor ty = tensor(dt, y, 4, 3, shape, (int64_t[]){k, p.d, 1});
      einc_rt_gdn_params params = {.eps = 1e-6f, .gate = (einc_rt_gate)g};
      int rc = einc_rt_gated_rmsnorm(g_be, &to, &tz, &tnw, &params, &ty);
      if (rc) fail_msg("gated_rmsnorm: %s: %s", einc_rt_status_name(rc), einc_rt_last_error());
      assert_int_equal(einc_rt_backend_synchronize(g_be), EINC_RT_OK);
      rt_device_download(&g_dev, host_y, y, (size_t)(n + 8) * es);
      double *ref = ref_y(&p);
      for (int64_t i = 0; i < n + 8; i++) {
        if (i < 4 || i >= n + 4) {
          if (!is_poison(dt, host_y, i)) fail_msg("Y element %lld outside Y written", (long long)i);
          continue;
        }
        double got = get(dt, host_y, i), want = ref[i - 4];
        double tol = ulp(dt) * fabs(want) + 2e-6 * fabs(want) + tiny(dt);
        if (!(fabs(got - want) <= tol))
          fail_msg("%s %s Y[%lld] = %.9g, reference %.9g", g_dev.name, einc_rt_dtype_name(dt),
                   (long long)(i - 4), got, want);
      }
      free(ref);
      rt_device_free(&g_dev, y);
      rt_device_free(&g_dev, nw);
      rt_device_free(&g_dev, z);
      rt_device_free(&g_dev, o);
      free(host_y);
      problem_free(&p);
    }
}

/* ---- the GEMM alone ---- */

static void test_gemm(void **state) {
  (void)state;
  const int64_t ms[] = {1, 3, 50};
  for (int di = 0; di < 3; di++)
    for (int mi = 0; mi < 3; mi++) {
      einc_rt_dtype dt = k_dtypes[di];
      if (!einc_rt_backend_supports(g_be, EINC_RT_OP_GEMM, dt)) continue;
      /* Reuse the problem's Y as x: h = 1, d = K, with W of a wider row stride. */
      problem p;
      problem_init(&p, dt, EINC_RT_GATE_SILU, ms[mi], 1, 67, 29);
      int64_t k = p.d, ldx = k + 3;
      free(p.w);
      p.w_ld = k + 1;
      p.w = host_random(dt, p.n * p.w_ld, -1, 1);
      void *hx = host_random(dt, p.t * ldx, -3, 3);
      double *y = malloc((size_t)(p.t * k + 1) * sizeof(double));
      for (int64_t t = 0; t < p.t; t++)
        for (int64_t j = 0; j < k; j++)
          y[t * k + j] = get(dt, hx, t * ldx + j);
      size_t es = einc_rt_dtype_size(dt);
      int64_t rows = p.out_row0 + p.t + 1;
      void *x = dev_copy(hx, (size_t)(p.t * ldx) * es);
      void *w = dev_copy(p.w, (size_t)(p.n * p.w_ld) * es);
      void *host_out = malloc((size_t)(rows * p.out_ld) * es);
      poison(dt, host_out, rows * p.out_ld);
      void *out = dev_copy(host_out, (size_t)(rows * p.out_ld) * es);
      einc_rt_tensor tx = tensor(dt, x, 0, 2, (int64_t[]){p.t, k}, (int64_t[]){ldx, 1});
      einc_rt_tensor tw = tensor(dt, w, 0, 2, (int64_t[]){p.n, k}, (int64_t[]){p.w_ld, 1});
      einc_rt_tensor tout = tensor(dt, out, p.out_row0 * p.out_ld, 2, (int64_t[]){p.t, p.n},
                                   (int64_t[]){p.out_ld, 1});
      int rc = einc_rt_gemm_nt(g_be, &tx, &tw, &tout);
      if (rc) fail_msg("gemm_nt: %s: %s", einc_rt_status_name(rc), einc_rt_last_error());
      assert_int_equal(einc_rt_backend_synchronize(g_be), EINC_RT_OK);
      rt_device_download(&g_dev, host_out, out, (size_t)(rows * p.out_ld) * es);
      check_out(&p, y, false, host_out, rows);
      free(y);
      free(hx);
      free(host_out);
      rt_device_free(&g_dev, out);
      rt_device_free(&g_dev, w);
      rt_device_free(&g_dev, x);
      problem_free(&p);
    }
}

/* ---- invalid arguments: status, detail, nothing written ---- */

typedef struct bad_case {
  const char *what;
  int status;
} bad_case;

/* The valid operands of a small projection, on the device, with a poisoned output. */
typedef struct fixture {
  einc_rt_dtype dt;
  void *o, *z, *nw, *w, *out;
  size_t out_bytes;
  einc_rt_tensor to, tz, tnw, tw, tout, ty;
  einc_rt_gdn_params params;
  einc_rt_gdn_out_proj *proj;
} fixture;

enum { FT = 3, FH = 2, FD = 16, FN = 8 };

static void fixture_init(fixture *f) {
  memset(f, 0, sizeof *f);
  einc_rt_dtype dt = f->dt = EINC_RT_F32;
  size_t es = 4;
  void *h;
  f->o = dev_copy(h = host_random(dt, FT * FH * FD, -1, 1), FT * FH * FD * es), free(h);
  f->z = dev_copy(h = host_random(dt, FT * FH * FD, -1, 1), FT * FH * FD * es), free(h);
  f->nw = dev_copy(h = host_random(dt, FD, -1, 1), FD * es), free(h);
  f->w = dev_copy(h = host_random(dt, FN * FH * FD, -1, 1), FN * FH * FD * es), free(h);
  f->out_bytes = FT * FH * FD * es; /* big enough for Y too */
  h = malloc(f->out_bytes);
  poison(dt, h, FT * FH * FD);
  f->out = dev_copy(h, f->out_bytes);
  free(h);
  f->to = tensor(dt, f->o, 0, 3, (int64_t[]){FT, FH, FD}, (int64_t[]){FH * FD, FD, 1});
  f->tz = f->to;
  f->tz.data = f->z;
  f->tnw = tensor(dt, f->nw, 0, 1, (int64_t[]){FD}, (int64_t[]){1});
  f->tw = tensor(dt, f->w, 0, 2, (int64_t[]){FN, FH * FD}, (int64_t[]){FH * FD, 1});
  f->tout = tensor(dt, f->out, 0, 2, (int64_t[]){FT, FN}, (int64_t[]){FN, 1});
  f->ty = f->to;
  f->ty.data = f->out;
  f->params = (einc_rt_gdn_params){.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
  int rc = einc_rt_gdn_out_proj_new(g_be, &f->tnw, &f->tw, &f->params, FT, &f->proj);
  if (rc) fail_msg("proj_new: %s: %s", einc_rt_status_name(rc), einc_rt_last_error());
}

static void fixture_free(fixture *f) {
  einc_rt_gdn_out_proj_delete(f->proj);
  rt_device_free(&g_dev, f->o);
  rt_device_free(&g_dev, f->z);
  rt_device_free(&g_dev, f->nw);
  rt_device_free(&g_dev, f->w);
  rt_device_free(&g_dev, f->out);
}

static void expect_failure(fixture *f, const char *what, int want, int got) {
  if (got != want)
    fail_msg("%s: expected %s, got %s (%s)", what, einc_rt_status_name(want),
             einc_rt_status_name(got), einc_rt_last_error());
  if (einc_rt_last_error()[0] == '\0') fail_msg("%s: no detail in einc_rt_last_error", what);
  assert_int_equal(einc_rt_backend_synchronize(g_be), EINC_RT_OK);
  uint8_t *h = malloc(f->out_bytes);
  rt_device_download(&g_dev, h, f->out, f->out_bytes);
  for (int64_t i = 0; i < (int64_t)(f->out_bytes / 4); i++)
    if (!is_poison(EINC_RT_F32, h, i)) fail_msg("%s: the output was written", what);
  free(h);
}

/* Each mutation of the valid run's operands, one at a time. */
static void test_invalid_run(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  einc_rt_tensor o, z, out;
#define RUN_CASE(what, want, mutate)                                                               \
  do {                                                                                             \
    o = f.to, z = f.tz, out = f.tout;                                                              \
    mutate;                                                                                        \
    expect_failure(&f, what, want, einc_rt_gdn_out_proj_run(f.proj, &o, &z, &out));                \
  } while (0)
  RUN_CASE("O rank 2", EINC_RT_ESHAPE, o.rank = 2);
  RUN_CASE("O with other heads", EINC_RT_ESHAPE, (o.shape[1] = 1, z.shape[1] = 1));
  RUN_CASE("Z tokens differ", EINC_RT_ESHAPE, z.shape[0] = 2);
  RUN_CASE("O stride 2 in d", EINC_RT_ELAYOUT, o.strides[2] = 2);
  RUN_CASE("Z head stride", EINC_RT_ELAYOUT, z.strides[1] = FD + 1);
  RUN_CASE("O token stride < H*d", EINC_RT_ELAYOUT, o.strides[0] = FH * FD - 1);
  RUN_CASE("O negative dim", EINC_RT_ESHAPE, (o.shape[0] = -1, z.shape[0] = -1));
  RUN_CASE("Z bfloat16", EINC_RT_EDTYPE, z.dtype = EINC_RT_BF16);
  RUN_CASE("O bad dtype", EINC_RT_EDTYPE, o.dtype = (einc_rt_dtype)42);
  RUN_CASE("out float16", EINC_RT_EDTYPE, out.dtype = EINC_RT_F16);
  RUN_CASE("out D", EINC_RT_ESHAPE, out.shape[1] = FN - 1);
  RUN_CASE("out rows", EINC_RT_ESHAPE, out.shape[0] = FT - 1);
  RUN_CASE("out column stride", EINC_RT_ELAYOUT, out.strides[1] = 2);
  RUN_CASE("out row stride < D", EINC_RT_ELAYOUT, out.strides[0] = FN - 1);
  RUN_CASE("O without data", EINC_RT_EINVAL, o.data = NULL);
  RUN_CASE("out negative offset", EINC_RT_EINVAL, out.offset = -1);
  RUN_CASE("out on another device", EINC_RT_EDEVICE,
           out.device =
               g_dev.device == EINC_RT_DEVICE_CPU ? EINC_RT_DEVICE_CUDA : EINC_RT_DEVICE_CPU);
  RUN_CASE("Z on another device", EINC_RT_EDEVICE,
           z.device =
               g_dev.device == EINC_RT_DEVICE_OPENCL ? EINC_RT_DEVICE_CPU : EINC_RT_DEVICE_OPENCL);
  if (g_dev.kind == EINC_RT_BACKEND_OPENCL) {
    /* Device buffers know their size: a tensor reaching past its buffer is refused. */
    RUN_CASE("out past its buffer", EINC_RT_EINVAL, out.offset = FT * FH * FD);
    RUN_CASE("Z past its buffer", EINC_RT_EINVAL, z.strides[0] = 4 * FH * FD);
  }
  expect_failure(&f, "NULL projection", EINC_RT_EINVAL,
                 einc_rt_gdn_out_proj_run(NULL, &f.to, &f.tz, &f.tout));
  expect_failure(&f, "NULL Z", EINC_RT_EINVAL,
                 einc_rt_gdn_out_proj_run(f.proj, &f.to, NULL, &f.tout));
  expect_failure(&f, "NULL out", EINC_RT_EINVAL,
                 einc_rt_gdn_out_proj_run(f.proj, &f.to, &f.tz, NULL));
#undef RUN_CASE
  fixture_free(&f);
}

static void test_invalid_new(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  einc_rt_tensor nw, w;
  einc_rt_gdn_params params;
  einc_rt_gdn_out_proj *proj;
#define NEW_CASE(what, want, mutate)                                                               \
  do {                                                                                             \
    nw = f.tnw, w = f.tw, params = f.params, proj = (einc_rt_gdn_out_proj *)&f;                    \
    mutate;                                                                                        \
    expect_failure(&f, what, want, einc_rt_gdn_out_proj_new(g_be, &nw, &w, &params, 4, &proj));    \
    assert_null(proj);                                                                             \
  } while (0)
  NEW_CASE("w rank 2", EINC_RT_ESHAPE, nw.rank = 2);
  NEW_CASE("w empty", EINC_RT_ESHAPE, nw.shape[0] = 0);
  NEW_CASE("w strided", EINC_RT_ELAYOUT, nw.strides[0] = 2);
  NEW_CASE("W columns not H*d", EINC_RT_ESHAPE, w.shape[1] = FH * FD - 1);
  NEW_CASE("W column stride", EINC_RT_ELAYOUT, w.strides[1] = 2);
  NEW_CASE("W row stride", EINC_RT_ELAYOUT, w.strides[0] = 3);
  NEW_CASE("W float16", EINC_RT_EDTYPE, w.dtype = EINC_RT_F16);
  NEW_CASE("W on another device", EINC_RT_EDEVICE,
           w.device =
               g_dev.device == EINC_RT_DEVICE_CPU ? EINC_RT_DEVICE_OPENCL : EINC_RT_DEVICE_CPU);
  NEW_CASE("eps negative", EINC_RT_EINVAL, params.eps = -1.0f);
  NEW_CASE("eps NaN", EINC_RT_EINVAL, params.eps = NAN);
  NEW_CASE("gate unknown", EINC_RT_EINVAL, params.gate = (einc_rt_gate)9);
#undef NEW_CASE
  proj = (einc_rt_gdn_out_proj *)&f;
  expect_failure(&f, "negative max_tokens", EINC_RT_EINVAL,
                 einc_rt_gdn_out_proj_new(g_be, &f.tnw, &f.tw, &f.params, -1, &proj));
  assert_null(proj);
  expect_failure(&f, "NULL backend", EINC_RT_EINVAL,
                 einc_rt_gdn_out_proj_new(NULL, &f.tnw, &f.tw, &f.params, 4, &proj));
  expect_failure(&f, "NULL params", EINC_RT_EINVAL,
                 einc_rt_gdn_out_proj_new(g_be, &f.tnw, &f.tw, NULL, 4, &proj));
  assert_int_equal(einc_rt_gdn_out_proj_new(g_be, &f.tnw, &f.tw, &f.params, 4, NULL),
                   EINC_RT_EINVAL);

  /* The two steps on their own. */
  einc_rt_tensor y = f.ty, x = f.tout;
  y.strides[0] = FH * FD + 1;
  expect_failure(&f, "Y not contiguous", EINC_RT_ELAYOUT,
                 einc_rt_gated_rmsnorm(g_be, &f.to, &f.tz, &f.tnw, &f.params, &y));
  y = f.ty;
  y.shape[2] = FD / 2;
  expect_failure(&f, "Y shape", EINC_RT_ESHAPE,
                 einc_rt_gated_rmsnorm(g_be, &f.to, &f.tz, &f.tnw, &f.params, &y));
  nw = f.tnw;
  nw.shape[0] = FD - 1;
  expect_failure(&f, "w not d", EINC_RT_ESHAPE,
                 einc_rt_gated_rmsnorm(g_be, &f.to, &f.tz, &nw, &f.params, &f.ty));
  x = f.to;
  x.rank = 2;
  x.shape[1] = FH * FD - 2;
  x.strides[0] = FH * FD;
  x.strides[1] = 1;
  expect_failure(&f, "x columns", EINC_RT_ESHAPE, einc_rt_gemm_nt(g_be, &x, &f.tw, &f.tout));
  x.shape[1] = FH * FD;
  x.strides[1] = 3;
  expect_failure(&f, "x column stride", EINC_RT_ELAYOUT, einc_rt_gemm_nt(g_be, &x, &f.tw, &f.tout));
  fixture_free(&f);
}

/* T = 0 needs no data at all. */
static void test_zero_tokens_no_data(void **state) {
  (void)state;
  fixture f;
  fixture_init(&f);
  einc_rt_tensor o = f.to, z = f.tz, out = f.tout;
  o.shape[0] = z.shape[0] = out.shape[0] = 0;
  o.data = z.data = out.data = NULL;
  assert_int_equal(einc_rt_gdn_out_proj_run(f.proj, &o, &z, &out), EINC_RT_OK);
  fixture_free(&f);
}

/* The backend's own device memory: a round trip. */
static void test_backend_memory(void **state) {
  (void)state;
  uint8_t in[1000], back[1000];
  for (int i = 0; i < 1000; i++)
    in[i] = (uint8_t)(rnd(0, 256));
  void *buf = NULL;
  int rc = einc_rt_backend_alloc(g_be, sizeof in, &buf);
  if (rc == EINC_RT_EUNSUPPORTED) return;
  assert_int_equal(rc, EINC_RT_OK);
  assert_non_null(buf);
  assert_int_equal(einc_rt_backend_upload(g_be, buf, in, sizeof in), EINC_RT_OK);
  memset(back, 0, sizeof back);
  assert_int_equal(einc_rt_backend_download(g_be, back, buf, sizeof back), EINC_RT_OK);
  assert_memory_equal(in, back, sizeof in);
  assert_int_equal(einc_rt_backend_upload(g_be, NULL, in, 4), EINC_RT_EINVAL);
  einc_rt_backend_free(g_be, buf);
}

/* ---- helpers of the public API (backend-independent; run with the CPU tests) ---- */

static void test_conversions(void **state) {
  (void)state;
  assert_int_equal(einc_rt_f32_to_bf16(1.0f), 0x3f80);
  /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even (1). 1 + 3 * 2^-8: up. */
  assert_int_equal(einc_rt_f32_to_bf16(1.00390625f), 0x3f80);
  assert_int_equal(einc_rt_f32_to_bf16(1.01171875f), 0x3f82);
  assert_true(isnan(einc_rt_bf16_to_f32(einc_rt_f32_to_bf16(NAN))));
  assert_int_equal(einc_rt_f32_to_bf16(INFINITY), 0x7f80);
  assert_int_equal(einc_rt_f32_to_f16(1.0f), 0x3c00);
  assert_int_equal(einc_rt_f32_to_f16(65504.0f), 0x7bff);
  assert_int_equal(einc_rt_f32_to_f16(65520.0f), 0x7c00); /* the tie above the largest: inf */
  assert_int_equal(einc_rt_f32_to_f16(-0.0f), 0x8000);
  assert_int_equal(einc_rt_f32_to_f16(5.9604644775390625e-8f), 0x0001);  /* 2^-24 */
  assert_int_equal(einc_rt_f32_to_f16(2.98023223876953125e-8f), 0x0000); /* 2^-25: tie to 0 */
  assert_int_equal(einc_rt_f32_to_f16(1.00048828125f), 0x3c00); /* 1 + 2^-11: tie to even */
  assert_true(isnan(einc_rt_f16_to_f32(einc_rt_f32_to_f16(NAN))));
  /* Every float16 survives the round trip; every bfloat16 too. */
  for (uint32_t h = 0; h < 65536; h++) {
    float f = einc_rt_f16_to_f32((uint16_t)h);
    if (!isnan(f)) assert_int_equal(einc_rt_f32_to_f16(f), h);
    float b = einc_rt_bf16_to_f32((uint16_t)h);
    if (!isnan(b)) assert_int_equal(einc_rt_f32_to_bf16(b), h);
  }
  /* Against the double rounding of midpoints between neighbours. */
  for (int i = 0; i < 100000; i++) {
    float f = (float)rnd(-70000, 70000);
    uint16_t h = einc_rt_f32_to_f16(f);
    double got = einc_rt_f16_to_f32(h);
    double lo = einc_rt_f16_to_f32((uint16_t)(h - 1)), hi = einc_rt_f16_to_f32((uint16_t)(h + 1));
    if (!isinf(got)) assert_true(fabs(got - f) <= fabs(lo - f) && fabs(got - f) <= fabs(hi - f));
  }
}

static void test_tensor_helpers(void **state) {
  (void)state;
  int64_t shape[3] = {2, 3, 4};
  einc_rt_tensor t = einc_rt_tensor_contiguous(EINC_RT_BF16, EINC_RT_DEVICE_CPU, NULL, 3, shape);
  assert_int_equal(t.strides[0], 12);
  assert_int_equal(t.strides[1], 4);
  assert_int_equal(t.strides[2], 1);
  assert_int_equal(t.offset, 0);
  assert_int_equal(einc_rt_tensor_numel(&t), 24);
  assert_int_equal(einc_rt_dtype_size(EINC_RT_F32), 4);
  assert_int_equal(einc_rt_dtype_size(EINC_RT_F16), 2);
  assert_string_equal(einc_rt_dtype_name(EINC_RT_BF16), "bfloat16");
  assert_string_equal(einc_rt_status_name(EINC_RT_ELAYOUT), "EINC_RT_ELAYOUT");
  einc_rt_backend *b = (einc_rt_backend *)&t;
  assert_int_equal(einc_rt_backend_new((einc_rt_backend_kind)7, NULL, &b), EINC_RT_EINVAL);
  assert_null(b);
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "cpu";
  einc_rt_backend_kind kind = EINC_RT_BACKEND_CPU;
  bool helpers = strcmp(name, "helpers") == 0;
  if (helpers)
    ;
  else if (strcmp(name, "opencl") == 0)
    kind = EINC_RT_BACKEND_OPENCL;
  else if (strcmp(name, "cuda") == 0)
    kind = EINC_RT_BACKEND_CUDA;
  else if (strcmp(name, "cpu") != 0) {
    fprintf(stderr, "usage: %s cpu|opencl|cuda|helpers\n", argv[0]);
    return 2;
  }
  const char *seed_env = getenv("EINC_TEST_SEED");
  uint64_t seed = seed_env
                      ? strtoull(seed_env, NULL, 0)
                      : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15u;
  if (seed == 0) seed = 1;
  g_rng = seed;
  printf("seed %llu (set EINC_TEST_SEED to replay)\n", (unsigned long long)seed);

  const struct CMUnitTest helper_tests[] = {
      cmocka_unit_test(test_conversions),
      cmocka_unit_test(test_tensor_helpers),
  };
  if (helpers) return cmocka_run_group_tests_name("helpers", helper_tests, NULL, NULL) ? 1 : 0;
  int failed = 0;

  char why[256] = "";
  if (!rt_device_open(kind, &g_dev, why, sizeof why)) {
    printf("SKIP %s backend: %s\n", name, why);
    return failed ? 1 : SKIP_CODE;
  }
  einc_rt_backend_options opts = rt_device_options(&g_dev);
  int rc = einc_rt_backend_new(kind, &opts, &g_be);
  if (rc == EINC_RT_ENOTAVAIL) {
    printf("SKIP %s backend: %s\n", name, einc_rt_last_error());
    rt_device_close(&g_dev);
    return failed ? 1 : SKIP_CODE;
  }
  if (rc) {
    fprintf(stderr, "backend %s: %s: %s\n", name, einc_rt_status_name(rc), einc_rt_last_error());
    return 1;
  }
  printf("backend: %s\n", einc_rt_backend_name(g_be));
  const struct CMUnitTest backend_tests[] = {
      cmocka_unit_test(test_proj_silu),
      cmocka_unit_test(test_proj_one_token),
      cmocka_unit_test(test_proj_sigmoid),
      cmocka_unit_test(test_proj_zero_tokens),
      cmocka_unit_test(test_proj_many_tokens),
      cmocka_unit_test(test_proj_thread_counts),
      cmocka_unit_test(test_norm),
      cmocka_unit_test(test_gemm),
      cmocka_unit_test(test_invalid_run),
      cmocka_unit_test(test_invalid_new),
      cmocka_unit_test(test_zero_tokens_no_data),
      cmocka_unit_test(test_backend_memory),
  };
  failed += _cmocka_run_group_tests(name, backend_tests,
                                    sizeof backend_tests / sizeof backend_tests[0], NULL, NULL);
  einc_rt_backend_delete(g_be);
  rt_device_close(&g_dev);
  return failed ? 1 : 0;
}

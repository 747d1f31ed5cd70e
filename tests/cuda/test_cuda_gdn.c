/*
 * The CUDA backend's GDN projection, gated norm and GEMM against float64 references on fresh
 * random inputs (the seed is printed), with outputs poisoned with NaN first so that every
 * element must be written, and the bytes around a row-sliced output checked untouched. Cases:
 * each dtype, T = 0, 1, the fused small-batch sizes and the GEMM sizes, token chunks past
 * max_tokens, Z with a token stride larger than H*d, silu and sigmoid, and a run captured into
 * a CUDA graph. Every checked call follows a call on other inputs (graphs are replayed twice), so
 * that nothing a call leaves behind can pass for its own result. Exits 77 (skipped) when there is
 * no CUDA device.
 * Usage: test_cuda_gdn [--quick]   (--quick: small shapes, for compute-sanitizer)
 */
#include <cuda_runtime_api.h>

#include "backend.h"
#include "cuda_common.h"
#include "cuda_test_util.h"

static int failures;

#define CHECK_RT(expr)                                                                             \
  do {                                                                                             \
    int s_ = (expr);                                                                               \
    if (s_ != EINC_RT_OK) {                                                                        \
      fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #expr, einc_rt_status_name(s_),  \
              einc_rt_last_error());                                                               \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* A host buffer of n random values of dtype dt, scaled, and its device copy. */
typedef struct buf {
  einc_rt_dtype dt;
  int64_t n;
  void *host;
  void *dev;
} buf;

static buf buf_random(einc_rt_dtype dt, int64_t n, double scale) {
  buf b = {dt, n, malloc((size_t)(n > 0 ? n : 1) * einc_test_esize(dt)), NULL};
  for (int64_t i = 0; i < n; i++)
    einc_test_set(dt, b.host, i, scale * einc_test_uniform());
  CHECK_CUDA(cudaMalloc(&b.dev, (size_t)(n > 0 ? n : 1) * einc_test_esize(dt)));
  CHECK_CUDA(cudaMemcpy(b.dev, b.host, (size_t)n * einc_test_esize(dt), cudaMemcpyHostToDevice));
  return b;
}
static void buf_free(buf *b) {
  free(b->host);
  cudaFree(b->dev);
}
/* All bytes 0xff: NaN in every dtype. */
static void buf_poison(buf *b) {
  CHECK_CUDA(cudaMemset(b->dev, 0xff, (size_t)b->n * einc_test_esize(b->dt)));
}
static void buf_download(buf *b) {
  CHECK_CUDA(
      cudaMemcpy(b->host, b->dev, (size_t)b->n * einc_test_esize(b->dt), cudaMemcpyDeviceToHost));
}

static einc_rt_tensor tensor(const buf *b, int64_t offset, int32_t rank, const int64_t *shape,
                             const int64_t *strides) {
  einc_rt_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = b->dt, t.rank = rank, t.data = b->dev, t.offset = offset,
  t.device = EINC_RT_DEVICE_CUDA;
  for (int i = 0; i < rank; i++)
    t.shape[i] = shape[i], t.strides[i] = strides[i];
  return t;
}

/* Relative error bound on ‖out − ref‖ / ‖ref‖: output rounding plus fp32 accumulation. */
static double bound(einc_rt_dtype dt) {
  return dt == EINC_RT_F32 ? 2e-5 : dt == EINC_RT_BF16 ? 8e-3 : 1.5e-3;
}

/* Y[t, h*d + i] as the kernel defines it, rounded to dt, in double. */
static void reference_y(einc_rt_dtype dt, const buf *o, int64_t o_ts, const buf *z, int64_t z_off,
                        int64_t z_ts, const buf *w, int64_t T, int64_t H, int64_t d, int gate,
                        double eps, double *y) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++) {
      double ss = 0;
      for (int64_t i = 0; i < d; i++) {
        double x = einc_test_get(dt, o->host, t * o_ts + h * d + i);
        ss += x * x;
      }
      const double r = 1.0 / sqrt(ss / (double)d + eps);
      for (int64_t i = 0; i < d; i++) {
        const double x = einc_test_get(dt, o->host, t * o_ts + h * d + i);
        const double zz = einc_test_get(dt, z->host, z_off + t * z_ts + h * d + i);
        const double s = 1.0 / (1.0 + exp(-zz));
        const double act = gate == EINC_RT_GATE_SILU ? zz * s : s;
        y[t * H * d + h * d + i] = einc_test_round(dt, x * r * einc_test_get(dt, w->host, i) * act);
      }
    }
}

/* ref[t, n] = Σ_k y[t, k] · W[n, k] in double. */
static void reference_product(einc_rt_dtype dt, const double *y, const buf *W, int64_t T, int64_t D,
                              int64_t K, double *ref) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t n = 0; n < D; n++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++)
        acc += y[t * K + k] * einc_test_get(dt, W->host, n * K + k);
      ref[t * D + n] = acc;
    }
}

/* Compare a [T, D] result at `out` (row stride ld, offset off) with ref; the rest of the buffer
 * must still hold the poison. */
static void compare(const char *what, const buf *out, int64_t off, int64_t ld, const double *ref,
                    int64_t T, int64_t D) {
  double num = 0, den = 0;
  int64_t nan = 0, touched = 0;
  for (int64_t i = 0; i < out->n; i++) {
    const int64_t j = i - off, t = j / ld, c = j % ld;
    const double v = einc_test_get(out->dt, out->host, i);
    if (j >= 0 && t < T && c < D) {
      if (v != v) nan++;
      const double e = v - ref[t * D + c];
      num += e * e, den += ref[t * D + c] * ref[t * D + c];
    } else if (v == v) {
      touched++;
    }
  }
  const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
  const bool ok = nan == 0 && touched == 0 && rel <= bound(out->dt) && rel == rel;
  printf("%-4s %-58s rel %.2e (bound %.0e) unwritten %lld outside %lld\n", ok ? "ok" : "FAIL", what,
         rel, bound(out->dt), (long long)nan, (long long)touched);
  if (!ok) failures++;
}

typedef struct gdn_case {
  einc_rt_dtype dt;
  int64_t T, H, D;
  einc_rt_gate gate;
  int64_t max_tokens;
  int path;
  bool z_slice, out_slice, graph;
} gdn_case;

static void run_case(einc_rt_backend *be, cudaStream_t stream, const gdn_case *c) {
  const int64_t T = c->T, H = c->H, d = 128, D = c->D, K = H * d;
  const einc_rt_dtype dt = c->dt;
  /* Z as a slice of a wider projection output; out as a row slice of a larger buffer. */
  const int64_t z_ts = c->z_slice ? 2 * K + 64 : K;
  /* The default (unfused) cases put Z off 16-byte alignment: the norm's scalar path. */
  const int64_t z_off = !c->z_slice ? 0 : c->path == EINC_RT__CUDA_PATH_AUTO ? K + 1 : K + 8;
  const int64_t out_ld = c->out_slice ? D + 24 : D, out_off = c->out_slice ? 3 * out_ld + 8 : 0;
  const int64_t out_rows = c->out_slice ? T + 5 : T;
  buf o = buf_random(dt, T * K, 2.0), z = buf_random(dt, T * z_ts + z_off, 3.0);
  buf w = buf_random(dt, d, 1.0), W = buf_random(dt, D * K, 0.05);
  buf out = buf_random(dt, out_rows * out_ld + out_off, 1.0);
  const einc_rt_gdn_params params = {.eps = 1e-6f, .gate = c->gate};
  const int64_t s_o[] = {T, H, d}, st_o[] = {K, d, 1}, st_z[] = {z_ts, d, 1};
  const int64_t s_w[] = {d}, st_w[] = {1}, s_W[] = {D, K}, st_W[] = {K, 1};
  const int64_t s_out[] = {T, D}, st_out[] = {out_ld, 1};
  einc_rt_tensor to = tensor(&o, 0, 3, s_o, st_o), tz = tensor(&z, z_off, 3, s_o, st_z);
  einc_rt_tensor tw = tensor(&w, 0, 1, s_w, st_w), tW = tensor(&W, 0, 2, s_W, st_W);
  einc_rt_tensor tout = tensor(&out, out_off, 2, s_out, st_out);
  /* A case naming a one-kernel path or the GEMV must reach it, not fall back to the split path. */
  const einc_rt__cuda_fused_args a = {.dtype = dt,
                                      .o = to.data,
                                      .z = (char *)tz.data + tz.offset * einc_test_esize(dt),
                                      .w = tw.data,
                                      .W = tW.data,
                                      .out = (char *)tout.data + out_off * einc_test_esize(dt),
                                      .o_token_stride = K,
                                      .z_token_stride = z_ts,
                                      .W_row_stride = K,
                                      .out_row_stride = out_ld,
                                      .tokens = (int32_t)T,
                                      .heads = (int32_t)H,
                                      .rows = (int32_t)D};
  const einc_rt__cuda_gemv_args gv = {.dtype = dt,
                                      .W = tW.data,
                                      .y_token_stride = K,
                                      .W_row_stride = K,
                                      .out_row_stride = out_ld,
                                      .rows = D,
                                      .cols = K,
                                      .tokens = (int32_t)T};
  einc_rt__cuda_large_map map;
  const char *missed = NULL;
  if (T >= 1 && dt != EINC_RT_F32) {
    if (c->path == EINC_RT__CUDA_PATH_FUSED && T <= EINC_RT__CUDA_SMALL_MAX_TOKENS &&
        !einc_rt__cuda_small_fits(&a))
      missed = "fused";
    if (c->path == EINC_RT__CUDA_PATH_GEMV && T <= EINC_RT__CUDA_GEMV_MAX_TOKENS &&
        !einc_rt__cuda_gemv_fits(&gv))
      missed = "GEMV";
    if (c->path == EINC_RT__CUDA_PATH_LARGE &&
        (!einc_rt__cuda_large_map_init(dt, tW.data, D, K, K, &map) ||
         !einc_rt__cuda_large_fits(&a, &map)))
      missed = "large";
  }
  if (missed) {
    printf("FAIL %s kernel does not take T=%lld H=%lld D=%lld\n", missed, (long long)T,
           (long long)H, (long long)D);
    failures++;
  }
  /* The default path through the public entry points; the others through the backend table. */
  void *state = NULL;
  einc_rt_gdn_out_proj *proj = NULL;
  if (c->path == EINC_RT__CUDA_PATH_AUTO) {
    CHECK_RT(einc_rt_gdn_out_proj_new(be, &tw, &tW, &params, c->max_tokens, &proj));
  } else {
    CHECK_RT(be->vt->proj_new(be, &tw, &tW, &params, c->max_tokens, &state));
    einc_rt__cuda_proj_set_path(state, c->path);
  }
#define RUN_PROJ(O, Z)                                                                             \
  (proj ? einc_rt_gdn_out_proj_run(proj, O, Z, &tout) : be->vt->proj_run(be, state, O, Z, &tout))
  /* A call on other inputs first (o and z swapped), and in a graph a replay after one more: state
   * a call leaves behind (the activation buffer between norm and product) must not pass for the
   * checked call's own. */
  CHECK_RT(RUN_PROJ(&tz, &to));
  CHECK_RT(einc_rt_backend_synchronize(be));
  buf_poison(&out);
  if (c->graph) {
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    CHECK_RT(RUN_PROJ(&to, &tz));
    CHECK_CUDA(cudaStreamEndCapture(stream, &g));
    CHECK_CUDA(cudaGraphInstantiate(&ge, g, 0));
    CHECK_CUDA(cudaGraphLaunch(ge, stream));
    CHECK_RT(RUN_PROJ(&tz, &to));
    CHECK_RT(einc_rt_backend_synchronize(be));
    buf_poison(&out);
    CHECK_CUDA(cudaGraphLaunch(ge, stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
    CHECK_CUDA(cudaGraphExecDestroy(ge));
    CHECK_CUDA(cudaGraphDestroy(g));
  } else {
    CHECK_RT(RUN_PROJ(&to, &tz));
  }
#undef RUN_PROJ
  CHECK_RT(einc_rt_backend_synchronize(be));
  buf_download(&out);

  double *y = malloc((size_t)(T * K + 1) * sizeof *y),
         *ref = malloc((size_t)(T * D + 1) * sizeof *ref);
  reference_y(dt, &o, K, &z, z_off, z_ts, &w, T, H, d, c->gate, 1e-6, y);
  reference_product(dt, y, &W, T, D, K, ref);
  char what[160];
  snprintf(what, sizeof what, "proj %s T=%lld H=%lld D=%lld %s%s%s%s%s max_tokens=%lld",
           einc_test_dtype_name(dt), (long long)T, (long long)H, (long long)D,
           c->gate == EINC_RT_GATE_SILU ? "silu" : "sigmoid", c->z_slice ? " z-slice" : "",
           c->out_slice ? " out-slice" : "",
           c->path == EINC_RT__CUDA_PATH_FUSED   ? " fused"
           : c->path == EINC_RT__CUDA_PATH_GEMV  ? " gemv"
           : c->path == EINC_RT__CUDA_PATH_LARGE ? " large"
                                                 : "",
           c->graph ? " graph" : "", (long long)c->max_tokens);
  compare(what, &out, out_off, out_ld, ref, T, D);
  if (proj)
    einc_rt_gdn_out_proj_delete(proj);
  else
    be->vt->proj_delete(be, state);
  free(y), free(ref);
  buf_free(&o), buf_free(&z), buf_free(&w), buf_free(&W), buf_free(&out);
}

/* One forced path over shapes {T, H, D, out-slice}: the gates and Z slices alternate. */
static void run_path_shapes(einc_rt_backend *be, cudaStream_t stream, einc_rt_dtype dt, int path,
                            int64_t max_tokens, const int64_t (*shapes)[4], int n) {
  for (int i = 0; i < n; i++) {
    gdn_case c = {.dt = dt,
                  .T = shapes[i][0],
                  .H = shapes[i][1],
                  .D = shapes[i][2],
                  .gate = i % 2 ? EINC_RT_GATE_SIGMOID : EINC_RT_GATE_SILU,
                  .max_tokens = max_tokens,
                  .path = path,
                  .z_slice = i % 2 == 0,
                  .out_slice = shapes[i][3] != 0};
    run_case(be, stream, &c);
  }
}

/* The two steps on their own through the table: gated_rmsnorm then gemm_nt. */
static void run_steps(einc_rt_backend *be, einc_rt_dtype dt, int64_t T, int64_t H, int64_t D,
                      int64_t d) {
  const int64_t K = H * d;
  buf o = buf_random(dt, T * K, 1.5), z = buf_random(dt, T * K, 2.0), w = buf_random(dt, d, 1.0);
  buf y = buf_random(dt, T * K, 1.0), W = buf_random(dt, D * K, 0.05);
  buf out = buf_random(dt, T * D, 1.0);
  const einc_rt_gdn_params params = {.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
  const int64_t s3[] = {T, H, d}, st3[] = {K, d, 1}, s1[] = {d}, st1[] = {1};
  const int64_t sx[] = {T, K}, stx[] = {K, 1}, sW[] = {D, K}, stW[] = {K, 1}, so[] = {T, D},
                sto[] = {D, 1};
  einc_rt_tensor to = tensor(&o, 0, 3, s3, st3), tz = tensor(&z, 0, 3, s3, st3);
  einc_rt_tensor tw = tensor(&w, 0, 1, s1, st1), ty = tensor(&y, 0, 3, s3, st3);
  einc_rt_tensor tx = tensor(&y, 0, 2, sx, stx), tW = tensor(&W, 0, 2, sW, stW);
  einc_rt_tensor tout = tensor(&out, 0, 2, so, sto);
  buf_poison(&y);
  buf_poison(&out);
  CHECK_RT(einc_rt_gated_rmsnorm(be, &to, &tz, &tw, &params, &ty));
  CHECK_RT(einc_rt_gemm_nt(be, &tx, &tW, &tout));
  CHECK_RT(einc_rt_backend_synchronize(be));
  buf_download(&y);
  buf_download(&out);
  double *yr = malloc((size_t)(T * K + 1) * sizeof *yr),
         *ref = malloc((size_t)(T * D + 1) * sizeof *ref);
  reference_y(dt, &o, K, &z, 0, K, &w, T, H, d, EINC_RT_GATE_SILU, 1e-6, yr);
  char what[128];
  snprintf(what, sizeof what, "gated_rmsnorm %s T=%lld H=%lld d=%lld", einc_test_dtype_name(dt),
           (long long)T, (long long)H, (long long)d);
  compare(what, &y, 0, K, yr, T, K);
  /* The GEMM's reference uses the device's own Y, so it checks the GEMM alone. */
  for (int64_t t = 0; t < T; t++)
    for (int64_t n = 0; n < D; n++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++)
        s += einc_test_get(dt, y.host, t * K + k) * einc_test_get(dt, W.host, n * K + k);
      ref[t * D + n] = s;
    }
  snprintf(what, sizeof what, "gemm_nt %s T=%lld D=%lld K=%lld", einc_test_dtype_name(dt),
           (long long)T, (long long)D, (long long)K);
  compare(what, &out, 0, D, ref, T, D);
  free(yr), free(ref);
  buf_free(&o), buf_free(&z), buf_free(&w), buf_free(&y), buf_free(&W), buf_free(&out);
}

/* A decode loop: `steps` calls of `per` tokens each on one projection enqueued back to back, each
 * on its own o, z and output rows, eagerly and then captured as one graph. Consecutive calls share
 * the projection's activation buffer, so this checks the ordering of the norm + GEMV pair (the
 * GEMV starts while its norm runs) against the calls before and after it. */
static void run_decode(einc_rt_backend *be, cudaStream_t stream, einc_rt_dtype dt, int64_t steps,
                       int64_t per, int64_t H, int64_t D) {
  const int64_t d = 128, K = H * d, T = steps * per;
  buf o = buf_random(dt, T * K, 2.0), z = buf_random(dt, T * K, 3.0);
  buf w = buf_random(dt, d, 1.0), W = buf_random(dt, D * K, 0.05);
  buf out = buf_random(dt, T * D, 1.0);
  const einc_rt_gdn_params params = {.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
  const int64_t s3[] = {per, H, d}, st3[] = {K, d, 1}, s1[] = {d}, st1[] = {1};
  const int64_t sW[] = {D, K}, stW[] = {K, 1}, so[] = {per, D}, sto[] = {D, 1};
  einc_rt_tensor tw = tensor(&w, 0, 1, s1, st1), tW = tensor(&W, 0, 2, sW, stW);
  einc_rt_gdn_out_proj *proj;
  CHECK_RT(einc_rt_gdn_out_proj_new(be, &tw, &tW, &params, per, &proj));
  double *y = malloc((size_t)(T * K) * sizeof *y), *ref = malloc((size_t)(T * D) * sizeof *ref);
  reference_y(dt, &o, K, &z, 0, K, &w, T, H, d, EINC_RT_GATE_SILU, 1e-6, y);
  reference_product(dt, y, &W, T, D, K, ref);
  for (int graph = 0; graph < 2; graph++) {
    cudaGraph_t g = NULL;
    cudaGraphExec_t ge = NULL;
    buf_poison(&out);
    if (graph) CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int64_t i = 0; i < steps; i++) {
      einc_rt_tensor to = tensor(&o, i * per * K, 3, s3, st3);
      einc_rt_tensor tz = tensor(&z, i * per * K, 3, s3, st3);
      einc_rt_tensor tout = tensor(&out, i * per * D, 2, so, sto);
      CHECK_RT(einc_rt_gdn_out_proj_run(proj, &to, &tz, &tout));
    }
    if (graph) {
      CHECK_CUDA(cudaStreamEndCapture(stream, &g));
      CHECK_CUDA(cudaGraphInstantiate(&ge, g, 0));
      CHECK_CUDA(cudaGraphLaunch(ge, stream));
    }
    CHECK_RT(einc_rt_backend_synchronize(be));
    if (graph) {
      CHECK_CUDA(cudaGraphExecDestroy(ge));
      CHECK_CUDA(cudaGraphDestroy(g));
    }
    buf_download(&out);
    char what[128];
    snprintf(what, sizeof what, "decode %s %lld steps of %lld H=%lld D=%lld%s",
             einc_test_dtype_name(dt), (long long)steps, (long long)per, (long long)H, (long long)D,
             graph ? " graph" : "");
    compare(what, &out, 0, D, ref, T, D);
  }
  einc_rt_gdn_out_proj_delete(proj);
  free(y), free(ref);
  buf_free(&o), buf_free(&z), buf_free(&w), buf_free(&W), buf_free(&out);
}

int main(int argc, char **argv) {
  const bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  einc_rt_backend *be = NULL;
  cudaStream_t stream;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("SKIP: no CUDA device on this machine\n");
    return EINC_TEST_SKIP;
  }
  einc_test_seed();
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  einc_rt_backend_options opts = {.stream = stream};
  int st = einc_rt_backend_new(EINC_RT_BACKEND_CUDA, &opts, &be);
  if (st == EINC_RT_ENOTAVAIL) {
    printf("SKIP: %s\n", einc_rt_last_error());
    return EINC_TEST_SKIP;
  }
  CHECK_RT(st);
  printf("backend: %s\n", einc_rt_backend_name(be));

  const einc_rt_dtype dts[] = {EINC_RT_BF16, EINC_RT_F16, EINC_RT_F32};
  const int64_t Ts_full[] = {0, 1, 3, 8, 9, 16, 17, 100};
  const int64_t Ts_quick[] = {0, 1, 9, 17};
  const int64_t *Ts = quick ? Ts_quick : Ts_full;
  const int nT = quick ? 4 : 8;
  for (int di = 0; di < 3; di++) {
    for (int ti = 0; ti < nT; ti++) {
      const int64_t T = Ts[ti];
      gdn_case c = {.dt = dts[di],
                    .T = T,
                    .H = 16,
                    .D = 256,
                    .gate = EINC_RT_GATE_SILU,
                    .max_tokens = 64,
                    .path = EINC_RT__CUDA_PATH_SPLIT};
      run_case(be, stream, &c);
      c.gate = EINC_RT_GATE_SIGMOID, c.z_slice = true, c.out_slice = true;
      run_case(be, stream, &c);
      c.path = EINC_RT__CUDA_PATH_AUTO;
      run_case(be, stream, &c);
      c.path = EINC_RT__CUDA_PATH_FUSED;
      run_case(be, stream, &c);
      c.gate = EINC_RT_GATE_SILU;
      run_case(be, stream, &c);
    }
    /* Real Qwen3.5 shapes: the 64-row tiles of the fused kernel, and its cluster split. */
    if (!quick) {
      gdn_case c = {.dt = dts[di],
                    .T = 16,
                    .H = 32,
                    .D = 2048,
                    .max_tokens = 16,
                    .z_slice = true,
                    .path = EINC_RT__CUDA_PATH_FUSED};
      run_case(be, stream, &c);
      c.T = 5, c.H = 48, c.D = 5120, c.gate = EINC_RT_GATE_SIGMOID, c.out_slice = true;
      run_case(be, stream, &c); /* clusters of 6 */
      c.T = 1, c.H = 64, c.D = 4096, c.z_slice = false;
      run_case(be, stream, &c); /* clusters of 8, 16 tiles a cluster */
      c.T = 11, c.H = 12, c.D = 528;
      run_case(be, stream, &c); /* 768-column slices, a tile count no cluster count divides */
      c.T = 2, c.H = 2, c.D = 16;
      run_case(be, stream, &c); /* one block, one tile */
      /* The norm + GEMV pair: one token on the CUDA cores (1-8 warps a row), 2-16 on the tensor
       * cores (1-32 warps a 16-row tile, partial tiles), the Qwen3.5 shapes. */
      const int64_t gemv_shapes[][4] = {
          {1, 16, 256, 1}, {1, 48, 5120, 0}, {1, 64, 4096, 0}, {2, 32, 2048, 1}, {3, 24, 300, 0},
          {4, 8, 17, 0},   {8, 16, 1000, 1}, {9, 32, 2048, 0}, {16, 1, 40, 0},   {16, 32, 2048, 1}};
      run_path_shapes(be, stream, dts[di], EINC_RT__CUDA_PATH_GEMV, 16, gemv_shapes, 10);
      /* The one-kernel large-batch path: partial and whole 128-token tiles, clusters of 2, 4
       * and 8 blocks, two to twenty 256-row tiles, the Qwen3.5 shapes, slices, both gates. */
      const int64_t large_shapes[][4] = {{1, 1, 512, 1},     {17, 4, 512, 0},   {128, 2, 1536, 1},
                                         {129, 8, 3072, 1},  {300, 3, 1024, 0}, {260, 32, 2048, 1},
                                         {131, 48, 5120, 1}, {64, 64, 4096, 0}};
      run_path_shapes(be, stream, dts[di], EINC_RT__CUDA_PATH_LARGE, 64, large_shapes, 8);
      gdn_case la = {.dt = dts[di],
                     .T = 1027,
                     .H = 6,
                     .D = 512,
                     .max_tokens = 0,
                     .path = EINC_RT__CUDA_PATH_LARGE,
                     .out_slice = true,
                     .z_slice = true,
                     .graph = true};
      run_case(be, stream, &la); /* beyond the activation buffer's default 1024 tokens */
      c.T = 40, c.max_tokens = 16, c.path = EINC_RT__CUDA_PATH_AUTO;
      run_case(be, stream, &c);
      c.T = 1100, c.H = 8, c.D = 64, c.max_tokens = 0; /* the default buffer, and chunks */
      run_case(be, stream, &c);
      c.T = 4100, c.max_tokens = 4096; /* a GEMM tuned at creation, then a remainder chunk */
      run_case(be, stream, &c);
      c.T = 4500, c.H = 4, c.graph = true; /* the same captured in a graph */
      run_case(be, stream, &c);
    }
    gdn_case g = {
        .dt = dts[di], .T = 4, .H = 8, .D = 128, .max_tokens = 32, .graph = true, .z_slice = true};
    run_case(be, stream, &g);
    g.path = EINC_RT__CUDA_PATH_FUSED;
    run_case(be, stream, &g);
    g.path = EINC_RT__CUDA_PATH_GEMV; /* a programmatic dependent launch inside a graph */
    run_case(be, stream, &g);
    g.T = 13; /* two groups of eight tokens on the tensor cores */
    run_case(be, stream, &g);
    g.T = 33, g.path = EINC_RT__CUDA_PATH_AUTO;
    run_case(be, stream, &g);
    g.T = 130, g.H = 2, g.D = 512, g.path = EINC_RT__CUDA_PATH_LARGE, g.out_slice = true;
    run_case(be, stream, &g); /* the large kernel in a graph, two token tiles, a partial one */
    g.D = 2048;
    run_case(be, stream, &g); /* the same with clusters of 8 */
    run_decode(be, stream, dts[di], quick ? 6 : 48, 1, quick ? 8 : 32, quick ? 256 : 2048);
    run_decode(be, stream, dts[di], quick ? 4 : 24, 3, quick ? 8 : 32, quick ? 256 : 1024);
    run_steps(be, dts[di], quick ? 5 : 37, 4, 96, 128);
    run_steps(be, dts[di], 3, 3, 64, 40); /* a head size off the vector path */
  }
  einc_rt_backend_delete(be);
  cudaStreamDestroy(stream);
  printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}

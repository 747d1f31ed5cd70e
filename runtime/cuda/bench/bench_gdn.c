/*
 * Benchmark of the CUDA GDN projection (bf16), H=32 D=2048 and H=48 D=5120, T from 1 to 32768:
 * eager and replayed from a CUDA graph (the default path), the fused small-batch kernel
 * (T <= 16) and the split path (norm kernel + cuBLASLt) each forced, and cuBLASLt's GEMM alone,
 * each as a ratio to the floor measured in this run:
 *   floor = max(bytes that must move / copy bandwidth, FLOPs / bf16 GEMM rate).
 * Weights rotate over enough copies to overflow L2, so small batches read W from device memory
 * as they would in a model. For T <= 128 it also times a kernel that only reads W (read_floor.cu):
 * what streaming W alone costs at that size, beside the floor. Writes a CSV (argv[1], optional) for
 * scripts/bench_gdn_torch_cuda.py.
 */
#include <cublasLt.h>
#include <math.h>

#include "backend.h"
#include "bench_common.h"
#include "cuda_common.h"
#include "read_floor.h"

#define CHECK_RT(expr)                                                                             \
  do {                                                                                             \
    int s_ = (expr);                                                                               \
    if (s_ != EINC_RT_OK) {                                                                        \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, einc_rt_last_error());         \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static uint64_t rng = 0x1234567887654321ull;
static uint16_t rand_bf16(double scale) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  float f = (float)(scale * ((double)(rng >> 11) / 4503599627370496.0 - 1.0));
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static void *dev_random(size_t n, double scale) {
  uint16_t *h = malloc(n * 2);
  void *d;
  for (size_t i = 0; i < n; i++)
    h[i] = rand_bf16(scale);
  BENCH_CUDA(cudaMalloc(&d, n * 2));
  BENCH_CUDA(cudaMemcpy(d, h, n * 2, cudaMemcpyHostToDevice));
  free(h);
  return d;
}

static einc_rt_tensor tensor(void *data, int32_t rank, const int64_t *shape) {
  einc_rt_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = EINC_RT_BF16, t.rank = rank, t.data = data, t.device = EINC_RT_DEVICE_CUDA;
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--)
    t.shape[i] = shape[i], t.strides[i] = s, s *= shape[i];
  return t;
}

#define MAX_ROT 16
typedef struct ctx {
  einc_rt_backend *be;
  cudaStream_t s;
  int n_rot;
  void *proj[MAX_ROT];
  einc_rt_tensor o[MAX_ROT], z[MAX_ROT], x[MAX_ROT], W[MAX_ROT], out;
  bool gemm_only, norm_only, read_only;
  uint32_t *sink;
  int read_blocks;
  einc_rt_tensor w, y;
  cudaGraphExec_t graph;
} ctx;

static void run_once(void *p, int i) {
  ctx *c = p;
  const int r = i % c->n_rot;
  static const einc_rt_gdn_params params = {.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
  if (c->read_only)
    BENCH_CUDA(bench_read_launch(c->W[r].data, (size_t)(c->W[r].shape[0] * c->W[r].shape[1]) * 2,
                                 c->sink, c->read_blocks, c->s));
  else if (c->norm_only)
    CHECK_RT(c->be->vt->gated_rmsnorm(c->be, &c->o[r], &c->z[r], &c->w, &params, &c->y));
  else if (c->gemm_only)
    CHECK_RT(c->be->vt->gemm_nt(c->be, &c->x[r], &c->W[r], &c->out));
  else
    CHECK_RT(c->be->vt->proj_run(c->be, c->proj[r], &c->o[r], &c->z[r], &c->out));
}
typedef struct graph_ctx {
  cudaGraphExec_t g;
  cudaStream_t s;
} graph_ctx;
static void graph_fn(void *p, int i) {
  graph_ctx *c = p;
  (void)i;
  BENCH_CUDA(cudaGraphLaunch(c->g, c->s));
}
static void run_graph(void *p, int i) {
  ctx *c = p;
  (void)i;
  BENCH_CUDA(cudaGraphLaunch(c->graph, c->s));
}

/* Median µs per call: eager when !graph, else from a graph of one call per rotation. */
static double measure(ctx *c, bool graph, int iters) {
  if (!graph) return bench_time_us(c->s, iters, 7, run_once, c);
  cudaGraph_t g;
  for (int i = 0; i < c->n_rot; i++)
    run_once(c, i); /* GEMM plans are made before capture */
  BENCH_CUDA(cudaStreamSynchronize(c->s));
  BENCH_CUDA(cudaStreamBeginCapture(c->s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < c->n_rot; i++)
    run_once(c, i);
  BENCH_CUDA(cudaStreamEndCapture(c->s, &g));
  BENCH_CUDA(cudaGraphInstantiate(&c->graph, g, 0));
  const int launches = (iters + c->n_rot - 1) / c->n_rot;
  const double us = bench_time_us(c->s, launches, 7, run_graph, c) / c->n_rot;
  cudaGraphExecDestroy(c->graph);
  cudaGraphDestroy(g);
  return us;
}

/* Time up to 16 of cuBLASLt's heuristic candidates for out[T,D] = x[T,K] · W[D,K]ᵀ (bf16, the
 * backend's layouts and workspace size) and print the first one's time against the best. */
static void gemm_candidates(cudaStream_t s, int64_t T, int64_t D, int64_t K,
                            const einc_rt_tensor *Ws, int n_rot, const void *x, void *out) {
  enum { MAX_CAND = 16 };
  static cublasLtHandle_t lt;
  static void *ws;
  const size_t ws_bytes = (size_t)32 << 20;
  if (!lt && (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS || cudaMalloc(&ws, ws_bytes))) return;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulPreference_t pref;
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  uint64_t wsz = ws_bytes;
  cublasLtMatmulHeuristicResult_t res[MAX_CAND];
  int found = 0;
  cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, (uint64_t)K, (uint64_t)D, K);
  cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, (uint64_t)K, (uint64_t)T, K);
  cublasLtMatrixLayoutCreate(&c, CUDA_R_16BF, (uint64_t)D, (uint64_t)T, D);
  cublasLtMatmulPreferenceCreate(&pref);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
                                       sizeof wsz);
  cublasLtMatmulAlgoGetHeuristic(lt, op, a, b, c, c, pref, MAX_CAND, res, &found);
  double first = 0, best = 1e30;
  int best_i = -1;
  const float one = 1.0f, zero = 0.0f;
  for (int i = 0; i < found; i++) {
    cudaGraph_t g;
    cudaGraphExec_t ge;
    bool ok = true;
    BENCH_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int r = 0; r < n_rot; r++)
      ok = ok && cublasLtMatmul(lt, op, &one, Ws[r].data, a, x, b, &zero, out, c, out, c,
                                &res[i].algo, ws, ws_bytes, s) == CUBLAS_STATUS_SUCCESS;
    BENCH_CUDA(cudaStreamEndCapture(s, &g));
    if (!ok) {
      cudaGraphDestroy(g);
      continue;
    }
    BENCH_CUDA(cudaGraphInstantiate(&ge, g, 0));
    graph_ctx gc = {ge, s};
    int launches = (int)(20000.0 / (T * 0.1 + 10.0) / n_rot) + 2;
    const double us = bench_time_us(s, launches, 5, graph_fn, &gc) / n_rot;
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    if (i == 0) first = us;
    if (us < best) best = us, best_i = i;
  }
  printf("cuBLASLt candidates H*d=%lld D=%lld T=%lld: %d timed, first %.1f us, best #%d %.1f us "
         "(%.2fx)\n",
         (long long)K, (long long)D, (long long)T, found, first, best_i, best,
         best > 0 ? first / best : 0.0);
  fflush(stdout);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(c), cublasLtMatrixLayoutDestroy(b), cublasLtMatrixLayoutDestroy(a);
  cublasLtMatmulDescDestroy(op);
}

/* EINC_BENCH_TOKENS=1,1024 times only those token counts (all when unset). */
static bool token_listed(int64_t T) {
  const char *list = getenv("EINC_BENCH_TOKENS");
  if (!list || !*list) return true;
  for (const char *p = list; *p;) {
    char *end;
    const long long v = strtoll(p, &end, 10);
    if (end == p) return false;
    if (v == T) return true;
    p = *end == ',' ? end + 1 : end;
  }
  return false;
}

int main(int argc, char **argv) {
  /* --profile: only the fused kernel at H=32 D=2048, T=1 and 4, for a profiler to look at. */
  const bool profile = argc > 1 && strcmp(argv[1], "--profile") == 0;
  FILE *csv = argc > 1 && !profile ? fopen(argv[1], "w") : NULL;
  cudaStream_t s;
  einc_rt_backend *be;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("SKIP: no CUDA device\n");
    return 77;
  }
  BENCH_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  einc_rt_backend_options opts = {.stream = s};
  CHECK_RT(einc_rt__cuda_backend_new(&opts, &be));
  int l2 = 0, sms = 0;
  BENCH_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  BENCH_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const int read_blocks = 8 * sms; /* 2048 threads an SM, 8 loads of 16 bytes in flight each */
  uint32_t *sink;
  BENCH_CUDA(cudaMalloc((void **)&sink, (size_t)read_blocks * sizeof *sink));
  BENCH_CUDA(cudaMemset(sink, 0, (size_t)read_blocks * sizeof *sink));

  /* The two floors. */
  const double bw = profile ? 3e12 : bench_copy_bandwidth(s);
  double gemm_rate = 7e14;
  if (!profile) {
    const int64_t n = 8192, sq[] = {n, n};
    ctx c = {.be = be, .s = s, .n_rot = 1, .gemm_only = true};
    c.x[0] = tensor(dev_random((size_t)(n * n), 1.0), 2, sq);
    c.W[0] = tensor(dev_random((size_t)(n * n), 1.0), 2, sq);
    c.out = tensor(dev_random((size_t)(n * n), 1.0), 2, sq);
    const double us = measure(&c, false, 10);
    gemm_rate = 2.0 * n * n * n / (us * 1e-6);
    cudaFree(c.x[0].data), cudaFree(c.W[0].data), cudaFree(c.out.data);
  }
  printf("device: %s\n", be->name);
  printf(
      "floors: copy %.2f TB/s (read+write), bf16 GEMM %.0f TFLOP/s (cuBLASLt 8192^3), L2 %d MB\n",
      bw / 1e12, gemm_rate / 1e12, l2 >> 20);
  if (csv) fprintf(csv, "# copy_bw=%.6e gemm_rate=%.6e device=%s\n", bw, gemm_rate, be->name);
  if (csv)
    fprintf(csv, "H,D,T,floor_us,einc_eager_us,einc_graph_us,large_graph_us,split_graph_us,"
                 "gemm_graph_us,read_w_graph_us\n");

  const int64_t shapes[][2] = {{32, 2048}, {48, 5120}};
  const int64_t Ts[] = {1, 4, 8, 16, 32, 64, 128, 1024, 8192, 32768};
  const int n_ts = (int)(sizeof Ts / sizeof Ts[0]);
  const int64_t t_max = 32768, d = 128;
  printf("\n%3s %5s %6s %9s | %-17s %-17s %-17s %-17s %-17s %-17s %-17s %s\n", "H", "D", "T",
         "floor us", "einc eager", "einc graph", "fused graph", "gemv graph", "large graph",
         "split graph", "GEMM alone graph", "| norm alone (of copy bw) | read W alone");
  for (int si = 0; si < (profile ? 1 : 2); si++) {
    const int64_t H = shapes[si][0], D = shapes[si][1], K = H * d;
    const size_t w_bytes = (size_t)(D * K * 2);
    int n_rot = (int)((3 * (size_t)l2 + w_bytes - 1) / w_bytes);
    if (n_rot < 2) n_rot = 2;
    if (n_rot > MAX_ROT) n_rot = MAX_ROT;
    const int64_t sw[] = {d}, sW[] = {D, K};
    void *ob = dev_random((size_t)(t_max * K), 2.0), *zb = dev_random((size_t)(t_max * K), 3.0);
    void *outb = dev_random((size_t)(t_max * D), 1.0), *ybuf = dev_random((size_t)(t_max * K), 1.0);
    einc_rt_tensor w = tensor(dev_random((size_t)d, 1.0), 1, sw);
    einc_rt_tensor Ws[MAX_ROT];
    void *projs[MAX_ROT];
    const einc_rt_gdn_params params = {.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
    for (int r = 0; r < n_rot; r++) {
      Ws[r] = tensor(dev_random((size_t)(D * K), 0.02), 2, sW);
      CHECK_RT(be->vt->proj_new(be, &w, &Ws[r], &params, t_max, &projs[r]));
    }
    for (int ti = 0; ti < (profile ? 2 : n_ts); ti++) {
      const int64_t T = Ts[ti];
      if (!token_listed(T)) continue;
      const double bytes = 2.0 * (2.0 * T * K + (double)D * K + d + (double)T * D);
      const double flops = 2.0 * T * D * K;
      const double floor_us = fmax(bytes / bw, flops / gemm_rate) * 1e6;
      ctx c = {.be = be, .s = s, .n_rot = n_rot};
      const int64_t s3[] = {T, H, d}, s2[] = {T, K}, so[] = {T, D};
      for (int r = 0; r < n_rot; r++) {
        /* Different tokens per rotation while they fit, so activations are not cached either. */
        const int64_t t0 = (r + 1) * T <= t_max ? r * T : 0;
        c.proj[r] = projs[r];
        c.o[r] = tensor((char *)ob + t0 * K * 2, 3, s3);
        c.z[r] = tensor((char *)zb + t0 * K * 2, 3, s3);
        c.x[r] = tensor((char *)ob + t0 * K * 2, 2, s2);
        c.W[r] = Ws[r];
      }
      c.out = tensor(outb, 2, so);
      int iters = (int)(20000.0 / floor_us);
      if (iters < 2 * n_rot) iters = 2 * n_rot;
      if (iters > 2000) iters = 2000;
      iters = (iters + n_rot - 1) / n_rot * n_rot;
      if (profile) {
        for (int r = 0; r < n_rot; r++)
          einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_FUSED);
        for (int i = 0; i < 2 * n_rot; i++)
          run_once(&c, i);
        BENCH_CUDA(cudaStreamSynchronize(s));
        continue;
      }
      for (int r = 0; r < n_rot; r++)
        einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_AUTO);
      const double eager = measure(&c, false, iters), graph = measure(&c, true, iters);
      for (int r = 0; r < n_rot; r++)
        einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_SPLIT);
      const double split = measure(&c, true, iters);
      for (int r = 0; r < n_rot; r++)
        einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_LARGE);
      const double large = T >= 16 ? measure(&c, true, iters) : NAN;
      for (int r = 0; r < n_rot; r++)
        einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_FUSED);
      const double fused = T <= EINC_RT__CUDA_SMALL_MAX_TOKENS ? measure(&c, true, iters) : NAN;
      for (int r = 0; r < n_rot; r++)
        einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_GEMV);
      const double gemv = T <= EINC_RT__CUDA_GEMV_MAX_TOKENS ? measure(&c, true, iters) : NAN;
      for (int r = 0; r < n_rot; r++)
        einc_rt__cuda_proj_set_path(projs[r], EINC_RT__CUDA_PATH_AUTO);
      c.gemm_only = true;
      const double gemm = measure(&c, true, iters);
      c.gemm_only = false, c.norm_only = true, c.w = w;
      c.y = tensor(ybuf, 3, s3);
      const double norm = measure(&c, true, iters);
      c.norm_only = false, c.read_only = true, c.sink = sink, c.read_blocks = read_blocks;
      const double read = T <= 128 ? measure(&c, true, iters) : NAN;
      const double norm_bytes = 2.0 * 3.0 * T * K; /* o, z read; y written */
      printf(
          "%3lld %5lld %6lld %9.1f | %8.1f (%5.2fx) %8.1f (%5.2fx) %8.1f (%5.2fx) %8.1f (%5.2fx) "
          "%8.1f (%5.2fx) %8.1f (%5.2fx) %8.1f (%5.2fx) | %8.1f (%4.0f%%) | %8.1f (%5.2fx)\n",
          (long long)H, (long long)D, (long long)T, floor_us, eager, eager / floor_us, graph,
          graph / floor_us, fused, fused / floor_us, gemv, gemv / floor_us, large, large / floor_us,
          split, split / floor_us, gemm, gemm / floor_us, norm,
          100.0 * norm_bytes / (norm * 1e-6) / bw, read, read / floor_us);
      if (csv)
        fprintf(csv, "%lld,%lld,%lld,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", (long long)H,
                (long long)D, (long long)T, floor_us, eager, graph, large, split, gemm, read);
      fflush(stdout);
    }
    /* Would timing cuBLASLt's candidates beat its heuristic's first choice? The GEMM alone,
     * each candidate replayed from a graph over the rotating weights. */
    if (!profile)
      for (int ti = 3; ti < n_ts; ti++)
        if (token_listed(Ts[ti])) gemm_candidates(s, Ts[ti], D, K, Ws, n_rot, ob, outb);
    for (int r = 0; r < n_rot; r++) {
      be->vt->proj_delete(be, projs[r]);
      cudaFree(Ws[r].data);
    }
    cudaFree(ob), cudaFree(zb), cudaFree(outb), cudaFree(ybuf), cudaFree(w.data);
  }
  printf("\nratios are time / floor; einc = the default path: the norm kernel + GEMV up to %d "
         "tokens, else split = gated-norm kernel + cuBLASLt (tuned at T = 32768, the projections' "
         "capacity)\n",
         EINC_RT__CUDA_GEMV_AUTO_TOKENS);

  if (csv) fclose(csv);
  cudaFree(sink);
  be->vt->destroy(be);
  return 0;
}

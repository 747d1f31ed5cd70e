/*
 * Generated CUDA (gen_cuda.einc, compiled by einc_generate) against the interpreter: every entry
 * on fresh random inputs of several random shapes (tile edges that do not fill a tile, lengths
 * bound at run time), NaNs in max/min inputs, unaligned pointers (the element fallback of the
 * vector copies), a shape the pattern does not fit (a negative status and an untouched output),
 * views, and (full run only) a transpose past 2^31 elements. Copies must match to the bit,
 * reductions within float rounding. Exits 77 without a CUDA device.
 * Usage: test_gen_cuda [--quick]
 */
#include <cuda_runtime_api.h>

#include "gen_cuda.cuh"
#include "gen_test_util.h"

static int failures, checks;

typedef int (*fn0_t)(const void *, const int64_t *, void *, cudaStream_t);
typedef int (*fn1_t)(const void *, const int64_t *, void *, int64_t, cudaStream_t);

/* One manifest entry as the test calls it. Shape template: > 0 a fixed length, -m a random
 * multiple of m. `kw` / `kwv`: the keyword size of the pattern (passed as an argument when the
 * entry takes it at run time: f1). */
typedef struct gcase {
  const char *name;
  fn0_t f0;
  fn1_t f1;
  einc_op op;
  const char *pattern, *red;
  einc_dtype dt;
  int32_t rank;
  int64_t tmpl[4];
  const char *kw;
  int64_t kwv;
} gcase;

#define R EINC_OP_REARRANGE
#define D EINC_OP_REDUCE
#define P EINC_OP_REPEAT
static const gcase cases[] = {
    {"g_bhnd",
     g_bhnd,
     NULL,
     R,
     "b h n d -> b n (h d)",
     NULL,
     EINC_BF16,
     4,
     {-1, -1, -1, -8},
     NULL,
     0},
    {"g_split", NULL, g_split, R, "b n (h d) -> b h n d", NULL, EINC_BF16, 3, {-1, -1, -4}, "h", 4},
    {"g_t", g_t, NULL, R, "a b -> b a", NULL, EINC_BF16, 2, {-1, -1}, NULL, 0},
    {"g_nhwc",
     g_nhwc,
     NULL,
     R,
     "b c h w -> b h w c",
     NULL,
     EINC_BF16,
     4,
     {-1, -1, -1, -1},
     NULL,
     0},
    {"g_t32", g_t32, NULL, R, "a b -> b a", NULL, EINC_F32, 2, {-1, -1}, NULL, 0},
    {"g_t64", g_t64, NULL, R, "a b c -> c b a", NULL, EINC_F64, 3, {-1, -1, -1}, NULL, 0},
    {"g_t8", g_t8, NULL, R, "a b -> b a", NULL, EINC_BOOL, 2, {-1, -1}, NULL, 0},
    {"g_mid", g_mid, NULL, R, "a b c -> b a c", NULL, EINC_F32, 3, {-1, -1, -1}, NULL, 0},
    {"g_fixed", g_fixed, NULL, R, "b (h d) n -> b n h d", NULL, EINC_F16, 3, {3, 40, 33}, "h", 5},
    {"g_flat", g_flat, NULL, R, "... h d -> ... (h d)", NULL, EINC_F32, 4, {-1, -1, 4, 8}, NULL, 0},
    {"g_sum",
     g_sum,
     NULL,
     D,
     "b c (h 2) (w 2) -> b c h w",
     "mean",
     EINC_F32,
     4,
     {-1, 3, -2, -2},
     NULL,
     0},
    {"g_max", g_max, NULL, D, "a b c -> a c", "max", EINC_F16, 3, {-1, -1, -1}, NULL, 0},
    {"g_min", g_min, NULL, D, "a b c -> c", "min", EINC_BF16, 3, {-1, -1, -1}, NULL, 0},
    {"g_sumbf", g_sumbf, NULL, D, "a b -> a", "sum", EINC_BF16, 2, {-1, -1}, NULL, 0},
    {"g_prod", g_prod, NULL, D, "a b c -> b", "prod", EINC_F64, 3, {-1, -1, -1}, NULL, 0},
    {"g_any", g_any, NULL, D, "a b -> b", "any", EINC_BOOL, 2, {-1, -1}, NULL, 0},
    {"g_all", g_all, NULL, D, "a b -> a", "all", EINC_BOOL, 2, {-1, -1}, NULL, 0},
    {"g_sumbool", g_sumbool, NULL, D, "a b -> a", "sum", EINC_BOOL, 2, {-1, -1}, NULL, 0},
    {"g_imax", g_imax, NULL, D, "a b -> b", "max", EINC_I64, 2, {-1, -1}, NULL, 0},
    {"g_isum", NULL, g_isum, D, "a (b c) -> c", "sum", EINC_I64, 2, {-1, -3}, "c", 3},
    {"g_rep", NULL, g_rep, P, "h w -> h (w r)", NULL, EINC_F64, 2, {-1, -1}, "r", 3},
    {"g_rep2", g_rep2, NULL, P, "h w -> r h w", NULL, EINC_F32, 2, {-1, -1}, "r", 3},
    {"g_rep3", g_rep3, NULL, P, "h w -> (h r) w", NULL, EINC_BF16, 2, {-1, -1}, "r", 2},
    {"g_bcast", g_bcast, NULL, P, "h w -> h r w", NULL, EINC_I64, 2, {-1, -1}, "r", 2},
};

static int call(const gcase *g, const void *in, const int64_t *shape, void *out) {
  return g->f1 ? g->f1(in, shape, out, g->kwv, 0) : g->f0(in, shape, out, 0);
}

static einc_plan *plan_for(const gcase *g, const int64_t *shape) {
  einc_shape s = {.rank = g->rank};
  for (int32_t d = 0; d < g->rank; d++)
    s.dims[d] = shape[d];
  einc_kwarg kw = {g->kw, g->kwv};
  einc_spec spec = {.op = g->op,
                    .pattern = g->pattern,
                    .pattern_len = strlen(g->pattern),
                    .reduction_name = g->red,
                    .dtype = g->dt,
                    .n_inputs = 1,
                    .inputs = &s,
                    .n_kwargs = g->kw ? 1 : 0,
                    .kwargs = &kw};
  einc_plan *plan = NULL;
  einc_error err;
  if (einc_plan_new(&spec, &plan, &err) != EINC_OK) {
    printf("FAIL %s: plan: %s\n", g->name, err.message);
    failures++;
    return NULL;
  }
  return plan;
}

/* One run of entry `g` on input `shape`; `shift` elements off the allocation's alignment. */
static void check(const gcase *g, const int64_t *shape, int shift) {
  char what[160];
  int off = snprintf(what, sizeof what, "%s [", g->name);
  for (int32_t d = 0; d < g->rank; d++)
    off += snprintf(what + off, sizeof what - (size_t)off, "%s%lld", d ? "," : "",
                    (long long)shape[d]);
  snprintf(what + off, sizeof what - (size_t)off, "]%s", shift ? " unaligned" : "");
  einc_plan *plan = plan_for(g, shape);
  if (!plan) return;
  int64_t n_in = 1, n_out = einc_plan_out_numel(plan, 0);
  for (int32_t d = 0; d < g->rank; d++)
    n_in *= shape[d];
  size_t isz = einc_dtype_size(plan->in_dtype), osz = einc_dtype_size(plan->out_dtype);
  size_t in_bytes = (size_t)(n_in + shift) * isz, out_bytes = (size_t)(n_out + shift) * osz;
  char *hin = malloc(in_bytes + 1), *want = malloc(out_bytes + 1), *got = malloc(out_bytes + 1);
  fill(g->dt, hin + shift * isz, n_in, g->red);
  const void *ins[1] = {hin + shift * isz};
  void *outs[1] = {want};
  if (einc_plan_execute(plan, ins, outs) != EINC_OK) {
    printf("FAIL %s: interpreter\n", what);
    failures++;
    goto done;
  }
  char *din, *dout;
  CHECK_CUDA(cudaMalloc((void **)&din, in_bytes + 1));
  CHECK_CUDA(cudaMalloc((void **)&dout, out_bytes + 1));
  CHECK_CUDA(cudaMemcpy(din, hin, in_bytes, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dout, 0xa5, out_bytes));
  int st = call(g, din + shift * isz, shape, dout + shift * osz);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(got, dout + shift * osz, (size_t)n_out * osz, cudaMemcpyDeviceToHost));
  cudaFree(din);
  cudaFree(dout);
  checks++;
  if (st != 0) {
    printf("FAIL %s: status %d\n", what, st);
    failures++;
    goto done;
  }
  for (int64_t i = 0; i < n_out; i++) {
    if (!same_element(plan, want, got, i)) {
      printf("FAIL %s: element %lld: got %g, want %g\n", what, (long long)i,
             as_double(plan->out_dtype, got, i), as_double(plan->out_dtype, want, i));
      failures++;
      goto done;
    }
  }
  printf("ok %s (%s)\n", what, einc_plan_class_name(plan->klass));
done:
  free(hin);
  free(want);
  free(got);
  einc_plan_delete(plan);
}

static void random_shape(const gcase *g, int64_t *shape, int64_t max_len) {
  for (int32_t d = 0; d < g->rank; d++) {
    int64_t t = g->tmpl[d];
    shape[d] = t > 0 ? t : -t * (int64_t)(1 + einc_test_next() % (uint64_t)(max_len / -t));
  }
}

/* A shape the pattern does not fit: a negative status, nothing launched or written. */
static void check_mismatch(void) {
  const int64_t bad[3] = {3, 41, 33}, split[3] = {2, 5, 10};
  unsigned char *dout, host[64];
  CHECK_CUDA(cudaMalloc((void **)&dout, 64));
  CHECK_CUDA(cudaMemset(dout, 0x5a, 64));
  int a = g_fixed(dout, bad, dout, 0), b = g_split(dout, split, dout, 3, 0);
  int c = g_rep(dout, split, dout, 0, 0);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(host, dout, 64, cudaMemcpyDeviceToHost));
  cudaFree(dout);
  bool untouched = true;
  for (int i = 0; i < 64; i++)
    untouched = untouched && host[i] == 0x5a;
  checks++;
  if (a != EINC_GEN_ESHAPE || b != EINC_GEN_ESHAPE || c != EINC_GEN_EINVAL || !untouched) {
    printf("FAIL shape mismatch: statuses %d %d %d, output %s\n", a, b, c,
           untouched ? "untouched" : "written");
    failures++;
  } else {
    printf("ok shape mismatch: statuses %d %d %d, output untouched\n", a, b, c);
  }
}

/* NAME_view gives the plan's view shape and strides, and launches nothing. */
static void check_view(void) {
  const int64_t shape[4] = {2, 3, 5, 7};
  const gcase *g = &cases[3]; /* g_nhwc */
  einc_plan *plan = plan_for(g, shape);
  if (!plan) return;
  einc_gen_view v;
  int st = g_nhwc_view((void *)0x1000, shape, &v);
  bool ok = st == 0 && v.rank == plan->out_rank && v.data == (void *)0x1000;
  for (int32_t d = 0; ok && d < v.rank; d++)
    ok = v.shape[d] == plan->out_shape[d] && v.strides[d] == plan->view_strides[d];
  checks++;
  printf("%s view of %s\n", ok ? "ok" : "FAIL", g->name);
  failures += !ok;
  einc_plan_delete(plan);
}

/* "a b -> b a" on bytes past 2^31 elements: 64-bit offsets in the tiled kernel; checked at
 * sampled positions (every edge tile plus random ones) against the pattern's meaning. */
static void check_big(void) {
  const int64_t a = 40000, b = 54000, n = a * b;
  size_t free_b, total_b;
  CHECK_CUDA(cudaMemGetInfo(&free_b, &total_b));
  if (free_b < (size_t)(2 * n + ((int64_t)1 << 30))) {
    printf("skip big transpose: %zu bytes free\n", free_b);
    return;
  }
  uint8_t *hin = malloc((size_t)n), *hout = malloc((size_t)n), *din, *dout;
  for (int64_t i = 0; i < n; i += 8) {
    uint64_t r = einc_test_next();
    memcpy(hin + i, &r, (size_t)(n - i < 8 ? n - i : 8));
  }
  CHECK_CUDA(cudaMalloc((void **)&din, (size_t)n));
  CHECK_CUDA(cudaMalloc((void **)&dout, (size_t)n));
  CHECK_CUDA(cudaMemcpy(din, hin, (size_t)n, cudaMemcpyHostToDevice));
  const int64_t shape[2] = {a, b};
  int st = g_t8(din, shape, dout, 0);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(hout, dout, (size_t)n, cudaMemcpyDeviceToHost));
  cudaFree(din);
  cudaFree(dout);
  int64_t bad = -1;
  for (int64_t k = 0; k < 4000000 && bad < 0; k++) {
    int64_t i = k < 2 * b ? (k % 2 ? a - 1 : 0) : (int64_t)(einc_test_next() % (uint64_t)a);
    int64_t j = k < 2 * b ? k / 2 : (int64_t)(einc_test_next() % (uint64_t)b);
    if (hout[j * a + i] != hin[i * b + j]) bad = j * a + i;
  }
  checks++;
  if (st != 0 || bad >= 0) {
    printf("FAIL big transpose %lld x %lld: status %d, first bad element %lld\n", (long long)a,
           (long long)b, st, (long long)bad);
    failures++;
  } else {
    printf("ok big transpose %lld x %lld (%lld elements)\n", (long long)a, (long long)b,
           (long long)n);
  }
  free(hin);
  free(hout);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && !strcmp(argv[1], "--quick");
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("no CUDA device: skipped\n");
    return EINC_TEST_SKIP;
  }
  einc_test_seed();
  const int n_cases = (int)(sizeof cases / sizeof cases[0]);
  for (int k = 0; k < n_cases; k++) {
    const gcase *g = &cases[k];
    int64_t shape[4];
    for (int r = 0; r < (quick ? 2 : 5); r++) {
      random_shape(g, shape, g->rank >= 4 ? 24 : g->rank == 3 ? 72 : 300);
      check(g, shape, 0);
    }
    if (!quick && g->rank == 2 && g->tmpl[0] < 0) { /* several waves of blocks */
      shape[0] = 2049;
      shape[1] = 3000;
      check(g, shape, 0);
    }
  }
  /* unaligned pointers: the vector copy falls back to elements */
  check(&cases[0], (const int64_t[]){2, 3, 5, 16}, 1);
  check(&cases[2], (const int64_t[]){67, 129}, 3);
  check(&cases[8], (const int64_t[]){3, 40, 33}, 1);
  /* the benchmark patterns at small sizes */
  check(&cases[0], (const int64_t[]){2, 4, 64, 128}, 0);
  check(&cases[1], (const int64_t[]){2, 64, 512}, 0);
  check(&cases[2], (const int64_t[]){256, 320}, 0);
  check(&cases[3], (const int64_t[]){2, 64, 28, 28}, 0);
  check_mismatch();
  check_view();
  if (!quick) check_big();
  printf("%s: %d checks, %d failed\n", failures ? "FAILED" : "PASSED", checks, failures);
  return failures ? 1 : 0;
}

/*
 * einc_bench_gen_cuda: the generated CUDA kernels of the four benchmark patterns (bf16, every
 * length a constant: gen_cuda.einc's b_* entries; the two transposes also in float32, the
 * matrix transpose in float64) against device copy bandwidth (cudaMemcpy device to device,
 * bytes read plus written) measured in the same run. Each output is then
 * checked against the interpreter, so the figures are of kernels that compute the right thing.
 * Prints one line per pattern: time, GB/s and the fraction of copy bandwidth.
 * Usage: einc_bench_gen_cuda   (exits 77 without a CUDA device)
 */
#include <cuda_runtime_api.h>

#include "bench/bench_common.h"
#include "cuda_test_util.h"
#include "einc/einc.h"
#include "gen_cuda.cuh"

typedef struct bcase {
  const char *label;
  int (*fn)(const void *, const int64_t *, void *, cudaStream_t);
  const char *pattern;
  int32_t rank;
  int64_t shape[4];
  const char *kw;
  int64_t kwv;
  einc_dtype dtype;
} bcase;

static const bcase cases[] = {
    {"b h n d -> b n (h d)",
     b_bhnd,
     "b h n d -> b n (h d)",
     4,
     {8, 32, 4096, 128},
     NULL,
     0,
     EINC_BF16},
    {"b n (h d) -> b h n d",
     b_split,
     "b n (h d) -> b h n d",
     3,
     {8, 4096, 4096},
     "h",
     32,
     EINC_BF16},
    {"a b -> b a", b_t, "a b -> b a", 2, {16384, 16384}, NULL, 0, EINC_BF16},
    {"b c h w -> b h w c", b_nhwc, "b c h w -> b h w c", 4, {32, 64, 224, 224}, NULL, 0, EINC_BF16},
    {"a b -> b a, f32", b_t32, "a b -> b a", 2, {8192, 8192}, NULL, 0, EINC_F32},
    {"a b -> b a, f64", b_t64, "a b -> b a", 2, {8192, 4096}, NULL, 0, EINC_F64},
    {"b c h w -> b h w c, f32",
     b_nhwc32,
     "b c h w -> b h w c",
     4,
     {16, 64, 224, 224},
     NULL,
     0,
     EINC_F32},
};

typedef struct run_ctx {
  const bcase *c;
  const void *in;
  void *out;
  cudaStream_t s;
} run_ctx;

static void run_fn(void *p, int i) {
  run_ctx *r = p;
  (void)i;
  if (r->c->fn(r->in, r->c->shape, r->out, r->s) != 0) {
    fprintf(stderr, "%s: launch failed\n", r->c->label);
    exit(1);
  }
}

int main(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("no CUDA device: skipped\n");
    return 77;
  }
  struct cudaDeviceProp prop;
  BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
  einc_test_rng = 12345;
  cudaStream_t s;
  BENCH_CUDA(cudaStreamCreate(&s));
  const double copy_bw = bench_copy_bandwidth(s);
  printf("device: %s\ncopy bandwidth (cudaMemcpy D2D, read + write): %.1f GB/s\n", prop.name,
         copy_bw / 1e9);
  printf("%-24s %10s %10s %8s %s\n", "pattern (bf16 unless noted)", "us", "GB/s", "of copy",
         "check");
  int failed = 0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const bcase *c = &cases[k];
    int64_t n = 1;
    for (int32_t d = 0; d < c->rank; d++)
      n *= c->shape[d];
    const einc_dtype dt = c->dtype;
    const size_t es = einc_dtype_size(dt), bytes = (size_t)n * es;
    unsigned char *hin = malloc(bytes), *want = malloc(bytes), *got = malloc(bytes);
    for (size_t i = 0; i < bytes; i += 2) { /* any bits: a copy moves them unchanged */
      const uint16_t r = (uint16_t)einc_test_next();
      memcpy(hin + i, &r, 2);
    }
    void *din, *dout;
    BENCH_CUDA(cudaMalloc(&din, bytes));
    BENCH_CUDA(cudaMalloc(&dout, bytes));
    BENCH_CUDA(cudaMemcpy(din, hin, bytes, cudaMemcpyHostToDevice));
    run_ctx r = {c, din, dout, s};
    const double us = bench_time_us(s, 10, 9, run_fn, &r);
    const double bw = 2.0 * (double)bytes / (us * 1e-6);
    BENCH_CUDA(cudaMemcpy(got, dout, bytes, cudaMemcpyDeviceToHost));

    einc_shape shape = {.rank = c->rank};
    memcpy(shape.dims, c->shape, sizeof c->shape);
    einc_kwarg kw = {c->kw, c->kwv};
    einc_spec spec = {.op = EINC_OP_REARRANGE,
                      .pattern = c->pattern,
                      .pattern_len = strlen(c->pattern),
                      .dtype = dt,
                      .n_inputs = 1,
                      .inputs = &shape,
                      .n_kwargs = c->kw ? 1 : 0,
                      .kwargs = &kw};
    einc_plan *plan = NULL;
    bool ok = einc_plan_new(&spec, &plan, NULL) == EINC_OK;
    const void *ins[1] = {hin};
    void *outs[1] = {want};
    ok = ok && einc_plan_execute(plan, ins, outs) == EINC_OK && !memcmp(want, got, bytes);
    failed += !ok;
    printf("%-24s %10.1f %10.1f %7.1f%% %s\n", c->label, us, bw / 1e9, 100.0 * bw / copy_bw,
           ok ? "matches the interpreter" : "MISMATCH");
    einc_plan_delete(plan);
    cudaFree(din);
    cudaFree(dout);
    free(hin);
    free(want);
    free(got);
  }
  cudaStreamDestroy(s);
  return failed ? 1 : 0;
}

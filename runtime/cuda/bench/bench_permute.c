/*
 * Benchmark of the CUDA permute kernels on bf16 tensors: the einops patterns that matter
 * (head merge and split, matrix transpose, NCHW -> NHWC) and permutations of ranks 2 to 6, each
 * as achieved bandwidth (bytes read + written over time), its fraction of the device copy
 * bandwidth measured in this run (1 GiB), and its speed relative to a device copy of the same
 * bytes. Writes a CSV (argv[1], optional) that scripts/bench_gdn_torch_cuda.py reads to time
 * einops + PyTorch on the same cases.
 */
#include "bench_common.h"
#include "permute.h"

typedef struct pcase {
  const char *name, *pattern, *kwargs;
  int rank;
  int64_t shape[6];     /* elementary axes of the input, contiguous */
  int perm[6];          /* output axis k is input axis perm[k] */
  const char *in_shape; /* the input as the pattern's left side groups it */
} pcase;

static const pcase cases[] = {
    {"head merge",
     "b h n d -> b n (h d)",
     "",
     4,
     {8, 32, 4096, 128},
     {0, 2, 1, 3},
     "8,32,4096,128"},
    {"head split",
     "b n (h d) -> b h n d",
     "h=32",
     4,
     {8, 4096, 32, 128},
     {0, 2, 1, 3},
     "8,4096,4096"},
    {"transpose", "a b -> b a", "", 2, {16384, 16384}, {1, 0}, "16384,16384"},
    {"nchw->nhwc", "b c h w -> b h w c", "", 4, {32, 64, 224, 224}, {0, 2, 3, 1}, "32,64,224,224"},
    {"rank 2", "a b -> b a", "", 2, {8192, 8192}, {1, 0}, "8192,8192"},
    {"rank 3", "a b c -> b c a", "", 3, {256, 512, 512}, {1, 2, 0}, "256,512,512"},
    {"rank 3 inner", "a b c -> b a c", "", 3, {256, 2048, 128}, {1, 0, 2}, "256,2048,128"},
    {"rank 4", "a b c d -> b d c a", "", 4, {64, 64, 128, 128}, {1, 3, 2, 0}, "64,64,128,128"},
    {"rank 5",
     "a b c d e -> e d c b a",
     "",
     5,
     {16, 16, 16, 128, 128},
     {4, 3, 2, 1, 0},
     "16,16,16,128,128"},
    {"rank 6",
     "a b c d e f -> f e d c b a",
     "",
     6,
     {8, 8, 8, 16, 32, 64},
     {5, 4, 3, 2, 1, 0},
     "8,8,8,16,32,64"},
    /* The same reversal over 4x the data, and a plain transpose of rank 6's 34 MB: what a
     * transpose of that size reaches at all (launch, ramp-up and the last wave weigh more). */
    {"rank 6 large",
     "a b c d e f -> f e d c b a",
     "",
     6,
     {8, 8, 32, 16, 32, 64},
     {5, 4, 3, 2, 1, 0},
     "8,8,32,16,32,64"},
    {"rank 2 small", "a b -> b a", "", 2, {4096, 4096}, {1, 0}, "4096,4096"},
    {"rank 6 inner",
     "a b c d e f -> a c e b d f",
     "",
     6,
     {8, 8, 16, 16, 32, 64},
     {0, 2, 4, 1, 3, 5},
     "8,8,16,16,32,64"},
};

typedef struct pctx {
  cudaStream_t s;
  einc_rt_cuda_permute_loop loops[6];
  int rank;
  void *in, *out;
} pctx;

static void run_permute(void *p, int i) {
  pctx *c = p;
  (void)i;
  if (einc_rt__cuda_permute(c->loops, c->rank, 2, c->in, c->out, c->s) != 0) {
    fprintf(stderr, "permute failed\n");
    exit(1);
  }
}

int main(int argc, char **argv) {
  FILE *csv = argc > 1 ? fopen(argv[1], "w") : NULL;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("SKIP: no CUDA device\n");
    return 77;
  }
  cudaStream_t s;
  BENCH_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  const double bw = bench_copy_bandwidth(s);
  printf("copy bandwidth %.2f TB/s (read+write)\n\n", bw / 1e12);
  if (csv) fprintf(csv, "# copy_bw=%.6e\nname;pattern;kwargs;in_shape;bytes;einc_us\n", bw);
  printf("%-13s %-28s %8s %8s %7s %8s %15s\n", "case", "pattern", "MB", "us", "TB/s", "of copy",
         "of a same-size");
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const pcase *pc = &cases[ci];
    pctx c = {.s = s, .rank = pc->rank};
    int64_t n = 1, in_stride[6], out_stride = 1;
    for (int k = 0; k < pc->rank; k++)
      n *= pc->shape[k];
    in_stride[pc->rank - 1] = 1;
    for (int k = pc->rank - 2; k >= 0; k--)
      in_stride[k] = in_stride[k + 1] * pc->shape[k + 1];
    for (int k = pc->rank - 1; k >= 0; k--) {
      c.loops[k] =
          (einc_rt_cuda_permute_loop){pc->shape[pc->perm[k]], in_stride[pc->perm[k]], out_stride};
      out_stride *= pc->shape[pc->perm[k]];
    }
    BENCH_CUDA(cudaMalloc(&c.in, (size_t)n * 2));
    BENCH_CUDA(cudaMalloc(&c.out, (size_t)n * 2));
    BENCH_CUDA(cudaMemsetAsync(c.in, 0x5a, (size_t)n * 2, s));
    const double us = bench_time_us(s, 10, 9, run_permute, &c);
    const double rate = 4.0 * (double)n / (us * 1e-6);
    /* A copy of the same bytes: what a transfer of this size reaches at all (a 34 MB copy falls
     * 13% short of the 1 GiB one: launch, ramp-up and tail weigh more). */
    bench_copy_ctx cc = {s, c.out, c.in, (size_t)n * 2};
    const double copy_us = bench_time_us(s, 10, 9, bench_copy_fn, &cc);
    printf("%-13s %-28s %8.1f %8.1f %7.2f %7.1f%% %8.1f%% copy\n", pc->name, pc->pattern,
           2.0 * n / 1e6, us, rate / 1e12, 100.0 * rate / bw, 100.0 * copy_us / us);
    if (csv)
      fprintf(csv, "%s;%s;%s;%s;%lld;%.3f\n", pc->name, pc->pattern, pc->kwargs, pc->in_shape,
              (long long)(4 * n), us);
    cudaFree(c.in), cudaFree(c.out);
  }
  if (csv) fclose(csv);
  return 0;
}

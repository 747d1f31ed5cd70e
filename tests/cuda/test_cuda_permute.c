/*
 * The CUDA permute kernels against a host reference: random permutations of ranks 2 to 6 with
 * random sizes (edges that do not fill a tile), every element size, unaligned pointers (the
 * narrow paths), the benchmark patterns at small sizes, transposes whose tile axes chain two
 * loops or take 128-wide tiles, and (full run only) a copy and two bf16 transposes past 2^31
 * elements for the 64-bit indexing. Outputs are poisoned first. Exits 77 without a CUDA device.
 * Usage: test_cuda_permute [--quick]
 */
#include <cuda_runtime_api.h>

#include "cuda_test_util.h"
#include "permute.h"

static int failures;

/* Loops for out = in.permute(perm) of a contiguous input of `shape`, output contiguous. */
static int make_loops(int rank, const int64_t *shape, const int *perm,
                      einc_rt_cuda_permute_loop *loops) {
  int64_t in_stride[8], out_stride = 1;
  in_stride[rank - 1] = 1;
  for (int k = rank - 2; k >= 0; k--)
    in_stride[k] = in_stride[k + 1] * shape[k + 1];
  for (int k = rank - 1; k >= 0; k--) {
    loops[k].length = shape[perm[k]];
    loops[k].in_stride = in_stride[perm[k]];
    loops[k].out_stride = out_stride;
    out_stride *= shape[perm[k]];
  }
  return rank;
}

/* Runs one permutation with the input `in_shift` and output `out_shift` elements off the
 * allocation's alignment, and compares every element. */
static void check(const char *what, int rank, const int64_t *shape, const int *perm, size_t es,
                  int in_shift, int out_shift) {
  einc_rt_cuda_permute_loop loops[8];
  int64_t n = 1;
  for (int k = 0; k < rank; k++)
    n *= shape[k];
  make_loops(rank, shape, perm, loops);
  const size_t in_bytes = (size_t)(n + in_shift) * es, out_bytes = (size_t)(n + out_shift) * es;
  unsigned char *hin = malloc(in_bytes + 1), *hout = malloc(out_bytes + 1);
  for (size_t i = 0; i < in_bytes; i++)
    hin[i] = (unsigned char)einc_test_next();
  unsigned char *din, *dout;
  CHECK_CUDA(cudaMalloc((void **)&din, in_bytes + 1));
  CHECK_CUDA(cudaMalloc((void **)&dout, out_bytes + 1));
  CHECK_CUDA(cudaMemcpy(din, hin, in_bytes, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dout, 0xa5, out_bytes));
  const int st =
      einc_rt__cuda_permute(loops, rank, es, din + in_shift * es, dout + out_shift * es, 0);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(hout, dout, out_bytes, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  if (st == EINC_RT_OK) {
    int64_t idx[8] = {0};
    for (int64_t o = 0; o < n; o++) {
      int64_t src = 0;
      for (int k = 0; k < rank; k++)
        src += idx[k] * loops[k].in_stride;
      if (memcmp(hout + (size_t)(out_shift + o) * es, hin + (size_t)(in_shift + src) * es, es))
        bad++;
      for (int k = rank - 1; k >= 0 && ++idx[k] == loops[k].length; k--)
        idx[k] = 0;
    }
    for (int k = 0; k < out_shift * (int)es; k++)
      bad += hout[k] != 0xa5;
  }
  const bool ok = st == EINC_RT_OK && bad == 0;
  char shape_s[96] = "", perm_s[32] = "";
  for (int k = 0; k < rank; k++) {
    snprintf(shape_s + strlen(shape_s), sizeof shape_s - strlen(shape_s), "%s%lld", k ? "x" : "",
             (long long)shape[k]);
    snprintf(perm_s + strlen(perm_s), sizeof perm_s - strlen(perm_s), "%d", perm[k]);
  }
  printf("%-4s %-28s shape %-22s perm %-7s es %zu shift %d/%d  %lld wrong%s%s\n",
         ok ? "ok" : "FAIL", what, shape_s, perm_s, es, in_shift, out_shift, (long long)bad,
         st ? ": " : "", st ? einc_rt_last_error() : "");
  if (!ok) failures++;
  cudaFree(din), cudaFree(dout);
  free(hin), free(hout);
}

/* a b c -> b a c over uint8 with an odd inner length: byte vectors, offsets past 2^31. */
static void check_large(void) {
  const int64_t A = 3, B = (int64_t)1 << 30, C = 1; /* 3 * 2^30 bytes > 2^31 */
  const int64_t shape[] = {A, B / 3 * 3, 3}, n = shape[0] * shape[1] * shape[2];
  const int perm[] = {1, 0, 2};
  (void)C;
  einc_rt_cuda_permute_loop loops[3];
  make_loops(3, shape, perm, loops);
  unsigned char *din, *dout, *hin, *hout;
  size_t free_b = 0, total_b = 0;
  CHECK_CUDA(cudaMemGetInfo(&free_b, &total_b));
  if (free_b < (size_t)(2 * n + (1 << 28))) {
    printf("skip large copy: %zu bytes free on the device\n", free_b);
    return;
  }
  CHECK_CUDA(cudaMalloc((void **)&din, (size_t)n));
  CHECK_CUDA(cudaMalloc((void **)&dout, (size_t)n));
  hin = malloc((size_t)n), hout = malloc((size_t)n);
  for (int64_t i = 0; i < n; i += 8) {
    uint64_t r = einc_test_next();
    memcpy(hin + i, &r, (size_t)(n - i < 8 ? n - i : 8));
  }
  CHECK_CUDA(cudaMemcpy(din, hin, (size_t)n, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dout, 0, (size_t)n));
  const int st = einc_rt__cuda_permute(loops, 3, 1, din, dout, 0);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(hout, dout, (size_t)n, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  for (int64_t o = 0; o < n && st == EINC_RT_OK; o++) {
    const int64_t c = o % 3, a = (o / 3) % A, b = o / (3 * A);
    bad += hout[o] != hin[(a * shape[1] + b) * 3 + c];
  }
  const bool ok = st == EINC_RT_OK && bad == 0;
  printf("%-4s 64-bit indexing: %lld bytes, %lld wrong\n", ok ? "ok" : "FAIL", (long long)n,
         (long long)bad);
  if (!ok) failures++;
  cudaFree(din), cudaFree(dout);
  free(hin), free(hout);
}

/* bf16 transposes past 2^31 elements (64-bit offsets, one with chained tile axes), checked at
 * 2^22 random output elements plus the first and last 4096. */
static void check_large_transpose(const char *what, int rank, const int64_t *shape,
                                  const int *perm) {
  einc_rt_cuda_permute_loop loops[8];
  int64_t n = 1;
  for (int k = 0; k < rank; k++)
    n *= shape[k];
  make_loops(rank, shape, perm, loops);
  size_t free_b = 0, total_b = 0;
  CHECK_CUDA(cudaMemGetInfo(&free_b, &total_b));
  if (free_b < (size_t)(4 * n + (1 << 28))) {
    printf("skip %s: %zu bytes free on the device\n", what, free_b);
    return;
  }
  uint16_t *din, *dout, *hin = malloc((size_t)n * 2), *hout = malloc((size_t)n * 2);
  CHECK_CUDA(cudaMalloc((void **)&din, (size_t)n * 2));
  CHECK_CUDA(cudaMalloc((void **)&dout, (size_t)n * 2));
  for (int64_t i = 0; i < n; i += 4) {
    uint64_t r = einc_test_next();
    memcpy(hin + i, &r, (size_t)(n - i < 4 ? n - i : 4) * 2);
  }
  CHECK_CUDA(cudaMemcpy(din, hin, (size_t)n * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dout, 0xff, (size_t)n * 2));
  const int st = einc_rt__cuda_permute(loops, rank, 2, din, dout, 0);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(hout, dout, (size_t)n * 2, cudaMemcpyDeviceToHost));
  int64_t bad = 0, checked = 0;
  for (int64_t t = 0; t < (1 << 22) + 8192 && st == EINC_RT_OK; t++, checked++) {
    const int64_t o = t < 4096   ? t
                      : t < 8192 ? n - 8192 + t
                                 : (int64_t)(einc_test_next() % (uint64_t)n);
    int64_t rest = o, src = 0;
    for (int k = rank - 1; k >= 0; k--) {
      src += (rest % loops[k].length) * loops[k].in_stride;
      rest /= loops[k].length;
    }
    bad += hout[o] != hin[src];
  }
  const bool ok = st == EINC_RT_OK && bad == 0;
  printf("%-4s %s: %lld elements, %lld checked, %lld wrong\n", ok ? "ok" : "FAIL", what,
         (long long)n, (long long)checked, (long long)bad);
  if (!ok) failures++;
  cudaFree(din), cudaFree(dout);
  free(hin), free(hout);
}

int main(int argc, char **argv) {
  const bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("SKIP: no CUDA device on this machine\n");
    return EINC_TEST_SKIP;
  }
  einc_test_seed();

  /* The benchmark patterns, small. */
  {
    const int64_t s1[] = {2, 4, 64, 128};
    const int p1[] = {0, 2, 1, 3}; /* b h n d -> b n (h d) */
    check("b h n d -> b n (h d)", 4, s1, p1, 2, 0, 0);
    const int64_t s2[] = {2, 64, 4, 128};
    check("b n (h d) -> b h n d", 4, s2, p1, 2, 0, 0);
    const int64_t s3[] = {300, 514};
    const int p3[] = {1, 0};
    check("a b -> b a", 2, s3, p3, 2, 0, 0);
    const int64_t s4[] = {2, 64, 14, 14};
    const int p4[] = {0, 2, 3, 1};
    check("b c h w -> b h w c", 4, s4, p4, 2, 0, 0);
    check("b c h w -> b h w c, f32", 4, s4, p4, 4, 0, 0);
    check("a b -> b a, odd edges", 2, (const int64_t[]){77, 131}, p3, 2, 0, 0);
    check("a b -> b a, unaligned", 2, s3, p3, 2, 1, 3);
    check("b h n d -> b n (h d), unal.", 4, s1, p1, 2, 1, 0);
  }
  /* Transposes that chain short loops into tile axes and take 128-wide tiles, with edges. */
  {
    const int r5[] = {4, 3, 2, 1, 0}, r6[] = {5, 4, 3, 2, 1, 0}, r4[] = {3, 2, 1, 0};
    /* b: 16 x 16 = 256 (128-wide), a: 128 (128-wide) */
    check("rank 5 reversed", 5, (const int64_t[]){16, 16, 3, 24, 128}, r5, 2, 0, 0);
    /* a: 66 chained with 130, b: 2 chained with 6, pair rows share their division */
    check("rank 5 reversed, chains", 5, (const int64_t[]){2, 6, 4, 130, 66}, r5, 2, 0, 0);
    /* b: 3 (odd) chained with 4: pair rows divide separately */
    check("rank 5 reversed, odd chain", 5, (const int64_t[]){3, 4, 2, 6, 66}, r5, 2, 0, 0);
    check("rank 6 reversed", 6, (const int64_t[]){4, 4, 2, 3, 8, 64}, r6, 2, 0, 0);
    /* three-loop chains: b = 64 x 3, a = 4 x 5 x 2; then odd ones on both sides */
    check("rank 6 reversed, 3-loop chains", 6, (const int64_t[]){64, 3, 2, 2, 5, 4}, r6, 2, 0, 0);
    check("rank 6 reversed, 3-loop chains, f32", 6, (const int64_t[]){64, 3, 2, 2, 5, 4}, r6, 4, 0,
          0);
    check("rank 6 reversed, odd 3-loop chains", 6, (const int64_t[]){3, 5, 3, 2, 3, 5}, r6, 2, 0,
          0);
    check("rank 6 reversed, f32", 6, (const int64_t[]){4, 4, 2, 3, 8, 64}, r6, 4, 0, 0);
    check("rank 5 reversed, f32 chains", 5, (const int64_t[]){5, 7, 3, 130, 66}, r5, 4, 0, 0);
    check("rank 4 reversed, u8", 4, (const int64_t[]){9, 33, 5, 70}, r4, 1, 0, 0);
    check("a b -> b a, 128 edges", 2, (const int64_t[]){390, 258}, (const int[]){1, 0}, 2, 0, 0);
    check("rank 5 reversed, unaligned", 5, (const int64_t[]){2, 6, 4, 130, 66}, r5, 2, 1, 0);
  }
  /* Random permutations of ranks 2..6, every element size, sometimes unaligned. */
  const int rounds = quick ? 12 : 120;
  const size_t sizes[] = {1, 2, 4, 8, 16};
  for (int r = 0; r < rounds; r++) {
    const int rank = 2 + r % 5;
    int64_t shape[6];
    int perm[6];
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
      /* rank 2 and 3 long enough for 128-wide tiles and their partial edges */
      shape[k] = 1 + (int64_t)(einc_test_next() % (rank == 2   ? 300
                                                   : rank == 3 ? 140
                                                   : rank == 4 ? 17
                                                               : 9));
      n *= shape[k];
      perm[k] = k;
    }
    for (int k = rank - 1; k > 0; k--) {
      const int j = (int)(einc_test_next() % (uint64_t)(k + 1)), t = perm[k];
      perm[k] = perm[j], perm[j] = t;
    }
    const size_t es = sizes[einc_test_next() % 5];
    const int shift = einc_test_next() % 4 == 0 ? 1 : 0;
    char what[32];
    snprintf(what, sizeof what, "random rank %d", rank);
    check(what, rank, shape, perm, es, shift, einc_test_next() % 4 == 0 ? 1 : 0);
  }
  if (!quick) {
    check_large();
    check_large_transpose("bf16 batched transpose past 2^31", 3, (const int64_t[]){5, 20000, 22000},
                          (const int[]){0, 2, 1});
    check_large_transpose("bf16 reversed rank 4 past 2^31, chained", 4,
                          (const int64_t[]){8600, 7000, 9, 4}, (const int[]){3, 2, 1, 0});
  }
  /* Bad descriptions come back as statuses. */
  {
    einc_rt_cuda_permute_loop l[7];
    for (int k = 0; k < 7; k++)
      l[k] = (einc_rt_cuda_permute_loop){2, (int64_t)1 << (6 - k), (int64_t)1 << k};
    int st = einc_rt__cuda_permute(l, 7, 4, (void *)16, (void *)16, 0);
    printf("%-4s rank 7 after coalescing -> %s\n", st == EINC_RT_EINVAL ? "ok" : "FAIL",
           einc_rt_status_name(st));
    failures += st != EINC_RT_EINVAL;
    st = einc_rt__cuda_permute(l, 2, 3, (void *)16, (void *)16, 0);
    printf("%-4s element size 3 -> %s\n", st == EINC_RT_EINVAL ? "ok" : "FAIL",
           einc_rt_status_name(st));
    failures += st != EINC_RT_EINVAL;
  }
  printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}

/*
 * einc-bench-c: generated C against its comparators, measured in one run.
 *   - the generated view (GDN flatten "... h d -> ... (h d)"): ns per call;
 *   - the same pattern through the cached run-time API (einc_rt_rearrange, in place): ns per call;
 *   - three large permute-copies: generated code's GB/s (bytes read + written) next to memcpy of
 *     the same bytes (one thread, and split over the same threads as the generated code) and the
 *     interpreter, with ratios.
 * Not a test: figures depend on the machine; README.md records them with the date.
 *
 * usage: einc-bench-c [--quick]      (--quick: smaller repeat counts)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_gen.h"
#include "einc/einc.h"
#include "einc/einc_rt.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct span {
  char *dst;
  const char *src;
  size_t n;
} span;

static void *memcpy_part(void *arg) {
  span *s = arg;
  memcpy(s->dst, s->src, s->n);
  return NULL;
}

/* memcpy split over `nt` threads, as the generated code splits its work. */
static void memcpy_threads(void *dst, const void *src, size_t n, int nt) {
  pthread_t th[64];
  span sp[64];
  for (int t = 0; t < nt; t++) {
    size_t b = n * (size_t)t / (size_t)nt, e = n * (size_t)(t + 1) / (size_t)nt;
    sp[t] = (span){(char *)dst + b, (const char *)src + b, e - b};
    if (t) pthread_create(&th[t], NULL, memcpy_part, &sp[t]);
  }
  memcpy_part(&sp[0]);
  for (int t = 1; t < nt; t++)
    pthread_join(th[t], NULL);
}

typedef int (*gen_fn)(const void *, const int64_t *, void *);

static void bench_copy(const char *label, const char *pattern, gen_fn fn, int32_t rank,
                       const int64_t *shape, int reps, int nt) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++)
    n *= shape[d];
  size_t bytes = (size_t)n * sizeof(float);
  float *in = aligned_alloc(2 << 20, bytes), *out = aligned_alloc(2 << 20, bytes);
  if (!in || !out) {
    printf("%-22s skipped: cannot allocate 2 x %.2f GB\n", label, (double)bytes / 1e9);
    free(in);
    free(out);
    return;
  }
  /* Transparent huge pages where the system gives them on request (every method gets them). */
  madvise(in, bytes, MADV_HUGEPAGE);
  madvise(out, bytes, MADV_HUGEPAGE);
  for (int64_t i = 0; i < n; i++)
    in[i] = (float)(i & 0xffff);
  memset(out, 0, bytes);

  einc_shape s = {.rank = rank};
  memcpy(s.dims, shape, (size_t)rank * sizeof *shape);
  einc_spec spec = {.op = EINC_OP_REARRANGE,
                    .pattern = pattern,
                    .pattern_len = strlen(pattern),
                    .dtype = EINC_F32,
                    .n_inputs = 1,
                    .inputs = &s};
  einc_plan *plan = NULL;
  if (einc_plan_new(&spec, &plan, NULL) != EINC_OK) abort();

  double best_gen = 1e30, best_mc = 1e30, best_mct = 1e30, best_int = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    if (fn(in, shape, out) != 0) abort();
    double t1 = now();
    memcpy(out, in, bytes);
    double t2 = now();
    memcpy_threads(out, in, bytes, nt);
    double t3 = now();
    if (t1 - t0 < best_gen) best_gen = t1 - t0;
    if (t2 - t1 < best_mc) best_mc = t2 - t1;
    if (t3 - t2 < best_mct) best_mct = t3 - t2;
  }
  /* the interpreter is slower: fewer runs; its result checks the generated one */
  float *ref = aligned_alloc(2 << 20, bytes);
  int ireps = reps > 2 ? 2 : reps;
  for (int r = 0; r < ireps && ref; r++) {
    const void *ins[1] = {in};
    void *outs[1] = {ref};
    double t0 = now();
    einc_plan_execute(plan, ins, outs);
    double t1 = now();
    if (t1 - t0 < best_int) best_int = t1 - t0;
  }
  bool same = ref && fn(in, shape, out) == 0 && memcmp(ref, out, bytes) == 0;
  double gb = 2.0 * (double)bytes / 1e9; /* read + write */
  double g = gb / best_gen, m1 = gb / best_mc, mt = gb / best_mct, it = gb / best_int;
  double m = m1 > mt ? m1 : mt;
  printf("%-22s %7.2f GB  gen %6.2f GB/s | memcpy %6.2f (1 thread) %6.2f (%d threads) | "
         "interp %6.2f | gen/memcpy %.2f  gen/interp %.1fx  %s\n",
         label, (double)bytes / 1e9, g, m1, mt, nt, it, g / m, g / it,
         same ? "same bytes" : "MISMATCH");
  free(ref);
  free(in);
  free(out);
  einc_plan_delete(plan);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  const char *env = getenv("EINC_NUM_THREADS");
  int nt = env && *env ? atoi(env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (nt < 1) nt = 1;
  if (nt > 64) nt = 64;

  /* the view: a GDN activation [T=16, H=32, d=128] */
  static float act[16 * 32 * 128];
  int64_t shape[3] = {16, 32, 128};
  einc_gen_view v;
  long iters = quick ? 2000000 : 20000000;
  double t0 = now();
  for (long i = 0; i < iters; i++) {
    shape[0] = 16 + (i & 1); /* a varying shape: the call cannot be hoisted out of the loop */
    if (bench_flatten_view(act, shape, &v) != 0) abort();
    __asm__ volatile("" : : "r"(&v) : "memory");
  }
  double view_ns = (now() - t0) / (double)iters * 1e9;

  shape[0] = 16;
  long rt_iters = quick ? 200000 : 2000000;
  if (einc_rt_rearrange("... h d -> ... (h d)", EINC_RT_F32, act, 3, shape, act, NULL) != 0)
    abort();
  t0 = now();
  for (long i = 0; i < rt_iters; i++)
    if (einc_rt_rearrange("... h d -> ... (h d)", EINC_RT_F32, act, 3, shape, act, NULL) != 0)
      abort();
  double rt_ns = (now() - t0) / (double)rt_iters * 1e9;

  /* a fresh plan each call: what a cache saves */
  long plan_iters = quick ? 20000 : 200000;
  einc_shape es = {.rank = 3, .dims = {16, 32, 128}};
  const char *pat = "... h d -> ... (h d)";
  einc_spec spec = {.op = EINC_OP_REARRANGE,
                    .pattern = pat,
                    .pattern_len = strlen(pat),
                    .dtype = EINC_F32,
                    .n_inputs = 1,
                    .inputs = &es};
  t0 = now();
  for (long i = 0; i < plan_iters; i++) {
    einc_plan *p = NULL;
    if (einc_plan_new(&spec, &p, NULL) != EINC_OK) abort();
    einc_plan_delete(p);
  }
  double plan_ns = (now() - t0) / (double)plan_iters * 1e9;

  printf("view    \"... h d -> ... (h d)\" [16,32,128] f32:\n");
  printf("  generated view function          %8.1f ns/call\n", view_ns);
  printf("  run-time API, cached (in place)  %8.1f ns/call  (%.1fx the generated call)\n", rt_ns,
         rt_ns / view_ns);
  printf("  compiling the pattern each call  %8.1f ns/call  (%.1fx the cached call)\n", plan_ns,
         plan_ns / rt_ns);

  int reps = quick ? 2 : 5;
  printf("copies (float32, %d threads, best of %d):\n", nt, reps);
  int64_t s1[4] = {8, 32, 4096, 128};
  bench_copy("b h n d -> b n (h d)", "b h n d -> b n (h d)", bench_heads, 4, s1, reps, nt);
  int64_t s2[2] = {8192, 8192};
  bench_copy("a b -> b a", "a b -> b a", bench_transpose, 2, s2, reps, nt);
  int64_t s3[4] = {32, 64, 224, 224};
  bench_copy("b c h w -> b h w c", "b c h w -> b h w c", bench_nhwc, 4, s3, reps, nt);
  return 0;
}

/*
 * `einc bench`: measures libeinc_rt's GDN output projection.
 *   bench gdn [--backend cpu|opencl|cuda|all] [--dtype bf16|f16|f32] [--shapes 16/1024,32/2048]
 *             [--tokens 1,16,128,1024,8192] [--torch [SCRIPT]] [--best] [--cold]
 *   bench demo [--tokens T] [--heads H] [--dim D]
 * gdn: per backend, shape (H heads of d = 128, D outputs) and token count: the projection's time
 * per call (median after warm-up), its GB/s and GFLOP/s, the floor on this machine (bytes over
 * the copy bandwidth and FLOPs over the GEMM rate, both measured in this run), the GEMM alone
 * (einc_rt_gemm_nt on the same operands, and for 16-bit dtypes on float32 operands of the same
 * shape) and the ratio of the projection to the faster of the two, the norm alone; with --torch,
 * PyTorch's time for the same work (scripts/bench_torch_cpu.py under /usr/bin/python3, or the
 * Python named by EINC_BENCH_PYTHON where torch lives elsewhere, as in a virtualenv) and the
 * ratio einc / PyTorch. demo: the projection on every backend present, each against a float64
 * reference.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "einc/einc_rt.h"

static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef int (*bench_fn)(void *ctx);

/* --best: report the fastest call instead of the median (on a loaded machine). */
static bool bench_best;
/* --cold: every timed call starts with the caches emptied (as when each layer's weights come
 * from memory); otherwise short calls start with their operands as warm as a loop of the same
 * call leaves them, which is what PyTorch's side meets. */
static bool bench_cold;

#define BENCH_MAX_FNS     4
#define BENCH_MAX_SAMPLES 100
/* Calls shorter than this get untimed calls of their own just before the timed one, so that the
 * other functions of the round have not pushed their operands out of the caches. It takes four:
 * after another function's large operands, one or two passes over a 16 MiB W still left part of
 * it in memory (measured: 0.47 ms against 0.35 ms for the same GEMV). */
#define BENCH_WARM_BELOW_S 0.02
#define BENCH_WARM_CALLS   4

/* Reads a buffer twice the last-level cache (at least 64 MiB), so that no operand stays cached.
 * Reads, not writes: the caches are left holding clean lines, as after the other layers of a
 * model, not dirty ones whose write-backs would share the memory bus with the timed call. The
 * sum goes to a volatile, so the reads are not optimised away. */
static volatile unsigned bench_evict_sum;
static void bench_evict(void) {
  static unsigned char *buf;
  static size_t bytes;
  if (!buf) {
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    bytes = llc > (32l << 20) ? 2 * (size_t)llc : 64u << 20;
    if (!(buf = malloc(bytes))) return;
    memset(buf, 1, bytes); /* real pages, not the shared zero page */
  }
  unsigned sum = 0;
  for (size_t i = 0; i < bytes; i += 64)
    sum += buf[i];
  bench_evict_sum = sum;
}

/* Seconds per call of each of n functions, after two warm-up rounds: the median of at least 3
 * and at most 50 timed rounds, fewer once 1.5 s have gone by (--best: the fastest of up to 100
 * rounds in 3 s). The functions take turns within each round, so the ones compared meet the same
 * machine, even one whose load changes while it runs. */
static int bench_time_all(einc_rt_backend *be, int n_fns, const bench_fn *fns, void *const *ctxs,
                          double *out) {
  static double samples[BENCH_MAX_FNS][BENCH_MAX_SAMPLES];
  double last[BENCH_MAX_FNS];
  int rounds = 0, rc;
  for (int i = 0; i < 2; i++)
    for (int f = 0; f < n_fns; f++) {
      double t0 = bench_now();
      if ((rc = fns[f](ctxs[f])) || (rc = einc_rt_backend_synchronize(be))) return rc;
      last[f] = bench_now() - t0;
    }
  const int most = bench_best ? BENCH_MAX_SAMPLES : 50;
  const double budget = bench_best ? 3.0 : 1.5, start = bench_now();
  while (rounds < most && (rounds < 3 || bench_now() - start < budget)) {
    for (int f = 0; f < n_fns; f++) {
      if (bench_cold)
        bench_evict();
      else
        for (int w = 0; w < BENCH_WARM_CALLS && last[f] < BENCH_WARM_BELOW_S; w++)
          if ((rc = fns[f](ctxs[f])) || (rc = einc_rt_backend_synchronize(be))) return rc;
      double t0 = bench_now();
      if ((rc = fns[f](ctxs[f])) || (rc = einc_rt_backend_synchronize(be))) return rc;
      samples[f][rounds] = last[f] = bench_now() - t0;
    }
    rounds++;
  }
  for (int f = 0; f < n_fns; f++) {
    qsort(samples[f], (size_t)rounds, sizeof samples[f][0], bench_cmp_double);
    out[f] = bench_best ? samples[f][0] : samples[f][rounds / 2];
  }
  return 0;
}

static int bench_time(einc_rt_backend *be, bench_fn fn, void *ctx, double *seconds) {
  return bench_time_all(be, 1, &fn, &ctx, seconds);
}

/* ---- operands on a backend's device ---- */

static uint64_t bench_rng = 0x2545f4914f6cdd1dull;

static double bench_rand(void) {
  bench_rng ^= bench_rng << 13;
  bench_rng ^= bench_rng >> 7;
  bench_rng ^= bench_rng << 17;
  return (double)(bench_rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

static double bench_get(einc_rt_dtype dt, const void *p, int64_t i) {
  return dt == EINC_RT_BF16  ? einc_rt_bf16_to_f32(((const uint16_t *)p)[i])
         : dt == EINC_RT_F16 ? einc_rt_f16_to_f32(((const uint16_t *)p)[i])
                             : ((const float *)p)[i];
}

static void bench_set(einc_rt_dtype dt, void *p, int64_t i, double v) {
  if (dt == EINC_RT_BF16)
    ((uint16_t *)p)[i] = einc_rt_f32_to_bf16((float)v);
  else if (dt == EINC_RT_F16)
    ((uint16_t *)p)[i] = einc_rt_f32_to_f16((float)v);
  else
    ((float *)p)[i] = (float)v;
}

typedef struct bench_buf {
  void *host; /* NULL unless kept for checking */
  void *dev;
  int64_t n;
} bench_buf;

/* n random elements in [-scale, scale] (plus `bias`) on the device; the host copy is kept when
 * `keep`. */
static int bench_buf_new(einc_rt_backend *be, einc_rt_dtype dt, int64_t n, double scale,
                         double bias, bool keep, bench_buf *b) {
  size_t bytes = (size_t)n * einc_rt_dtype_size(dt);
  void *h = malloc(bytes ? bytes : 1);
  if (!h) return EINC_RT_ENOMEM;
  for (int64_t i = 0; i < n; i++)
    bench_set(dt, h, i, bias + scale * bench_rand());
  b->n = n;
  int rc = einc_rt_backend_alloc(be, bytes, &b->dev);
  if (!rc) rc = einc_rt_backend_upload(be, b->dev, h, bytes);
  if (keep && !rc)
    b->host = h;
  else
    free(h);
  return rc;
}

static void bench_buf_free(einc_rt_backend *be, bench_buf *b) {
  einc_rt_backend_free(be, b->dev);
  free(b->host);
  memset(b, 0, sizeof *b);
}

/* One projection problem on one backend. */
typedef struct bench_case {
  einc_rt_backend *be;
  einc_rt_dtype dt;
  int64_t t, h, d, n;
  bench_buf o, z, nw, w, out, x;
  einc_rt_tensor to, tz, tnw, tw, tout, tx;
  einc_rt_gdn_out_proj *proj;
} bench_case;

static void bench_case_free(bench_case *c) {
  einc_rt_gdn_out_proj_delete(c->proj);
  bench_buf *bufs[] = {&c->o, &c->z, &c->nw, &c->w, &c->out, &c->x};
  for (int i = 0; i < 6; i++)
    bench_buf_free(c->be, bufs[i]);
}

static int bench_case_new(einc_rt_backend *be, einc_rt_dtype dt, int64_t t, int64_t h, int64_t d,
                          int64_t n, bool keep, bench_case *c) {
  memset(c, 0, sizeof *c);
  c->be = be;
  c->dt = dt;
  c->t = t;
  c->h = h;
  c->d = d;
  c->n = n;
  int64_t k = h * d;
  einc_rt_device dev = einc_rt_backend_get_kind(be) == EINC_RT_BACKEND_CPU ? EINC_RT_DEVICE_CPU
                       : einc_rt_backend_get_kind(be) == EINC_RT_BACKEND_OPENCL
                           ? EINC_RT_DEVICE_OPENCL
                           : EINC_RT_DEVICE_CUDA;
  int rc;
  if ((rc = bench_buf_new(be, dt, t * k, 2, 0, keep, &c->o)) ||
      (rc = bench_buf_new(be, dt, t * k, 4, 0, keep, &c->z)) ||
      (rc = bench_buf_new(be, dt, d, 0.5, 1, keep, &c->nw)) ||
      (rc = bench_buf_new(be, dt, n * k, 1.0 / sqrt((double)k), 0, keep, &c->w)) ||
      (rc = bench_buf_new(be, dt, t * n, 0, 0, false, &c->out)) ||
      (rc = bench_buf_new(be, dt, t * k, 1, 0, false, &c->x)))
    goto fail;
  c->to = einc_rt_tensor_contiguous(dt, dev, c->o.dev, 3, (int64_t[]){t, h, d});
  c->tz = einc_rt_tensor_contiguous(dt, dev, c->z.dev, 3, (int64_t[]){t, h, d});
  c->tnw = einc_rt_tensor_contiguous(dt, dev, c->nw.dev, 1, (int64_t[]){d});
  c->tw = einc_rt_tensor_contiguous(dt, dev, c->w.dev, 2, (int64_t[]){n, k});
  c->tout = einc_rt_tensor_contiguous(dt, dev, c->out.dev, 2, (int64_t[]){t, n});
  c->tx = einc_rt_tensor_contiguous(dt, dev, c->x.dev, 2, (int64_t[]){t, k});
  einc_rt_gdn_params params = {.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
  if ((rc = einc_rt_gdn_out_proj_new(be, &c->tnw, &c->tw, &params, t, &c->proj))) goto fail;
  return 0;
fail:
  bench_case_free(c);
  return rc;
}

static int bench_run_proj(void *ctx) {
  bench_case *c = ctx;
  return einc_rt_gdn_out_proj_run(c->proj, &c->to, &c->tz, &c->tout);
}

static int bench_run_gemm(void *ctx) {
  bench_case *c = ctx;
  return einc_rt_gemm_nt(c->be, &c->tx, &c->tw, &c->tout);
}

/* The norm alone, into x's buffer viewed as Y [T, H, d]. */
static int bench_run_norm(void *ctx) {
  bench_case *c = ctx;
  einc_rt_tensor y = c->to;
  y.data = c->x.dev;
  einc_rt_gdn_params params = {.eps = 1e-6f, .gate = EINC_RT_GATE_SILU};
  return einc_rt_gated_rmsnorm(c->be, &c->to, &c->tz, &c->tnw, &params, &y);
}

/* ---- the machine's own limits, measured in this run ---- */

/* Bytes moved (read + written) per second by memcpy of 256 MiB, split over one thread per
 * online CPU: one thread alone reaches a fraction of a many-core machine's memory bandwidth
 * (12.6 GB/s on a 16-core Xeon whose GEMV reads W at over 100), so its floor would be no floor. */
typedef struct bench_copy_part {
  char *dst;
  const char *src;
  size_t bytes;
} bench_copy_part;

static void *bench_copy_run(void *arg) {
  bench_copy_part *p = arg;
  memcpy(p->dst, p->src, p->bytes);
  return NULL;
}

#define BENCH_COPY_MAX_THREADS 256
static double bench_copy_bandwidth(void) {
  size_t bytes = 256u << 20;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int n = cpus < 1 ? 1 : cpus > BENCH_COPY_MAX_THREADS ? BENCH_COPY_MAX_THREADS : (int)cpus;
  char *a = malloc(bytes), *b = malloc(bytes);
  if (!a || !b) {
    free(a);
    free(b);
    return 0;
  }
  memset(a, 1, bytes);
  memset(b, 2, bytes);
  bench_copy_part parts[BENCH_COPY_MAX_THREADS];
  pthread_t threads[BENCH_COPY_MAX_THREADS];
  bool started[BENCH_COPY_MAX_THREADS];
  size_t chunk = (bytes / (size_t)n) & ~(size_t)63;
  double best = 1e30;
  for (int i = 0; i < 5; i++) {
    double t0 = bench_now();
    for (int t = 0; t < n; t++) {
      size_t off = (size_t)t * chunk, len = t == n - 1 ? bytes - off : chunk;
      parts[t] = (bench_copy_part){(i & 1 ? a : b) + off, (i & 1 ? b : a) + off, len};
      /* this thread copies part 0, and any part no thread could be started for */
      started[t] = t > 0 && pthread_create(&threads[t], NULL, bench_copy_run, &parts[t]) == 0;
      if (t > 0 && !started[t]) bench_copy_run(&parts[t]);
    }
    bench_copy_run(&parts[0]);
    for (int t = 1; t < n; t++)
      if (started[t]) pthread_join(threads[t], NULL);
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
  }
  free(a);
  free(b);
  return 2.0 * (double)bytes / best;
}

/* FLOP/s of einc_rt_gemm_nt on a large GEMM, in float32 or the dtype, the faster. */
static double bench_gemm_rate(einc_rt_backend *be, einc_rt_dtype dt) {
  bool cpu = einc_rt_backend_get_kind(be) == EINC_RT_BACKEND_CPU;
  int64_t m = cpu ? 1024 : 256, k = cpu ? 4096 : 1024, n = cpu ? 2048 : 512;
  double best = 0;
  einc_rt_dtype dts[2] = {EINC_RT_F32, dt};
  for (int i = 0; i < 2; i++) {
    bench_case c;
    if (bench_case_new(be, dts[i], m, k / 128, 128, n, false, &c)) continue;
    double s;
    if (!bench_time(be, bench_run_gemm, &c, &s) && 2.0 * m * k * n / s > best)
      best = 2.0 * m * k * n / s;
    bench_case_free(&c);
  }
  return best;
}

/* ---- argument parsing ---- */

static int bench_parse_list(const char *s, int64_t *out, int max) {
  int n = 0;
  while (s && *s && n < max) {
    char *end;
    out[n++] = strtoll(s, &end, 10);
    if (end == s) return -1;
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return -1;
  }
  return n;
}

static bool bench_dtype_from(const char *s, einc_rt_dtype *dt) {
  if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16"))
    *dt = EINC_RT_BF16;
  else if (!strcmp(s, "f16") || !strcmp(s, "float16"))
    *dt = EINC_RT_F16;
  else if (!strcmp(s, "f32") || !strcmp(s, "float32"))
    *dt = EINC_RT_F32;
  else
    return false;
  return true;
}

static const char *bench_dtype_short(einc_rt_dtype dt) {
  return dt == EINC_RT_BF16 ? "bf16" : dt == EINC_RT_F16 ? "f16" : "f32";
}

static const char *const bench_backend_names[] = {"cpu", "cuda", "opencl"};

/* ---- PyTorch, measured by scripts/bench_torch_cpu.py in the same run ---- */

typedef struct bench_torch_row {
  int64_t h, n, t;
  double proj_ms, gemm_ms;
} bench_torch_row;

static int bench_torch(const char *script, einc_rt_dtype dt, const char *shapes, const char *tokens,
                       bench_torch_row *rows, int max) {
  char cmd[2048];
  const char *python = getenv("EINC_BENCH_PYTHON");
  snprintf(cmd, sizeof cmd, "'%s' '%s' --dtype %s --shapes %s --tokens %s%s%s",
           python && *python ? python : "/usr/bin/python3", script, bench_dtype_short(dt), shapes,
           tokens, bench_best ? " --best" : "", bench_cold ? " --cold" : "");
  FILE *p = popen(cmd, "r");
  if (!p) return 0;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, p) && n < max) {
    bench_torch_row r;
    long long h, d, t;
    if (sscanf(line, "torch %lld %lld %lld %lf %lf", &h, &d, &t, &r.proj_ms, &r.gemm_ms) == 5) {
      r.h = h, r.n = d, r.t = t;
      rows[n++] = r;
    } else {
      fputs(line, stderr);
    }
  }
  pclose(p);
  return n;
}

static int bench_gdn(int argc, char **argv) {
  const char *backend = "cpu", *shapes_arg = "16/1024,32/4096,48/5120,32/2048,64/3072,64/4096";
  const char *tokens_arg = "1,16,128,1024,8192", *torch_script = NULL;
  einc_rt_dtype dt = EINC_RT_BF16;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--backend") && v)
      backend = v, i++;
    else if (!strcmp(a, "--dtype") && v) {
      if (!bench_dtype_from(v, &dt)) {
        fprintf(stderr, "bench: unknown dtype %s (bf16, f16, f32)\n", v);
        return 2;
      }
      i++;
    } else if (!strcmp(a, "--shapes") && v)
      shapes_arg = v, i++;
    else if (!strcmp(a, "--tokens") && v)
      tokens_arg = v, i++;
    else if (!strcmp(a, "--best"))
      bench_best = true;
    else if (!strcmp(a, "--cold"))
      bench_cold = true;
    else if (!strcmp(a, "--torch")) {
      torch_script = v && v[0] != '-' ? (i++, v) : "scripts/bench_torch_cpu.py";
    } else {
      fprintf(stderr, "bench gdn: unknown argument %s\n", a);
      return 2;
    }
  }
  int64_t tokens[16], shapes[32][2];
  int n_tokens = bench_parse_list(tokens_arg, tokens, 16), n_shapes = 0;
  for (const char *s = shapes_arg; s && *s && n_shapes < 32;) {
    long long h, d;
    int used = 0;
    if (sscanf(s, "%lld/%lld%n", &h, &d, &used) != 2) {
      fprintf(stderr, "bench gdn: shapes are H/D,H/D,... (got %s)\n", shapes_arg);
      return 2;
    }
    shapes[n_shapes][0] = h, shapes[n_shapes][1] = d, n_shapes++;
    s += used;
    if (*s == ',') s++;
  }
  if (n_tokens <= 0) {
    fprintf(stderr, "bench gdn: tokens are T,T,... (got %s)\n", tokens_arg);
    return 2;
  }
  bench_torch_row torch_rows[256];
  int n_torch =
      torch_script ? bench_torch(torch_script, dt, shapes_arg, tokens_arg, torch_rows, 256) : 0;
  if (torch_script && n_torch == 0)
    fprintf(stderr, "bench gdn: no figures from %s (PyTorch missing?)\n", torch_script);

  double bw = bench_copy_bandwidth();
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  double load[1] = {0};
  getloadavg(load, 1);
  printf("einc bench gdn, %s, dtype %s, d = 128, silu; copy bandwidth %.1f GB/s; load %.2f; "
         "%s time per call, %s caches\n",
         date, bench_dtype_short(dt), bw / 1e9, load[0], bench_best ? "fastest" : "median",
         bench_cold ? "cold" : "warm");
  for (int bi = 0; bi < 3; bi++) {
    if (strcmp(backend, "all") && strcmp(backend, bench_backend_names[bi])) continue;
    einc_rt_backend *be = NULL;
    int rc = einc_rt_backend_new((einc_rt_backend_kind)bi, NULL, &be);
    if (rc) {
      printf("\n%s: not run: %s\n", bench_backend_names[bi], einc_rt_last_error());
      continue;
    }
    double rate = bench_gemm_rate(be, dt);
    printf("\nbackend %s; GEMM rate %.1f GFLOP/s\n", einc_rt_backend_name(be), rate / 1e9);
    printf("%4s %5s %5s | %9s %7s %8s | %9s | %8s %9s %9s %6s | %9s %6s\n", "H", "D", "T",
           "proj ms", "GB/s", "GFLOP/s", "floor ms", "norm ms", "GEMM ms", "f32 GEMM", "p/GEMM",
           "torch ms", "e/t");
    for (int si = 0; si < n_shapes; si++)
      for (int ti = 0; ti < n_tokens; ti++) {
        int64_t h = shapes[si][0], n = shapes[si][1], t = tokens[ti], k = h * 128;
        bench_case c;
        if ((rc = bench_case_new(be, dt, t, h, 128, n, false, &c))) {
          printf("%4lld %5lld %5lld | %s: %s\n", (long long)h, (long long)n, (long long)t,
                 einc_rt_status_name(rc), einc_rt_last_error());
          continue;
        }
        /* The projection, the norm alone, the GEMM alone and, for a 16-bit dtype, the float32
         * GEMM of the same shape (the best GEMM the library offers may be that one). */
        bench_case cf;
        bool with_f32 =
            dt != EINC_RT_F32 && !bench_case_new(be, EINC_RT_F32, t, h, 128, n, false, &cf);
        bench_fn fns[4] = {bench_run_proj, bench_run_norm, bench_run_gemm, bench_run_gemm};
        void *ctxs[4] = {&c, &c, &c, &cf};
        double secs[4] = {0};
        rc = bench_time_all(be, with_f32 ? 4 : 3, fns, ctxs, secs);
        if (with_f32) bench_case_free(&cf);
        if (rc) {
          printf("%4lld %5lld %5lld | %s: %s\n", (long long)h, (long long)n, (long long)t,
                 einc_rt_status_name(rc), einc_rt_last_error());
          bench_case_free(&c);
          continue;
        }
        double sp = secs[0], sn = secs[1], sg = secs[2], sf = with_f32 ? secs[3] : sg;
        double best_gemm = fmin(sg, sf);
        double es = (double)einc_rt_dtype_size(dt);
        double bytes = es * (2.0 * t * k + (double)n * k + 128 + (double)t * n);
        double flops = 2.0 * t * k * n;
        double floor_s = fmax(bytes / bw, rate > 0 ? flops / rate : 0);
        printf("%4lld %5lld %5lld | %9.3f %7.1f %8.1f | %9.3f | %8.3f %9.3f %9.3f %6.2f |",
               (long long)h, (long long)n, (long long)t, sp * 1e3, bytes / sp / 1e9,
               flops / sp / 1e9, floor_s * 1e3, sn * 1e3, sg * 1e3, sf * 1e3, sp / best_gemm);
        bool found = false;
        for (int r = 0; r < n_torch && !found; r++)
          if (torch_rows[r].h == h && torch_rows[r].n == n && torch_rows[r].t == t &&
              !isnan(torch_rows[r].proj_ms)) { /* NaN: PyTorch could not run it (stderr says) */
            printf(" %9.3f %6.2f", torch_rows[r].proj_ms, sp * 1e3 / torch_rows[r].proj_ms);
            found = true;
          }
        printf("%s\n", found ? ""
                             : " "
                               "        -      -");
        fflush(stdout);
        bench_case_free(&c);
      }
    einc_rt_backend_delete(be);
  }
  return 0;
}

/* ---- demo: every backend present, against a float64 reference ---- */

static double bench_act(double z) {
  return z / (1.0 + exp(-z));
}

static int bench_demo(int argc, char **argv) {
  int64_t t = 64, h = 32, n = 2048, d = 128;
  einc_rt_dtype dt = EINC_RT_BF16;
  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--tokens"))
      t = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--heads"))
      h = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--dim"))
      n = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--dtype") && bench_dtype_from(argv[i + 1], &dt))
      continue;
    else {
      fprintf(stderr, "bench demo: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  int64_t k = h * d;
  printf("GDN output projection, T=%lld H=%lld d=%lld D=%lld, %s, silu gate, on every backend\n",
         (long long)t, (long long)h, (long long)d, (long long)n, einc_rt_dtype_name(dt));
  printf("%-72s %12s %10s\n", "backend", "max error", "ms/call");
  int failures = 0;
  for (int bi = 0; bi < 3; bi++) {
    einc_rt_backend *be = NULL;
    if (einc_rt_backend_new((einc_rt_backend_kind)bi, NULL, &be)) {
      printf("%-72s %s\n", bench_backend_names[bi], einc_rt_last_error());
      continue;
    }
    bench_case c;
    bench_rng = 0x2545f4914f6cdd1dull; /* the same inputs on every backend */
    int rc = bench_case_new(be, dt, t, h, d, n, true, &c);
    double s = 0;
    if (!rc) rc = bench_time(be, bench_run_proj, &c, &s);
    size_t out_bytes = (size_t)(t * n) * einc_rt_dtype_size(dt);
    void *out = malloc(out_bytes ? out_bytes : 1);
    if (!rc) rc = einc_rt_backend_download(be, out, c.out.dev, out_bytes);
    if (rc) {
      printf("%-72s %s: %s\n", einc_rt_backend_name(be), einc_rt_status_name(rc),
             einc_rt_last_error());
      failures++;
    } else {
      /* float64 reference: Y rounded to the dtype as vLLM does, then the GEMM */
      double max_err = 0, *y = malloc((size_t)k * sizeof(double));
      for (int64_t ti = 0; ti < t; ti++) {
        for (int64_t hi = 0; hi < h; hi++) {
          double ss = 0;
          for (int64_t i = 0; i < d; i++) {
            double v = bench_get(dt, c.o.host, ti * k + hi * d + i);
            ss += v * v;
          }
          double r = 1.0 / sqrt(ss / (double)d + 1e-6);
          for (int64_t i = 0; i < d; i++) {
            int64_t j = ti * k + hi * d + i;
            uint32_t tmp;
            bench_set(dt, &tmp, 0,
                      bench_get(dt, c.o.host, j) * r * bench_get(dt, c.nw.host, i) *
                          bench_act(bench_get(dt, c.z.host, j)));
            y[hi * d + i] = bench_get(dt, &tmp, 0);
          }
        }
        for (int64_t ni = 0; ni < n; ni++) {
          double ref = 0;
          for (int64_t j = 0; j < k; j++)
            ref += y[j] * bench_get(dt, c.w.host, ni * k + j);
          double err = fabs(bench_get(dt, out, ti * n + ni) - ref);
          if (!(err <= max_err)) max_err = err; /* NaN sticks */
        }
      }
      free(y);
      printf("%-72s %12.3g %10.3f\n", einc_rt_backend_name(be), max_err, s * 1e3);
    }
    free(out);
    if (!rc) bench_case_free(&c);
    einc_rt_backend_delete(be);
  }
  return failures ? 1 : 0;
}

int einc_cli_bench(int argc, char **argv) {
  /* argv[0] is the command's own name; argv[1] the benchmark. */
  if (argc >= 2 && !strcmp(argv[1], "gdn")) return bench_gdn(argc - 2, argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "demo")) return bench_demo(argc - 2, argv + 2);
  fprintf(stderr,
          "usage: bench gdn [--backend cpu|opencl|cuda|all] [--dtype bf16|f16|f32]\n"
          "                 [--shapes H/D,...] [--tokens T,...] [--torch [SCRIPT]] [--best]\n"
          "                 [--cold]\n"
          "       bench demo [--tokens T] [--heads H] [--dim D] [--dtype bf16|f16|f32]\n");
  return 2;
}

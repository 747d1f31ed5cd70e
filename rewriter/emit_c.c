/*
 * The C emitter: turns one rearrange / reduce / repeat plan into plain C11 functions.
 *
 * Every length known when the plan was made is printed as a literal, so trip counts and strides
 * of the loop nest are constants; lengths bound at run time come from the input shape (or from
 * size arguments) and are checked at entry, where a mismatch returns EINC_GEN_ESHAPE before
 * anything is written. Copies walk the plan's coalesced loop nest: rows that stay contiguous on
 * both sides become memcpy, transposes are cache-blocked over the two loops carrying the unit
 * input and output strides, and large work is split over pthreads. Reductions accumulate in
 * double (int64 for integer sum/prod) over the reduced axes in left order, as the interpreter
 * does, so results match it to the bit. Views get a function that only fills a descriptor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gen.h"

/* Elements per side of a transpose tile: 64x64 4-byte elements are 16 KiB per side. */
#define EINC__TILE_BYTES 256

/* ---------------------------------------------------------------------------------------------
 * Prelude: shared by every generated header / source.
 * ------------------------------------------------------------------------------------------- */

void einc__emit_c_prelude_header(einc_sbuf *h) {
  einc__sbuf_printf(
      h, "#include <stdint.h>\n\n"
         "#ifndef EINC_GEN_COMMON_DEFINED\n"
         "#define EINC_GEN_COMMON_DEFINED\n"
         "/* Status codes of generated functions (the same values as einc_rt's). */\n"
         "#define EINC_GEN_OK 0\n"
         "#define EINC_GEN_EINVAL (-1) /* a NULL pointer or a size argument <= 0 */\n"
         "#define EINC_GEN_ESHAPE (-2) /* the input shape does not match the pattern */\n"
         "#define EINC_GEN_MAX_RANK 32\n\n"
         "/* What a view function returns: the output as shape and strides (in elements,\n"
         "   outermost first) over the input's memory. Nothing is copied. */\n"
         "typedef struct einc_gen_view {\n"
         "  void *data;\n"
         "  int32_t rank;\n"
         "  int64_t shape[EINC_GEN_MAX_RANK];\n"
         "  int64_t strides[EINC_GEN_MAX_RANK];\n"
         "} einc_gen_view;\n"
         "#endif\n\n");
}

/* The AVX-512 16x16 transpose of 4-byte elements, unrolled (so that the 32 vectors stay in
 * registers): unpacks interleave pairs of rows, 64-bit shuffles make 4x4 blocks inside each
 * 128-bit lane, two rounds of lane shuffles put the lanes in order. Each input and output row
 * piece is one whole cache line, so no line is needed twice and rows of a power-of-two stride may
 * share cache sets. */
static void emit__t16_avx512(einc_sbuf *c) {
  einc__sbuf_printf(c,
                    "__attribute__((target(\"avx512f\"))) static inline void\n"
                    "einc_gen__t16_avx512(float *dst, int64_t os, const float *src, int64_t is,\n"
                    "                     int stream) {\n");
  for (int i = 0; i < 16; i++)
    einc__sbuf_printf(c, "  __m512 r%d = _mm512_loadu_ps(src + %d * is);\n", i, i);
  for (int i = 0; i < 8; i++)
    einc__sbuf_printf(c,
                      "  __m512 t%d = _mm512_unpacklo_ps(r%d, r%d);\n"
                      "  __m512 t%d = _mm512_unpackhi_ps(r%d, r%d);\n",
                      2 * i, 2 * i, 2 * i + 1, 2 * i + 1, 2 * i, 2 * i + 1);
  /* u[4i + j], lane k: rows 4i..4i+3 of column 4k + j */
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      einc__sbuf_printf(c, "  __m512 u%d = _mm512_shuffle_ps(t%d, t%d, 0x%s);\n", 4 * i + j,
                        4 * i + j / 2, 4 * i + j / 2 + 2, j % 2 ? "EE" : "44");
  for (int j = 0; j < 4; j++) {
    einc__sbuf_printf(c,
                      "  {\n"
                      "    __m512 v = _mm512_shuffle_f32x4(u%d, u%d, 0x88);\n"
                      "    __m512 w = _mm512_shuffle_f32x4(u%d, u%d, 0xDD);\n"
                      "    __m512 v2 = _mm512_shuffle_f32x4(u%d, u%d, 0x88);\n"
                      "    __m512 w2 = _mm512_shuffle_f32x4(u%d, u%d, 0xDD);\n"
                      "    __m512 o0 = _mm512_shuffle_f32x4(v, v2, 0x88);\n"
                      "    __m512 o1 = _mm512_shuffle_f32x4(w, w2, 0x88);\n"
                      "    __m512 o2 = _mm512_shuffle_f32x4(v, v2, 0xDD);\n"
                      "    __m512 o3 = _mm512_shuffle_f32x4(w, w2, 0xDD);\n"
                      "    if (stream) {\n",
                      j, 4 + j, j, 4 + j, 8 + j, 12 + j, 8 + j, 12 + j);
    for (int k = 0; k < 4; k++)
      einc__sbuf_printf(c, "      _mm512_stream_ps(dst + %d * os, o%d);\n", 4 * k + j, k);
    einc__sbuf_printf(c, "    } else {\n");
    for (int k = 0; k < 4; k++)
      einc__sbuf_printf(c, "      _mm512_storeu_ps(dst + %d * os, o%d);\n", 4 * k + j, k);
    einc__sbuf_printf(c, "    }\n  }\n");
  }
  einc__sbuf_printf(c, "}\n");
}

void einc__emit_c_prelude_source(einc_sbuf *c) {
  einc__sbuf_printf(
      c,
      "#if defined(__GNUC__) && !defined(__clang__)\n"
      "/* Loops over run-time tile edges look unbounded to gcc; they are bounded by the tile. */\n"
      "#pragma GCC diagnostic ignored \"-Waggressive-loop-optimizations\"\n"
      "#endif\n"
      "#ifndef _POSIX_C_SOURCE\n"
      "#define _POSIX_C_SOURCE 200809L\n"
      "#endif\n"
      "#include <math.h>\n"
      "#include <pthread.h>\n"
      "#include <stdbool.h>\n"
      "#include <stdint.h>\n"
      "#include <stdlib.h>\n"
      "#include <string.h>\n"
      "#include <unistd.h>\n"
      "#if defined(__SSE2__)\n"
      "#include <emmintrin.h>\n"
      "#include <xmmintrin.h>\n"
      "#endif\n"
      "/* x86-64 with gcc or clang: an AVX-512 transpose kernel, compiled for that instruction "
      "set\n"
      "   by a target attribute and chosen at run time when the processor has it. */\n"
      "#if defined(__x86_64__) && defined(__SSE2__) && !defined(EINC_GEN_NO_AVX512) &&   \\\n"
      "    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 6))\n"
      "#define EINC_GEN__AVX512 1\n"
      "#include <immintrin.h>\n"
      "#endif\n\n");
  einc__emit_half_conversions(c, "static inline", "uint32_t x; memcpy(&x, &f, 4); return x;",
                              "float f; memcpy(&f, &x, 4); return f;");
  einc__sbuf_printf(
      c,
      "/* Outputs of at least this many bytes are written with non-temporal stores: they would "
      "not\n"
      "   stay in cache anyway, and streaming them saves the read-for-ownership of every line. */\n"
      "#ifndef EINC_GEN_STREAM_BYTES\n"
      "#define EINC_GEN_STREAM_BYTES (INT64_C(16) << 20)\n"
      "#endif\n"
      "/* n bytes from src to dst. */\n"
      "static inline void einc_gen__copy(void *restrict dst, const void *restrict src, size_t n,\n"
      "                                  int stream) {\n"
      "#if defined(__SSE2__)\n"
      "  if (stream && n >= 64) {\n"
      "    char *d = (char *)dst;\n"
      "    const char *s = (const char *)src;\n"
      "    size_t head = (16 - ((uintptr_t)d & 15)) & 15, i;\n"
      "    memcpy(d, s, head);\n"
      "    for (i = head; i + 64 <= n; i += 64) {\n"
      "      __m128i a = _mm_loadu_si128((const __m128i *)(s + i));\n"
      "      __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));\n"
      "      __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));\n"
      "      __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));\n"
      "      _mm_stream_si128((__m128i *)(d + i), a);\n"
      "      _mm_stream_si128((__m128i *)(d + i + 16), b);\n"
      "      _mm_stream_si128((__m128i *)(d + i + 32), c);\n"
      "      _mm_stream_si128((__m128i *)(d + i + 48), e);\n"
      "    }\n"
      "    memcpy(d + i, s + i, n - i);\n"
      "    return;\n"
      "  }\n"
      "#endif\n"
      "  (void)stream;\n"
      "  memcpy(dst, src, n);\n"
      "}\n"
      "/* Ask for the row `ahead` bytes past `row` (n bytes of it) to be loaded: a transpose "
      "reads\n"
      "   short pieces of many rows, too short for the hardware prefetcher to follow. Past the "
      "end\n"
      "   of a tile this is the next tile's row; a prefetch never faults. */\n"
      "static inline void einc_gen__prefetch_row(const void *row, int64_t ahead, size_t n) {\n"
      "#if defined(__SSE2__)\n"
      "  const char *p = (const char *)((uintptr_t)row + (uintptr_t)ahead);\n"
      "  for (size_t b = 0; b < n; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);\n"
      "#else\n"
      "  (void)row;\n"
      "  (void)ahead;\n"
      "  (void)n;\n"
      "#endif\n"
      "}\n"
      "/* Rows of a finished tile to the output: whole rows, streamed for large outputs so that\n"
      "   each one fills complete cache lines without reading them first. */\n"
      "static inline void einc_gen__tile_rows(char *dst, int64_t os_bytes, const char *tb,\n"
      "                                       int64_t tb_row, int64_t rows, int64_t row_bytes,\n"
      "                                       int stream) {\n"
      "  for (int64_t x = 0; x < rows; x++)\n"
      "    einc_gen__copy(dst + x * os_bytes, tb + x * tb_row, (size_t)row_bytes, stream);\n"
      "}\n"
      "#if defined(EINC_GEN__AVX512)\n"
      "/* 16x16 4-byte elements straight from src to dst in registers: each input and output row\n"
      "   piece is one whole cache line, so no buffer is needed. */\n");
  emit__t16_avx512(c);
  einc__sbuf_printf(
      c,
      "/* The 16-multiple part of a tile, 16 input rows at a time, along them. Streaming needs\n"
      "   64-byte aligned output rows. */\n"
      "__attribute__((target(\"avx512f\"))) static void\n"
      "einc_gen__tile4_avx512(uint32_t *dst, int64_t os, const uint32_t *src, int64_t is,\n"
      "                       int64_t pn, int64_t qn, int stream) {\n"
      "  stream = stream && !((uintptr_t)dst & 63) && !((os * 4) & 63);\n"
      "  for (int64_t y = 0; y < qn; y += 16)\n"
      "    for (int64_t x = 0; x < pn; x += 16)\n"
      "      einc_gen__t16_avx512((float *)(dst + x * os + y), os, (const float *)(src + y * is + "
      "x),\n"
      "                           is, stream);\n"
      "}\n"
      "static inline int einc_gen__has_avx512(void) {\n"
      "  static int has = -1; /* the same answer for every thread: a benign race */\n"
      "  if (has < 0) has = __builtin_cpu_supports(\"avx512f\") ? 1 : 0;\n"
      "  return has;\n"
      "}\n"
      "#endif\n"
      "/* A transpose tile: dst[x * os + y] = src[x + y * is] for x < pn, y < qn (at most 64 by "
      "64\n"
      "   4-byte or 32 by 32 8-byte elements). The input rows are copied into a buffer first "
      "(rows\n"
      "   of a power-of-two stride would share a few cache sets and evict each other; the next\n"
      "   tile's piece of each row is prefetched), 4x4 (2x2) blocks are transposed in registers\n"
      "   into a second buffer, and each output row is then written whole. */\n"
      "static inline void einc_gen__tile4_64(uint32_t *restrict dst, int64_t os,\n"
      "                                      const uint32_t *restrict src, int64_t is, int64_t "
      "pn,\n"
      "                                      int64_t qn, int stream) {\n"
      "  _Alignas(64) uint32_t buf[64 * 64], tb[64 * 64];\n"
      "  int64_t x = 0, y;\n"
      "  for (y = 0; y < qn; y++) {\n"
      "    einc_gen__prefetch_row(src + y * is, 64 * 4, (size_t)pn * 4);\n"
      "    memcpy(buf + y * 64, src + y * is, (size_t)pn * 4);\n"
      "  }\n"
      "#if defined(__SSE2__)\n"
      "  for (; x + 4 <= pn; x += 4) {\n"
      "    for (y = 0; y + 4 <= qn; y += 4) {\n"
      "      __m128 r0 = _mm_load_ps((const float *)(buf + (y + 0) * 64 + x));\n"
      "      __m128 r1 = _mm_load_ps((const float *)(buf + (y + 1) * 64 + x));\n"
      "      __m128 r2 = _mm_load_ps((const float *)(buf + (y + 2) * 64 + x));\n"
      "      __m128 r3 = _mm_load_ps((const float *)(buf + (y + 3) * 64 + x));\n"
      "      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);\n"
      "      _mm_store_ps((float *)(tb + (x + 0) * 64 + y), r0);\n"
      "      _mm_store_ps((float *)(tb + (x + 1) * 64 + y), r1);\n"
      "      _mm_store_ps((float *)(tb + (x + 2) * 64 + y), r2);\n"
      "      _mm_store_ps((float *)(tb + (x + 3) * 64 + y), r3);\n"
      "    }\n"
      "    for (; y < qn; y++)\n"
      "      for (int64_t k = 0; k < 4; k++) tb[(x + k) * 64 + y] = buf[y * 64 + x + k];\n"
      "  }\n"
      "#endif\n"
      "  for (; x < pn; x++)\n"
      "    for (y = 0; y < qn; y++) tb[x * 64 + y] = buf[y * 64 + x];\n"
      "  einc_gen__tile_rows((char *)dst, os * 4, (const char *)tb, 64 * 4, pn, qn * 4, stream);\n"
      "}\n"
      "/* A 4-byte tile of any width pn and at most 64 rows qn: the AVX-512 kernel where the\n"
      "   processor has it, else pieces of at most 64 columns through the buffers. */\n"
      "static inline void einc_gen__tile4(uint32_t *restrict dst, int64_t os,\n"
      "                                   const uint32_t *restrict src, int64_t is, int64_t pn,\n"
      "                                   int64_t qn, int stream) {\n"
      "#if defined(EINC_GEN__AVX512)\n"
      "  if (pn >= 16 && qn >= 16 && einc_gen__has_avx512()) {\n"
      "    int64_t p16 = pn & ~(int64_t)15, q16 = qn & ~(int64_t)15;\n"
      "    einc_gen__tile4_avx512(dst, os, src, is, p16, q16, stream);\n"
      "    for (int64_t x = 0; x < pn; x++) /* the edges */\n"
      "      for (int64_t y = x < p16 ? q16 : 0; y < qn; y++) dst[x * os + y] = src[x + y * is];\n"
      "    return;\n"
      "  }\n"
      "#endif\n"
      "  for (int64_t x0 = 0; x0 < pn; x0 += 64)\n"
      "    einc_gen__tile4_64(dst + x0 * os, os, src + x0, is, pn - x0 < 64 ? pn - x0 : 64, qn,\n"
      "                       stream);\n"
      "}\n"
      "static inline void einc_gen__tile8(uint64_t *restrict dst, int64_t os,\n"
      "                                   const uint64_t *restrict src, int64_t is, int64_t pn,\n"
      "                                   int64_t qn, int stream) {\n"
      "  _Alignas(64) uint64_t buf[32 * 32], tb[32 * 32];\n"
      "  int64_t x = 0, y;\n"
      "  for (y = 0; y < qn; y++) {\n"
      "    einc_gen__prefetch_row(src + y * is, 32 * 8, (size_t)pn * 8);\n"
      "    memcpy(buf + y * 32, src + y * is, (size_t)pn * 8);\n"
      "  }\n"
      "#if defined(__SSE2__)\n"
      "  for (; x + 2 <= pn; x += 2) {\n"
      "    for (y = 0; y + 2 <= qn; y += 2) {\n"
      "      __m128d r0 = _mm_load_pd((const double *)(buf + y * 32 + x));\n"
      "      __m128d r1 = _mm_load_pd((const double *)(buf + (y + 1) * 32 + x));\n"
      "      _mm_store_pd((double *)(tb + x * 32 + y), _mm_unpacklo_pd(r0, r1));\n"
      "      _mm_store_pd((double *)(tb + (x + 1) * 32 + y), _mm_unpackhi_pd(r0, r1));\n"
      "    }\n"
      "    for (; y < qn; y++)\n"
      "      for (int64_t k = 0; k < 2; k++) tb[(x + k) * 32 + y] = buf[y * 32 + x + k];\n"
      "  }\n"
      "#endif\n"
      "  for (; x < pn; x++)\n"
      "    for (y = 0; y < qn; y++) tb[x * 32 + y] = buf[y * 32 + x];\n"
      "  einc_gen__tile_rows((char *)dst, os * 8, (const char *)tb, 32 * 8, pn, qn * 8, stream);\n"
      "}\n"
      "static inline void einc_gen__fence(void) {\n"
      "#if defined(__SSE2__)\n"
      "  _mm_sfence(); /* non-temporal stores are weakly ordered */\n"
      "#endif\n"
      "}\n\n"
      "/* Work of at least this many bytes is split over threads (EINC_NUM_THREADS, else one per\n"
      "   online core); below it a thread's start-up costs more than it saves. */\n"
      "#ifndef EINC_GEN_PARALLEL_BYTES\n"
      "#define EINC_GEN_PARALLEL_BYTES (INT64_C(4) << 20)\n"
      "#endif\n"
      "typedef void (*einc_gen__part_fn)(const void *ctx, int64_t begin, int64_t end);\n"
      "typedef struct einc_gen__job {\n"
      "  einc_gen__part_fn fn;\n"
      "  const void *ctx;\n"
      "  int64_t begin, end;\n"
      "} einc_gen__job;\n"
      "static void *einc_gen__thread_main(void *arg) {\n"
      "  const einc_gen__job *job = (const einc_gen__job *)arg;\n"
      "  job->fn(job->ctx, job->begin, job->end);\n"
      "  return NULL;\n"
      "}\n"
      "static inline void einc_gen__parallel(einc_gen__part_fn fn, const void *ctx, int64_t "
      "items,\n"
      "                                      int64_t bytes) {\n"
      "  int64_t nt = 1;\n"
      "  if (bytes >= EINC_GEN_PARALLEL_BYTES && items > 1) {\n"
      "    const char *env = getenv(\"EINC_NUM_THREADS\");\n"
      "    nt = env && *env ? atol(env) : (int64_t)sysconf(_SC_NPROCESSORS_ONLN);\n"
      "    if (nt < 1) nt = 1;\n"
      "    if (nt > 64) nt = 64;\n"
      "    if (nt > items) nt = items;\n"
      "  }\n"
      "  if (nt <= 1) {\n"
      "    fn(ctx, 0, items);\n"
      "    return;\n"
      "  }\n"
      "  pthread_t threads[64];\n"
      "  einc_gen__job jobs[64];\n"
      "  bool started[64];\n"
      "  for (int64_t t = 1; t < nt; t++) {\n"
      "    jobs[t].fn = fn;\n"
      "    jobs[t].ctx = ctx;\n"
      "    jobs[t].begin = items * t / nt;\n"
      "    jobs[t].end = items * (t + 1) / nt;\n"
      "    started[t] = pthread_create(&threads[t], NULL, einc_gen__thread_main, &jobs[t]) == 0;\n"
      "    if (!started[t]) fn(ctx, jobs[t].begin, jobs[t].end); /* no thread: do it here */\n"
      "  }\n"
      "  fn(ctx, 0, items / nt);\n"
      "  for (int64_t t = 1; t < nt; t++)\n"
      "    if (started[t]) pthread_join(threads[t], NULL);\n"
      "}\n\n");
}

/* ---------------------------------------------------------------------------------------------
 * The kernel: a context filled at entry, a `part` function running items [begin, end).
 * ------------------------------------------------------------------------------------------- */

typedef struct item_dim {
  char count[96], in_step[96], out_step[96];
} item_dim;

/* Items are walked like an odometer: decoded once at `begin`, then stepped. */
static void emit__items_open(einc__emit *e, const item_dim *dims, int32_t m) {
  einc_sbuf *c = e->c;
  for (int32_t k = 0; k < m; k++)
    einc__sbuf_printf(c, "  int64_t i%d;\n", k);
  if (m > 0) {
    einc__sbuf_printf(c, "  {\n    int64_t r = begin;\n");
    for (int32_t k = m - 1; k > 0; k--)
      einc__sbuf_printf(c, "    i%d = r %% %s;\n    r /= %s;\n", k, dims[k].count, dims[k].count);
    einc__sbuf_printf(c, "    i0 = r;\n  }\n");
  }
  einc__sbuf_printf(c, "  for (int64_t it = begin; it < end; it++) {\n");
  einc__sbuf_printf(c, "    const %s *src = in", e->p->klass == EINC_PLAN_REDUCE ? "T_IN" : "T");
  for (int32_t k = 0; k < m; k++)
    einc__sbuf_printf(c, " + i%d * %s", k, dims[k].in_step);
  einc__sbuf_printf(c, ";\n    %s *dst = out", e->p->klass == EINC_PLAN_REDUCE ? "T_OUT" : "T");
  for (int32_t k = 0; k < m; k++)
    einc__sbuf_printf(c, " + i%d * %s", k, dims[k].out_step);
  einc__sbuf_printf(c, ";\n");
}

static void emit__items_close(einc__emit *e, const item_dim *dims, int32_t m) {
  einc_sbuf *c = e->c;
  for (int32_t k = m - 1; k >= 0; k--) {
    int ind = 4 + 2 * (m - 1 - k);
    if (k == 0)
      einc__sbuf_printf(c, "%*s++i0;\n", ind, "");
    else
      einc__sbuf_printf(c, "%*sif (++i%d == %s) {\n%*si%d = 0;\n", ind, "", k, dims[k].count,
                        ind + 2, "", k);
  }
  for (int32_t k = 1; k < m; k++)
    einc__sbuf_printf(c, "%*s}\n", 4 + 2 * (k - 1), "");
  for (int32_t k = 0; k < m; k++)
    einc__sbuf_printf(c, "    (void)i%d;\n", k);
  einc__sbuf_printf(c, "  }\n");
}

static void emit__part_head(einc__emit *e) {
  bool reduce = e->p->klass == EINC_PLAN_REDUCE;
  einc__sbuf_printf(e->c,
                    "static void %s__part(const void *ctx, int64_t begin, int64_t end) {\n"
                    "  const %s__ctx *c = (const %s__ctx *)ctx;\n"
                    "  const %s *restrict in = c->in;\n"
                    "  %s *restrict out = c->out;\n"
                    "  (void)c;\n",
                    e->name, e->name, e->name, reduce ? "T_IN" : "T", reduce ? "T_OUT" : "T");
}

/* Copy kernels (COPY, REPEAT, and the materialised form of VIEW / BROADCAST). Returns the item
 * count expression in `items`. */
static void emit__copy_kernel(einc__emit *e, char *items, size_t items_len) {
  const einc_plan *p = e->p;
  einc_sbuf *c = e->c;
  int32_t n = p->n_loops;
  einc__loopv v[EINC_MAX_AXES];
  for (int32_t j = 0; j < n; j++)
    einc__emit_loopv(e, &p->loops[j], "", j, &v[j]);
  size_t esz = einc_dtype_size(p->in_dtype);
  int64_t tile = esz >= 8 ? 32 : 64;
  (void)EINC__TILE_BYTES;

  /* Which inner kernel: contiguous rows, a blocked transpose, or a strided inner loop. */
  int32_t last = n - 1, blk = -1;
  enum { ROWS, TILES, STRIDED, SINGLE } kind = SINGLE;
  if (n > 0) {
    if (v[last].os != 1)
      kind = STRIDED;
    else if (v[last].is == 1)
      kind = ROWS;
    else {
      kind = STRIDED;
      if (v[last].is != 0)
        for (int32_t j = 0; j < last; j++)
          if (v[j].is == 1) blk = j;
      if (blk >= 0) kind = TILES;
    }
  }

  /* Item dims: the loops outside the inner kernel. For tiles, the tile index along the output
   * rows (blk) goes innermost, so consecutive tiles read on along the same input rows (whose
   * next pieces are prefetched) and each tile writes whole output rows. */
  item_dim dims[EINC_MAX_AXES];
  int32_t m = 0, dim_pos[EINC_MAX_AXES];
  int32_t nd = kind == TILES ? n : (n > 0 ? n - 1 : 0);
  int32_t order[EINC_MAX_AXES], no = 0;
  for (int32_t j = 0; j < nd; j++)
    if (!(kind == TILES && j == blk)) order[no++] = j;
  if (kind == TILES) order[no++] = blk;
  /* Large transposes of 4-byte elements with known lengths walk their tiles in super-tiles of
   * 16x16 tiles of 32 input rows by 64 columns (512 rows by 1024 columns): the 4 KiB pages
   * under the pieces of rows that a tile reads and writes are then used for many tiles before
   * the walk moves on, which saves most page walks when the buffers are not on huge pages
   * (and measured faster with them too). The last super-tile of a side may be partial. */
  int64_t tq = tile, super = 0;
  if (kind == TILES && esz == 4 && v[blk].len >= 64 * 32 && v[last].len >= 32 * 32) {
    tq = 32;
    super = 16;
  }
  /* Otherwise 4-byte tiles are 256 columns wide: the 64 input rows of a tile are then read in
   * 1 KiB pieces (measured a few per cent faster than 256-byte pieces on "b c h w -> b h w c"). */
  int64_t tp = esz == 4 && !super ? 256 : tile;
  int32_t sup_pos[2] = {-1, -1}; /* super-tile dims of last (q) and blk (p) */
  for (int32_t oi = 0; oi < no; oi++) {
    int32_t j = order[oi];
    if (super && j == last) { /* q and p super-tiles, then q and p tiles within them */
      int64_t nq = (v[last].len + tq - 1) / tq, np = (v[blk].len + tile - 1) / tile;
      int64_t counts[4] = {(nq + super - 1) / super, (np + super - 1) / super, super, super};
      int64_t steps[4] = {super * tq, super * tile, tq, tile};
      int32_t loop[4] = {last, blk, last, blk};
      sup_pos[0] = m;
      sup_pos[1] = m + 1;
      dim_pos[last] = m + 2;
      dim_pos[blk] = m + 3;
      for (int32_t k = 0; k < 4; k++) {
        item_dim *d = &dims[m++];
        snprintf(d->count, sizeof d->count, "INT64_C(%" PRId64 ")", counts[k]);
        snprintf(d->in_step, sizeof d->in_step, "%" PRId64 " * %s", steps[k], v[loop[k]].eis);
        snprintf(d->out_step, sizeof d->out_step, "%" PRId64 " * %s", steps[k], v[loop[k]].eos);
      }
      continue;
    }
    if (super && j == blk) continue;
    dim_pos[j] = m;
    item_dim *d = &dims[m++];
    if (kind == TILES && (j == blk || j == last)) {
      int64_t t = j == last ? tq : tp;
      if (v[j].len >= 0)
        snprintf(d->count, sizeof d->count, "INT64_C(%" PRId64 ")", (v[j].len + t - 1) / t);
      else
        snprintf(d->count, sizeof d->count, "((%s + %" PRId64 ") / %" PRId64 ")", v[j].elen, t - 1,
                 t);
      snprintf(d->in_step, sizeof d->in_step, "%" PRId64 " * %s", t, v[j].eis);
      snprintf(d->out_step, sizeof d->out_step, "%" PRId64 " * %s", t, v[j].eos);
    } else {
      snprintf(d->count, sizeof d->count, "%s", v[j].elen);
      snprintf(d->in_step, sizeof d->in_step, "%s", v[j].eis);
      snprintf(d->out_step, sizeof d->out_step, "%s", v[j].eos);
    }
  }

  emit__part_head(e);
  emit__items_open(e, dims, m);
  switch (kind) {
  case SINGLE:
    einc__sbuf_printf(c, "    dst[0] = src[0];\n");
    break;
  case ROWS:
    if (v[last].len >= 0 && v[last].len < 8)
      einc__sbuf_printf(c, "    for (int64_t x = 0; x < %s; x++) dst[x] = src[x];\n", v[last].elen);
    else
      einc__sbuf_printf(c, "    einc_gen__copy(dst, src, (size_t)%s * sizeof(T), c->stream);\n",
                        v[last].elen);
    break;
  case STRIDED:
    einc__sbuf_printf(c, "    for (int64_t x = 0; x < %s; x++) dst[x * %s] = src[x * %s];\n",
                      v[last].elen, v[last].eos, v[last].eis);
    break;
  case TILES:
    /* Read a tile of input rows into a buffer, write it out transposed (einc_gen__tile*). */
    if (super) {
      einc__sbuf_printf(c,
                        "    const int64_t pr = %s - (i%d * %" PRId64 " + i%d) * %" PRId64
                        ", qr = %s - (i%d * %" PRId64 " + i%d) * %" PRId64 ";\n",
                        v[blk].elen, sup_pos[1], super, dim_pos[blk], tile, v[last].elen,
                        sup_pos[0], super, dim_pos[last], tq);
      einc__sbuf_printf(
          c,
          "    if (pr > 0 && qr > 0) { /* tiles past the edge of a partial super-tile: none */\n");
    } else {
      einc__sbuf_printf(
          c, "    const int64_t pr = %s - i%d * %" PRId64 ", qr = %s - i%d * %" PRId64 ";\n",
          v[blk].elen, dim_pos[blk], tp, v[last].elen, dim_pos[last], tq);
    }
    einc__sbuf_printf(c,
                      "    const int64_t pn = pr < %" PRId64 " ? pr : %" PRId64
                      ", qn = qr < %" PRId64 " ? qr : %" PRId64 ";\n",
                      tp, tp, tq, tq);
    if (esz == 4 || esz == 8) {
      /* full tiles get constant trip counts; the register transposes do the rest */
      einc__sbuf_printf(
          c,
          "    if (pn == %" PRId64 " && qn == %" PRId64 ")\n"
          "      einc_gen__tile%d(dst, %s, src, %s, %" PRId64 ", %" PRId64 ", c->stream);\n"
          "    else\n"
          "      einc_gen__tile%d(dst, %s, src, %s, pn, qn, c->stream);\n",
          tp, tq, (int)esz, v[blk].eos, v[last].eis, tp, tq, (int)esz, v[blk].eos, v[last].eis);
    } else {
      einc__sbuf_printf(c,
                        "    for (int64_t x = 0; x < pn; x++)\n"
                        "      for (int64_t y = 0; y < qn; y++)\n"
                        "        dst[x * %s + y] = src[x + y * %s];\n",
                        v[blk].eos, v[last].eis);
    }
    if (super) einc__sbuf_printf(c, "    }\n");
    break;
  }
  emit__items_close(e, dims, m);
  einc__sbuf_printf(c, "  einc_gen__fence();\n}\n\n");

  /* The number of items, as an expression over the filled context `c`. */
  size_t off = (size_t)snprintf(items, items_len, "INT64_C(1)");
  for (int32_t k = 0; k < m && off < items_len; k++) {
    off += (size_t)snprintf(items + off, items_len - off, " * %s", dims[k].count);
  }
}

/* The reduction of one output element: an accumulator (double; uint64 for integer sum/prod and
 * int64 max/min; int for any/all and bool), a loop nest over the reduced loops in left order
 * reading through pointer `q` (of type `ptr_t`, from `base`), and the store of the result, cast to
 * the output dtype, into `dst`. Shared by the C and OpenCL emitters, so both reduce exactly as the
 * interpreter does. */
void einc__emit_reduce_body(einc_sbuf *c, const einc_plan *p, int32_t nr, const char *const *rlen,
                            const char *const *ris, const char *ptr_t, const char *base,
                            const char *dst, int ind) {
  bool int_acc = false, bool_acc = false;
  einc_dtype dt = p->in_dtype;
  einc_reduction r = p->reduction;
  if (r == EINC_RED_ANY || r == EINC_RED_ALL)
    bool_acc = true;
  else if ((dt == EINC_I64 || dt == EINC_BOOL) && (r == EINC_RED_SUM || r == EINC_RED_PROD))
    int_acc = true;
  else if (dt == EINC_I64 && (r == EINC_RED_MAX || r == EINC_RED_MIN))
    int_acc = true;
  else if (dt == EINC_BOOL && (r == EINC_RED_MAX || r == EINC_RED_MIN || r == EINC_RED_NONE))
    bool_acc = true;
  else if (dt == EINC_I64 && r == EINC_RED_NONE)
    int_acc = true;

  const char *acc_t = int_acc ? "uint64_t" : bool_acc ? "int" : "double";
  const char *init = "0";
  switch (r) {
  case EINC_RED_PROD:
    init = "1";
    break;
  case EINC_RED_ALL:
    init = "1";
    break;
  case EINC_RED_MAX:
    init = int_acc ? "(uint64_t)INT64_MIN" : bool_acc ? "0" : "-INFINITY";
    break;
  case EINC_RED_MIN:
    init = int_acc ? "(uint64_t)INT64_MAX" : bool_acc ? "1" : "INFINITY";
    break;
  default:
    break;
  }
  if (r == EINC_RED_NONE) init = "0";
  einc__sbuf_printf(c, "%*s%s acc = %s;\n", ind, "", acc_t, init);
  for (int32_t j = 0; j < nr; j++)
    einc__sbuf_printf(c, "%*sfor (int64_t r%d = 0; r%d < %s; r%d++)\n", ind + 2 * j, "", j, j,
                      rlen[j], j);
  einc__sbuf_printf(c, "%*s{\n", ind + 2 * nr, "");
  einc__sbuf_printf(c, "%*s%sq = %s", ind + 2 + 2 * nr, "", ptr_t, base);
  for (int32_t j = 0; j < nr; j++)
    einc__sbuf_printf(c, " + r%d * %s", j, ris[j]);
  einc__sbuf_printf(c, ";\n");
  const char *load;
  switch (dt) {
  case EINC_BF16: /* any / all of floats: whether the value is non-zero (NaN is) */
    load = bool_acc ? "(einc_gen__bf16_to_f32(*q) != 0.0f)" : "(double)einc_gen__bf16_to_f32(*q)";
    break;
  case EINC_F16:
    load = bool_acc ? "(einc_gen__f16_to_f32(*q) != 0.0f)" : "(double)einc_gen__f16_to_f32(*q)";
    break;
  case EINC_BOOL:
    load = "(*q != 0)";
    break;
  default:
    load = int_acc ? "(uint64_t)*q" : bool_acc ? "(*q != 0)" : "(double)*q";
    break;
  }
  einc__sbuf_printf(c, "%*s", ind + 2 + 2 * nr, "");
  switch (r) {
  case EINC_RED_NONE:
    einc__sbuf_printf(c, "acc = %s;\n", load);
    break;
  case EINC_RED_SUM:
  case EINC_RED_MEAN:
    einc__sbuf_printf(c, "acc += %s;\n", load);
    break;
  case EINC_RED_PROD:
    einc__sbuf_printf(c, "acc *= %s;\n", load);
    break;
  case EINC_RED_ANY:
    einc__sbuf_printf(c, "acc |= %s;\n", load);
    break;
  case EINC_RED_ALL:
    einc__sbuf_printf(c, "acc &= %s;\n", load);
    break;
  case EINC_RED_MAX:
  case EINC_RED_MIN: {
    const char *cmp = r == EINC_RED_MAX ? ">" : "<";
    if (int_acc)
      einc__sbuf_printf(
          c, "{ int64_t x = (int64_t)*q; if (x %s (int64_t)acc) acc = (uint64_t)x; }\n", cmp);
    else if (bool_acc)
      einc__sbuf_printf(c, "{ int x = %s; if (x %s acc) acc = x; }\n", load, cmp);
    else /* NaN propagates, as in numpy */
      einc__sbuf_printf(c, "{ double x = %s; if (x %s acc || x != x) acc = x; }\n", load, cmp);
    break;
  }
  }
  einc__sbuf_printf(c, "%*s}\n", ind + 2 * nr, "");
  /* The result, cast to the output dtype. */
  char val[160];
  if (r == EINC_RED_MEAN) {
    einc__sbuf_printf(c, "%*sdouble count = 1.0", ind, "");
    for (int32_t j = 0; j < nr; j++)
      einc__sbuf_printf(c, " * (double)%s", rlen[j]);
    einc__sbuf_printf(c, ";\n");
    snprintf(val, sizeof val, "acc / count");
  } else {
    snprintf(val, sizeof val, "acc");
  }
  const char *store_fmt;
  switch (p->out_dtype) {
  case EINC_F64:
    store_fmt = "(double)(%s)";
    break;
  case EINC_F32:
    store_fmt = "(float)(%s)";
    break;
  case EINC_BF16:
    store_fmt = "einc_gen__f32_to_bf16((float)(%s))";
    break;
  case EINC_F16:
    store_fmt = "einc_gen__f32_to_f16((float)(%s))";
    break;
  case EINC_I64:
    store_fmt = "(int64_t)(%s)";
    break;
  default:
    store_fmt = "(uint8_t)((%s) != 0)";
    break;
  }
  einc__sbuf_printf(c, "%*s%s = ", ind, "", dst);
  einc__sbuf_printf(c, store_fmt, val);
  einc__sbuf_printf(c, ";\n");
}

/* Reduce kernel: each item is a run of output elements along the last kept loop. */
static void emit__reduce_kernel(einc__emit *e, char *items, size_t items_len) {
  const einc_plan *p = e->p;
  einc_sbuf *c = e->c;
  int32_t n = p->n_loops, nr = p->n_red_loops;
  einc__loopv v[EINC_MAX_AXES], rv[EINC_MAX_AXES];
  for (int32_t j = 0; j < n; j++)
    einc__emit_loopv(e, &p->loops[j], "", j, &v[j]);
  for (int32_t j = 0; j < nr; j++)
    einc__emit_loopv(e, &p->red_loops[j], "R", j, &rv[j]);

  item_dim dims[EINC_MAX_AXES];
  int32_t m = 0;
  for (int32_t j = 0; j + 1 < n; j++) {
    item_dim *d = &dims[m++];
    snprintf(d->count, sizeof d->count, "%s", v[j].elen);
    snprintf(d->in_step, sizeof d->in_step, "%s", v[j].eis);
    snprintf(d->out_step, sizeof d->out_step, "%s", v[j].eos);
  }
  emit__part_head(e);
  emit__items_open(e, dims, m);
  const char *tlen = n > 0 ? v[n - 1].elen : "1";
  const char *tis = n > 0 ? v[n - 1].eis : "0";
  const char *tos = n > 0 ? v[n - 1].eos : "0";
  einc__sbuf_printf(c, "    for (int64_t t = 0; t < %s; t++) {\n", tlen);
  einc__sbuf_printf(c, "      const T_IN *b = src + t * %s;\n", tis);
  const char *rlen[EINC_MAX_AXES], *ris[EINC_MAX_AXES];
  for (int32_t j = 0; j < nr; j++) {
    rlen[j] = rv[j].elen;
    ris[j] = rv[j].eis;
  }
  char dst[96];
  snprintf(dst, sizeof dst, "dst[t * %s]", tos);
  einc__emit_reduce_body(c, p, nr, rlen, ris, "const T_IN *", "b", dst, 6);
  einc__sbuf_printf(c, "    }\n");
  emit__items_close(e, dims, m);
  einc__sbuf_printf(c, "}\n\n");

  size_t off = (size_t)snprintf(items, items_len, "INT64_C(1)");
  for (int32_t k = 0; k < m && off < items_len; k++) {
    off += (size_t)snprintf(items + off, items_len - off, " * %s", dims[k].count);
  }
}

int einc__emit_c_plan(einc_sbuf *h, einc_sbuf *c, const char *name, const einc_plan *plan,
                      const einc_kwarg *kwargs, int32_t n_kwargs) {
  einc__emit e;
  int status = einc__emit_setup(&e, h, c, name, plan, kwargs, n_kwargs);
  if (status != EINC_OK) return status;

  einc_plan tmp;
  const bool reduce = einc__emit_typed_as_reduce(&e, &tmp);
  const einc_plan *p = e.p;
  einc__emit_kernel_head(&e, plan, reduce);

  char items[1024];
  if (reduce)
    emit__reduce_kernel(&e, items, sizeof items);
  else
    emit__copy_kernel(&e, items, sizeof items);

  /* The entry point. */
  einc__sbuf_printf(h, "int %s(const void *in, const int64_t *in_shape, void *out%s);\n", name,
                    e.params);
  einc__sbuf_printf(c, "int %s(const void *in, const int64_t *in_shape, void *out%s) {\n", name,
                    e.params);
  einc__sbuf_printf(c, "  if (!in_shape) return EINC_GEN_EINVAL;\n");
  einc__emit_call_bind(&e);
  einc__sbuf_printf(c, "  int64_t in_numel = 1, out_numel = 1;\n");
  for (int32_t i = 0; i < p->n_axes; i++) {
    if (p->axes[i].role != EINC_AXIS_NEW) einc__sbuf_printf(c, "  in_numel *= a[%d];\n", i);
    if (p->axes[i].role != EINC_AXIS_REDUCED) einc__sbuf_printf(c, "  out_numel *= a[%d];\n", i);
  }
  einc__sbuf_printf(c, "  if (out_numel == 0) return EINC_GEN_OK;\n"
                       "  if (!out || (!in && in_numel > 0)) return EINC_GEN_EINVAL;\n");
  einc__sbuf_printf(c,
                    "  %s__ctx cx, *c = &cx;\n  c->in = (const %s *)in;\n  c->out = (%s *)out;\n",
                    name, reduce ? "T_IN" : "T", reduce ? "T_OUT" : "T");
  einc__sbuf_printf(c, "  c->stream = out_numel * %d >= EINC_GEN_STREAM_BYTES;\n",
                    (int)einc_dtype_size(plan->out_dtype));
  einc__emit_fill_loops(&e, p->loops, p->n_loops, "");
  if (reduce) einc__emit_fill_loops(&e, p->red_loops, p->n_red_loops, "R");
  if (reduce && p->reduction != EINC_RED_SUM && p->reduction != EINC_RED_PROD &&
      p->reduction != EINC_RED_ANY && p->reduction != EINC_RED_ALL &&
      p->reduction != EINC_RED_NONE && p->reduction != EINC_RED_MEAN)
    einc__sbuf_printf(c, "  if (in_numel == 0) return EINC_GEN_ESHAPE; /* empty max/min */\n");
  einc__sbuf_printf(c, "  einc_gen__parallel(%s__part, c, %s, (in_numel + out_numel) * %d);\n",
                    name, items, (int)einc_dtype_size(plan->in_dtype));
  einc__sbuf_printf(c, "  return EINC_GEN_OK;\n}\n\n");

  einc__emit_out_shape_fn(&e);
  if (plan->klass == EINC_PLAN_VIEW || plan->klass == EINC_PLAN_BROADCAST) einc__emit_view_fn(&e);
  einc__sbuf_printf(h, "\n");
  if (reduce)
    einc__sbuf_printf(c, "#undef T_IN\n#undef T_OUT\n\n");
  else
    einc__sbuf_printf(c, "#undef T\n\n");
  return (h->failed || c->failed) ? EINC_ENOMEM : EINC_OK;
}

/*
 * The CUDA emitter: turns one rearrange / reduce / repeat plan into CUDA kernels and a host
 * launcher `int NAME(in, in_shape, out, <sizes>, cudaStream_t stream)`.
 *
 * The launcher binds the lengths on the host (emit_bind.c: the same checks as generated C; a
 * mismatch returns EINC_GEN_ESHAPE and launches nothing), fills a context of loop lengths and
 * strides passed by value, and picks one of the kernels emitted for the plan's coalesced loop
 * nest. Lengths known at generation time are literals in the kernels, so index arithmetic is
 * division by constants. Kernels:
 *   - rows stay contiguous on both sides: 16-byte vector copies, with an element kernel as the
 *     fallback when the row length, strides or pointers are not 16-byte multiples;
 *   - the innermost output axis moves: a shared-memory tiled transpose over the loop with unit
 *     input stride and the loop with unit output stride: 2- and 4-byte elements as aligned
 *     pairs through an XOR-swizzled tile with 256-byte rows (cuda__tile2_kernel), other sizes
 *     through tiles whose rows are padded so the column reads hit distinct banks;
 *   - reductions (and dtype changes): one thread per output element, accumulating over the
 *     reduced loops in left order exactly as the interpreter does (einc__emit_reduce_body);
 *   - anything else (broadcasts, repeats, strided inner loops): one output element per thread.
 * Every index is 64-bit and every kernel walks its work with a grid-stride loop, so sizes past
 * 2^31 elements work.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gen.h"

#define CUDA__THREADS 256

void einc__emit_cuda_prelude_header(einc_sbuf *h) {
  einc__emit_c_prelude_header(h);
  einc__sbuf_puts(h, "#include <cuda_runtime.h>\n\n"
                     "#ifndef EINC_GEN_ELAUNCH\n"
                     "/* A kernel launch failed (the CUDA error is left for cudaGetLastError). */\n"
                     "#define EINC_GEN_ELAUNCH (-8)\n"
                     "#endif\n\n");
}

void einc__emit_cuda_prelude_source(einc_sbuf *c) {
  einc__sbuf_puts(c, "#include <cuda_runtime.h>\n"
                     "#include <math.h>\n"
                     "#include <stdint.h>\n\n");
  einc__emit_half_conversions(c, "__device__ inline", "return __float_as_uint(f);",
                              "return __uint_as_float(x);");
  einc__sbuf_puts(
      c, "/* Blocks for `work` items of `per_block` each; grid-stride loops cover the rest. */\n"
         "static inline unsigned einc_gen__blocks(int64_t work, int64_t per_block) {\n"
         "  int64_t b = (work + per_block - 1) / per_block;\n"
         "  return (unsigned)(b < 1 ? 1 : b > (INT64_C(1) << 20) ? (INT64_C(1) << 20) : b);\n"
         "}\n"
         "#define EINC_GEN_LAUNCHED()                                                         \\\n"
         "  (cudaGetLastError() == cudaSuccess ? EINC_GEN_OK : EINC_GEN_ELAUNCH)\n\n");
}

/* `off += ...` for every loop of `v[0 .. n)`: the input offset of the output element (or row
 * start) at linear index `idx`, whose coordinate along loop j is (idx / OS_j) % L_j. */
static void cuda__decode(einc_sbuf *c, const einc__loopv *v, int32_t n, const char *idx,
                         const char *off, int ind) {
  for (int32_t j = 0; j < n; j++) {
    /* (an output stride of 0 means an empty output: the launcher returns before any launch) */
    if (v[j].is == 0 || v[j].len == 1 || v[j].os == 0) continue;
    einc__sbuf_printf(c, "%*s%s += ", ind, "", off);
    if (v[j].os == 1)
      einc__sbuf_printf(c, "(%s", idx);
    else
      einc__sbuf_printf(c, "((%s / %s)", idx, v[j].eos);
    if (j > 0) einc__sbuf_printf(c, " %% %s", v[j].elen);
    einc__sbuf_printf(c, ")");
    if (v[j].is != 1) einc__sbuf_printf(c, " * %s", v[j].eis);
    einc__sbuf_printf(c, ";\n");
  }
}

static void cuda__kernel_head(einc__emit *e, const char *suffix, const char *work) {
  einc__sbuf_printf(
      e->c, "__global__ void __launch_bounds__(%d) %s__%s(const %s__ctx cx, int64_t %s) {\n",
      CUDA__THREADS, e->name, suffix, e->name, work);
}

/* Grid-stride loop over `n` items, one per thread. */
static void cuda__grid_loop(einc_sbuf *c, const char *var, const char *n) {
  einc__sbuf_printf(c,
                    "  for (int64_t %s = (int64_t)blockIdx.x * %d + threadIdx.x; %s < %s;\n"
                    "       %s += (int64_t)gridDim.x * %d) {\n",
                    var, CUDA__THREADS, var, n, var, CUDA__THREADS);
}

/* One output element per thread: any copy, broadcast or repeat. */
static void cuda__elem_kernel(einc__emit *e, const einc__loopv *v) {
  einc_sbuf *c = e->c;
  cuda__kernel_head(e, "elem", "n");
  cuda__grid_loop(c, "o", "n");
  einc__sbuf_printf(c, "    int64_t off = 0;\n");
  cuda__decode(c, v, e->p->n_loops, "o", "off", 4);
  einc__sbuf_printf(c, "    cx.out[o] = cx.in[off];\n  }\n}\n\n");
}

/* Rows contiguous on both sides: 16-byte vectors (the launcher checks alignment). */
static void cuda__vec_kernel(einc__emit *e, const einc__loopv *v, int32_t vw) {
  einc_sbuf *c = e->c;
  int32_t n = e->p->n_loops;
  cuda__kernel_head(e, "vec", "nv");
  cuda__grid_loop(c, "i", "nv");
  einc__sbuf_printf(c, "    const int64_t o = i * %d;\n    int64_t off = 0;\n", vw);
  cuda__decode(c, v, n, "o", "off", 4);
  einc__sbuf_printf(
      c, "    *(uint4 *)(cx.out + o) = __ldg((const uint4 *)(cx.in + off));\n  }\n}\n\n");
}

/* The start of a transpose kernel: loop `p` has unit input stride, loop `q` (the last) unit
 * output stride. Each block walks tiles of tp x tq elements; for each one `src` points at
 * element (p0, q0) of the input, `dst` at the same element of the output, and pn x qn of the
 * tile are inside the arrays. */
static void cuda__tile_head(einc__emit *e, const char *suffix, const einc__loopv *v, int32_t p,
                            int32_t q, int32_t tp, int32_t tq, const char *tile_decl) {
  einc_sbuf *c = e->c;
  cuda__kernel_head(e, suffix, "ntiles");
  einc__sbuf_printf(c,
                    "  %s;\n"
                    "  const int64_t np = (%s + %d) / %d, nq = (%s + %d) / %d;\n"
                    "  for (int64_t t = blockIdx.x; t < ntiles; t += gridDim.x) {\n"
                    "    int64_t r = t;\n"
                    "    const int64_t tq = r %% nq;\n    r /= nq;\n"
                    "    const int64_t tp = r %% np;\n    r /= np;\n"
                    "    int64_t ib = 0, ob = 0;\n",
                    tile_decl, v[p].elen, tp - 1, tp, v[q].elen, tq - 1, tq);
  /* the other loops, innermost first */
  for (int32_t j = e->p->n_loops - 1; j >= 0; j--) {
    if (j == p || j == q || v[j].len == 1) continue;
    einc__sbuf_printf(c, "    { const int64_t x = r %% %s; r /= %s;", v[j].elen, v[j].elen);
    if (v[j].is != 0) einc__sbuf_printf(c, " ib += x * %s;", v[j].eis);
    einc__sbuf_printf(c, " ob += x * %s; }\n", v[j].eos);
  }
  einc__sbuf_printf(
      c,
      "    const int64_t p0 = tp * %d, q0 = tq * %d;\n"
      "    const int pn = (int)(%s - p0 < %d ? %s - p0 : %d), qn = (int)(%s - q0 < %d ? %s - q0 : "
      "%d);\n"
      "    const T *src = cx.in + ib + p0 + q0 * %s;\n"
      "    T *dst = cx.out + ob + q0 + p0 * %s;\n",
      tp, tq, v[p].elen, tp, v[p].elen, tp, v[q].elen, tq, v[q].elen, tq, v[q].eis, v[p].eos);
}

/* Any element size: a tile is read along p (coalesced) into shared memory, then written along
 * q (coalesced); rows are padded so the column reads hit distinct banks. */
static void cuda__tile_kernel(einc__emit *e, const einc__loopv *v, int32_t p, int32_t q, int32_t tt,
                              int32_t pad) {
  einc_sbuf *c = e->c;
  int32_t per = tt * tt / CUDA__THREADS;
  char decl[64];
  snprintf(decl, sizeof decl, "__shared__ T tile[%d][%d]", tt, tt + pad);
  cuda__tile_head(e, "tile", v, p, q, tt, tt, decl);
  einc__sbuf_printf(
      c,
      "    if (pn == %d && qn == %d) {\n"
      "#pragma unroll\n"
      "      for (int k = 0; k < %d; k++) {\n"
      "        const int x = k * %d + (int)threadIdx.x;\n"
      "        tile[x / %d][x %% %d] = src[(int64_t)(x %% %d) + (int64_t)(x / %d) * %s];\n"
      "      }\n"
      "      __syncthreads();\n"
      "#pragma unroll\n"
      "      for (int k = 0; k < %d; k++) {\n"
      "        const int x = k * %d + (int)threadIdx.x;\n"
      "        dst[(int64_t)(x %% %d) + (int64_t)(x / %d) * %s] = tile[x %% %d][x / %d];\n"
      "      }\n"
      "    } else {\n"
      "      for (int k = 0; k < %d; k++) {\n"
      "        const int x = k * %d + (int)threadIdx.x, a = x / %d, b = x %% %d;\n"
      "        if (a < qn && b < pn) tile[a][b] = src[(int64_t)b + (int64_t)a * %s];\n"
      "      }\n"
      "      __syncthreads();\n"
      "      for (int k = 0; k < %d; k++) {\n"
      "        const int x = k * %d + (int)threadIdx.x, a = x / %d, b = x %% %d;\n"
      "        if (a < pn && b < qn) dst[(int64_t)b + (int64_t)a * %s] = tile[b][a];\n"
      "      }\n"
      "    }\n"
      "    __syncthreads();\n"
      "  }\n}\n\n",
      tt, tt, per, CUDA__THREADS, tt, tt, tt, tt, v[q].eis, per, CUDA__THREADS, tt, tt, v[p].eos,
      tt, tt, per, CUDA__THREADS, tt, tt, v[q].eis, per, CUDA__THREADS, tt, tt, v[p].eos);
}

/* The side of a pair tile along loop `v`, for elements of `esz` bytes: 256 bytes of elements
 * (128 of 2 bytes, 64 of 4), so that every row a block reads or writes is 256 contiguous bytes;
 * 2-byte tiles shrink to 64 where the loop is known to be shorter. Measured on an H100: `a b ->
 * b a` at 96% of copy bandwidth in bf16 with 128 x 128 tiles (92% with 64 x 64). */
static int32_t cuda__tile2_side(const einc__loopv *v, size_t esz) {
  if (esz == 4) return 64;
  return v->len != EINC_UNKNOWN && v->len < 128 ? 64 : 128;
}

/* 2- and 4-byte elements in pairs: every global access is an aligned word of two elements (the
 * launcher checks that lengths, strides and pointers are even), halving the memory
 * instructions. A warp reads two rows (q, q + 1) of 64 elements as words and transposes each
 * 2 x 2 block in registers into words of the output's rows; the tile holds those words, the low
 * 5 bits of the column XOR-swizzled by (p / 2) % 32 so that both phases are free of bank
 * conflicts. */
static void cuda__tile2_kernel(einc__emit *e, const einc__loopv *v, int32_t p, int32_t q,
                               size_t esz) {
  const int32_t tp = cuda__tile2_side(&v[p], esz), tq = cuda__tile2_side(&v[q], esz);
  /* The word of a pair, and the two words of a transposed 2 x 2 block {r0, r1}. */
  const char *word = esz == 4 ? "uint2" : "uint32_t";
  const char *lo =
      esz == 4 ? "make_uint2(r0[c][k].x, r1[c][k].x)" : "__byte_perm(r0[c][k], r1[c][k], 0x5410)";
  const char *hi =
      esz == 4 ? "make_uint2(r0[c][k].y, r1[c][k].y)" : "__byte_perm(r0[c][k], r1[c][k], 0x7632)";
  char decl[64];
  snprintf(decl, sizeof decl, "__shared__ %s tile[%d][%d]", word, tp, tq / 2);
  cuda__tile_head(e, "tile2", v, p, q, tp, tq, decl);
  einc__sbuf_printf(
      e->c,
      "    const int lane = (int)threadIdx.x %% 32, warp = (int)threadIdx.x / 32;\n"
      "    %s r0[%d][%d], r1[%d][%d];\n"
      "#pragma unroll\n"
      "    for (int k = 0; k < %d; k++)\n"
      "#pragma unroll\n"
      "      for (int c = 0; c < %d; c++)\n"
      "        if (2 * (warp + 8 * k) < qn && 64 * c + 2 * lane < pn) {\n"
      "          const T *s = src + 64 * c + 2 * lane + (int64_t)(2 * (warp + 8 * k)) * %s;\n"
      "          r0[c][k] = *(const %s *)s;\n"
      "          r1[c][k] = *(const %s *)(s + %s);\n"
      "        }\n"
      "#pragma unroll\n"
      "    for (int k = 0; k < %d; k++)\n"
      "#pragma unroll\n"
      "      for (int c = 0; c < %d; c++)\n"
      "        if (2 * (warp + 8 * k) < qn && 64 * c + 2 * lane < pn) {\n"
      "          const int col = (warp + 8 * k) ^ lane;\n"
      "          tile[64 * c + 2 * lane][col] = %s;\n"
      "          tile[64 * c + 2 * lane + 1][col] = %s;\n"
      "        }\n"
      "    __syncthreads();\n"
      "#pragma unroll\n"
      "    for (int k = 0; k < %d; k++) {\n"
      "      const int row = warp + 8 * k;\n"
      "#pragma unroll\n"
      "      for (int c = 0; c < %d; c++)\n"
      "        if (row < pn && 64 * c + 2 * lane < qn)\n"
      "          *(%s *)(dst + 64 * c + 2 * lane + (int64_t)row * %s) =\n"
      "              tile[row][32 * c + (lane ^ ((row >> 1) %% 32))];\n"
      "    }\n"
      "    __syncthreads();\n"
      "  }\n}\n\n",
      word, tp / 64, tq / 16, tp / 64, tq / 16, tq / 16, tp / 64, v[q].eis, word, word, v[q].eis,
      tq / 16, tp / 64, lo, hi, tp / 8, tq / 64, word, v[p].eos);
}

/* The launcher's count of tp x tq tiles over loops p and q times the other loops' lengths. */
static void cuda__tile_count(einc_sbuf *c, const einc__loopv *vh, int32_t p, int32_t q, int32_t tp,
                             int32_t tq) {
  einc__sbuf_printf(c, "((%s + %d) / %d) * ((%s + %d) / %d)", vh[p].elen, tp - 1, tp, vh[q].elen,
                    tq - 1, tq);
  for (int32_t j = 0; j < q; j++)
    if (j != p) einc__sbuf_printf(c, " * %s", vh[j].elen);
  einc__sbuf_printf(c, ";\n");
}

/* One thread per output element, reducing in left order (also dtype-changing copies). */
static void cuda__reduce_kernel(einc__emit *e, const einc__loopv *v) {
  const einc_plan *p = e->p;
  einc_sbuf *c = e->c;
  int32_t nr = p->n_red_loops;
  einc__loopv rv[EINC_MAX_AXES];
  const char *rlen[EINC_MAX_AXES], *ris[EINC_MAX_AXES];
  for (int32_t j = 0; j < nr; j++) {
    einc__emit_loopv(e, &p->red_loops[j], "R", j, &rv[j]);
    rlen[j] = rv[j].elen;
    ris[j] = rv[j].eis;
  }
  cuda__kernel_head(e, "reduce", "n");
  cuda__grid_loop(c, "o", "n");
  einc__sbuf_printf(c, "    int64_t off = 0;\n");
  cuda__decode(c, v, p->n_loops, "o", "off", 4);
  einc__sbuf_printf(c, "    const T_IN *b = cx.in + off;\n");
  einc__emit_reduce_body(c, p, nr, rlen, ris, "const T_IN *", "b", "cx.out[o]", 4);
  einc__sbuf_printf(c, "  }\n}\n\n");
}

int einc__emit_cuda_plan(einc_sbuf *h, einc_sbuf *c, const char *name, const einc_plan *plan,
                         const einc_kwarg *kwargs, int32_t n_kwargs) {
  einc__emit e;
  int status = einc__emit_setup(&e, h, c, name, plan, kwargs, n_kwargs);
  if (status != EINC_OK) return status;

  einc_plan tmp;
  const bool reduce = einc__emit_typed_as_reduce(&e, &tmp);
  const einc_plan *p = e.p;
  int32_t n = p->n_loops;
  size_t esz = einc_dtype_size(plan->in_dtype);
  /* Loops as kernels read them (from the by-value context `cx`) and as the launcher does. */
  einc__loopv v[EINC_MAX_AXES], vh[EINC_MAX_AXES];
  for (int32_t j = 0; j < n; j++)
    einc__emit_loopv(&e, &p->loops[j], "", j, &vh[j]);
  e.ctx = "cx.";
  for (int32_t j = 0; j < n; j++)
    einc__emit_loopv(&e, &p->loops[j], "", j, &v[j]);

  /* Which copy kernel (as the C emitter decides between rows, tiles and strided loops). */
  int32_t last = n - 1, blk = -1;
  enum { ELEM, ROWS, TILES } kind = ELEM;
  if (!reduce && n > 0 && v[last].os == 1) {
    if (v[last].is == 1)
      kind = ROWS;
    else if (v[last].is != 0) {
      for (int32_t j = 0; j < last; j++)
        if (v[j].is == 1) blk = j;
      if (blk >= 0) kind = TILES;
    }
  }
  int32_t vw = (int32_t)(16 / esz);
  int32_t tt = esz <= 2 ? 64 : 32, pad = esz >= 4 ? 1 : (int32_t)(4 / esz);

  einc__emit_kernel_head(&e, plan, reduce);
  if (reduce) {
    cuda__reduce_kernel(&e, v);
  } else {
    cuda__elem_kernel(&e, v);
    if (kind == ROWS) cuda__vec_kernel(&e, v, vw);
    if (kind == TILES) cuda__tile_kernel(&e, v, blk, last, tt, pad);
    if (kind == TILES && (esz == 2 || esz == 4)) cuda__tile2_kernel(&e, v, blk, last, esz);
  }

  /* The launcher. */
  e.ctx = "c->";
  einc__sbuf_printf(
      h, "int %s(const void *in, const int64_t *in_shape, void *out%s, cudaStream_t stream);\n",
      name, e.params);
  einc__sbuf_printf(
      c, "int %s(const void *in, const int64_t *in_shape, void *out%s, cudaStream_t stream) {\n",
      name, e.params);
  einc__sbuf_printf(c, "  if (!in_shape) return EINC_GEN_EINVAL;\n");
  einc__emit_call_bind(&e);
  einc__sbuf_printf(c, "  int64_t in_numel = 1, out_numel = 1;\n");
  for (int32_t i = 0; i < p->n_axes; i++) {
    if (p->axes[i].role != EINC_AXIS_NEW) einc__sbuf_printf(c, "  in_numel *= a[%d];\n", i);
    if (p->axes[i].role != EINC_AXIS_REDUCED) einc__sbuf_printf(c, "  out_numel *= a[%d];\n", i);
  }
  einc__sbuf_printf(c, "  if (out_numel == 0) return EINC_GEN_OK;\n"
                       "  if (!out || (!in && in_numel > 0)) return EINC_GEN_EINVAL;\n");
  if (reduce && (p->reduction == EINC_RED_MAX || p->reduction == EINC_RED_MIN))
    einc__sbuf_printf(c, "  if (in_numel == 0) return EINC_GEN_ESHAPE; /* empty max/min */\n");
  einc__sbuf_printf(c,
                    "  %s__ctx cx, *c = &cx;\n  c->in = (const %s *)in;\n  c->out = (%s *)out;\n"
                    "  c->stream = 0;\n",
                    name, reduce ? "T_IN" : "T", reduce ? "T_OUT" : "T");
  einc__emit_fill_loops(&e, p->loops, p->n_loops, "");
  if (reduce) einc__emit_fill_loops(&e, p->red_loops, p->n_red_loops, "R");
  if (kind == ROWS) {
    einc__sbuf_printf(c, "  if ((((uintptr_t)in | (uintptr_t)out) & 15) == 0 && %s %% %d == 0",
                      vh[last].elen, vw);
    for (int32_t j = 0; j < last; j++)
      if (vh[j].is != 0 && vh[j].len != 1) einc__sbuf_printf(c, " && %s %% %d == 0", vh[j].eis, vw);
    einc__sbuf_printf(c,
                      ") {\n"
                      "    %s__vec<<<einc_gen__blocks(out_numel / %d, %d), %d, 0, stream>>>(cx, "
                      "out_numel / %d);\n"
                      "    return EINC_GEN_LAUNCHED();\n  }\n",
                      name, vw, CUDA__THREADS, CUDA__THREADS, vw);
  } else if (kind == TILES) {
    einc__sbuf_printf(c, "  int64_t ntiles = ");
    cuda__tile_count(c, vh, blk, last, tt, tt);
    if (esz == 2 || esz == 4) { /* pairs when every pair of the tile is an aligned word */
      einc__sbuf_printf(c,
                        "  if ((((uintptr_t)in | (uintptr_t)out) & %d) == 0 && %s %% 2 == 0 && "
                        "%s %% 2 == 0 && %s %% 2 == 0 && %s %% 2 == 0",
                        (int)(2 * esz - 1), vh[blk].elen, vh[last].elen, vh[last].eis, vh[blk].eos);
      for (int32_t j = 0; j < last; j++)
        if (j != blk && vh[j].len != 1)
          einc__sbuf_printf(c, " && %s %% 2 == 0 && %s %% 2 == 0", vh[j].eis, vh[j].eos);
      einc__sbuf_printf(c, ") {\n    const int64_t ntiles2 = ");
      cuda__tile_count(c, vh, blk, last, cuda__tile2_side(&v[blk], esz),
                       cuda__tile2_side(&v[last], esz));
      einc__sbuf_printf(
          c,
          "    %s__tile2<<<einc_gen__blocks(ntiles2, 1), %d, 0, stream>>>(cx, ntiles2);\n"
          "    return EINC_GEN_LAUNCHED();\n  }\n",
          name, CUDA__THREADS);
    }
    einc__sbuf_printf(c,
                      "  %s__tile<<<einc_gen__blocks(ntiles, 1), %d, 0, stream>>>(cx, ntiles);\n"
                      "  return EINC_GEN_LAUNCHED();\n",
                      name, CUDA__THREADS);
  }
  if (kind != TILES)
    einc__sbuf_printf(c,
                      "  %s__%s<<<einc_gen__blocks(out_numel, %d), %d, 0, stream>>>(cx, "
                      "out_numel);\n  return EINC_GEN_LAUNCHED();\n",
                      name, reduce ? "reduce" : "elem", CUDA__THREADS, CUDA__THREADS);
  einc__sbuf_printf(c, "}\n\n");

  einc__emit_out_shape_fn(&e);
  if (plan->klass == EINC_PLAN_VIEW || plan->klass == EINC_PLAN_BROADCAST) einc__emit_view_fn(&e);
  einc__sbuf_printf(h, "\n");
  if (reduce)
    einc__sbuf_printf(c, "#undef T_IN\n#undef T_OUT\n\n");
  else
    einc__sbuf_printf(c, "#undef T\n\n");
  return (h->failed || c->failed) ? EINC_ENOMEM : EINC_OK;
}

/*
 * Permute kernels as templates over a loop description, for the run-time launcher (permute.cu)
 * and for generated code, which instantiates them with the loops of one plan.
 *
 * - permute_vec_kernel: the innermost loop has unit stride on both sides, so every thread moves
 *   whole vectors (16 bytes where alignment allows) and only the outer loops are permuted.
 *   32-bit indices with multiply-shift division while every offset fits, 64-bit beyond 2^31.
 * - transpose_b16_kernel: the innermost axis moves, 2-byte elements (bf16 / f16): 64x64 tiles
 *   through shared memory, 4-byte global accesses on both sides (pairs of elements, transposed
 *   2x2 in registers with byte permutes) and an XOR swizzle that keeps shared memory free of
 *   bank conflicts.
 * - transpose_kernel: the innermost axis moves, any element size: 32x32 tiles, padded rows.
 * Loops other than the two tiled ones are batch loops, walked one tile per block.
 */
#ifndef EINC_RT_CUDA_PERMUTE_CUH
#define EINC_RT_CUDA_PERMUTE_CUH

#include <stdint.h>

namespace einc_rt_cuda {

constexpr int kPermuteMaxRank = 6;

/* n / d and n % d for 32-bit n < 2^31 by a multiply and a shift (d >= 1). */
struct fastdiv32 {
  uint32_t d, m, s;
  fastdiv32() = default;
  __host__ explicit fastdiv32(uint32_t div) : d(div), m(0), s(0) {
    while ((1ull << s) < d)
      s++;
    m = (uint32_t)(((1ull << 32) * ((1ull << s) - d)) / d + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const {
    return (__umulhi(n, m) + n) >> s;
  }
};

/* Index arithmetic of the vector kernel, 32-bit or 64-bit. */
template <typename Index> struct permute_dim;
template <> struct permute_dim<uint32_t> {
  fastdiv32 len;
  uint32_t in_stride, out_stride;
  __device__ __forceinline__ uint32_t split(uint32_t &i) const {
    const uint32_t q = len.div(i), c = i - q * len.d;
    i = q;
    return c;
  }
};
template <> struct permute_dim<int64_t> {
  int64_t len, in_stride, out_stride;
  __device__ __forceinline__ int64_t split(int64_t &i) const {
    const int64_t q = i / len, c = i - q * len;
    i = q;
    return c;
  }
};

/* Loops in units of V, output order, the last one contiguous on both sides (stride 1). */
template <typename Index, int RANK> struct permute_vec_desc {
  permute_dim<Index> dims[RANK];
  Index total; /* vectors to move */
};

constexpr int kPermuteThreads = 256;
constexpr int kPermuteVecPerThread = 4;

template <typename V, typename Index, int RANK>
__global__ void __launch_bounds__(kPermuteThreads)
    permute_vec_kernel(const permute_vec_desc<Index, RANK> d, const V *__restrict__ in,
                       V *__restrict__ out) {
  const Index base = (Index)blockIdx.x * (kPermuteThreads * kPermuteVecPerThread) + threadIdx.x;
  V v[kPermuteVecPerThread];
  Index dst[kPermuteVecPerThread];
#pragma unroll
  for (int j = 0; j < kPermuteVecPerThread; j++) {
    Index i = base + (Index)j * kPermuteThreads;
    dst[j] = ~Index(0);
    if (i < d.total) {
      Index src = 0, o = 0;
#pragma unroll
      for (int k = RANK - 1; k > 0; k--) {
        const Index c = d.dims[k].split(i);
        src += c * d.dims[k].in_stride, o += c * d.dims[k].out_stride;
      }
      src += i * d.dims[0].in_stride, o += i * d.dims[0].out_stride;
      v[j] = in[src];
      dst[j] = o;
    }
  }
#pragma unroll
  for (int j = 0; j < kPermuteVecPerThread; j++)
    if (dst[j] != ~Index(0)) out[dst[j]] = v[j];
}

/* A transpose: loop `a` is contiguous in the input, loop `b` in the output; NB batch loops.
 * A short `b` is widened with the output loop just outside it when that one continues it in the
 * output (out_stride == len_b1): the tile's rows are then len_b = len_b1 * that loop's length,
 * written contiguously, and row j reads at (j % len_b1) * in_stride_b + (j / len_b1) *
 * in_stride_b2. */
template <int NB> struct transpose_desc {
  int64_t len_a, len_b;
  int64_t out_stride_a, in_stride_b;
  uint32_t len_b1;      /* len_b when nothing is widened */
  int64_t in_stride_b2; /* 0 when nothing is widened */
  int64_t tiles_a, tiles_b;
  int64_t batch_len[NB > 0 ? NB : 1], batch_in[NB > 0 ? NB : 1], batch_out[NB > 0 ? NB : 1];
};

/* The block's tile: first element offsets in the input and output, tile origin in (a, b). */
template <int NB, int TILE>
__device__ __forceinline__ void transpose_tile(const transpose_desc<NB> &d, int64_t &in_off,
                                               int64_t &out_off, int64_t &a0, int64_t &b0) {
  int64_t t = blockIdx.x;
  const int64_t ta = t % d.tiles_a;
  t /= d.tiles_a;
  const int64_t tb = t % d.tiles_b;
  t /= d.tiles_b;
  in_off = 0, out_off = 0;
#pragma unroll
  for (int k = NB - 1; k >= 0; k--) {
    const int64_t c = t % d.batch_len[k];
    t /= d.batch_len[k];
    in_off += c * d.batch_in[k], out_off += c * d.batch_out[k];
  }
  a0 = ta * TILE, b0 = tb * TILE;
  in_off += a0;
  out_off += a0 * d.out_stride_a + b0;
}

/* Input offset of tile row (output-contiguous index) j. */
template <int NB>
__device__ __forceinline__ int64_t transpose_row(const transpose_desc<NB> &d, int64_t j) {
  if (d.in_stride_b2 == 0) return j * d.in_stride_b; /* not widened: no division */
  const uint32_t b2 = (uint32_t)j / d.len_b1, b = (uint32_t)j - b2 * d.len_b1;
  return (int64_t)b * d.in_stride_b + (int64_t)b2 * d.in_stride_b2;
}

/* 2-byte elements, 64x64 tile, 256 threads. Needs even len_a, len_b, strides and 4-byte aligned
 * pointers: every global access is an aligned pair of elements. */
template <int NB>
__global__ void __launch_bounds__(256)
    transpose_b16_kernel(const transpose_desc<NB> d, const uint16_t *__restrict__ in,
                         uint16_t *__restrict__ out) {
  /* tile[a][b/2]: element pairs along b, column XOR-swizzled by (a/2) % 32. */
  __shared__ uint32_t tile[64][32];
  int64_t in_off, out_off, a0, b0;
  transpose_tile<NB, 64>(d, in_off, out_off, a0, b0);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const bool a_ok = a0 + 2 * lane < d.len_a;
  const uint16_t *src = in + in_off + 2 * lane;
  uint32_t r0[4], r1[4];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int bw = warp + 8 * k;
    if (a_ok && b0 + 2 * bw < d.len_b) {
      r0[k] = *reinterpret_cast<const uint32_t *>(src + transpose_row(d, b0 + 2 * bw));
      r1[k] = *reinterpret_cast<const uint32_t *>(src + transpose_row(d, b0 + 2 * bw + 1));
    }
  }
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int bw = warp + 8 * k;
    if (a_ok && b0 + 2 * bw < d.len_b) {
      /* r0 = {(a,b), (a+1,b)}, r1 = {(a,b+1), (a+1,b+1)} -> {(a,b), (a,b+1)}, {(a+1,b), ...} */
      tile[2 * lane][bw ^ lane] = __byte_perm(r0[k], r1[k], 0x5410);
      tile[2 * lane + 1][bw ^ lane] = __byte_perm(r0[k], r1[k], 0x7632);
    }
  }
  __syncthreads();
  uint16_t *dst = out + out_off + 2 * lane;
  const bool b_ok = b0 + 2 * lane < d.len_b;
#pragma unroll
  for (int k = 0; k < 8; k++) {
    const int ar = warp + 8 * k;
    if (b_ok && a0 + ar < d.len_a)
      *reinterpret_cast<uint32_t *>(dst + ar * d.out_stride_a) = tile[ar][lane ^ (ar >> 1)];
  }
}

/* Any element type W, 32x32 tile, 256 threads, rows padded by one element. */
template <typename W, int NB>
__global__ void __launch_bounds__(256)
    transpose_kernel(const transpose_desc<NB> d, const W *__restrict__ in, W *__restrict__ out) {
  __shared__ W tile[32][33];
  int64_t in_off, out_off, a0, b0;
  transpose_tile<NB, 32>(d, in_off, out_off, a0, b0);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (a0 + lane < d.len_a) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const int b = warp + 8 * k;
      if (b0 + b < d.len_b) tile[b][lane] = in[in_off + lane + transpose_row(d, b0 + b)];
    }
  }
  __syncthreads();
  if (b0 + lane < d.len_b) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const int a = warp + 8 * k;
      if (a0 + a < d.len_a) out[out_off + a * d.out_stride_a + lane] = tile[lane][a];
    }
  }
}

} // namespace einc_rt_cuda

#endif /* EINC_RT_CUDA_PERMUTE_CUH */

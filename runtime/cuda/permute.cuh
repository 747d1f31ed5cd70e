/*
 * Permute kernels as templates over a loop description, instantiated by the run-time launcher
 * (permute.cu) for every rank, element size and index width.
 *
 * - permute_vec_kernel: the innermost loop has unit stride on both sides, so every thread moves
 *   whole vectors (16 bytes where alignment allows) and only the outer loops are permuted.
 *   32-bit indices with multiply-shift division while every offset fits, 64-bit beyond 2^31.
 * - transpose_b16_kernel: the innermost axis moves, 2-byte elements (bf16 / f16): 64x64 to
 *   128x128 tiles through shared memory, 4-byte global accesses on both sides (pairs of
 *   elements, transposed 2x2 in registers with byte permutes) and an XOR swizzle that keeps
 *   shared memory free of bank conflicts.
 * - transpose_kernel: the innermost axis moves, any element size: 32x32 tiles, padded rows.
 * Loops other than the tiled ones are batch loops, walked one tile per block. Index arithmetic
 * is 32-bit with multiply-shift division while offsets fit: 64-bit divisions took 17% of the
 * fully reversed rank-5 permute's time on an H100.
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

/* A tile axis: up to three loops that continue each other on one side (the input for `a`, the
 * output for `b`), so index i along it sits at offset i on that side and at the sum of
 * (i's digits in the loops' mixed radix) x (their strides) on the other side. A short loop is
 * chained so that tile rows stay long: the reversed 8x8x8x... permutes would otherwise move
 * 16-byte rows. */
constexpr int kTransposeChainMax = 3;
template <typename Index> struct transpose_chain {
  Index stride[kTransposeChainMax];      /* other-side strides; 0 past the chain's last loop */
  fastdiv32 len[kTransposeChainMax - 1]; /* lengths of the loops but the last */
};

/* Other-side offset of index i along a chain (i < 2^31 when the chain has several loops). */
template <typename Index>
__device__ __forceinline__ Index chain_offset(const transpose_chain<Index> &c, Index i) {
  if (c.stride[1] == 0) return i * c.stride[0]; /* a single loop: no division */
  const uint32_t q = c.len[0].div((uint32_t)i);
  const Index off = (Index)((uint32_t)i - q * c.len[0].d) * c.stride[0];
  if (c.stride[2] == 0) return off + (Index)q * c.stride[1];
  const uint32_t q2 = c.len[1].div(q);
  return off + (Index)(q - q2 * c.len[1].d) * c.stride[1] + (Index)q2 * c.stride[2];
}

/* A transpose: the tile's `a` axis is contiguous in the input, its `b` axis in the output (each a
 * chain), NB batch loops. The block index splits into tiles of a (fastest), tiles of b, then the
 * batch loops, last listed fastest, each by a multiply-shift division (grids stay below 2^31
 * blocks). Index is uint32_t while every offset fits in 31 bits, int64_t beyond. */
template <typename Index, int NB> struct transpose_desc {
  Index len_a, len_b;
  transpose_chain<Index> a, b; /* a: output strides, b: input strides */
  fastdiv32 tiles_a, tiles_b;
  fastdiv32 batch_len[NB > 0 ? NB : 1];
  Index batch_in[NB > 0 ? NB : 1], batch_out[NB > 0 ? NB : 1];
};

/* The block's tile: batch offsets in the input and output, tile origin in (a, b). */
template <typename Index, int NB, int TA, int TB>
__device__ __forceinline__ void transpose_tile(const transpose_desc<Index, NB> &d, Index &in_off,
                                               Index &out_off, Index &a0, Index &b0) {
  uint32_t t = blockIdx.x, q;
  q = d.tiles_a.div(t), a0 = (Index)(t - q * d.tiles_a.d) * TA, t = q;
  q = d.tiles_b.div(t), b0 = (Index)(t - q * d.tiles_b.d) * TB, t = q;
  in_off = 0, out_off = 0;
#pragma unroll
  for (int k = NB - 1; k >= 0; k--) {
    q = d.batch_len[k].div(t);
    const Index c = t - q * d.batch_len[k].d;
    t = q;
    in_off += c * d.batch_in[k], out_off += c * d.batch_out[k];
  }
}

/* 2-byte elements, tiles of (64 MA) x (64 MB), 256 threads. Needs even lengths, strides and
 * 4-byte aligned pointers: every global access is an aligned pair of elements, so 32 lanes cover
 * 128 bytes of a row. 128-element sides (MA, MB = 2) where the axis is that long: each input and
 * output row a block touches is then 256 contiguous bytes, which device memory serves better
 * than 128 (rank 5 reversed 88% -> 92% of copy bandwidth on an H100). */
template <typename Index, int NB, int MA, int MB>
__global__ void __launch_bounds__(256)
    transpose_b16_kernel(const transpose_desc<Index, NB> d, const uint16_t *__restrict__ in,
                         uint16_t *__restrict__ out) {
  /* tile[a][b/2]: element pairs along b, the low 5 bits of the pair column XOR-swizzled by
   * (a/2) % 32 so that both phases are free of bank conflicts. */
  __shared__ uint32_t tile[64 * MA][32 * MB];
  Index in_off, out_off, a0, b0;
  transpose_tile<Index, NB, 64 * MA, 64 * MB>(d, in_off, out_off, a0, b0);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const uint16_t *src = in + in_off + a0 + 2 * lane;
  /* A pair of rows j, j + 1 (j even) shares its divisions when the chain's first loop is even. */
  const bool pair_rows = d.b.stride[1] == 0 || d.b.len[0].d % 2 == 0;
  uint32_t r0[MA][4 * MB], r1[MA][4 * MB];
#pragma unroll
  for (int k = 0; k < 4 * MB; k++) {
    const Index j = b0 + 2 * (warp + 8 * k);
    if (j < d.len_b) {
      const Index o0 = chain_offset(d.b, j);
      const Index o1 = pair_rows ? o0 + d.b.stride[0] : chain_offset(d.b, j + 1);
#pragma unroll
      for (int ca = 0; ca < MA; ca++)
        if (a0 + 64 * ca + 2 * lane < d.len_a) {
          r0[ca][k] = *reinterpret_cast<const uint32_t *>(src + 64 * ca + o0);
          r1[ca][k] = *reinterpret_cast<const uint32_t *>(src + 64 * ca + o1);
        }
    }
  }
  /* A chained `a` axis: each tile column's output offset once, while the loads are in flight,
   * instead of a division per written row in every thread. */
  __shared__ Index out_rows[64 * MA];
  const bool chained_a = d.a.stride[1] != 0;
  if (chained_a && threadIdx.x < 64 * MA && a0 + threadIdx.x < d.len_a)
    out_rows[threadIdx.x] = chain_offset(d.a, a0 + threadIdx.x);
#pragma unroll
  for (int k = 0; k < 4 * MB; k++) {
    const int bw = warp + 8 * k;
#pragma unroll
    for (int ca = 0; ca < MA; ca++)
      if (b0 + 2 * bw < d.len_b && a0 + 64 * ca + 2 * lane < d.len_a) {
        /* r0 = {(a,b), (a+1,b)}, r1 = {(a,b+1), (a+1,b+1)} -> {(a,b), (a,b+1)}, {(a+1,b), ...} */
        tile[64 * ca + 2 * lane][bw ^ lane] = __byte_perm(r0[ca][k], r1[ca][k], 0x5410);
        tile[64 * ca + 2 * lane + 1][bw ^ lane] = __byte_perm(r0[ca][k], r1[ca][k], 0x7632);
      }
  }
  __syncthreads();
  uint16_t *dst = out + out_off + b0 + 2 * lane;
#pragma unroll
  for (int k = 0; k < 8 * MA; k++) {
    const int ar = warp + 8 * k;
    if (a0 + ar < d.len_a) {
      uint16_t *row = dst + (chained_a ? out_rows[ar] : (a0 + ar) * d.a.stride[0]);
#pragma unroll
      for (int cb = 0; cb < MB; cb++)
        if (b0 + 64 * cb + 2 * lane < d.len_b)
          *reinterpret_cast<uint32_t *>(row + 64 * cb) =
              tile[ar][32 * cb + (lane ^ ((ar >> 1) % 32))];
    }
  }
}

/* Any element type W, 32x32 tile, 256 threads, rows padded by one element. */
template <typename W, typename Index, int NB>
__global__ void __launch_bounds__(256)
    transpose_kernel(const transpose_desc<Index, NB> d, const W *__restrict__ in,
                     W *__restrict__ out) {
  __shared__ W tile[32][33];
  Index in_off, out_off, a0, b0;
  transpose_tile<Index, NB, 32, 32>(d, in_off, out_off, a0, b0);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (a0 + lane < d.len_a) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const int b = warp + 8 * k;
      if (b0 + b < d.len_b) tile[b][lane] = in[in_off + a0 + lane + chain_offset(d.b, b0 + b)];
    }
  }
  __syncthreads();
  if (b0 + lane < d.len_b) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const int a = warp + 8 * k;
      if (a0 + a < d.len_a) out[out_off + b0 + lane + chain_offset(d.a, a0 + a)] = tile[lane][a];
    }
  }
}

} // namespace einc_rt_cuda

#endif /* EINC_RT_CUDA_PERMUTE_CUH */

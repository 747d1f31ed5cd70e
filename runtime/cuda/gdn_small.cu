/*
 * The GDN projection for small batches (T <= 16 tokens, decode) in one kernel. At these sizes
 * the projection is a matrix-vector product bound by reading W once, and a separate norm launch
 * plus cuBLAS's GEMM cost about 1.5x the floor, so the norm is fused into the product:
 *
 * - A cluster of 4 blocks shares a tile of ROWS output features; block `rank` of the cluster
 *   owns a quarter of the heads (a K-slice). It first asks L2 for its slice of W, then computes
 *   the gated norm of its heads for all tokens into shared memory (the same device function and
 *   rounding as the stand-alone norm), so Y never goes through device memory.
 * - Its 8 warps multiply that slice with mma.sync m16n8k16 (fp32 accumulate): each warp owns 16
 *   rows of W and a part of the slice, W streamed with 16-byte loads. K inside a 32-column
 *   step is permuted identically for W and Y so that one 16-byte load per row feeds two MMAs.
 * - Partial sums are added within the block through shared memory, then across the cluster
 *   through distributed shared memory, in a fixed order: the result is deterministic, and no
 *   workspace, atomics or second launch are needed (capture-safe).
 */
#include <cooperative_groups.h>

#include "cuda_common.h"
#include "gated_norm.cuh"

namespace cg = cooperative_groups;

namespace einc_rt_cuda {

constexpr int kCluster = 4;
constexpr int kSmallThreads = 256;
constexpr int kHeadDim = 128;
constexpr int kUnroll = 8; /* 32-column steps whose W loads are in flight together */

template <typename T> struct mma16816;
template <> struct mma16816<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                             uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};
template <> struct mma16816<__half> {
  static __device__ __forceinline__ void run(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                             uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};

/* W is read once: keep it out of L1. */
__device__ __forceinline__ uint4 load_stream(const void *p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

template <int ROWS, int TOK> constexpr size_t small_reduce_bytes() {
  return (size_t)(8 / (ROWS / 16)) * ROWS * TOK * sizeof(float);
}

template <typename T, int NT, int ROWS>
__global__ void __cluster_dims__(kCluster, 1, 1) __launch_bounds__(kSmallThreads)
    gdn_small_kernel(einc_rt__cuda_small_args a) {
  constexpr int TOK = NT * 8;   /* tokens padded to the MMA's N */
  constexpr int RG = ROWS / 16; /* warps along rows */
  constexpr int KS = 8 / RG;    /* warps along K */
  constexpr int N = vec16<T>::N;
  extern __shared__ __align__(16) unsigned char smem[];

  cg::cluster_group cluster = cg::this_cluster();
  const int rank = (int)cluster.block_rank();
  const int n_base = (int)(blockIdx.x / kCluster) * ROWS;
  const int heads = a.heads / kCluster;
  const int kc = heads * kHeadDim; /* columns of this block's K-slice */
  const int k0 = rank * kc;
  const int ys_stride = kc + 8; /* 16 bytes of padding per token row: no bank conflicts */
  T *ys = reinterpret_cast<T *>(smem);
  float *red = reinterpret_cast<float *>(smem + (size_t)TOK * ys_stride * sizeof(T));
  const T *W = static_cast<const T *>(a.W);

  /* Start streaming this block's W slice into L2 while the norm below runs. */
  {
    const int lines = kc * (int)sizeof(T) / 128;
    for (int i = threadIdx.x; i < ROWS * lines; i += kSmallThreads) {
      const int r = i / lines, l = i - r * lines;
      const char *p =
          reinterpret_cast<const char *>(W + (int64_t)(n_base + r) * a.W_row_stride + k0);
      asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p + l * 128));
    }
  }

  /* Gated norm of (token, head) rows, 16 lanes per row, kRows rows per lane in flight. */
  {
    constexpr int kRows = 4;
    const int lane16 = threadIdx.x % 16;
    const unsigned mask = 0xffffu << (threadIdx.x & 16);
    const T *o = static_cast<const T *>(a.o), *z = static_cast<const T *>(a.z);
    float w[N];
    vec16<T>::load(static_cast<const T *>(a.w) + lane16 * N, w);
    const int n_valid = a.tokens * heads;
    for (int base = threadIdx.x / 16; base < n_valid; base += 16 * kRows) {
      float ov[kRows][N], zv[kRows][N];
#pragma unroll
      for (int k = 0; k < kRows; k++) {
        const int row = base + 16 * k;
        if (row < n_valid) {
          const int t = row / heads, col = k0 + (row - t * heads) * kHeadDim + lane16 * N;
          vec16<T>::load(o + t * a.o_token_stride + col, ov[k]);
          vec16<T>::load(z + t * a.z_token_stride + col, zv[k]);
        }
      }
#pragma unroll
      for (int k = 0; k < kRows; k++) {
        const int row = base + 16 * k;
        if (row < n_valid) { /* uniform over the 16 lanes of a row */
          const int t = row / heads, hh = row - t * heads;
          float y[N];
          gated_row<16, N>(ov[k], zv[k], w, 1.0f / kHeadDim, a.eps, (int)a.gate, mask, y);
          vec16<T>::store(ys + t * ys_stride + hh * kHeadDim + lane16 * N, y);
        }
      }
    }
    /* Padding tokens multiply as zeros. */
    const int vecs = kc / 8;
    for (int i = threadIdx.x; i < (TOK - a.tokens) * vecs; i += kSmallThreads) {
      const int t = a.tokens + i / vecs, c = i % vecs;
      *reinterpret_cast<uint4 *>(ys + t * ys_stride + c * 8) = make_uint4(0, 0, 0, 0);
    }
  }
  __syncthreads();

  /* out^T[rows, tokens] += W[rows, slice] · Y[tokens, slice]^T on the tensor cores. */
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int rg = warp % RG, ks = warp / RG;
  const int g = lane / 4, tig = lane % 4;
  const int kw = kc / KS, kw0 = ks * kw, steps = kw / 32;
  const T *w0 = W + (int64_t)(n_base + rg * 16 + g) * a.W_row_stride + k0 + kw0 + tig * 8;
  const T *w1 = w0 + 8 * a.W_row_stride;
  const T *yrow = ys + g * ys_stride + kw0 + tig * 8;
  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; j++)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;

  for (int s0 = 0; s0 < steps; s0 += kUnroll) {
    uint4 wa[kUnroll], wb[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      if (s0 + u < steps) {
        wa[u] = load_stream(w0 + (s0 + u) * 32);
        wb[u] = load_stream(w1 + (s0 + u) * 32);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      if (s0 + u < steps) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
          const uint4 y =
              *reinterpret_cast<const uint4 *>(yrow + j * 8 * ys_stride + (s0 + u) * 32);
          mma16816<T>::run(acc[j], wa[u].x, wb[u].x, wa[u].y, wb[u].y, y.x, y.y);
          mma16816<T>::run(acc[j], wa[u].z, wb[u].z, wa[u].w, wb[u].w, y.z, y.w);
        }
      }
    }
  }

  /* Accumulator (row g / g+8, token 2*tig + {0,1}) -> red[ks][row][token]. */
#pragma unroll
  for (int j = 0; j < NT; j++) {
    const int t = j * 8 + tig * 2;
    float *r0 = red + (ks * ROWS + rg * 16 + g) * TOK + t;
    r0[0] = acc[j][0], r0[1] = acc[j][1];
    r0[8 * TOK] = acc[j][2], r0[8 * TOK + 1] = acc[j][3];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < ROWS * TOK; i += kSmallThreads) {
    float s = red[i];
#pragma unroll
    for (int k = 1; k < KS; k++)
      s += red[k * ROWS * TOK + i];
    red[i] = s;
  }
  cluster.sync();

  /* Block `rank` finishes a quarter of the tile's rows from the four blocks' partial sums. */
  constexpr int RPR = ROWS / kCluster;
  T *out = static_cast<T *>(a.out);
  for (int i = threadIdx.x; i < RPR * TOK; i += kSmallThreads) {
    const int t = i / RPR, r = rank * RPR + i % RPR;
    if (t < a.tokens) {
      float s = 0.f;
#pragma unroll
      for (int q = 0; q < kCluster; q++)
        s += cluster.map_shared_rank(red, q)[r * TOK + t];
      out[(int64_t)t * a.out_row_stride + n_base + r] = from_f32<T>(s);
    }
  }
  cluster.sync(); /* keep this block's shared memory alive until the others have read it */
}

template <typename T, int NT, int ROWS> constexpr size_t small_smem_bytes(int kc) {
  return (size_t)NT * 8 * (kc + 8) * sizeof(T) + small_reduce_bytes<ROWS, NT * 8>();
}

constexpr int kMaxSmallSmem = 160 * 1024;

template <typename T, int NT, int ROWS> static cudaError_t prepare_one() {
  return cudaFuncSetAttribute(gdn_small_kernel<T, NT, ROWS>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSmallSmem);
}

template <typename T, int NT, int ROWS>
static cudaError_t launch_one(const einc_rt__cuda_small_args *a, cudaStream_t stream) {
  const int kc = a->heads / kCluster * kHeadDim;
  const size_t smem = small_smem_bytes<T, NT, ROWS>(kc);
  const unsigned grid = (unsigned)(a->rows / ROWS * kCluster);
  gdn_small_kernel<T, NT, ROWS><<<grid, kSmallThreads, smem, stream>>>(*a);
  return cudaGetLastError();
}

template <typename T>
static cudaError_t launch_dtype(const einc_rt__cuda_small_args *a, int32_t sm_count,
                                cudaStream_t stream) {
  /* 64 rows a tile halves the norm's repeats, when that still leaves a block for most SMs. */
  const bool wide = a->rows % 64 == 0 && a->rows / 64 * kCluster >= sm_count - sm_count / 8;
  if (a->tokens <= 8)
    return wide ? launch_one<T, 1, 64>(a, stream) : launch_one<T, 1, 32>(a, stream);
  return wide ? launch_one<T, 2, 64>(a, stream) : launch_one<T, 2, 32>(a, stream);
}

template <typename T> static cudaError_t prepare_dtype() {
  cudaError_t e;
  if ((e = prepare_one<T, 1, 32>()) != cudaSuccess) return e;
  if ((e = prepare_one<T, 1, 64>()) != cudaSuccess) return e;
  if ((e = prepare_one<T, 2, 32>()) != cudaSuccess) return e;
  return prepare_one<T, 2, 64>();
}

static bool aligned16(const void *p) {
  return ((uintptr_t)p & 15u) == 0;
}

} // namespace einc_rt_cuda

extern "C" bool einc_rt__cuda_small_fits(const einc_rt__cuda_small_args *a) {
  using namespace einc_rt_cuda;
  if (a->dtype != EINC_RT_BF16 && a->dtype != EINC_RT_F16) return false;
  if (a->tokens < 1 || a->tokens > EINC_RT__CUDA_SMALL_MAX_TOKENS) return false;
  if (a->heads < kCluster || a->heads % kCluster != 0 || a->rows % 32 != 0) return false;
  const int kc = a->heads / kCluster * kHeadDim;
  if (small_smem_bytes<__half, 2, 32>(kc) > (size_t)kMaxSmallSmem) return false;
  if (a->o_token_stride % 8 || a->z_token_stride % 8 || a->W_row_stride % 8) return false;
  if ((a->o && !aligned16(a->o)) || (a->z && !aligned16(a->z)) || (a->w && !aligned16(a->w)) ||
      (a->W && !aligned16(a->W)))
    return false;
  return true;
}

extern "C" cudaError_t einc_rt__cuda_small_prepare(void) {
  cudaError_t e = einc_rt_cuda::prepare_dtype<__nv_bfloat16>();
  return e != cudaSuccess ? e : einc_rt_cuda::prepare_dtype<__half>();
}

extern "C" cudaError_t einc_rt__cuda_small_launch(const einc_rt__cuda_small_args *a,
                                                  int32_t sm_count, cudaStream_t stream) {
  if (a->dtype == EINC_RT_BF16)
    return einc_rt_cuda::launch_dtype<__nv_bfloat16>(a, sm_count, stream);
  return einc_rt_cuda::launch_dtype<__half>(a, sm_count, stream);
}

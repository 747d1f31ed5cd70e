/*
 * The GDN projection's product for the fewest tokens (T <= 16): out[t, n] = Y[t, :] · W[n, :],
 * after the norm kernel has written Y. Bound by reading W once. One token: written like a plain
 * streaming read, every lane holding four 16-byte vectors of W (a warp covers 1024 contiguous
 * columns of one row with 512-byte loads), the whole GPU full of such warps, fp32 dot products
 * on the CUDA cores, a shuffle reduction per warp and a fixed-order sum over the warps of a row
 * (deterministic). 2-16 tokens: the tensor-core kernel below. Measured slower and dropped: the
 * CUDA-core kernel for 2-4 tokens (every warp reads Y's chunk per token: 12.6 us at T = 4, H=32
 * D=2048, against 9.7 on the tensor cores), with four rows a warp (fewer warps in flight: 37
 * against 30 us at T = 4, H=48 D=5120) or with persistent blocks staging Y in shared memory
 * (14.8 and 41 us).
 *
 * It is launched as the norm kernel's programmatic dependent: its blocks start while the norm
 * still runs and ask for their W at once; `griddepcontrol.wait` then holds them until the norm
 * grid has finished and its Y is visible, before Y is read or `out` written. W must therefore
 * not be written by the norm, which it never is; everything before the norm in the stream has
 * finished before the norm started.
 */
#include "cuda_common.h"
#include "gated_norm.cuh"

namespace einc_rt_cuda {

constexpr int kGemvCols = 1024; /* columns of W a warp covers: 32 lanes x 4 vectors x 8 */
constexpr int kGemvVecs = 4;
constexpr int kGemvMaxWarps = 8;

/* W is read once: keep it out of L1. */
__device__ __forceinline__ uint4 load_once(const void *p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/* Y, written by the norm kernel: a coherent load that is never moved above the wait. (L2-only
 * loads, ld.global.cg, cost 0.9 us more at T = 1.) */
__device__ __forceinline__ uint4 load_y(const uint4 *p) {
  uint4 v;
  asm volatile("ld.global.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p)
               : "memory");
  return v;
}

__device__ __forceinline__ float dot8(uint4 a, uint4 b, float acc, __nv_bfloat16 *) {
  const uint32_t x[4] = {a.x, a.y, a.z, a.w}, y[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    acc = fmaf(__uint_as_float(x[i] << 16), __uint_as_float(y[i] << 16), acc);
    acc = fmaf(__uint_as_float(x[i] & 0xffff0000u), __uint_as_float(y[i] & 0xffff0000u), acc);
  }
  return acc;
}
__device__ __forceinline__ float dot8(uint4 a, uint4 b, float acc, __half *) {
  const uint32_t x[4] = {a.x, a.y, a.z, a.w}, y[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    __half2 hx, hy;
    memcpy(&hx, &x[i], 4);
    memcpy(&hy, &y[i], 4);
    const float2 fx = __half22float2(hx), fy = __half22float2(hy);
    acc = fmaf(fx.x, fy.x, acc);
    acc = fmaf(fx.y, fy.y, acc);
  }
  return acc;
}

/* Block: `rows` rows of W, `chunks` = K / 1024 warps each. */
template <typename T, int NTOK>
__global__ void __launch_bounds__(kGemvMaxWarps * 32)
    gdn_gemv_kernel(einc_rt__cuda_gemv_args a, int chunks, int rows) {
  __shared__ float red[kGemvMaxWarps][NTOK];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n = (int64_t)blockIdx.x * rows + warp / chunks;
  const int c = warp % chunks;
  const bool live = n < a.rows;

  uint4 wv[kGemvVecs];
  if (live) {
    const T *wrow = static_cast<const T *>(a.W) + n * a.W_row_stride + (int64_t)c * kGemvCols;
#pragma unroll
    for (int j = 0; j < kGemvVecs; j++)
      wv[j] = load_once(wrow + (j * 32 + lane) * 8);
  }
  /* Wait for the norm grid to finish and its Y to be visible. Y is then read by volatile
   * coherent loads: a non-coherent __ldg counts as invariant, and the compiler hoisted it above
   * this wait (a test failed that way). */
  asm volatile("griddepcontrol.wait;\n" ::: "memory");

  float acc[NTOK];
#pragma unroll
  for (int t = 0; t < NTOK; t++) {
    acc[t] = 0.f;
    if (live && t < a.tokens) {
      const uint4 *yrow = reinterpret_cast<const uint4 *>(
          static_cast<const T *>(a.y) + (int64_t)t * a.y_token_stride + c * kGemvCols);
#pragma unroll
      for (int j = 0; j < kGemvVecs; j++)
        acc[t] = dot8(wv[j], load_y(yrow + j * 32 + lane), acc[t], static_cast<T *>(nullptr));
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2)
      acc[t] += __shfl_xor_sync(0xffffffffu, acc[t], off);
  }
  if (lane == 0)
#pragma unroll
    for (int t = 0; t < NTOK; t++)
      red[warp][t] = acc[t];
  __syncthreads();
  /* Thread (row r, token t) adds the row's chunks in order. */
  if ((int)threadIdx.x < rows * NTOK) {
    const int r = threadIdx.x / NTOK, t = threadIdx.x % NTOK;
    const int64_t row = (int64_t)blockIdx.x * rows + r;
    if (row < a.rows && t < a.tokens) {
      float s = 0.f;
      for (int q = 0; q < chunks; q++)
        s += red[r * chunks + q][t];
      static_cast<T *>(a.out)[(int64_t)t * a.out_row_stride + row] = from_f32<T>(s);
    }
  }
}

/* 2-16 tokens: on the tensor cores. A block takes 16 rows of W (one MMA's M); its K / 128 warps
 * (so K <= 4096: 1024 threads, 64 registers each) take 128 columns each and hold them in
 * registers (two 16-byte vectors per lane and 32-column step, rows g and g + 8), so W is
 * still streamed once with every load in flight before the wait. Y's fragments come from L1/L2: T x
 * 128 columns a warp, at T = 16 as many bytes as its W (against T times W's bytes when every warp
 * computes on the CUDA cores). K inside a 32-column
 * step is permuted identically for W and Y, as in the fused kernel, so one 16-byte load per row
 * feeds two MMAs. Warp sums meet in shared memory in a fixed order. */
constexpr int kMmaMaxWarps = 32;
/* (256 columns a warp, 24 warps, for K = 6144 measured slower than norm + cuBLASLt: 28.9 against
 * 27.2 us at T = 4, 36.2 against 27.8 at T = 16, H=48 D=5120; such shapes take the split path.) */

constexpr int kMmaCols = 128;
constexpr int kMmaSteps = kMmaCols / 32;

template <typename T, int NT>
__global__ void __launch_bounds__(kMmaMaxWarps * 32)
    gdn_gemv_mma_kernel(einc_rt__cuda_gemv_args a) {
  constexpr int TOK = NT * 8;
  __shared__ float red[kMmaMaxWarps][16][TOK];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const int g = lane / 4, tig = lane % 4;
  const int64_t n0 = (int64_t)blockIdx.x * 16;
  const int64_t k0 = (int64_t)warp * kMmaCols + tig * 8;
  const bool ra = n0 + g < a.rows, rb = n0 + g + 8 < a.rows;

  uint4 wa[kMmaSteps], wb[kMmaSteps];
  {
    const T *w0 = static_cast<const T *>(a.W) + (n0 + g) * a.W_row_stride + k0;
    const T *w1 = w0 + 8 * a.W_row_stride;
#pragma unroll
    for (int st = 0; st < kMmaSteps; st++) {
      wa[st] = ra ? load_once(w0 + st * 32) : make_uint4(0, 0, 0, 0);
      wb[st] = rb ? load_once(w1 + st * 32) : make_uint4(0, 0, 0, 0);
    }
  }
  asm volatile("griddepcontrol.wait;\n" ::: "memory"); /* as in the one-token kernel */

  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; j++) {
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
    const int t = j * 8 + g; /* this lane's token in the B fragment */
    const uint4 *yrow = reinterpret_cast<const uint4 *>(static_cast<const T *>(a.y) +
                                                        (int64_t)t * a.y_token_stride + k0);
#pragma unroll
    for (int st = 0; st < kMmaSteps; st++) {
      const uint4 y = t < a.tokens ? load_y(yrow + st * 4) : make_uint4(0, 0, 0, 0);
      mma16816<T>::run(acc[j], wa[st].x, wb[st].x, wa[st].y, wb[st].y, y.x, y.y);
      mma16816<T>::run(acc[j], wa[st].z, wb[st].z, wa[st].w, wb[st].w, y.z, y.w);
    }
  }
  /* Accumulator (row g / g + 8, token 2·tig + {0,1}) -> red[warp][row][token]. */
#pragma unroll
  for (int j = 0; j < NT; j++) {
    const int t = j * 8 + tig * 2;
    red[warp][g][t] = acc[j][0], red[warp][g][t + 1] = acc[j][1];
    red[warp][g + 8][t] = acc[j][2], red[warp][g + 8][t + 1] = acc[j][3];
  }
  __syncthreads();
  for (int e = threadIdx.x; e < 16 * a.tokens; e += blockDim.x) {
    const int t = e / 16, r = e % 16;
    if (n0 + r < a.rows) {
      float sum = 0.f;
      for (int q = 0; q < warps; q++)
        sum += red[q][r][t];
      static_cast<T *>(a.out)[(int64_t)t * a.out_row_stride + n0 + r] = from_f32<T>(sum);
    }
  }
}

template <typename T, int NT>
static cudaError_t launch_gemv_mma(const einc_rt__cuda_gemv_args *a, cudaStream_t stream) {
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.gridDim = dim3((unsigned)((a->rows + 15) / 16));
  cfg.blockDim = dim3((unsigned)(32 * (a->cols / kMmaCols)));
  cfg.stream = stream;
  cfg.attrs = attr, cfg.numAttrs = 1;
  return cudaLaunchKernelEx(&cfg, gdn_gemv_mma_kernel<T, NT>, *a);
}

template <typename T, int NTOK>
static cudaError_t launch_gemv(const einc_rt__cuda_gemv_args *a, cudaStream_t stream) {
  const int chunks = (int)(a->cols / kGemvCols);
  const int rows = kGemvMaxWarps / chunks > 0 ? kGemvMaxWarps / chunks : 1;
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.gridDim = dim3((unsigned)((a->rows + rows - 1) / rows));
  cfg.blockDim = dim3((unsigned)(32 * chunks * rows));
  cfg.stream = stream;
  cfg.attrs = attr, cfg.numAttrs = 1;
  return cudaLaunchKernelEx(&cfg, gdn_gemv_kernel<T, NTOK>, *a, chunks, rows);
}

template <typename T>
static cudaError_t launch_dtype(const einc_rt__cuda_gemv_args *a, cudaStream_t stream) {
  if (a->tokens == 1) return launch_gemv<T, 1>(a, stream);
  return a->tokens <= 8 ? launch_gemv_mma<T, 1>(a, stream) : launch_gemv_mma<T, 2>(a, stream);
}

static bool aligned16(const void *p) {
  return ((uintptr_t)p & 15u) == 0;
}

} // namespace einc_rt_cuda

extern "C" bool einc_rt__cuda_gemv_fits(const einc_rt__cuda_gemv_args *a) {
  using namespace einc_rt_cuda;
  if (a->dtype != EINC_RT_BF16 && a->dtype != EINC_RT_F16) return false;
  if (a->tokens < 1 || a->tokens > EINC_RT__CUDA_GEMV_MAX_TOKENS) return false;
  if (a->rows < 1) return false;
  if (a->tokens == 1 ? a->cols % kGemvCols != 0 || a->cols / kGemvCols > kGemvMaxWarps
                     : a->cols % kMmaCols != 0 || a->cols / kMmaCols > kMmaMaxWarps)
    return false;
  if (a->W_row_stride % 8 || a->y_token_stride % 8) return false;
  return (!a->W || aligned16(a->W)) && (!a->y || aligned16(a->y));
}

extern "C" cudaError_t einc_rt__cuda_gemv_launch(const einc_rt__cuda_gemv_args *a,
                                                 cudaStream_t stream) {
  if (a->dtype == EINC_RT_BF16) return einc_rt_cuda::launch_dtype<__nv_bfloat16>(a, stream);
  return einc_rt_cuda::launch_dtype<__half>(a, stream);
}

/*
 * The gated RMSNorm of the GDN projection on CUDA: y = cast(o * r * w * act(z)) per (token,
 * head) row. Bandwidth-bound: for rows that fit one 16-byte vector per lane (d = 128 in bf16,
 * f16 and f32) several rows share a warp, each lane loads its o, z and w vectors once and the sum
 * of squares is reduced with shuffles; other sizes and unaligned tensors take a scalar path with
 * one warp per row.
 */
#include "cuda_common.h"
#include "gated_norm.cuh"

namespace einc_rt_cuda {

constexpr int kNormThreads = 256;
/* Rows a lane works on. One row a lane in twice the blocks measured faster than two rows a lane
 * on the H100 at every size (bf16, d = 128, norm alone: H=32 8.5 / 67.4 / 262 us against 9.3 /
 * 69.8 / 271 at T = 1024 / 8192 / 32768, H=48 13.1 / 100 / 392 against 14.5 / 107 / 422; four
 * rows a lane: 11-33% slower). The kernel is written for any count. */
constexpr int kRowsPerThread = 1;

template <typename T, int LANES>
__global__ void __launch_bounds__(kNormThreads) gated_norm_vec_kernel(einc_rt__cuda_norm_args a) {
  using V = vec16<T>;
  constexpr int N = V::N;
  constexpr int rows_per_pass = kNormThreads / LANES;
  const int lane = threadIdx.x % LANES;
  const int64_t n_rows = a.tokens * a.heads;
  const int64_t row0 = (int64_t)blockIdx.x * rows_per_pass * kRowsPerThread + threadIdx.x / LANES;
  const T *o = static_cast<const T *>(a.o), *z = static_cast<const T *>(a.z);
  T *y = static_cast<T *>(a.y);

  float w[N];
  V::load(static_cast<const T *>(a.w) + lane * N, w);

  float ov[kRowsPerThread][N], zv[kRowsPerThread][N];
  int64_t yoff[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; k++) {
    const int64_t row = row0 + (int64_t)k * rows_per_pass;
    const int64_t r = row < n_rows ? row : n_rows - 1; /* clamped: every lane joins the shuffles */
    /* 32-bit division while rows fit: a 64-bit one costs as much as the row's arithmetic. */
    const int64_t t = n_rows < INT32_MAX ? (int64_t)((uint32_t)r / (uint32_t)a.heads) : r / a.heads;
    const int64_t h = r - t * a.heads;
    V::load(o + t * a.o_token_stride + h * a.o_head_stride + lane * N, ov[k]);
    V::load(z + t * a.z_token_stride + h * a.z_head_stride + lane * N, zv[k]);
    yoff[k] = row < n_rows ? t * a.y_token_stride + h * a.y_head_stride + lane * N : -1;
  }
  /* A kernel launched as this one's programmatic dependent (the small-batch GEMV) may start now
   * and stream its weights; it waits for this grid's completion before it reads Y. */
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  const float inv_dim = 1.0f / (float)a.dim;
#pragma unroll
  for (int k = 0; k < kRowsPerThread; k++) {
    float yv[N];
    gated_row<LANES, N>(ov[k], zv[k], w, inv_dim, a.eps, (int)a.gate, 0xffffffffu, yv);
    if (yoff[k] >= 0) V::store(y + yoff[k], yv);
  }
}

/* Any d, any alignment: one warp per row, two passes over the row (the second hits L1). */
template <typename T>
__global__ void __launch_bounds__(kNormThreads)
    gated_norm_scalar_kernel(einc_rt__cuda_norm_args a) {
  const int64_t row = (int64_t)blockIdx.x * (kNormThreads / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  if (row >= a.tokens * a.heads) return;
  const int64_t t = row / a.heads, h = row - t * a.heads;
  const T *o = static_cast<const T *>(a.o) + t * a.o_token_stride + h * a.o_head_stride;
  const T *z = static_cast<const T *>(a.z) + t * a.z_token_stride + h * a.z_head_stride;
  const T *w = static_cast<const T *>(a.w);
  T *y = static_cast<T *>(a.y) + t * a.y_token_stride + h * a.y_head_stride;
  float ss = 0.f;
  for (int i = lane; i < a.dim; i += 32) {
    const float x = to_f32(o[i]);
    ss = fmaf(x, x, ss);
  }
  for (int off = 16; off > 0; off /= 2)
    ss += __shfl_xor_sync(0xffffffffu, ss, off);
  const float r = rsqrtf(ss / (float)a.dim + a.eps);
  for (int i = lane; i < a.dim; i += 32)
    y[i] = from_f32<T>(to_f32(o[i]) * r * to_f32(w[i]) * gate_act(to_f32(z[i]), (int)a.gate));
}

static bool aligned16(const void *p) {
  return ((uintptr_t)p & 15u) == 0;
}

template <typename T>
static cudaError_t launch(const einc_rt__cuda_norm_args *a, cudaStream_t stream) {
  constexpr int N = vec16<T>::N;
  const int64_t n_rows = a->tokens * a->heads;
  if (n_rows == 0) return cudaSuccess;
  const bool vec = a->dim % N == 0 && aligned16(a->o) && aligned16(a->z) && aligned16(a->w) &&
                   aligned16(a->y) && a->o_token_stride % N == 0 && a->o_head_stride % N == 0 &&
                   a->z_token_stride % N == 0 && a->z_head_stride % N == 0 &&
                   a->y_token_stride % N == 0 && a->y_head_stride % N == 0;
  const int lanes = a->dim / N;
  if (vec && (lanes == 8 || lanes == 16 || lanes == 32)) {
    const int64_t per_block = (int64_t)(kNormThreads / lanes) * kRowsPerThread;
    const unsigned grid = (unsigned)((n_rows + per_block - 1) / per_block);
    if (lanes == 8) gated_norm_vec_kernel<T, 8><<<grid, kNormThreads, 0, stream>>>(*a);
    if (lanes == 16) gated_norm_vec_kernel<T, 16><<<grid, kNormThreads, 0, stream>>>(*a);
    if (lanes == 32) gated_norm_vec_kernel<T, 32><<<grid, kNormThreads, 0, stream>>>(*a);
  } else {
    const int64_t per_block = kNormThreads / 32;
    const unsigned grid = (unsigned)((n_rows + per_block - 1) / per_block);
    gated_norm_scalar_kernel<T><<<grid, kNormThreads, 0, stream>>>(*a);
  }
  return cudaGetLastError();
}

} // namespace einc_rt_cuda

extern "C" cudaError_t einc_rt__cuda_gated_norm_launch(const einc_rt__cuda_norm_args *args,
                                                       cudaStream_t stream) {
  switch (args->dtype) {
  case EINC_RT_F32:
    return einc_rt_cuda::launch<float>(args, stream);
  case EINC_RT_BF16:
    return einc_rt_cuda::launch<__nv_bfloat16>(args, stream);
  case EINC_RT_F16:
    return einc_rt_cuda::launch<__half>(args, stream);
  }
  return cudaErrorInvalidValue;
}

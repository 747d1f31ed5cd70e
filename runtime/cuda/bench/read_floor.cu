/*
 * The small-batch reference point of the GDN benchmark: a kernel that only reads a matrix once
 * (16-byte loads, several in flight per thread, a checksum per block so the loads stay), timed
 * like the projection, from a CUDA graph over rotating copies. At T <= 128 the projection is
 * bound by reading W; this is what reading W costs on its own at that size, cold start and tail
 * included, beside the bytes-over-copy-bandwidth floor.
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "read_floor.h"

namespace {

constexpr int kThreads = 256;
constexpr int kInFlight = 8;

__global__ void __launch_bounds__(kThreads) read_kernel(const uint4 *p, int64_t n, uint32_t *sink) {
  uint32_t acc = 0;
  const int64_t stride = (int64_t)gridDim.x * kThreads;
  for (int64_t base = (int64_t)blockIdx.x * kThreads + threadIdx.x; base < n;
       base += stride * kInFlight) {
    uint4 v[kInFlight];
#pragma unroll
    for (int k = 0; k < kInFlight; k++) {
      const int64_t i = base + k * stride;
      v[k] = i < n ? __ldcs(p + i) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int k = 0; k < kInFlight; k++)
      acc ^= v[k].x ^ v[k].y ^ v[k].z ^ v[k].w;
  }
  for (int off = 16; off > 0; off /= 2)
    acc ^= __shfl_xor_sync(0xffffffffu, acc, off);
  if (threadIdx.x % 32 == 0) atomicXor(sink + blockIdx.x, acc);
}

} // namespace

extern "C" cudaError_t bench_read_launch(const void *p, size_t bytes, uint32_t *sink, int blocks,
                                         cudaStream_t s) {
  read_kernel<<<blocks, kThreads, 0, s>>>(static_cast<const uint4 *>(p), (int64_t)(bytes / 16),
                                          sink);
  return cudaGetLastError();
}

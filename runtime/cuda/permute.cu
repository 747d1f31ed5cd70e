/*
 * The run-time launcher of the permute kernels (permute.cuh): coalesces the loop description,
 * then picks a vector copy when the innermost loop stays in place, a tiled transpose when it
 * moves, and the widest element or vector the alignment of every pointer and stride allows.
 */
#include <string.h>

#include "cuda_common.h"
#include "permute.cuh"
#include "permute.h"

namespace einc_rt_cuda {

struct loops {
  int n;
  einc_rt_cuda_permute_loop l[64];
};

/* Drop length-1 loops and fuse neighbours that stay adjacent on both sides. */
static void coalesce(loops &s) {
  int n = 0;
  for (int i = 0; i < s.n; i++) {
    if (s.l[i].length == 1) continue;
    if (n > 0) {
      einc_rt_cuda_permute_loop &p = s.l[n - 1];
      const einc_rt_cuda_permute_loop &c = s.l[i];
      if (p.in_stride == c.in_stride * c.length && p.out_stride == c.out_stride * c.length) {
        p.length *= c.length;
        p.in_stride = c.in_stride, p.out_stride = c.out_stride;
        continue;
      }
    }
    s.l[n++] = s.l[i];
  }
  s.n = n;
}

static bool aligned(const void *p, size_t bytes) {
  return ((uintptr_t)p % bytes) == 0;
}

template <typename V, typename Index, int RANK>
static cudaError_t launch_vec_rank(const loops &s, int64_t total, const void *in, void *out,
                                   cudaStream_t stream) {
  permute_vec_desc<Index, RANK> d;
  for (int k = 0; k < RANK; k++) {
    if constexpr (sizeof(Index) == 4)
      d.dims[k].len = fastdiv32((uint32_t)s.l[k].length);
    else
      d.dims[k].len = s.l[k].length;
    d.dims[k].in_stride = (Index)s.l[k].in_stride;
    d.dims[k].out_stride = (Index)s.l[k].out_stride;
  }
  d.total = (Index)total;
  const int64_t per_block = kPermuteThreads * kPermuteVecPerThread;
  const int64_t grid = (total + per_block - 1) / per_block;
  if (grid > 0x7fffffff) return cudaErrorInvalidConfiguration;
  permute_vec_kernel<V, Index, RANK><<<(unsigned)grid, kPermuteThreads, 0, stream>>>(
      d, static_cast<const V *>(in), static_cast<V *>(out));
  return cudaGetLastError();
}

template <typename V, typename Index>
static cudaError_t launch_vec_index(const loops &s, int64_t total, const void *in, void *out,
                                    cudaStream_t stream) {
  switch (s.n) {
  case 1:
    return launch_vec_rank<V, Index, 1>(s, total, in, out, stream);
  case 2:
    return launch_vec_rank<V, Index, 2>(s, total, in, out, stream);
  case 3:
    return launch_vec_rank<V, Index, 3>(s, total, in, out, stream);
  case 4:
    return launch_vec_rank<V, Index, 4>(s, total, in, out, stream);
  case 5:
    return launch_vec_rank<V, Index, 5>(s, total, in, out, stream);
  case 6:
    return launch_vec_rank<V, Index, 6>(s, total, in, out, stream);
  }
  return cudaErrorInvalidValue;
}

/* `s` in units of V; the last loop has unit strides (or is any loop when none has). */
template <typename V>
static cudaError_t launch_vec(const loops &s, const void *in, void *out, cudaStream_t stream) {
  int64_t total = 1, max_in = 0, max_out = 0;
  for (int k = 0; k < s.n; k++) {
    total *= s.l[k].length;
    max_in += (s.l[k].length - 1) * s.l[k].in_stride;
    max_out += (s.l[k].length - 1) * s.l[k].out_stride;
  }
  const int64_t lim = (int64_t)1 << 31;
  if (total < lim && max_in < lim && max_out < lim)
    return launch_vec_index<V, uint32_t>(s, total, in, out, stream);
  return launch_vec_index<V, int64_t>(s, total, in, out, stream);
}

/* Rescale `s` (element units) to vectors of `v` elements when every stride, the inner length
 * and both pointers allow it. */
static bool to_vectors(const loops &s, int64_t v, size_t bytes, const void *in, void *out,
                       loops &r) {
  const einc_rt_cuda_permute_loop &inner = s.l[s.n - 1];
  if (inner.in_stride != 1 || inner.out_stride != 1 || inner.length % v) return false;
  if (!aligned(in, bytes) || !aligned(out, bytes)) return false;
  r = s;
  for (int k = 0; k < s.n - 1; k++) {
    if (s.l[k].in_stride % v || s.l[k].out_stride % v) return false;
    r.l[k].in_stride /= v, r.l[k].out_stride /= v;
  }
  r.l[s.n - 1].length /= v;
  return true;
}

static cudaError_t launch_copy(const loops &s, size_t es, const void *in, void *out,
                               cudaStream_t stream) {
  loops r;
  const size_t widths[] = {16, 8, 4, 2};
  for (size_t w : widths) {
    if (w <= es || w % es) continue;
    if (!to_vectors(s, (int64_t)(w / es), w, in, out, r)) continue;
    if (w == 16) return launch_vec<uint4>(r, in, out, stream);
    if (w == 8) return launch_vec<uint2>(r, in, out, stream);
    if (w == 4) return launch_vec<uint32_t>(r, in, out, stream);
    return launch_vec<uint16_t>(r, in, out, stream);
  }
  switch (es) {
  case 1:
    return launch_vec<uint8_t>(s, in, out, stream);
  case 2:
    return launch_vec<uint16_t>(s, in, out, stream);
  case 4:
    return launch_vec<uint32_t>(s, in, out, stream);
  case 8:
    return launch_vec<uint2>(s, in, out, stream);
  case 16:
    return launch_vec<uint4>(s, in, out, stream);
  }
  return cudaErrorInvalidValue;
}

/* The loops of one tile axis, first the one with unit stride on its side. */
struct chain {
  int n;
  int loop[kTransposeChainMax];
  int64_t length;
  bool has(int k) const {
    for (int i = 0; i < n; i++)
      if (loop[i] == k) return true;
    return false;
  }
};

/* Starts a chain at loop `k` and, while it is shorter than a 128-element tile side, appends the
 * loop that continues it on its side (stride there == the chain's length so far). Skips loops in
 * `other` and broadcasts (a zero stride marks a chain's end), and keeps indices in 31 bits. */
static chain make_chain(const loops &s, int k, const chain *other, bool in_side) {
  chain c = {1, {k, -1, -1}, s.l[k].length};
  while (c.n < kTransposeChainMax && c.length < 128) {
    int next = -1;
    for (int j = 0; j < s.n && next < 0; j++) {
      const int64_t in = s.l[j].in_stride, out = s.l[j].out_stride;
      if (c.has(j) || (other && other->has(j)) || in == 0 || out == 0) continue;
      if ((in_side ? in : out) == c.length && s.l[j].length * c.length < ((int64_t)1 << 31))
        next = j;
    }
    if (next < 0) break;
    c.loop[c.n++] = next;
    c.length *= s.l[next].length;
  }
  return c;
}

/* The device form of a chain: the other side's strides and the divisors. */
template <typename Index>
static transpose_chain<Index> device_chain(const loops &s, const chain &c, bool in_side) {
  transpose_chain<Index> d;
  memset(&d, 0, sizeof d);
  for (int i = 0; i < kTransposeChainMax - 1; i++)
    d.len[i] = fastdiv32(i < c.n ? (uint32_t)s.l[c.loop[i]].length : 1u);
  for (int i = 0; i < c.n; i++)
    d.stride[i] = (Index)(in_side ? s.l[c.loop[i]].out_stride : s.l[c.loop[i]].in_stride);
  return d;
}

template <typename W, typename Index, int NB>
static void launch_transpose_w(const transpose_desc<Index, NB> &d, unsigned grid, const void *in,
                               void *out, cudaStream_t stream) {
  transpose_kernel<W, Index, NB>
      <<<grid, 256, 0, stream>>>(d, static_cast<const W *>(in), static_cast<W *>(out));
}

template <typename Index, int NB, int MA, int MB>
static void launch_transpose_b16(const transpose_desc<Index, NB> &d, unsigned grid, const void *in,
                                 void *out, cudaStream_t stream) {
  transpose_b16_kernel<Index, NB, MA, MB><<<grid, 256, 0, stream>>>(
      d, static_cast<const uint16_t *>(in), static_cast<uint16_t *>(out));
}

/* Tiles along chain `ca` (contiguous in the input) and `cb` (contiguous in the output); the
 * other loops are batch loops. */
template <typename Index, int NB>
static cudaError_t launch_transpose_nb(const loops &s, const chain &ca, const chain &cb, size_t es,
                                       const void *in, void *out, cudaStream_t stream) {
  transpose_desc<Index, NB> d;
  memset(&d, 0, sizeof d);
  const int64_t len_a = ca.length, len_b = cb.length;
  d.len_a = (Index)len_a, d.len_b = (Index)len_b;
  d.a = device_chain<Index>(s, ca, true);
  d.b = device_chain<Index>(s, cb, false);
  int64_t batch = 1;
  bool even = len_a % 2 == 0 && len_b % 2 == 0 && aligned(in, 4) && aligned(out, 4);
  for (int i = 0; i < kTransposeChainMax; i++)
    even = even && d.a.stride[i] % 2 == 0 && d.b.stride[i] % 2 == 0;
  for (int k = 0, j = 0; k < s.n; k++) {
    if (ca.has(k) || cb.has(k)) continue;
    d.batch_len[j] = fastdiv32((uint32_t)s.l[k].length);
    d.batch_in[j] = (Index)s.l[k].in_stride, d.batch_out[j] = (Index)s.l[k].out_stride;
    even = even && s.l[k].in_stride % 2 == 0 && s.l[k].out_stride % 2 == 0;
    batch *= s.l[k].length;
    j++;
  }
  /* 128-element tile sides where the axis is that long (b16 only), 64 otherwise; 32 x 32 for
   * other element sizes and odd lengths. */
  const int side_a = es == 2 && even ? (len_a >= 128 ? 128 : 64) : 32;
  const int side_b = es == 2 && even ? (len_b >= 128 ? 128 : 64) : 32;
  const int64_t tiles_a = (len_a + side_a - 1) / side_a, tiles_b = (len_b + side_b - 1) / side_b;
  const int64_t grid = tiles_a * tiles_b * batch;
  if (grid > 0x7fffffff) return cudaErrorInvalidConfiguration;
  d.tiles_a = fastdiv32((uint32_t)tiles_a), d.tiles_b = fastdiv32((uint32_t)tiles_b);
  if (es == 2 && even) {
    if (side_a == 128 && side_b == 128)
      launch_transpose_b16<Index, NB, 2, 2>(d, (unsigned)grid, in, out, stream);
    else if (side_a == 128)
      launch_transpose_b16<Index, NB, 2, 1>(d, (unsigned)grid, in, out, stream);
    else if (side_b == 128)
      launch_transpose_b16<Index, NB, 1, 2>(d, (unsigned)grid, in, out, stream);
    else
      launch_transpose_b16<Index, NB, 1, 1>(d, (unsigned)grid, in, out, stream);
    return cudaGetLastError();
  }
  if (es == 1)
    launch_transpose_w<uint8_t>(d, (unsigned)grid, in, out, stream);
  else if (es == 2)
    launch_transpose_w<uint16_t>(d, (unsigned)grid, in, out, stream);
  else if (es == 4)
    launch_transpose_w<uint32_t>(d, (unsigned)grid, in, out, stream);
  else if (es == 8)
    launch_transpose_w<uint2>(d, (unsigned)grid, in, out, stream);
  else
    launch_transpose_w<uint4>(d, (unsigned)grid, in, out, stream);
  return cudaGetLastError();
}

template <typename Index>
static cudaError_t launch_transpose_index(const loops &s, const chain &ca, const chain &cb,
                                          size_t es, const void *in, void *out,
                                          cudaStream_t stream) {
  switch (s.n - ca.n - cb.n) {
  case 0:
    return launch_transpose_nb<Index, 0>(s, ca, cb, es, in, out, stream);
  case 1:
    return launch_transpose_nb<Index, 1>(s, ca, cb, es, in, out, stream);
  case 2:
    return launch_transpose_nb<Index, 2>(s, ca, cb, es, in, out, stream);
  case 3:
    return launch_transpose_nb<Index, 3>(s, ca, cb, es, in, out, stream);
  case 4:
    return launch_transpose_nb<Index, 4>(s, ca, cb, es, in, out, stream);
  }
  return cudaErrorInvalidValue;
}

static cudaError_t launch_transpose(const loops &s, int ia, int ib, size_t es, const void *in,
                                    void *out, cudaStream_t stream) {
  /* The output-contiguous axis first, then the input-contiguous one from the loops left. */
  const chain only_a = {1, {ia, -1, -1}, s.l[ia].length};
  const chain cb = make_chain(s, ib, &only_a, false);
  const chain ca = make_chain(s, ia, &cb, true);
  /* 32-bit offsets while every offset, and every tile index, fits in 31 bits. */
  int64_t max_in = 0, max_out = 0, total = 1;
  for (int k = 0; k < s.n; k++) {
    max_in += (s.l[k].length - 1) * s.l[k].in_stride;
    max_out += (s.l[k].length - 1) * s.l[k].out_stride;
    total *= s.l[k].length;
  }
  const int64_t lim = ((int64_t)1 << 31) - 256;
  if (max_in < lim && max_out < lim && total < lim)
    return launch_transpose_index<uint32_t>(s, ca, cb, es, in, out, stream);
  return launch_transpose_index<int64_t>(s, ca, cb, es, in, out, stream);
}

} // namespace einc_rt_cuda

extern "C" int einc_rt__cuda_permute(const einc_rt_cuda_permute_loop *loops, int32_t n_loops,
                                     size_t elem_size, const void *in, void *out,
                                     cudaStream_t stream) {
  using namespace einc_rt_cuda;
  struct loops s;
  if (n_loops < 0 || n_loops > 64 || (n_loops > 0 && !loops))
    return einc_rt__fail(EINC_RT_EINVAL, "permute: %d loops (at most 64 before coalescing)",
                         (int)n_loops);
  if (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8 && elem_size != 16)
    return einc_rt__fail(EINC_RT_EINVAL, "permute: element size %zu is not 1, 2, 4, 8 or 16",
                         elem_size);
  for (int k = 0; k < n_loops; k++) {
    if (loops[k].length == 0) return EINC_RT_OK; /* nothing to move */
    if (loops[k].length < 0 || loops[k].in_stride < 0 || loops[k].out_stride < 0)
      return einc_rt__fail(EINC_RT_EINVAL, "permute: loop %d has a negative length or stride", k);
  }
  if (!in || !out) return einc_rt__fail(EINC_RT_EINVAL, "permute: NULL pointer");
  s.n = n_loops;
  memcpy(s.l, loops, sizeof loops[0] * (size_t)n_loops);
  coalesce(s);
  if (s.n == 0) s.n = 1, s.l[0] = einc_rt_cuda_permute_loop{1, 1, 1}; /* one element */
  if (s.n > EINC_RT_CUDA_PERMUTE_MAX_RANK)
    return einc_rt__fail(EINC_RT_EINVAL, "permute: %d loops after coalescing, at most %d", s.n,
                         EINC_RT_CUDA_PERMUTE_MAX_RANK);

  /* The loops contiguous on each side. */
  int ia = -1, ib = -1;
  for (int k = 0; k < s.n; k++) {
    if (s.l[k].in_stride == 1 && (ia < 0 || s.l[k].length > s.l[ia].length)) ia = k;
    if (s.l[k].out_stride == 1 && (ib < 0 || s.l[k].length > s.l[ib].length)) ib = k;
  }
  cudaError_t e;
  if (ia >= 0 && ib >= 0 && ia != ib) {
    e = launch_transpose(s, ia, ib, elem_size, in, out, stream);
  } else {
    /* The innermost axis stays (or nothing is contiguous): put that loop last and copy. */
    const int inner = ib >= 0 ? ib : ia >= 0 ? ia : s.n - 1;
    einc_rt_cuda_permute_loop keep = s.l[inner];
    memmove(&s.l[inner], &s.l[inner + 1], sizeof s.l[0] * (size_t)(s.n - 1 - inner));
    s.l[s.n - 1] = keep;
    e = launch_copy(s, elem_size, in, out, stream);
  }
  return einc_rt__cuda_check(e, "einc_rt__cuda_permute launch", __FILE__, __LINE__);
}

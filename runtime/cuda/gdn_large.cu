/*
 * The GDN projection for many tokens in one kernel: out = Y · Wᵀ where the GEMM's A-operand
 * producer computes Y = gated_norm(o, z) on the fly, so the activations never make the round trip
 * through device memory (2·T·H·d·2 bytes that the norm kernel + cuBLASLt path writes and reads
 * back, about a third of the floor at T ≥ 1024 for the Qwen3.5 shapes). Opt-in
 * (EINC_RT__CUDA_PATH_LARGE): on the H100 it is correct but still 1.05-1.5x slower than the norm
 * kernel + cuBLASLt (README: CUDA), so the default path does not take it.
 *
 * - A block computes a 128 x 256 tile of out; its k-steps are whole heads (128 columns), so the
 *   norm's sum of squares of a row is local to a step.
 * - The C blocks of a cluster (C = 2, 4 or 8) take C neighbouring 256-column tiles of the same 128
 *   rows and share the A operand: each block's producer warpgroup computes 128 / C of the rows
 *   into its own A stage and sends them to the other blocks' stages by bulk copies between
 *   shared memories (counted on the receiving stage's barrier), so a row's norm is computed
 *   D / 256 / C times instead of D / 256 times. With one block computing all 128 rows the
 *   producer's arithmetic (two SFU operations and about fifteen other instructions an element,
 *   one producer warp a scheduler) was the bound.
 * - Producer threads hold the o and z vectors of their rows for the next head in registers
 *   (loaded while the current head is computed), compute the gated rows with the same device
 *   function and rounding as the stand-alone norm kernel, and store them in the layout a
 *   tensor-map copy with 128-byte swizzle would produce (rows of 128 bytes, 16-byte chunks
 *   XOR-swizzled by the row). A stages are handed back by every consumer of the cluster.
 * - W arrives in 64-column slices by tensor-map copies into its own ring of slots, asked for by
 *   the first consumer thread as soon as both consumer warpgroups are done with a slot, so W's
 *   copies run ahead of the producers instead of waiting for a whole stage.
 * - Two consumer warpgroups multiply with wgmma m64n256k16 (64 rows each, fp32 accumulators in
 *   registers, operands straight from shared memory), hand a step's stage and slots back as
 *   soon as its multiplies are done, and store their tile (rows past T are never written).
 * - Tiles are numbered with the D / 256 tiles of a tile row next to each other, so the clusters
 *   that read the same o and z rows run at the same time and share them through L2.
 * No workspace, no atomics, deterministic, one launch (capture-safe). sm_90a only (wgmma).
 */
#include <cudaTypedefs.h> /* PFN_cuTensorMapEncodeTiled */
#include <string.h>

#include "async_copy.cuh"
#include "cuda_common.h"
#include "gated_norm.cuh"

namespace einc_rt_cuda {
namespace {

constexpr int kHeadDim = 128; /* K columns a step: one head */
constexpr int kBM = 128, kBN = 256;
constexpr int kConsumers = 256; /* two warpgroups of 64 rows */
constexpr int kProducers = 128; /* one warpgroup */
constexpr int kThreads = kConsumers + kProducers;
constexpr int kAHalf = kBM * 128;   /* bytes of 64 columns of the A tile */
constexpr int kBHalf = kBN * 128;   /* bytes of 64 columns of W's slice */
constexpr int kAStage = 2 * kAHalf; /* one step of A: 128 rows x 128 columns */
/* Shared memory: A in AS stages of a step, W in rings<AS>::b_slots slots of 64 columns; both
 * rings fill 224 KB. More A stages give the producers more slack, more W slots let W's copies run
 * further ahead. */
constexpr int kRingBytes = 224 * 1024;
constexpr int kMaxBars = 2 * 8 + 2 * 8;
constexpr size_t kSmem = 1024 /* alignment slack */ + kRingBytes + kMaxBars * sizeof(uint64_t);
static_assert(kSmem <= 227 * 1024, "fits sm_90's shared memory");
template <int AS> struct rings {
  static constexpr int b_slots = (kRingBytes - AS * kAStage) / kBHalf;
  static_assert(b_slots >= 4 && b_slots <= 8, "W is at least two steps ahead");
};

/* The device helpers exist where the kernel does: sm_90a (and the host pass). */
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
/* One wgmma.mma_async m64n256k16 (TY = bf16 or f16): d[128] (+)= A(desc a) · B(desc b)ᵀ, both
 * K-major in shared memory; accumulate = 0 overwrites d. */
#define EINC_RT__WGMMA_M64N256K16(TY)                                                              \
  asm volatile(                                                                                    \
      "{\n .reg .pred p;\n setp.ne.b32 p, %130, 0;\n"                                              \
      " wgmma.mma_async.sync.aligned.m64n256k16.f32." TY "." TY " {"                               \
      "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                                     \
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"                           \
      "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"                           \
      "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,"                           \
      "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,"                           \
      "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,"                           \
      "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,"               \
      "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127"            \
      "}, %128, %129, p, 1, 1, 0, 0;\n}\n"                                                         \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),        \
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),    \
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), \
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), \
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), \
        "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), \
        "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), \
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), \
        "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), \
        "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), \
        "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), \
        "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), \
        "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), \
        "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),          \
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]),        \
        "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]),        \
        "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]),        \
        "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])         \
      : "l"(a), "l"(b), "r"(accumulate))

template <typename T> struct wgmma256;
template <> struct wgmma256<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&d)[128], uint64_t a, uint64_t b,
                                             uint32_t accumulate) {
    EINC_RT__WGMMA_M64N256K16("bf16");
  }
};
template <> struct wgmma256<__half> {
  static __device__ __forceinline__ void run(float (&d)[128], uint64_t a, uint64_t b,
                                             uint32_t accumulate) {
    EINC_RT__WGMMA_M64N256K16("f16");
  }
};
#undef EINC_RT__WGMMA_M64N256K16

/* A shared-memory matrix descriptor: K-major rows of 128 bytes, 128-byte swizzle, 8-row groups
 * 1024 bytes apart; the start address moves by 32 bytes per k16 step inside the swizzle atom. */
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 |
         (uint64_t)1 << 62;
}

template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  uint32_t u;
  memcpy(&u, &h, 4);
  return u;
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  uint32_t u;
  memcpy(&u, &h, 4);
  return u;
}

/* Distributed shared memory: the address of the same shared variable in block `rank` of the
 * cluster, mbarrier arrivals there, and bulk copies from this block's shared memory into another
 * block's, counted on that block's barrier. Arrivals keep the default (CTA-scope release)
 * semantics: a cluster-scope release costs a GPU-wide memory barrier on sm_90 and a cluster-scope
 * acquire an L1 invalidation (the kernel took twice as long with them); data only crosses blocks
 * by bulk copies, whose completion the barrier itself tracks. */
__device__ __forceinline__ uint32_t map_rank(uint32_t addr, uint32_t rank) {
  uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
__device__ __forceinline__ void mbar_arrive_remote(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void bulk_copy_to_rank(uint32_t dst, uint32_t src, unsigned bytes,
                                                  uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes [%0], [%1], "
               "%2, [%3];\n" ::"r"(dst),
               "r"(src), "r"(bytes), "r"(bar)
               : "memory");
}
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;\n" ::: "memory");
}
__device__ __forceinline__ uint32_t cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}

/* o and z of a thread's P rows for head i (rows t0, t0 + 8, ...), zeros past T. */
template <typename T, int P>
__device__ __forceinline__ void load_rows(const einc_rt__cuda_fused_args &a, int64_t t0, int i,
                                          int col, uint4 (&ov)[P], uint4 (&zv)[P]) {
  const T *o = static_cast<const T *>(a.o) + i * kHeadDim + col;
  const T *z = static_cast<const T *>(a.z) + i * kHeadDim + col;
#pragma unroll
  for (int q = 0; q < P; q++) {
    const int64_t t = t0 + q * 8;
    const bool in = t < a.tokens;
    ov[q] = in ? __ldg(reinterpret_cast<const uint4 *>(o + t * a.o_token_stride)) : uint4{};
    zv[q] = in ? __ldg(reinterpret_cast<const uint4 *>(z + t * a.z_token_stride)) : uint4{};
  }
}

/* The producer warpgroup of cluster block `rank`: per step, the gated norm of rows
 * [rank·128/C, (rank+1)·128/C) of the tile for head i into its A stage, sent on to the other
 * blocks of the cluster by bulk copies. */
template <typename T, int C, int AS>
__device__ __forceinline__ void produce(const einc_rt__cuda_fused_args &a, unsigned char *smem,
                                        uint64_t *afull, uint64_t *aempty, int m0, uint32_t rank) {
  constexpr int P = kBM / C / 8;                 /* passes of 8 rows a step */
  constexpr unsigned kRowsBytes = kBM / C * 128; /* this block's rows of one A half */
  const int pt = (int)threadIdx.x - kConsumers;
  const int lane16 = pt & 15, sub = pt >> 4; /* column chunk, row within a pass */
  const int col = lane16 * 8, row0 = (int)rank * (kBM / C);
  float w[8];
  vec16<T>::load(static_cast<const T *>(a.w) + col, w);
  /* Row r = row0 + 8p + sub of half (col / 64): chunk (col % 64) / 8 lands at chunk ^ (r % 8). */
  const int off = (lane16 >> 3) * kAHalf + (row0 + sub) * 128 + (((lane16 & 7) ^ sub) << 4);
  const float inv_dim = 1.0f / (float)kHeadDim;
  uint4 ov[P], zv[P];
  load_rows<T, P>(a, (int64_t)m0 + row0 + sub, 0, col, ov, zv);
  for (int i = 0; i < a.heads; i++) {
    const int s = i % AS;
    /* every consumer of the cluster has finished with stage s */
    if (i >= AS) mbar_wait(&aempty[s], (unsigned)(i / AS - 1) & 1u);
    unsigned char *stage = smem + (size_t)s * kAStage;
    if (pt == 0) mbar_expect_tx(&afull[s], (C - 1) * 2u * kRowsBytes); /* the others' rows */
    uint4 y[P];
#pragma unroll
    for (int q = 0; q < P; q++) {
      float of[8], zf[8], yf[8];
      unpack<T>(ov[q], of);
      unpack<T>(zv[q], zf);
      gated_row<16, 8>(of, zf, w, inv_dim, a.eps, (int)a.gate, 0xffffffffu, yf);
      y[q] = make_uint4(pack2<T>(yf[0], yf[1]), pack2<T>(yf[2], yf[3]), pack2<T>(yf[4], yf[5]),
                        pack2<T>(yf[6], yf[7]));
    }
    /* the next head's loads fly while the rows are stored and the tensor cores work */
    if (i + 1 < a.heads) load_rows<T, P>(a, (int64_t)m0 + row0 + sub, i + 1, col, ov, zv);
#pragma unroll
    for (int q = 0; q < P; q++)
      *reinterpret_cast<uint4 *>(stage + off + q * 1024) = y[q];
    fence_proxy_async_shared(); /* for the tensor cores and the bulk copies */
    asm volatile("bar.sync 1, %0;\n" ::"n"(kProducers) : "memory");
    if (pt == 0) {
      mbar_arrive(&afull[s]);
      const uint32_t bar = smem_addr(&afull[s]), base = smem_addr(stage);
#pragma unroll
      for (int r = 1; r < C; r++) {
        const uint32_t peer = (rank + (uint32_t)r) % C;
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const uint32_t rows = base + (uint32_t)(h * kAHalf + row0 * 128);
          bulk_copy_to_rank(map_rank(rows, peer), rows, kRowsBytes, map_rank(bar, peer));
        }
      }
    }
  }
}

/* W's 64-column slice j (head j / 2, half j % 2) into slot j % BS, once the consumers have
 * finished with the slot's previous slice. */
template <int BS>
__device__ __forceinline__ void request_w(const CUtensorMap *wmap, unsigned char *bslots,
                                          uint64_t *bfull, uint64_t *bempty, int j, int n0) {
  const int s = j % BS;
  if (j >= BS) mbar_wait(&bempty[s], (unsigned)(j / BS - 1) & 1u);
  mbar_expect_tx(&bfull[s], (unsigned)kBHalf);
  tma_load_2d(bslots + (size_t)s * kBHalf, wmap, j * 64, n0, &bfull[s]);
}

template <typename T, int C, int AS>
__global__ void __launch_bounds__(kThreads, 1)
    gdn_large_kernel(const __grid_constant__ CUtensorMap wmap, einc_rt__cuda_fused_args a) {
  using R = rings<AS>;
  constexpr int BS = R::b_slots;
  extern __shared__ unsigned char smem_raw[];
  unsigned char *smem = reinterpret_cast<unsigned char *>(
      ((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023); /* the swizzle needs 1024-byte stages */
  unsigned char *bslots = smem + (size_t)AS * kAStage;
  uint64_t *afull = reinterpret_cast<uint64_t *>(smem + kRingBytes), *aempty = afull + AS;
  uint64_t *bfull = aempty + AS, *bempty = bfull + BS;
  const int n_tiles = a.rows / kBN;
  const int m0 = (int)(blockIdx.x / n_tiles) * kBM, n0 = (int)(blockIdx.x % n_tiles) * kBN;
  const int slices = 2 * a.heads;
  const uint32_t rank = cluster_rank();
  if (threadIdx.x == 0) {
    /* afull: the expected bytes of the other blocks' rows, then this block's rows; aempty: the
     * eight consumer warps of each of the C blocks; bfull: the copy; bempty: the eight local
     * consumer warps. */
    for (int s = 0; s < AS; s++)
      mbar_init(&afull[s], 2), mbar_init(&aempty[s], C * kConsumers / 32);
    for (int s = 0; s < BS; s++)
      mbar_init(&bfull[s], 1), mbar_init(&bempty[s], kConsumers / 32);
    mbar_init_fence();
  }
  cluster_sync(); /* every block's barriers exist before anyone arrives on them */
  if (threadIdx.x >= kConsumers) {
    produce<T, C, AS>(a, smem, afull, aempty, m0, rank);
  } else {
    const int wg = (int)threadIdx.x / 128, lane = (int)threadIdx.x % 32;
    /* The first consumer thread keeps W's copies BS slices ahead. */
    const bool issuer = threadIdx.x == 0;
    int next = 0;
    if (issuer)
      for (; next < BS && next < slices; next++)
        request_w<BS>(&wmap, bslots, bfull, bempty, next, n0);
    float acc[128];
#pragma unroll
    for (int j = 0; j < 128; j++)
      acc[j] = 0.f;
    /* Step i - 1 is done: its A stage goes back to every producer of the cluster, its W slots
     * to the issuer, who asks for the next slices at once. */
    auto release = [&](int i) {
      if (lane == 0) {
        const uint32_t bar = smem_addr(&aempty[(i - 1) % AS]);
#pragma unroll
        for (int r = 0; r < C; r++)
          mbar_arrive_remote(map_rank(bar, (uint32_t)r));
        mbar_arrive(&bempty[(2 * i - 2) % BS]);
        mbar_arrive(&bempty[(2 * i - 1) % BS]);
      }
      if (issuer)
        for (; next < 2 * i + BS && next < slices; next++)
          request_w<BS>(&wmap, bslots, bfull, bempty, next, n0);
    };
    for (int i = 0; i < a.heads; i++) {
      const int s = i % AS, b0 = (2 * i) % BS, b1 = (2 * i + 1) % BS;
      /* The previous step's multiplies are waited for before this step's A is: its W slots are
       * then refilled while the producers may still be computing A, instead of after (measured
       * 5-8% faster than keeping one step of multiplies queued, which tied W's copies to A). */
      if (i > 0) {
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        release(i);
      }
      mbar_wait(&afull[s], (unsigned)(i / AS) & 1u);
      mbar_wait(&bfull[b0], (unsigned)(2 * i / BS) & 1u);
      mbar_wait(&bfull[b1], (unsigned)((2 * i + 1) / BS) & 1u);
      const uint32_t ast = smem_addr(smem + (size_t)s * kAStage) + (uint32_t)wg * 64 * 128;
      const uint32_t bst[2] = {smem_addr(bslots + (size_t)b0 * kBHalf),
                               smem_addr(bslots + (size_t)b1 * kBHalf)};
      asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
      for (int h = 0; h < 2; h++)
#pragma unroll
        for (int kk = 0; kk < 4; kk++)
          wgmma256<T>::run(acc, smem_desc(ast + h * kAHalf + kk * 32), smem_desc(bst[h] + kk * 32),
                           1u);
      asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

    /* The accumulator fragment: d[4j + 2h + e] is row 16·warp + lane/4 + 8h, column
     * 8j + 2·(lane%4) + e of the warpgroup's 64 x 256 part. */
    const int row = m0 + wg * 64 + ((int)threadIdx.x / 32 % 4) * 16 + lane / 4;
    T *out = static_cast<T *>(a.out) + n0 + 2 * (lane % 4);
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int64_t t = (int64_t)row + 8 * h;
      if (t >= a.tokens) continue;
      uint32_t *dst = reinterpret_cast<uint32_t *>(out + t * a.out_row_stride);
#pragma unroll
      for (int j = 0; j < 32; j++)
        dst[4 * j] = pack2<T>(acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
    }
  }
  cluster_sync(); /* no block leaves while others may still copy into it or arrive on it */
}
#else
template <typename T, int C, int AS>
__global__ void gdn_large_kernel(const __grid_constant__ CUtensorMap, einc_rt__cuda_fused_args) {
  __trap();
}
#endif

/* cuTensorMapEncodeTiled from the driver the runtime loaded (no link against libcuda). */
PFN_cuTensorMapEncodeTiled_v12000 encode_fn(void) {
  void *fn = nullptr;
  cudaDriverEntryPointQueryResult q;
  if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                       &q) != cudaSuccess ||
      q != cudaDriverEntryPointSuccess)
    return nullptr;
  return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
}

bool aligned(const void *p, uintptr_t n) {
  return ((uintptr_t)p & (n - 1)) == 0;
}

/* Per device, the cluster sizes the kernel runs with (bit C set: clusters of C blocks fit), set
 * by prepare(); 0 on devices that do not run sm_90a code or were never prepared. */
constexpr int kMaxDevices = 64;
unsigned g_clusters[kMaxDevices];

int current_device(void) {
  int dev = -1;
  return cudaGetDevice(&dev) == cudaSuccess && dev >= 0 && dev < kMaxDevices ? dev : -1;
}

/* Blocks a cluster: 8, 4 or 2, the most that divides the 256-column tiles of a tile row (fits()
 * asks for an even count) among the sizes the current device runs (0: none); each block computes
 * 1/C of the A rows. On the H100 four measured 1.3-2.0x faster than two, eight 6% faster than
 * four (README: CUDA). */
int cluster_size(int32_t rows) {
  const int dev = current_device();
  const unsigned fit = dev < 0 ? 0u : g_clusters[dev];
  for (int c = 8; c >= 2; c /= 2)
    if (rows / kBN % c == 0 && (fit >> c & 1u)) return c;
  return 0;
}

/* Three A stages (W four slices ahead) measured 1.17-1.37x faster than two (W five ahead). */
constexpr int kAStages = 3;

template <typename T, int C, int AS> cudaError_t set_smem(void) {
  return cudaFuncSetAttribute(gdn_large_kernel<T, C, AS>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, (int)kSmem);
}
template <typename T> cudaError_t set_smem_dtype(void) {
  cudaError_t e;
  if ((e = set_smem<T, 2, kAStages>()) != cudaSuccess ||
      (e = set_smem<T, 4, kAStages>()) != cudaSuccess)
    return e;
  return set_smem<T, 8, kAStages>();
}

/* Whether the device runs at least one cluster of C blocks of the kernel at a time. */
template <int C> bool clusters_fit(void) {
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = C, attr[0].val.clusterDim.y = 1, attr[0].val.clusterDim.z = 1;
  cfg.gridDim = dim3(C);
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = kSmem;
  cfg.attrs = attr, cfg.numAttrs = 1;
  int n = 0;
  return cudaOccupancyMaxActiveClusters(&n, gdn_large_kernel<__nv_bfloat16, C, kAStages>, &cfg) ==
             cudaSuccess &&
         n > 0;
}

template <typename T, int C, int AS>
cudaError_t launch(const CUtensorMap &wmap, const einc_rt__cuda_fused_args *a, unsigned blocks,
                   cudaStream_t stream) {
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = C, attr[0].val.clusterDim.y = 1, attr[0].val.clusterDim.z = 1;
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = stream;
  cfg.attrs = attr, cfg.numAttrs = 1;
  return cudaLaunchKernelEx(&cfg, gdn_large_kernel<T, C, AS>, wmap, *a);
}

template <typename T>
cudaError_t launch_dtype(const CUtensorMap &wmap, const einc_rt__cuda_fused_args *a,
                         unsigned blocks, cudaStream_t stream) {
  switch (cluster_size(a->rows)) {
  case 8:
    return launch<T, 8, kAStages>(wmap, a, blocks, stream);
  case 4:
    return launch<T, 4, kAStages>(wmap, a, blocks, stream);
  case 2:
    return launch<T, 2, kAStages>(wmap, a, blocks, stream);
  default: /* fits() refused it */
    return cudaErrorInvalidConfiguration;
  }
}

} // namespace
} // namespace einc_rt_cuda

extern "C" cudaError_t einc_rt__cuda_large_prepare(void) {
  using namespace einc_rt_cuda;
  int dev = -1, major = 0, minor = 0;
  cudaError_t e;
  if ((e = cudaGetDevice(&dev)) != cudaSuccess ||
      (e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev)) != cudaSuccess ||
      (e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev)) != cudaSuccess)
    return e;
  /* Built for sm_90a, whose code runs on compute capability 9.0 alone. */
  if (major != 9 || minor != 0) return cudaSuccess;
  if ((e = set_smem_dtype<__nv_bfloat16>()) != cudaSuccess ||
      (e = set_smem_dtype<__half>()) != cudaSuccess)
    return e;
  if (dev >= kMaxDevices) return cudaSuccess;
  g_clusters[dev] = (clusters_fit<2>() ? 1u << 2 : 0u) | (clusters_fit<4>() ? 1u << 4 : 0u) |
                    (clusters_fit<8>() ? 1u << 8 : 0u);
  cudaGetLastError(); /* a refused occupancy query leaves the kernel unused, not the device */
  return cudaSuccess;
}

extern "C" bool einc_rt__cuda_large_map_init(einc_rt_dtype dtype, const void *W, int64_t rows,
                                             int64_t cols, int64_t W_row_stride,
                                             einc_rt__cuda_large_map *map) {
  using namespace einc_rt_cuda;
  memset(map, 0, sizeof *map);
  if (dtype != EINC_RT_BF16 && dtype != EINC_RT_F16) return false;
  if (!W || !aligned(W, 16) || W_row_stride % 8 || rows < 2 * kBN || rows % (2 * kBN) ||
      cols % kHeadDim || cols < kHeadDim || rows > INT32_MAX || cols > INT32_MAX)
    return false;
  PFN_cuTensorMapEncodeTiled_v12000 fn = encode_fn();
  if (!fn) return false;
  alignas(64) CUtensorMap m;
  const cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)rows};
  const cuuint64_t strides[1] = {(cuuint64_t)W_row_stride * 2};
  const cuuint32_t box[2] = {64, (cuuint32_t)kBN}, step[2] = {1, 1};
  if (fn(&m,
         dtype == EINC_RT_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
         2, const_cast<void *>(W), dims, strides, box, step, CU_TENSOR_MAP_INTERLEAVE_NONE,
         CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
         CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  static_assert(sizeof m == sizeof map->w, "a tensor map is 128 bytes");
  memcpy(map->w, &m, sizeof m);
  map->W = W, map->dtype = dtype, map->rows = rows, map->cols = cols;
  map->ready = true;
  return true;
}

extern "C" bool einc_rt__cuda_large_fits(const einc_rt__cuda_fused_args *a,
                                         const einc_rt__cuda_large_map *map) {
  using namespace einc_rt_cuda;
  if (cluster_size(a->rows) == 0) return false;
  return map->ready && a->W == map->W && a->dtype == map->dtype && a->rows == map->rows &&
         (int64_t)a->heads * kHeadDim == map->cols && a->tokens >= 1 &&
         a->tokens <= INT32_MAX - kBM &&
         (int64_t)((a->tokens + kBM - 1) / kBM) * (a->rows / kBN) <= INT32_MAX &&
         aligned(a->o, 16) && aligned(a->z, 16) && aligned(a->w, 16) && aligned(a->out, 4) &&
         a->o_token_stride % 8 == 0 && a->z_token_stride % 8 == 0 && a->out_row_stride % 2 == 0;
}

extern "C" cudaError_t einc_rt__cuda_large_launch(const einc_rt__cuda_fused_args *a,
                                                  const einc_rt__cuda_large_map *map,
                                                  cudaStream_t stream) {
  using namespace einc_rt_cuda;
  alignas(64) CUtensorMap wmap;
  memcpy(&wmap, map->w, sizeof wmap);
  const unsigned blocks = (unsigned)((a->tokens + kBM - 1) / kBM) * (unsigned)(a->rows / kBN);
  if (a->dtype == EINC_RT_BF16) return launch_dtype<__nv_bfloat16>(wmap, a, blocks, stream);
  return launch_dtype<__half>(wmap, a, blocks, stream);
}

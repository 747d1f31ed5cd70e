/*
 * The gated RMSNorm with x86 SIMD: AVX2 (+FMA, F16C), AVX-512 and AVX-512 BF16 (its
 * round-to-nearest-even conversion instruction for bfloat16 stores). Each is compiled with
 * target attributes, so the library still runs on any x86-64; norm.c picks one with
 * __builtin_cpu_supports. The row code is written once per vector width and instantiated per
 * dtype and gate so the inner loops carry no branches.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#include "cpu.h"

#define EINC_RT__AVX2       __attribute__((target("avx2,fma,f16c")))
#define EINC_RT__AVX512     __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define EINC_RT__AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")))
#define EINC_RT__INLINE     static inline __attribute__((always_inline))

/* exp(x) by range reduction x = n ln2 + r and a degree-6 polynomial on r (Cephes' expf
 * coefficients, about 1 ulp); x is clamped where float over- or underflows. SCALE(p, n) is
 * p * 2^n for an integral n in [-126, 127] (exact either way it is done). */
#define EINC_RT__EXP_BODY(V, SET1, FMA, MUL, ADD, SUB, MIN, MAX, ROUND, SCALE)                     \
  x = MIN(x, SET1(88.3762626647949f));                                                             \
  x = MAX(x, SET1(-87.3365447504f));                                                               \
  V n = ROUND(MUL(x, SET1(1.44269504088896341f)));                                                 \
  V r = FMA(n, SET1(-0.693359375f), x);                                                            \
  r = FMA(n, SET1(2.12194440e-4f), r);                                                             \
  V p = SET1(1.9875691500E-4f);                                                                    \
  p = FMA(p, r, SET1(1.3981999507E-3f));                                                           \
  p = FMA(p, r, SET1(8.3334519073E-3f));                                                           \
  p = FMA(p, r, SET1(4.1665795894E-2f));                                                           \
  p = FMA(p, r, SET1(1.6666665459E-1f));                                                           \
  p = FMA(p, r, SET1(5.0000001201E-1f));                                                           \
  p = FMA(p, MUL(r, r), ADD(r, SET1(1.0f)));                                                       \
  return SCALE(p, n);

/* ---------------------------------------------------------------------------------------------
 * AVX-512: 16 floats per vector; tails by mask.
 * ------------------------------------------------------------------------------------------- */

/* vscalefps: the power of two in one instruction instead of four. */
EINC_RT__AVX512 EINC_RT__INLINE __m512 einc_rt__exp16(__m512 x){
#define ROUND16(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    EINC_RT__EXP_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps,
                      _mm512_sub_ps, _mm512_min_ps, _mm512_max_ps, ROUND16, _mm512_scalef_ps)
#undef ROUND16
}

EINC_RT__AVX512 EINC_RT__INLINE __m512
    einc_rt__load16(const void *p, int64_t i, __mmask16 m, einc_rt_dtype dt) {
  if (dt == EINC_RT_F32) return _mm512_maskz_loadu_ps(m, (const float *)p + i);
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i);
  if (dt == EINC_RT_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* float rounded to bfloat16, nearest even, NaN kept quiet, without AVX-512 BF16: the bfloat16
 * bits are the upper half of each lane, the lower half is left over from the rounding. */
EINC_RT__AVX512 EINC_RT__INLINE __m512i einc_rt__bf16_round16(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_or_epi32(rounded, nan, u, _mm512_set1_epi32(0x400000));
}

/* float -> bfloat16 bits. */
EINC_RT__AVX512 EINC_RT__INLINE __m256i einc_rt__to_bf16_16(__m512 v) {
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(einc_rt__bf16_round16(v), 16));
}

/* float rounded to bfloat16 and kept as float: the same bits as einc_rt__to_bf16_16 widened
 * back, without narrowing to 16-bit lanes and widening again (three shuffles on port 5). */
EINC_RT__AVX512 EINC_RT__INLINE __m512 einc_rt__round_bf16_16(__m512 v) {
  __m512i bits = _mm512_and_si512(einc_rt__bf16_round16(v), _mm512_set1_epi32((int)0xffff0000u));
  return _mm512_castsi512_ps(bits);
}

EINC_RT__AVX512 EINC_RT__INLINE void einc_rt__store16(void *p, int64_t i, __mmask16 m, __m512 v,
                                                      einc_rt_dtype dt, bool as_f32) {
  if (dt == EINC_RT_F32) {
    _mm512_mask_storeu_ps((float *)p + i, m, v);
    return;
  }
  if (dt == EINC_RT_BF16 && as_f32) {
    _mm512_mask_storeu_ps((float *)p + i, m, einc_rt__round_bf16_16(v));
    return;
  }
  __m256i h = dt == EINC_RT_F16 ? _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                : einc_rt__to_bf16_16(v);
  if (as_f32)
    _mm512_mask_storeu_ps(
        (float *)p + i, m,
        dt == EINC_RT_F16 ? _mm512_cvtph_ps(h)
                          : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  else
    _mm256_mask_storeu_epi16((uint16_t *)p + i, m, h);
}

/* sigmoid(z) = 1 / (1 + exp(-z)) by vdivps: vrcp14ps and a Newton step measured slower here
 * (2.04 against 1.96 cycles per element of the whole row), the division hides behind the rest. */
EINC_RT__AVX512 EINC_RT__INLINE __m512 einc_rt__gate16(__m512 z, einc_rt_gate gate) {
  __m512 den =
      _mm512_add_ps(_mm512_set1_ps(1.0f), einc_rt__exp16(_mm512_sub_ps(_mm512_setzero_ps(), z)));
  __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), den);
  return gate == EINC_RT_GATE_SILU ? _mm512_mul_ps(z, s) : s;
}

/* The rows of one kernel: per token and head, the sum of squares, then y stored through `store`
 * (which differs between AVX-512 and AVX-512 BF16, compiled for its own target). */
#define EINC_RT__DEFINE_ROWS512(name, target, store)                                               \
  target EINC_RT__INLINE void name(const einc_rt__norm_job *job, int64_t t0, int64_t t1,           \
                                   einc_rt_dtype dt, einc_rt_gate gate, bool as_f32) {             \
    const int64_t d = job->d;                                                                      \
    for (int64_t t = t0; t < t1; t++) {                                                            \
      for (int64_t h = 0; h < job->heads; h++) {                                                   \
        int64_t oi = t * job->o_stride + h * d, zi = t * job->z_stride + h * d;                    \
        int64_t yi = t * job->y_stride + h * d;                                                    \
        __m512 acc = _mm512_setzero_ps();                                                          \
        for (int64_t i = 0; i < d; i += 16) {                                                      \
          __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - i)) - 1u);       \
          __m512 v = einc_rt__load16(job->o, oi + i, m, dt);                                       \
          acc = _mm512_fmadd_ps(v, v, acc);                                                        \
        }                                                                                          \
        float r = 1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)d + job->eps);                   \
        __m512 rv = _mm512_set1_ps(r);                                                             \
        for (int64_t i = 0; i < d; i += 16) {                                                      \
          __mmask16 m = d - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - i)) - 1u);       \
          __m512 o = einc_rt__load16(job->o, oi + i, m, dt);                                       \
          __m512 g = einc_rt__gate16(einc_rt__load16(job->z, zi + i, m, dt), gate);                \
          __m512 w = _mm512_maskz_loadu_ps(m, job->w + i);                                         \
          __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(o, rv), w), g);                     \
          store(job->y, yi + i, m, y, dt, as_f32);                                                 \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }

EINC_RT__DEFINE_ROWS512(einc_rt__rows512, EINC_RT__AVX512, einc_rt__store16)

#define EINC_RT__INSTANTIATE(fn, rows)                                                             \
  if (job->gate == EINC_RT_GATE_SILU) {                                                            \
    if (job->dt == EINC_RT_BF16)                                                                   \
      job->y_f32 ? rows(job, t0, t1, EINC_RT_BF16, EINC_RT_GATE_SILU, true)                        \
                 : rows(job, t0, t1, EINC_RT_BF16, EINC_RT_GATE_SILU, false);                      \
    else if (job->dt == EINC_RT_F16)                                                               \
      job->y_f32 ? rows(job, t0, t1, EINC_RT_F16, EINC_RT_GATE_SILU, true)                         \
                 : rows(job, t0, t1, EINC_RT_F16, EINC_RT_GATE_SILU, false);                       \
    else                                                                                           \
      rows(job, t0, t1, EINC_RT_F32, EINC_RT_GATE_SILU, false);                                    \
  } else {                                                                                         \
    if (job->dt == EINC_RT_BF16)                                                                   \
      job->y_f32 ? rows(job, t0, t1, EINC_RT_BF16, EINC_RT_GATE_SIGMOID, true)                     \
                 : rows(job, t0, t1, EINC_RT_BF16, EINC_RT_GATE_SIGMOID, false);                   \
    else if (job->dt == EINC_RT_F16)                                                               \
      job->y_f32 ? rows(job, t0, t1, EINC_RT_F16, EINC_RT_GATE_SIGMOID, true)                      \
                 : rows(job, t0, t1, EINC_RT_F16, EINC_RT_GATE_SIGMOID, false);                    \
    else                                                                                           \
      rows(job, t0, t1, EINC_RT_F32, EINC_RT_GATE_SIGMOID, false);                                 \
  }

EINC_RT__AVX512 void einc_rt__narrow_avx512(const float *src, uint16_t *dst, int64_t n,
                                            einc_rt_dtype dt) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
    einc_rt__store16(dst, i, m, _mm512_maskz_loadu_ps(m, src + i), dt, false);
  }
}

EINC_RT__AVX512 void einc_rt__norm_avx512(const einc_rt__norm_job *job, int64_t t0,
                                          int64_t t1){EINC_RT__INSTANTIATE(fn, einc_rt__rows512)}

/* ---------------------------------------------------------------------------------------------
 * AVX-512 BF16: the same rows, bfloat16 stores through vcvtneps2bf16 (nearest even in one
 * instruction); other dtypes store as in AVX-512.
 * ------------------------------------------------------------------------------------------- */

/* bfloat16 through vcvtneps2bf16; other dtypes as in AVX-512. */
EINC_RT__AVX512BF16 EINC_RT__INLINE
    void einc_rt__store16_ne(void *p, int64_t i, __mmask16 m, __m512 v, einc_rt_dtype dt,
                             bool as_f32) {
  if (dt != EINC_RT_BF16) {
    einc_rt__store16(p, i, m, v, dt, as_f32);
    return;
  }
  __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
  if (as_f32)
    _mm512_mask_storeu_ps((float *)p + i, m,
                          _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  else
    _mm256_mask_storeu_epi16((uint16_t *)p + i, m, h);
}

EINC_RT__DEFINE_ROWS512(einc_rt__rows512_ne, EINC_RT__AVX512BF16, einc_rt__store16_ne)

EINC_RT__AVX512BF16 void einc_rt__norm_avx512_bf16(const einc_rt__norm_job *job, int64_t t0,
                                                   int64_t t1){
    EINC_RT__INSTANTIATE(fn, einc_rt__rows512_ne)}

/* ---------------------------------------------------------------------------------------------
 * AVX2: 8 floats per vector; tails in scalar code through the portable kernel's rules.
 * ------------------------------------------------------------------------------------------- */

/* 2^n built in the exponent field. */
EINC_RT__AVX2 EINC_RT__INLINE __m256 einc_rt__scale8(__m256 p, __m256 n) {
  __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

EINC_RT__AVX2 EINC_RT__INLINE __m256 einc_rt__exp8(__m256 x){
#define ROUND8(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    EINC_RT__EXP_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps,
                      _mm256_sub_ps, _mm256_min_ps, _mm256_max_ps, ROUND8, einc_rt__scale8)
#undef ROUND8
}

EINC_RT__AVX2 EINC_RT__INLINE __m256 einc_rt__load8(const void *p, int64_t i, einc_rt_dtype dt) {
  if (dt == EINC_RT_F32) return _mm256_loadu_ps((const float *)p + i);
  __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
  if (dt == EINC_RT_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

EINC_RT__AVX2 EINC_RT__INLINE __m128i einc_rt__to_bf16_8(__m256 v) {
  __m256i u = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
  __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  rounded = _mm256_blendv_epi8(rounded, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan);
  __m256i hi = _mm256_srli_epi32(rounded, 16);
  /* pack the 8 low halves: packus works within 128-bit lanes, then fix the lane order */
  __m256i packed = _mm256_packus_epi32(hi, hi);
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

EINC_RT__AVX2 EINC_RT__INLINE void einc_rt__store8(void *p, int64_t i, __m256 v, einc_rt_dtype dt,
                                                   bool as_f32) {
  if (dt == EINC_RT_F32) {
    _mm256_storeu_ps((float *)p + i, v);
    return;
  }
  __m128i h = dt == EINC_RT_F16 ? _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                : einc_rt__to_bf16_8(v);
  if (as_f32)
    _mm256_storeu_ps((float *)p + i,
                     dt == EINC_RT_F16
                         ? _mm256_cvtph_ps(h)
                         : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
  else
    _mm_storeu_si128((__m128i *)((uint16_t *)p + i), h);
}

EINC_RT__AVX2 EINC_RT__INLINE void einc_rt__rows256(const einc_rt__norm_job *job, int64_t t0,
                                                    int64_t t1, einc_rt_dtype dt, einc_rt_gate gate,
                                                    bool as_f32) {
  const int64_t d = job->d, dv = d & ~(int64_t)7;
  if (dv != d) {
    /* A head size that is not a multiple of 8 (never in the models) takes the portable rows. */
    einc_rt__norm_portable(job, t0, t1);
    return;
  }
  for (int64_t t = t0; t < t1; t++) {
    for (int64_t h = 0; h < job->heads; h++) {
      int64_t oi = t * job->o_stride + h * d, zi = t * job->z_stride + h * d;
      int64_t yi = t * job->y_stride + h * d;
      __m256 acc = _mm256_setzero_ps();
      for (int64_t i = 0; i < d; i += 8) {
        __m256 v = einc_rt__load8(job->o, oi + i, dt);
        acc = _mm256_fmadd_ps(v, v, acc);
      }
      __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
      s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
      s4 = _mm_add_ss(s4, _mm_shuffle_ps(s4, s4, 1));
      float r = 1.0f / sqrtf(_mm_cvtss_f32(s4) / (float)d + job->eps);
      __m256 rv = _mm256_set1_ps(r);
      for (int64_t i = 0; i < d; i += 8) {
        __m256 o = einc_rt__load8(job->o, oi + i, dt);
        __m256 z = einc_rt__load8(job->z, zi + i, dt);
        __m256 e = einc_rt__exp8(_mm256_sub_ps(_mm256_setzero_ps(), z));
        __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        __m256 g = gate == EINC_RT_GATE_SILU ? _mm256_mul_ps(z, s) : s;
        __m256 w = _mm256_loadu_ps(job->w + i);
        __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(o, rv), w), g);
        einc_rt__store8(job->y, yi + i, y, dt, as_f32);
      }
    }
  }
}

EINC_RT__AVX2 void einc_rt__narrow_avx2(const float *src, uint16_t *dst, int64_t n,
                                        einc_rt_dtype dt) {
  int64_t nv = n & ~(int64_t)7;
  for (int64_t i = 0; i < nv; i += 8)
    einc_rt__store8(dst, i, _mm256_loadu_ps(src + i), dt, false);
  einc_rt__narrow_portable(src + nv, dst + nv, n - nv, dt);
}

EINC_RT__AVX2 void einc_rt__norm_avx2(const einc_rt__norm_job *job, int64_t t0, int64_t t1) {
  EINC_RT__INSTANTIATE(fn, einc_rt__rows256)
}

#endif

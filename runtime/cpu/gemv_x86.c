/*
 * The one-token float16 product out = W · x with x86 SIMD (AVX-512 or AVX2, both with F16C).
 *
 * Why the backend computes this one product itself: a single token's product only streams W,
 * and neither library available here reads float16 weights at speed — oneDNN 2.6 offers float16
 * matmul on x86 only as its reference kernel (5.4 ms against 0.26 for the float32 GEMV, 16 cores,
 * 2026-11-24, H=32 D=2048) and no float16 inner product at all, OpenBLAS 0.3.21 has no
 * half-precision routine. Through float32 the product reads W widened, twice the bytes: 1.1-1.8x
 * PyTorch's time for one token. Every product of two tokens or more stays oneDNN's.
 *
 * Rows go four at a time against one register of x, so each x load feeds four FMAs; the sums are
 * float and each output is rounded to float16 once (nearest even), as a GEMM that accumulates in
 * float and writes float16 would.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "cpu.h"

#define EINC_RT__AVX2   __attribute__((target("avx2,fma,f16c")))
#define EINC_RT__AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

EINC_RT__AVX512 static inline __m512 einc_rt__w16(const uint16_t *w, int64_t c, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + c));
}

EINC_RT__AVX512 void einc_rt__gemv_f16_avx512(const uint16_t *w, int64_t ldw, const float *x,
                                              int64_t k, uint16_t *out, int64_t r0, int64_t r1) {
  int64_t kv = k & ~(int64_t)15;
  __mmask16 tail = (__mmask16)((1u << (k - kv)) - 1u);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const uint16_t *w0 = w + r * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t c = 0;
    for (; c < kv; c += 16) {
      __m512 xv = _mm512_loadu_ps(x + c);
      a0 = _mm512_fmadd_ps(einc_rt__w16(w0, c, 0xffff), xv, a0);
      a1 = _mm512_fmadd_ps(einc_rt__w16(w1, c, 0xffff), xv, a1);
      a2 = _mm512_fmadd_ps(einc_rt__w16(w2, c, 0xffff), xv, a2);
      a3 = _mm512_fmadd_ps(einc_rt__w16(w3, c, 0xffff), xv, a3);
    }
    if (tail) {
      __m512 xv = _mm512_maskz_loadu_ps(tail, x + c);
      a0 = _mm512_fmadd_ps(einc_rt__w16(w0, c, tail), xv, a0);
      a1 = _mm512_fmadd_ps(einc_rt__w16(w1, c, tail), xv, a1);
      a2 = _mm512_fmadd_ps(einc_rt__w16(w2, c, tail), xv, a2);
      a3 = _mm512_fmadd_ps(einc_rt__w16(w3, c, tail), xv, a3);
    }
    out[r] = _cvtss_sh(_mm512_reduce_add_ps(a0), _MM_FROUND_TO_NEAREST_INT);
    out[r + 1] = _cvtss_sh(_mm512_reduce_add_ps(a1), _MM_FROUND_TO_NEAREST_INT);
    out[r + 2] = _cvtss_sh(_mm512_reduce_add_ps(a2), _MM_FROUND_TO_NEAREST_INT);
    out[r + 3] = _cvtss_sh(_mm512_reduce_add_ps(a3), _MM_FROUND_TO_NEAREST_INT);
  }
  for (; r < r1; r++) {
    const uint16_t *w0 = w + r * ldw;
    __m512 a0 = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c < kv; c += 16)
      a0 = _mm512_fmadd_ps(einc_rt__w16(w0, c, 0xffff), _mm512_loadu_ps(x + c), a0);
    if (tail)
      a0 = _mm512_fmadd_ps(einc_rt__w16(w0, c, tail), _mm512_maskz_loadu_ps(tail, x + c), a0);
    out[r] = _cvtss_sh(_mm512_reduce_add_ps(a0), _MM_FROUND_TO_NEAREST_INT);
  }
}

EINC_RT__AVX2 static inline float einc_rt__hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

EINC_RT__AVX2 static inline __m256 einc_rt__w8(const uint16_t *w, int64_t c) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + c)));
}

/* The columns past the last multiple of 8, in float (exact products, float sums). */
EINC_RT__AVX2 static inline float einc_rt__tail8(const uint16_t *w, const float *x, int64_t c,
                                                 int64_t k) {
  float s = 0.0f;
  for (; c < k; c++)
    s += _cvtsh_ss(w[c]) * x[c];
  return s;
}

EINC_RT__AVX2 void einc_rt__gemv_f16_avx2(const uint16_t *w, int64_t ldw, const float *x, int64_t k,
                                          uint16_t *out, int64_t r0, int64_t r1) {
  int64_t kv = k & ~(int64_t)7;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const uint16_t *w0 = w + r * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < kv; c += 8) {
      __m256 xv = _mm256_loadu_ps(x + c);
      a0 = _mm256_fmadd_ps(einc_rt__w8(w0, c), xv, a0);
      a1 = _mm256_fmadd_ps(einc_rt__w8(w1, c), xv, a1);
      a2 = _mm256_fmadd_ps(einc_rt__w8(w2, c), xv, a2);
      a3 = _mm256_fmadd_ps(einc_rt__w8(w3, c), xv, a3);
    }
    out[r] =
        _cvtss_sh(einc_rt__hsum8(a0) + einc_rt__tail8(w0, x, kv, k), _MM_FROUND_TO_NEAREST_INT);
    out[r + 1] =
        _cvtss_sh(einc_rt__hsum8(a1) + einc_rt__tail8(w1, x, kv, k), _MM_FROUND_TO_NEAREST_INT);
    out[r + 2] =
        _cvtss_sh(einc_rt__hsum8(a2) + einc_rt__tail8(w2, x, kv, k), _MM_FROUND_TO_NEAREST_INT);
    out[r + 3] =
        _cvtss_sh(einc_rt__hsum8(a3) + einc_rt__tail8(w3, x, kv, k), _MM_FROUND_TO_NEAREST_INT);
  }
  for (; r < r1; r++) {
    const uint16_t *w0 = w + r * ldw;
    __m256 a0 = _mm256_setzero_ps();
    for (int64_t c = 0; c < kv; c += 8)
      a0 = _mm256_fmadd_ps(einc_rt__w8(w0, c), _mm256_loadu_ps(x + c), a0);
    out[r] =
        _cvtss_sh(einc_rt__hsum8(a0) + einc_rt__tail8(w0, x, kv, k), _MM_FROUND_TO_NEAREST_INT);
  }
}
#endif

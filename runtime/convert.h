/*
 * Scalar conversions between float and the 16-bit activation dtypes, inline so the portable
 * kernels and the reference code in the tests share one definition. Rounding is to nearest
 * even, as PyTorch's .to(torch.bfloat16) and IEEE half conversions do.
 */
#ifndef EINC_RT_CONVERT_H
#define EINC_RT_CONVERT_H

#include <stdint.h>
#include <string.h>

static inline uint32_t einc_rt__f32_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}

static inline float einc_rt__bits_f32(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

static inline uint16_t einc_rt__f32_to_bf16(float x) {
  uint32_t u = einc_rt__f32_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float einc_rt__bf16_to_f32(uint16_t h) {
  return einc_rt__bits_f32((uint32_t)h << 16);
}

static inline uint16_t einc_rt__f32_to_f16(float x) {
  uint32_t u = einc_rt__f32_bits(x);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65536: inf */
  if (a < 0x38800000u) {
    /* Result is subnormal (or zero): align the mantissa with the implicit bit to 2^-24 units. */
    if (a < 0x33000000u) return (uint16_t)sign; /* below half the smallest subnormal */
    uint32_t e = a >> 23;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14..24: value = m * 2^(e-150), unit 2^-24 */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
  }
  /* Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even. */
  a += 0xfffu + ((a >> 13) & 1u);
  return (uint16_t)(sign | ((a - 0x38000000u) >> 13));
}

static inline float einc_rt__f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu;
  uint32_t m = h & 0x3ffu;
  if (e == 0x1f) return einc_rt__bits_f32(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    /* Subnormal: m * 2^-24, exact in float. */
    float v = (float)m * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return einc_rt__bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

#endif /* EINC_RT_CONVERT_H */

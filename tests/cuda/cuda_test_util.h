/*
 * Host helpers shared by the CUDA tests and benchmarks: a seeded random generator, bf16 / f16
 * conversions with round-to-nearest-even (the device's rounding), the checked CUDA call, and the
 * skip rule for machines without a CUDA device (exit code 77, ctest's SKIP_RETURN_CODE).
 */
#ifndef EINC_CUDA_TEST_UTIL_H
#define EINC_CUDA_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "bench/bench_common.h"
#include "einc/einc_rt.h"

#define EINC_TEST_SKIP 77

/* A CUDA call that must succeed (exits with the expression, where, and the driver's message). */
#define CHECK_CUDA(expr) BENCH_CUDA(expr)

/* splitmix64: small, seedable, good enough for test data. */
static uint64_t einc_test_rng;
static inline uint64_t einc_test_next(void) {
  uint64_t z = (einc_test_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* Uniform in [-1, 1). */
static inline double einc_test_uniform(void) {
  return (double)(einc_test_next() >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static inline uint16_t einc_test_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; /* NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static inline float einc_test_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline float einc_test_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31u, man = h & 1023u;
  uint32_t u;
  if (exp == 0) {
    float f = ldexpf((float)man, -24);
    return sign ? -f : f;
  }
  if (exp == 31)
    u = sign | 0x7f800000u | (man << 13);
  else
    u = sign | ((exp + 112u) << 23) | (man << 13);
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline uint16_t einc_test_f32_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const float a = fabsf(f);
  if (a != a) return 0x7e00;
  if (a >= 65520.0f) return sign | 0x7c00;
  if (a < 6.103515625e-05f) /* subnormal: units of 2^-24, nearbyint rounds to even */
    return sign | (uint16_t)nearbyintf(a * 16777216.0f);
  uint32_t v = u & 0x7fffffffu;
  v += 0xfffu + ((v >> 13) & 1u);
  return sign | (uint16_t)(((v >> 23) - 112u) << 10 | ((v >> 13) & 1023u));
}

static inline size_t einc_test_esize(einc_rt_dtype dt) {
  return dt == EINC_RT_F32 ? 4 : 2;
}
static inline const char *einc_test_dtype_name(einc_rt_dtype dt) {
  return dt == EINC_RT_F32 ? "float32" : dt == EINC_RT_BF16 ? "bfloat16" : "float16";
}

/* Element i of a host buffer of dtype dt, as double; and the value rounded to dt and stored. */
static inline double einc_test_get(einc_rt_dtype dt, const void *p, int64_t i) {
  if (dt == EINC_RT_F32) return ((const float *)p)[i];
  uint16_t h = ((const uint16_t *)p)[i];
  return dt == EINC_RT_BF16 ? einc_test_bf16_to_f32(h) : einc_test_f16_to_f32(h);
}
static inline double einc_test_set(einc_rt_dtype dt, void *p, int64_t i, double v) {
  if (dt == EINC_RT_F32) return ((float *)p)[i] = (float)v;
  uint16_t h =
      dt == EINC_RT_BF16 ? einc_test_f32_to_bf16((float)v) : einc_test_f32_to_f16((float)v);
  ((uint16_t *)p)[i] = h;
  return einc_test_get(dt, p, i);
}
/* v rounded to dt (through float, as the device rounds an fp32 result). */
static inline double einc_test_round(einc_rt_dtype dt, double v) {
  uint16_t h;
  float f = (float)v;
  return einc_test_set(dt, dt == EINC_RT_F32 ? (void *)&f : (void *)&h, 0, v);
}

static inline uint64_t einc_test_seed(void) {
  const char *s = getenv("EINC_TEST_SEED");
  uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
  printf("seed %llu (set EINC_TEST_SEED to repeat)\n", (unsigned long long)seed);
  einc_test_rng = seed;
  return seed;
}

#endif /* EINC_CUDA_TEST_UTIL_H */

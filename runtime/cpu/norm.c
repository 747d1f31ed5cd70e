/*
 * The gated RMSNorm on the CPU, portable C: per token and head, r = (mean(o^2) + eps)^-1/2 in
 * float, then y = ((o * r) * w) * act(z) in vLLM's RMSNormGated order, rounded to the activation
 * dtype. Also picks, once, the fastest kernels the CPU runs (norm_x86.c holds the SIMD norms,
 * gemv_x86.c the float16 product's).
 */
#include <math.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "cpu.h"

static inline float einc_rt__load(const void *p, int64_t i, einc_rt_dtype dt) {
  switch (dt) {
  case EINC_RT_BF16:
    return einc_rt__bf16_to_f32(((const uint16_t *)p)[i]);
  case EINC_RT_F16:
    return einc_rt__f16_to_f32(((const uint16_t *)p)[i]);
  case EINC_RT_F32:
    break;
  }
  return ((const float *)p)[i];
}

/* Round to dt; store as dt, or as the rounded value in float when `as_f32`. */
static inline void einc_rt__store(void *p, int64_t i, float v, einc_rt_dtype dt, bool as_f32) {
  if (dt == EINC_RT_BF16) {
    uint16_t h = einc_rt__f32_to_bf16(v);
    if (as_f32)
      ((float *)p)[i] = einc_rt__bf16_to_f32(h);
    else
      ((uint16_t *)p)[i] = h;
  } else if (dt == EINC_RT_F16) {
    uint16_t h = einc_rt__f32_to_f16(v);
    if (as_f32)
      ((float *)p)[i] = einc_rt__f16_to_f32(h);
    else
      ((uint16_t *)p)[i] = h;
  } else {
    ((float *)p)[i] = v;
  }
}

void einc_rt__norm_portable(const einc_rt__norm_job *job, int64_t t0, int64_t t1) {
  const int64_t d = job->d;
  const einc_rt_dtype dt = job->dt;
  for (int64_t t = t0; t < t1; t++) {
    for (int64_t h = 0; h < job->heads; h++) {
      int64_t oi = t * job->o_stride + h * d, zi = t * job->z_stride + h * d;
      int64_t yi = t * job->y_stride + h * d;
      float ss = 0.0f;
      for (int64_t i = 0; i < d; i++) {
        float v = einc_rt__load(job->o, oi + i, dt);
        ss += v * v;
      }
      float r = 1.0f / sqrtf(ss / (float)d + job->eps);
      for (int64_t i = 0; i < d; i++) {
        float zv = einc_rt__load(job->z, zi + i, dt);
        float s = 1.0f / (1.0f + expf(-zv));
        float g = job->gate == EINC_RT_GATE_SILU ? zv * s : s;
        float v = einc_rt__load(job->o, oi + i, dt) * r * job->w[i] * g;
        einc_rt__store(job->y, yi + i, v, dt, job->y_f32);
      }
    }
  }
}

/* EINC_RT_CPU_NORM=portable|avx2|avx512 caps the SIMD kernels, the norm's and the float16
 * product's (tests run each one; a kernel the CPU lacks is never picked). */
static bool einc_rt__norm_allowed(const char *name) {
  const char *cap = getenv("EINC_RT_CPU_NORM");
  if (!cap || !*cap) return true;
  static const char *const order[] = {"portable", "avx2", "avx512", "avx512_bf16"};
  int cap_i = 3, name_i = 3;
  for (int i = 0; i < 4; i++) {
    if (strcmp(cap, order[i]) == 0) cap_i = i;
    if (strcmp(name, order[i]) == 0) name_i = i;
  }
  return name_i <= cap_i;
}

/* F16C (CPUID leaf 1, ECX bit 29): not every compiler's __builtin_cpu_supports knows it. */
static bool einc_rt__cpu_has_f16c(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c >> 29) & 1u;
#else
  return false;
#endif
}

bool einc_rt__cpu_has_avx512bf16(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  /* CPUID leaf 7 subleaf 1, EAX bit 5 (not every compiler's __builtin_cpu_supports knows it);
   * AVX-512 itself (and the OS saving its registers) is checked through avx512f. */
  unsigned a = 0, b = 0, c = 0, d = 0;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) return false;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a >> 5) & 1u;
#else
  return false;
#endif
}

void einc_rt__narrow_portable(const float *src, uint16_t *dst, int64_t n, einc_rt_dtype dt) {
  if (dt == EINC_RT_BF16)
    for (int64_t i = 0; i < n; i++)
      dst[i] = einc_rt__f32_to_bf16(src[i]);
  else
    for (int64_t i = 0; i < n; i++)
      dst[i] = einc_rt__f32_to_f16(src[i]);
}

einc_rt__norm_impl einc_rt__norm_pick(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  bool f16c = einc_rt__cpu_has_f16c();
  if (einc_rt__norm_allowed("avx512") && f16c && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    if (einc_rt__cpu_has_avx512bf16() && einc_rt__norm_allowed("avx512_bf16"))
      return (einc_rt__norm_impl){"avx512_bf16", einc_rt__norm_avx512_bf16, einc_rt__narrow_avx512};
    return (einc_rt__norm_impl){"avx512", einc_rt__norm_avx512, einc_rt__narrow_avx512};
  }
  if (einc_rt__norm_allowed("avx2") && f16c && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return (einc_rt__norm_impl){"avx2", einc_rt__norm_avx2, einc_rt__narrow_avx2};
#endif
  return (einc_rt__norm_impl){"portable", einc_rt__norm_portable, einc_rt__narrow_portable};
}

einc_rt__gemv_f16_fn einc_rt__gemv_f16_pick(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!einc_rt__cpu_has_f16c() || !__builtin_cpu_supports("fma")) return NULL;
  if (einc_rt__norm_allowed("avx512") && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return einc_rt__gemv_f16_avx512;
  if (einc_rt__norm_allowed("avx2") && __builtin_cpu_supports("avx2"))
    return einc_rt__gemv_f16_avx2;
#endif
  return NULL;
}

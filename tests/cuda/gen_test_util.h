/*
 * Host helpers of the generated-kernel tests: inputs drawn per dtype (values a reduction keeps
 * in range, NaNs for max / min, mostly-true booleans), elements read back as double, and the
 * comparison with the interpreter (copies to the bit, reductions within float rounding).
 */
#ifndef EINC_GEN_TEST_UTIL_H
#define EINC_GEN_TEST_UTIL_H

#include "cuda_test_util.h"
#include "einc/einc.h"

static inline double as_double(einc_dtype dt, const void *p, int64_t i) {
  switch (dt) {
  case EINC_F64:
    return ((const double *)p)[i];
  case EINC_F32:
    return ((const float *)p)[i];
  case EINC_BF16:
    return einc_test_bf16_to_f32(((const uint16_t *)p)[i]);
  case EINC_F16:
    return einc_test_f16_to_f32(((const uint16_t *)p)[i]);
  case EINC_I64:
    return (double)((const int64_t *)p)[i];
  default:
    return ((const uint8_t *)p)[i];
  }
}

static inline void fill(einc_dtype dt, void *p, int64_t n, const char *red) {
  bool nans = red && (!strcmp(red, "max") || !strcmp(red, "min"));
  bool near_one = red && !strcmp(red, "prod");
  for (int64_t i = 0; i < n; i++) {
    double v = near_one ? 1.0 + 0.25 * einc_test_uniform() : 4.0 * einc_test_uniform();
    if (nans && einc_test_next() % 97 == 0) v = NAN;
    switch (dt) {
    case EINC_F64:
      ((double *)p)[i] = v;
      break;
    case EINC_F32:
      ((float *)p)[i] = (float)v;
      break;
    case EINC_BF16:
      ((uint16_t *)p)[i] = einc_test_f32_to_bf16((float)v);
      break;
    case EINC_F16:
      ((uint16_t *)p)[i] = einc_test_f32_to_f16((float)v);
      break;
    case EINC_I64:
      ((int64_t *)p)[i] = (int64_t)(einc_test_next() % 2001) - 1000;
      break;
    default: /* mostly true, so `all` is not always false */
      ((uint8_t *)p)[i] = einc_test_next() % 16 != 0;
      break;
    }
  }
}

/* Element i of the interpreter's output `want` against the kernel's `got`. */
static inline bool same_element(const einc_plan *plan, const char *want, const char *got,
                                int64_t i) {
  const size_t osz = einc_dtype_size(plan->out_dtype);
  if (plan->klass != EINC_PLAN_REDUCE || plan->out_dtype == EINC_I64 ||
      plan->out_dtype == EINC_BOOL)
    return !memcmp(want + i * osz, got + i * osz, osz);
  const double w = as_double(plan->out_dtype, want, i), v = as_double(plan->out_dtype, got, i);
  const double tol = plan->out_dtype == EINC_F64   ? 1e-12
                     : plan->out_dtype == EINC_F32 ? 1e-6
                                                   : 8e-3;
  return (w != w && v != v) || fabs(w - v) <= tol * (1.0 + fabs(w));
}

#endif /* EINC_GEN_TEST_UTIL_H */

// Literal, macro and const-array patterns, constant and run-time sizes, and what is not fixed.
#include <stddef.h>
#include "einc/einc_rt.h"

static const char POOL[] = "b c (h 2) (w 2) -> b c h w";
#define HEADS "b (h d) -> b h d"
#define CALL_IN_MACRO(x, s, y) einc_rt_rearrange("a b -> b a", EINC_RT_F32, x, 2, s, y, NULL)

int run(const float *x, float *y, const int64_t *shape, int64_t h, const char *dyn) {
  int s = einc_rt_rearrange("b c h w -> b h w c", EINC_RT_F32, x, 4, shape, y, NULL);
  if (s != EINC_RT_OK) return s;
  s = einc_rt_reduce(POOL, "mean", EINC_RT_F32, x, 4, shape, y, NULL);
  s = einc_rt_rearrange(HEADS, EINC_RT_BF16, x, 2, shape, y, EINC_RT_SIZES({"h", 4}));
  s = einc_rt_repeat("a b -> a (b r)", EINC_RT_F32, x, 2, shape, y, EINC_RT_SIZES({"r", h}));
  s = einc_rt_rearrange(dyn, EINC_RT_F32, x, 2, shape, y, NULL);
  s = CALL_IN_MACRO(x, shape, y);
  return s;
}
// ---- after einc lint --fix ----
// Literal, macro and const-array patterns, constant and run-time sizes, and what is not fixed.
#include <stddef.h>
#include "einc/einc_rt.h"
#include "einc_patterns.h"

static const char POOL[] = "b c (h 2) (w 2) -> b c h w";
#define HEADS "b (h d) -> b h d"
#define CALL_IN_MACRO(x, s, y) einc_rt_rearrange("a b -> b a", EINC_RT_F32, x, 2, s, y, NULL)

int run(const float *x, float *y, const int64_t *shape, int64_t h, const char *dyn) {
  int s = einc_rearrange_055fe025(x, shape, y);
  if (s != EINC_RT_OK) return s;
  s = einc_reduce_d91f8164(x, shape, y);
  s = einc_rearrange_bcf0098e(x, shape, y);
  s = einc_repeat_a1939e89(x, shape, y, h);
  s = einc_rt_rearrange(dyn, EINC_RT_F32, x, 2, shape, y, NULL);
  s = CALL_IN_MACRO(x, shape, y);
  return s;
}

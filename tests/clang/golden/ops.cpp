// C++: nullptr sizes, a constexpr pattern, a call in a template-free member function.
#include "einc/einc_rt.h"

constexpr const char *kMerge = "b h n d -> b n (h d)";

struct Attention {
  int merge(const float *x, float *y, const int64_t *shape) const {
    return einc_rt_rearrange(kMerge, EINC_RT_F16, x, 4, shape, y, nullptr);
  }
  int sum(const float *x, float *y, const int64_t *shape) const {
    return einc_rt_reduce("b n d -> b d", "sum", EINC_RT_F32, x, 3, shape, y, 0);
  }
};
// ---- after einc lint --fix ----
// C++: nullptr sizes, a constexpr pattern, a call in a template-free member function.
#include "einc/einc_rt.h"
#include "einc_patterns.h"

constexpr const char *kMerge = "b h n d -> b n (h d)";

struct Attention {
  int merge(const float *x, float *y, const int64_t *shape) const {
    return einc_rearrange_00000000(x, shape, y);
  }
  int sum(const float *x, float *y, const int64_t *shape) const {
    return einc_reduce_00000000(x, shape, y);
  }
};

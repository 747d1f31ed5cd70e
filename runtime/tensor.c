/*
 * Tensor descriptors: dtype sizes and names, contiguous descriptors, and the scalar dtype
 * conversions of the public API.
 */
#include "backend.h"
#include "convert.h"

size_t einc_rt_dtype_size(einc_rt_dtype dt) {
  switch (dt) {
  case EINC_RT_F32:
    return 4;
  case EINC_RT_BF16:
  case EINC_RT_F16:
    return 2;
  }
  return 0;
}

const char *einc_rt_dtype_name(einc_rt_dtype dt) {
  switch (dt) {
  case EINC_RT_F32:
    return "float32";
  case EINC_RT_BF16:
    return "bfloat16";
  case EINC_RT_F16:
    return "float16";
  }
  return "unknown";
}

einc_rt_tensor einc_rt_tensor_contiguous(einc_rt_dtype dt, einc_rt_device dev, void *data,
                                         int32_t rank, const int64_t *shape) {
  einc_rt_tensor t = {0};
  if (rank < 0) rank = 0;
  if (rank > EINC_RT_MAX_DIMS) rank = EINC_RT_MAX_DIMS;
  t.dtype = dt;
  t.device = dev;
  t.data = data;
  t.rank = rank;
  int64_t stride = 1;
  for (int32_t i = rank - 1; i >= 0; i--) {
    t.shape[i] = shape[i];
    t.strides[i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return t;
}

int64_t einc_rt_tensor_numel(const einc_rt_tensor *t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->rank; i++)
    n *= t->shape[i];
  return n;
}

uint16_t einc_rt_f32_to_bf16(float x) {
  return einc_rt__f32_to_bf16(x);
}

float einc_rt_bf16_to_f32(uint16_t x) {
  return einc_rt__bf16_to_f32(x);
}

uint16_t einc_rt_f32_to_f16(float x) {
  return einc_rt__f32_to_f16(x);
}

float einc_rt_f16_to_f32(uint16_t x) {
  return einc_rt__f16_to_f32(x);
}

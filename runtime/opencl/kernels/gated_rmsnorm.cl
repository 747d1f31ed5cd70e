/*
 * The gated RMSNorm of the GDN projection: one work-group per (head, token). Each work-item
 * sums the squares of a strided part of the head, the group reduces them, then each writes its
 * part of y = ((o * r) * w) * act(z), r = (mean(o^2) + eps)^-1/2, all in float, rounded once to
 * the activation dtype. Offsets and strides count elements. dtype.cl is prepended.
 */

#define GATE_SILU 0

inline float einc_gate(float z, int gate) {
  float s = 1.0f / (1.0f + exp(-z));
  return gate == GATE_SILU ? z * s : s;
}

/* Portable: any OpenCL 1.2 device; local size (EINC_NORM_LOCAL, 1), a power of two. */
__kernel __attribute__((reqd_work_group_size(EINC_NORM_LOCAL, 1, 1)))
void einc_gated_rmsnorm(__global const act_t *o, long o_off, long o_stride,
                        __global const act_t *z, long z_off, long z_stride,
                        __global const act_t *w, long w_off,
                        __global act_t *y, long y_off, long y_stride,
                        int d, float eps, int gate) {
  __local float part[EINC_NORM_LOCAL];
  const int lid = get_local_id(0);
  const long h = get_group_id(0), t = get_global_id(1);
  const long oi = o_off + t * o_stride + h * d, zi = z_off + t * z_stride + h * d;
  const long yi = y_off + t * y_stride + h * d;
  float ss = 0.0f;
  for (int i = lid; i < d; i += EINC_NORM_LOCAL) {
    float v = LOAD(o, oi + i);
    ss += v * v;
  }
  part[lid] = ss;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = EINC_NORM_LOCAL / 2; s > 0; s >>= 1) {
    if (lid < s) part[lid] += part[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = 1.0f / sqrt(part[0] / (float)d + eps);
  for (int i = lid; i < d; i += EINC_NORM_LOCAL) {
    float v = LOAD(o, oi + i) * r * LOAD(w, w_off + i) * einc_gate(LOAD(z, zi + i), gate);
    STORE(y, yi + i, v);
  }
}

#ifdef EINC_INTEL_SUBGROUPS
/* Intel GPUs (cl_intel_subgroups and cl_intel_required_subgroup_size): one subgroup of 16 per
 * (head, token), reduced with a subgroup sum instead of local memory and barriers. Local size
 * (16, 1). */
__kernel __attribute__((reqd_work_group_size(16, 1, 1)))
__attribute__((intel_reqd_sub_group_size(16)))
void einc_gated_rmsnorm_subgroup(__global const act_t *o, long o_off, long o_stride,
                                 __global const act_t *z, long z_off, long z_stride,
                                 __global const act_t *w, long w_off,
                                 __global act_t *y, long y_off, long y_stride,
                                 int d, float eps, int gate) {
  const int lid = get_sub_group_local_id();
  const long h = get_group_id(0), t = get_global_id(1);
  const long oi = o_off + t * o_stride + h * d, zi = z_off + t * z_stride + h * d;
  const long yi = y_off + t * y_stride + h * d;
  float ss = 0.0f;
  for (int i = lid; i < d; i += 16) {
    float v = LOAD(o, oi + i);
    ss += v * v;
  }
  const float r = 1.0f / sqrt(sub_group_reduce_add(ss) / (float)d + eps);
  for (int i = lid; i < d; i += 16) {
    float v = LOAD(o, oi + i) * r * LOAD(w, w_off + i) * einc_gate(LOAD(z, zi + i), gate);
    STORE(y, yi + i, v);
  }
}
#endif

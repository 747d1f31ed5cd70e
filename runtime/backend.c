/*
 * Backend creation and the calls that only dispatch through a backend's table.
 */
#include <stdlib.h>

#include "backend.h"

int einc_rt_backend_new(einc_rt_backend_kind kind, const einc_rt_backend_options *opts,
                        einc_rt_backend **out) {
  einc_rt_backend_options defaults = {0};
  if (!out) return einc_rt__fail(EINC_RT_EINVAL, "einc_rt_backend_new: out is NULL");
  *out = NULL;
  if (!opts) opts = &defaults;
  switch (kind) {
  case EINC_RT_BACKEND_CPU:
    return einc_rt__cpu_backend_new(opts, out);
  case EINC_RT_BACKEND_OPENCL:
    return einc_rt__opencl_backend_new(opts, out);
  case EINC_RT_BACKEND_CUDA:
    return einc_rt__cuda_backend_new(opts, out);
  }
  return einc_rt__fail(EINC_RT_EINVAL, "unknown backend kind %d", (int)kind);
}

void einc_rt_backend_delete(einc_rt_backend *self) {
  if (!self) return;
  self->vt->destroy(self);
}

const char *einc_rt_backend_name(const einc_rt_backend *self) {
  return self ? self->name : "";
}

einc_rt_backend_kind einc_rt_backend_get_kind(const einc_rt_backend *self) {
  return self->kind;
}

bool einc_rt_backend_supports(const einc_rt_backend *self, einc_rt_op op, einc_rt_dtype dt) {
  return self && self->vt->supports(self, op, dt);
}

int einc_rt_backend_synchronize(einc_rt_backend *self) {
  if (!self) return einc_rt__fail(EINC_RT_EINVAL, "backend is NULL");
  return self->vt->synchronize ? self->vt->synchronize(self) : EINC_RT_OK;
}

/* Backends left out of the build (CMake options, or no toolkit) still answer, with a status. */
#ifndef EINC_RT_HAVE_CPU
int einc_rt__cpu_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out) {
  (void)opts;
  *out = NULL;
  return einc_rt__fail(EINC_RT_ENOTAVAIL, "libeinc_rt was built without the CPU backend");
}
#endif
#ifndef EINC_RT_HAVE_OPENCL
int einc_rt__opencl_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out) {
  (void)opts;
  *out = NULL;
  return einc_rt__fail(EINC_RT_ENOTAVAIL, "libeinc_rt was built without the OpenCL backend");
}
#endif
#ifndef EINC_RT_HAVE_CUDA
int einc_rt__cuda_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out) {
  (void)opts;
  *out = NULL;
  return einc_rt__fail(EINC_RT_ENOTAVAIL, "libeinc_rt was built without the CUDA backend");
}
#endif

/*
 * Backend creation and the calls that only dispatch through a backend's table.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifdef EINC_RT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

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

#ifdef EINC_RT_HAVE_CUDA
/* Device memory of a CUDA backend that leaves the memory entries of its table empty: cudart's
 * blocking calls. */
static int einc_rt__cuda_check(cudaError_t err, const char *what) {
  if (err == cudaSuccess) return EINC_RT_OK;
  return einc_rt__fail(err == cudaErrorMemoryAllocation ? EINC_RT_ENOMEM : EINC_RT_EBACKEND,
                       "%s failed: %s", what, cudaGetErrorString(err));
}
#endif

int einc_rt_backend_alloc(einc_rt_backend *self, size_t bytes, void **out) {
  if (!out) return einc_rt__fail(EINC_RT_EINVAL, "out is NULL");
  *out = NULL;
  if (!self) return einc_rt__fail(EINC_RT_EINVAL, "backend is NULL");
  if (self->vt->mem_alloc) return self->vt->mem_alloc(self, bytes, out);
#ifdef EINC_RT_HAVE_CUDA
  if (self->kind == EINC_RT_BACKEND_CUDA)
    return einc_rt__cuda_check(cudaMalloc(out, bytes ? bytes : 64), "cudaMalloc");
#endif
  if (self->kind != EINC_RT_BACKEND_CPU)
    return einc_rt__fail(EINC_RT_EUNSUPPORTED, "backend %s allocates no memory", self->name);
  if (posix_memalign(out, 64, bytes ? bytes : 64) != 0) {
    *out = NULL;
    return einc_rt__fail(EINC_RT_ENOMEM, "allocating %zu bytes", bytes);
  }
  return EINC_RT_OK;
}

void einc_rt_backend_free(einc_rt_backend *self, void *buf) {
  if (!self || !buf) return;
  if (self->vt->mem_free) self->vt->mem_free(self, buf);
#ifdef EINC_RT_HAVE_CUDA
  else if (self->kind == EINC_RT_BACKEND_CUDA)
    cudaFree(buf);
#endif
  else if (self->kind == EINC_RT_BACKEND_CPU)
    free(buf);
}

int einc_rt_backend_upload(einc_rt_backend *self, void *buf, const void *host, size_t bytes) {
  if (!self || (bytes && (!buf || !host)))
    return einc_rt__fail(EINC_RT_EINVAL, "backend, buffer or host pointer is NULL");
  if (self->vt->mem_upload) return self->vt->mem_upload(self, buf, host, bytes);
#ifdef EINC_RT_HAVE_CUDA
  if (self->kind == EINC_RT_BACKEND_CUDA)
    return einc_rt__cuda_check(cudaMemcpy(buf, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
#endif
  if (self->kind != EINC_RT_BACKEND_CPU)
    return einc_rt__fail(EINC_RT_EUNSUPPORTED, "backend %s copies no memory", self->name);
  if (bytes) memcpy(buf, host, bytes);
  return EINC_RT_OK;
}

int einc_rt_backend_download(einc_rt_backend *self, void *host, const void *buf, size_t bytes) {
  if (!self || (bytes && (!buf || !host)))
    return einc_rt__fail(EINC_RT_EINVAL, "backend, buffer or host pointer is NULL");
  if (self->vt->mem_download) return self->vt->mem_download(self, host, buf, bytes);
#ifdef EINC_RT_HAVE_CUDA
  if (self->kind == EINC_RT_BACKEND_CUDA)
    return einc_rt__cuda_check(cudaMemcpy(host, buf, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
#endif
  if (self->kind != EINC_RT_BACKEND_CPU)
    return einc_rt__fail(EINC_RT_EUNSUPPORTED, "backend %s copies no memory", self->name);
  if (bytes) memcpy(host, buf, bytes);
  return EINC_RT_OK;
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

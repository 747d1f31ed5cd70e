/*
 * Device memory for the runtime tests: host memory for the CPU backend, OpenCL buffers (with a
 * context and queue the backend is then told to share) for the OpenCL backend, CUDA device
 * memory for the CUDA backend.
 */
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef EINC_RT_HAVE_OPENCL
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#endif
#ifdef EINC_TEST_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static void rt_die(const char *what, int code) {
  fprintf(stderr, "test device: %s failed (%d)\n", what, code);
  abort();
}

bool rt_device_open(einc_rt_backend_kind kind, rt_device *dev, char *why, size_t why_len) {
  memset(dev, 0, sizeof *dev);
  dev->kind = kind;
  switch (kind) {
  case EINC_RT_BACKEND_CPU:
    dev->device = EINC_RT_DEVICE_CPU;
    dev->name = "cpu";
    return true;
  case EINC_RT_BACKEND_OPENCL: {
    dev->device = EINC_RT_DEVICE_OPENCL;
    dev->name = "opencl";
#ifdef EINC_RT_HAVE_OPENCL
    cl_platform_id platforms[8];
    cl_uint n_platforms = 0;
    if (clGetPlatformIDs(8, platforms, &n_platforms) != CL_SUCCESS || n_platforms == 0) {
      snprintf(why, why_len, "no OpenCL platform on this machine");
      return false;
    }
    cl_device_id device = NULL;
    for (cl_uint i = 0; i < n_platforms && !device; i++) {
      cl_uint n = 0;
      if (clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 1, &device, &n) != CL_SUCCESS)
        device = NULL;
    }
    if (!device) {
      snprintf(why, why_len, "no OpenCL device on this machine");
      return false;
    }
    cl_int err;
    cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS) rt_die("clCreateContext", err);
    cl_command_queue q = clCreateCommandQueue(ctx, device, 0, &err);
    if (err != CL_SUCCESS) rt_die("clCreateCommandQueue", err);
    dev->ctx = ctx;
    dev->queue = q;
    return true;
#else
    snprintf(why, why_len, "libeinc_rt was built without OpenCL");
    return false;
#endif
  }
  case EINC_RT_BACKEND_CUDA:
    dev->device = EINC_RT_DEVICE_CUDA;
    dev->name = "cuda";
#ifdef EINC_TEST_HAVE_CUDA
    {
      int n = 0;
      if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        snprintf(why, why_len, "no CUDA device on this machine");
        return false;
      }
      return true;
    }
#else
    snprintf(why, why_len, "the tests were built without CUDA");
    return false;
#endif
  }
  snprintf(why, why_len, "unknown backend");
  return false;
}

void rt_device_close(rt_device *dev) {
#ifdef EINC_RT_HAVE_OPENCL
  if (dev->queue) clReleaseCommandQueue(dev->queue);
  if (dev->ctx) clReleaseContext(dev->ctx);
#endif
  memset(dev, 0, sizeof *dev);
}

einc_rt_backend_options rt_device_options(const rt_device *dev) {
  einc_rt_backend_options o = {0};
  o.opencl_queue = dev->queue;
  return o;
}

void *rt_device_alloc(const rt_device *dev, size_t bytes) {
  if (bytes == 0) bytes = 4;
  switch (dev->kind) {
  case EINC_RT_BACKEND_OPENCL: {
#ifdef EINC_RT_HAVE_OPENCL
    cl_int err;
    cl_mem m = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) rt_die("clCreateBuffer", err);
    return m;
#else
    break;
#endif
  }
  case EINC_RT_BACKEND_CUDA: {
#ifdef EINC_TEST_HAVE_CUDA
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) rt_die("cudaMalloc", 0);
    return p;
#else
    break;
#endif
  }
  case EINC_RT_BACKEND_CPU:
    break;
  }
  void *p = malloc(bytes);
  if (!p) rt_die("malloc", 0);
  return p;
}

void rt_device_free(const rt_device *dev, void *buf) {
  if (!buf) return;
#ifdef EINC_RT_HAVE_OPENCL
  if (dev->kind == EINC_RT_BACKEND_OPENCL) {
    clReleaseMemObject(buf);
    return;
  }
#endif
#ifdef EINC_TEST_HAVE_CUDA
  if (dev->kind == EINC_RT_BACKEND_CUDA) {
    cudaFree(buf);
    return;
  }
#endif
  (void)dev;
  free(buf);
}

void rt_device_upload(const rt_device *dev, void *buf, const void *host, size_t bytes) {
  if (bytes == 0) return;
#ifdef EINC_RT_HAVE_OPENCL
  if (dev->kind == EINC_RT_BACKEND_OPENCL) {
    cl_int err = clEnqueueWriteBuffer(dev->queue, buf, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS) rt_die("clEnqueueWriteBuffer", err);
    return;
  }
#endif
#ifdef EINC_TEST_HAVE_CUDA
  if (dev->kind == EINC_RT_BACKEND_CUDA) {
    if (cudaMemcpy(buf, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess)
      rt_die("cudaMemcpy", 0);
    return;
  }
#endif
  (void)dev;
  memcpy(buf, host, bytes);
}

void rt_device_download(const rt_device *dev, void *host, const void *buf, size_t bytes) {
  if (bytes == 0) return;
#ifdef EINC_RT_HAVE_OPENCL
  if (dev->kind == EINC_RT_BACKEND_OPENCL) {
    cl_int err =
        clEnqueueReadBuffer(dev->queue, (cl_mem)buf, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS) rt_die("clEnqueueReadBuffer", err);
    return;
  }
#endif
#ifdef EINC_TEST_HAVE_CUDA
  if (dev->kind == EINC_RT_BACKEND_CUDA) {
    if (cudaMemcpy(host, buf, bytes, cudaMemcpyDeviceToHost) != cudaSuccess)
      rt_die("cudaMemcpy", 0);
    return;
  }
#endif
  (void)dev;
  memcpy(host, buf, bytes);
}

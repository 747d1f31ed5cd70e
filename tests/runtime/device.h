/*
 * Test-side device memory: allocate a buffer on a backend's device, copy to and from it, and
 * make tensor descriptors over it, so one test body runs on every backend.
 */
#ifndef EINC_TEST_RT_DEVICE_H
#define EINC_TEST_RT_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "einc/einc_rt.h"

typedef struct rt_device {
  einc_rt_backend_kind kind;
  einc_rt_device device;
  const char *name;
  void *ctx;   /* OpenCL: cl_context */
  void *queue; /* OpenCL: cl_command_queue */
} rt_device;

/* Set up the device of `kind`; false (with a reason in `why`) when none is present. */
bool rt_device_open(einc_rt_backend_kind kind, rt_device *dev, char *why, size_t why_len);
void rt_device_close(rt_device *dev);
/* Options that make the backend share the test's queue. */
einc_rt_backend_options rt_device_options(const rt_device *dev);

/* A device buffer (host memory for the CPU) of `bytes`, and copies. */
void *rt_device_alloc(const rt_device *dev, size_t bytes);
void rt_device_free(const rt_device *dev, void *buf);
void rt_device_upload(const rt_device *dev, void *buf, const void *host, size_t bytes);
void rt_device_download(const rt_device *dev, void *host, const void *buf, size_t bytes);

#endif

/*
 * The OpenCL (XPU) backend. The norm runs as the OpenCL C kernels of kernels/gated_rmsnorm.cl,
 * embedded at build time: a portable work-group reduction on any device (PoCL in the tests) and
 * a subgroup reduction where the device reports cl_intel_subgroups. The GEMM runs through
 * oneDNN's GPU engine on Intel GPUs (oneDNN wraps this backend's context and queue) and through
 * the project's tiled kernel (kernels/gemm_nt.cl) on every other device. Tensors hold a cl_mem
 * in `data` and an element offset. Work is queued in order on one queue; nothing blocks until
 * einc_rt_backend_synchronize.
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#ifdef EINC_RT_HAVE_DNNL
#include <dnnl_ocl.h>

#include "dnnl_matmul.h"
#endif

extern const char einc_rt__cl_dtype[];
extern const char einc_rt__cl_gated_rmsnorm[];
extern const char einc_rt__cl_gemm_nt[];

/* ---- errors ---- */

// clang-format off
#define EINC_RT__CL_ERRORS(X)                                                                      \
  X(CL_SUCCESS)                                                                                    \
  X(CL_DEVICE_NOT_FOUND)                                                                           \
  X(CL_DEVICE_NOT_AVAILABLE)                                                                       \
  X(CL_COMPILER_NOT_AVAILABLE)                                                                     \
  X(CL_MEM_OBJECT_ALLOCATION_FAILURE)                                                              \
  X(CL_OUT_OF_RESOURCES)                                                                           \
  X(CL_OUT_OF_HOST_MEMORY)                                                                         \
  X(CL_PROFILING_INFO_NOT_AVAILABLE)                                                               \
  X(CL_MEM_COPY_OVERLAP)                                                                           \
  X(CL_IMAGE_FORMAT_MISMATCH)                                                                      \
  X(CL_IMAGE_FORMAT_NOT_SUPPORTED)                                                                 \
  X(CL_BUILD_PROGRAM_FAILURE)                                                                      \
  X(CL_MAP_FAILURE)                                                                                \
  X(CL_MISALIGNED_SUB_BUFFER_OFFSET)                                                               \
  X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)                                                  \
  X(CL_COMPILE_PROGRAM_FAILURE)                                                                    \
  X(CL_LINKER_NOT_AVAILABLE)                                                                       \
  X(CL_LINK_PROGRAM_FAILURE)                                                                       \
  X(CL_DEVICE_PARTITION_FAILED)                                                                    \
  X(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)                                                              \
  X(CL_INVALID_VALUE)                                                                              \
  X(CL_INVALID_DEVICE_TYPE)                                                                        \
  X(CL_INVALID_PLATFORM)                                                                           \
  X(CL_INVALID_DEVICE)                                                                             \
  X(CL_INVALID_CONTEXT)                                                                            \
  X(CL_INVALID_QUEUE_PROPERTIES)                                                                   \
  X(CL_INVALID_COMMAND_QUEUE)                                                                      \
  X(CL_INVALID_HOST_PTR)                                                                           \
  X(CL_INVALID_MEM_OBJECT)                                                                         \
  X(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)                                                            \
  X(CL_INVALID_IMAGE_SIZE)                                                                         \
  X(CL_INVALID_SAMPLER)                                                                            \
  X(CL_INVALID_BINARY)                                                                             \
  X(CL_INVALID_BUILD_OPTIONS)                                                                      \
  X(CL_INVALID_PROGRAM)                                                                            \
  X(CL_INVALID_PROGRAM_EXECUTABLE)                                                                 \
  X(CL_INVALID_KERNEL_NAME)                                                                        \
  X(CL_INVALID_KERNEL_DEFINITION)                                                                  \
  X(CL_INVALID_KERNEL)                                                                             \
  X(CL_INVALID_ARG_INDEX)                                                                          \
  X(CL_INVALID_ARG_VALUE)                                                                          \
  X(CL_INVALID_ARG_SIZE)                                                                           \
  X(CL_INVALID_KERNEL_ARGS)                                                                        \
  X(CL_INVALID_WORK_DIMENSION)                                                                     \
  X(CL_INVALID_WORK_GROUP_SIZE)                                                                    \
  X(CL_INVALID_WORK_ITEM_SIZE)                                                                     \
  X(CL_INVALID_GLOBAL_OFFSET)                                                                      \
  X(CL_INVALID_EVENT_WAIT_LIST)                                                                    \
  X(CL_INVALID_EVENT)                                                                              \
  X(CL_INVALID_OPERATION)                                                                          \
  X(CL_INVALID_GL_OBJECT)                                                                          \
  X(CL_INVALID_BUFFER_SIZE)                                                                        \
  X(CL_INVALID_MIP_LEVEL)                                                                          \
  X(CL_INVALID_GLOBAL_WORK_SIZE)                                                                   \
  X(CL_INVALID_PROPERTY)                                                                           \
  X(CL_INVALID_IMAGE_DESCRIPTOR)                                                                   \
  X(CL_INVALID_COMPILER_OPTIONS)                                                                   \
  X(CL_INVALID_LINKER_OPTIONS)                                                                     \
  X(CL_INVALID_DEVICE_PARTITION_COUNT)
// clang-format on

static const char *einc_rt__cl_error_name(cl_int err) {
  switch (err) {
#define EINC_RT__CL_ERROR_CASE(name)                                                               \
  case name:                                                                                       \
    return #name;
    EINC_RT__CL_ERRORS(EINC_RT__CL_ERROR_CASE)
#undef EINC_RT__CL_ERROR_CASE
  }
  return "unknown OpenCL error";
}

/* Checks an expression that yields a cl_int; on failure records expression, file, line and the
 * error's name, and jumps to `label` with `rc` set. */
#define EINC_RT__CL(expr, label)                                                                   \
  do {                                                                                             \
    cl_int einc_rt__e = (expr);                                                                    \
    if (einc_rt__e != CL_SUCCESS) {                                                                \
      rc = einc_rt__fail(EINC_RT_EBACKEND, "%s failed at %s:%d: %s", #expr, __FILE__, __LINE__,    \
                         einc_rt__cl_error_name(einc_rt__e));                                      \
      goto label;                                                                                  \
    }                                                                                              \
  } while (0)

/* ---- the backend's state ---- */

#define EINC_RT__NORM_LOCAL 64
#define EINC_RT__TILE       64 /* outputs per work-group side */
#define EINC_RT__TK         16 /* k per local-memory step */
#define EINC_RT__WPT        8  /* outputs per work-item side */
#define EINC_RT__GEMV_ROWS  8  /* up to this many rows take the GEMV kernel */
#define EINC_RT__GEMV_LOCAL 64

typedef struct einc_rt__cl_programs {
  cl_program program;
  cl_kernel norm, norm_subgroup, gemm, gemv;
} einc_rt__cl_programs;

typedef struct einc_rt__ocl {
  cl_context ctx;
  cl_device_id device;
  cl_command_queue queue;
  bool intel_subgroups;
  bool intel_gpu;
  pthread_mutex_t mu;               /* programs and kernel arguments */
  einc_rt__cl_programs programs[3]; /* per dtype, built on first use */
#ifdef EINC_RT_HAVE_DNNL
  bool use_dnnl;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  einc_rt__mm_cache mm;
#endif
} einc_rt__ocl;

static inline einc_rt__ocl *einc_rt__ocl_of(einc_rt_backend *b) {
  return b->impl;
}

static const char *einc_rt__cl_dt_define(einc_rt_dtype dt) {
  return dt == EINC_RT_BF16  ? "-DEINC_DT_BF16"
         : dt == EINC_RT_F16 ? "-DEINC_DT_F16"
                             : "-DEINC_DT_F32";
}

static void einc_rt__cl_programs_release(einc_rt__cl_programs *p) {
  cl_kernel kernels[4] = {p->norm, p->norm_subgroup, p->gemm, p->gemv};
  for (int i = 0; i < 4; i++)
    if (kernels[i]) clReleaseKernel(kernels[i]);
  if (p->program) clReleaseProgram(p->program);
  memset(p, 0, sizeof *p);
}

/* Build dtype.cl + the kernels for `dt` once; caller holds ocl->mu. */
static int einc_rt__cl_programs_get(einc_rt__ocl *ocl, einc_rt_dtype dt,
                                    einc_rt__cl_programs **out) {
  int rc = EINC_RT_OK;
  cl_int err = CL_SUCCESS;
  einc_rt__cl_programs *p = &ocl->programs[dt];
  *out = p;
  if (p->program) return EINC_RT_OK;
  const char *sources[3] = {einc_rt__cl_dtype, einc_rt__cl_gated_rmsnorm, einc_rt__cl_gemm_nt};
  char options[256];
  snprintf(options, sizeof options,
           "-cl-std=CL1.2 %s -DEINC_NORM_LOCAL=%d -DEINC_TILE=%d -DEINC_TK=%d -DEINC_WPT=%d "
           "-DEINC_GEMV_ROWS=%d -DEINC_GEMV_LOCAL=%d%s",
           einc_rt__cl_dt_define(dt), EINC_RT__NORM_LOCAL, EINC_RT__TILE, EINC_RT__TK, EINC_RT__WPT,
           EINC_RT__GEMV_ROWS, EINC_RT__GEMV_LOCAL,
           ocl->intel_subgroups ? " -DEINC_INTEL_SUBGROUPS" : "");
  EINC_RT__CL((p->program = clCreateProgramWithSource(ocl->ctx, 3, sources, NULL, &err), err),
              fail);
  err = clBuildProgram(p->program, 1, &ocl->device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[1024] = "";
    clGetProgramBuildInfo(p->program, ocl->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    rc =
        einc_rt__fail(EINC_RT_EBACKEND, "clBuildProgram (%s) failed at %s:%d: %s: %s",
                      einc_rt_dtype_name(dt), __FILE__, __LINE__, einc_rt__cl_error_name(err), log);
    goto fail_program;
  }
  EINC_RT__CL((p->norm = clCreateKernel(p->program, "einc_gated_rmsnorm", &err), err),
              fail_program);
  EINC_RT__CL((p->gemm = clCreateKernel(p->program, "einc_gemm_nt", &err), err), fail_program);
  EINC_RT__CL((p->gemv = clCreateKernel(p->program, "einc_gemv_nt", &err), err), fail_program);
  if (ocl->intel_subgroups)
    EINC_RT__CL(
        (p->norm_subgroup = clCreateKernel(p->program, "einc_gated_rmsnorm_subgroup", &err), err),
        fail_program);
  return EINC_RT_OK;
fail_program:
  einc_rt__cl_programs_release(p);
fail:
  return rc;
}

/* ---- buffer extents ---- */

/* The furthest element a tensor reaches must lie inside its buffer; checked before anything is
 * queued, so a bad offset or stride fails cleanly instead of touching other memory. */
static int einc_rt__cl_check_extent(const char *name, const einc_rt_tensor *t) {
  int rc = EINC_RT_OK;
  int64_t last = t->offset;
  for (int32_t i = 0; i < t->rank; i++) {
    if (t->shape[i] == 0) return EINC_RT_OK;
    last += (t->shape[i] - 1) * t->strides[i];
  }
  size_t size = 0;
  EINC_RT__CL(clGetMemObjectInfo((cl_mem)t->data, CL_MEM_SIZE, sizeof size, &size, NULL), fail);
  uint64_t need = (uint64_t)(last + 1) * einc_rt_dtype_size(t->dtype);
  if (need > size)
    return einc_rt__fail(EINC_RT_EINVAL, "%s reaches byte %llu of an OpenCL buffer of %zu bytes",
                         name, (unsigned long long)need, size);
fail:
  return rc;
}

static int einc_rt__cl_check_extents(int n, const char *const *names,
                                     const einc_rt_tensor *const *ts) {
  int rc = EINC_RT_OK;
  for (int i = 0; i < n && !rc; i++)
    rc = einc_rt__cl_check_extent(names[i], ts[i]);
  return rc;
}

/* ---- kernels ---- */

typedef struct einc_rt__cl_arg {
  size_t size;
  const void *value;
} einc_rt__cl_arg;

#define EINC_RT__ARG(v) ((einc_rt__cl_arg){sizeof(v), &(v)})

static int einc_rt__cl_launch(einc_rt__ocl *ocl, cl_kernel k, int n_args,
                              const einc_rt__cl_arg *args, const size_t global[2],
                              const size_t local[2]) {
  int rc = EINC_RT_OK;
  for (int i = 0; i < n_args; i++)
    EINC_RT__CL(clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value), fail);
  EINC_RT__CL(clEnqueueNDRangeKernel(ocl->queue, k, 2, NULL, global, local, 0, NULL, NULL), fail);
fail:
  return rc;
}

/* y (element offset y_off, token stride y_stride) = gated_rmsnorm(o, z) * w. */
static int einc_rt__cl_norm(einc_rt__ocl *ocl, einc_rt__cl_programs *p, const einc_rt_tensor *o,
                            const einc_rt_tensor *z, cl_mem w, cl_long w_off,
                            const einc_rt_gdn_params *params, cl_mem y, cl_long y_off,
                            cl_long y_stride) {
  cl_mem om = o->data, zm = z->data;
  cl_long o_off = o->offset, o_stride = o->strides[0];
  cl_long z_off = z->offset, z_stride = z->strides[0];
  cl_int d = (cl_int)o->shape[2], gate = (cl_int)params->gate;
  cl_float eps = params->eps;
  einc_rt__cl_arg args[] = {
      EINC_RT__ARG(om),    EINC_RT__ARG(o_off),    EINC_RT__ARG(o_stride), EINC_RT__ARG(zm),
      EINC_RT__ARG(z_off), EINC_RT__ARG(z_stride), EINC_RT__ARG(w),        EINC_RT__ARG(w_off),
      EINC_RT__ARG(y),     EINC_RT__ARG(y_off),    EINC_RT__ARG(y_stride), EINC_RT__ARG(d),
      EINC_RT__ARG(eps),   EINC_RT__ARG(gate),
  };
  bool sg = p->norm_subgroup != NULL;
  size_t local[2] = {sg ? 16 : EINC_RT__NORM_LOCAL, 1};
  size_t global[2] = {local[0] * (size_t)o->shape[1], (size_t)o->shape[0]};
  return einc_rt__cl_launch(ocl, sg ? p->norm_subgroup : p->norm, 14, args, global, local);
}

/* out = x · wᵀ through oneDNN (Intel GPUs) or the tiled kernel. */
static int einc_rt__cl_gemm(einc_rt__ocl *ocl, einc_rt__cl_programs *p, einc_rt_dtype dt, cl_mem x,
                            cl_long x_off, cl_long ldx, cl_mem w, cl_long w_off, cl_long ldw,
                            cl_mem out, cl_long out_off, cl_long ldo, cl_int m, cl_int n,
                            cl_int k) {
#ifdef EINC_RT_HAVE_DNNL
  if (ocl->use_dnnl) {
    dnnl_data_type_t t = dt == EINC_RT_BF16 ? dnnl_bf16 : dt == EINC_RT_F16 ? dnnl_f16 : dnnl_f32;
    einc_rt__mm_key key;
    memset(&key, 0, sizeof key);
    key.x_dt = key.w_dt = key.out_dt = t;
    key.m = m;
    key.k = k;
    key.n = n;
    key.ldx = ldx;
    key.ldw = ldw;
    key.ldo = ldo;
    key.x_offset = x_off;
    key.w_offset = w_off;
    key.out_offset = out_off;
    return einc_rt__mm_run(&ocl->mm, &key, x, w, out, NULL);
  }
#else
  (void)dt;
#endif
  einc_rt__cl_arg args[] = {
      EINC_RT__ARG(x),     EINC_RT__ARG(x_off), EINC_RT__ARG(ldx), EINC_RT__ARG(w),
      EINC_RT__ARG(w_off), EINC_RT__ARG(ldw),   EINC_RT__ARG(out), EINC_RT__ARG(out_off),
      EINC_RT__ARG(ldo),   EINC_RT__ARG(m),     EINC_RT__ARG(n),   EINC_RT__ARG(k),
  };
  if (m <= EINC_RT__GEMV_ROWS) {
    size_t local[2] = {EINC_RT__GEMV_LOCAL, 1};
    size_t global[2] = {EINC_RT__GEMV_LOCAL * (size_t)n, 1};
    return einc_rt__cl_launch(ocl, p->gemv, 12, args, global, local);
  }
  const size_t r = EINC_RT__TILE / EINC_RT__WPT,
               tiles_n = (size_t)(n + EINC_RT__TILE - 1) / EINC_RT__TILE;
  size_t local[2] = {r, r};
  size_t global[2] = {tiles_n * r, (size_t)(m + EINC_RT__TILE - 1) / EINC_RT__TILE * r};
  return einc_rt__cl_launch(ocl, p->gemm, 12, args, global, local);
}

static int einc_rt__ocl_gated_rmsnorm(einc_rt_backend *self, const einc_rt_tensor *o,
                                      const einc_rt_tensor *z, const einc_rt_tensor *norm_weight,
                                      const einc_rt_gdn_params *params, einc_rt_tensor *y) {
  einc_rt__ocl *ocl = einc_rt__ocl_of(self);
  einc_rt__cl_programs *p;
  int rc = einc_rt__cl_check_extents(4, (const char *const[]){"O", "Z", "norm weight w", "Y"},
                                     (const einc_rt_tensor *const[]){o, z, norm_weight, y});
  if (rc) return rc;
  pthread_mutex_lock(&ocl->mu);
  rc = einc_rt__cl_programs_get(ocl, o->dtype, &p);
  if (!rc)
    rc = einc_rt__cl_norm(ocl, p, o, z, norm_weight->data, norm_weight->offset, params, y->data,
                          y->offset, o->shape[1] * o->shape[2]);
  pthread_mutex_unlock(&ocl->mu);
  return rc;
}

static int einc_rt__ocl_gemm_nt(einc_rt_backend *self, const einc_rt_tensor *x,
                                const einc_rt_tensor *w, einc_rt_tensor *out) {
  einc_rt__ocl *ocl = einc_rt__ocl_of(self);
  einc_rt__cl_programs *p;
  int rc = einc_rt__cl_check_extents(3, (const char *const[]){"x", "W", "out"},
                                     (const einc_rt_tensor *const[]){x, w, out});
  if (rc) return rc;
  pthread_mutex_lock(&ocl->mu);
  rc = einc_rt__cl_programs_get(ocl, x->dtype, &p);
  if (!rc)
    rc = einc_rt__cl_gemm(ocl, p, x->dtype, x->data, x->offset,
                          x->shape[0] > 1 ? x->strides[0] : x->shape[1], w->data, w->offset,
                          w->strides[0], out->data, out->offset,
                          out->shape[0] > 1 ? out->strides[0] : out->shape[1], (cl_int)x->shape[0],
                          (cl_int)w->shape[0], (cl_int)x->shape[1]);
  pthread_mutex_unlock(&ocl->mu);
  return rc;
}

/* ---- the bound projection ---- */

typedef struct einc_rt__ocl_proj {
  einc_rt__proj_info info;
  einc_rt_tensor norm_weight, proj_weight;
  cl_mem y; /* workspace: Y for up to y_cap tokens */
  int64_t y_cap;
} einc_rt__ocl_proj;

static void einc_rt__ocl_proj_delete(einc_rt_backend *self, void *state) {
  (void)self;
  einc_rt__ocl_proj *p = state;
  if (!p) return;
  if (p->y) clReleaseMemObject(p->y);
  free(p);
}

/* Grows Y; an in-order queue makes releasing the old buffer safe while work on it is queued. */
static int einc_rt__ocl_proj_reserve(einc_rt__ocl *ocl, einc_rt__ocl_proj *p, int64_t tokens) {
  int rc = EINC_RT_OK;
  cl_int err = CL_SUCCESS;
  if (tokens <= p->y_cap) return EINC_RT_OK;
  cl_mem y;
  size_t bytes = (size_t)(tokens * p->info.k) * einc_rt_dtype_size(p->info.dt);
  EINC_RT__CL((y = clCreateBuffer(ocl->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err), err), fail);
  if (p->y) clReleaseMemObject(p->y);
  p->y = y;
  p->y_cap = tokens;
fail:
  return rc;
}

static int einc_rt__ocl_proj_new(einc_rt_backend *self, const einc_rt_tensor *norm_weight,
                                 const einc_rt_tensor *proj_weight,
                                 const einc_rt_gdn_params *params, int64_t max_tokens,
                                 void **state) {
  einc_rt__ocl *ocl = einc_rt__ocl_of(self);
  einc_rt__ocl_proj *p = calloc(1, sizeof *p);
  if (!p) return einc_rt__fail(EINC_RT_ENOMEM, "allocating the projection");
  int rc;
  p->norm_weight = *norm_weight;
  p->proj_weight = *proj_weight;
  if ((rc = einc_rt__cl_check_extents(2, (const char *const[]){"norm weight w", "W"},
                                      (const einc_rt_tensor *const[]){norm_weight, proj_weight})))
    goto fail;
  if ((rc = einc_rt__proj_info_init(&p->info, norm_weight, proj_weight, params))) goto fail;
  einc_rt__cl_programs *progs;
  pthread_mutex_lock(&ocl->mu);
  rc = einc_rt__cl_programs_get(ocl, p->info.dt, &progs);
  pthread_mutex_unlock(&ocl->mu);
  if (rc) goto fail;
  if ((rc = einc_rt__ocl_proj_reserve(ocl, p, max_tokens > 0 ? max_tokens : 1))) goto fail;
  *state = p;
  return EINC_RT_OK;
fail:
  einc_rt__ocl_proj_delete(self, p);
  return rc;
}

static int einc_rt__ocl_proj_run(einc_rt_backend *self, void *state, const einc_rt_tensor *o,
                                 const einc_rt_tensor *z, einc_rt_tensor *out) {
  einc_rt__ocl *ocl = einc_rt__ocl_of(self);
  einc_rt__ocl_proj *p = state;
  int64_t t = o->shape[0];
  einc_rt__cl_programs *progs;
  int rc = einc_rt__cl_check_extents(3, (const char *const[]){"O", "Z", "out"},
                                     (const einc_rt_tensor *const[]){o, z, out});
  if (rc) return rc;
  pthread_mutex_lock(&ocl->mu);
  rc = einc_rt__ocl_proj_reserve(ocl, p, t);
  if (!rc) rc = einc_rt__cl_programs_get(ocl, p->info.dt, &progs);
  if (rc) goto unlock;
  if ((rc = einc_rt__cl_norm(ocl, progs, o, z, p->norm_weight.data, p->norm_weight.offset,
                             &p->info.params, p->y, 0, p->info.k)))
    goto unlock;
  /* X = rearrange(Y, "... h d -> ... (h d)"): a view, from the compiled plan. */
  int64_t y_shape[3] = {t, p->info.heads, p->info.d};
  einc_rt_tensor y = einc_rt_tensor_contiguous(p->info.dt, EINC_RT_DEVICE_OPENCL, p->y, 3, y_shape);
  einc_rt_tensor x;
  if ((rc = einc_rt__head_merge_apply(&p->info.merge, &y, &x))) goto unlock;
  rc = einc_rt__cl_gemm(ocl, progs, p->info.dt, x.data, x.offset, x.strides[0], p->proj_weight.data,
                        p->proj_weight.offset, p->proj_weight.strides[0], out->data, out->offset,
                        t > 1 ? out->strides[0] : p->info.n, (cl_int)t, (cl_int)p->info.n,
                        (cl_int)p->info.k);
unlock:
  pthread_mutex_unlock(&ocl->mu);
  return rc;
}

/* ---- the backend ---- */

static bool einc_rt__ocl_supports(const einc_rt_backend *self, einc_rt_op op, einc_rt_dtype dt) {
  (void)self;
  (void)op;
  return dt == EINC_RT_F32 || dt == EINC_RT_BF16 || dt == EINC_RT_F16;
}

static int einc_rt__ocl_synchronize(einc_rt_backend *self) {
  int rc = EINC_RT_OK;
  EINC_RT__CL(clFinish(einc_rt__ocl_of(self)->queue), fail);
fail:
  return rc;
}

static void einc_rt__ocl_destroy(einc_rt_backend *self) {
  einc_rt__ocl *ocl = einc_rt__ocl_of(self);
  clFinish(ocl->queue);
#ifdef EINC_RT_HAVE_DNNL
  if (ocl->use_dnnl) {
    einc_rt__mm_cache_clear(&ocl->mm);
    dnnl_stream_destroy(ocl->stream);
    dnnl_engine_destroy(ocl->engine);
  }
#endif
  for (int i = 0; i < 3; i++)
    einc_rt__cl_programs_release(&ocl->programs[i]);
  pthread_mutex_destroy(&ocl->mu);
  clReleaseCommandQueue(ocl->queue);
  clReleaseContext(ocl->ctx);
  free(ocl);
  free(self);
}

static int einc_rt__ocl_mem_alloc(einc_rt_backend *self, size_t bytes, void **out) {
  int rc = EINC_RT_OK;
  cl_int err = CL_SUCCESS;
  cl_mem m;
  EINC_RT__CL((m = clCreateBuffer(einc_rt__ocl_of(self)->ctx, CL_MEM_READ_WRITE, bytes ? bytes : 64,
                                  NULL, &err),
               err),
              fail);
  *out = m;
fail:
  return rc;
}

static void einc_rt__ocl_mem_free(einc_rt_backend *self, void *buf) {
  (void)self;
  clReleaseMemObject(buf);
}

static int einc_rt__ocl_mem_upload(einc_rt_backend *self, void *buf, const void *host,
                                   size_t bytes) {
  int rc = EINC_RT_OK;
  if (bytes)
    EINC_RT__CL(clEnqueueWriteBuffer(einc_rt__ocl_of(self)->queue, buf, CL_TRUE, 0, bytes, host, 0,
                                     NULL, NULL),
                fail);
fail:
  return rc;
}

static int einc_rt__ocl_mem_download(einc_rt_backend *self, void *host, const void *buf,
                                     size_t bytes) {
  int rc = EINC_RT_OK;
  if (bytes)
    EINC_RT__CL(clEnqueueReadBuffer(einc_rt__ocl_of(self)->queue, (cl_mem)buf, CL_TRUE, 0, bytes,
                                    host, 0, NULL, NULL),
                fail);
fail:
  return rc;
}

static const einc_rt_backend_vtable einc_rt__ocl_vtable = {
    .destroy = einc_rt__ocl_destroy,
    .supports = einc_rt__ocl_supports,
    .synchronize = einc_rt__ocl_synchronize,
    .gated_rmsnorm = einc_rt__ocl_gated_rmsnorm,
    .gemm_nt = einc_rt__ocl_gemm_nt,
    .proj_new = einc_rt__ocl_proj_new,
    .proj_run = einc_rt__ocl_proj_run,
    .proj_delete = einc_rt__ocl_proj_delete,
    .mem_alloc = einc_rt__ocl_mem_alloc,
    .mem_free = einc_rt__ocl_mem_free,
    .mem_upload = einc_rt__ocl_mem_upload,
    .mem_download = einc_rt__ocl_mem_download,
};

/* The device_index-th device over all platforms, with a new context and queue. */
static int einc_rt__ocl_open(einc_rt__ocl *ocl, int32_t device_index) {
  int rc = EINC_RT_OK;
  cl_int err = CL_SUCCESS;
  cl_platform_id platforms[16];
  cl_uint n_platforms = 0;
  if (clGetPlatformIDs(16, platforms, &n_platforms) != CL_SUCCESS || n_platforms == 0)
    return einc_rt__fail(EINC_RT_ENOTAVAIL, "no OpenCL platform on this machine");
  int32_t seen = 0;
  for (cl_uint i = 0; i < n_platforms && !ocl->device; i++) {
    cl_device_id devices[16];
    cl_uint n = 0;
    if (clGetDeviceIDs(platforms[i], CL_DEVICE_TYPE_ALL, 16, devices, &n) != CL_SUCCESS) continue;
    if (device_index < seen + (int32_t)n) ocl->device = devices[device_index - seen];
    seen += (int32_t)n;
  }
  if (!ocl->device)
    return einc_rt__fail(EINC_RT_ENOTAVAIL, "OpenCL device %d asked for, %d present",
                         (int)device_index, (int)seen);
  EINC_RT__CL((ocl->ctx = clCreateContext(NULL, 1, &ocl->device, NULL, NULL, &err), err), fail);
  EINC_RT__CL((ocl->queue = clCreateCommandQueue(ocl->ctx, ocl->device, 0, &err), err), fail_ctx);
  return EINC_RT_OK;
fail_ctx:
  clReleaseContext(ocl->ctx);
fail:
  return rc;
}

/* The caller's queue: its context and device, retained. */
static int einc_rt__ocl_adopt(einc_rt__ocl *ocl, cl_command_queue queue) {
  int rc = EINC_RT_OK;
  EINC_RT__CL(clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof ocl->ctx, &ocl->ctx, NULL),
              fail);
  EINC_RT__CL(clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof ocl->device, &ocl->device, NULL),
              fail);
  EINC_RT__CL(clRetainCommandQueue(queue), fail);
  EINC_RT__CL(clRetainContext(ocl->ctx), fail_queue);
  ocl->queue = queue;
  return EINC_RT_OK;
fail_queue:
  clReleaseCommandQueue(queue);
fail:
  return rc;
}

int einc_rt__opencl_backend_new(const einc_rt_backend_options *opts, einc_rt_backend **out) {
  int rc = EINC_RT_OK;
  einc_rt_backend *b = calloc(1, sizeof *b);
  einc_rt__ocl *ocl = calloc(1, sizeof *ocl);
  if (!b || !ocl) {
    rc = einc_rt__fail(EINC_RT_ENOMEM, "allocating the OpenCL backend");
    goto fail_alloc;
  }
  rc = opts->opencl_queue ? einc_rt__ocl_adopt(ocl, opts->opencl_queue)
                          : einc_rt__ocl_open(ocl, opts->device_index);
  if (rc) goto fail_alloc;
  char name[96] = "", ext[8192] = "";
  cl_uint vendor = 0;
  cl_device_type type = 0;
  EINC_RT__CL(clGetDeviceInfo(ocl->device, CL_DEVICE_NAME, sizeof name - 1, name, NULL), fail_cl);
  EINC_RT__CL(clGetDeviceInfo(ocl->device, CL_DEVICE_VENDOR_ID, sizeof vendor, &vendor, NULL),
              fail_cl);
  EINC_RT__CL(clGetDeviceInfo(ocl->device, CL_DEVICE_TYPE, sizeof type, &type, NULL), fail_cl);
  /* The list can be longer than the buffer; a truncated read still holds the start. */
  size_t ext_len = 0;
  clGetDeviceInfo(ocl->device, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len);
  if (ext_len < sizeof ext)
    EINC_RT__CL(clGetDeviceInfo(ocl->device, CL_DEVICE_EXTENSIONS, sizeof ext, ext, NULL), fail_cl);
  /* The subgroup kernel needs a work-group of exactly one subgroup of 16. */
  ocl->intel_subgroups = strstr(ext, "cl_intel_subgroups") != NULL &&
                         strstr(ext, "cl_intel_required_subgroup_size") != NULL;
  ocl->intel_gpu = vendor == 0x8086 && (type & CL_DEVICE_TYPE_GPU);
  pthread_mutex_init(&ocl->mu, NULL);
  const char *gemm = "tiled kernel";
#ifdef EINC_RT_HAVE_DNNL
  if (ocl->intel_gpu &&
      dnnl_ocl_interop_engine_create(&ocl->engine, ocl->device, ocl->ctx) == dnnl_success) {
    if (dnnl_ocl_interop_stream_create(&ocl->stream, ocl->engine, ocl->queue) == dnnl_success) {
      einc_rt__mm_cache_init(&ocl->mm, ocl->engine, ocl->stream, true);
      ocl->use_dnnl = true;
      gemm = "oneDNN";
    } else {
      dnnl_engine_destroy(ocl->engine);
    }
  }
#endif
  b->kind = EINC_RT_BACKEND_OPENCL;
  b->vt = &einc_rt__ocl_vtable;
  b->impl = ocl;
  snprintf(b->name, sizeof b->name, "opencl (%s, norm %s, GEMM %s)", name,
           ocl->intel_subgroups ? "intel subgroups" : "portable", gemm);
  *out = b;
  return EINC_RT_OK;
fail_cl:
  clReleaseCommandQueue(ocl->queue);
  clReleaseContext(ocl->ctx);
fail_alloc:
  free(ocl);
  free(b);
  return rc;
}

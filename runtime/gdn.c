/*
 * The public GDN entry points. Every argument check of the runtime lives here, before any
 * backend is called, so a failed call has written nothing and the backends may trust shapes,
 * dtypes, strides and devices. Then the call goes through the backend's table.
 */
#include <math.h>
#include <stdlib.h>

#include "backend.h"

struct einc_rt_gdn_out_proj {
  einc_rt_backend *backend;
  void *state; /* the backend's */
  einc_rt_dtype dtype;
  int64_t heads, head_dim, out_dim;
};

static einc_rt_device einc_rt__backend_device(const einc_rt_backend *b) {
  switch (b->kind) {
  case EINC_RT_BACKEND_CUDA:
    return EINC_RT_DEVICE_CUDA;
  case EINC_RT_BACKEND_OPENCL:
    return EINC_RT_DEVICE_OPENCL;
  case EINC_RT_BACKEND_CPU:
    break;
  }
  return EINC_RT_DEVICE_CPU;
}

static const char *einc_rt__device_name(einc_rt_device d) {
  switch (d) {
  case EINC_RT_DEVICE_CPU:
    return "cpu";
  case EINC_RT_DEVICE_CUDA:
    return "cuda";
  case EINC_RT_DEVICE_OPENCL:
    return "opencl";
  }
  return "unknown";
}

/* Checks shared by every tensor argument: present, sane rank and dtype, on the backend's device,
 * data present unless empty, non-negative sizes and offset. */
static int einc_rt__check_tensor(const einc_rt_backend *b, const char *name,
                                 const einc_rt_tensor *t, int32_t rank, einc_rt_dtype dtype) {
  if (!t) return einc_rt__fail(EINC_RT_EINVAL, "%s is NULL", name);
  if ((unsigned)t->dtype > EINC_RT_F16)
    return einc_rt__fail(EINC_RT_EDTYPE, "%s has an unknown dtype %d", name, (int)t->dtype);
  if (t->dtype != dtype)
    return einc_rt__fail(EINC_RT_EDTYPE, "%s is %s, expected %s like the other tensors", name,
                         einc_rt_dtype_name(t->dtype), einc_rt_dtype_name(dtype));
  if (t->rank != rank)
    return einc_rt__fail(EINC_RT_ESHAPE, "%s has rank %d, expected %d", name, (int)t->rank,
                         (int)rank);
  int64_t numel = 1;
  for (int32_t i = 0; i < rank; i++) {
    if (t->shape[i] < 0)
      return einc_rt__fail(EINC_RT_ESHAPE, "%s has a negative dim %d (%lld)", name, (int)i,
                           (long long)t->shape[i]);
    if (t->strides[i] < 0)
      return einc_rt__fail(EINC_RT_ELAYOUT, "%s has a negative stride in dim %d", name, (int)i);
    numel *= t->shape[i];
  }
  if (t->device != einc_rt__backend_device(b))
    return einc_rt__fail(EINC_RT_EDEVICE, "%s lives on %s, the backend runs on %s", name,
                         einc_rt__device_name(t->device),
                         einc_rt__device_name(einc_rt__backend_device(b)));
  if (t->offset < 0) return einc_rt__fail(EINC_RT_EINVAL, "%s has a negative offset", name);
  if (numel > 0 && !t->data) return einc_rt__fail(EINC_RT_EINVAL, "%s has no data", name);
  return EINC_RT_OK;
}

/* A matrix [rows, cols] with unit stride along a row and a row stride of at least `cols`. */
static int einc_rt__check_rows(const char *name, const einc_rt_tensor *t) {
  if (t->shape[1] > 1 && t->strides[1] != 1)
    return einc_rt__fail(EINC_RT_ELAYOUT, "%s must have unit stride in its last dim, has %lld",
                         name, (long long)t->strides[1]);
  if (t->shape[0] > 1 && t->strides[0] < t->shape[1])
    return einc_rt__fail(EINC_RT_ELAYOUT, "%s has row stride %lld, less than its %lld columns",
                         name, (long long)t->strides[0], (long long)t->shape[1]);
  return EINC_RT_OK;
}

/* O or Z: [T, H, d], unit stride in d, stride d in H, token stride >= H*d. */
static int einc_rt__check_heads(const char *name, const einc_rt_tensor *t) {
  int64_t h = t->shape[1], d = t->shape[2];
  if (d > 1 && t->strides[2] != 1)
    return einc_rt__fail(EINC_RT_ELAYOUT, "%s must have unit stride in d, has %lld", name,
                         (long long)t->strides[2]);
  if (h > 1 && t->strides[1] != d)
    return einc_rt__fail(EINC_RT_ELAYOUT,
                         "%s has head stride %lld, expected d = %lld (a token's H*d contiguous)",
                         name, (long long)t->strides[1], (long long)d);
  if (t->shape[0] > 1 && t->strides[0] < h * d)
    return einc_rt__fail(EINC_RT_ELAYOUT, "%s has token stride %lld, less than H*d = %lld", name,
                         (long long)t->strides[0], (long long)(h * d));
  return EINC_RT_OK;
}

static int einc_rt__check_params(const einc_rt_gdn_params *p) {
  if (!p) return einc_rt__fail(EINC_RT_EINVAL, "params is NULL");
  if (!(p->eps >= 0.0f) || isinf(p->eps))
    return einc_rt__fail(EINC_RT_EINVAL, "eps must be finite and >= 0, is %g", (double)p->eps);
  if (p->gate != EINC_RT_GATE_SILU && p->gate != EINC_RT_GATE_SIGMOID)
    return einc_rt__fail(EINC_RT_EINVAL, "unknown gate %d", (int)p->gate);
  return EINC_RT_OK;
}

static int einc_rt__check_supports(const einc_rt_backend *b, einc_rt_op op, einc_rt_dtype dt,
                                   const char *what) {
  if (!b->vt->supports(b, op, dt))
    return einc_rt__fail(EINC_RT_EUNSUPPORTED, "%s in %s is not supported by backend %s", what,
                         einc_rt_dtype_name(dt), b->name);
  return EINC_RT_OK;
}

/* O and Z against each other and against the norm weight's d (and H when known). */
static int einc_rt__check_oz(const einc_rt_backend *b, const einc_rt_tensor *o,
                             const einc_rt_tensor *z, einc_rt_dtype dt) {
  int rc;
  if ((rc = einc_rt__check_tensor(b, "O", o, 3, dt))) return rc;
  if ((rc = einc_rt__check_tensor(b, "Z", z, 3, dt))) return rc;
  for (int32_t i = 0; i < 3; i++)
    if (o->shape[i] != z->shape[i])
      return einc_rt__fail(EINC_RT_ESHAPE, "Z is [%lld, %lld, %lld], O is [%lld, %lld, %lld]",
                           (long long)z->shape[0], (long long)z->shape[1], (long long)z->shape[2],
                           (long long)o->shape[0], (long long)o->shape[1], (long long)o->shape[2]);
  if (o->shape[1] == 0 || o->shape[2] == 0)
    return einc_rt__fail(EINC_RT_ESHAPE, "O has %lld heads of size %lld; both must be > 0",
                         (long long)o->shape[1], (long long)o->shape[2]);
  if ((rc = einc_rt__check_heads("O", o))) return rc;
  return einc_rt__check_heads("Z", z);
}

static int einc_rt__check_norm_weight(const einc_rt_backend *b, const einc_rt_tensor *w,
                                      einc_rt_dtype dt) {
  int rc = einc_rt__check_tensor(b, "norm weight w", w, 1, dt);
  if (rc) return rc;
  if (w->shape[0] == 0) return einc_rt__fail(EINC_RT_ESHAPE, "norm weight w is empty");
  if (w->shape[0] > 1 && w->strides[0] != 1)
    return einc_rt__fail(EINC_RT_ELAYOUT, "norm weight w must be contiguous");
  return EINC_RT_OK;
}

int einc_rt_gated_rmsnorm(einc_rt_backend *backend, const einc_rt_tensor *o,
                          const einc_rt_tensor *z, const einc_rt_tensor *norm_weight,
                          const einc_rt_gdn_params *params, einc_rt_tensor *y) {
  int rc;
  if (!backend) return einc_rt__fail(EINC_RT_EINVAL, "backend is NULL");
  if (!o) return einc_rt__fail(EINC_RT_EINVAL, "O is NULL");
  einc_rt_dtype dt = o->dtype;
  if ((rc = einc_rt__check_oz(backend, o, z, dt))) return rc;
  if ((rc = einc_rt__check_norm_weight(backend, norm_weight, dt))) return rc;
  if (norm_weight->shape[0] != o->shape[2])
    return einc_rt__fail(EINC_RT_ESHAPE, "norm weight w has %lld elements, expected d = %lld",
                         (long long)norm_weight->shape[0], (long long)o->shape[2]);
  if ((rc = einc_rt__check_params(params))) return rc;
  if ((rc = einc_rt__check_tensor(backend, "Y", y, 3, dt))) return rc;
  for (int32_t i = 0; i < 3; i++)
    if (y->shape[i] != o->shape[i])
      return einc_rt__fail(EINC_RT_ESHAPE, "Y dim %d is %lld, O's is %lld", (int)i,
                           (long long)y->shape[i], (long long)o->shape[i]);
  if (y->strides[2] != 1 || y->strides[1] != y->shape[2] ||
      (y->shape[0] > 1 && y->strides[0] != y->shape[1] * y->shape[2]))
    return einc_rt__fail(EINC_RT_ELAYOUT, "Y must be contiguous");
  if ((rc = einc_rt__check_supports(backend, EINC_RT_OP_GATED_RMSNORM, dt, "gated RMSNorm")))
    return rc;
  if (o->shape[0] == 0) return EINC_RT_OK;
  return backend->vt->gated_rmsnorm(backend, o, z, norm_weight, params, y);
}

/* x [T, K], w [D, K], out [T, D]: the GEMM's operands. */
static int einc_rt__check_gemm(const einc_rt_backend *b, const einc_rt_tensor *x,
                               const char *x_name, const einc_rt_tensor *w,
                               const einc_rt_tensor *out, einc_rt_dtype dt) {
  int rc;
  if (x && (rc = einc_rt__check_tensor(b, x_name, x, 2, dt))) return rc;
  if ((rc = einc_rt__check_tensor(b, "W", w, 2, dt))) return rc;
  if ((rc = einc_rt__check_rows("W", w))) return rc;
  if (w->shape[0] == 0 || w->shape[1] == 0)
    return einc_rt__fail(EINC_RT_ESHAPE, "W is [%lld, %lld]; both dims must be > 0",
                         (long long)w->shape[0], (long long)w->shape[1]);
  if (x) {
    if ((rc = einc_rt__check_rows(x_name, x))) return rc;
    if (x->shape[1] != w->shape[1])
      return einc_rt__fail(EINC_RT_ESHAPE, "%s has %lld columns, W has %lld", x_name,
                           (long long)x->shape[1], (long long)w->shape[1]);
  }
  if (out) {
    if ((rc = einc_rt__check_tensor(b, "out", out, 2, dt))) return rc;
    if ((rc = einc_rt__check_rows("out", out))) return rc;
    if (out->shape[1] != w->shape[0])
      return einc_rt__fail(EINC_RT_ESHAPE, "out has %lld columns, expected D = %lld (W's rows)",
                           (long long)out->shape[1], (long long)w->shape[0]);
    if (x && out->shape[0] != x->shape[0])
      return einc_rt__fail(EINC_RT_ESHAPE, "out has %lld rows, %s has %lld tokens",
                           (long long)out->shape[0], x_name, (long long)x->shape[0]);
  }
  return EINC_RT_OK;
}

int einc_rt_gemm_nt(einc_rt_backend *backend, const einc_rt_tensor *x, const einc_rt_tensor *w,
                    einc_rt_tensor *out) {
  int rc;
  if (!backend) return einc_rt__fail(EINC_RT_EINVAL, "backend is NULL");
  if (!x) return einc_rt__fail(EINC_RT_EINVAL, "x is NULL");
  if (!out) return einc_rt__fail(EINC_RT_EINVAL, "out is NULL");
  if ((rc = einc_rt__check_gemm(backend, x, "x", w, out, x->dtype))) return rc;
  if ((rc = einc_rt__check_supports(backend, EINC_RT_OP_GEMM, x->dtype, "GEMM"))) return rc;
  if (x->shape[0] == 0) return EINC_RT_OK;
  return backend->vt->gemm_nt(backend, x, w, out);
}

int einc_rt_gdn_out_proj_new(einc_rt_backend *backend, const einc_rt_tensor *norm_weight,
                             const einc_rt_tensor *proj_weight, const einc_rt_gdn_params *params,
                             int64_t max_tokens, einc_rt_gdn_out_proj **out) {
  int rc;
  if (!out) return einc_rt__fail(EINC_RT_EINVAL, "out is NULL");
  *out = NULL;
  if (!backend) return einc_rt__fail(EINC_RT_EINVAL, "backend is NULL");
  if (!norm_weight) return einc_rt__fail(EINC_RT_EINVAL, "norm weight w is NULL");
  einc_rt_dtype dt = norm_weight->dtype;
  if ((rc = einc_rt__check_norm_weight(backend, norm_weight, dt))) return rc;
  if ((rc = einc_rt__check_gemm(backend, NULL, "X", proj_weight, NULL, dt))) return rc;
  int64_t d = norm_weight->shape[0], k = proj_weight->shape[1];
  if (k % d != 0)
    return einc_rt__fail(EINC_RT_ESHAPE,
                         "W has %lld columns, not a multiple of the head size d = %lld",
                         (long long)k, (long long)d);
  if ((rc = einc_rt__check_params(params))) return rc;
  if (max_tokens < 0) return einc_rt__fail(EINC_RT_EINVAL, "max_tokens is negative");
  if ((rc = einc_rt__check_supports(backend, EINC_RT_OP_GDN_OUT_PROJ, dt, "the GDN projection")))
    return rc;

  einc_rt_gdn_out_proj *self = calloc(1, sizeof *self);
  if (!self) return einc_rt__fail(EINC_RT_ENOMEM, "allocating the projection");
  self->backend = backend;
  self->dtype = dt;
  self->head_dim = d;
  self->heads = k / d;
  self->out_dim = proj_weight->shape[0];
  rc = backend->vt->proj_new(backend, norm_weight, proj_weight, params, max_tokens, &self->state);
  if (rc) goto fail_self;
  *out = self;
  return EINC_RT_OK;
fail_self:
  free(self);
  return rc;
}

void einc_rt_gdn_out_proj_delete(einc_rt_gdn_out_proj *self) {
  if (!self) return;
  self->backend->vt->proj_delete(self->backend, self->state);
  free(self);
}

int einc_rt_gdn_out_proj_run(einc_rt_gdn_out_proj *self, const einc_rt_tensor *o,
                             const einc_rt_tensor *z, einc_rt_tensor *out) {
  int rc;
  if (!self) return einc_rt__fail(EINC_RT_EINVAL, "projection is NULL");
  if (!out) return einc_rt__fail(EINC_RT_EINVAL, "out is NULL");
  if ((rc = einc_rt__check_oz(self->backend, o, z, self->dtype))) return rc;
  if (o->shape[1] != self->heads || o->shape[2] != self->head_dim)
    return einc_rt__fail(EINC_RT_ESHAPE,
                         "O has H=%lld d=%lld, the projection was made for "
                         "H=%lld d=%lld",
                         (long long)o->shape[1], (long long)o->shape[2], (long long)self->heads,
                         (long long)self->head_dim);
  if ((rc = einc_rt__check_tensor(self->backend, "out", out, 2, self->dtype))) return rc;
  if ((rc = einc_rt__check_rows("out", out))) return rc;
  if (out->shape[0] != o->shape[0] || out->shape[1] != self->out_dim)
    return einc_rt__fail(EINC_RT_ESHAPE, "out is [%lld, %lld], expected [T, D] = [%lld, %lld]",
                         (long long)out->shape[0], (long long)out->shape[1], (long long)o->shape[0],
                         (long long)self->out_dim);
  if (o->shape[0] == 0) return EINC_RT_OK;
  return self->backend->vt->proj_run(self->backend, self->state, o, z, out);
}

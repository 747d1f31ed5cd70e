/*
 * oneDNN matmul primitives for out = x · wᵀ, cached by shape, strides, offsets and dtypes so a
 * primitive is created once and then only executed. x and out are row-major with any leading
 * dimension; W [n, k] row-major is handed to oneDNN as the [k, n] matrix with strides (1, ldw),
 * so no transpose is ever materialised. Shared by the CPU backend and, on Intel GPUs, the
 * OpenCL backend.
 *
 * A product of one row on the CPU, float32 or bfloat16, is an inner-product primitive instead:
 * oneDNN 2.6 gives it the GEMV of its `gemm:jit` kernels, while its matmul runs the one row
 * through a batch-reduce GEMM (`brg:avx512_core`, `brg:avx512_core_amx_bf16`) at 1.5-2.5x the
 * time (AVX-512 without BF16, float32: 1.11 against 1.65 ms for W of 2048 x 4096; a 16-core Xeon
 * with AMX, bfloat16: 0.37 against 0.92 ms for 5120 x 6144, 0.43 against 0.92 for 4096 x 8192).
 * From four rows on the matmul is as fast or faster.
 */
#include <dnnl_debug.h>
#ifdef EINC_RT_HAVE_OPENCL
#define CL_TARGET_OPENCL_VERSION 120
#include <dnnl_ocl.h>
#endif
#include <stdio.h>
#include <string.h>

#include "dnnl_matmul.h"

const char *einc_rt__dnnl_status_name(dnnl_status_t s) {
  return dnnl_status2str(s);
}

void einc_rt__mm_cache_init(einc_rt__mm_cache *self, dnnl_engine_t engine, dnnl_stream_t stream,
                            bool ocl_buffers) {
  memset(self, 0, sizeof *self);
  self->engine = engine;
  self->stream = stream;
  self->ocl_buffers = ocl_buffers;
  pthread_mutex_init(&self->mu, NULL);
}

static void einc_rt__mm_entry_clear(einc_rt__mm_entry *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->x) dnnl_memory_destroy(e->x);
  if (e->w) dnnl_memory_destroy(e->w);
  if (e->out) dnnl_memory_destroy(e->out);
  memset(e, 0, sizeof *e);
}

void einc_rt__mm_cache_clear(einc_rt__mm_cache *self) {
  for (int i = 0; i < EINC_RT__MM_CACHE_SIZE; i++)
    einc_rt__mm_entry_clear(&self->entries[i]);
  pthread_mutex_destroy(&self->mu);
}

/* Whether `k` is run as an inner product (see the top of the file). */
static bool einc_rt__mm_is_gemv(const einc_rt__mm_cache *self, const einc_rt__mm_key *k) {
  return !self->ocl_buffers && k->m == 1 && (k->x_dt == dnnl_f32 || k->x_dt == dnnl_bf16) &&
         k->w_dt == k->x_dt && k->out_dt == k->x_dt;
}

/* A memory object without data; its handle is set per call. */
static dnnl_status_t einc_rt__mm_memory(einc_rt__mm_cache *self, dnnl_memory_t *m,
                                        const dnnl_memory_desc_t *md) {
#ifdef EINC_RT_HAVE_OPENCL
  if (self->ocl_buffers)
    return dnnl_ocl_interop_memory_create(m, md, self->engine, dnnl_ocl_interop_buffer,
                                          DNNL_MEMORY_NONE);
#endif
  return dnnl_memory_create(m, md, self->engine, DNNL_MEMORY_NONE);
}

static int einc_rt__mm_create(einc_rt__mm_cache *self, const einc_rt__mm_key *k,
                              einc_rt__mm_entry *e) {
  int rc = EINC_RT_OK;
  dnnl_memory_desc_t xd, wd, od;
  dnnl_dims_t x_dims = {k->m, k->k}, x_strides = {k->ldx, 1};
  dnnl_dims_t w_dims = {k->k, k->n}, w_strides = {1, k->ldw};
  dnnl_dims_t o_dims = {k->m, k->n}, o_strides = {k->ldo, 1};
  dnnl_primitive_desc_t pd = NULL;
  const char *impl = "";
  bool gemv = einc_rt__mm_is_gemv(self, k);
  if (gemv) { /* the inner product's weights are [n, k] as they are */
    w_dims[0] = k->n;
    w_dims[1] = k->k;
    w_strides[0] = k->ldw;
    w_strides[1] = 1;
  }
  EINC_RT__DNNL_CHECK(dnnl_memory_desc_init_by_strides(&xd, 2, x_dims, k->x_dt, x_strides), fail);
  EINC_RT__DNNL_CHECK(dnnl_memory_desc_init_by_strides(&wd, 2, w_dims, k->w_dt, w_strides), fail);
  EINC_RT__DNNL_CHECK(dnnl_memory_desc_init_by_strides(&od, 2, o_dims, k->out_dt, o_strides), fail);
  xd.offset0 = k->x_offset;
  wd.offset0 = k->w_offset;
  od.offset0 = k->out_offset;
  if (gemv) {
    dnnl_inner_product_desc_t ipd;
    EINC_RT__DNNL_CHECK(
        dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &xd, &wd, NULL, &od),
        fail);
    EINC_RT__DNNL_CHECK(dnnl_primitive_desc_create(&pd, &ipd, NULL, self->engine, NULL), fail);
  } else {
    dnnl_matmul_desc_t md;
    EINC_RT__DNNL_CHECK(dnnl_matmul_desc_init(&md, &xd, &wd, NULL, &od), fail);
    EINC_RT__DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, self->engine, NULL), fail);
  }
  EINC_RT__DNNL_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), fail_pd);
  snprintf(e->impl, sizeof e->impl, "%s", impl);
  EINC_RT__DNNL_CHECK(dnnl_primitive_create(&e->prim, pd), fail_pd);
  EINC_RT__DNNL_CHECK(einc_rt__mm_memory(self, &e->x, &xd), fail_pd);
  EINC_RT__DNNL_CHECK(einc_rt__mm_memory(self, &e->w, &wd), fail_pd);
  EINC_RT__DNNL_CHECK(einc_rt__mm_memory(self, &e->out, &od), fail_pd);
  dnnl_primitive_desc_destroy(pd);
  e->key = *k;
  return EINC_RT_OK;
fail_pd:
  dnnl_primitive_desc_destroy(pd);
fail:
  einc_rt__mm_entry_clear(e);
  return rc;
}

int einc_rt__mm_run(einc_rt__mm_cache *self, const einc_rt__mm_key *key, void *x, void *w,
                    void *out, const char **impl) {
  int rc = EINC_RT_OK;
  pthread_mutex_lock(&self->mu);
  einc_rt__mm_entry *e = NULL, *oldest = &self->entries[0];
  for (int i = 0; i < EINC_RT__MM_CACHE_SIZE; i++) {
    einc_rt__mm_entry *c = &self->entries[i];
    if (c->prim && memcmp(&c->key, key, sizeof *key) == 0) {
      e = c;
      break;
    }
    if (!c->prim || (oldest->prim && c->last_use < oldest->last_use)) oldest = c;
  }
  if (!e) {
    einc_rt__mm_entry_clear(oldest);
    if ((rc = einc_rt__mm_create(self, key, oldest))) goto unlock;
    e = oldest;
  }
  e->last_use = ++self->clock;
  if (impl) *impl = e->impl;
  EINC_RT__DNNL_CHECK(dnnl_memory_set_data_handle_v2(e->x, x, self->stream), unlock);
  EINC_RT__DNNL_CHECK(dnnl_memory_set_data_handle_v2(e->w, w, self->stream), unlock);
  EINC_RT__DNNL_CHECK(dnnl_memory_set_data_handle_v2(e->out, out, self->stream), unlock);
  dnnl_exec_arg_t args[3] = {
      {DNNL_ARG_SRC, e->x}, {DNNL_ARG_WEIGHTS, e->w}, {DNNL_ARG_DST, e->out}};
  EINC_RT__DNNL_CHECK(dnnl_primitive_execute(e->prim, self->stream, 3, args), unlock);
unlock:
  pthread_mutex_unlock(&self->mu);
  return rc;
}

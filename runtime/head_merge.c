/*
 * The flatten of the GDN projection, X = rearrange(Y, "... h d -> ... (h d)"), taken from einc's
 * pattern compiler rather than written by hand: the plan is compiled once per projection (heads
 * and head size known, tokens bound per call) and must classify as a view; each call then only
 * maps Y's strides to X's through the plan's output composition. Kept in this one file so the
 * build-time generated function (einc gen) can replace the compile step.
 */
#include <string.h>

#include "backend.h"
#include "einc/einc.h"

static const char einc_rt__head_merge_pattern[] = "... h d -> ... (h d)";

int einc_rt__head_merge_compile(int64_t heads, int64_t head_dim, einc_rt__head_merge *out) {
  einc_shape in = {.rank = 3, .dims = {EINC_UNKNOWN, heads, head_dim}};
  einc_spec spec = {
      .op = EINC_OP_REARRANGE,
      .pattern = einc_rt__head_merge_pattern,
      .pattern_len = sizeof einc_rt__head_merge_pattern - 1,
      .dtype = EINC_F32,
      .n_inputs = 1,
      .inputs = &in,
  };
  einc_error err = {0};
  einc_plan *plan = NULL;
  memset(out, 0, sizeof *out);
  int rc = einc_plan_new(&spec, &plan, &err);
  if (rc != EINC_OK)
    return einc_rt__fail(EINC_RT_EPATTERN, "compiling \"%s\" for H=%lld d=%lld: %s",
                         einc_rt__head_merge_pattern, (long long)heads, (long long)head_dim,
                         err.message);
  int status = EINC_RT_OK;
  if (plan->klass != EINC_PLAN_VIEW || plan->out_rank != 2 || plan->n_axes != 3) {
    status = einc_rt__fail(EINC_RT_EPATTERN, "\"%s\" compiled to a %s of rank %d, expected a view",
                           einc_rt__head_merge_pattern, einc_plan_class_name(plan->klass),
                           (int)plan->out_rank);
    goto fail_plan;
  }
  /* Output dim j is a merge of axes; it steps by the stride of its innermost axis. */
  for (int32_t j = 0; j < 2; j++) {
    int32_t last = plan->out_axes[plan->out_group_start[j + 1] - 1];
    out->out_from_dim[j] = plan->axes[last].in_dim;
  }
  out->heads = heads;
  out->head_dim = head_dim;
  out->out_rank = 2;
  out->merged_len = plan->out_shape[1] != EINC_UNKNOWN ? plan->out_shape[1] : heads * head_dim;
fail_plan:
  einc_plan_delete(plan);
  return status;
}

int einc_rt__head_merge_apply(const einc_rt__head_merge *self, const einc_rt_tensor *y,
                              einc_rt_tensor *x) {
  /* The merge is a view only when a head's start is one head size past the previous one. */
  if (y->rank != 3 || y->shape[1] != self->heads || y->shape[2] != self->head_dim ||
      y->strides[1] != y->shape[2] * y->strides[2])
    return einc_rt__fail(EINC_RT_ELAYOUT, "heads of Y do not merge into one dim without a copy");
  *x = *y;
  x->rank = 2;
  x->shape[0] = y->shape[0];
  x->shape[1] = self->merged_len;
  x->strides[0] = y->strides[self->out_from_dim[0]];
  x->strides[1] = y->strides[self->out_from_dim[1]];
  for (int32_t i = 2; i < EINC_RT_MAX_DIMS; i++)
    x->shape[i] = x->strides[i] = 0;
  return EINC_RT_OK;
}

int einc_rt__proj_info_init(einc_rt__proj_info *self, const einc_rt_tensor *norm_weight,
                            const einc_rt_tensor *proj_weight, const einc_rt_gdn_params *params) {
  self->dt = norm_weight->dtype;
  self->d = norm_weight->shape[0];
  self->k = proj_weight->shape[1];
  self->n = proj_weight->shape[0];
  self->heads = self->k / self->d;
  self->params = *params;
  return einc_rt__head_merge_compile(self->heads, self->d, &self->merge);
}

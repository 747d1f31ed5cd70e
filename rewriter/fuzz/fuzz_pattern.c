/*
 * libFuzzer target for the pattern front end, the planner and the interpreter. Input layout:
 * byte 0 picks the op and reduction, byte 1 the input rank (255: unknown), then one byte per
 * dim (255: bound at run time), then the pattern. Whatever compiles and is small is executed.
 */
#include <stdlib.h>
#include <string.h>

#include "einc/einc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const reductions[] = {"sum",  "mean", "max", "min",
                                           "prod", "any",  "all", "median"};
  if (size < 2) return 0;
  einc_op op = (einc_op)(data[0] % 6);
  const char *reduction = reductions[(data[0] / 6) % 8];
  int rank = data[1] == 255 ? EINC_UNKNOWN : data[1] % 9;
  size_t pos = 2;
  einc_shape shapes[2];
  memset(shapes, 0, sizeof shapes);
  shapes[0].rank = rank;
  for (int d = 0; d < rank; d++) {
    if (pos >= size) return 0;
    shapes[0].dims[d] = data[pos] == 255 ? EINC_UNKNOWN : data[pos] % 7;
    pos++;
  }
  shapes[1] = shapes[0];
  einc_kwarg kwargs[2] = {{"h", 2}, {"w", 3}};
  einc_shape packed[2] = {{.rank = 1, .dims = {2}}, {.rank = 1, .dims = {-1}}};
  einc_spec spec = {.op = op,
                    .pattern = (const char *)data + pos,
                    .pattern_len = size - pos,
                    .reduction_name = op == EINC_OP_REDUCE ? reduction : NULL,
                    .dtype = EINC_F64,
                    .n_inputs = op == EINC_OP_EINSUM || op == EINC_OP_PACK ? 2 : 1,
                    .inputs = shapes,
                    .n_kwargs = (data[0] & 0x80) ? 2 : 0,
                    .kwargs = kwargs,
                    .n_packed = op == EINC_OP_UNPACK ? 2 : 0,
                    .packed = packed};
  einc_plan *plan = NULL;
  einc_error err;
  if (einc_plan_new(&spec, &plan, &err)) {
    free(einc_error_format(&err, spec.pattern, spec.pattern_len));
    return 0;
  }
  free(einc_plan_describe(plan));
  if (einc_plan_is_bound(plan)) {
    int64_t in_n = 1;
    for (int d = 0; d < shapes[0].rank; d++)
      in_n *= shapes[0].dims[d];
    bool small = in_n <= 4096;
    for (int i = 0; i < plan->n_outputs; i++) {
      int64_t n = einc_plan_out_numel(plan, i);
      if (n < 0 || n > 4096) small = false;
    }
    if (small && plan->n_outputs <= 2) {
      double *ins[2], *outs[2] = {NULL, NULL};
      for (int i = 0; i < 2; i++) {
        ins[i] = calloc((size_t)in_n + 1, sizeof(double));
        outs[i] = calloc(4097, sizeof(double));
      }
      einc_plan_execute(plan, (const void *const *)ins, (void *const *)outs);
      for (int i = 0; i < 2; i++)
        free(ins[i]), free(outs[i]);
    }
  }
  einc_plan_delete(plan);
  return 0;
}

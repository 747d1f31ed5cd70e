/*
 * The reference for tests of generated code and of the run-time API: one pattern run by the
 * interpreter on a contiguous input (cmocka asserts on any failure).
 */
#ifndef EINC_TESTS_INTERP_REF_H
#define EINC_TESTS_INTERP_REF_H

#include <string.h>

#include "einc/einc.h"

static inline void interp_ref(einc_op op, const char *pattern, const char *red, einc_dtype dt,
                              int32_t rank, const int64_t *dims, const einc_kwarg *kw, int32_t nk,
                              const void *in, void *out) {
  einc_shape s = {.rank = rank};
  memcpy(s.dims, dims, (size_t)rank * sizeof *dims);
  einc_spec spec = {.op = op,
                    .pattern = pattern,
                    .pattern_len = strlen(pattern),
                    .reduction_name = red,
                    .dtype = dt,
                    .n_inputs = 1,
                    .inputs = &s,
                    .n_kwargs = nk,
                    .kwargs = kw};
  einc_plan *p = NULL;
  assert_int_equal(einc_plan_new(&spec, &p, NULL), EINC_OK);
  const void *ins[1] = {in};
  void *outs[1] = {out};
  assert_int_equal(einc_plan_execute(p, ins, outs), EINC_OK);
  einc_plan_delete(p);
}

#endif

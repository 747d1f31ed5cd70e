/* Unit tests of the interpreter (rewriter/interp.c): element types, reductions, einsum, pack. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static einc_plan *compile(einc_op op, const char *pattern, const char *reduction, einc_dtype dt,
                          int n_inputs, const einc_shape *inputs, const einc_kwarg *kw, int nkw) {
  einc_spec spec = {.op = op,
                    .pattern = pattern,
                    .pattern_len = strlen(pattern),
                    .reduction_name = reduction,
                    .dtype = dt,
                    .n_inputs = n_inputs,
                    .inputs = inputs,
                    .n_kwargs = nkw,
                    .kwargs = kw};
  einc_plan *p = NULL;
  einc_error err;
  if (einc_plan_new(&spec, &p, &err)) fail_msg("%s: %s", pattern, err.message);
  return p;
}

static void half_conversions_round_to_nearest_even(void **state) {
  (void)state;
  assert_int_equal(einc__f32_to_bf16(1.0f), 0x3F80);
  /* 1 + 2^-8 is halfway between two bfloat16 values: ties go to even */
  assert_int_equal(einc__f32_to_bf16(1.00390625f), 0x3F80);
  assert_int_equal(einc__f32_to_bf16(1.01171875f), 0x3F82);
  assert_true(isnan(einc__bf16_to_f32(einc__f32_to_bf16(NAN))));
  assert_int_equal(einc__f32_to_f16(1.0f), 0x3C00);
  assert_int_equal(einc__f32_to_f16(65504.0f), 0x7BFF);
  assert_int_equal(einc__f32_to_f16(65520.0f), 0x7C00);                /* rounds to infinity */
  assert_int_equal(einc__f32_to_f16(5.9604644775390625e-08f), 0x0001); /* smallest subnormal */
  for (uint32_t h = 0; h < 0x7C00; h++) /* every finite half survives a round trip */
    assert_int_equal(einc__f32_to_f16(einc__f16_to_f32((uint16_t)h)), h);
}

static void transpose_of_every_dtype(void **state) {
  (void)state;
  einc_shape in = {.rank = 2, .dims = {2, 3}};
  for (int dt = 0; dt < EINC_DTYPE__COUNT; dt++) {
    einc_plan *p = compile(EINC_OP_REARRANGE, "a b -> b a", NULL, (einc_dtype)dt, 1, &in, NULL, 0);
    char src[6 * 8], dst[6 * 8];
    for (int i = 0; i < 6; i++)
      einc__store_f64((einc_dtype)dt, src, i, (double)(i % 2 ? i : 0));
    const void *ins[] = {src};
    void *outs[] = {dst};
    assert_int_equal(einc_plan_execute(p, ins, outs), 0);
    static const int want[] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++) {
      double w = (double)(want[i] % 2 ? want[i] : 0);
      if (dt == EINC_BOOL) w = w != 0;
      assert_true(einc__load_f64((einc_dtype)dt, dst, i) == w);
    }
    einc_plan_delete(p);
  }
}

static void reductions(void **state) {
  (void)state;
  einc_shape in = {.rank = 2, .dims = {2, 3}};
  double x[6] = {1, 5, 3, -2, NAN, 7};
  const void *ins[] = {x};
  double out[2];
  void *outs[] = {out};
  einc_plan *p = compile(EINC_OP_REDUCE, "a b -> a", "max", EINC_F64, 1, &in, NULL, 0);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  assert_true(out[0] == 5);
  assert_true(isnan(out[1])); /* NaN wins, as in numpy */
  einc_plan_delete(p);
  p = compile(EINC_OP_REDUCE, "a b -> a", "mean", EINC_F64, 1, &in, NULL, 0);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  assert_true(out[0] == 3);
  einc_plan_delete(p);

  /* bool sums give int64; any/all give bool */
  uint8_t b[6] = {1, 0, 1, 1, 1, 1};
  const void *bins[] = {b};
  int64_t counts[2];
  void *bouts[] = {counts};
  p = compile(EINC_OP_REDUCE, "a b -> a", "sum", EINC_BOOL, 1, &in, NULL, 0);
  assert_int_equal(p->out_dtype, EINC_I64);
  assert_int_equal(einc_plan_execute(p, bins, bouts), 0);
  assert_int_equal(counts[0], 2);
  assert_int_equal(counts[1], 3);
  einc_plan_delete(p);

  /* integer mean is refused, only when something is reduced */
  einc_spec spec = {.op = EINC_OP_REDUCE,
                    .pattern = "a b -> a",
                    .pattern_len = 8,
                    .reduction_name = "mean",
                    .dtype = EINC_I64,
                    .n_inputs = 1,
                    .inputs = &in};
  einc_error err;
  assert_int_equal(einc_plan_new(&spec, &p, &err), EINC_EDTYPE);
  assert_int_equal(err.kind, EINC_ERR_MEAN_ON_NON_FLOAT);
  spec.pattern = "a b -> b a";
  spec.pattern_len = 10;
  assert_int_equal(einc_plan_new(&spec, &p, &err), 0);
  einc_plan_delete(p);
}

static void repeat_materialises_in_c_order(void **state) {
  (void)state;
  einc_shape in = {.rank = 1, .dims = {3}};
  einc_kwarg r[] = {{"r", 2}};
  double x[3] = {1, 2, 3}, out[6];
  const void *ins[] = {x};
  void *outs[] = {out};
  einc_plan *p = compile(EINC_OP_REPEAT, "h -> (h r)", NULL, EINC_F64, 1, &in, r, 1);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  double interleave[] = {1, 1, 2, 2, 3, 3};
  assert_memory_equal(out, interleave, sizeof out);
  einc_plan_delete(p);
  p = compile(EINC_OP_REPEAT, "h -> (r h)", NULL, EINC_F64, 1, &in, r, 1);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  double tile[] = {1, 2, 3, 1, 2, 3};
  assert_memory_equal(out, tile, sizeof out);
  einc_plan_delete(p);
}

static void einsum_trace_and_matmul(void **state) {
  (void)state;
  einc_shape sq = {.rank = 2, .dims = {3, 3}};
  double m[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[9];
  const void *ins[] = {m, m};
  void *outs[] = {out};
  einc_plan *p = compile(EINC_OP_EINSUM, "i i ->", NULL, EINC_F64, 1, &sq, NULL, 0);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  assert_true(out[0] == 15);
  einc_plan_delete(p);
  einc_shape two[2] = {sq, sq};
  p = compile(EINC_OP_EINSUM, "i j, j k -> i k", NULL, EINC_F64, 2, two, NULL, 0);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  assert_true(out[0] == 30 && out[4] == 81 && out[8] == 150);
  einc_plan_delete(p);
}

static void pack_then_unpack_round_trips(void **state) {
  (void)state;
  einc_shape in[2] = {{.rank = 2, .dims = {2, 3}}, {.rank = 3, .dims = {2, 2, 2}}};
  double a[6] = {0, 1, 2, 3, 4, 5}, b[8] = {10, 11, 12, 13, 14, 15, 16, 17}, packed[14];
  const void *ins[] = {a, b};
  void *outs[] = {packed};
  einc_plan *p = compile(EINC_OP_PACK, "b *", NULL, EINC_F64, 2, in, NULL, 0);
  assert_int_equal(p->outputs[0].dims[1], 7);
  assert_int_equal(einc_plan_execute(p, ins, outs), 0);
  einc_plan_delete(p);
  einc_shape pk = {.rank = 2, .dims = {2, 7}};
  einc_shape shapes[2] = {{.rank = 1, .dims = {3}}, {.rank = 2, .dims = {2, -1}}};
  einc_spec spec = {.op = EINC_OP_UNPACK,
                    .pattern = "b *",
                    .pattern_len = 3,
                    .dtype = EINC_F64,
                    .n_inputs = 1,
                    .inputs = &pk,
                    .n_packed = 2,
                    .packed = shapes};
  einc_error err;
  assert_int_equal(einc_plan_new(&spec, &p, &err), 0);
  double ra[6], rb[8];
  const void *uin[] = {packed};
  void *uout[] = {ra, rb};
  assert_int_equal(einc_plan_execute(p, uin, uout), 0);
  assert_memory_equal(ra, a, sizeof a);
  assert_memory_equal(rb, b, sizeof b);
  einc_plan_delete(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(half_conversions_round_to_nearest_even),
      cmocka_unit_test(transpose_of_every_dtype),
      cmocka_unit_test(reductions),
      cmocka_unit_test(repeat_materialises_in_c_order),
      cmocka_unit_test(einsum_trace_and_matmul),
      cmocka_unit_test(pack_then_unpack_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

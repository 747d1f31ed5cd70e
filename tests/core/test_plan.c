/* Unit tests of the planner (rewriter/plan.c, einsum.c, pack.c) through the public API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "einc/einc.h"

static einc_shape shape_of(int rank, const int64_t *dims) {
  einc_shape s = {.rank = rank};
  for (int i = 0; i < rank; i++)
    s.dims[i] = dims[i];
  return s;
}

#define SHAPE(...)                                                                                 \
  shape_of((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static int plan(einc_op op, const char *pattern, einc_shape in, const einc_kwarg *kw, int nkw,
                einc_plan **out, einc_error *err) {
  einc_spec spec = {.op = op,
                    .pattern = pattern,
                    .pattern_len = strlen(pattern),
                    .reduction_name = op == EINC_OP_REDUCE ? "sum" : NULL,
                    .dtype = EINC_F32,
                    .n_inputs = 1,
                    .inputs = &in,
                    .n_kwargs = nkw,
                    .kwargs = kw};
  return einc_plan_new(&spec, out, err);
}

static void head_merge_is_a_view_with_one_loop(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  assert_int_equal(
      plan(EINC_OP_REARRANGE, "... h d -> ... (h d)", SHAPE(7, 32, 128), NULL, 0, &p, &err), 0);
  assert_int_equal(p->klass, EINC_PLAN_VIEW);
  assert_int_equal(p->out_rank, 2);
  assert_int_equal(p->out_shape[0], 7);
  assert_int_equal(p->out_shape[1], 4096);
  assert_int_equal(p->view_strides[0], 4096);
  assert_int_equal(p->view_strides[1], 1);
  assert_int_equal(p->n_loops, 1); /* everything coalesces into one contiguous run */
  assert_int_equal(p->loops[0].length, 7 * 4096);
  einc_plan_delete(p);
}

static void transposes_are_views_until_a_merge_needs_a_copy(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  assert_int_equal(
      plan(EINC_OP_REARRANGE, "b h n d -> b n h d", SHAPE(2, 3, 4, 5), NULL, 0, &p, &err), 0);
  assert_int_equal(p->klass, EINC_PLAN_VIEW);
  assert_int_equal(p->view_strides[1], 5);
  assert_int_equal(p->view_strides[2], 20);
  einc_plan_delete(p);
  assert_int_equal(
      plan(EINC_OP_REARRANGE, "b h n d -> b n (h d)", SHAPE(2, 3, 4, 5), NULL, 0, &p, &err), 0);
  assert_int_equal(p->klass, EINC_PLAN_COPY);
  assert_int_equal(p->n_loops, 4);
  einc_plan_delete(p);
  /* length-1 axes never block a view */
  assert_int_equal(plan(EINC_OP_REARRANGE, "a b c -> (b a c)", SHAPE(1, 3, 4), NULL, 0, &p, &err),
                   0);
  assert_int_equal(p->klass, EINC_PLAN_VIEW);
  einc_plan_delete(p);
}

static void symbolic_lengths_stay_symbolic(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  einc_kwarg kw[] = {{"h", 32}};
  assert_int_equal(
      plan(EINC_OP_REARRANGE, "t (h d) -> t h d", SHAPE(EINC_UNKNOWN, 4096), kw, 1, &p, &err), 0);
  assert_int_equal(p->axes[0].length, EINC_UNKNOWN);
  assert_int_equal(p->axes[2].length, 128); /* inferred: 4096 / 32 */
  assert_int_equal(p->klass, EINC_PLAN_VIEW);
  assert_false(einc_plan_is_bound(p));
  einc_plan_delete(p);
  /* an unknown group length leaves the inferred axis as dim / divisor */
  assert_int_equal(
      plan(EINC_OP_REARRANGE, "t (h d) -> t h d", SHAPE(5, EINC_UNKNOWN), kw, 1, &p, &err), 0);
  assert_int_equal(p->axes[2].length, EINC_UNKNOWN);
  assert_int_equal(p->axes[2].in_dim, 1);
  assert_int_equal(p->axes[2].in_divisor, 32);
  einc_plan_delete(p);
  /* no rank at all: pattern checks only */
  einc_shape none = {.rank = EINC_UNKNOWN};
  assert_int_equal(plan(EINC_OP_REARRANGE, "... h d -> ... (h d)", none, NULL, 0, &p, &err), 0);
  assert_false(einc_plan_is_bound(p));
  einc_plan_delete(p);
}

static void check_order_matches_einops(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  /* rank is checked before keyword names */
  einc_kwarg bad[] = {{"_x", 2}};
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "a b -> b a", SHAPE(2), bad, 1, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_NDIM_MISMATCH);
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "a b -> b a", SHAPE(2, 3), bad, 1, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_INVALID_KWARG_NAME);
  einc_kwarg unused[] = {{"c", 2}};
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "a b -> b a", SHAPE(2, 3), unused, 1, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_KWARG_UNUSED);
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "(a b) -> a b", SHAPE(6), NULL, 0, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_UNDERDETERMINED);
  einc_kwarg b4[] = {{"b", 4}};
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "(a b) -> a b", SHAPE(6), b4, 1, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_NOT_DIVISIBLE);
  assert_int_equal(err.span.start, 0);
  assert_int_equal(err.span.end, 5);
  einc_kwarg b0[] = {{"b", 0}};
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "(a b) -> a b", SHAPE(6), b0, 1, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_ZERO_LENGTH_KWARG);
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "a () -> a", SHAPE(2, 3), NULL, 0, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_LENGTH_MISMATCH);
  /* zero-length dims are fine everywhere */
  einc_kwarg b3[] = {{"b", 3}};
  assert_int_equal(plan(EINC_OP_REARRANGE, "(a b) -> a b", SHAPE(0), b3, 1, &p, &err), 0);
  assert_int_equal(p->out_shape[0], 0);
  einc_plan_delete(p);
}

static void reduce_repeat_and_broadcast(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  assert_int_equal(
      plan(EINC_OP_REDUCE, "b c (h 2) (w 2) -> b c h w", SHAPE(2, 3, 4, 6), NULL, 0, &p, &err), 0);
  assert_int_equal(p->klass, EINC_PLAN_REDUCE);
  assert_int_equal(p->n_reduced, 2);
  einc_plan_delete(p);
  /* nothing reduced: a plain rearrange */
  assert_int_equal(plan(EINC_OP_REDUCE, "a b -> b a", SHAPE(2, 3), NULL, 0, &p, &err), 0);
  assert_int_equal(p->reduction, EINC_RED_NONE);
  einc_plan_delete(p);
  einc_kwarg r[] = {{"r", 4}};
  assert_int_equal(plan(EINC_OP_REPEAT, "h w -> h w r", SHAPE(2, 3), r, 1, &p, &err), 0);
  assert_int_equal(p->klass, EINC_PLAN_BROADCAST);
  assert_int_equal(p->view_strides[2], 0);
  einc_plan_delete(p);
  assert_int_equal(plan(EINC_OP_REPEAT, "h w -> h (w r)", SHAPE(2, 3), r, 1, &p, &err), 0);
  assert_int_equal(p->klass, EINC_PLAN_REPEAT);
  assert_int_equal(p->out_shape[1], 12);
  einc_plan_delete(p);
  assert_int_not_equal(plan(EINC_OP_REPEAT, "h w -> h w r", SHAPE(2, 3), NULL, 0, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_REPEAT_MISSING_SIZE);
}

static void absurd_sizes_are_errors(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  einc_kwarg huge[] = {{"r", INT64_C(1) << 40}, {"s", INT64_C(1) << 40}};
  assert_int_not_equal(plan(EINC_OP_REPEAT, "a -> a r s", SHAPE(4), huge, 2, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_SIZE_OVERFLOW);
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "a b c -> (a b c)",
                            SHAPE(INT64_C(1) << 30, INT64_C(1) << 30, INT64_C(1) << 30), NULL, 0,
                            &p, &err),
                       0);
  assert_int_equal(err.kind, EINC_ERR_SIZE_OVERFLOW);
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "a -> a", SHAPE(-5), NULL, 0, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_NEGATIVE_LENGTH);
  einc_kwarg neg[] = {{"r", -3}};
  assert_int_not_equal(plan(EINC_OP_REPEAT, "a -> a r", SHAPE(4), neg, 1, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_NEGATIVE_LENGTH);
  /* a 1 MB pattern is refused, not parsed */
  size_t n = 1 << 20;
  char *big = malloc(n + 1);
  memset(big, 'a', n);
  big[n] = 0;
  assert_int_not_equal(plan(EINC_OP_REARRANGE, big, SHAPE(1), NULL, 0, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_PATTERN_TOO_LONG);
  free(big);
  /* a NUL inside the pattern is a character like any other, not its end */
  einc_shape two = SHAPE(2, 3);
  einc_spec nul = {.op = EINC_OP_REARRANGE,
                   .pattern = "a b\0c -> b a",
                   .pattern_len = 13,
                   .dtype = EINC_F32,
                   .n_inputs = 1,
                   .inputs = &two};
  assert_int_not_equal(einc_plan_new(&nul, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_UNKNOWN_CHAR);
  assert_int_equal(err.span.start, 3);
  /* empty pattern: no arrow */
  assert_int_not_equal(plan(EINC_OP_REARRANGE, "", SHAPE(1), NULL, 0, &p, &err), 0);
  assert_int_equal(err.kind, EINC_ERR_NO_ARROW);
}

static void einsum_and_pack_plans(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  einc_shape in[2] = {SHAPE(2, 3, 4, 5), SHAPE(2, 5)};
  einc_spec spec = {.op = EINC_OP_EINSUM,
                    .pattern = "b c h w, b w -> b h",
                    .pattern_len = 19,
                    .dtype = EINC_F64,
                    .n_inputs = 2,
                    .inputs = in};
  assert_int_equal(einc_plan_new(&spec, &p, &err), 0);
  assert_string_equal(p->einsum_compact, "abcd,ad->ac");
  assert_int_equal(p->outputs[0].dims[1], 4);
  einc_plan_delete(p);
  einc_shape packed[2] = {SHAPE(2), SHAPE(-1)};
  einc_shape one = SHAPE(3, 7);
  spec = (einc_spec){.op = EINC_OP_UNPACK,
                     .pattern = "b *",
                     .pattern_len = 3,
                     .dtype = EINC_F64,
                     .n_inputs = 1,
                     .inputs = &one,
                     .n_packed = 2,
                     .packed = packed};
  assert_int_equal(einc_plan_new(&spec, &p, &err), 0);
  assert_int_equal(p->outputs[1].dims[1], 5);
  assert_int_equal(p->packed_offset[1], 2);
  einc_plan_delete(p);
}

static void errors_format_with_a_caret(void **state) {
  (void)state;
  einc_plan *p;
  einc_error err;
  const char *pattern = "b (h d -> b h d";
  assert_int_not_equal(plan(EINC_OP_REARRANGE, pattern, SHAPE(2, 6), NULL, 0, &p, &err), 0);
  char *text = einc_error_format(&err, pattern, strlen(pattern));
  assert_non_null(text);
  assert_non_null(strstr(text, "error[unbalanced_open_paren]"));
  assert_non_null(strstr(text, "  | b (h d -> b h d\n  |   ^\n"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(head_merge_is_a_view_with_one_loop),
      cmocka_unit_test(transposes_are_views_until_a_merge_needs_a_copy),
      cmocka_unit_test(symbolic_lengths_stay_symbolic),
      cmocka_unit_test(check_order_matches_einops),
      cmocka_unit_test(reduce_repeat_and_broadcast),
      cmocka_unit_test(absurd_sizes_are_errors),
      cmocka_unit_test(einsum_and_pack_plans),
      cmocka_unit_test(errors_format_with_a_caret),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

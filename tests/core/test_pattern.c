/* Unit tests of the pattern front end (rewriter/pattern.c): one side at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

typedef struct {
  einc_arena *arena;
  einc_side side;
  einc_error err;
} fixture;

static int parse(fixture *f, const char *text, einc_side_options opts) {
  memset(&f->err, 0, sizeof f->err);
  return einc__parse_side(text, 0, strlen(text), opts, f->arena, &f->side, &f->err);
}

static int setup(void **state) {
  static fixture f;
  f.arena = einc__arena_new();
  *state = &f;
  return f.arena ? 0 : -1;
}

static int teardown(void **state) {
  einc__arena_delete(((fixture *)*state)->arena);
  return 0;
}

static void groups_units_and_anonymous(void **state) {
  fixture *f = *state;
  einc_side_options o = {0};
  assert_int_equal(parse(f, "b (h 1 d) () 1 3", o), 0);
  assert_int_equal(f->side.n_items, 5);
  assert_int_equal(f->side.items[1].n_atoms, 2); /* 1 inside a group vanishes */
  assert_string_equal(f->side.items[1].atoms[1].name, "d");
  assert_int_equal(f->side.items[2].n_atoms, 0); /* () is a unit axis */
  assert_int_equal(f->side.items[3].n_atoms, 0); /* so is 1 */
  assert_int_equal(f->side.items[4].atoms[0].kind, EINC_ATOM_ANONYMOUS);
  assert_int_equal(f->side.items[4].atoms[0].value, 3);
  assert_true(f->side.has_anonymous);
  /* 01 is a unit axis, 002 is anonymous 2 */
  assert_int_equal(parse(f, "01 002", o), 0);
  assert_int_equal(f->side.items[0].n_atoms, 0);
  assert_int_equal(f->side.items[1].atoms[0].value, 2);
  /* parentheses separate tokens */
  assert_int_equal(parse(f, "a(b c)d", o), 0);
  assert_int_equal(f->side.n_items, 3);
}

static void ellipsis(void **state) {
  fixture *f = *state;
  einc_side_options o = {0};
  assert_int_equal(parse(f, "... h d", o), 0);
  assert_true(f->side.has_ellipsis);
  assert_int_equal(f->side.items[0].kind, EINC_ITEM_ELLIPSIS);
  assert_int_equal(parse(f, "b (h ...)", o), 0);
  assert_true(f->side.ellipsis_in_group);
  assert_int_equal(f->side.items[1].atoms[1].kind, EINC_ATOM_ELLIPSIS);
  /* a literal U+2026 goes the ellipsis way but does not mark the side (einops quirk) */
  assert_int_equal(parse(f, "\xE2\x80\xA6 b", o), 0);
  assert_false(f->side.has_ellipsis);
  assert_int_equal(f->side.items[0].kind, EINC_ITEM_ELLIPSIS);
}

static void expect_error(fixture *f, const char *text, einc_error_kind kind, uint32_t start,
                         uint32_t end) {
  einc_side_options o = {0};
  assert_int_not_equal(parse(f, text, o), 0);
  if (f->err.kind != kind)
    fail_msg("%s: got %s, want %s", text, einc_error_key(f->err.kind), einc_error_key(kind));
  assert_true(f->err.has_span);
  if (f->err.span.start != start || f->err.span.end != end)
    fail_msg("%s: span [%u, %u), want [%u, %u)", text, f->err.span.start, f->err.span.end, start,
             end);
}

static void errors_with_spans(void **state) {
  fixture *f = *state;
  expect_error(f, "a.b", EINC_ERR_STRAY_DOTS, 1, 2);
  expect_error(f, "... ...", EINC_ERR_BAD_ELLIPSIS_COUNT, 4, 5);
  expect_error(f, "....", EINC_ERR_BAD_ELLIPSIS_COUNT, 3, 4);
  expect_error(f, "a\tb", EINC_ERR_UNKNOWN_CHAR, 1, 2);
  expect_error(f, "_a*", EINC_ERR_UNKNOWN_CHAR, 2, 3); /* the character wins over the token */
  expect_error(f, "a ((b))", EINC_ERR_NESTED_PARENS, 3, 4);
  expect_error(f, "a b)", EINC_ERR_UNBALANCED_CLOSE_PAREN, 3, 4);
  expect_error(f, "a (b c", EINC_ERR_UNBALANCED_OPEN_PAREN, 2, 3);
  expect_error(f, "a (b a)", EINC_ERR_DUPLICATE_AXIS, 5, 6);
  expect_error(f, "2x", EINC_ERR_INVALID_IDENTIFIER, 0, 2);
  expect_error(f, "b _x", EINC_ERR_UNDERSCORE_NAME, 2, 4);
  expect_error(f, "x_", EINC_ERR_UNDERSCORE_NAME, 0, 2);
  expect_error(f, "a 0", EINC_ERR_ANON_NONPOSITIVE, 2, 3);
  expect_error(f, "a \xA0", EINC_ERR_UNKNOWN_CHAR, 2, 3);       /* not UTF-8 */
  expect_error(f, "a \xC2\xA0 b", EINC_ERR_UNKNOWN_CHAR, 2, 4); /* NBSP separates nothing */
  expect_error(f, "99999999999999999999", EINC_ERR_ANON_TOO_LARGE, 0, 20); /* no overflow */
}

static void unicode_names_and_digits(void **state) {
  fixture *f = *state;
  einc_side_options o = {0};
  assert_int_equal(parse(f, "camelCase \xC3\x9F", o), 0); /* ß */
  assert_string_equal(f->side.items[1].atoms[0].name, "\xC3\x9F");
  /* Arabic-Indic two is the anonymous axis 2 */
  assert_int_equal(parse(f, "a \xD9\xA2", o), 0);
  assert_int_equal(f->side.items[1].atoms[0].value, 2);
}

static void einsum_and_underscore_modes(void **state) {
  fixture *f = *state;
  einc_side_options o = {.allow_underscore = true, .allow_duplicates = true};
  assert_int_equal(parse(f, "i i _ _", o), 0);
  assert_int_equal(f->side.n_items, 4);
  expect_error(f, "_", EINC_ERR_UNDERSCORE_NAME, 0, 1);
}

static void axis_name_rule(void **state) {
  (void)state;
  assert_null(einc__axis_name_problem("seq_len", 7, false));
  assert_non_null(einc__axis_name_problem("_", 1, false));
  assert_null(einc__axis_name_problem("_", 1, true));
  assert_non_null(einc__axis_name_problem("1a", 2, false));
  assert_true(einc__is_python_keyword("lambda"));
  assert_false(einc__is_python_keyword("axis"));
}

static void too_many_axes_is_an_error(void **state) {
  fixture *f = *state;
  char text[1024] = "";
  for (int i = 0; i < 80; i++) {
    char name[8];
    snprintf(name, sizeof name, "a%d ", i);
    strcat(text, name);
  }
  einc_side_options o = {0};
  assert_int_not_equal(parse(f, text, o), 0);
  assert_int_equal(f->err.kind, EINC_ERR_TOO_MANY_AXES);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(groups_units_and_anonymous),  cmocka_unit_test(ellipsis),
      cmocka_unit_test(errors_with_spans),           cmocka_unit_test(unicode_names_and_digits),
      cmocka_unit_test(einsum_and_underscore_modes), cmocka_unit_test(axis_name_rule),
      cmocka_unit_test(too_many_axes_is_an_error),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Unit tests of the linter's shared parts: byte-range edits, the atomic file replace, the diff
 * and JSON writers, positions, code selection, and the PyTorch/numpy emitter on plans.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lint.h"

static void test_apply_edits(void **state) {
  (void)state;
  const char *src = "abcdef";
  einc__edit edits[] = {{4, 5, "XY"}, {0, 1, ""}, {2, 2, "+"}};
  char *out;
  size_t len;
  assert_int_equal(einc__rewrite_apply(src, 6, edits, 3, &out, &len), EINC_OK);
  assert_string_equal(out, "b+cdXYf");
  assert_int_equal(len, 7);
  einc_free(out);
  einc__edit overlap[] = {{0, 3, "a"}, {2, 4, "b"}};
  assert_int_equal(einc__rewrite_apply(src, 6, overlap, 2, &out, &len), EINC_EINVAL);
  assert_null(out);
  einc__edit past_end[] = {{5, 9, "a"}};
  assert_int_equal(einc__rewrite_apply(src, 6, past_end, 1, &out, &len), EINC_EINVAL);
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 4096);
  size_t n = fread(buf, 1, 4095, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void test_atomic_write(void **state) {
  (void)state;
  char dir[] = "/tmp/einc-rewrite-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/m.py", dir);
  FILE *f = fopen(path, "w");
  fputs("old\n", f);
  fclose(f);
  chmod(path, 0640);
  char why[256];
  assert_int_equal(einc__rewrite_file(path, "new text\n", 9, why, sizeof why), EINC_OK);
  char *text = read_all(path);
  assert_string_equal(text, "new text\n");
  free(text);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0640);
  /* read-only: refused, untouched */
  chmod(path, 0444);
  assert_int_not_equal(einc__rewrite_file(path, "x", 1, why, sizeof why), EINC_OK);
  assert_non_null(strstr(why, "read-only"));
  text = read_all(path);
  assert_string_equal(text, "new text\n");
  free(text);
  /* no temporary file is left behind */
  char cmd[256];
  snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
  assert_int_equal(system(cmd), 0);
  chmod(path, 0644);
  unlink(path);
  rmdir(dir);
}

static void test_diff(void **state) {
  (void)state;
  const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  const char *b = "1\n2\n3\nfour\n5\n6\n7\n8\n9\n10\n11\n12\n13\n";
  einc_sbuf out = {0};
  einc__lint_format_diff(&out, "./m.py", a, strlen(a), b, strlen(b));
  char *text = einc__sbuf_finish(&out);
  assert_string_equal(text, "--- a/m.py\n+++ b/m.py\n"
                            "@@ -1,7 +1,7 @@\n 1\n 2\n 3\n-4\n+four\n 5\n 6\n 7\n"
                            "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n");
  einc_free(text);
  /* equal texts: nothing */
  einc__lint_format_diff(&out, "m.py", a, strlen(a), a, strlen(a));
  assert_int_equal(out.len, 0);
  einc__sbuf_free(&out);
}

static void test_json_and_positions(void **state) {
  (void)state;
  einc_sbuf out = {0};
  einc__lint_json_str(&out, "a\"b\\c\n\x01", 7);
  char *text = einc__sbuf_finish(&out);
  assert_string_equal(text, "\"a\\\"b\\\\c\\n\\u0001\"");
  einc_free(text);
  const char *src = "x = 1\ny = \xc3\xa9 + z\n";
  einc__pos p = einc__lint_pos(src, strlen(src), 14);
  assert_int_equal(p.line, 2);
  assert_int_equal(p.column, 8); /* é is one column */
}

static void test_code_selection(void **state) {
  (void)state;
  const char *sel[] = {"EIN0"}, *ign[] = {"EIN003"};
  einc__lint_options o = {.n_select = 1, .select = sel, .n_ignore = 1, .ignore = ign};
  assert_true(einc__lint_code_enabled(&o, EINC_LINT_EIN001));
  assert_false(einc__lint_code_enabled(&o, EINC_LINT_EIN003));
  assert_false(einc__lint_code_enabled(&o, EINC_LINT_EIN101));
  assert_string_equal(einc__lint_code_id(EINC_LINT_EIN202), "EIN202");
}

/* The emitter on plans compiled without shapes, as the linter sees them. */
static char *emit(const char *pattern, einc_op op, const char *reduction, einc_emit_target t,
                  int n_kw, const char *const *names, const char *const *src) {
  einc_shape in = {.rank = EINC_UNKNOWN};
  einc_kwarg kw[8];
  for (int i = 0; i < n_kw; i++)
    kw[i] = (einc_kwarg){names[i], EINC_UNKNOWN};
  einc_spec spec = {.op = op,
                    .pattern = pattern,
                    .pattern_len = strlen(pattern),
                    .reduction_name = reduction,
                    .dtype = EINC_F32,
                    .n_inputs = 1,
                    .inputs = &in,
                    .n_kwargs = n_kw,
                    .kwargs = kw};
  einc_plan *plan;
  einc_error err;
  if (einc_plan_new(&spec, &plan, &err) != EINC_OK) return NULL;
  const char *x[] = {"x"};
  char *out = NULL;
  einc__emit_torch(plan, t, x, NULL, n_kw, names, src, &out, NULL);
  einc_plan_delete(plan);
  return out;
}

static void expect_emit(const char *pattern, einc_op op, const char *red, einc_emit_target t,
                        int n_kw, const char *const *names, const char *const *src,
                        const char *want) {
  char *got = emit(pattern, op, red, t, n_kw, names, src);
  assert_non_null(got);
  assert_string_equal(got, want);
  einc_free(got);
}

static void test_emitter(void **state) {
  (void)state;
  const einc_emit_target T = EINC_EMIT_TORCH, N = EINC_EMIT_NUMPY;
  const char *h[] = {"h"}, *hs[] = {"self.heads"};
  expect_emit("... h d -> ... (h d)", EINC_OP_REARRANGE, NULL, T, 0, NULL, NULL, "x.flatten(-2)");
  expect_emit("... h d -> ... (h d)", EINC_OP_REARRANGE, NULL, N, 0, NULL, NULL,
              "x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])");
  expect_emit("b n (h d) -> b h n d", EINC_OP_REARRANGE, NULL, T, 1, h, hs,
              "x.unflatten(2, (self.heads, -1)).transpose(1, 2)");
  expect_emit("... (h d) -> ... h d", EINC_OP_REARRANGE, NULL, T, 1, h, h,
              "x.unflatten(-1, (h, -1))");
  expect_emit("b c h w -> b h w c", EINC_OP_REARRANGE, NULL, T, 0, NULL, NULL,
              "x.permute(0, 2, 3, 1)");
  expect_emit("b ... c -> b c ...", EINC_OP_REARRANGE, NULL, T, 0, NULL, NULL, "x.movedim(-1, 1)");
  expect_emit("b 1 c -> b c", EINC_OP_REARRANGE, NULL, T, 0, NULL, NULL, "x.squeeze(1)");
  expect_emit("b c -> b 1 c", EINC_OP_REARRANGE, NULL, T, 0, NULL, NULL, "x.unsqueeze(1)");
  expect_emit("b c h w -> b c", EINC_OP_REDUCE, "max", T, 0, NULL, NULL, "x.amax((2, 3))");
  expect_emit("b c h w -> b c", EINC_OP_REDUCE, "prod", T, 0, NULL, NULL, "x.prod(3).prod(2)");
  expect_emit("a b -> ", EINC_OP_REDUCE, "sum", T, 0, NULL, NULL, "x.sum()");
  expect_emit("h w -> h w c", EINC_OP_REPEAT, NULL, T, 1, (const char *[]){"c"},
              (const char *[]){"3"}, "x.unsqueeze(2).expand(-1, -1, 3)");
}

/* Out of memory: fail the Nth allocation, for every N, of emitting, rewriting, diffing and
 * formatting; each must come back with a status (ASan checks that nothing leaks). */
static long countdown = -1;
static bool fail_now(void) {
  return countdown >= 0 && countdown-- == 0;
}
static void *t_malloc(size_t n) {
  return fail_now() ? NULL : malloc(n);
}
static void *t_calloc(size_t c, size_t n) {
  return fail_now() ? NULL : calloc(c, n);
}
static void *t_realloc(void *p, size_t n) {
  return fail_now() ? NULL : realloc(p, n);
}

static bool oom_job(int k) {
  const char *h[] = {"h"}, *hs[] = {"self.heads"};
  switch (k) {
  case 0:
  case 1:
  case 2: {
    static const char *const patterns[] = {"b n (h d) -> b h n d", "a b ... c -> ... (c a) b",
                                           "b c (h 2) -> b c"};
    einc_op op = k == 2 ? EINC_OP_REDUCE : EINC_OP_REARRANGE;
    char *t = emit(patterns[k], op, k == 2 ? "sum" : NULL, EINC_EMIT_TORCH, k == 0, h, hs);
    char *n = emit(patterns[k], op, k == 2 ? "sum" : NULL, EINC_EMIT_NUMPY, k == 0, h, hs);
    bool ok = t && n;
    einc_free(t);
    einc_free(n);
    return ok;
  }
  case 3: {
    einc__edit edits[] = {{4, 5, "XY"}, {0, 1, ""}};
    char *out;
    size_t len;
    if (einc__rewrite_apply("abcdef", 6, edits, 2, &out, &len) != EINC_OK) return false;
    einc_free(out);
    return true;
  }
  default: {
    const char *a = "x = 1\ny = rearrange(x, 'a b -> b a')\n";
    const char *b = "x = 1\ny = x.transpose(0, 1)\n";
    einc__lint_file file = {.path = "m.py", .len = strlen(a)};
    file.src = einc__malloc(file.len + 1);
    if (!file.src) return false;
    memcpy(file.src, a, file.len + 1);
    einc__finding *f = einc__lint_file_add(&file, EINC_LINT_EIN001, 10, 37);
    bool ok = f != NULL;
    if (f) {
      f->message = einc__lint_printf(&file, "rearrange parses \"%s\"", "a b -> b a");
      f->replacement = "x.transpose(0, 1)";
      f->has_fix = true;
      f->edits = einc__lint_alloc(&file, sizeof *f->edits);
      if (f->edits) f->edits[0] = (einc__edit){10, 37, "x.transpose(0, 1)"}, f->n_edits = 1;
      ok = f->message && f->edits;
    }
    einc_sbuf out = {0};
    bool first = true;
    einc__lint_format_text(&out, &file, false);
    einc__lint_format_json(&out, &file, &first);
    einc__lint_sarif_begin(&out);
    einc__lint_format_sarif(&out, &file, &first);
    einc__lint_sarif_end(&out);
    einc__lint_format_diff(&out, "m.py", a, strlen(a), b, strlen(b));
    char *text = einc__sbuf_finish(&out);
    ok = ok && text && !file.oom;
    einc_free(text);
    einc__lint_file_clear(&file);
    return ok;
  }
  }
}

static void test_out_of_memory(void **state) {
  (void)state;
  einc_allocator hooks = {t_malloc, t_calloc, t_realloc, free};
  einc_set_allocator(&hooks);
  for (int k = 0; k < 5; k++) {
    countdown = -1;
    assert_true(oom_job(k));
    for (long n = 0; n < 100000; n++) {
      countdown = n;
      bool ok = oom_job(k);
      if (countdown >= 0) { /* no allocation failed: every one was tried */
        assert_true(ok);
        break;
      }
    }
  }
  countdown = -1;
  einc_set_allocator(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_apply_edits),    cmocka_unit_test(test_atomic_write),
      cmocka_unit_test(test_diff),           cmocka_unit_test(test_json_and_positions),
      cmocka_unit_test(test_code_selection), cmocka_unit_test(test_emitter),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

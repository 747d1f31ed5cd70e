/* Out of memory is a tested path: fail the Nth allocation, for every N, of compiling, describing
 * and running plans; each must come back with a status and leak nothing (ASan checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "einc/einc.h"

static long countdown; /* allocations left before one fails; < 0: never fail */

static bool fail_now(void) {
  if (countdown < 0) return false;
  return countdown-- == 0;
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

typedef struct {
  einc_op op;
  const char *pattern;
  const char *reduction;
  int rank;
  int64_t dims[4];
} job;

/* One full use of the library; returns true when everything succeeded. */
static bool run(const job *j) {
  einc_shape in[2] = {{.rank = j->rank}, {.rank = j->rank}};
  for (int d = 0; d < j->rank; d++)
    in[0].dims[d] = in[1].dims[d] = j->dims[d];
  einc_spec spec = {.op = j->op,
                    .pattern = j->pattern,
                    .pattern_len = strlen(j->pattern),
                    .reduction_name = j->reduction,
                    .dtype = EINC_F64,
                    .n_inputs = j->op == EINC_OP_EINSUM || j->op == EINC_OP_PACK ? 2 : 1,
                    .inputs = in};
  einc_plan *p = NULL;
  einc_error err;
  int rc = einc_plan_new(&spec, &p, &err);
  if (rc) {
    char *text = einc_error_format(&err, j->pattern, strlen(j->pattern));
    einc_free(text);
    assert_null(p);
    return false;
  }
  char *text = einc_plan_describe(p);
  bool ok = text != NULL;
  einc_free(text);
  double a[64] = {0}, b[64] = {0}, out[128];
  const void *ins[] = {a, b};
  void *outs[] = {out};
  if (einc_plan_execute(p, ins, outs)) ok = false;
  einc_plan_delete(p);
  return ok;
}

static void every_allocation_can_fail(void **state) {
  (void)state;
  static const job jobs[] = {
      {EINC_OP_REARRANGE, "... h d -> ... (h d)", NULL, 3, {2, 4, 8}},
      {EINC_OP_REDUCE, "b (h 2) w -> b h", "max", 3, {2, 4, 3}},
      {EINC_OP_EINSUM, "i j, j k -> i k", NULL, 2, {4, 4}},
      {EINC_OP_PACK, "b *", NULL, 2, {2, 3}},
      {EINC_OP_REARRANGE, "a (b -> a b", NULL, 2, {2, 3}}, /* an error path */
  };
  einc_allocator hooks = {t_malloc, t_calloc, t_realloc, free};
  einc_set_allocator(&hooks);
  for (size_t k = 0; k < sizeof jobs / sizeof jobs[0]; k++) {
    countdown = -1;
    bool baseline = run(&jobs[k]);
    /* fail the 0th, 1st, ... allocation until a run makes no allocation fail */
    for (long n = 0; n < 10000; n++) {
      countdown = n;
      bool ok = run(&jobs[k]);
      if (countdown >= 0) { /* the run needed fewer than n allocations: done */
        assert_true(ok == baseline);
        break;
      }
    }
  }
  einc_set_allocator(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_allocation_can_fail)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The run-time pattern API: results against the interpreter, errors and their messages, views
 * in place, the cache (hits, bounded size with eviction), and several threads calling at once on
 * a key set larger than the cache, so evictions race with running plans.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "einc/einc.h"
#include "interp_ref.h"
#include "einc/einc_rt.h"

static void test_results(void **state) {
  (void)state;
  float x[2 * 6 * 4], got[48], want[48];
  for (int i = 0; i < 48; i++)
    x[i] = (float)i * 0.5f;
  int64_t shape[3] = {2, 6, 4};

  assert_int_equal(einc_rt_rearrange("b (h d) w -> b w h d", EINC_RT_F32, x, 3, shape, got,
                                     EINC_RT_SIZES({"h", 3})),
                   EINC_RT_OK);
  einc_kwarg kw[] = {{"h", 3}};
  interp_ref(EINC_OP_REARRANGE, "b (h d) w -> b w h d", NULL, EINC_F32, 3, shape, kw, 1, x, want);
  assert_memory_equal(got, want, sizeof got);

  assert_int_equal(einc_rt_reduce("b c w -> b w", "max", EINC_RT_F32, x, 3, shape, got, NULL),
                   EINC_RT_OK);
  interp_ref(EINC_OP_REDUCE, "b c w -> b w", "max", EINC_F32, 3, shape, NULL, 0, x, want);
  assert_memory_equal(got, want, 8 * sizeof(float));

  float rep[96], rep_want[96];
  int64_t s2[2] = {12, 4};
  assert_int_equal(
      einc_rt_repeat("a b -> a (b r)", EINC_RT_F32, x, 2, s2, rep, EINC_RT_SIZES({"r", 2})),
      EINC_RT_OK);
  einc_kwarg kr[] = {{"r", 2}};
  interp_ref(EINC_OP_REPEAT, "a b -> a (b r)", NULL, EINC_F32, 2, s2, kr, 1, x, rep_want);
  assert_memory_equal(rep, rep_want, sizeof rep);

  int32_t out_rank = 0;
  int64_t out_shape[32];
  assert_int_equal(einc_rt_pattern_shape(EINC_RT_PATTERN_REPEAT, "a b -> a (b r)", NULL,
                                         EINC_RT_F32, 2, s2, EINC_RT_SIZES({"r", 2}), &out_rank,
                                         out_shape),
                   EINC_RT_OK);
  assert_int_equal(out_rank, 2);
  assert_int_equal(out_shape[1], 8);
}

static void test_view_in_place_and_errors(void **state) {
  (void)state;
  float x[24];
  for (int i = 0; i < 24; i++)
    x[i] = (float)i;
  int64_t shape[3] = {2, 3, 4};
  /* a view may run in place: nothing moves */
  assert_int_equal(einc_rt_rearrange("... h d -> ... (h d)", EINC_RT_F32, x, 3, shape, x, NULL),
                   EINC_RT_OK);
  for (int i = 0; i < 24; i++)
    assert_true(x[i] == (float)i);
  /* a copy may not */
  assert_int_equal(einc_rt_rearrange("a b c -> c b a", EINC_RT_F32, x, 3, shape, x, NULL),
                   EINC_RT_EINVAL);

  float out[24];
  memset(out, 0, sizeof out);
  assert_int_equal(einc_rt_rearrange("a b c -> a (b c", EINC_RT_F32, x, 3, shape, out, NULL),
                   EINC_RT_EPATTERN);
  assert_non_null(strstr(einc_rt_last_error(), "unbalanced"));
  assert_int_equal(einc_rt_rearrange("a (b h) c -> a b h c", EINC_RT_F32, x, 3, shape, out,
                                     EINC_RT_SIZES({"h", 2})),
                   EINC_RT_ESHAPE);
  assert_int_equal(einc_rt_rearrange("a b -> b a", EINC_RT_F32, x, 3, shape, out, NULL),
                   EINC_RT_ESHAPE);
  for (int i = 0; i < 24; i++)
    assert_true(out[i] == 0.0f);
  assert_int_equal(einc_rt_rearrange(NULL, EINC_RT_F32, x, 3, shape, out, NULL), EINC_RT_EINVAL);
}

static void test_cache_hits_and_bound(void **state) {
  (void)state;
  einc_rt_pattern_cache_clear();
  static float x[2048], out[2048];
  int64_t shape[2] = {8, 8};
  for (int i = 0; i < 10; i++)
    assert_int_equal(einc_rt_rearrange("a b -> b a", EINC_RT_F32, x, 2, shape, out, NULL),
                     EINC_RT_OK);
  einc_rt_pattern_cache_stats st;
  einc_rt_pattern_cache_get_stats(&st);
  assert_int_equal(st.misses, 1);
  assert_int_equal(st.hits, 9);
  assert_int_equal(st.size, 1);
  /* more distinct keys than the cache holds: it stays bounded */
  for (int64_t n = 1; n <= st.capacity + 200; n++) {
    int64_t s1[1] = {n};
    assert_int_equal(einc_rt_rearrange("a -> a", EINC_RT_F32, x, 1, s1, out, NULL), EINC_RT_OK);
  }
  einc_rt_pattern_cache_get_stats(&st);
  assert_true(st.size <= st.capacity);
  assert_true(st.evictions > 0);
}

typedef struct worker {
  int id;
  int failures;
} worker;

/* Each thread checks its results against a reference it computed first; keys overflow the cache
 * so entries are evicted while other threads run them. */
static void *worker_main(void *arg) {
  worker *w = arg;
  enum { N = 4 * 6 * 8 };
  float x[N], got[N], want[N];
  for (int i = 0; i < N; i++)
    x[i] = (float)(i * (w->id + 1));
  for (int it = 0; it < 3000; it++) {
    int64_t a = 1 + (it * 7 + w->id) % 4;
    int64_t shape[3] = {a, 6, 8};
    int32_t k = (int32_t)(it % 3);
    const char *pat = k == 0 ? "a b c -> c a b" : k == 1 ? "a (h d) c -> a h c d" : "a b c -> a c";
    int s;
    /* keys that differ by a size value: many distinct entries */
    einc_rt_axis_size sz[2] = {{"h", k == 1 ? 2 + (it % 2) : 0}, {NULL, 0}};
    if (k == 2)
      s = einc_rt_reduce(pat, "sum", EINC_RT_F32, x, 3, shape, got, NULL);
    else
      s = einc_rt_rearrange(pat, EINC_RT_F32, x, 3, shape, got, k == 1 ? sz : NULL);
    if (s != EINC_RT_OK) {
      w->failures++;
      continue;
    }
    /* the reference, through a plan of its own */
    einc_shape es = {.rank = 3, .dims = {a, 6, 8}};
    einc_kwarg kw[1] = {{"h", sz[0].value}};
    einc_spec spec = {.op = k == 2 ? EINC_OP_REDUCE : EINC_OP_REARRANGE,
                      .pattern = pat,
                      .pattern_len = strlen(pat),
                      .reduction_name = k == 2 ? "sum" : NULL,
                      .dtype = EINC_F32,
                      .n_inputs = 1,
                      .inputs = &es,
                      .n_kwargs = k == 1,
                      .kwargs = kw};
    einc_plan *p = NULL;
    if (einc_plan_new(&spec, &p, NULL) != EINC_OK) {
      w->failures++;
      continue;
    }
    const void *ins[1] = {x};
    void *outs[1] = {want};
    einc_plan_execute(p, ins, outs);
    if (memcmp(got, want, (size_t)einc_plan_out_numel(p, 0) * sizeof(float)) != 0) w->failures++;
    einc_plan_delete(p);
    /* churn: a key of its own that pushes others out */
    int64_t s1[1] = {1000 + w->id * 5000 + it};
    float big[1];
    (void)big;
    einc_rt_pattern_shape(EINC_RT_PATTERN_REARRANGE, "(a b) -> a b", NULL, EINC_RT_F32, 1, s1,
                          EINC_RT_SIZES({"a", 1}), &(int32_t){0}, (int64_t[32]){0});
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  enum { T = 8 };
  pthread_t th[T];
  worker w[T];
  for (int t = 0; t < T; t++) {
    w[t] = (worker){.id = t};
    assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
  }
  for (int t = 0; t < T; t++) {
    pthread_join(th[t], NULL);
    assert_int_equal(w[t].failures, 0);
  }
  einc_rt_pattern_cache_stats st;
  einc_rt_pattern_cache_get_stats(&st);
  assert_true(st.size <= st.capacity);
  assert_true(st.evictions > 0);
  einc_rt_pattern_cache_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_results),
      cmocka_unit_test(test_view_in_place_and_errors),
      cmocka_unit_test(test_cache_hits_and_bound),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

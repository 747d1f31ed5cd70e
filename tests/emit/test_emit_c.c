/*
 * Generated C against the interpreter: every valid rearrange / reduce / repeat case of the
 * conformance corpus, emitted once with every length known at build time and once with only the
 * rank known (lengths bound from the input shape at run time), then random patterns over random
 * shapes (large enough for the threaded and tiled paths), and a shape mismatch that must write
 * nothing. Outputs must match the interpreter to the bit.
 *
 * usage: test_emit_c CASES.jsonl
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#ifdef EINC_TEST_OPENCL
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#endif

static const char *cases_path;

typedef struct tcase {
  char id[64];
  einc_plan *plan, *open_plan; /* bound; rank only (may be NULL) */
  void *in, *want, *got, *got_open;
  size_t out_bytes;
} tcase;

static void fill_input(void *buf, einc_dtype dt, const char *kind, int64_t n, int k) {
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (strcmp(kind, "small") == 0)
      v = (double)(((i + 7 * k) % 13) - 6);
    else if (strcmp(kind, "mod3") == 0)
      v = (double)(i % 3);
    else if (strcmp(kind, "pow2") == 0)
      v = (i % 3) == 0 ? 0.5 : (i % 3) == 1 ? 1.0 : 2.0;
    else if (strcmp(kind, "parity") == 0)
      v = (double)(__builtin_popcountll((unsigned long long)i) % 2 == 0);
    else
      v = (double)(i + 1000 * k);
    switch (dt) {
    case EINC_F64:
      ((double *)buf)[i] = v;
      break;
    case EINC_F32:
      ((float *)buf)[i] = (float)v;
      break;
    case EINC_I64:
      ((int64_t *)buf)[i] = (int64_t)v;
      break;
    case EINC_BOOL:
      ((uint8_t *)buf)[i] = v != 0;
      break;
    default: {
      float f = (float)v; /* bf16 / f16 inputs: small integers are exact in both */
      uint32_t x;
      memcpy(&x, &f, 4);
      ((uint16_t *)buf)[i] = (uint16_t)(x >> 16);
    }
    }
  }
}

/* Compile `spec` bound and rank-only; run the interpreter. false: the case is skipped. */
static bool prepare(tcase *t, einc_spec *spec, const char *kind) {
  einc_error err;
  if (einc_plan_new(spec, &t->plan, &err) != EINC_OK) return false;
  if (!einc_plan_is_bound(t->plan)) {
    einc_plan_delete(t->plan);
    t->plan = NULL;
    return false;
  }
  einc_shape open = spec->inputs[0];
  for (int32_t d = 0; d < open.rank; d++)
    open.dims[d] = EINC_UNKNOWN;
  einc_spec ospec = *spec;
  ospec.inputs = &open;
  if (einc_plan_new(&ospec, &t->open_plan, &err) != EINC_OK) t->open_plan = NULL;
  int64_t n_in = 1;
  for (int32_t d = 0; d < spec->inputs[0].rank; d++)
    n_in *= spec->inputs[0].dims[d];
  int64_t n_out = einc_plan_out_numel(t->plan, 0);
  size_t isz = einc_dtype_size(t->plan->in_dtype), osz = einc_dtype_size(t->plan->out_dtype);
  t->out_bytes = (size_t)n_out * osz;
  t->in = calloc((size_t)(n_in > 0 ? n_in : 1), isz);
  t->want = calloc(t->out_bytes + 1, 1);
  t->got = calloc(t->out_bytes + 1, 1);
  t->got_open = calloc(t->out_bytes + 1, 1);
  assert_non_null(t->in);
  fill_input(t->in, t->plan->in_dtype, kind, n_in, 0);
  const void *ins[1] = {t->in};
  void *outs[1] = {t->want};
  assert_int_equal(einc_plan_execute(t->plan, ins, outs), EINC_OK);
  return true;
}

static void free_case(tcase *t) {
  einc_plan_delete(t->plan);
  einc_plan_delete(t->open_plan);
  free(t->in);
  free(t->want);
  free(t->got);
  free(t->got_open);
}

/* Run all prepared cases through generated C (one compile per variant) and compare. */
static void run_and_compare(tcase *cases, int32_t n, int *n_checked) {
  einc__via_c_case *vc = calloc((size_t)n * 2, sizeof *vc);
  int32_t m = 0;
  for (int32_t i = 0; i < n; i++) {
    vc[m++] = (einc__via_c_case){.plan = cases[i].plan, .in = cases[i].in, .out = cases[i].got};
    if (cases[i].open_plan)
      vc[m++] = (einc__via_c_case){.plan = cases[i].plan,
                                   .emit_plan = cases[i].open_plan,
                                   .in = cases[i].in,
                                   .out = cases[i].got_open};
  }
  char err[2048] = "";
  int s = einc__gen_run_c(vc, m, err, sizeof err);
  if (s != EINC_OK) fail_msg("generated C did not build: %s", err);
  int bad = 0;
  m = 0;
  for (int32_t i = 0; i < n; i++) {
    tcase *t = &cases[i];
    for (int v = 0; v < (t->open_plan ? 2 : 1); v++) {
      einc__via_c_case *k = &vc[m++];
      void *got = v ? t->got_open : t->got;
      if (k->status != EINC_OK) {
        print_error("%s (%s): generated C returned %s\n", t->id, v ? "run-time sizes" : "constant",
                    einc_status_name(k->status));
        bad++;
      } else if (memcmp(got, t->want, t->out_bytes) != 0) {
        print_error("%s (%s): generated C differs from the interpreter\n", t->id,
                    v ? "run-time sizes" : "constant");
        bad++;
      } else {
        (*n_checked)++;
      }
    }
  }
  free(vc);
  assert_int_equal(bad, 0);
}

/* The corpus's valid rearrange / reduce / repeat cases, compiled and run by the interpreter. */
static tcase *load_cases(int32_t *n_out, int32_t *skipped_out) {
  FILE *f = fopen(cases_path, "r");
  assert_non_null(f);
  int32_t cap = 1024, n = 0, skipped = 0;
  tcase *cases = calloc((size_t)cap, sizeof *cases);
  char *line = NULL;
  size_t lcap = 0;
  while (getline(&line, &lcap, f) > 0) {
    json_object *o = json_tokener_parse(line), *v, *exp, *ok;
    if (!o) continue;
    const char *op = json_object_get_string(json_object_object_get(o, "op"));
    einc_op eop;
    if (!json_object_object_get_ex(o, "expect", &exp) ||
        !json_object_object_get_ex(exp, "ok", &ok) || !json_object_get_boolean(ok) ||
        !einc_op_from_name(op, &eop) ||
        (eop != EINC_OP_REARRANGE && eop != EINC_OP_REDUCE && eop != EINC_OP_REPEAT)) {
      json_object_put(o);
      continue;
    }
    json_object *in0 = json_object_array_get_idx(json_object_object_get(o, "inputs"), 0);
    einc_shape shape = {0};
    json_object *jshape = json_object_object_get(in0, "shape");
    shape.rank = (int32_t)json_object_array_length(jshape);
    for (int32_t d = 0; d < shape.rank; d++)
      shape.dims[d] = json_object_get_int64(json_object_array_get_idx(jshape, (size_t)d));
    einc_dtype dt = EINC_F64;
    if (json_object_object_get_ex(in0, "dtype", &v))
      einc_dtype_from_name(json_object_get_string(v), &dt);
    const char *kind = json_object_get_string(json_object_object_get(in0, "kind"));
    einc_kwarg kw[16];
    int32_t nk = 0;
    json_object *axes = json_object_object_get(o, "axes_lengths");
    if (axes) {
      json_object_object_foreach(axes, key, val) {
        if (nk < 16 && json_object_is_type(val, json_type_int))
          kw[nk++] = (einc_kwarg){key, json_object_get_int64(val)};
        else
          nk = 99; /* a float or other odd kwarg: a quirk case */
      }
    }
    const char *pattern = json_object_get_string(json_object_object_get(o, "pattern"));
    const char *red = NULL;
    if (json_object_object_get_ex(o, "reduction", &v)) red = json_object_get_string(v);
    if (nk > 16) {
      skipped++;
      json_object_put(o);
      continue;
    }
    einc_spec spec = {.op = eop,
                      .pattern = pattern,
                      .pattern_len = strlen(pattern),
                      .reduction_name = eop == EINC_OP_REDUCE ? red : NULL,
                      .dtype = dt,
                      .n_inputs = 1,
                      .inputs = &shape,
                      .n_kwargs = nk,
                      .kwargs = kw};
    if (n == cap) {
      cap *= 2;
      cases = realloc(cases, (size_t)cap * sizeof *cases);
    }
    tcase *t = &cases[n];
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", json_object_get_string(json_object_object_get(o, "id")));
    if (prepare(t, &spec, kind ? kind : "arange"))
      n++;
    else
      skipped++;
    json_object_put(o);
  }
  free(line);
  fclose(f);
  *n_out = n;
  *skipped_out = skipped;
  return cases;
}

static void free_cases(tcase *cases, int32_t n) {
  for (int32_t i = 0; i < n; i++)
    free_case(&cases[i]);
  free(cases);
}

static void test_conformance_cases(void **state) {
  (void)state;
  int32_t n = 0, skipped = 0;
  tcase *cases = load_cases(&n, &skipped);
  int checked = 0;
  run_and_compare(cases, n, &checked);
  print_message("conformance: %d cases, %d runs of generated C matched the interpreter, %d "
                "skipped (rejected by the planner)\n",
                n, checked, skipped);
  assert_true(n >= 400); /* the corpus has 454 such cases; a planner rejecting most is a bug */
  free_cases(cases, n);
}

#ifdef EINC_TEST_OPENCL
/* The same cases through generated OpenCL C, one program, run on the first OpenCL device (PoCL
 * on a machine without a GPU). */
static void test_opencl_cases(void **state) {
  (void)state;
  cl_platform_id platform;
  cl_device_id device;
  cl_uint np = 0;
  if (clGetPlatformIDs(1, &platform, &np) != CL_SUCCESS || np == 0 ||
      clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
    print_message("no OpenCL device: skipped\n");
    skip();
  }
  int32_t n = 0, skipped = 0;
  tcase *cases = load_cases(&n, &skipped);
  einc_sbuf src;
  einc__sbuf_init(&src);
  einc__emit_opencl_prelude(&src);
  int *emitted = calloc((size_t)n, sizeof *emitted);
  for (int32_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "case_%d", i);
    emitted[i] = einc__emit_opencl_plan(&src, name, cases[i].plan) == EINC_OK;
  }
  assert_false(src.failed);
  cl_int err;
  cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  cl_command_queue queue = clCreateCommandQueueWithProperties(ctx, device, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  const char *text = src.data;
  cl_program prog = clCreateProgramWithSource(ctx, 1, &text, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  if (clBuildProgram(prog, 1, &device, "-cl-std=CL1.2", NULL, NULL) != CL_SUCCESS) {
    char log[8192] = "";
    clGetProgramBuildInfo(prog, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    fail_msg("the generated OpenCL does not build:\n%s", log);
  }
  int ran = 0, bad = 0;
  for (int32_t i = 0; i < n; i++) {
    tcase *t = &cases[i];
    int64_t n_out = einc_plan_out_numel(t->plan, 0);
    if (!emitted[i] || n_out == 0) continue;
    int64_t n_in = 1;
    for (int32_t d = 0; d < t->plan->inputs[0].rank; d++)
      n_in *= t->plan->inputs[0].dims[d];
    size_t in_bytes = (size_t)(n_in > 0 ? n_in : 1) * einc_dtype_size(t->plan->in_dtype);
    char name[32];
    snprintf(name, sizeof name, "case_%d", i);
    cl_kernel k = clCreateKernel(prog, name, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem din =
        clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, in_bytes, t->in, &err);
    cl_mem dout = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, t->out_bytes, NULL, &err);
    clSetKernelArg(k, 0, sizeof din, &din);
    clSetKernelArg(k, 1, sizeof dout, &dout);
    size_t global = (size_t)n_out;
    assert_int_equal(clEnqueueNDRangeKernel(queue, k, 1, NULL, &global, NULL, 0, NULL, NULL),
                     CL_SUCCESS);
    assert_int_equal(
        clEnqueueReadBuffer(queue, dout, CL_TRUE, 0, t->out_bytes, t->got, 0, NULL, NULL),
        CL_SUCCESS);
    if (memcmp(t->got, t->want, t->out_bytes) != 0) {
      print_error("%s: generated OpenCL differs from the interpreter\n", t->id);
      bad++;
    }
    ran++;
    clReleaseMemObject(din);
    clReleaseMemObject(dout);
    clReleaseKernel(k);
  }
  print_message("opencl: %d of %d cases ran as generated OpenCL kernels and matched\n", ran - bad,
                n);
  clReleaseProgram(prog);
  clReleaseCommandQueue(queue);
  clReleaseContext(ctx);
  einc__sbuf_free(&src);
  free(emitted);
  free_cases(cases, n);
  assert_int_equal(bad, 0);
  assert_true(ran >= 400);
}
#endif

/* Random patterns: input dims made of 1-2 axes, permuted, regrouped; sometimes reduced or with a
 * new axis. Some shapes are large so the threaded and tiled kernels run. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static void test_random_patterns(void **state) {
  (void)state;
  enum { N = 160 };
  tcase *cases = calloc(N, sizeof *cases);
  char patterns[N][256];
  int32_t n = 0;
  static const einc_dtype dts[] = {EINC_F32, EINC_F64, EINC_BF16, EINC_I64};
  static const char *reds[] = {"sum", "mean", "max", "min", "prod"};
  for (int iter = 0; iter < N; iter++) {
    bool big = iter % 16 == 0;
    int n_axes = big ? 2 + (int)rnd(2) : 1 + (int)rnd(5);
    int64_t len[8];
    for (int i = 0; i < n_axes; i++)
      len[i] = 1 + rnd(6);
    if (big) { /* 1-2 M elements: threads and full and partial tiles */
      len[0] = 200 + rnd(300);
      len[n_axes - 1] = 300 + rnd(200);
      if (n_axes == 3) len[1] = 2 + rnd(8);
    }
    /* left: group consecutive axes into dims */
    char left[128] = "", right[128] = "";
    einc_kwarg kw[8];
    char kw_names[8][8];
    int nk = 0;
    int i = 0;
    einc_shape shape = {0};
    while (i < n_axes) {
      int g = (i + 1 < n_axes && rnd(3) == 0) ? 2 : 1;
      if (g == 2) { /* the first axis of a group is named as a keyword, so it is determined */
        snprintf(left + strlen(left), sizeof left - strlen(left), "(a%d a%d) ", i, i + 1);
        snprintf(kw_names[nk], sizeof kw_names[nk], "a%d", i);
        kw[nk] = (einc_kwarg){kw_names[nk], len[i]};
        nk++;
      } else
        snprintf(left + strlen(left), sizeof left - strlen(left), "a%d ", i);
      shape.dims[shape.rank++] = g == 2 ? len[i] * len[i + 1] : len[i];
      i += g;
    }
    int perm[8];
    for (int k = 0; k < n_axes; k++)
      perm[k] = k;
    for (int k = n_axes - 1; k > 0; k--) {
      int j = (int)rnd((uint32_t)k + 1), tmp = perm[k];
      perm[k] = perm[j];
      perm[j] = tmp;
    }
    int kind = (int)rnd(3); /* 0 rearrange, 1 reduce, 2 repeat */
    einc_op op = kind == 0 ? EINC_OP_REARRANGE : kind == 1 ? EINC_OP_REDUCE : EINC_OP_REPEAT;
    int dropped = kind == 1 ? perm[rnd((uint32_t)n_axes)] : -1;
    if (kind == 2) {
      kw[nk++] = (einc_kwarg){"r", 1 + rnd(3)};
      if (rnd(2)) { /* the new axis merged with the first output axis: a materialised repeat */
        snprintf(right, sizeof right, "(r a%d) ", perm[0]);
        dropped = perm[0];
      }
    }
    int k = 0;
    while (k < n_axes) {
      if (perm[k] == dropped) {
        k++;
        continue;
      }
      bool pair = k + 1 < n_axes && perm[k + 1] != dropped && rnd(3) == 0;
      if (pair)
        snprintf(right + strlen(right), sizeof right - strlen(right), "(a%d a%d) ", perm[k],
                 perm[k + 1]);
      else
        snprintf(right + strlen(right), sizeof right - strlen(right), "a%d ", perm[k]);
      k += pair ? 2 : 1;
    }
    if (kind == 2 && !strstr(right, "(r")) {
      char tmp[128];
      snprintf(tmp, sizeof tmp, "%s", right);
      int at = (int)rnd(2);
      snprintf(right, sizeof right, at ? "r %s" : "%sr", tmp);
    }
    snprintf(patterns[n], sizeof patterns[n], "%s-> %s", left, right);
    einc_dtype dt = dts[rnd(4)];
    const char *red = reds[rnd(5)];
    if (dt == EINC_I64 && strcmp(red, "mean") == 0) red = "sum";
    einc_spec spec = {.op = op,
                      .pattern = patterns[n],
                      .pattern_len = strlen(patterns[n]),
                      .reduction_name = op == EINC_OP_REDUCE ? red : NULL,
                      .dtype = dt,
                      .n_inputs = 1,
                      .inputs = &shape,
                      .n_kwargs = nk,
                      .kwargs = kw};
    tcase *t = &cases[n];
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "random-%d", iter);
    if (prepare(t, &spec, op == EINC_OP_REDUCE && strcmp(red, "prod") == 0 ? "pow2" : "arange")) {
      n++;
    } else {
      print_error("random pattern rejected: %s\n", patterns[n]);
      fail();
    }
  }
  int checked = 0;
  run_and_compare(cases, n, &checked);
  print_message("random: %d patterns, %d runs matched\n", n, checked);
  for (int32_t i = 0; i < n; i++)
    free_case(&cases[i]);
  free(cases);
}

/* A shape the pattern does not fit: the status says so and the output is untouched. */
static void test_shape_mismatch_writes_nothing(void **state) {
  (void)state;
  einc_shape open = {.rank = 2, .dims = {EINC_UNKNOWN, EINC_UNKNOWN}};
  einc_shape bound = {.rank = 2, .dims = {6, 4}};
  einc_kwarg kw[] = {{"h", 3}};
  const char *pat = "(h d) w -> w h d";
  einc_spec spec = {.op = EINC_OP_REARRANGE,
                    .pattern = pat,
                    .pattern_len = strlen(pat),
                    .dtype = EINC_F32,
                    .n_inputs = 1,
                    .inputs = &open,
                    .n_kwargs = 1,
                    .kwargs = kw};
  einc_plan *op = NULL, *bp = NULL;
  assert_int_equal(einc_plan_new(&spec, &op, NULL), EINC_OK);
  spec.inputs = &bound;
  assert_int_equal(einc_plan_new(&spec, &bp, NULL), EINC_OK);
  float in[64] = {0}, out[64];
  for (int i = 0; i < 64; i++)
    out[i] = -7.0f;
  int64_t bad_shape[2] = {7, 4}, neg_shape[2] = {-6, 4};
  einc__via_c_case vc[2] = {
      {.plan = bp, .emit_plan = op, .in_shape = bad_shape, .in = in, .out = out},
      {.plan = bp, .emit_plan = op, .in_shape = neg_shape, .in = in, .out = out},
  };
  char err[1024] = "";
  assert_int_equal(einc__gen_run_c(vc, 2, err, sizeof err), EINC_OK);
  assert_int_equal(vc[0].status, EINC_ESHAPE);
  assert_int_equal(vc[1].status, EINC_ESHAPE);
  for (int i = 0; i < 64; i++)
    assert_true(out[i] == -7.0f);
  einc_plan_delete(op);
  einc_plan_delete(bp);
}

/* usage: test_emit_c CASES.jsonl [--cases-only]   (--cases-only: the cases' C and OpenCL,
 * without the random patterns and the shape checks, which do not depend on the file) */
int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CASES.jsonl [--cases-only]\n", argv[0]);
    return 2;
  }
  cases_path = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conformance_cases),
      cmocka_unit_test(test_random_patterns),
      cmocka_unit_test(test_shape_mismatch_writes_nothing),
#ifdef EINC_TEST_OPENCL
      cmocka_unit_test(test_opencl_cases),
#endif
  };
  if (argc > 2 && !strcmp(argv[2], "--cases-only")) {
    const struct CMUnitTest cases_only[] = {
        cmocka_unit_test(test_conformance_cases),
#ifdef EINC_TEST_OPENCL
        cmocka_unit_test(test_opencl_cases),
#endif
    };
    return cmocka_run_group_tests(cases_only, NULL, NULL);
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}

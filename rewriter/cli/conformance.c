/*
 * `einc conformance FILE.jsonl`: runs einops conformance cases (schema in the corpus README)
 * through the planner and an executor (the interpreter, or generated C), comparing output
 * shapes, dtypes and values (sha256 of the float64 output, or the `flat` list), and error kinds
 * for the cases einops rejects. Cases tagged `quirk` pass when einc matches einops or rejects
 * them with a clear error; the report says which. Ends with `N passed, N failed, N skipped`.
 */
#include <json-c/json.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "internal.h"
#include "conformance.h"

/* einops error kinds that einc reports under a more specific key of its own. */
static bool einc__kind_matches(const char *expected, einc_error_kind got) {
  const char *key = einc_error_key(got);
  if (!strcmp(expected, key)) return true;
  if (!strcmp(expected, "backend_error"))
    return got == EINC_ERR_NEGATIVE_LENGTH || got == EINC_ERR_EMPTY_MIN_MAX ||
           got == EINC_ERR_EINSUM_LENGTH_MISMATCH || got == EINC_ERR_EINSUM_NDIM ||
           got == EINC_ERR_EINSUM_OPERAND_COUNT || got == EINC_ERR_PACK_LENGTH_MISMATCH;
  return false;
}

/* Deterministic inputs of the corpus README. */
static void *einc__make_input(const char *kind, einc_dtype dt, int64_t n, int k) {
  size_t es = einc_dtype_size(dt);
  void *buf = malloc((size_t)(n ? n : 1) * es);
  if (!buf) return NULL;
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (!strcmp(kind, "arange"))
      v = (double)(i + 1000 * k);
    else if (!strcmp(kind, "small"))
      v = (double)(((i + 7 * k) % 13) - 6);
    else if (!strcmp(kind, "mod3"))
      v = (double)(i % 3);
    else if (!strcmp(kind, "pow2"))
      v = ldexp(1.0, (int)(i % 3) - 1);
    else if (!strcmp(kind, "parity"))
      v = (__builtin_popcountll((unsigned long long)i) % 2) == 0;
    else
      v = 0;
    if (dt == EINC_I64)
      ((int64_t *)buf)[i] = (int64_t)v;
    else
      einc__store_f64(dt, buf, i, v);
  }
  return buf;
}

static bool einc__has_tag(json_object *c, const char *tag) {
  json_object *tags;
  if (!json_object_object_get_ex(c, "tags", &tags)) return false;
  for (size_t i = 0; i < json_object_array_length(tags); i++)
    if (!strcmp(json_object_get_string(json_object_array_get_idx(tags, i)), tag)) return true;
  return false;
}

static bool einc__shape_from_json(json_object *arr, einc_shape *out) {
  if (!arr || !json_object_is_type(arr, json_type_array)) return false;
  size_t n = json_object_array_length(arr);
  if (n > EINC_MAX_RANK) return false;
  out->rank = (int32_t)n;
  for (size_t i = 0; i < n; i++)
    out->dims[i] = json_object_get_int64(json_object_array_get_idx(arr, i));
  return true;
}

static const char *einc__numpy_dtype(einc_dtype dt) {
  return einc_dtype_name(dt);
}

/* Compare one output buffer with an `out` dict of the corpus. Writes the reason on mismatch. */
static bool einc__check_out(json_object *exp, const int64_t *dims, int rank, einc_dtype dt,
                            const void *buf, char *why, size_t why_size) {
  json_object *shape, *dtype, *flat, *sha;
  einc_shape want;
  if (!json_object_object_get_ex(exp, "shape", &shape) || !einc__shape_from_json(shape, &want)) {
    snprintf(why, why_size, "case has no output shape");
    return false;
  }
  bool same = want.rank == rank;
  for (int d = 0; same && d < rank; d++)
    same = want.dims[d] == dims[d];
  if (!same) {
    snprintf(why, why_size, "output shape differs (rank %d vs %d)", rank, want.rank);
    return false;
  }
  if (json_object_object_get_ex(exp, "dtype", &dtype) &&
      strcmp(json_object_get_string(dtype), einc__numpy_dtype(dt))) {
    snprintf(why, why_size, "output dtype %s, einops gives %s", einc__numpy_dtype(dt),
             json_object_get_string(dtype));
    return false;
  }
  int64_t n = 1;
  for (int d = 0; d < rank; d++)
    n *= dims[d];
  double *vals = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!vals) {
    snprintf(why, why_size, "out of memory");
    return false;
  }
  for (int64_t i = 0; i < n; i++)
    vals[i] = einc__load_f64(dt, buf, i);
  bool ok = true;
  if (json_object_object_get_ex(exp, "flat", &flat)) {
    for (int64_t i = 0; ok && i < n; i++) {
      json_object *v = json_object_array_get_idx(flat, (size_t)i);
      double w = json_object_is_type(v, json_type_string)
                     ? (!strcmp(json_object_get_string(v), "nan") ? NAN
                        : json_object_get_string(v)[0] == '-'     ? -INFINITY
                                                                  : INFINITY)
                     : json_object_get_double(v);
      if (!(w == vals[i] || (isnan(w) && isnan(vals[i])))) {
        snprintf(why, why_size, "value %lld is %g, einops gives %g", (long long)i, vals[i], w);
        ok = false;
      }
    }
  } else if (json_object_object_get_ex(exp, "sha256_f64le", &sha)) {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest(vals, sizeof(double) * (size_t)n, digest, &len, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
      snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (strcmp(hex, json_object_get_string(sha))) {
      snprintf(why, why_size, "values differ (sha256 of the float64 output)");
      ok = false;
    }
  }
  free(vals);
  return ok;
}

typedef enum { EINC_CASE_PASS, EINC_CASE_FAIL, EINC_CASE_SKIP } einc_case_result;

static einc_case_result einc__run_case(json_object *c, einc_conformance_via via, bool verbose,
                                       char *why, size_t why_size, const char **note) {
  json_object *j_op, *j_pattern, *j_inputs, *j_expect, *j_ok, *j_kw, *j_red, *j_packed;
  *note = "";
  if (!json_object_object_get_ex(c, "op", &j_op) ||
      !json_object_object_get_ex(c, "pattern", &j_pattern) ||
      !json_object_object_get_ex(c, "inputs", &j_inputs) ||
      !json_object_object_get_ex(c, "expect", &j_expect) ||
      !json_object_object_get_ex(j_expect, "ok", &j_ok)) {
    snprintf(why, why_size, "malformed case");
    return EINC_CASE_FAIL;
  }
  bool expect_ok = json_object_get_boolean(j_ok);
  bool quirk = einc__has_tag(c, "quirk");
  einc_op op;
  if (!einc_op_from_name(json_object_get_string(j_op), &op)) {
    snprintf(why, why_size, "unknown op %s", json_object_get_string(j_op));
    return EINC_CASE_FAIL;
  }
  (void)verbose;

  einc_spec spec = {.op = op};
  spec.pattern = json_object_get_string(j_pattern);
  spec.pattern_len = (size_t)json_object_get_string_len(j_pattern);
  if (json_object_object_get_ex(c, "reduction", &j_red) && j_red)
    spec.reduction_name = json_object_get_string(j_red);

  static einc_shape shapes[EINC_MAX_INPUTS], packed[EINC_MAX_INPUTS];
  const char *kinds[EINC_MAX_INPUTS];
  einc_dtype dtypes[EINC_MAX_INPUTS];
  size_t n_inputs = json_object_array_length(j_inputs);
  if (n_inputs > EINC_MAX_INPUTS) {
    snprintf(why, why_size, "too many inputs");
    return EINC_CASE_FAIL;
  }
  for (size_t i = 0; i < n_inputs; i++) {
    json_object *in = json_object_array_get_idx(j_inputs, i), *s, *k, *d;
    if (!json_object_object_get_ex(in, "shape", &s) || !einc__shape_from_json(s, &shapes[i]) ||
        !json_object_object_get_ex(in, "kind", &k) || !json_object_object_get_ex(in, "dtype", &d) ||
        !einc_dtype_from_name(json_object_get_string(d), &dtypes[i])) {
      snprintf(why, why_size, "malformed input %zu", i);
      return EINC_CASE_FAIL;
    }
    kinds[i] = json_object_get_string(k);
  }
  spec.n_inputs = (int32_t)n_inputs;
  spec.inputs = shapes;
  spec.dtype = n_inputs ? dtypes[0] : EINC_F64;

  /* rearrange / reduce / repeat of a list: einops stacks the tensors on a new axis 0 */
  size_t stacked = 0;
  einc_shape stack_shape;
  if ((op == EINC_OP_REARRANGE || op == EINC_OP_REDUCE || op == EINC_OP_REPEAT) && n_inputs > 1) {
    for (size_t i = 1; i < n_inputs; i++) {
      bool same = shapes[i].rank == shapes[0].rank;
      for (int d = 0; same && d < shapes[0].rank; d++)
        same = shapes[i].dims[d] == shapes[0].dims[d];
      if (!same) { /* numpy's stack refuses: a backend error */
        if (!expect_ok) return EINC_CASE_PASS;
        snprintf(why, why_size, "inputs of different shapes cannot be stacked");
        return EINC_CASE_FAIL;
      }
    }
    if (shapes[0].rank >= EINC_MAX_RANK) {
      snprintf(why, why_size, "stacked input has too many dims");
      return EINC_CASE_FAIL;
    }
    stack_shape.rank = shapes[0].rank + 1;
    stack_shape.dims[0] = (int64_t)n_inputs;
    memcpy(stack_shape.dims + 1, shapes[0].dims, sizeof(int64_t) * (size_t)shapes[0].rank);
    stacked = n_inputs;
    spec.n_inputs = 1;
    spec.inputs = &stack_shape;
  }

  einc_kwarg kwargs[EINC_MAX_AXES];
  int n_kwargs = 0;
  bool bad_kwarg = false, negative_kwarg = false;
  if (json_object_object_get_ex(c, "axes_lengths", &j_kw) && j_kw) {
    json_object_object_foreach(j_kw, key, val) {
      if (n_kwargs >= EINC_MAX_AXES) break;
      if (!json_object_is_type(val, json_type_int)) bad_kwarg = true;
      kwargs[n_kwargs].name = key;
      kwargs[n_kwargs].value = json_object_get_int64(val);
      if (kwargs[n_kwargs].value < 0) negative_kwarg = true;
      n_kwargs++;
    }
  }
  spec.n_kwargs = n_kwargs;
  spec.kwargs = kwargs;
  if (json_object_object_get_ex(c, "packed_shapes", &j_packed) && j_packed) {
    size_t n = json_object_array_length(j_packed);
    if (n > EINC_MAX_INPUTS) n = EINC_MAX_INPUTS;
    for (size_t i = 0; i < n; i++)
      einc__shape_from_json(json_object_array_get_idx(j_packed, i), &packed[i]);
    spec.n_packed = (int32_t)n;
    spec.packed = packed;
  }

  const char *expect_kind = "";
  json_object *j_kind;
  if (!expect_ok && json_object_object_get_ex(j_expect, "error_kind", &j_kind))
    expect_kind = json_object_get_string(j_kind);

  if (bad_kwarg) {
    /* einc takes integer axis sizes only; einops accepts floats where no reshape needs them */
    if (quirk || !expect_ok) {
      *note = "rejected: axis sizes must be integers";
      return EINC_CASE_PASS;
    }
    snprintf(why, why_size, "non-integer axis size");
    return EINC_CASE_FAIL;
  }
  if (negative_kwarg) {
    /* EINC_UNKNOWN (-1) marks a run-time size in the API, so a negative length is refused here,
     * on purpose (README). einops always fails too, only later: in numpy's reshape
     * (backend_error), or in a length check when the axis fills a dim ("Shape mismatch, 3 !=
     * -1") or divides one ("can't divide"). */
    if (!expect_ok && einc__kind_matches(expect_kind, EINC_ERR_NEGATIVE_LENGTH))
      return EINC_CASE_PASS;
    if (!expect_ok &&
        (!strcmp(expect_kind, "length_mismatch") || !strcmp(expect_kind, "not_divisible"))) {
      *note = "rejected: negative axis size (einops fails in its length check)";
      return EINC_CASE_PASS;
    }
    snprintf(why, why_size, "negative axis size, einops says %s", expect_ok ? "ok" : expect_kind);
    return EINC_CASE_FAIL;
  }
  if (op == EINC_OP_PACK && n_inputs == 0) {
    if (!expect_ok) return EINC_CASE_PASS; /* einops: IndexError on an empty list */
    snprintf(why, why_size, "pack of no tensors");
    return EINC_CASE_FAIL;
  }

  einc_plan *plan = NULL;
  einc_error err;
  int status = einc_plan_new(&spec, &plan, &err);
  if (status) {
    if (!expect_ok) {
      if (einc__kind_matches(expect_kind, err.kind)) return EINC_CASE_PASS;
      if (quirk) { /* e.g. reduce(..., "rearrange") on a pattern rearrange itself rejects */
        *note = "rejected (einops quirk), for another reason than einops";
        return EINC_CASE_PASS;
      }
      snprintf(why, why_size, "rejected with %s, einops says %s: %s", einc_error_key(err.kind),
               expect_kind, err.message);
      return EINC_CASE_FAIL;
    }
    if (quirk) {
      *note = "rejected (einops quirk)";
      return EINC_CASE_PASS;
    }
    snprintf(why, why_size, "rejected a valid case with %s: %s", einc_error_key(err.kind),
             err.message);
    return EINC_CASE_FAIL;
  }
  if (!expect_ok) {
    einc_plan_delete(plan);
    snprintf(why, why_size, "accepted, einops rejects it with %s", expect_kind);
    return EINC_CASE_FAIL;
  }

  if (op == EINC_OP_PARSE_SHAPE) { /* compare the parsed names and lengths */
    json_object *j_parsed;
    bool same = json_object_object_get_ex(j_expect, "parsed", &j_parsed) &&
                (int)json_object_object_length(j_parsed) == plan->n_axes;
    for (int a = 0; same && a < plan->n_axes; a++) {
      json_object *v;
      same = json_object_object_get_ex(j_parsed, plan->axes[a].name, &v) &&
             json_object_get_int64(v) == plan->axes[a].length;
    }
    einc_plan_delete(plan);
    if (same) return EINC_CASE_PASS;
    snprintf(why, why_size, "parsed names or lengths differ");
    return EINC_CASE_FAIL;
  }

  /* run it */
  einc_case_result result = EINC_CASE_FAIL;
  void *ins[EINC_MAX_INPUTS] = {0};
  void *outs[EINC_MAX_INPUTS] = {0};
  int n_outs = plan->n_outputs;
  for (size_t i = 0; i < n_inputs; i++) {
    int64_t n = 1;
    for (int d = 0; d < shapes[i].rank; d++)
      n *= shapes[i].dims[d];
    ins[i] = einc__make_input(kinds[i], dtypes[i], n, (int)i);
    if (!ins[i]) goto done;
  }
  if (stacked) {
    int64_t n = 1;
    for (int d = 0; d < shapes[0].rank; d++)
      n *= shapes[0].dims[d];
    size_t bytes = (size_t)n * einc_dtype_size(dtypes[0]);
    char *all = malloc(bytes * stacked + 1);
    if (!all) goto done;
    for (size_t i = 0; i < stacked; i++) {
      memcpy(all + i * bytes, ins[i], bytes);
      free(ins[i]);
      ins[i] = NULL;
    }
    ins[0] = all;
  }
  for (int i = 0; i < n_outs; i++) {
    int64_t n = einc_plan_out_numel(plan, i);
    outs[i] = calloc((size_t)(n > 0 ? n : 1), einc_dtype_size(plan->out_dtype));
    if (!outs[i]) goto done;
  }
  if (via) {
    int vrc = via(plan, (const void *const *)ins, outs, why, why_size);
    if (vrc > 0) {
      result = EINC_CASE_SKIP;
      goto done;
    }
    if (vrc < 0) goto done;
  } else if (einc_plan_execute(plan, (const void *const *)ins, outs)) {
    snprintf(why, why_size, "the interpreter failed");
    goto done;
  }
  if (op == EINC_OP_UNPACK) {
    json_object *j_outs;
    if (!json_object_object_get_ex(j_expect, "outs", &j_outs) ||
        (int)json_object_array_length(j_outs) != n_outs) {
      snprintf(why, why_size, "number of unpacked pieces differs");
      goto done;
    }
    for (int i = 0; i < n_outs; i++)
      if (!einc__check_out(json_object_array_get_idx(j_outs, (size_t)i), plan->outputs[i].dims,
                           plan->outputs[i].rank, plan->out_dtype, outs[i], why, why_size))
        goto done;
  } else {
    json_object *j_out;
    const int64_t *dims = plan->out_shape;
    int rank = plan->out_rank;
    if (!json_object_object_get_ex(j_expect, "out", &j_out) ||
        !einc__check_out(j_out, dims, rank, plan->out_dtype, outs[0], why, why_size))
      goto done;
  }
  /* a rearrange is a view exactly when numpy could return one (an empty array shares no
   * memory, so numpy's answer says nothing there) */
  json_object *j_view;
  if (op == EINC_OP_REARRANGE && einc_plan_out_numel(plan, 0) > 0 &&
      json_object_object_get_ex(j_expect, "is_view", &j_view)) {
    bool ours = plan->klass == EINC_PLAN_VIEW;
    if (ours != json_object_get_boolean(j_view)) {
      snprintf(why, why_size, "plan class %s, but numpy %s a view",
               einc_plan_class_name(plan->klass), ours ? "does not return" : "returns");
      goto done;
    }
  }
  if (quirk) *note = "matches einops (quirk)";
  result = EINC_CASE_PASS;
done:
  for (size_t i = 0; i < n_inputs; i++)
    free(ins[i]);
  for (int i = 0; i < n_outs; i++)
    free(outs[i]);
  einc_plan_delete(plan);
  return result;
}

int einc_cli_conformance(int argc, char **argv) {
  const char *path = NULL, *via_name = "interp";
  bool verbose = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--via") && i + 1 < argc)
      via_name = argv[++i];
    else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
      verbose = true;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: einc conformance FILE.jsonl [--via interp|c] [--verbose]\n");
      return 0;
    } else if (!path && argv[i][0] != '-')
      path = argv[i];
    else {
      fprintf(stderr, "einc conformance: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "usage: einc conformance FILE.jsonl [--via interp|c] [--verbose]\n");
    return 2;
  }
  einc_conformance_via via = NULL;
  if (!strcmp(via_name, "interp"))
    via = NULL;
  else if (!strcmp(via_name, "c") && einc__conformance_via_c)
    via = einc__conformance_via_c;
  else {
    fprintf(stderr, "einc conformance: --via %s is not available in this build\n", via_name);
    return 2;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    return 2;
  }
  int passed = 0, failed = 0, skipped = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int lineno = 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    if (n <= 1) continue;
    json_object *c = json_tokener_parse(line);
    if (!c) {
      printf("FAIL line %d: not JSON\n", lineno);
      failed++;
      continue;
    }
    json_object *j_id;
    const char *id = json_object_object_get_ex(c, "id", &j_id) ? json_object_get_string(j_id) : "?";
    char why[1024] = "";
    const char *note = "";
    einc_case_result r = einc__run_case(c, via, verbose, why, sizeof why, &note);
    if (r == EINC_CASE_PASS) {
      passed++;
      if (verbose || note[0]) printf("ok   %s%s%s\n", id, note[0] ? ": " : "", note);
    } else if (r == EINC_CASE_SKIP) {
      skipped++;
      if (verbose) printf("skip %s: %s\n", id, why);
    } else {
      failed++;
      printf("FAIL %s: %s\n", id, why);
    }
    json_object_put(c);
  }
  free(line);
  fclose(f);
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

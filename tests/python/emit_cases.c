/*
 * emit_cases — writes the PyTorch and numpy expressions einc emits for every valid rearrange,
 * reduce, repeat, einsum and parse_shape case of the conformance corpus, one JSON object a line, so
 * that one Python process (check_emit.py) can evaluate them all against einops' recorded outputs.
 *
 * usage: emit_cases CASES.jsonl OUT.jsonl
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"

static void emit_one(FILE *out, json_object *c) {
  json_object *v, *expect, *ok;
  const char *id = json_object_get_string(json_object_object_get(c, "id"));
  const char *opname = json_object_get_string(json_object_object_get(c, "op"));
  einc_op op;
  if (!opname || !einc_op_from_name(opname, &op)) return;
  if (op != EINC_OP_REARRANGE && op != EINC_OP_REDUCE && op != EINC_OP_REPEAT &&
      op != EINC_OP_EINSUM && op != EINC_OP_PARSE_SHAPE)
    return;
  if (!json_object_object_get_ex(c, "expect", &expect) ||
      !json_object_object_get_ex(expect, "ok", &ok) || !json_object_get_boolean(ok))
    return;

  einc_shape shapes[EINC_MAX_INPUTS];
  json_object *inputs = json_object_object_get(c, "inputs");
  int n_inputs = (int)json_object_array_length(inputs);
  if (n_inputs > EINC_MAX_INPUTS) return;
  einc_dtype dtype = EINC_F64;
  for (int i = 0; i < n_inputs; i++) {
    json_object *in = json_object_array_get_idx(inputs, i);
    json_object *shape = json_object_object_get(in, "shape");
    if (i == 0)
      einc_dtype_from_name(json_object_get_string(json_object_object_get(in, "dtype")), &dtype);
    shapes[i].rank = (int32_t)json_object_array_length(shape);
    for (int d = 0; d < shapes[i].rank && d < EINC_MAX_RANK; d++)
      shapes[i].dims[d] = json_object_get_int64(json_object_array_get_idx(shape, d));
  }
  einc_kwarg kwargs[EINC_MAX_AXES];
  char values[EINC_MAX_AXES][32];
  const char *names[EINC_MAX_AXES], *sources[EINC_MAX_AXES];
  int n_kwargs = 0;
  json_object *axes = json_object_object_get(c, "axes_lengths");
  if (axes) {
    json_object_object_foreach(axes, key, val) {
      if (n_kwargs == EINC_MAX_AXES) break;
      kwargs[n_kwargs].name = names[n_kwargs] = key;
      kwargs[n_kwargs].value = json_object_get_int64(val);
      snprintf(values[n_kwargs], sizeof values[0], "%lld", (long long)kwargs[n_kwargs].value);
      sources[n_kwargs] = values[n_kwargs];
      n_kwargs++;
    }
  }
  const char *pattern = json_object_get_string(json_object_object_get(c, "pattern"));
  v = json_object_object_get(c, "reduction");
  einc_spec spec = {
      .op = op,
      .pattern = pattern,
      .pattern_len = strlen(pattern),
      .reduction_name = v ? json_object_get_string(v) : NULL,
      .dtype = dtype,
      .n_inputs = n_inputs,
      .inputs = shapes,
      .n_kwargs = n_kwargs,
      .kwargs = kwargs,
  };
  json_object *rec = json_object_new_object();
  json_object_object_add(rec, "id", json_object_new_string(id));
  /* Twice: with the case's shapes (what `einc explain --emit` sees) and with unknown ranks
   * (what the linter sees in source code: the expression must work for every rank). */
  for (int any_rank = 0; any_rank < 2; any_rank++) {
    einc_shape unknown[EINC_MAX_INPUTS];
    for (int i = 0; i < n_inputs; i++)
      unknown[i] = (einc_shape){.rank = EINC_UNKNOWN};
    spec.inputs = any_rank ? unknown : shapes;
    einc_plan *plan = NULL;
    einc_error err;
    static const char *const keys[2][2] = {{"torch", "numpy"},
                                           {"torch_any_rank", "numpy_any_rank"}};
    if (einc_plan_new(&spec, &plan, &err) != EINC_OK) {
      char why[600];
      snprintf(why, sizeof why, "plan: %s", err.message);
      for (int t = 0; t < 2; t++) {
        char key[64];
        snprintf(key, sizeof key, "why_%s", keys[any_rank][t]);
        json_object_object_add(rec, key, json_object_new_string(why));
      }
      continue;
    }
    char xs[EINC_MAX_INPUTS][8];
    const char *xn[EINC_MAX_INPUTS];
    for (int i = 0; i < n_inputs; i++) {
      snprintf(xs[i], sizeof xs[i], n_inputs == 1 ? "x" : "x%d", i);
      xn[i] = xs[i];
    }
    for (int t = 0; t < 2; t++) {
      char *expr = NULL;
      einc__emit_info info;
      int rc = einc__emit_torch(plan, t ? EINC_EMIT_NUMPY : EINC_EMIT_TORCH, xn, NULL, n_kwargs,
                                names, sources, &expr, &info);
      if (rc == EINC_OK) {
        json_object_object_add(rec, keys[any_rank][t], json_object_new_string(expr));
        if (info.safety == EINC_FIX_UNSAFE) {
          char key[64];
          snprintf(key, sizeof key, "unsafe_%s", keys[any_rank][t]);
          json_object_object_add(rec, key, json_object_new_string(info.unsafe_why));
        }
      } else {
        char key[64];
        snprintf(key, sizeof key, "why_%s", keys[any_rank][t]);
        json_object_object_add(rec, key, json_object_new_string(info.why_not));
      }
      einc_free(expr);
    }
    einc_plan_delete(plan);
  }
  fprintf(out, "%s\n", json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN));
  json_object_put(rec);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: emit_cases CASES.jsonl OUT.jsonl\n");
    return 2;
  }
  FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
  if (!in || !out) {
    perror("emit_cases");
    return 2;
  }
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, in) > 0) {
    json_object *c = json_tokener_parse(line);
    if (!c) continue;
    emit_one(out, c);
    json_object_put(c);
  }
  free(line);
  fclose(in);
  return fclose(out) == 0 ? 0 : 2;
}

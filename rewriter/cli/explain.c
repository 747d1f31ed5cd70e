/*
 * `einc explain PATTERN ...`: compile one pattern and print its plan, the error with a caret
 * under the offending character, or the code one emitter makes of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

bool einc_cli_parse_shape(const char *text, einc_shape *out) {
  out->rank = 0;
  const char *s = text;
  while (*s == ' ') s++;
  if (!*s) return true; /* a 0-d input */
  for (;;) {
    if (out->rank >= EINC_MAX_RANK) return false;
    while (*s == ' ') s++;
    if (*s == '?') {
      out->dims[out->rank++] = EINC_UNKNOWN;
      s++;
    } else {
      char *end;
      errno = 0;
      long long v = strtoll(s, &end, 10);
      if (end == s || errno || v < 0) return false;
      out->dims[out->rank++] = v;
      s = end;
    }
    while (*s == ' ') s++;
    if (*s == 0) return true;
    if (*s != ',') return false;
    s++;
  }
}

static void einc__explain_usage(FILE *f) {
  fprintf(f, "usage: einc explain PATTERN [--op rearrange|reduce|repeat|einsum|pack|unpack]\n"
             "                    [--reduction sum|mean|max|min|prod|any|all]\n"
             "                    [--shape 2,3,4 | --shape '2,3;3,4'] [--dtype float32]\n"
             "                    [--packed '2;-1'] [NAME=VALUE ...]\n"
             "                    [--emit plan|torch|numpy|c|cuda|opencl]\n"
             "A shape entry `?` is a length bound at run time; VALUE `?` likewise.\n");
}

int einc_cli_explain(int argc, char **argv) {
  const char *pattern = NULL, *reduction = NULL, *shape_text = NULL, *emit = "plan";
  const char *packed_text = NULL;
  einc_op op = EINC_OP_REARRANGE;
  bool op_given = false;
  einc_dtype dtype = EINC_F32;
  einc_kwarg kwargs[EINC_MAX_AXES];
  char kwarg_names[EINC_MAX_AXES][128];
  int n_kwargs = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      einc__explain_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--op") && next) {
      if (!einc_op_from_name(next, &op)) {
        fprintf(stderr, "einc explain: unknown op '%s'\n", next);
        return 2;
      }
      op_given = true;
      i++;
    } else if (!strcmp(a, "--reduction") && next) {
      reduction = next, i++;
    } else if (!strcmp(a, "--shape") && next) {
      shape_text = next, i++;
    } else if (!strcmp(a, "--packed") && next) {
      packed_text = next, i++;
    } else if (!strcmp(a, "--dtype") && next) {
      if (!einc_dtype_from_name(next, &dtype)) {
        fprintf(stderr, "einc explain: unknown dtype '%s'\n", next);
        return 2;
      }
      i++;
    } else if (!strcmp(a, "--emit") && next) {
      emit = next, i++;
    } else if (a[0] == '-' && a[1] == '-') {
      fprintf(stderr, "einc explain: unknown option '%s'\n", a);
      einc__explain_usage(stderr);
      return 2;
    } else if (!pattern) {
      pattern = a;
    } else if (strchr(a, '=')) {
      const char *eq = strchr(a, '=');
      if (n_kwargs >= EINC_MAX_AXES || (size_t)(eq - a) >= sizeof kwarg_names[0]) {
        fprintf(stderr, "einc explain: too many or too long axis sizes\n");
        return 2;
      }
      memcpy(kwarg_names[n_kwargs], a, (size_t)(eq - a));
      kwarg_names[n_kwargs][eq - a] = 0;
      char *end;
      long long v = !strcmp(eq + 1, "?") ? EINC_UNKNOWN : strtoll(eq + 1, &end, 10);
      if (strcmp(eq + 1, "?") && (end == eq + 1 || *end)) {
        fprintf(stderr, "einc explain: axis size '%s' is not an integer\n", a);
        return 2;
      }
      kwargs[n_kwargs].name = kwarg_names[n_kwargs];
      kwargs[n_kwargs].value = v;
      n_kwargs++;
    } else {
      fprintf(stderr, "einc explain: unexpected argument '%s'\n", a);
      return 2;
    }
  }
  if (!pattern) {
    einc__explain_usage(stderr);
    return 2;
  }
  if (reduction && !op_given) op = EINC_OP_REDUCE;

  einc_shape *inputs = calloc(EINC_MAX_INPUTS, sizeof *inputs);
  einc_shape *packed = calloc(EINC_MAX_INPUTS, sizeof *packed);
  int n_inputs = 0, n_packed = 0, rc = 2;
  if (!inputs || !packed) goto done;
  if (shape_text) {
    /* several inputs separated by ';' */
    char *copy = strdup(shape_text), *save = NULL;
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
      if (n_inputs >= EINC_MAX_INPUTS || !einc_cli_parse_shape(tok, &inputs[n_inputs])) {
        fprintf(stderr, "einc explain: bad --shape '%s' (want e.g. 2,3,4 or '2,3;3,4')\n",
                shape_text);
        free(copy);
        goto done;
      }
      n_inputs++;
    }
    if (strchr(shape_text, ';') == NULL && n_inputs == 0) inputs[n_inputs++].rank = 0;
    free(copy);
  } else if (op != EINC_OP_EINSUM && op != EINC_OP_PACK) {
    inputs[0].rank = EINC_UNKNOWN;
    n_inputs = 1;
  }
  if (packed_text) {
    char *copy = strdup(packed_text), *save = NULL;
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
      einc_shape *s = &packed[n_packed];
      s->rank = 0;
      char *save2 = NULL;
      for (char *d = strtok_r(tok, ",", &save2); d; d = strtok_r(NULL, ",", &save2))
        if (s->rank < EINC_MAX_RANK) s->dims[s->rank++] = strtoll(d, NULL, 10);
      n_packed++;
      if (n_packed >= EINC_MAX_INPUTS) break;
    }
    free(copy);
  }

  einc_spec spec = {.op = op,
                    .pattern = pattern,
                    .pattern_len = strlen(pattern),
                    .reduction_name = reduction,
                    .dtype = dtype,
                    .n_inputs = n_inputs,
                    .inputs = inputs,
                    .n_kwargs = n_kwargs,
                    .kwargs = kwargs,
                    .n_packed = n_packed,
                    .packed = packed};
  einc_plan *plan = NULL;
  einc_error err;
  int status = einc_plan_new(&spec, &plan, &err);
  if (status) {
    char *text = einc_error_format(&err, pattern, strlen(pattern));
    fputs(text ? text : err.message, stderr);
    free(text);
    rc = 1;
    goto done;
  }
  if (!strcmp(emit, "plan")) {
    char *text = einc_plan_describe(plan);
    if (text) fputs(text, stdout);
    rc = text ? 0 : 2;
    free(text);
  } else {
    fprintf(stderr, "einc explain: --emit %s is not available in this build\n", emit);
    rc = 2;
  }
  einc_plan_delete(plan);
done:
  free(inputs);
  free(packed);
  return rc;
}

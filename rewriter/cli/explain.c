/*
 * `einc explain PATTERN ...`: compile one pattern and print its plan, the error with a caret
 * under the offending character, or the code one emitter makes of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gen.h"
#include "internal.h"
#include "lint.h"

bool einc_cli_parse_shape(const char *text, einc_shape *out) {
  out->rank = 0;
  const char *s = text;
  while (*s == ' ')
    s++;
  if (!*s) return true; /* a 0-d input */
  for (;;) {
    if (out->rank >= EINC_MAX_RANK) return false;
    while (*s == ' ')
      s++;
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
    while (*s == ' ')
      s++;
    if (*s == 0) return true;
    if (*s != ',') return false;
    s++;
  }
}

/* One Python expression over inputs x (or x0, x1, ...), the sizes given as their values: what
 * `einc lint --fix` writes, so `eval` of it gives the einops result. */
static int einc__explain_python(const einc_plan *plan, einc_emit_target target,
                                const einc_kwarg *kwargs, int n_kwargs) {
  const char *names[EINC_MAX_INPUTS];
  char name_buf[EINC_MAX_INPUTS][8];
  for (int i = 0; i < EINC_MAX_INPUTS; i++) {
    snprintf(name_buf[i], sizeof name_buf[i], "x%d", i);
    names[i] = plan->n_inputs > 1 ? name_buf[i] : "x";
  }
  const char *size_names[EINC_MAX_AXES], *size_source[EINC_MAX_AXES];
  char value_buf[EINC_MAX_AXES][24];
  for (int i = 0; i < n_kwargs; i++) {
    size_names[i] = kwargs[i].name;
    if (kwargs[i].value == EINC_UNKNOWN)
      snprintf(value_buf[i], sizeof value_buf[i], "%s", kwargs[i].name);
    else
      snprintf(value_buf[i], sizeof value_buf[i], "%lld", (long long)kwargs[i].value);
    size_source[i] = value_buf[i];
  }
  char *expr = NULL;
  einc__emit_info info;
  memset(&info, 0, sizeof info);
  int status =
      einc__emit_torch(plan, target, names, NULL, n_kwargs, size_names, size_source, &expr, &info);
  if (status) {
    fprintf(stderr, "einc explain: no %s expression for this pattern: %s\n",
            target == EINC_EMIT_TORCH ? "PyTorch" : "numpy",
            info.why_not[0] ? info.why_not : einc_status_message(status));
    return 1;
  }
  printf("%s\n", expr);
  free(expr);
  return 0;
}

/* The C functions or CUDA kernels `einc gen` makes of this plan (without the shared prelude). */
static int einc__explain_c(const einc_plan *plan, const einc_kwarg *kwargs, int n_kwargs,
                           bool cuda) {
  einc_sbuf h, c;
  einc__sbuf_init(&h);
  einc__sbuf_init(&c);
  int status = cuda ? einc__emit_cuda_plan(&h, &c, "einc_pattern", plan, kwargs, n_kwargs)
                    : einc__emit_c_plan(&h, &c, "einc_pattern", plan, kwargs, n_kwargs);
  char *ht = einc__sbuf_finish(&h), *ct = einc__sbuf_finish(&c);
  int rc = 0;
  if (status || !ht || !ct) {
    fprintf(stderr, "einc explain: no %s for this plan: %s\n", cuda ? "CUDA" : "C",
            einc_status_message(status ? status : EINC_ENOMEM));
    rc = 1;
  } else {
    printf("/* header */\n%s\n/* source */\n%s", ht, ct);
  }
  einc_free(ht);
  einc_free(ct);
  return rc;
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
  } else if (op == EINC_OP_EINSUM) {
    /* one input of unknown rank per operand */
    const char *arrow = strstr(pattern, "->");
    n_inputs = 1;
    for (const char *c = pattern; *c && (!arrow || c < arrow); c++)
      n_inputs += *c == ',';
    if (n_inputs > EINC_MAX_INPUTS) n_inputs = EINC_MAX_INPUTS;
    for (int i = 0; i < n_inputs; i++)
      inputs[i].rank = EINC_UNKNOWN;
  } else if (op != EINC_OP_PACK) {
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
    einc_free(text);
  } else if (!strcmp(emit, "torch") || !strcmp(emit, "numpy")) {
    rc = einc__explain_python(plan, !strcmp(emit, "torch") ? EINC_EMIT_TORCH : EINC_EMIT_NUMPY,
                              kwargs, n_kwargs);
  } else if (!strcmp(emit, "c") || !strcmp(emit, "cuda")) {
    rc = einc__explain_c(plan, kwargs, n_kwargs, !strcmp(emit, "cuda"));
  } else {
    fprintf(
        stderr,
        "einc explain: --emit %s is not available in this build (plan, torch, numpy, c, cuda)\n",
        emit);
    rc = 2;
  }
  einc_plan_delete(plan);
done:
  free(inputs);
  free(packed);
  return rc;
}

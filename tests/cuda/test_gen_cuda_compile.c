/*
 * Generated CUDA compiles: every valid rearrange / reduce / repeat case of the conformance
 * corpus, emitted with every length known and again with only the rank known, plus random
 * patterns over random shapes and dtypes, are emitted into a few .cu files that nvcc compiles
 * to sm_90a PTX in parallel (compile only: no device is needed). Fails when an emitter call fails
 * or nvcc reports an error or a warning.
 *
 * usage: test_gen_cuda_compile CASES.jsonl NVCC WORK_DIR
 */
#include <json-c/json.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gen_batch.h"

extern char **environ;

enum { N_FILES = 2, N_RANDOM = 250 };

static einc_sbuf h[N_FILES], cu[N_FILES];
static int n_kernels, n_failed;

/* Emit `spec` with its shape, then with every dim unknown, into file k % N_FILES. */
static void emit_spec(const einc_spec *spec, const char *label) {
  einc_shape open = spec->inputs[0];
  for (int32_t d = 0; d < open.rank; d++)
    open.dims[d] = EINC_UNKNOWN;
  einc_spec ospec = *spec;
  ospec.inputs = &open;
  const einc_spec *specs[2] = {spec, &ospec};
  for (int v = 0; v < 2; v++) {
    einc_plan *plan = NULL;
    if (einc_plan_new(specs[v], &plan, NULL) != EINC_OK) continue; /* an error case */
    char name[32];
    snprintf(name, sizeof name, "k%d", n_kernels);
    int f = n_kernels++ % N_FILES;
    int st = einc__emit_cuda_plan(&h[f], &cu[f], name, plan, specs[v]->kwargs, specs[v]->n_kwargs);
    if (st != EINC_OK) {
      fprintf(stderr, "FAIL %s (%s): emit: %s\n", label, v ? "rank only" : "bound",
              einc_status_message(st));
      n_failed++;
    }
    einc_plan_delete(plan);
  }
}

static int load_corpus(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  while (getline(&line, &cap, f) > 0) {
    json_object *o = json_tokener_parse(line), *v, *exp;
    if (!o) continue;
    einc_op op;
    if (!einc_op_from_name(json_object_get_string(json_object_object_get(o, "op")), &op) ||
        (op != EINC_OP_REARRANGE && op != EINC_OP_REDUCE && op != EINC_OP_REPEAT) ||
        !json_object_object_get_ex(o, "expect", &exp) ||
        !json_object_get_boolean(json_object_object_get(exp, "ok")))
      goto next;
    json_object *in0 = json_object_array_get_idx(json_object_object_get(o, "inputs"), 0);
    json_object *js = json_object_object_get(in0, "shape");
    einc_shape shape = {.rank = (int32_t)json_object_array_length(js)};
    for (int32_t d = 0; d < shape.rank; d++)
      shape.dims[d] = json_object_get_int64(json_object_array_get_idx(js, (size_t)d));
    einc_dtype dt = EINC_F64;
    if (json_object_object_get_ex(in0, "dtype", &v))
      einc_dtype_from_name(json_object_get_string(v), &dt);
    einc_kwarg kw[EINC_GEN_MAX_KWARGS];
    int32_t nk = 0;
    bool odd = false;
    json_object *axes = json_object_object_get(o, "axes_lengths");
    if (axes) {
      json_object_object_foreach(axes, key, val) {
        if (nk < EINC_GEN_MAX_KWARGS && json_object_is_type(val, json_type_int))
          kw[nk++] = (einc_kwarg){key, json_object_get_int64(val)};
        else
          odd = true;
      }
    }
    if (odd) goto next;
    const char *pattern = json_object_get_string(json_object_object_get(o, "pattern"));
    const char *red =
        json_object_object_get_ex(o, "reduction", &v) ? json_object_get_string(v) : NULL;
    einc_spec spec = {.op = op,
                      .pattern = pattern,
                      .pattern_len = strlen(pattern),
                      .reduction_name = op == EINC_OP_REDUCE ? red : NULL,
                      .dtype = dt,
                      .n_inputs = 1,
                      .inputs = &shape,
                      .n_kwargs = nk,
                      .kwargs = kw};
    emit_spec(&spec, json_object_get_string(json_object_object_get(o, "id")));
    n++;
  next:
    json_object_put(o);
  }
  free(line);
  fclose(f);
  return n;
}

/* Random permutations of 1-6 axes, some merged on either side, as any of the three ops (a
 * reduce drops one axis, a repeat adds `r`), over every dtype and reduction. */
static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static void emit_random(void) {
  static const char *reds[] = {"sum", "mean", "max", "min", "prod", "any", "all"};
  for (int it = 0; it < N_RANDOM; it++) {
    int n = 1 + (int)rnd(6), perm[6];
    bool merged[6];
    einc_shape shape = {0};
    char left[128] = "", right[160] = "", pattern[300];
    for (int i = 0; i < n; i++) {
      perm[i] = i;
      int64_t len = 1 + rnd(70);
      merged[i] = rnd(4) == 0; /* an input dim (a b) with keyword b = 3 */
      snprintf(left + strlen(left), sizeof left - strlen(left), merged[i] ? "(a%d b%d) " : "a%d ",
               i, i);
      shape.dims[shape.rank++] = merged[i] ? len * 3 : len;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = (int)rnd((uint32_t)i + 1), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    einc_op op = (einc_op)rnd(3); /* rearrange, reduce, repeat */
    int drop = op == EINC_OP_REDUCE ? perm[rnd((uint32_t)n)] : -1;
    bool grouped = op == EINC_OP_REPEAT && rnd(2); /* r merged into the first output dim */
    for (int k = 0; k < n; k++) {
      int i = perm[k];
      if (i == drop) continue;
      char axes[24];
      snprintf(axes, sizeof axes, merged[i] ? "a%d b%d" : "a%d", i, i);
      if (grouped)
        snprintf(right + strlen(right), sizeof right - strlen(right), "(%s r) ", axes);
      else if (rnd(5) == 0) /* an output dim merging axes that moved */
        snprintf(right + strlen(right), sizeof right - strlen(right), "(%s) ", axes);
      else
        snprintf(right + strlen(right), sizeof right - strlen(right), "%s ", axes);
      grouped = false;
    }
    if (op == EINC_OP_REPEAT && !strstr(right, " r)"))
      snprintf(right + strlen(right), sizeof right - strlen(right), "r");
    snprintf(pattern, sizeof pattern, "%s-> %s", left, right);
    einc_kwarg kw[8];
    char names[8][8];
    int32_t nk = 0;
    for (int i = 0; i < n; i++)
      if (merged[i]) {
        snprintf(names[nk], sizeof names[nk], "b%d", i);
        kw[nk] = (einc_kwarg){names[nk], 3};
        nk++;
      }
    if (op == EINC_OP_REPEAT) kw[nk++] = (einc_kwarg){"r", 1 + rnd(4)};
    einc_dtype dt = (einc_dtype)rnd(EINC_DTYPE__COUNT);
    const char *red = reds[rnd(7)];
    if (op == EINC_OP_REDUCE && strcmp(red, "mean") == 0 && (dt == EINC_I64 || dt == EINC_BOOL))
      red = "sum";
    einc_spec spec = {.op = op,
                      .pattern = pattern,
                      .pattern_len = strlen(pattern),
                      .reduction_name = op == EINC_OP_REDUCE ? red : NULL,
                      .dtype = dt,
                      .n_inputs = 1,
                      .inputs = &shape,
                      .n_kwargs = nk,
                      .kwargs = kw};
    einc_plan *plan = NULL;
    einc_error err;
    if (einc_plan_new(&spec, &plan, &err) != EINC_OK) {
      fprintf(stderr, "FAIL random pattern rejected: %s: %s\n", pattern, err.message);
      n_failed++;
      continue;
    }
    einc_plan_delete(plan);
    emit_spec(&spec, pattern);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_gen_cuda_compile CASES.jsonl NVCC WORK_DIR\n");
    return 2;
  }
  gen_batches_begin(h, cu, N_FILES);
  int n_cases = load_corpus(argv[1]);
  if (n_cases < 0) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  emit_random();
  printf("%d corpus cases and %d random patterns: %d kernels emitted, %d failed\n", n_cases,
         N_RANDOM, n_kernels, n_failed);
  pid_t pids[N_FILES];
  for (int f = 0; f < N_FILES; f++) {
    char path[1024], obj[1024];
    snprintf(path, sizeof path, "%s/gen_cuda_batch%d.cu", argv[3], f);
    snprintf(obj, sizeof obj, "%s/gen_cuda_batch%d.ptx", argv[3], f);
    einc__sbuf_printf(&h[f], "#ifdef __cplusplus\n}\n#endif\n");
    char *ht = einc__sbuf_finish(&h[f]), *ct = einc__sbuf_finish(&cu[f]);
    FILE *out = fopen(path, "w");
    if (!out || !ht || !ct) return 2;
    fputs(ht, out);
    fputs(ct, out);
    fclose(out);
    einc_free(ht);
    einc_free(ct);
    /* to PTX: the front end and NVVM check every kernel; ptxas runs on the manifest's kernels
     * wherever einc_generate builds them (over a minute more here for this many kernels) */
    char *args[] = {argv[2], "-arch=sm_90a", "-Werror", "all-warnings", "-ptx", path, "-o", obj,
                    NULL};
    if (posix_spawn(&pids[f], argv[2], NULL, NULL, args, environ) != 0) {
      fprintf(stderr, "cannot run %s\n", argv[2]);
      return 2;
    }
  }
  for (int f = 0; f < N_FILES; f++) {
    int status = 0;
    waitpid(pids[f], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "FAIL nvcc on batch %d\n", f);
      n_failed++;
    }
  }
  printf("%s\n", n_failed ? "FAILED" : "PASSED: every kernel compiled");
  return n_failed ? 1 : 0;
}

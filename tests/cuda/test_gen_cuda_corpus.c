/*
 * Generated CUDA run on the conformance cases: every valid rearrange / reduce / repeat case (the
 * lines corpus_lines.py writes from the public corpus and from tests/core/random_cases.jsonl) is
 * emitted twice, with every length known and with only the rank known, into a few .cu files that
 * nvcc builds into shared objects in parallel; each kernel then runs on fresh random inputs of
 * the case's shape and dtype and is compared with the interpreter (copies to the bit, reductions
 * within float rounding). A case's own dtype decides the kernel's element type, so the corpus's
 * float64 cases go through the 8-byte paths; each case is also run in bfloat16 and float32 where
 * it holds floats, for the 2- and 4-byte pair tiles. Exits 77 without a CUDA device. Needs no
 * JSON library, so that it builds on a GPU machine with nothing but the CUDA toolkit.
 *
 * usage: test_gen_cuda_corpus NVCC WORK_DIR CASES.lines...
 */
#include <dlfcn.h>
#include <spawn.h>
#include <sys/wait.h>

#include "gen_batch.h"
#include "gen_test_util.h"

extern char **environ;

enum { N_FILES = 8, MAX_KERNELS = 16384 };

typedef int (*launcher_t)(const void *, const int64_t *, void *, cudaStream_t);

/* One emitted kernel: the case it came from, its spec (strings owned here) and its batch. */
typedef struct kernel {
  char id[64], name[24];
  char *pattern, *reduction;
  einc_op op;
  einc_dtype dt;
  einc_shape shape;
  einc_kwarg kw[EINC_GEN_MAX_KWARGS];
  char kw_names[EINC_GEN_MAX_KWARGS][32];
  int32_t n_kw;
  bool rank_only;
  int file;
} kernel;

static kernel *kernels;
static int n_kernels, failures, passed;
static einc_sbuf h[N_FILES], cu[N_FILES];

static einc_spec spec_of(kernel *k, einc_shape *shape) {
  for (int32_t i = 0; i < k->n_kw; i++)
    k->kw[i].name = k->kw_names[i];
  return (einc_spec){.op = k->op,
                     .pattern = k->pattern,
                     .pattern_len = strlen(k->pattern),
                     .reduction_name = k->reduction,
                     .dtype = k->dt,
                     .n_inputs = 1,
                     .inputs = shape,
                     .n_kwargs = k->n_kw,
                     .kwargs = k->kw};
}

/* Emit kernel `k` (bound, or with the dims unknown); false when the planner rejects it (a dtype
 * the case's reduction does not take, e.g. mean of integers). */
static bool emit(kernel *k) {
  einc_shape shape = k->shape;
  if (k->rank_only)
    for (int32_t d = 0; d < shape.rank; d++)
      shape.dims[d] = EINC_UNKNOWN;
  einc_spec spec = spec_of(k, &shape);
  einc_plan *plan = NULL;
  if (einc_plan_new(&spec, &plan, NULL) != EINC_OK) return false;
  snprintf(k->name, sizeof k->name, "k%d", n_kernels);
  k->file = n_kernels % N_FILES;
  int st =
      einc__emit_cuda_plan(&h[k->file], &cu[k->file], k->name, plan, spec.kwargs, spec.n_kwargs);
  einc_plan_delete(plan);
  if (st != EINC_OK) {
    printf("FAIL %s (%s): emit: %s\n", k->id, k->rank_only ? "rank only" : "bound",
           einc_status_message(st));
    failures++;
    return false;
  }
  return true;
}

/* Fields of one line, split on tabs (empty fields kept: a rank-0 shape is empty). */
static int split_tabs(char *line, char **field, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = 0;
  while (n < max) {
    field[n++] = line;
    char *tab = strchr(line, '\t');
    if (!tab) break;
    *tab = 0;
    line = tab + 1;
  }
  return n;
}

static int load(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[8192], *field[7];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (split_tabs(line, field, 7) != 7) continue;
    kernel base;
    memset(&base, 0, sizeof base);
    snprintf(base.id, sizeof base.id, "%.63s", field[0]);
    einc_dtype dt;
    if (!einc_op_from_name(field[1], &base.op) || !einc_dtype_from_name(field[2], &dt)) continue;
    for (char *s = field[4]; *s && base.shape.rank < EINC_MAX_RANK; s = strchr(s, ',') + 1) {
      base.shape.dims[base.shape.rank++] = strtoll(s, NULL, 10);
      if (!strchr(s, ',')) break;
    }
    if (strcmp(field[5], "-"))
      for (char *s = field[5]; s && base.n_kw < EINC_GEN_MAX_KWARGS;) {
        char *eq = strchr(s, '='), *comma = strchr(s, ',');
        if (!eq) break;
        snprintf(base.kw_names[base.n_kw], sizeof base.kw_names[0], "%.*s", (int)(eq - s), s);
        base.kw[base.n_kw++].value = strtoll(eq + 1, NULL, 10);
        s = comma ? comma + 1 : NULL;
      }
    base.pattern = strdup(field[6]);
    base.reduction = strcmp(field[3], "-") ? strdup(field[3]) : NULL;
    /* the case's dtype, and bfloat16 and float32 where it holds floats */
    einc_dtype dts[3] = {dt, EINC_BF16, EINC_F32};
    int n_dt = dt == EINC_F64 ? 3 : 1;
    for (int i = 0; i < n_dt; i++)
      for (int v = 0; v < 2 && n_kernels < MAX_KERNELS; v++) {
        kernel *k = &kernels[n_kernels];
        *k = base;
        k->dt = dts[i];
        k->rank_only = v == 1;
        if (emit(k)) n_kernels++;
      }
    n++;
  }
  fclose(f);
  return n;
}

/* nvcc every batch into a shared object, all at once. */
static bool build(const char *nvcc, const char *dir) {
  pid_t pids[N_FILES];
  for (int f = 0; f < N_FILES; f++) {
    char src[1024], so[1024];
    snprintf(src, sizeof src, "%s/gen_cuda_corpus%d.cu", dir, f);
    snprintf(so, sizeof so, "%s/gen_cuda_corpus%d.so", dir, f);
    einc__sbuf_printf(&h[f], "#ifdef __cplusplus\n}\n#endif\n");
    char *ht = einc__sbuf_finish(&h[f]), *ct = einc__sbuf_finish(&cu[f]);
    FILE *out = fopen(src, "w");
    if (!out || !ht || !ct) return false;
    fputs(ht, out);
    fputs(ct, out);
    fclose(out);
    einc_free(ht);
    einc_free(ct);
    char *args[] = {(char *)nvcc, "-O2",     "-arch=sm_90a", "-shared", "-Xcompiler",
                    "-fPIC",      "-cudart", "shared",       src,       "-o",
                    so,           NULL};
    if (posix_spawn(&pids[f], nvcc, NULL, NULL, args, environ) != 0) {
      printf("FAIL cannot run %s\n", nvcc);
      return false;
    }
  }
  bool ok = true;
  for (int f = 0; f < N_FILES; f++) {
    int status = 0;
    waitpid(pids[f], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      printf("FAIL nvcc on batch %d\n", f);
      ok = false;
    }
  }
  return ok;
}

/* Kernel `k` on a fresh random input of its case's shape, against the interpreter. */
static void run(kernel *k, launcher_t fn) {
  einc_spec spec = spec_of(k, &k->shape);
  einc_plan *plan = NULL;
  einc_error err;
  if (einc_plan_new(&spec, &plan, &err) != EINC_OK) {
    printf("FAIL %s: plan: %s\n", k->id, err.message);
    failures++;
    return;
  }
  int64_t n_in = 1, n_out = einc_plan_out_numel(plan, 0);
  for (int32_t d = 0; d < k->shape.rank; d++)
    n_in *= k->shape.dims[d];
  size_t isz = einc_dtype_size(plan->in_dtype), osz = einc_dtype_size(plan->out_dtype);
  char *hin = malloc((size_t)n_in * isz + 1), *want = malloc((size_t)n_out * osz + 1);
  char *got = malloc((size_t)n_out * osz + 1), *din, *dout;
  fill(k->dt, hin, n_in, k->reduction);
  const void *ins[1] = {hin};
  void *outs[1] = {want};
  CHECK_CUDA(cudaMalloc((void **)&din, (size_t)n_in * isz + 1));
  CHECK_CUDA(cudaMalloc((void **)&dout, (size_t)n_out * osz + 1));
  CHECK_CUDA(cudaMemcpy(din, hin, (size_t)n_in * isz, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dout, 0xa5, (size_t)n_out * osz + 1));
  const int64_t *dims = k->shape.dims;
  int st = fn(din, dims, dout, 0);
  CHECK_CUDA(cudaDeviceSynchronize());
  CHECK_CUDA(cudaMemcpy(got, dout, (size_t)n_out * osz, cudaMemcpyDeviceToHost));
  const char *what = k->rank_only ? "rank only" : "bound";
  if (einc_plan_execute(plan, ins, outs) != EINC_OK) {
    printf("FAIL %s %s (%s): interpreter\n", k->id, einc_dtype_name(k->dt), what);
    failures++;
  } else if (st != 0) {
    printf("FAIL %s %s (%s) \"%s\": status %d\n", k->id, einc_dtype_name(k->dt), what, k->pattern,
           st);
    failures++;
  } else {
    int64_t bad = 0;
    while (bad < n_out && same_element(plan, want, got, bad))
      bad++;
    if (bad < n_out) {
      printf("FAIL %s %s (%s) \"%s\": element %lld of %lld: got %g, want %g\n", k->id,
             einc_dtype_name(k->dt), what, k->pattern, (long long)bad, (long long)n_out,
             as_double(plan->out_dtype, got, bad), as_double(plan->out_dtype, want, bad));
      failures++;
    } else {
      passed++;
    }
  }
  cudaFree(din);
  cudaFree(dout);
  free(hin);
  free(want);
  free(got);
  einc_plan_delete(plan);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: test_gen_cuda_corpus NVCC WORK_DIR CASES.lines...\n");
    return 2;
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("no CUDA device: skipped\n");
    return EINC_TEST_SKIP;
  }
  einc_test_seed();
  kernels = calloc(MAX_KERNELS, sizeof *kernels);
  gen_batches_begin(h, cu, N_FILES);
  int n_cases = 0;
  for (int i = 3; i < argc; i++) {
    int n = load(argv[i]);
    if (n < 0) {
      fprintf(stderr, "cannot read %s\n", argv[i]);
      return 2;
    }
    n_cases += n;
  }
  printf("%d cases: %d kernels emitted\n", n_cases, n_kernels);
  fflush(stdout);
  if (!build(argv[1], argv[2])) {
    printf("0 passed, 1 failed\n");
    return 1;
  }
  void *lib[N_FILES];
  for (int f = 0; f < N_FILES; f++) {
    char so[1024];
    snprintf(so, sizeof so, "%s/gen_cuda_corpus%d.so", argv[2], f);
    if (!(lib[f] = dlopen(so, RTLD_NOW | RTLD_LOCAL))) {
      printf("FAIL dlopen: %s\n0 passed, 1 failed\n", dlerror());
      return 1;
    }
  }
  for (int i = 0; i < n_kernels; i++) {
    kernel *k = &kernels[i];
    launcher_t fn = (launcher_t)(uintptr_t)dlsym(lib[k->file], k->name);
    if (!fn) {
      printf("FAIL %s: no symbol %s\n", k->id, k->name);
      failures++;
      continue;
    }
    run(k, fn);
  }
  printf("%d passed, %d failed\n", passed, failures);
  return failures ? 1 : 0;
}

/*
 * Internal to einc: the build-time code generator. A manifest (manifest.c) lists named patterns;
 * each is compiled to a plan (plan.c) and handed to the emitters (emit_c.c, ...), which append C
 * text to a string builder; gen.c writes the builders out atomically and also compiles generated
 * C on the fly for `einc conformance --via c`.
 */
#ifndef EINC_GEN_H
#define EINC_GEN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "einc/einc.h"
#include "internal.h" /* einc_sbuf: emitters append to a string builder */

/* ---------------------------------------------------------------------------------------------
 * Manifest entries (manifest.c)
 * ------------------------------------------------------------------------------------------- */

#define EINC_GEN_MAX_NAME   96
#define EINC_GEN_MAX_KWARGS 16

enum {
  EINC_GEN_TARGET_C = 1u << 0,
  EINC_GEN_TARGET_CUDA = 1u << 1,
  EINC_GEN_TARGET_OPENCL = 1u << 2,
};

typedef struct einc__gen_entry {
  char name[EINC_GEN_MAX_NAME]; /* a C identifier: the generated function's name */
  einc_op op;
  char pattern[EINC_MAX_PATTERN];
  char reduction[16]; /* reduce only */
  einc_shape shape;   /* rank and dims; EINC_UNKNOWN dims are bound at run time */
  int32_t n_kwargs;
  char kw_names[EINC_GEN_MAX_KWARGS][32];
  int64_t kw_values[EINC_GEN_MAX_KWARGS]; /* EINC_UNKNOWN: a run-time argument */
  einc_dtype dtype;
  unsigned targets; /* EINC_GEN_TARGET_* bits */
  int32_t line;     /* where the entry starts in its manifest (1-based) */
} einc__gen_entry;

typedef struct einc__manifest {
  int32_t n_entries, cap;
  einc__gen_entry *entries;
} einc__manifest;

/* Parse manifest text and append its entries to `self`. On failure returns a negative status and
 * writes "FILE:LINE: message" into `err`. */
int einc__manifest_parse(einc__manifest *self, const char *path, const char *text, size_t len,
                         char *err, size_t err_len);
void einc__manifest_free(einc__manifest *self);
/* Append one entry in manifest syntax (used by `einc lint --fix` on C sources). */
void einc__manifest_format_entry(einc_sbuf *out, const einc__gen_entry *entry);
/* Build the einc_spec of an entry; `kwargs` must have room for EINC_GEN_MAX_KWARGS. */
void einc__gen_entry_spec(const einc__gen_entry *self, einc_spec *spec, einc_kwarg *kwargs);

/* ---------------------------------------------------------------------------------------------
 * What the C and CUDA emitters share (emit_bind.c)
 * ------------------------------------------------------------------------------------------- */

typedef struct einc__emit {
  einc_sbuf *h, *c;
  const char *name;
  const einc_plan *p;
  int32_t rank;
  /* gen-time knowledge per axis: lengths and contiguous in/out strides, EINC_UNKNOWN if not */
  int64_t len[EINC_MAX_AXES], is[EINC_MAX_AXES], os[EINC_MAX_AXES];
  char params[EINC_GEN_MAX_KWARGS * 48 + 1]; /* ", int64_t size_h" ... */
  char args[EINC_GEN_MAX_KWARGS * 40 + 1];   /* ", size_h" ... */
  const einc_kwarg *kwargs;
  int32_t n_kwargs;
  const char *ctx; /* how kernel code reaches the loop context: "c->" (default), "cx." */
} einc__emit;

/* One loop's length and strides: gen-time values (or EINC_UNKNOWN) and their C text (a literal,
 * or a read of the context). */
typedef struct einc__loopv {
  int64_t len, is, os;
  char elen[48], eis[48], eos[48];
} einc__loopv;

/* Fill `e` for a rearrange / reduce / repeat plan; EINC_EUNSUPPORTED for other plans. */
int einc__emit_setup(einc__emit *e, einc_sbuf *h, einc_sbuf *c, const char *name,
                     const einc_plan *plan, const einc_kwarg *kwargs, int32_t n_kwargs);
/* The header comment naming the pattern and the NAME_IN_RANK / NAME_OUT_RANK macros. */
void einc__emit_plan_comment(einc__emit *e);
/* a * b, or EINC_UNKNOWN when either is unknown or the product would not fit. */
int64_t einc__emit_mul(int64_t a, int64_t b);
const char *einc__emit_val(char *buf, size_t n, int64_t known, const char *fmt, int32_t i);
const char *einc__emit_raw_type(einc_dtype dt);   /* uint16_t, ...: moves bits */
const char *einc__emit_value_type(einc_dtype dt); /* float, ...: what reductions read */
void einc__emit_axis_knowledge(einc__emit *e);
int64_t einc__emit_loop_len(const einc__emit *e, const einc_loop *l);
const einc_kwarg *einc__emit_runtime_kwarg(const einc__emit *e, const char *name);
/* static inline int NAME__bind(in_shape, a, s, o, <sizes>): a: axis lengths, s / o: contiguous
 * input / output strides; checks the shape as einops does. */
void einc__emit_bind(einc__emit *e);
/* The bfloat16 / float16 conversions (round to nearest even, as the interpreter) that every
 * generated program carries, written once for C, CUDA and OpenCL C: `qual` starts each function
 * ("static inline", "__device__ inline", "inline"); `to_bits` and `from_bits` are the bodies of
 * the dialect's float <-> uint32_t bit casts (argument `f`, resp. `x`). uint16_t and uint32_t
 * must name unsigned types in the dialect. */
void einc__emit_half_conversions(einc_sbuf *out, const char *qual, const char *to_bits,
                                 const char *from_bits);
/* Declare a[], s[], o[] and call NAME__bind, returning its status on failure. */
void einc__emit_call_bind(einc__emit *e);
void einc__emit_group_len(einc__emit *e, einc_sbuf *c, int32_t j);
void einc__emit_out_shape_fn(einc__emit *e); /* NAME_out_shape */
void einc__emit_view_fn(einc__emit *e);      /* NAME_view (VIEW and BROADCAST plans) */
void einc__emit_loopv(const einc__emit *e, const einc_loop *l, const char *kind, int32_t j,
                      einc__loopv *v);
/* Fill the context's loop lengths and strides (kind "" or "R") from a[], s[], o[]. */
void einc__emit_fill_loops(einc__emit *e, const einc_loop *loops, int32_t n, const char *kind);
/* typedef struct NAME__ctx { in, out, L/IS/OS[n], RL/RIS/ROS[nr] for reductions }. */
void einc__emit_ctx_struct(einc__emit *e, int32_t n, int32_t nr);
/* Whether the plan's kernels are typed as reductions (T_IN / T_OUT): reductions, and any plan that
 * changes the dtype. For the latter e->p then points at `scratch`, a copy classed REDUCE, so that
 * the context carries T_IN / T_OUT. */
bool einc__emit_typed_as_reduce(einc__emit *e, einc_plan *scratch);
/* What every kernel section of the C and CUDA emitters starts with: the plan comment, the banner
 * naming `plan`'s class, the T (or T_IN / T_OUT) macros, the binder and the context struct. */
void einc__emit_kernel_head(einc__emit *e, const einc_plan *plan, bool reduce);

/* ---------------------------------------------------------------------------------------------
 * The C emitter (emit_c.c)
 * ------------------------------------------------------------------------------------------- */

/* The lines every generated C header starts with (the shared view type and status codes). */
void einc__emit_c_prelude_header(einc_sbuf *h);
/* The lines every generated C source starts with (includes, conversions, the thread helper). */
void einc__emit_c_prelude_source(einc_sbuf *c);

/*
 * Emit the functions of one plan (rearrange, reduce or repeat; its lengths may be unknown) into
 * header `h` and source `c`:
 *   int NAME(const void *in, const int64_t *in_shape, void *out, <run-time sizes>);
 *   int NAME_out_shape(const int64_t *in_shape, int64_t *out_shape, <run-time sizes>);
 *   int NAME_view(const void *in, const int64_t *in_shape, einc_gen_view *view, <sizes>);
 * (the last for VIEW and BROADCAST plans only). `kwargs` lists the run-time sizes' names in
 * argument order (those whose value is EINC_UNKNOWN). Returns EINC_EUNSUPPORTED for other ops.
 */
int einc__emit_c_plan(einc_sbuf *h, einc_sbuf *c, const char *name, const einc_plan *plan,
                      const einc_kwarg *kwargs, int32_t n_kwargs);

/* The reduction of one output element, shared with the OpenCL emitter (see emit_c.c). */
void einc__emit_reduce_body(einc_sbuf *c, const einc_plan *p, int32_t nr, const char *const *rlen,
                            const char *const *ris, const char *ptr_t, const char *base,
                            const char *dst, int ind);

/* ---------------------------------------------------------------------------------------------
 * The OpenCL C emitter (emit_opencl.c)
 * ------------------------------------------------------------------------------------------- */

/* The lines every generated OpenCL program starts with (types, conversions). */
void einc__emit_opencl_prelude(einc_sbuf *cl);
/* One kernel `NAME(__global const T *in, __global T *out)` for a bound rearrange / reduce /
 * repeat plan, run over einc_plan_out_numel(plan, 0) work-items (one per output element).
 * EINC_EUNSUPPORTED for other ops or lengths bound at run time. */
int einc__emit_opencl_plan(einc_sbuf *cl, const char *name, const einc_plan *plan);

/* ---------------------------------------------------------------------------------------------
 * The CUDA emitter (emit_cuda.c)
 * ------------------------------------------------------------------------------------------- */

/* The lines every generated CUDA header (.cuh) / source (.cu) starts with. */
void einc__emit_cuda_prelude_header(einc_sbuf *h);
void einc__emit_cuda_prelude_source(einc_sbuf *c);

/*
 * Emit the kernels and host functions of one plan (rearrange, reduce or repeat; lengths may be
 * unknown) into header `h` and source `c`:
 *   int NAME(const void *in, const int64_t *in_shape, void *out, <run-time sizes>,
 *            cudaStream_t stream);   (device pointers; launches on `stream`, does not wait)
 *   int NAME_out_shape(const int64_t *in_shape, int64_t *out_shape, <run-time sizes>);
 *   int NAME_view(const void *in, const int64_t *in_shape, einc_gen_view *view, <sizes>);
 * (the last for VIEW and BROADCAST plans only). Arguments as einc__emit_c_plan.
 */
int einc__emit_cuda_plan(einc_sbuf *h, einc_sbuf *c, const char *name, const einc_plan *plan,
                         const einc_kwarg *kwargs, int32_t n_kwargs);

/* ---------------------------------------------------------------------------------------------
 * Generation and on-the-fly compilation (gen.c)
 * ------------------------------------------------------------------------------------------- */

/* Compile every entry of `m` and emit header + source text for target `target`. `header_name`
 * is what the source #includes. On failure `err` names the entry and the error. */
int einc__gen_c(const einc__manifest *m, const char *header_name, einc_sbuf *h, einc_sbuf *c,
                char *err, size_t err_len);

/* The same for the CUDA target (`header_name` is the .cuh the .cu includes). */
int einc__gen_cuda(const einc__manifest *m, const char *header_name, einc_sbuf *h, einc_sbuf *c,
                   char *err, size_t err_len);

/* The OpenCL C program (one kernel per entry targeting opencl; every length must be known). */
int einc__gen_opencl(const einc__manifest *m, einc_sbuf *cl, char *err, size_t err_len);

/* Write `len` bytes to `path` atomically (temporary file in the same folder, then rename). */
int einc__write_file_atomic(const char *path, const char *data, size_t len);
/* Read a whole file (NUL-terminated); NULL on failure. */
char *einc__read_file(const char *path, size_t *len);

/*
 * Run bound plans through generated C (`einc conformance --via c`, tests/emit).
 * Each case gives a bound rearrange/reduce/repeat plan, its one contiguous input and a buffer for
 * its contiguous output (einc_plan_out_numel(plan, 0) elements of plan->out_dtype). All cases are
 * emitted into one C file, compiled with the system C compiler ($CC, else cc) into a shared object
 * cached under $TMPDIR/einc-via-c-UID/ by a hash of the source, loaded with dlopen and run. Views
 * are run through NAME_view and gathered through the returned strides, so the view's shape and
 * strides are what is tested. Each case's `status` receives the generated function's status
 * (EINC_EUNSUPPORTED for ops the C emitter does not handle). Returns a negative status when the
 * batch could not be built at all (compiler missing or failing: the message is in `err`).
 */
typedef struct einc__via_c_case {
  const einc_plan *plan;      /* bound: gives the output size and the view check */
  const einc_plan *emit_plan; /* the plan to emit (may have run-time lengths); NULL: `plan` */
  const int64_t *in_shape;    /* the shape passed to the generated code; NULL: plan's input */
  const void *in;
  void *out;
  int status;
} einc__via_c_case;

int einc__gen_run_c(einc__via_c_case *cases, int32_t n_cases, char *err, size_t err_len);

/* The conformance runner's executor (cli/conformance.h): one case through einc__gen_run_c. */
int einc__conformance_via_c(const einc_plan *plan, const void *const *ins, void *const *outs,
                            char *why, size_t why_size);

/* ---------------------------------------------------------------------------------------------
 * The libclang scanner's settings and --export-fixes (scan_clang.c, built with EINC_WITH_CLANG;
 * the scan itself is einc__lint_c_file in lint.h)
 * ------------------------------------------------------------------------------------------- */

/* Set what `einc lint` was given: the folder of compile_commands.json (-p DIR; NULL: the
 * nearest one above each file, or its build/), explicit compile flags (after `--`; they replace
 * the database) and the manifest fixes add entries to (NULL: $EINC_MANIFEST, else the nearest
 * einc_patterns.einc above the file, else one created beside it). */
void einc__lint_c_configure(const char *compdb_dir, int n_flags, const char *const *flags,
                            const char *manifest);

/* While set (not NULL), every call the scanner could fix adds its entry to `into` (deduplicated
 * by name): `einc gen --scan` compiles calls found in sources without editing them. */
void einc__lint_c_collect(einc__manifest *into);

/* YAML that clang-apply-replacements accepts: begin, the fixes of each file, end. */
struct einc__lint_file;
void einc__lint_c_export_begin(einc_sbuf *out, const char *main_file);
void einc__lint_c_export_file(einc_sbuf *out, const struct einc__lint_file *file);
void einc__lint_c_export_end(einc_sbuf *out);

#endif /* EINC_GEN_H */

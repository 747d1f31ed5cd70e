/*
 * einc — the einops pattern compiler.
 *
 * A pattern string ("... h d -> ... (h d)") plus an op, a reduction, axis sizes and (optionally)
 * the input shape is compiled into an einc_plan: a static stride transform over elementary axes.
 * Everything else in einc — the interpreter below, the C/CUDA/OpenCL emitters, the PyTorch and
 * numpy rewrites, the runtime's flatten — reads that plan.
 *
 * Conventions
 * - Shapes and strides are outermost-first (C order); strides count elements, not bytes.
 * - A size that is not known at compile time is EINC_UNKNOWN (-1). Such a size is bound at run
 *   time from the input shape; the plan records how (einc_axis.in_dim / in_divisor).
 * - Functions return an einc_status (0 = EINC_OK, negative on failure) and never exit or print.
 *   Compile errors fill an einc_error with the einops error kind and a byte span into the pattern.
 * - Objects returned through `**out` are owned by the caller and freed with their _delete
 *   function; _delete(NULL) is a no-op.
 */
#ifndef EINC_EINC_H
#define EINC_EINC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Section 1: status codes and error kinds
 * ------------------------------------------------------------------------------------------- */

/* X(NAME, value, message) — library status codes. */
#define EINC_STATUS_TABLE(X)                                                                       \
  X(OK, 0, "success")                                                                              \
  X(EPATTERN, -1, "invalid pattern")                                                               \
  X(ESHAPE, -2, "input shape does not match the pattern")                                          \
  X(EDTYPE, -3, "dtype not supported by this operation")                                           \
  X(EINVAL, -4, "invalid argument")                                                                \
  X(ENOMEM, -5, "out of memory")                                                                   \
  X(ELIMIT, -6, "size or count beyond what einc supports")                                         \
  X(EUNSUPPORTED, -7, "operation not supported on this path")

typedef enum einc_status {
#define EINC__STATUS_ENUM(name, value, msg) EINC_##name = value,
  EINC_STATUS_TABLE(EINC__STATUS_ENUM)
#undef EINC__STATUS_ENUM
} einc_status;

/* Human-readable message and name ("EINC_ESHAPE") of a status; never NULL. */
const char *einc_status_message(int status);
const char *einc_status_name(int status);

/*
 * X(NAME, key, stage) — every error einc reports for a pattern. `key` is the einops error kind
 * of the conformance corpus (spec §8) or, for checks einc makes that einops does not, einc's own
 * key. `stage` is the information needed to detect it (parse, pattern, ndim, shape, dtype).
 */
#define EINC_ERROR_TABLE(X)                                                                        \
  X(NONE, "none", "none")                                                                          \
  X(NO_ARROW, "no_arrow", "parse")                                                                 \
  X(MULTIPLE_ARROWS, "multiple_arrows", "parse")                                                   \
  X(STRAY_DOTS, "stray_dots", "parse")                                                             \
  X(BAD_ELLIPSIS_COUNT, "bad_ellipsis_count", "parse")                                             \
  X(UNKNOWN_CHAR, "unknown_char", "parse")                                                         \
  X(NESTED_PARENS, "nested_parens", "parse")                                                       \
  X(UNBALANCED_CLOSE_PAREN, "unbalanced_close_paren", "parse")                                     \
  X(UNBALANCED_OPEN_PAREN, "unbalanced_open_paren", "parse")                                       \
  X(DUPLICATE_AXIS, "duplicate_axis", "parse")                                                     \
  X(INVALID_IDENTIFIER, "invalid_identifier", "parse")                                             \
  X(UNDERSCORE_NAME, "underscore_name", "parse")                                                   \
  X(ANON_NONPOSITIVE, "anon_nonpositive", "parse")                                                 \
  X(PATTERN_TOO_LONG, "pattern_too_long", "parse")                                                 \
  X(TOO_MANY_AXES, "too_many_axes", "parse")                                                       \
  X(ANON_TOO_LARGE, "anon_too_large", "parse")                                                     \
  X(ELLIPSIS_RIGHT_ONLY, "ellipsis_right_only", "pattern")                                         \
  X(ELLIPSIS_PAREN_LEFT, "ellipsis_paren_left", "pattern")                                         \
  X(ANON_IN_REARRANGE, "anon_in_rearrange", "pattern")                                             \
  X(IDENTIFIERS_ONE_SIDE, "identifiers_one_side", "pattern")                                       \
  X(REPEAT_LEFT_ONLY, "repeat_left_only", "pattern")                                               \
  X(REPEAT_MISSING_SIZE, "repeat_missing_size", "pattern")                                         \
  X(REDUCE_RIGHT_ONLY, "reduce_right_only", "pattern")                                             \
  X(UNKNOWN_REDUCTION, "unknown_reduction", "pattern")                                             \
  X(INVALID_KWARG_NAME, "invalid_kwarg_name", "pattern")                                           \
  X(KWARG_UNUSED, "kwarg_unused", "pattern")                                                       \
  X(UNDERDETERMINED, "underdetermined", "pattern")                                                 \
  X(NDIM_MISMATCH, "ndim_mismatch", "ndim")                                                        \
  X(NDIM_TOO_SMALL, "ndim_too_small", "ndim")                                                      \
  X(LENGTH_MISMATCH, "length_mismatch", "shape")                                                   \
  X(NOT_DIVISIBLE, "not_divisible", "shape")                                                       \
  X(ZERO_LENGTH_KWARG, "zero_length_kwarg", "shape")                                               \
  X(NEGATIVE_LENGTH, "negative_length", "shape")                                                   \
  X(SIZE_OVERFLOW, "size_overflow", "shape")                                                       \
  X(MEAN_ON_NON_FLOAT, "mean_on_non_float", "dtype")                                               \
  X(EMPTY_MIN_MAX, "empty_reduction", "shape")                                                     \
  X(EINSUM_NO_ARROW, "einsum_no_arrow", "parse")                                                   \
  X(EINSUM_UNIT_AXIS, "einsum_unit_axis", "parse")                                                 \
  X(EINSUM_COMPOSITE_AXIS, "einsum_composite_axis", "parse")                                       \
  X(EINSUM_ANONYMOUS_AXIS, "einsum_anonymous_axis", "parse")                                       \
  X(EINSUM_TOO_MANY_AXES, "einsum_too_many_axes", "pattern")                                       \
  X(EINSUM_UNKNOWN_OUTPUT_AXIS, "einsum_unknown_output_axis", "pattern")                           \
  X(EINSUM_OPERAND_COUNT, "einsum_operand_count", "ndim")                                          \
  X(EINSUM_NDIM, "einsum_ndim", "ndim")                                                            \
  X(EINSUM_LENGTH_MISMATCH, "einsum_length_mismatch", "shape")                                     \
  X(PACK_DUPLICATE_AXIS, "pack_duplicate_axis", "parse")                                           \
  X(PACK_NO_STAR, "pack_no_star", "parse")                                                         \
  X(PACK_INVALID_AXIS_NAME, "pack_invalid_axis_name", "parse")                                     \
  X(PACK_TOO_FEW_DIMS, "pack_too_few_dims", "ndim")                                                \
  X(PACK_LENGTH_MISMATCH, "pack_length_mismatch", "shape")                                         \
  X(UNPACK_WRONG_NDIM, "unpack_wrong_ndim", "ndim")                                                \
  X(UNPACK_MULTIPLE_UNKNOWN, "unpack_multiple_unknown", "pattern")                                 \
  X(UNPACK_BAD_SPLIT, "unpack_bad_split", "shape")                                                 \
  X(PARSE_SHAPE_COMPOSITE, "parse_shape_composite", "parse")                                       \
  X(PARSE_SHAPE_NDIM, "parse_shape_ndim", "ndim")                                                  \
  X(PARSE_SHAPE_ANON_MISMATCH, "parse_shape_anon_mismatch", "shape")                               \
  X(PARSE_SHAPE_UNIT_MISMATCH, "parse_shape_unit_mismatch", "shape")                               \
  X(UNPACK_OVERLAP, "unpack_overlap", "shape")

typedef enum einc_error_kind {
#define EINC__ERROR_ENUM(name, key, stage) EINC_ERR_##name,
  EINC_ERROR_TABLE(EINC__ERROR_ENUM)
#undef EINC__ERROR_ENUM
      EINC_ERR__COUNT
} einc_error_kind;

/* A byte range [start, end) into the pattern string. */
typedef struct einc_span {
  uint32_t start;
  uint32_t end;
} einc_span;

/* A compile or bind error. `span` points into the pattern when `has_span`. */
typedef struct einc_error {
  einc_error_kind kind;
  bool has_span;
  einc_span span;
  char message[512];
} einc_error;

/* "not_divisible", "parse", ...; never NULL. */
const char *einc_error_key(einc_error_kind kind);
const char *einc_error_stage(einc_error_kind kind);

/* Every allocation of libeinc goes through these hooks (tests make the Nth one fail). Set them
 * before any other call, from one thread; NULL restores the C library's. */
typedef struct einc_allocator {
  void *(*malloc)(size_t size);
  void *(*calloc)(size_t count, size_t size);
  void *(*realloc)(void *ptr, size_t size);
  void (*free)(void *ptr);
} einc_allocator;

void einc_set_allocator(const einc_allocator *allocator);
/* Free memory einc handed over (strings from einc_error_format / einc_plan_describe). Plain
 * free() is fine unless the hooks were replaced. */
void einc_free(void *ptr);

/* ---------------------------------------------------------------------------------------------
 * Section 2: what to compile
 * ------------------------------------------------------------------------------------------- */

#define EINC_UNKNOWN     (-1)
#define EINC_MAX_RANK    32   /* most dims of one tensor (numpy: 32) */
#define EINC_MAX_AXES    64   /* most elementary axes of one pattern */
#define EINC_MAX_INPUTS  32   /* most operands of einsum / pack */
#define EINC_MAX_PATTERN 4096 /* longest pattern, in bytes */

typedef enum einc_op {
  EINC_OP_REARRANGE,
  EINC_OP_REDUCE,
  EINC_OP_REPEAT,
  EINC_OP_EINSUM,
  EINC_OP_PACK,
  EINC_OP_UNPACK,
  EINC_OP_PARSE_SHAPE, /* one side, `_` allowed: the lengths of the named dims */
} einc_op;

typedef enum einc_reduction {
  EINC_RED_NONE, /* rearrange, repeat */
  EINC_RED_SUM,
  EINC_RED_MEAN,
  EINC_RED_MAX,
  EINC_RED_MIN,
  EINC_RED_PROD,
  EINC_RED_ANY,
  EINC_RED_ALL,
} einc_reduction;

typedef enum einc_dtype {
  EINC_F64,
  EINC_F32,
  EINC_BF16,
  EINC_F16,
  EINC_I64,
  EINC_BOOL,
  EINC_DTYPE__COUNT
} einc_dtype;

/* "rearrange", "sum", "float32", ...; NULL for an out-of-range value. */
const char *einc_op_name(einc_op op);
const char *einc_reduction_name(einc_reduction r);
const char *einc_dtype_name(einc_dtype dt);
size_t einc_dtype_size(einc_dtype dt);
/* Parse a name; return false when it is not one (op names: rearrange, reduce, ...; dtype names:
 * float64, float32, bfloat16, float16, int64, bool). */
bool einc_op_from_name(const char *name, einc_op *out);
bool einc_dtype_from_name(const char *name, einc_dtype *out);

/* A keyword axis size (einops' **axes_lengths). `value` may be EINC_UNKNOWN: the size is bound at
 * run time (as a generated function's argument) but its name still counts as known for
 * inference. */
typedef struct einc_kwarg {
  const char *name;
  int64_t value;
} einc_kwarg;

/* One input's shape. rank EINC_UNKNOWN: not known (only pattern-stage checks run); a dim of
 * EINC_UNKNOWN: its length is bound at run time. */
typedef struct einc_shape {
  int32_t rank;
  int64_t dims[EINC_MAX_RANK];
} einc_shape;

typedef struct einc_spec {
  einc_op op;
  const char *pattern;
  size_t pattern_len; /* bytes; the pattern need not be NUL-terminated */
  const char
      *reduction_name; /* reduce: "sum", "mean", ... checked like einops; NULL: `reduction` */
  einc_reduction reduction;
  einc_dtype dtype; /* of the inputs; decides mean_on_non_float and the result dtype */
  int32_t n_inputs; /* einsum and pack: several; others: 1 */
  const einc_shape *inputs;
  int32_t n_kwargs;
  const einc_kwarg *kwargs; /* in call order: einops checks them in this order */
  int32_t n_packed;         /* unpack: packed_shapes */
  const einc_shape *packed; /* each entry's dims; -1 marks the one inferred piece */
} einc_spec;

/* ---------------------------------------------------------------------------------------------
 * Section 3: the parsed pattern (one side)
 * ------------------------------------------------------------------------------------------- */

typedef enum einc_item_kind {
  EINC_ITEM_GROUP,    /* a dim made of 0..n elementary axes in C order; () and 1 are empty */
  EINC_ITEM_ELLIPSIS, /* top-level ...: the remaining dims */
} einc_item_kind;

typedef enum einc_atom_kind {
  EINC_ATOM_NAMED,     /* an axis name */
  EINC_ATOM_ANONYMOUS, /* a number >= 2: its own axis of that length */
  EINC_ATOM_ELLIPSIS,  /* ... inside a group (right side only): the ellipsis dims, merged */
} einc_atom_kind;

typedef struct einc_atom {
  einc_atom_kind kind;
  const char *name; /* NUL-terminated; anonymous: the digits as written; ellipsis: "..." */
  int64_t value;    /* anonymous: its length */
  einc_span span;
} einc_atom;

typedef struct einc_item {
  einc_item_kind kind;
  int32_t n_atoms;
  const einc_atom *atoms;
  einc_span span;
} einc_item;

typedef struct einc_side {
  int32_t n_items;
  const einc_item *items;
  bool has_ellipsis;
  bool ellipsis_in_group;
  bool has_anonymous; /* a number >= 2 somewhere */
} einc_side;

/* ---------------------------------------------------------------------------------------------
 * Section 4: the plan — the static stride transform
 *
 * For rearrange / reduce / repeat the plan is, in the order einops checks and executes it:
 *   1. elementary axes: every axis of the left side in left order (the ellipsis expanded into
 *      one axis per dim it covers, named "…0", "…1", ...), then the new axes of repeat;
 *   2. the input decomposition: input dim k is the C-order merge of the axes with in_dim == k;
 *   3. the output composition: output dim j is the C-order merge of
 *      axes[out_axes[out_group_start[j] .. out_group_start[j+1])];
 *   4. reduced axes: those with role EINC_AXIS_REDUCED, reduced in left order;
 *   5. new axes: role EINC_AXIS_NEW, input stride 0.
 * A contiguous C-order input is assumed; in_stride gives each axis's stride in it. The loop nest
 * (`loops`, `red_loops`) is that map after coalescing: axes adjacent in the output whose input
 * strides fuse (stride[i] == stride[i+1] * length[i+1]) become one loop and length-1 axes
 * vanish, so a plan has the fewest loops possible.
 *
 * Classes: VIEW — output is a strided view of the input (`view_strides`), no data moves;
 * COPY — a permutation that must move data; REDUCE; BROADCAST — a view with stride-0 axes;
 * REPEAT — new axes merged into groups, materialised; EINSUM; PACK; UNPACK; PARSE_SHAPE (its
 * result is `axes`: one per named dim, with the dim's length, in pattern order).
 * ------------------------------------------------------------------------------------------- */

typedef enum einc_plan_class {
  EINC_PLAN_VIEW,
  EINC_PLAN_COPY,
  EINC_PLAN_REDUCE,
  EINC_PLAN_BROADCAST,
  EINC_PLAN_REPEAT,
  EINC_PLAN_EINSUM,
  EINC_PLAN_PACK,
  EINC_PLAN_UNPACK,
  EINC_PLAN_PARSE_SHAPE,
} einc_plan_class;

const char *einc_plan_class_name(einc_plan_class c); /* "view", "copy", ... */

typedef enum einc_axis_role {
  EINC_AXIS_KEPT,
  EINC_AXIS_REDUCED,
  EINC_AXIS_NEW,
} einc_axis_role;

typedef struct einc_axis {
  const char *name; /* "h"; anonymous: "2"; ellipsis dim i: "…i" (UTF-8 U+2026) */
  einc_axis_role role;
  int64_t length;      /* EINC_UNKNOWN when bound at run time */
  int32_t in_dim;      /* input dim the axis is split from; -1 for a new axis */
  int64_t in_divisor;  /* unknown length = in_shape[in_dim] / in_divisor (product of the known
                          lengths of the other axes of its left group; 1 if none) */
  int64_t in_stride;   /* stride in a contiguous input; 0 for new axes; EINC_UNKNOWN if it
                          depends on unknown lengths */
  int32_t out_pos;     /* index into out_axes, -1 when reduced */
  int64_t kwarg_value; /* the size given as a keyword, EINC_UNKNOWN if none or run-time */
  bool from_kwarg;     /* its size was named as a keyword (maybe bound at run time) */
  bool from_ellipsis;  /* one of the ellipsis dims */
} einc_axis;

/* One loop of the coalesced nest. Lengths and strides are EINC_UNKNOWN when they depend on
 * run-time sizes; `axes` lists the elementary axes fused into the loop (outermost first). */
typedef struct einc_loop {
  int64_t length;
  int64_t in_stride;
  int64_t out_stride;
  int32_t n_axes;
  int32_t axes[EINC_MAX_AXES];
} einc_loop;

/* einsum: one operand's elementary axes as indices into `einsum_names` (-1 marks where the
 * ellipsis sits). */
typedef struct einc_einsum_operand {
  int32_t n_terms;
  int32_t terms[EINC_MAX_AXES];
  int32_t ellipsis_at; /* index into terms where ... was, or -1 */
} einc_einsum_operand;

typedef struct einc_plan {
  einc_op op;
  einc_reduction reduction; /* EINC_RED_NONE when nothing is reduced */
  einc_plan_class klass;
  einc_dtype in_dtype, out_dtype;

  const char *pattern; /* a NUL-terminated copy */
  size_t pattern_len;  /* its bytes (a NUL inside is an error, not an end) */
  einc_side left, right;

  /* Inputs (several for einsum and pack). in_shape has EINC_UNKNOWN entries for run-time dims. */
  int32_t n_inputs;
  einc_shape inputs[EINC_MAX_INPUTS];

  /* rearrange / reduce / repeat: the stride transform (Section 4 above). */
  int32_t n_axes;
  einc_axis axes[EINC_MAX_AXES];
  int32_t n_out_axes;
  int32_t out_axes[EINC_MAX_AXES];
  int32_t out_rank;
  int32_t out_group_start[EINC_MAX_RANK + 1];
  int64_t out_shape[EINC_MAX_RANK]; /* EINC_UNKNOWN where run-time */
  int32_t n_reduced;
  int32_t reduced[EINC_MAX_AXES]; /* axis indices, left order */
  bool has_ellipsis_rank;         /* the rank was known, so the ellipsis is expanded */
  int32_t ellipsis_dims;          /* how many dims the ellipsis covers */

  /* VIEW and BROADCAST: output strides over the input, in elements. */
  int64_t view_strides[EINC_MAX_RANK];

  /* The coalesced loop nest: kept/new axes (output order) and reduced axes (left order). */
  int32_t n_loops;
  einc_loop loops[EINC_MAX_AXES];
  int32_t n_red_loops;
  einc_loop red_loops[EINC_MAX_AXES];

  /* einsum */
  int32_t n_einsum_names;
  const char *einsum_names[52]; /* distinct names in order of first appearance; letter = a..zA..Z */
  int32_t n_operands;
  einc_einsum_operand operands[EINC_MAX_INPUTS];
  einc_einsum_operand einsum_out;
  char einsum_compact[EINC_MAX_PATTERN]; /* "abcd,ad->ac", what einops hands to the backend */
  int32_t einsum_ellipsis_rank;          /* broadcast rank of the ellipsis dims */
  int64_t einsum_ellipsis_shape[EINC_MAX_RANK];
  int64_t einsum_lengths[52]; /* length of each named axis */

  /* pack / unpack: dims before and after the star. */
  int32_t n_before, n_after;
  int32_t n_packed;
  einc_shape packed[EINC_MAX_INPUTS];     /* unpack: requested shapes with -1 resolved */
  int64_t packed_offset[EINC_MAX_INPUTS]; /* unpack: start of each piece along the packed dim */
  int64_t packed_len[EINC_MAX_INPUTS];    /* unpack: elements of each piece along it */
  int32_t n_outputs;                      /* unpack: one per packed shape; otherwise 1 */
  einc_shape outputs[EINC_MAX_INPUTS];

  /* Warnings einops would give (keyword names, `axis`), one per line; empty when none. */
  char warnings[256];
} einc_plan;

/*
 * Compile `spec` into a plan. Runs every einops check in einops' order, as far as the given
 * information reaches: with no rank only parse and pattern checks; with a rank the ndim checks;
 * with every dim known the shape checks. On failure returns a negative status, sets *out to
 * NULL, and fills `err` (may be NULL) with the error kind, a span into the pattern where there is
 * one, and a message.
 */
int einc_plan_new(const einc_spec *spec, einc_plan **out, einc_error *err);
void einc_plan_delete(einc_plan *self);

/* True when every length in the plan is known (the interpreter needs this). */
bool einc_plan_is_bound(const einc_plan *self);

/* Number of elements of output `i` (unpack: piece i; others: i = 0); -1 if not bound. */
int64_t einc_plan_out_numel(const einc_plan *self, int32_t i);

/* ---------------------------------------------------------------------------------------------
 * Section 5: the interpreter — the reference executor
 *
 * Runs a bound plan on contiguous C-order host buffers. Element types as einc_dtype; the output
 * dtype is plan->out_dtype (any/all give bool, sum/prod of bool give int64, others keep the input
 * dtype). Reductions run over the reduced axes in left order, accumulating in float64 (int64 for
 * integer sum/prod), so results are reproducible to the bit. bfloat16/float16 are converted with
 * round-to-nearest-even.
 * ------------------------------------------------------------------------------------------- */

/* `ins[k]` is input k; `outs[i]` output i (unpack has n_outputs outputs). */
int einc_plan_execute(const einc_plan *self, const void *const *ins, void *const *outs);

/* ---------------------------------------------------------------------------------------------
 * Section 6: text output
 * ------------------------------------------------------------------------------------------- */

/* Format an error as einc's CLI does:
 *   error[not_divisible]: Shape mismatch, can't divide axis of length 7 in chunks of 2
 *     |  (h d) -> h d
 *     |   ^
 * Returns a string the caller frees (einc_free), or NULL on allocation failure. */
char *einc_error_format(const einc_error *err, const char *pattern, size_t pattern_len);

/* The plan as `einc explain` prints it (axes, decomposition, loops, class, strides); the caller
 * frees it (einc_free); NULL on allocation failure. */
char *einc_plan_describe(const einc_plan *self);

#ifdef __cplusplus
}
#endif
#endif /* EINC_EINC_H */

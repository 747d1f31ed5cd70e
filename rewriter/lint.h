/*
 * lint.h — the linter's shared data: findings, fixes, edits, output formats.
 *
 * A scanner (Python on tree-sitter, C/C++/CUDA on libclang) reads one source file into an
 * einc__lint_file: its findings (each with an optional fix) and the byte-range edits the fixes
 * make. The driver (cli/lint.c) applies the edits (rewrite.c) and prints the findings in one of
 * the formats of diag.c. Everything a file owns is allocated from the file's arena and goes with
 * einc__lint_file_clear().
 */
#ifndef EINC_LINT_H
#define EINC_LINT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "einc/einc.h"
#include "internal.h"

/* ---------------------------------------------------------------------------------------------
 * Section 1: text helpers (diag.c); strings are built in einc_sbuf (internal.h)
 * ------------------------------------------------------------------------------------------- */

void einc__lint_putc(einc_sbuf *self, char c);
/* A JSON (and Python) string literal, quotes included. */
void einc__lint_json_str(einc_sbuf *self, const char *s, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Section 2: findings, fixes and edits
 * ------------------------------------------------------------------------------------------- */

/* X(CODE, name, summary) — every finding the linter reports. Codes are stable: new ones are
 * appended, none is renumbered. EIN0xx: a pattern parsed at run time; EIN1xx: a pattern that
 * einops rejects; EIN2xx: a pattern (or argument) that is not a literal, never fixed. */
#define EINC_LINT_CODE_TABLE(X)                                                                    \
  X(EIN001, "runtime-rearrange", "einops.rearrange parses its pattern at run time")                \
  X(EIN002, "runtime-reduce", "einops.reduce parses its pattern at run time")                      \
  X(EIN003, "runtime-repeat", "einops.repeat parses its pattern at run time")                      \
  X(EIN004, "runtime-einsum", "einops.einsum parses its pattern at run time")                      \
  X(EIN005, "runtime-pack", "einops.pack parses its pattern at run time")                          \
  X(EIN006, "runtime-unpack", "einops.unpack parses its pattern at run time")                      \
  X(EIN007, "runtime-parse-shape", "einops.parse_shape parses its pattern at run time")            \
  X(EIN010, "layer-rearrange", "an einops Rearrange layer parses its pattern")                     \
  X(EIN011, "layer-reduce", "an einops Reduce layer parses its pattern")                           \
  X(EIN012, "layer-einmix", "an einops EinMix layer parses its pattern")                           \
  X(EIN101, "invalid-pattern-syntax", "the pattern does not parse (einops raises)")                \
  X(EIN102, "invalid-pattern", "einops rejects the pattern for this call")                         \
  X(EIN201, "non-literal-pattern", "the pattern is not a string literal")                          \
  X(EIN202, "fstring-pattern", "the pattern is an f-string")                                       \
  X(EIN203, "non-literal-reduction", "the reduction is not a string literal")                      \
  X(EIN204, "dynamic-axis-sizes", "axis sizes are passed as **kwargs")                             \
  X(EIN900, "syntax-error", "the file has a syntax error; calls inside it are not fixed")

typedef enum einc_lint_code {
#define EINC__LINT_CODE_ENUM(code, name, summary) EINC_LINT_##code,
  EINC_LINT_CODE_TABLE(EINC__LINT_CODE_ENUM)
#undef EINC__LINT_CODE_ENUM
      EINC_LINT__COUNT
} einc_lint_code;

const char *einc__lint_code_id(einc_lint_code code);      /* "EIN001" */
const char *einc__lint_code_name(einc_lint_code code);    /* "runtime-rearrange" */
const char *einc__lint_code_summary(einc_lint_code code); /* one line */

typedef enum einc_fix_safety {
  EINC_FIX_SAFE,   /* same values, shape and dtype as einops for every input einops accepts */
  EINC_FIX_UNSAFE, /* needs --unsafe-fixes */
} einc_fix_safety;

/* Replace bytes [start, end) of the source with `text`. Insertions have start == end. */
typedef struct einc__edit {
  uint32_t start, end;
  const char *text;
} einc__edit;

/* A position in the source: 1-based line, 1-based column in Unicode code points. */
typedef struct einc__pos {
  uint32_t line, column;
} einc__pos;

typedef struct einc__finding {
  einc_lint_code code;
  const char *message;
  uint32_t start, end; /* byte range the finding points at */
  einc__pos begin_pos, end_pos;
  const char *op;        /* "rearrange", "Rearrange", ... */
  const char *pattern;   /* the literal's value, NULL when not a literal */
  const char *reduction; /* source text, NULL when none */
  int32_t n_sizes;
  const char **size_names;   /* keyword axis sizes, in call order */
  const char **size_sources; /* their values as source text */
  /* The fix: edits[0] replaces the call; further edits add the comment and drop imports. */
  bool has_fix;
  einc_fix_safety safety;
  const char *replacement;
  const char *fix_note; /* which einops checks the fix drops; NULL when none */
  int32_t n_edits;
  einc__edit *edits;
  bool fixed;               /* the fix was applied */
  const char *needs_import; /* "import torch": the fix adds it when the file lacks it */
} einc__finding;

/* One file's scan. `src` stays valid until the file is cleared. */
typedef struct einc__lint_file {
  const char *path;
  char *src; /* the text, without a UTF-8 byte order mark (`bom`), which only the writes add */
  size_t len;
  bool bom;
  const char *error; /* a per-file error ("not UTF-8 ..."); the file is then not linted */
  einc_arena *arena; /* made on first use */
  bool oom;
  int32_t n_findings, cap_findings;
  einc__finding *findings;
  /* Edits that belong to all of the file's applied fixes together and to none alone (an import
   * that several fixes empty): made with them by --fix and --diff, in no single fix's edits. */
  int32_t n_file_edits;
  einc__edit *file_edits;
  /* After fixes: the new text (NULL when unchanged) */
  char *fixed_src;
  size_t fixed_len;
  int32_t n_fixed;
  /* the last position computed, so positions of findings in file order cost one pass */
  uint32_t pos_off;
  einc__pos pos_at;
} einc__lint_file;

typedef enum einc_emit_target {
  EINC_EMIT_TORCH,
  EINC_EMIT_NUMPY,
} einc_emit_target;

typedef struct einc__lint_options {
  einc_emit_target target;
  bool fix, unsafe_fixes, diff;
  bool full_parse; /* parse whole files, not only the statements that mention einops */
  /* Codes or prefixes ("EIN0", "EIN101"); empty select means all. */
  int32_t n_select, n_ignore;
  const char **select, **ignore;
} einc__lint_options;

/* Zeroed memory, copies and formatted strings from the file's arena; NULL (and file->oom) when
 * out of memory. */
void *einc__lint_alloc(einc__lint_file *self, size_t n);
char *einc__lint_strndup(einc__lint_file *self, const char *s, size_t n);
char *einc__lint_strdup(einc__lint_file *self, const char *s);
char *einc__lint_printf(einc__lint_file *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
einc__finding *einc__lint_file_add(einc__lint_file *self, einc_lint_code code, uint32_t start,
                                   uint32_t end);
void einc__lint_file_clear(einc__lint_file *self);
/* 1-based line and code-point column of byte `off`. */
einc__pos einc__lint_pos(const char *src, size_t len, uint32_t off);
/* Whether `code` passes --select / --ignore. */
bool einc__lint_code_enabled(const einc__lint_options *opts, einc_lint_code code);

/* ---------------------------------------------------------------------------------------------
 * Section 3: output formats (diag.c)
 * ------------------------------------------------------------------------------------------- */

/* `path:line:col: CODE message`, the source line and a caret under the column, per finding. */
void einc__lint_format_text(einc_sbuf *out, const einc__lint_file *file, bool color);
/* One JSON object per finding; the caller writes the surrounding [ ] and commas: `*first`
 * says whether a comma is needed and is cleared. */
void einc__lint_format_json(einc_sbuf *out, const einc__lint_file *file, bool *first);
/* SARIF 2.1.0: open the log, add a file's results, close it. */
void einc__lint_sarif_begin(einc_sbuf *out);
void einc__lint_format_sarif(einc_sbuf *out, const einc__lint_file *file, bool *first);
void einc__lint_sarif_end(einc_sbuf *out);
/* A unified diff (3 lines of context) from `old` to `new_`; nothing when they are equal. */
void einc__lint_format_diff(einc_sbuf *out, const char *path, const char *old, size_t old_len,
                            const char *new_, size_t new_len);

/* ---------------------------------------------------------------------------------------------
 * Section 4: rewriting (rewrite.c)
 * ------------------------------------------------------------------------------------------- */

/* Sorts the edits and applies them to `src`. Returns EINC_EINVAL when two overlap, ENOMEM. */
int einc__rewrite_apply(const char *src, size_t len, einc__edit *edits, int32_t n_edits, char **out,
                        size_t *out_len);
/* Replaces `path` by `data` atomically: a temporary file in the same directory, written and
 * fsync'ed, given the old file's permissions, renamed over it. On failure the old file is
 * untouched; `why` (may be NULL) gets the failing step and errno text. */
int einc__rewrite_file(const char *path, const char *data, size_t len, char *why, size_t why_len);

/* ---------------------------------------------------------------------------------------------
 * Section 5: scanners
 * ------------------------------------------------------------------------------------------- */

/* Scans `file->src` (already read, UTF-8 checked) and adds its findings and fixes. Returns 0 or
 * a negative einc_status; a per-file problem goes to file->error. */
typedef int (*einc__lint_scan_fn)(einc__lint_file *file, const einc__lint_options *opts);

int einc__lint_python_file(einc__lint_file *file, const einc__lint_options *opts);
/* Frees the calling thread's parser; each thread that scanned calls it before it ends. */
void einc__lint_python_thread_end(void);
/* Provided by the libclang scanner when it is built (EINC_HAVE_CLANG_LINT). */
int einc__lint_c_file(einc__lint_file *file, const einc__lint_options *opts);

/* ---------------------------------------------------------------------------------------------
 * Section 6: the PyTorch / numpy emitter (emit_torch.c)
 * ------------------------------------------------------------------------------------------- */

/* What the emitted expression leaves out of einops' checks, and whether it is a safe fix. */
typedef struct einc__emit_info {
  einc_fix_safety safety;
  char dropped[160];    /* "rank, length-1" ... empty when nothing is dropped */
  char why_not[160];    /* when the emitter declines (EINC_EUNSUPPORTED): why */
  char unsafe_why[400]; /* when safety is EINC_FIX_UNSAFE: the inputs it differs on ("; ") */
} einc__emit_info;

/*
 * Writes one Python expression computing `plan` on inputs named `input_names[0..n_inputs)`:
 * PyTorch tensor methods / torch.* for EINC_EMIT_TORCH, numpy for EINC_EMIT_NUMPY (modules
 * named `torch` and `np`). Axis sizes given as keywords appear as `size_source[i]` for the
 * keyword `size_names[i]` (source text such as "h" or "self.heads", or a number).
 * `input_simple[i]` says that input i may be evaluated more than once (a plain name); numpy
 * expressions that need the input's shape are declined otherwise. NULL means all simple.
 * Returns EINC_OK and a string in *out (the caller frees it with einc_free),
 * EINC_EUNSUPPORTED when the plan has no native equivalent the emitter trusts (info->why_not
 * says why), or EINC_ENOMEM.
 */
int einc__emit_torch(const einc_plan *plan, einc_emit_target target, const char *const *input_names,
                     const bool *input_simple, int32_t n_sizes, const char *const *size_names,
                     const char *const *size_source, char **out, einc__emit_info *info);

#endif /* EINC_LINT_H */

/*
 * scan_python.c — finds einops calls in a Python file and turns them into findings and fixes.
 *
 * Stage order: tree-sitter parse -> the project's query (grammars/queries/python-einops.scm)
 * captures imports, calls and comments -> imports give the names bound to einops -> each call
 * whose callee resolves into einops is read (pattern literal, reduction, keyword axis sizes),
 * compiled into a plan, and handed to the emitter for a native replacement -> edits: the call,
 * a trailing comment keeping the pattern, and the einops import once nothing uses it.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

#include "lint.h"
#include "python_query.h" /* einc__python_query_src: the .scm text, embedded at build time */

const TSLanguage *tree_sitter_python(void);

enum { EINC__PY_MAX_ALIASES = 64, EINC__PY_MAX_ARGS = 40 };

/* Per-thread parser and query: TSParser and TSQueryCursor are not shareable. */
typedef struct einc__py_ctx {
  TSParser *parser;
  TSQuery *query;
  TSQueryCursor *cursor;
  uint32_t cap_import, cap_callee, cap_args, cap_call, cap_comment;
} einc__py_ctx;

static _Thread_local einc__py_ctx *einc__py_tls;

static einc__py_ctx *einc__py_ctx_get(void) {
  if (einc__py_tls) return einc__py_tls;
  einc__py_ctx *ctx = einc__calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->parser = ts_parser_new();
  if (!ctx->parser || !ts_parser_set_language(ctx->parser, tree_sitter_python())) goto fail_ctx;
  uint32_t err_off;
  TSQueryError err_type;
  ctx->query = ts_query_new(tree_sitter_python(), einc__python_query_src,
                            (uint32_t)strlen(einc__python_query_src), &err_off, &err_type);
  if (!ctx->query) goto fail_ctx;
  ctx->cursor = ts_query_cursor_new();
  if (!ctx->cursor) goto fail_ctx;
  uint32_t n = ts_query_capture_count(ctx->query);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len;
    const char *name = ts_query_capture_name_for_id(ctx->query, i, &len);
    if (!strcmp(name, "import")) ctx->cap_import = i;
    if (!strcmp(name, "callee")) ctx->cap_callee = i;
    if (!strcmp(name, "args")) ctx->cap_args = i;
    if (!strcmp(name, "call")) ctx->cap_call = i;
    if (!strcmp(name, "comment")) ctx->cap_comment = i;
  }
  einc__py_tls = ctx;
  return ctx;

fail_ctx:
  if (ctx->cursor) ts_query_cursor_delete(ctx->cursor);
  if (ctx->query) ts_query_delete(ctx->query);
  if (ctx->parser) ts_parser_delete(ctx->parser);
  einc__free(ctx);
  return NULL;
}

void einc__lint_python_thread_end(void) {
  einc__py_ctx *ctx = einc__py_tls;
  if (!ctx) return;
  ts_query_cursor_delete(ctx->cursor);
  ts_query_delete(ctx->query);
  ts_parser_delete(ctx->parser);
  einc__free(ctx);
  einc__py_tls = NULL;
}

/* ---- what a scan keeps ------------------------------------------------------------------- */

/* A name an import binds to something inside einops. */
typedef struct einc__py_alias {
  char local[64];  /* the name in this file */
  char target[96]; /* "einops", "einops.rearrange", "einops.layers.torch.Rearrange" */
  TSNode stmt;     /* the import statement */
  TSNode item;     /* the dotted_name / aliased_import naming it (null for `*`) */
  int32_t uses_fixed, uses_left;
  bool module_checked, module_rebinds; /* module level binds the name to something else */
  bool scope_cached, cached_shadowed;  /* the last call's innermost scope, and the answer */
  TSNode cached_scope;
} einc__py_alias;

#define EINC__PY_MAX_LIB_NAMES 16

/* What a file's module-level imports say about the array libraries a fix may name. */
typedef struct einc__py_arrays {
  bool has_torch, has_np; /* `import torch`, `import numpy as np` */
  /* torch (any of its modules), and another array library (numpy, jax, ...): torch fixes in a
   * file that only imports the others are likely on other arrays; numpy itself, an array
   * library other than numpy, and one whose arrays lack numpy's methods (torch, tensorflow,
   * paddle), for numpy fixes the same way */
  bool imports_torch, imports_other, imports_numpy, imports_non_numpy, imports_no_np_methods;
  /* the names module-level imports bind to torch, and to the other array libraries: their modules
   * or functions imported from them (`np`, `numpy`, `from numpy import zeros`), whose calls make
   * that library's arrays: `np.stack(...)` as the tensor is not a torch tensor, `torch.cat(...)`
   * not a numpy array */
  char torch_names[EINC__PY_MAX_LIB_NAMES][32], other_names[EINC__PY_MAX_LIB_NAMES][32];
  int n_torch_names, n_other_names;
} einc__py_arrays;

/* The names a scope assigns from an expression that visibly makes an array of one library
 * (`img = np.load(p)`, `x = t.cpu().numpy()`), with bit 1 for torch and bit 2 for the others. */
typedef struct einc__py_origin_name {
  uint32_t start, len; /* the name's bytes in the source */
  int mask;
} einc__py_origin_name;
/* Every assignment, whatever its right side, to one of those names: where its statement starts,
 * the block holding the statement (null when it is not a statement of its own) and the library
 * its right side comes from (0: none visibly). */
typedef struct einc__py_origin_set {
  int32_t name;
  uint32_t stmt_start;
  TSNode block;
  int origin;
} einc__py_origin_set;
typedef struct einc__py_origins {
  bool ready;
  TSNode scope;
  int32_t n, cap, n_sets, cap_sets;
  einc__py_origin_name *names;
  einc__py_origin_set *sets;
} einc__py_origins;

typedef struct einc__py_scan {
  einc__lint_file *file;
  const einc__lint_options *opts;
  const char *src;
  TSNode root;
  bool has_error;
  int32_t n_aliases;
  einc__py_alias aliases[EINC__PY_MAX_ALIASES];
  einc__py_arrays arrays; /* what the module-level imports say about torch and numpy */
  uint32_t last_star;  /* where the last `from M import *` of another module than einops starts */
  TSNode first_import; /* the first top-level import after `from __future__` ones */
  /* comments by line, for suppressions and to know where a trailing comment can go */
  int32_t n_comments, cap_comments;
  TSNode *comments;
  /* callee root identifiers that a fix removes */
  int32_t n_fixed_ids, cap_fixed_ids;
  uint32_t *fixed_ids;
  /* per finding: where its callee's first identifier starts (UINT32_MAX: not a call) */
  int32_t n_callee_ids;
  uint32_t *finding_callee_id;
  /* names assigned an array made visibly by one library, in the module and in the last function
   * looked at (einc__py_name_origin) */
  einc__py_origins module_origins, scope_origins;
} einc__py_scan;

static bool einc__node_is(TSNode n, const char *type) {
  return !strcmp(ts_node_type(n), type);
}

static size_t einc__node_len(TSNode n) {
  return ts_node_end_byte(n) - ts_node_start_byte(n);
}

static bool einc__node_text_eq(const einc__py_scan *s, TSNode n, const char *text) {
  size_t len = einc__node_len(n);
  return strlen(text) == len && !memcmp(s->src + ts_node_start_byte(n), text, len);
}

/* Copies a node's text into `out` (NUL-terminated); false when it does not fit. */
static bool einc__node_text(const einc__py_scan *s, TSNode n, char *out, size_t cap) {
  size_t len = einc__node_len(n);
  if (len + 1 > cap) return false;
  memcpy(out, s->src + ts_node_start_byte(n), len);
  out[len] = '\0';
  return true;
}

/* The f-string replacement field (`interpolation`) holding `n`, or a null node. An f-string holds
 * expressions only, so the search stops at the statement: tree-sitter finds a parent from the
 * root down, and climbing to the module costs as much as the file is long. */
static TSNode einc__py_interpolation(TSNode n) {
  for (TSNode p = ts_node_parent(n); !ts_node_is_null(p); p = ts_node_parent(p)) {
    if (strstr(ts_node_type(p), "statement") || einc__node_is(p, "block")) break;
    if (einc__node_is(p, "interpolation")) return p;
  }
  return (TSNode){0};
}

/* The quote character of the f-string whose replacement field holds `n` (0 when there is none):
 * before Python 3.12 a fix inside it must not use that character. */
static char einc__py_fstring_quote(const einc__py_scan *s, TSNode n) {
  TSNode field = einc__py_interpolation(n);
  TSNode str = ts_node_is_null(field) ? field : ts_node_parent(field);
  if (ts_node_is_null(str)) return 0;
  for (uint32_t i = ts_node_start_byte(str); i < ts_node_end_byte(str); i++) /* past the prefix */
    if (s->src[i] == '"' || s->src[i] == '\'') return s->src[i];
  return 0;
}

/* Whether `n` sits in an f-string replacement field with `=` (f"{expr=}"), which prints the
 * expression's source text: rewriting it changes the output. */
static bool einc__py_fstring_debug(const einc__py_scan *s, TSNode n) {
  TSNode field = einc__py_interpolation(n);
  TSNode ex = ts_node_is_null(field) ? field : ts_node_child_by_field_name(field, "expression", 10);
  if (ts_node_is_null(ex)) return false;
  uint32_t i = ts_node_end_byte(ex), end = ts_node_end_byte(field);
  while (i < end && (s->src[i] == ' ' || s->src[i] == '\t' || s->src[i] == '\n'))
    i++;
  return i < end && s->src[i] == '=';
}

static bool einc__py_in_error(const einc__py_scan *s, TSNode n) {
  if (ts_node_has_error(n)) return true;
  if (!s->has_error) return false;
  for (TSNode p = ts_node_parent(n); !ts_node_is_null(p); p = ts_node_parent(p))
    if (einc__node_is(p, "ERROR")) return true;
  return false;
}

/* ---- imports ----------------------------------------------------------------------------- */

static const char *const einc__py_einops_functions[] = {
    "rearrange", "reduce", "repeat", "einsum", "pack", "unpack", "parse_shape", "asnumpy",
};

static void einc__py_add_alias(einc__py_scan *s, const char *local, size_t local_len,
                               const char *target, TSNode stmt, TSNode item) {
  if (s->n_aliases == EINC__PY_MAX_ALIASES || local_len >= sizeof s->aliases[0].local ||
      strlen(target) >= sizeof s->aliases[0].target)
    return;
  einc__py_alias *a = &s->aliases[s->n_aliases++];
  memset(a, 0, sizeof *a);
  memcpy(a->local, local, local_len);
  strcpy(a->target, target);
  a->stmt = stmt;
  a->item = item;
}

static bool einc__py_is_einops_module(const char *dotted) {
  return !strncmp(dotted, "einops", 6) && (dotted[6] == '\0' || dotted[6] == '.');
}

// import_statement = "import" (dotted_name | aliased_import) ("," ...)*
// import_from_statement = "from" module "import" (names | "*")
static bool einc__py_is_scope(TSNode n);

/* The array libraries other than torch (keras counts as tensorflow: its tensors are the
 * backend's, tensorflow's by default), then OpenCV and imageio, whose functions return numpy
 * arrays: those count for where an array comes from, not as the file importing an array
 * library. */
static const char *const einc__py_libs[] = {"numpy",  "jax",   "tensorflow", "mlx",    "cupy",
                                            "paddle", "keras", "cv2",        "imageio"};
enum { EINC__PY_ARRAY_LIBS = 7 }; /* the first 7 */

/* Notes `nm` (`nl` bytes) as a name whose calls make the arrays of the library `item` names
 * (its first `head` bytes: "torch", "numpy", ...). */
static void einc__py_note_lib_name(einc__py_arrays *arr, const char *item, size_t head,
                                   const char *nm, size_t nl) {
  const char *const *libs = einc__py_libs;
  bool is_torch = head == 5 && !memcmp(item, "torch", 5);
  char(*names)[32] = is_torch ? arr->torch_names : arr->other_names;
  int *n = is_torch ? &arr->n_torch_names : &arr->n_other_names;
  bool array_lib = is_torch;
  for (size_t i = 0; i < sizeof einc__py_libs / sizeof *einc__py_libs; i++)
    array_lib |= strlen(libs[i]) == head && !memcmp(item, libs[i], head);
  if (array_lib && nl && nl < sizeof *names && *n < EINC__PY_MAX_LIB_NAMES) {
    memcpy(names[*n], nm, nl);
    names[(*n)++][nl] = 0;
  }
}

/* Notes what an import names, `len` bytes: an `import` item ("torch", "numpy as np", "jax.numpy
 * as jnp"; `binds`), or the module of a `from` statement, which binds no module name. Only the
 * exact items bind what a fix's `torch.` and `np.` need. */
static void einc__py_note_import(einc__py_arrays *arr, const char *item, size_t len, bool binds) {
  const char *const *others = einc__py_libs;
  size_t head = 0;
  while (head < len && item[head] != '.' && item[head] != ' ')
    head++;
  if (head == 5 && !memcmp(item, "torch", 5))
    arr->imports_torch = arr->imports_non_numpy = arr->imports_no_np_methods = true;
  if (head == 5 && !memcmp(item, "numpy", 5)) arr->imports_numpy = true;
  for (size_t i = 0; i < EINC__PY_ARRAY_LIBS; i++)
    if (strlen(others[i]) == head && !memcmp(item, others[i], head)) {
      arr->imports_other = true;
      arr->imports_non_numpy |= i > 0;
      arr->imports_no_np_methods |= !strcmp(others[i], "tensorflow") ||
                                    !strcmp(others[i], "paddle") || !strcmp(others[i], "keras");
    }
  if (binds) {
    /* `import numpy as np` binds `np`, `import jax.numpy` binds `jax` */
    const char *as = NULL;
    for (size_t i = 0; i + 4 <= len; i++)
      if (!memcmp(item + i, " as ", 4)) as = item + i + 4;
    const char *nm = as ? as : item;
    size_t nl = as ? len - (size_t)(as - item) : head;
    while (nl && *nm == ' ')
      nm++, nl--;
    einc__py_note_lib_name(arr, item, head, nm, nl);
  }
  if (binds && len == 5 && !memcmp(item, "torch", 5)) arr->has_torch = true;
  if (binds && len == 11 && !memcmp(item, "numpy as np", 11)) arr->has_np = true;
}

static bool einc__py_text_has(const char *p, const char *end, const char *what) {
  return p < end && memmem(p, (size_t)(end - p), what, strlen(what)) != NULL;
}

static void einc__py_read_import(einc__py_scan *s, TSNode stmt) {
  char module[96], name[96], alias[64], target[200];
  /* torch and numpy count only when imported for the whole module, not inside a function, and
   * when the import runs: not under `if TYPE_CHECKING:` (for type checkers only) */
  bool top = true;
  for (TSNode p = ts_node_parent(stmt); top && !ts_node_is_null(p); p = ts_node_parent(p)) {
    top = !einc__py_is_scope(p);
    if (einc__node_is(p, "if_statement")) {
      const TSNode cond = ts_node_child_by_field_name(p, "condition", 9);
      top &= ts_node_is_null(cond) ||
             !einc__py_text_has(s->src + ts_node_start_byte(cond), s->src + ts_node_end_byte(cond),
                                "TYPE_CHECKING");
    }
  }
  if (ts_node_is_null(s->first_import) && einc__node_is(ts_node_parent(stmt), "module") &&
      ts_node_start_point(stmt).column == 0 && !einc__node_is(stmt, "future_import_statement"))
    s->first_import = stmt;
  if (einc__node_is(stmt, "import_statement")) {
    uint32_t n = ts_node_named_child_count(stmt);
    for (uint32_t i = 0; i < n; i++) {
      TSNode item = ts_node_named_child(stmt, i);
      if (top)
        einc__py_note_import(&s->arrays, s->src + ts_node_start_byte(item), einc__node_len(item),
                             true);
      if (einc__node_is(item, "dotted_name")) {
        if (!einc__node_text(s, item, name, sizeof name) || !einc__py_is_einops_module(name))
          continue;
        /* `import einops.layers.torch` binds `einops` */
        einc__py_add_alias(s, "einops", 6, "einops", stmt, item);
      } else if (einc__node_is(item, "aliased_import")) {
        TSNode nm = ts_node_child_by_field_name(item, "name", 4);
        TSNode al = ts_node_child_by_field_name(item, "alias", 5);
        if (ts_node_is_null(nm) || ts_node_is_null(al) ||
            !einc__node_text(s, nm, name, sizeof name) || !einc__py_is_einops_module(name) ||
            !einc__node_text(s, al, alias, sizeof alias))
          continue;
        einc__py_add_alias(s, alias, strlen(alias), name, stmt, item);
      }
    }
    return;
  }
  TSNode mod = ts_node_child_by_field_name(stmt, "module_name", 11);
  for (uint32_t i = 0; top && i < ts_node_named_child_count(stmt); i++)
    if (einc__node_is(ts_node_named_child(stmt, i), "wildcard_import") &&
        (ts_node_is_null(mod) || !einc__node_text(s, mod, module, sizeof module) ||
         !einc__py_is_einops_module(module)) &&
        ts_node_start_byte(stmt) + 1 > s->last_star)
      s->last_star = ts_node_start_byte(stmt) + 1;
  if (!ts_node_is_null(mod) && top) {
    const char *m = s->src + ts_node_start_byte(mod);
    const size_t mlen = einc__node_len(mod);
    einc__py_note_import(&s->arrays, m, mlen, false);
    /* `from numpy import zeros as z`: calls of `z` make numpy arrays */
    size_t head = 0;
    while (head < mlen && m[head] != '.')
      head++;
    for (uint32_t i = 0; i < ts_node_named_child_count(stmt); i++) {
      TSNode item = ts_node_named_child(stmt, i), nm = item;
      if (ts_node_eq(item, mod)) continue;
      if (einc__node_is(item, "aliased_import")) nm = ts_node_child_by_field_name(item, "alias", 5);
      if (ts_node_is_null(nm) ||
          !einc__node_is(nm, einc__node_is(item, "aliased_import") ? "identifier" : "dotted_name"))
        continue;
      einc__py_note_lib_name(&s->arrays, m, head, s->src + ts_node_start_byte(nm),
                             einc__node_len(nm));
    }
  }
  if (ts_node_is_null(mod) || !einc__node_is(mod, "dotted_name") ||
      !einc__node_text(s, mod, module, sizeof module) || !einc__py_is_einops_module(module))
    return;
  uint32_t n = ts_node_named_child_count(stmt);
  for (uint32_t i = 0; i < n; i++) {
    TSNode item = ts_node_named_child(stmt, i);
    if (ts_node_eq(item, mod)) continue;
    if (einc__node_is(item, "wildcard_import")) {
      if (strcmp(module, "einops") != 0) continue;
      for (size_t k = 0; k < sizeof einc__py_einops_functions / sizeof(char *); k++) {
        snprintf(target, sizeof target, "einops.%s", einc__py_einops_functions[k]);
        einc__py_add_alias(s, einc__py_einops_functions[k], strlen(einc__py_einops_functions[k]),
                           target, stmt, (TSNode){0});
      }
    } else if (einc__node_is(item, "dotted_name")) {
      if (!einc__node_text(s, item, name, sizeof name)) continue;
      snprintf(target, sizeof target, "%s.%s", module, name);
      einc__py_add_alias(s, name, strlen(name), target, stmt, item);
    } else if (einc__node_is(item, "aliased_import")) {
      TSNode nm = ts_node_child_by_field_name(item, "name", 4);
      TSNode al = ts_node_child_by_field_name(item, "alias", 5);
      if (ts_node_is_null(nm) || ts_node_is_null(al) ||
          !einc__node_text(s, nm, name, sizeof name) ||
          !einc__node_text(s, al, alias, sizeof alias))
        continue;
      snprintf(target, sizeof target, "%s.%s", module, name);
      einc__py_add_alias(s, alias, strlen(alias), target, stmt, item);
    }
  }
}

/* The callee as a dotted name resolved through the imports: "einops.rearrange". Returns the
 * alias index or -1; `root_id` gets the start byte of the callee's first identifier. */
static int32_t einc__py_resolve(const einc__py_scan *s, TSNode callee, char *out, size_t cap,
                                uint32_t *root_id) {
  char parts[8][64];
  int n = 0;
  TSNode n_ = callee;
  while (einc__node_is(n_, "attribute")) {
    if (n == 7) return -1;
    TSNode attr = ts_node_child_by_field_name(n_, "attribute", 9);
    if (ts_node_is_null(attr) || !einc__node_text(s, attr, parts[n], sizeof parts[n])) return -1;
    n++;
    n_ = ts_node_child_by_field_name(n_, "object", 6);
    if (ts_node_is_null(n_)) return -1;
  }
  if (!einc__node_is(n_, "identifier")) return -1;
  char head[64];
  if (!einc__node_text(s, n_, head, sizeof head)) return -1;
  *root_id = ts_node_start_byte(n_);
  for (int32_t a = s->n_aliases - 1; a >= 0; a--) {
    if (strcmp(s->aliases[a].local, head) != 0) continue;
    size_t len = (size_t)snprintf(out, cap, "%s", s->aliases[a].target);
    for (int i = n - 1; i >= 0 && len < cap; i--)
      len += (size_t)snprintf(out + len, cap - len, ".%s", parts[i]);
    if (len >= cap) return -1;
    /* einops.einops.rearrange is the same function as einops.rearrange */
    if (!strncmp(out, "einops.einops.", 14)) memmove(out + 7, out + 14, strlen(out + 14) + 1);
    return a;
  }
  return -1;
}

/* ---- scopes: does a name at a call still mean the einops import? ------------------------- */

static bool einc__py_is_scope(TSNode n) {
  static const char *const scopes[] = {"function_definition", "lambda",
                                       "class_definition",    "list_comprehension",
                                       "set_comprehension",   "dictionary_comprehension",
                                       "generator_expression"};
  for (size_t i = 0; i < sizeof scopes / sizeof *scopes; i++)
    if (einc__node_is(n, scopes[i])) return true;
  return false;
}

static bool einc__py_is_field(TSNode parent, const char *field, TSNode child) {
  TSNode f = ts_node_child_by_field_name(parent, field, (uint32_t)strlen(field));
  return !ts_node_is_null(f) && ts_node_eq(f, child);
}

/* Whether identifier `id` is bound where it stands: an assignment, loop or `with`/`except`
 * target, a walrus, a parameter, a def or class name, or a name an import binds. */
static bool einc__py_is_binding(TSNode id) {
  TSNode child = id, p = ts_node_parent(id);
  /* targets nest: a, (b, *c) = ... */
  while (!ts_node_is_null(p) &&
         (einc__node_is(p, "pattern_list") || einc__node_is(p, "tuple_pattern") ||
          einc__node_is(p, "list_pattern") || einc__node_is(p, "list_splat_pattern") ||
          einc__node_is(p, "dictionary_splat_pattern") || einc__node_is(p, "tuple") ||
          einc__node_is(p, "list") || einc__node_is(p, "parenthesized_expression"))) {
    child = p;
    p = ts_node_parent(p);
  }
  if (ts_node_is_null(p)) return false;
  if (einc__node_is(p, "assignment") || einc__node_is(p, "augmented_assignment") ||
      einc__node_is(p, "for_statement") || einc__node_is(p, "for_in_clause"))
    return einc__py_is_field(p, "left", child);
  if (einc__node_is(p, "named_expression") || einc__node_is(p, "function_definition") ||
      einc__node_is(p, "class_definition") || einc__node_is(p, "default_parameter") ||
      einc__node_is(p, "typed_default_parameter"))
    return einc__py_is_field(p, "name", child);
  if (einc__node_is(p, "aliased_import") || einc__node_is(p, "except_clause"))
    return einc__py_is_field(p, "alias", child);
  if (einc__node_is(p, "as_pattern_target") || einc__node_is(p, "parameters") ||
      einc__node_is(p, "lambda_parameters") || einc__node_is(p, "typed_parameter"))
    return true;
  if (einc__node_is(p, "dotted_name")) { /* `import a.b` binds a; `from m import a` binds a */
    TSNode g = ts_node_parent(p);
    if (ts_node_is_null(g) || !ts_node_eq(ts_node_named_child(p, 0), id)) return false;
    if (einc__node_is(g, "import_statement")) return true;
    return einc__node_is(g, "import_from_statement") && !einc__py_is_field(g, "module_name", p);
  }
  return false;
}

/* What a binding of an einops name does to it: EINC__PY_BIND_EINOPS for the einops import
 * itself, EINC__PY_BIND_NONE for the fallbacks of `try: from einops import rearrange / except
 * ImportError: rearrange = None` (an assignment of None, or anything in an `except` clause),
 * EINC__PY_BIND_OTHER for the rest. */
typedef enum { EINC__PY_BIND_NONE, EINC__PY_BIND_EINOPS, EINC__PY_BIND_OTHER } einc__py_bind;

static einc__py_bind einc__py_binding_kind(const einc__py_scan *s, TSNode id, const char *name) {
  /* (the fallbacks are an einops import's; for `torch` / `np` every binding counts) */
  const bool module_name = !strcmp(name, "torch") || !strcmp(name, "np");
  for (TSNode child = id, p = ts_node_parent(id); !ts_node_is_null(p);
       child = p, p = ts_node_parent(p)) {
    if (einc__node_is(p, "import_statement") || einc__node_is(p, "import_from_statement")) {
      for (int32_t a = 0; a < s->n_aliases; a++)
        if (ts_node_eq(s->aliases[a].stmt, p) && !strcmp(s->aliases[a].local, name))
          return EINC__PY_BIND_EINOPS;
      /* the modules a fix names, imported under their usual names */
      if (einc__node_is(p, "import_statement") &&
          ((!strcmp(name, "torch") && einc__node_text_eq(s, child, "torch")) ||
           (!strcmp(name, "np") && einc__node_text_eq(s, child, "numpy as np"))))
        return EINC__PY_BIND_NONE;
      return EINC__PY_BIND_OTHER;
    }
    if (einc__node_is(p, "except_clause")) /* its body is a fallback; `as NAME` is not */
      return module_name || einc__py_is_field(p, "alias", child) ||
                     einc__node_is(child, "as_pattern")
                 ? EINC__PY_BIND_OTHER
                 : EINC__PY_BIND_NONE;
    if (einc__node_is(p, "assignment")) {
      TSNode right = ts_node_child_by_field_name(p, "right", 5);
      return !module_name && !ts_node_is_null(right) && einc__node_is(right, "none")
                 ? EINC__PY_BIND_NONE
                 : EINC__PY_BIND_OTHER;
    }
    if (einc__py_is_scope(p) || einc__node_is(p, "module")) return EINC__PY_BIND_OTHER;
  }
  return EINC__PY_BIND_OTHER;
}

/* Visits `root` and the nodes under it in source order; `visit` says whether to go into a node's
 * children (the cursor gives the node's field name in its parent). */
typedef bool (*einc__py_visit_fn)(void *ctx, TSTreeCursor *cur, TSNode n);
static void einc__py_walk(TSNode root, einc__py_visit_fn visit, void *ctx) {
  TSTreeCursor cur = ts_tree_cursor_new(root);
  for (bool down = true;;) {
    if (down && visit(ctx, &cur, ts_tree_cursor_current_node(&cur)) &&
        ts_tree_cursor_goto_first_child(&cur))
      continue;
    if (ts_tree_cursor_goto_next_sibling(&cur)) {
      down = true;
      continue;
    }
    if (!ts_tree_cursor_goto_parent(&cur) || ts_node_eq(ts_tree_cursor_current_node(&cur), root))
      break;
    down = false;
  }
  ts_tree_cursor_delete(&cur);
}

typedef struct einc__py_binds {
  const einc__py_scan *s;
  TSNode scope;
  const char *name;
  bool einops, other, declared_outer;
  /* Counting instead (a named pattern's scope): every binding counted, the right side of a plain
   * `NAME = value` kept, no kinds told apart. */
  bool count_only;
  int32_t count;
  TSNode value;
} einc__py_binds;

static bool einc__py_is_comprehension(TSNode n) {
  return einc__node_is(n, "list_comprehension") || einc__node_is(n, "set_comprehension") ||
         einc__node_is(n, "dictionary_comprehension") || einc__node_is(n, "generator_expression");
}

/* A walrus inside a comprehension (or one nested in it) binds in the scope around it (PEP 572);
 * function, lambda and class bodies inside it are their own scopes. */
static bool einc__py_visit_walrus(void *ctx, TSTreeCursor *cur, TSNode n) {
  (void)cur;
  einc__py_binds *b = ctx;
  if (einc__node_is(n, "named_expression")) {
    TSNode nm = ts_node_child_by_field_name(n, "name", 4);
    if (!ts_node_is_null(nm) && einc__node_text_eq(b->s, nm, b->name)) b->other = true, b->count++;
  }
  return !einc__node_is(n, "function_definition") && !einc__node_is(n, "lambda") &&
         !einc__node_is(n, "class_definition");
}

static bool einc__py_visit_binding(void *ctx, TSTreeCursor *cur, TSNode n) {
  einc__py_binds *b = ctx;
  if (!ts_node_eq(n, b->scope) && einc__py_is_scope(n)) { /* only its name binds here */
    TSNode nm = ts_node_child_by_field_name(n, "name", 4);
    if (!ts_node_is_null(nm) && einc__node_text_eq(b->s, nm, b->name)) b->other = true, b->count++;
    if (einc__py_is_comprehension(n)) einc__py_walk(n, einc__py_visit_walrus, b);
    return false;
  }
  if (!einc__node_is(n, "identifier") || !einc__node_text_eq(b->s, n, b->name)) return true;
  /* a callee, an attribute's object or a value is never a target: skip the parent lookups,
   * which tree-sitter makes from the root down */
  const char *field = ts_tree_cursor_current_field_name(cur);
  if (field && (!strcmp(field, "function") || !strcmp(field, "object") || !strcmp(field, "value") ||
                !strcmp(field, "right") || !strcmp(field, "argument")))
    return false;
  TSNode p = ts_node_parent(n);
  if (einc__node_is(p, "global_statement") || einc__node_is(p, "nonlocal_statement")) {
    b->declared_outer = true;
  } else if (einc__py_is_binding(n) && b->count_only) {
    b->count++;
    if (einc__node_is(p, "assignment") && einc__py_is_field(p, "left", n))
      b->value = ts_node_child_by_field_name(p, "right", 5);
  } else if (einc__py_is_binding(n)) {
    einc__py_bind k = einc__py_binding_kind(b->s, n, b->name);
    b->einops |= k == EINC__PY_BIND_EINOPS;
    b->other |= k == EINC__PY_BIND_OTHER;
  }
  return false;
}

/* What `scope` binds `name` to: in its parameters or body, not in the scopes nested in it
 * (whose def / class names, and comprehensions' walruses, do count). Another binding wins over
 * the einops import (a local `rearrange = ...` hides it in the whole function); a `global` /
 * `nonlocal` statement sends the name to an outer scope (EINC__PY_BIND_NONE). */
static einc__py_bind einc__py_scope_binds(const einc__py_scan *s, TSNode scope, const char *name) {
  einc__py_binds b = {.s = s, .scope = scope, .name = name};
  einc__py_walk(scope, einc__py_visit_binding, &b);
  if (b.declared_outer) return EINC__PY_BIND_NONE;
  return b.other ? EINC__PY_BIND_OTHER : b.einops ? EINC__PY_BIND_EINOPS : EINC__PY_BIND_NONE;
}

/* Whether `name` at `n` means something else than the einops import: bound otherwise in the
 * nearest enclosing function, lambda or comprehension that binds it at all (Python makes a name
 * local to the whole function), in the class body the call sits in directly, or anywhere at
 * module level besides the import. */
static bool einc__py_shadowed_from(einc__py_scan *s, TSNode scope, int32_t alias) {
  const char *name = s->aliases[alias].local;
  bool in_function = false;
  for (TSNode p = scope; !ts_node_is_null(p);) {
    if (einc__node_is(p, "module")) { /* the same for every call: walked once per name */
      if (!s->aliases[alias].module_checked) {
        s->aliases[alias].module_checked = true;
        s->aliases[alias].module_rebinds = einc__py_scope_binds(s, p, name) == EINC__PY_BIND_OTHER;
      }
      return s->aliases[alias].module_rebinds;
    }
    if (einc__py_is_scope(p) && !(einc__node_is(p, "class_definition") && in_function)) {
      einc__py_bind k = einc__py_scope_binds(s, p, name);
      if (k != EINC__PY_BIND_NONE) return k == EINC__PY_BIND_OTHER; /* the name is local here */
      in_function |= !einc__node_is(p, "class_definition");
    }
    /* A definition starting a line at column 0 is top-level: go straight to the module rather
     * than through tree-sitter's parent search, which is linear in the module's length. */
    bool top = (einc__node_is(p, "function_definition") || einc__node_is(p, "class_definition")) &&
               ts_node_start_point(p).column == 0;
    p = top ? s->root : ts_node_parent(p);
  }
  return false;
}

/* Whether `scope` (a call's innermost scope) or a function, lambda or comprehension around it
 * binds `name` (a module name a fix would use, `torch` or `np`) other than by importing it; a
 * class body counts for a call written directly in it (`torch = "cuda"` there hides the module
 * from the class body's own code, not from its methods). */
static bool einc__py_local_name(einc__py_scan *s, TSNode scope, const char *name) {
  for (TSNode p = scope; !ts_node_is_null(p); p = ts_node_parent(p)) {
    if (einc__node_is(p, "module")) return false;
    if (einc__py_is_scope(p) && (!einc__node_is(p, "class_definition") || ts_node_eq(p, scope)) &&
        einc__py_scope_binds(s, p, name) == EINC__PY_BIND_OTHER)
      return true;
    if (einc__py_is_scope(p) && ts_node_start_point(p).column == 0) return false; /* top level */
  }
  return false;
}

/* The innermost function, lambda, class, comprehension or the module around a call. (Each
 * parent lookup costs a search from the root: a call's scope is found once.) */
static TSNode einc__py_scope_of(TSNode call) {
  TSNode scope = ts_node_parent(call);
  while (!ts_node_is_null(scope) && !einc__py_is_scope(scope) && !einc__node_is(scope, "module"))
    scope = ts_node_parent(scope);
  return scope;
}

/* The answer depends only on the innermost scope around the call, so consecutive calls in one
 * function share it. */
static bool einc__py_shadowed(einc__py_scan *s, TSNode scope, int32_t alias) {
  einc__py_alias *a = &s->aliases[alias];
  if (!a->scope_cached || !ts_node_eq(a->cached_scope, scope)) {
    a->cached_scope = scope;
    a->cached_shadowed = einc__py_shadowed_from(s, scope, alias);
    a->scope_cached = true;
  }
  return a->cached_shadowed;
}

/* ---- string literals --------------------------------------------------------------------- */

/* A decoded string literal and, for each decoded byte, the source byte it came from. */
typedef struct einc__py_str {
  char *text;
  uint32_t *at; /* len + 1 entries */
  size_t len;
} einc__py_str;

typedef enum { EINC__LIT_OK, EINC__LIT_FSTRING, EINC__LIT_NOT_LITERAL } einc__lit_kind;

static bool einc__py_hex(char c, int *v) {
  if (c >= '0' && c <= '9')
    *v = c - '0';
  else if (c >= 'a' && c <= 'f')
    *v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F')
    *v = c - 'A' + 10;
  else
    return false;
  return true;
}

/* Appends one `string` node's value; handles prefixes r/u, rejects f and b. */
static einc__lit_kind einc__py_decode_one(einc__py_scan *s, TSNode str, einc_sbuf *text,
                                          einc_sbuf *at) {
  uint32_t n = ts_node_child_count(str);
  bool raw = false;
  for (uint32_t i = 0; i < n; i++) {
    TSNode c = ts_node_child(str, i);
    const char *type = ts_node_type(c);
    if (!strcmp(type, "string_start")) {
      for (uint32_t k = ts_node_start_byte(c); k < ts_node_end_byte(c); k++) {
        char ch = s->src[k];
        if (ch == 'f' || ch == 'F') return EINC__LIT_FSTRING;
        if (ch == 'b' || ch == 'B') return EINC__LIT_NOT_LITERAL;
        if (ch == 'r' || ch == 'R') raw = true;
      }
    } else if (!strcmp(type, "interpolation")) {
      return EINC__LIT_FSTRING;
    } else if (!strcmp(type, "string_content")) {
      uint32_t b = ts_node_start_byte(c), e = ts_node_end_byte(c);
      for (uint32_t k = b; k < e; k++) {
        char ch = s->src[k];
        uint32_t from = k;
        if (ch == '\\' && !raw && k + 1 < e) {
          char esc = s->src[++k];
          int h1, h2;
          switch (esc) {
          case 'n':
            ch = '\n';
            break;
          case 't':
            ch = '\t';
            break;
          case 'r':
            ch = '\r';
            break;
          case '\\':
            ch = '\\';
            break;
          case '\'':
            ch = '\'';
            break;
          case '"':
            ch = '"';
            break;
          case '\n':
            continue; /* line continuation inside the literal */
          case 'x':
            if (k + 2 < e && einc__py_hex(s->src[k + 1], &h1) && einc__py_hex(s->src[k + 2], &h2) &&
                h1 < 8) {
              ch = (char)(h1 * 16 + h2);
              k += 2;
              break;
            }
            return EINC__LIT_NOT_LITERAL;
          default:
            return EINC__LIT_NOT_LITERAL; /* \N{...}, \u...: not worth decoding */
          }
        }
        einc__lint_putc(text, ch);
        einc__sbuf_append(at, (const char *)&from, sizeof from);
      }
    }
  }
  return EINC__LIT_OK;
}

static einc__lit_kind einc__py_literal(einc__py_scan *s, TSNode node, einc__py_str *out) {
  einc_sbuf text = {0}, at = {0};
  einc__lit_kind kind = EINC__LIT_OK;
  /* A formatter wraps a long pattern in parentheses to split it over lines: `("b n (h d) "
   * "-> b h n d")` is still one literal. */
  while (einc__node_is(node, "parenthesized_expression") && ts_node_named_child_count(node) == 1)
    node = ts_node_named_child(node, 0);
  if (einc__node_is(node, "string")) {
    kind = einc__py_decode_one(s, node, &text, &at);
  } else if (einc__node_is(node, "concatenated_string")) {
    uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n && kind == EINC__LIT_OK; i++) {
      TSNode c = ts_node_named_child(node, i);
      if (einc__node_is(c, "comment")) continue;
      kind = einc__node_is(c, "string") ? einc__py_decode_one(s, c, &text, &at)
                                        : EINC__LIT_NOT_LITERAL;
    }
  } else {
    kind = EINC__LIT_NOT_LITERAL;
  }
  uint32_t end = ts_node_end_byte(node);
  einc__sbuf_append(&at, (const char *)&end, sizeof end);
  if (kind != EINC__LIT_OK || text.failed || at.failed) {
    einc__sbuf_free(&text);
    einc__sbuf_free(&at);
    return kind == EINC__LIT_OK ? EINC__LIT_NOT_LITERAL : kind;
  }
  out->len = text.len;
  out->text = einc__lint_strndup(s->file, text.data ? text.data : "", text.len);
  out->at = einc__lint_alloc(s->file, at.len);
  if (out->at) memcpy(out->at, at.data, at.len);
  einc__sbuf_free(&text);
  einc__sbuf_free(&at);
  return out->text && out->at ? EINC__LIT_OK : EINC__LIT_NOT_LITERAL;
}

/* ---- one call ---------------------------------------------------------------------------- */

typedef struct einc__py_call {
  TSNode call, callee, args;
  TSNode scope;       /* einc__py_scope_of(call) */
  const char *target; /* resolved dotted name */
  const char *op;     /* last component */
  int32_t alias;
  uint32_t root_id;
  int32_t n_pos;
  TSNode pos[EINC__PY_MAX_ARGS];
  int32_t n_kw;
  TSNode kw_name[EINC__PY_MAX_ARGS], kw_value[EINC__PY_MAX_ARGS];
  /* a keyword from a literal `**{"h": v}`: its name (kw_name is then the quoted key) */
  const char *kw_key[EINC__PY_MAX_ARGS];
  bool has_splat, has_dict_splat;
} einc__py_call;

static bool einc__py_kw_is(const einc__py_scan *s, const einc__py_call *c, int32_t i,
                           const char *name) {
  return c->kw_key[i] ? !strcmp(c->kw_key[i], name) : einc__node_text_eq(s, c->kw_name[i], name);
}

static TSNode einc__py_kw(const einc__py_scan *s, const einc__py_call *c, const char *name) {
  for (int32_t i = 0; i < c->n_kw; i++)
    if (einc__py_kw_is(s, c, i, name)) return c->kw_value[i];
  return (TSNode){0};
}

static einc__lit_kind einc__py_literal(einc__py_scan *s, TSNode node, einc__py_str *out);

/* `**{"h": 8, "w": w}`, a dict literal whose keys are all string literals naming identifiers:
 * its pairs as keywords (`parse_shape`'s fix leaves these in a call's arguments). False when the
 * splat is anything else. */
static bool einc__py_literal_dict_kwargs(einc__py_scan *s, einc__py_call *c, TSNode splat) {
  TSNode d = ts_node_named_child(splat, 0);
  if (ts_node_is_null(d) || !einc__node_is(d, "dictionary")) return false;
  const int32_t before = c->n_kw;
  uint32_t n = ts_node_named_child_count(d);
  for (uint32_t i = 0; i < n; i++) {
    TSNode pair = ts_node_named_child(d, i);
    if (einc__node_is(pair, "comment")) continue;
    TSNode key = ts_node_child_by_field_name(pair, "key", 3);
    TSNode value = ts_node_child_by_field_name(pair, "value", 5);
    einc__py_str k = {0};
    if (!einc__node_is(pair, "pair") || c->n_kw == EINC__PY_MAX_ARGS || ts_node_is_null(key) ||
        ts_node_is_null(value) || !einc__node_is(key, "string") ||
        einc__py_literal(s, key, &k) != EINC__LIT_OK || !k.len)
      goto not_literal;
    bool ident = !(k.text[0] >= '0' && k.text[0] <= '9');
    for (size_t j = 0; j < k.len; j++) {
      char ch = k.text[j];
      ident &= ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch >= '0' && ch <= '9');
    }
    /* a key given twice (Python raises for one also given as a keyword) */
    if (!ident || !ts_node_is_null(einc__py_kw(s, c, k.text))) goto not_literal;
    c->kw_name[c->n_kw] = key;
    c->kw_value[c->n_kw] = value;
    c->kw_key[c->n_kw++] = k.text;
  }
  return true;
not_literal:
  c->n_kw = before;
  return false;
}

static bool einc__py_read_args(einc__py_scan *s, einc__py_call *c) {
  uint32_t n = ts_node_named_child_count(c->args);
  for (uint32_t i = 0; i < n; i++) {
    TSNode a = ts_node_named_child(c->args, i);
    const char *type = ts_node_type(a);
    if (!strcmp(type, "comment")) continue;
    if (!strcmp(type, "keyword_argument")) {
      if (c->n_kw == EINC__PY_MAX_ARGS) return false;
      c->kw_key[c->n_kw] = NULL;
      c->kw_name[c->n_kw] = ts_node_child_by_field_name(a, "name", 4);
      c->kw_value[c->n_kw] = ts_node_child_by_field_name(a, "value", 5);
      if (ts_node_is_null(c->kw_name[c->n_kw]) || ts_node_is_null(c->kw_value[c->n_kw]))
        return false;
      c->n_kw++;
    } else if (!strcmp(type, "list_splat")) {
      c->has_splat = true;
    } else if (!strcmp(type, "dictionary_splat")) {
      if (!einc__py_literal_dict_kwargs(s, c, a)) c->has_dict_splat = true;
    } else {
      if (c->n_pos == EINC__PY_MAX_ARGS) return false;
      c->pos[c->n_pos++] = a;
    }
  }
  return true;
}

/* Expressions that can take a method call without parentheses (not an integer: `1.transpose`
 * reads as the number `1.` followed by a name). */
static bool einc__py_is_primary(TSNode n) {
  static const char *const primary[] = {
      "identifier",
      "attribute",
      "subscript",
      "call",
      "parenthesized_expression",
      "list",
      "tuple",
      "dictionary",
      "float",
      "string",
      "true",
      "false",
      "none",
      "list_comprehension",
  };
  for (size_t i = 0; i < sizeof primary / sizeof *primary; i++)
    if (einc__node_is(n, primary[i])) return true;
  return false;
}

/* Is the tensor argument a Python list or tuple, which einops stacks (or rejects) before it
 * rearranges? Literals and comprehensions, and what always builds a list from them: `list(...)`,
 * `sorted(...)`, `a + b` or `a * n` with a list operand, either branch of a conditional. A list
 * has no `.transpose` and an identity rearrange must not hand back the list, so such calls get no
 * fix. */
static bool einc__py_is_listish(const einc__py_scan *s, TSNode n) {
  if (ts_node_is_null(n)) return false;
  if (einc__node_is(n, "list") || einc__node_is(n, "tuple") ||
      einc__node_is(n, "list_comprehension"))
    return true;
  if (einc__node_is(n, "parenthesized_expression") && ts_node_named_child_count(n) == 1)
    return einc__py_is_listish(s, ts_node_named_child(n, 0));
  if (einc__node_is(n, "call")) {
    TSNode fn = ts_node_child_by_field_name(n, "function", 8);
    return !ts_node_is_null(fn) && einc__node_is(fn, "identifier") &&
           (einc__node_text_eq(s, fn, "list") || einc__node_text_eq(s, fn, "sorted"));
  }
  if (einc__node_is(n, "binary_operator")) {
    TSNode l = ts_node_child_by_field_name(n, "left", 4);
    TSNode r = ts_node_child_by_field_name(n, "right", 5);
    return einc__py_is_listish(s, l) || einc__py_is_listish(s, r);
  }
  if (einc__node_is(n, "conditional_expression")) {
    for (uint32_t i = 0; i < ts_node_named_child_count(n); i += 2)
      if (einc__py_is_listish(s, ts_node_named_child(n, i))) return true;
  }
  return false;
}

/* Methods whose result is a torch tensor, whatever they are called on: numpy's arrays have none
 * of them. */
static const char *const einc__py_torch_methods[] = {
    "cpu",  "cuda",     "detach", "contiguous", "float",
    "half", "bfloat16", "to",     "clone",      "requires_grad_"};

/* Which array library a module-level import binds identifier `id` to: 1 torch, 2 numpy, jax and
 * the others, 0 none. */
static int einc__py_module_origin(const einc__py_scan *s, TSNode id) {
  if (ts_node_is_null(id) || !einc__node_is(id, "identifier")) return 0;
  for (int i = 0; i < s->arrays.n_torch_names; i++)
    if (einc__node_text_eq(s, id, s->arrays.torch_names[i])) return 1;
  for (int i = 0; i < s->arrays.n_other_names; i++)
    if (einc__node_text_eq(s, id, s->arrays.other_names[i])) return 2;
  return 0;
}

/* Which array library visibly made the tensor argument: 1 when it is a call on a name a
 * module-level import binds to torch (`torch.cat(xs)[0]`) or the last conversion method applied
 * is torch's (`x.cpu()`, `x.float()`), 2 for numpy, jax and the others (`np.stack(xs).astype(
 * float)`, `t.cpu().numpy()`, or the call sits in `torch.from_numpy(...)`), else 0. */
static int einc__py_array_origin(const einc__py_scan *s, TSNode call, TSNode t) {
  bool called = false;
  for (int depth = 0; depth < 64 && !ts_node_is_null(t); depth++) {
    if (einc__node_is(t, "parenthesized_expression") && ts_node_named_child_count(t) == 1) {
      t = ts_node_named_child(t, 0);
    } else if (einc__node_is(t, "call")) {
      called = true;
      t = ts_node_child_by_field_name(t, "function", 8);
      /* A method call: going from the outside in, the first conversion method decides. (A
       * module's function is no method: `np.float(x)` is numpy's.) */
      const bool method = !ts_node_is_null(t) && einc__node_is(t, "attribute") &&
                          !einc__py_module_origin(s, ts_node_child_by_field_name(t, "object", 6));
      TSNode m = method ? ts_node_child_by_field_name(t, "attribute", 9) : (TSNode){0};
      if (!ts_node_is_null(m)) {
        if (einc__node_text_eq(s, m, "numpy")) return 2;
        for (size_t i = 0; i < sizeof einc__py_torch_methods / sizeof *einc__py_torch_methods; i++)
          if (einc__node_text_eq(s, m, einc__py_torch_methods[i])) return 1;
      }
    } else if (einc__node_is(t, "attribute")) {
      t = ts_node_child_by_field_name(t, "object", 6);
    } else if (einc__node_is(t, "subscript")) {
      t = ts_node_child_by_field_name(t, "value", 5);
    } else if (einc__node_is(t, "binary_operator")) { /* `np.zeros(n) * 2`: either operand's */
      const int left =
          einc__py_array_origin(s, (TSNode){0}, ts_node_child_by_field_name(t, "left", 4));
      if (left) return left;
      t = ts_node_child_by_field_name(t, "right", 5);
    } else if (einc__node_is(t, "unary_operator")) {
      t = ts_node_child_by_field_name(t, "argument", 8);
    } else {
      break;
    }
  }
  const int module = called ? einc__py_module_origin(s, t) : 0;
  if (module) return module;
  /* (tree-sitter 0.20 cannot take the type of a null node: each step checks first) */
  if (ts_node_is_null(call)) return 0;
  TSNode args = ts_node_parent(call);
  if (ts_node_is_null(args) || !einc__node_is(args, "argument_list")) return 0;
  TSNode outer = ts_node_parent(args);
  if (ts_node_is_null(outer) || !einc__node_is(outer, "call")) return 0;
  TSNode fn = ts_node_child_by_field_name(outer, "function", 8);
  if (!ts_node_is_null(fn) && einc__node_is(fn, "attribute")) {
    TSNode obj = ts_node_child_by_field_name(fn, "object", 6);
    TSNode attr = ts_node_child_by_field_name(fn, "attribute", 9);
    if (!ts_node_is_null(attr) && einc__node_text_eq(s, attr, "from_numpy") &&
        einc__py_module_origin(s, obj) == 1)
      return 2;
  }
  return 0;
}

typedef struct einc__py_origin_walk einc__py_origin_walk;
struct einc__py_origin_walk {
  einc__py_scan *s;
  TSNode scope;
  einc__py_origins *out;
  /* what the walk does with each pair its assignment statement `n` makes: NAME = EXPR */
  void (*record)(einc__py_origin_walk *w, TSNode n, TSNode left, TSNode right);
};

/* Functions, lambdas and classes: the scopes whose assignments are their own. (A name a
 * comprehension reads but does not bind is the enclosing function's.) */
static bool einc__py_is_body_scope(TSNode n) {
  return einc__node_is(n, "function_definition") || einc__node_is(n, "lambda") ||
         einc__node_is(n, "class_definition");
}

/* The index of `name` among the names `o` knows, or -1. */
static int32_t einc__py_origin_index(const einc__py_scan *s, const einc__py_origins *o,
                                     TSNode name) {
  const uint32_t start = ts_node_start_byte(name), len = (uint32_t)einc__node_len(name);
  for (int32_t i = 0; i < o->n; i++)
    if (o->names[i].len == len && !memcmp(s->src + o->names[i].start, s->src + start, len))
      return i;
  return -1;
}

/* For the walks over a scope: the pairs (NAME, EXPR) that `n` assigns if it is an assignment of
 * the scope itself, `NAME = EXPR` or `a, b = EXPR_A, EXPR_B` (up to 8 names): their count, else
 * 0. `*descend` says whether to look under `n`: nested functions, lambdas and classes are not
 * entered (their assignments are their own). */
enum { EINC__PY_MAX_PAIRS = 8 };
static int einc__py_scope_assignment(const einc__py_origin_walk *w, TSNode n, bool *descend,
                                     TSNode *left, TSNode *right) {
  *descend = ts_node_eq(n, w->scope) || !einc__py_is_body_scope(n);
  if (!*descend || !einc__node_is(n, "assignment")) return 0;
  const TSNode l = ts_node_child_by_field_name(n, "left", 4);
  const TSNode r = ts_node_child_by_field_name(n, "right", 5);
  if (ts_node_is_null(l) || ts_node_is_null(r)) return 0;
  if (einc__node_is(l, "identifier")) {
    left[0] = l, right[0] = r;
    return 1;
  }
  if (!(einc__node_is(l, "pattern_list") || einc__node_is(l, "tuple_pattern")) ||
      !(einc__node_is(r, "expression_list") || einc__node_is(r, "tuple")))
    return 0;
  const uint32_t nl = ts_node_named_child_count(l), nr = ts_node_named_child_count(r);
  if (nl != nr || nl > EINC__PY_MAX_PAIRS) return 0;
  int k = 0;
  for (uint32_t i = 0; i < nl; i++) {
    const TSNode a = ts_node_named_child(l, i);
    if (einc__node_is(a, "identifier")) left[k] = a, right[k++] = ts_node_named_child(r, i);
  }
  return k;
}

/* The name an expression takes its array from through indexing, attributes and method calls
 * (`img`, `img[None]`, `img.astype(f).T`), or a null node (`f(img)`, a literal, ...). */
static TSNode einc__py_chain_root(TSNode t) {
  for (int depth = 0; depth < 64 && !ts_node_is_null(t); depth++) {
    if (einc__node_is(t, "identifier")) return t;
    if (einc__node_is(t, "parenthesized_expression") && ts_node_named_child_count(t) == 1) {
      t = ts_node_named_child(t, 0);
    } else if (einc__node_is(t, "subscript")) {
      t = ts_node_child_by_field_name(t, "value", 5);
    } else if (einc__node_is(t, "attribute")) {
      t = ts_node_child_by_field_name(t, "object", 6);
    } else if (einc__node_is(t, "call")) {
      TSNode fn = ts_node_child_by_field_name(t, "function", 8);
      if (ts_node_is_null(fn) || !einc__node_is(fn, "attribute")) break; /* not a method */
      t = ts_node_child_by_field_name(fn, "object", 6);
    } else {
      break;
    }
  }
  return (TSNode){0};
}

/* The libraries an assignment's right side comes from: the one that visibly made it, else those of
 * the names it is taken from as far as the walk has seen them (`b = a`, `y = x + 1`, `c = a[0]`),
 * as bits (1 torch, 2 the others). */
static int einc__py_rhs_origin(const einc__py_origin_walk *w, TSNode right) {
  const int made = einc__py_array_origin(w->s, (TSNode){0}, right);
  if (made) return made;
  TSNode parts[2];
  parts[0] = right, parts[1] = (TSNode){0};
  if (einc__node_is(right, "binary_operator"))
    parts[0] = ts_node_child_by_field_name(right, "left", 4),
    parts[1] = ts_node_child_by_field_name(right, "right", 5);
  for (int k = 0; k < 2; k++) {
    const TSNode root = ts_node_is_null(parts[k]) ? parts[k] : einc__py_chain_root(parts[k]);
    const int32_t i = ts_node_is_null(root) ? -1 : einc__py_origin_index(w->s, w->out, root);
    if (i >= 0 && (w->out->names[i].mask & 3)) return w->out->names[i].mask & 3;
  }
  return 0;
}

/* Records a name the scope assigns an array visibly made by one library (the first walk). */
static void einc__py_origin_record(einc__py_origin_walk *w, TSNode n, TSNode left, TSNode right) {
  (void)n;
  const int origin = einc__py_rhs_origin(w, right);
  if (!origin) return;
  einc__py_origins *o = w->out;
  const int32_t known = einc__py_origin_index(w->s, o, left);
  if (known >= 0) {
    o->names[known].mask |= origin;
    return;
  }
  if (o->n == o->cap) {
    const int32_t cap = o->cap ? 2 * o->cap : 16;
    einc__py_origin_name *grown = einc__realloc(o->names, sizeof *grown * (size_t)cap);
    if (!grown) return; /* out of memory: this name is just not known */
    o->names = grown, o->cap = cap;
  }
  o->names[o->n++] =
      (einc__py_origin_name){ts_node_start_byte(left), (uint32_t)einc__node_len(left), origin};
}

/* Records an assignment statement `n` to a name the first walk found (the second walk). */
static void einc__py_origin_set_record(einc__py_origin_walk *w, TSNode n, TSNode left,
                                       TSNode right) {
  einc__py_origins *o = w->out;
  const int32_t name = einc__py_origin_index(w->s, o, left);
  if (name < 0) return;
  if (o->n_sets == o->cap_sets) {
    const int32_t cap = o->cap_sets ? 2 * o->cap_sets : 16;
    einc__py_origin_set *grown = einc__realloc(o->sets, sizeof *grown * (size_t)cap);
    if (!grown) { /* out of memory: the name falls back to every assignment counting */
      o->names[name].mask |= 4;
      return;
    }
    o->sets = grown, o->cap_sets = cap;
  }
  TSNode stmt = ts_node_parent(n), block;
  memset(&block, 0, sizeof block);
  if (!ts_node_is_null(stmt) && einc__node_is(stmt, "expression_statement")) {
    block = ts_node_parent(stmt);
  } else {
    stmt = n;
  }
  einc__py_origin_set *set = &o->sets[o->n_sets++];
  set->name = name;
  set->stmt_start = ts_node_start_byte(stmt);
  set->block = block;
  set->origin = einc__py_rhs_origin(w, right);
}

/* The walks over a scope's assignments: each pair goes to w->record. */
static bool einc__py_visit_assignments(void *ctx, TSTreeCursor *cur, TSNode n) {
  (void)cur;
  einc__py_origin_walk *w = ctx;
  bool descend;
  TSNode left[EINC__PY_MAX_PAIRS], right[EINC__PY_MAX_PAIRS];
  const int pairs = einc__py_scope_assignment(w, n, &descend, left, right);
  for (int k = 0; k < pairs; k++)
    w->record(w, n, left[k], right[k]);
  return pairs ? true : descend;
}

static bool einc__py_ident_char(char c) {
  return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (unsigned char)c >= 0x80;
}

/* Whether the text of `scope` could make the arrays that would change a fix for the target: for
 * torch, `.numpy(` or a call on a name bound to another array library (its module, or a function
 * imported from it); for numpy, one on torch's or a torch conversion method. Most functions have
 * neither, and are not walked. */
static bool einc__py_text_may_make(const einc__py_scan *s, TSNode scope) {
  const char *p = s->src + ts_node_start_byte(scope), *end = s->src + ts_node_end_byte(scope);
  const bool torch = s->opts->target == EINC_EMIT_TORCH;
  char dotted[40];
  if (torch && einc__py_text_has(p, end, ".numpy(")) return true;
  const int n = torch ? s->arrays.n_other_names : s->arrays.n_torch_names;
  for (int i = 0; i < n; i++) {
    const char *name = torch ? s->arrays.other_names[i] : s->arrays.torch_names[i];
    snprintf(dotted, sizeof dotted, "%s.", name); /* a module's function */
    if (einc__py_text_has(p, end, dotted)) return true;
    snprintf(dotted, sizeof dotted, "%s(", name); /* an imported function */
    if (einc__py_text_has(p, end, dotted)) return true;
  }
  if (!torch)
    for (size_t i = 0; i < sizeof einc__py_torch_methods / sizeof *einc__py_torch_methods; i++) {
      snprintf(dotted, sizeof dotted, ".%s(", einc__py_torch_methods[i]);
      if (einc__py_text_has(p, end, dotted)) return true;
    }
  return false;
}

/* Which libraries made the arrays a name is assigned, by the assignments in the innermost
 * function, lambda or class around the call's `scope` (the module's, for a call at module
 * level), wherever they stand in it: bit 1 torch, bit 2 numpy and the others, both when both
 * are seen, 0 when none is visible. Names bound elsewhere (parameters, globals) are not
 * followed. Consecutive calls in one scope share its list; the module's is made once. */
static int einc__py_name_origin(einc__py_scan *s, TSNode call, TSNode scope, TSNode name) {
  while (!ts_node_is_null(scope) && !einc__py_is_body_scope(scope) &&
         !einc__node_is(scope, "module"))
    scope = ts_node_parent(scope);
  if (ts_node_is_null(scope)) return 0;
  einc__py_origins *o = einc__node_is(scope, "module") ? &s->module_origins : &s->scope_origins;
  if (!o->ready || !ts_node_eq(o->scope, scope)) {
    o->n = 0, o->n_sets = 0, o->ready = true, o->scope = scope;
    einc__py_origin_walk w = {s, scope, o, einc__py_origin_record};
    if (einc__py_text_may_make(s, scope)) einc__py_walk(scope, einc__py_visit_assignments, &w);
    w.record = einc__py_origin_set_record;
    if (o->n) einc__py_walk(scope, einc__py_visit_assignments, &w);
  }
  const int32_t i = einc__py_origin_index(s, o, name);
  if (i < 0 || (o->names[i].mask & 4)) return i < 0 ? 0 : o->names[i].mask & 3;
  /* The last assignment before the call decides alone when it is a statement of the block the
   * call's statement is in: it runs before the call on every path. Else every one counts. */
  TSNode stmt = call, block = ts_node_parent(call);
  while (!ts_node_is_null(block) && !einc__node_is(block, "block") &&
         !einc__node_is(block, "module"))
    stmt = block, block = ts_node_parent(block);
  const einc__py_origin_set *last = NULL;
  for (int32_t k = 0; k < o->n_sets; k++)
    if (o->sets[k].name == i && o->sets[k].stmt_start < ts_node_start_byte(stmt) &&
        (!last || o->sets[k].stmt_start > last->stmt_start))
      last = &o->sets[k];
  if (last && !ts_node_is_null(block) && !ts_node_is_null(last->block) &&
      ts_node_eq(last->block, block))
    return last->origin;
  return o->names[i].mask;
}

/* A plain name or a chain of attributes on one: evaluating it twice is harmless. */
static bool einc__py_is_simple(TSNode n) {
  while (einc__node_is(n, "attribute"))
    n = ts_node_child_by_field_name(n, "object", 6);
  return einc__node_is(n, "identifier");
}

static bool einc__py_parse_int(const char *s, int64_t *v) {
  if (!*s) return false;
  int64_t x = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '_' && p != s && p[1]) continue;
    if (*p < '0' || *p > '9' || x > (INT64_MAX - 9) / 10) return false;
    x = x * 10 + (*p - '0');
  }
  *v = x;
  return true;
}

/* Is a trailing comment possible after the line holding byte `off`? Not when that line already
 * has a comment, ends in a backslash, or the line break sits inside a string. */
static bool einc__py_eol(einc__py_scan *s, uint32_t off, uint32_t *eol) {
  uint32_t e = off;
  while (e < s->file->len && s->src[e] != '\n')
    e++;
  uint32_t t = e;
  while (t > off && (s->src[t - 1] == ' ' || s->src[t - 1] == '\t' || s->src[t - 1] == '\r'))
    t--;
  if (t > 0 && s->src[t - 1] == '\\') return false;
  for (int32_t i = 0; i < s->n_comments; i++)
    if (ts_node_start_byte(s->comments[i]) >= off && ts_node_start_byte(s->comments[i]) <= e)
      return false;
  /* The smallest node around the line's end: a string's part when the line ends inside one. */
  TSNode at = ts_node_descendant_for_byte_range(s->root, t, t);
  for (int up = 0; up < 8 && !ts_node_is_null(at); up++, at = ts_node_parent(at)) {
    /* (a part of an f-string can start right at the line's end: look at its string too) */
    const char *type = ts_node_type(at);
    if ((!strcmp(type, "string_content") || !strcmp(type, "string") ||
         !strcmp(type, "interpolation") || !strcmp(type, "escape_sequence")) &&
        ts_node_start_byte(at) < t && ts_node_end_byte(at) > t)
      return false;
    if (strstr(type, "statement") || !strcmp(type, "block") || !strcmp(type, "module")) break;
  }
  *eol = t;
  return true;
}

/* `# einc: ignore` or `# einc: ignore[EIN001, EIN2]` on the line of `row`. */
static bool einc__py_suppressed(const einc__py_scan *s, uint32_t row, einc_lint_code code) {
  const char *id = einc__lint_code_id(code);
  for (int32_t i = 0; i < s->n_comments; i++) {
    TSNode c = s->comments[i];
    if (ts_node_start_point(c).row != row) continue;
    size_t len = einc__node_len(c);
    const char *t = s->src + ts_node_start_byte(c);
    /* `einc:`, any spaces, `ignore`, then the end, a space or `[` (not `ignored`) */
    const char *hit = NULL, *end = t + len;
    for (const char *k = t; !hit && k + 5 <= end; k++) {
      if (memcmp(k, "einc:", 5) != 0) continue;
      const char *w = k + 5;
      while (w < end && (*w == ' ' || *w == '\t'))
        w++;
      if (end - w >= 6 && !memcmp(w, "ignore", 6) &&
          (w + 6 == end || w[6] == ' ' || w[6] == '\t' || w[6] == '[' || w[6] == '\r'))
        hit = w + 6;
    }
    if (!hit) continue;
    if (hit >= end || *hit != '[') return true;
    for (const char *p = hit + 1; p < end && *p != ']';) {
      while (p < end && (*p == ' ' || *p == ','))
        p++;
      const char *q = p;
      while (q < end && *q != ',' && *q != ']' && *q != ' ')
        q++;
      if (q > p && !strncmp(id, p, (size_t)(q - p))) return true;
      p = q;
    }
  }
  return false;
}

static einc_lint_code einc__py_op_code(const char *op) {
  static const struct {
    const char *op;
    einc_lint_code code;
  } map[] = {
      {"rearrange", EINC_LINT_EIN001},   {"reduce", EINC_LINT_EIN002},
      {"repeat", EINC_LINT_EIN003},      {"einsum", EINC_LINT_EIN004},
      {"pack", EINC_LINT_EIN005},        {"unpack", EINC_LINT_EIN006},
      {"parse_shape", EINC_LINT_EIN007}, {"Rearrange", EINC_LINT_EIN010},
      {"Reduce", EINC_LINT_EIN011},      {"EinMix", EINC_LINT_EIN012},
  };
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp(map[i].op, op)) return map[i].code;
  return EINC_LINT__COUNT;
}

/* Which calls count: einops.<function> and einops.layers.<framework>.<Layer>. */
static const char *einc__py_einops_op(const char *target) {
  static const char *const fns[] = {"rearrange", "reduce", "repeat",     "einsum",
                                    "pack",      "unpack", "parse_shape"};
  static const char *const layers[] = {"Rearrange", "Reduce", "EinMix"};
  if (!strncmp(target, "einops.", 7)) {
    const char *rest = target + 7;
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
      if (!strcmp(rest, fns[i])) return fns[i];
  }
  /* einops.layers.<framework>.<Layer>: exactly one name between layers and the class */
  if (!strncmp(target, "einops.layers.", 14)) {
    const char *dot = strchr(target + 14, '.');
    if (!dot || dot == target + 14 || strchr(dot + 1, '.')) return NULL;
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++)
      if (!strcmp(dot + 1, layers[i])) return layers[i];
  }
  return NULL;
}

static const char *einc__py_dup_node(einc__py_scan *s, TSNode n) {
  return einc__lint_strndup(s->file, s->src + ts_node_start_byte(n), einc__node_len(n));
}

/* Reports a pattern that einops rejects, with the einops error kind and the column of the
 * offending character in the source. */
static void einc__py_invalid(einc__py_scan *s, const einc__py_call *c, const einc__py_str *lit,
                             TSNode pat_node, const einc_error *err) {
  bool parse = !strcmp(einc_error_stage(err->kind), "parse");
  einc_lint_code code = parse ? EINC_LINT_EIN101 : EINC_LINT_EIN102;
  uint32_t b = ts_node_start_byte(pat_node), e = ts_node_end_byte(pat_node);
  if (err->has_span && err->span.start <= lit->len) {
    b = lit->at[err->span.start];
    uint32_t se = err->span.end > err->span.start ? err->span.end : err->span.start + 1;
    e = se <= lit->len ? lit->at[se - 1] + 1 : lit->at[lit->len];
  }
  if (einc__py_suppressed(s, ts_node_start_point(c->call).row, code) ||
      !einc__lint_code_enabled(s->opts, code))
    return;
  for (int32_t i = 0; i < s->file->n_findings; i++) /* a named pattern: once, where it is */
    if (s->file->findings[i].code == code && s->file->findings[i].start == b &&
        s->file->findings[i].end == e)
      return;
  einc__finding *f = einc__lint_file_add(s->file, code, b, e);
  if (!f) return;
  f->op = c->op;
  f->pattern = lit->text;
  f->message = einc__lint_printf(s->file, "invalid %s pattern [%s]: %s", c->op,
                                 einc_error_key(err->kind), err->message);
}

/* Whether `expr` refers to the module `mod` ("np."): not as part of a longer name. */
static bool einc__py_uses_module(const char *expr, const char *mod) {
  for (const char *p = strstr(expr, mod); p; p = strstr(p + 1, mod)) {
    char c = p == expr ? ' ' : p[-1];
    if (!(c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z')))
      return true;
  }
  return false;
}

/* A torch Rearrange layer whose whole effect is one flatten or unflatten (or nothing) becomes
 * torch.nn.Flatten / Unflatten / Identity: the same function, with no pattern to parse. Other
 * layers are reported only. Returns why there is no fix, or NULL with *expr set. */
static const char *einc__py_layer_fix(einc__py_scan *s, const einc__py_call *c,
                                      const einc_plan *plan, int rc, int32_t n_sizes,
                                      const char *const *size_names, const char *const *size_src,
                                      char **expr, einc__emit_info *info) {
  const char *no_fix = "a layer is rewritten only when it is one flatten or unflatten";
  if (strncmp(c->target, "einops.layers.torch.", 20) != 0)
    return "only torch layers are rewritten (into torch.nn modules)";
  if (s->opts->target != EINC_EMIT_TORCH)
    return "a torch layer is rewritten into a torch.nn module, which `--target numpy` does not "
           "write";
  if (rc != EINC_OK || strcmp(c->op, "Rearrange") != 0 || einc__py_in_error(s, c->call))
    return no_fix;
  const char *x[] = {"x"};
  char *e = NULL;
  if (einc__emit_torch(plan, EINC_EMIT_TORCH, x, NULL, n_sizes, size_names, size_src, &e, info) !=
      EINC_OK)
    return no_fix;
  const char *args = NULL, *module = NULL;
  if (!strcmp(e, "x")) {
    module = "Identity", args = "";
  } else if (!strncmp(e, "x.flatten(", 10) && !strchr(e + 10, '.')) {
    module = "Flatten", args = e + 10;
  } else if (!strncmp(e, "x.unflatten(", 12) && !strstr(e + 12, ").") &&
             !strstr(e + 12, ".unflatten")) {
    module = "Unflatten", args = e + 12;
  }
  if (module) {
    /* flatten() flattens everything; the module's defaults start at dim 1 */
    if (!strcmp(module, "Flatten") && !strcmp(args, ")")) args = "0, -1)";
    char buf[512];
    if (!strcmp(module, "Identity"))
      snprintf(buf, sizeof buf, "torch.nn.Identity()");
    else if (!strcmp(module, "Flatten") && !strchr(args, ','))
      snprintf(buf, sizeof buf, "torch.nn.Flatten(%.*s, -1)", (int)(strlen(args) - 1), args);
    else
      snprintf(buf, sizeof buf, "torch.nn.%s(%s", module, args);
    size_t len = strlen(buf) + 1;
    if ((*expr = einc__malloc(len))) memcpy(*expr, buf, len);
  }
  einc__free(e);
  return *expr ? NULL : no_fix;
}

/* The call's op, pattern, reduction and keyword sizes, as the JSON output reports them. */
static void einc__py_describe(einc__py_scan *s, einc__finding *f, const char *op,
                              const char *pattern, const char *reduction, int32_t n_sizes,
                              const char *const *names, const char *const *sources) {
  f->op = op;
  f->pattern = pattern;
  f->reduction = reduction;
  f->size_names = einc__lint_alloc(s->file, sizeof(char *) * (size_t)(n_sizes + 1));
  f->size_sources = einc__lint_alloc(s->file, sizeof(char *) * (size_t)(n_sizes + 1));
  if (!f->size_names || !f->size_sources) return;
  memcpy(f->size_names, names, sizeof(char *) * (size_t)n_sizes);
  memcpy(f->size_sources, sources, sizeof(char *) * (size_t)n_sizes);
  f->n_sizes = n_sizes;
}

/* Marks a fix unsafe for one more reason, after those already given (the emitter's own, an
 * earlier check's), so the note names every input the fix differs on. */
static void einc__py_unsafe(einc__finding *f, einc__emit_info *info, const char *fmt, ...) {
  f->safety = EINC_FIX_UNSAFE;
  size_t n = strlen(info->unsafe_why);
  if (n && n + 2 < sizeof info->unsafe_why) {
    memcpy(info->unsafe_why + n, "; ", 3);
    n += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(info->unsafe_why + n, sizeof info->unsafe_why - n, fmt, ap);
  va_end(ap);
}

/* ---- a pattern held by a name ------------------------------------------------------------ */

/* Whether a `global` or `nonlocal` statement anywhere under `root` names `b->name` (kept in
 * b->declared_outer). */
static bool einc__py_visit_declared(void *ctx, TSTreeCursor *cur, TSNode n) {
  (void)cur;
  einc__py_binds *b = ctx;
  if (einc__node_is(n, "global_statement") || einc__node_is(n, "nonlocal_statement")) {
    uint32_t m = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < m; i++)
      b->declared_outer |= einc__node_text_eq(b->s, ts_node_named_child(n, i), b->name);
    return false;
  }
  return !b->declared_outer;
}

/* The string literal a name used as a pattern (or reduction) stands for, where that is certain: the
 * scope that binds the name (the call's own, then the functions around it, then the module; class
 * bodies only for a call directly in one) binds it exactly once, by `NAME = "..."`, and no function
 * in that scope declares it `global` or `nonlocal` (and so could assign it again). A null node
 * otherwise (a parameter, a second assignment, a loop target, an import, ...). */
static TSNode einc__py_const_pattern(einc__py_scan *s, TSNode call_scope, TSNode id,
                                     const char **name_out) {
  const TSNode none = {0};
  const char *name = einc__py_dup_node(s, id);
  if (!name) return none;
  *name_out = name;
  for (TSNode p = call_scope; !ts_node_is_null(p); p = einc__py_scope_of(p)) {
    if (einc__node_is(p, "class_definition") && !ts_node_eq(p, call_scope)) continue;
    einc__py_binds b = {.s = s, .scope = p, .name = name, .count_only = true};
    einc__py_walk(p, einc__py_visit_binding, &b);
    if (b.declared_outer) return none;
    if (b.count == 0 && !einc__node_is(p, "module")) continue;
    if (b.count != 1 || ts_node_is_null(b.value)) return none;
    einc__py_walk(p, einc__py_visit_declared, &b);
    return b.declared_outer ? none : b.value;
  }
  return none;
}

/* What the annotation of a parameter says the tensor is, for a name the function around the call
 * binds nowhere but in its parameters: bit 2 another library's array (`np.ndarray`,
 * `NDArray[...]`), bit 1 a torch tensor (`torch.Tensor`), bit 4 a list or tuple (`list`,
 * `List[...]`, `Sequence[...]`; only when the name itself is the tensor, `bare`), else 0. */
static int einc__py_param_annotation(einc__py_scan *s, TSNode scope, TSNode name, bool bare) {
  if (ts_node_is_null(scope) || !einc__node_is(scope, "function_definition")) return 0;
  const TSNode params = ts_node_child_by_field_name(scope, "parameters", 10);
  const char *name_text = einc__py_dup_node(s, name);
  if (ts_node_is_null(params) || !name_text) return 0;
  TSNode type = {0};
  for (uint32_t i = 0; i < ts_node_named_child_count(params); i++) {
    const TSNode p = ts_node_named_child(params, i);
    TSNode nm = {0};
    if (einc__node_is(p, "typed_parameter"))
      nm = ts_node_named_child(p, 0);
    else if (einc__node_is(p, "typed_default_parameter"))
      nm = ts_node_child_by_field_name(p, "name", 4);
    if (!ts_node_is_null(nm) && einc__node_is(nm, "identifier") &&
        einc__node_text_eq(s, nm, name_text))
      type = ts_node_child_by_field_name(p, "type", 4);
  }
  if (ts_node_is_null(type)) return 0;
  einc__py_binds b = {.s = s, .scope = scope, .name = name_text, .count_only = true};
  einc__py_walk(scope, einc__py_visit_binding, &b);
  if (b.count != 1 || b.declared_outer) return 0; /* assigned in the body too: not only this */
  const char *t = s->src + ts_node_start_byte(type), *end = s->src + ts_node_end_byte(type);
  int what = 0;
  if (einc__py_text_has(t, end, "ndarray") || einc__py_text_has(t, end, "NDArray")) what |= 2;
  if (einc__py_text_has(t, end, "Tensor")) what |= 1;
  static const char *const lists[] = {"list", "List", "tuple", "Tuple", "Sequence"};
  for (size_t k = 0; bare && k < sizeof lists / sizeof *lists; k++) {
    const size_t n = strlen(lists[k]);
    what |=
        (size_t)(end - t) >= n && !memcmp(t, lists[k], n) && ((size_t)(end - t) == n || t[n] == '[')
            ? 4
            : 0;
  }
  return what;
}

static void einc__py_call_site(einc__py_scan *s, einc__py_call *c) {
  einc__lint_file *A = s->file;
  bool layer = c->op[0] >= 'A' && c->op[0] <= 'Z';
  einc_op op;
  const char *fn = layer ? (!strcmp(c->op, "Rearrange") ? "rearrange"
                            : !strcmp(c->op, "Reduce")  ? "reduce"
                                                        : NULL)
                         : c->op;
  /* Argument positions, einops' signatures. */
  TSNode pat = {0}, red = {0};
  int32_t tensor_from = 0, tensor_to = 0; /* positional tensors [from, to) */
  bool einmix = !strcmp(c->op, "EinMix");
  /* rearrange(tensor=x, pattern=...): the tensor passed by keyword */
  TSNode tensor_kw = einc__py_kw(s, c, "tensor");
  if (!layer && c->n_pos == 0 && !ts_node_is_null(tensor_kw)) c->pos[c->n_pos++] = tensor_kw;
  if (layer) {
    pat = c->n_pos > 0 ? c->pos[0] : einc__py_kw(s, c, "pattern");
    if (!strcmp(c->op, "Reduce")) red = c->n_pos > 1 ? c->pos[1] : einc__py_kw(s, c, "reduction");
  } else if (!strcmp(c->op, "einsum")) {
    if (c->n_pos > 0) pat = c->pos[c->n_pos - 1];
    tensor_to = c->n_pos - 1;
  } else if (!strcmp(c->op, "unpack")) {
    pat = c->n_pos > 2 ? c->pos[2] : einc__py_kw(s, c, "pattern");
    tensor_to = c->n_pos > 0 ? 1 : 0;
  } else {
    pat = c->n_pos > 1 ? c->pos[1] : einc__py_kw(s, c, "pattern");
    if (!strcmp(c->op, "reduce")) red = c->n_pos > 2 ? c->pos[2] : einc__py_kw(s, c, "reduction");
    tensor_to = c->n_pos > 0 ? 1 : 0;
  }
  uint32_t row = ts_node_start_point(c->call).row;
  einc_lint_code code = einc__py_op_code(c->op);
  if (ts_node_is_null(pat)) {
    /* rearrange(*args): the pattern arrives at run time; otherwise not a complete call (Python
     * would raise). */
    if (!(c->has_splat || c->has_dict_splat) || einc__py_suppressed(s, row, EINC_LINT_EIN201) ||
        !einc__lint_code_enabled(s->opts, EINC_LINT_EIN201))
      return;
    einc__finding *f = einc__lint_file_add(s->file, EINC_LINT_EIN201, ts_node_start_byte(c->args),
                                           ts_node_end_byte(c->args));
    if (!f) return;
    const char *none[1] = {NULL};
    einc__py_describe(s, f, c->op, NULL, NULL, 0, none, none);
    f->message = einc__lint_printf(
        A, "%s at run time: the pattern is passed through *args or **kwargs; not fixed", c->op);
    return;
  }

  /* Keyword axis sizes, as source text. */
  const char *size_names[EINC__PY_MAX_ARGS], *size_src[EINC__PY_MAX_ARGS];
  einc_kwarg kwargs[EINC__PY_MAX_ARGS];
  int32_t n_sizes = 0;
  for (int32_t i = 0; i < c->n_kw; i++) {
    static const char *const reserved[] = {"pattern", "reduction", "tensor", "weight_shape",
                                           "bias_shape"};
    bool skip = false;
    for (size_t k = 0; k < sizeof reserved / sizeof *reserved; k++)
      skip |= einc__py_kw_is(s, c, i, reserved[k]);
    if (skip) continue;
    size_names[n_sizes] = c->kw_key[i] ? c->kw_key[i] : einc__py_dup_node(s, c->kw_name[i]);
    size_src[n_sizes] = einc__py_dup_node(s, c->kw_value[i]);
    if (!size_names[n_sizes] || !size_src[n_sizes]) return;
    kwargs[n_sizes].name = size_names[n_sizes];
    int64_t v;
    kwargs[n_sizes].value = einc__py_parse_int(size_src[n_sizes], &v) ? v : EINC_UNKNOWN;
    n_sizes++;
  }

  einc__py_str lit = {0};
  einc__lit_kind lk = einc__py_literal(s, pat, &lit);
  TSNode pat_lit = pat; /* where the literal is written */
  /* PATTERN = "b c h w -> b (h w) c" ... rearrange(x, PATTERN): the literal, where it is certain
   * (an invalid one is then reported where it is written) */
  const char *const_name = NULL;
  uint32_t const_line = 0;
  if (lk == EINC__LIT_NOT_LITERAL && einc__node_is(pat, "identifier")) {
    TSNode value = einc__py_const_pattern(s, c->scope, pat, &const_name);
    einc__py_str v = {0};
    if (!ts_node_is_null(value) && einc__py_literal(s, value, &v) == EINC__LIT_OK) {
      lit = v, lk = EINC__LIT_OK, pat_lit = value;
      const_line = ts_node_start_point(value).row + 1;
    } else {
      const_name = NULL;
    }
  }
  einc_lint_code why_code = EINC_LINT__COUNT;
  const char *why = NULL;
  if (lk == EINC__LIT_FSTRING) {
    why_code = EINC_LINT_EIN202;
    why = "the pattern is an f-string, so it is only known at run time";
  } else if (lk != EINC__LIT_OK) {
    why_code = EINC_LINT_EIN201;
    why = einc__lint_printf(A, "the pattern is not a string literal (%s)", ts_node_type(pat));
  }
  const char *red_text = NULL;
  if (!ts_node_is_null(red)) {
    einc__py_str rl = {0};
    const char *red_name = NULL;
    einc__lit_kind rk = einc__py_literal(s, red, &rl);
    if (rk == EINC__LIT_NOT_LITERAL && einc__node_is(red, "identifier")) { /* as the pattern */
      TSNode value = einc__py_const_pattern(s, c->scope, red, &red_name);
      if (!ts_node_is_null(value)) rk = einc__py_literal(s, value, &rl);
    }
    if (rk == EINC__LIT_OK) {
      red_text = rl.text;
    } else if (why_code == EINC_LINT__COUNT) {
      why_code = EINC_LINT_EIN203;
      why = einc__lint_printf(A, "the reduction `%.*s` is not a string literal",
                              (int)einc__node_len(red), s->src + ts_node_start_byte(red));
    }
  }
  if (why_code == EINC_LINT__COUNT && c->has_dict_splat) {
    why_code = EINC_LINT_EIN204;
    why = "axis sizes come from a **dict, so they are only known at run time";
  }
  if (why_code != EINC_LINT__COUNT) {
    if (einc__py_suppressed(s, row, why_code) || !einc__lint_code_enabled(s->opts, why_code))
      return;
    const TSNode at = why_code == EINC_LINT_EIN203 ? red : pat;
    einc__finding *f =
        einc__lint_file_add(s->file, why_code, ts_node_start_byte(at), ts_node_end_byte(at));
    if (!f) return;
    einc__py_describe(s, f, c->op, lk == EINC__LIT_OK ? lit.text : NULL, red_text, n_sizes,
                      size_names, size_src);
    f->message = einc__lint_printf(A, "%s at run time: %s; not fixed", c->op, why);
    return;
  }

  /* Compile the pattern; the rank is unknown, so the pattern-stage checks run. */
  int32_t n_tensors = tensor_to - tensor_from;
  if (n_tensors < 1) n_tensors = 1;
  if (n_tensors > EINC_MAX_INPUTS) return;
  einc_shape shapes[EINC_MAX_INPUTS];
  for (int32_t i = 0; i < n_tensors; i++)
    shapes[i] = (einc_shape){.rank = EINC_UNKNOWN};
  einc_plan *plan = NULL;
  einc_error err = {0};
  int rc = EINC_EUNSUPPORTED;
  if (fn && !einmix && einc_op_from_name(fn, &op)) {
    einc_spec spec = {
        .op = op,
        .pattern = lit.text,
        .pattern_len = lit.len,
        .reduction_name = op == EINC_OP_REDUCE ? (red_text ? red_text : "") : NULL,
        .dtype = EINC_F32,
        .n_inputs = n_tensors,
        .inputs = shapes,
        .n_kwargs = n_sizes,
        .kwargs = kwargs,
    };
    if (op == EINC_OP_UNPACK) {
      /* packed_shapes are values at run time; only the pattern can be checked */
      spec.n_packed = 0;
    }
    rc = einc_plan_new(&spec, &plan, &err);
    if (rc == EINC_EPATTERN) {
      einc__py_invalid(s, c, &lit, pat_lit, &err);
      return;
    }
  }

  if (code == EINC_LINT__COUNT || einc__py_suppressed(s, row, code) ||
      !einc__lint_code_enabled(s->opts, code)) {
    einc_plan_delete(plan);
    return;
  }
  einc__finding *f =
      einc__lint_file_add(s->file, code, ts_node_start_byte(c->call), ts_node_end_byte(c->call));
  if (!f) {
    einc_plan_delete(plan);
    return;
  }
  int32_t fi = s->file->n_findings - 1;
  uint32_t *ids = einc__realloc(s->finding_callee_id, sizeof(uint32_t) * (size_t)(fi + 1));
  if (!ids) {
    s->file->n_findings--;
    einc_plan_delete(plan);
    return;
  }
  s->finding_callee_id = ids;
  while (s->n_callee_ids < fi)
    ids[s->n_callee_ids++] = UINT32_MAX;
  ids[fi] = c->root_id;
  s->n_callee_ids = fi + 1;
  einc__py_describe(s, f, c->op, lit.text, red_text, n_sizes, size_names, size_src);
  const char *from =
      const_name ? einc__lint_printf(A, " (`%s`, line %u)", const_name, const_line) : "";
  if (!from) from = "";

  /* The native expression. */
  const char *no_fix = NULL;
  char *expr = NULL;
  einc__emit_info info = {0};
  if (layer) {
    no_fix = einc__py_layer_fix(s, c, plan, rc, n_sizes, size_names, size_src, &expr, &info);
  } else if (rc != EINC_OK) {
    no_fix = rc == EINC_EUNSUPPORTED ? "einc cannot compile this call" : "compile failed";
  } else if (c->has_splat || c->n_pos < tensor_to || tensor_to - tensor_from < 1) {
    no_fix = "the tensors are passed through *args";
  } else if (einc__py_in_error(s, c->call)) {
    no_fix = "the call is inside a syntax error";
  } else {
    const char *names[EINC_MAX_INPUTS];
    bool simple[EINC_MAX_INPUTS];
    bool is_list = false;
    for (int32_t i = 0; i < n_tensors; i++) {
      TSNode t = c->pos[tensor_from + i];
      simple[i] = einc__py_is_simple(t);
      is_list |= einc__py_is_listish(s, t);
      names[i] = einc__py_is_primary(t) ? einc__py_dup_node(s, t)
                                        : einc__lint_printf(A, "(%.*s)", (int)einc__node_len(t),
                                                            s->src + ts_node_start_byte(t));
    }
    if (is_list && op != EINC_OP_PACK) {
      no_fix = "the tensor argument is a list (einops stacks it first)";
    } else {
      rc = einc__emit_torch(plan, s->opts->target, names, simple, n_sizes, size_names, size_src,
                            &expr, &info);
      if (rc != EINC_OK)
        no_fix = info.why_not[0] ? einc__lint_strdup(A, info.why_not) : "no native equivalent";
    }
  }
  einc_plan_delete(plan);
  if (expr && einc__py_fstring_debug(s, c->call)) {
    einc__free(expr);
    expr = NULL;
    no_fix = "the f-string's `=` prints the call's source text";
  }
  char quote = expr ? einc__py_fstring_quote(s, c->call) : 0;
  if (quote == '"') /* the fix's own strings (einsum's spec) can take the other quotes */
    for (char *p = expr; *p; p++)
      if (*p == '"') *p = '\'';
  if (quote && strchr(expr, quote)) {
    einc__free(expr);
    expr = NULL;
    no_fix = "the call is inside an f-string that uses the fix's quotes";
  }
  if (quote && expr && expr[0] == '{') { /* `{{` would be a literal brace in the f-string */
    char *wrapped = einc__malloc(strlen(expr) + 3);
    if (wrapped) sprintf(wrapped, "(%s)", expr);
    einc__free(expr);
    expr = wrapped;
  }
  if (expr) {
    f->has_fix = true;
    f->safety = info.safety;
    /* A fix naming a module the file does not import needs the import added by hand. */
    const char *need = NULL;
    if (einc__py_uses_module(expr, "torch.") && !s->arrays.has_torch) need = "import torch";
    if (einc__py_uses_module(expr, "np.") && !s->arrays.has_np) need = "import numpy as np";
    if (need && ts_node_is_null(s->first_import)) {
      einc__py_unsafe(f, &info, "the file needs `%s`", need);
    } else {
      f->needs_import = need;
    }
    const einc__py_alias *al = &s->aliases[c->alias];
    if (s->last_star > ts_node_start_byte(al->stmt) + 1) {
      einc__py_unsafe(f, &info, "a later `from ... import *` may bind `%s` to something else",
                      al->local);
    }
    const char *module = einc__py_uses_module(expr, "torch.") ? "torch"
                         : einc__py_uses_module(expr, "np.")  ? "np"
                                                              : NULL;
    if (module && einc__py_local_name(s, c->scope, module)) {
      einc__py_unsafe(f, &info, "`%s` names something else where the call is", module);
    }
    bool other_arrays = false; /* the file's imports already say the arrays may be another's */
    /* parse_shape's fix reads `.shape` only: the same for torch, numpy and the arrays like them */
    const bool shape_only = !layer && !strcmp(c->op, "parse_shape");
    if (shape_only) other_arrays = true; /* no library is assumed: the origin rules stay off */
    if (s->opts->target == EINC_EMIT_TORCH && s->arrays.imports_other && !s->arrays.imports_torch &&
        !shape_only) {
      other_arrays = true;
      einc__py_unsafe(f, &info,
                      "the file imports another array library and not torch, so the tensors may "
                      "not be torch tensors (`--target numpy` writes numpy)");
    }
    /* The same the other way: torch's methods differ from numpy's (`transpose` with every axis),
     * tensorflow's tensors have none, and `np.` functions turn a jax or torch array into a numpy
     * one (or fail under `jax.jit`); jax and cupy arrays have numpy's methods. */
    if (s->opts->target == EINC_EMIT_NUMPY && !s->arrays.imports_numpy && !shape_only &&
        (s->arrays.imports_no_np_methods ||
         (s->arrays.imports_non_numpy && einc__py_uses_module(expr, "np.")))) {
      other_arrays = true;
      einc__py_unsafe(f, &info,
                      "the file imports another array library and not numpy, so the arrays may "
                      "not be numpy arrays");
    }
    /* The tensor visibly comes from the other library: `np.stack(...).permute(...)` fails. */
    int origin = !layer && !other_arrays && tensor_from < c->n_pos
                     ? einc__py_array_origin(s, c->call, c->pos[tensor_from])
                     : 0;
    if (origin == 2 && s->opts->target == EINC_EMIT_TORCH)
      einc__py_unsafe(f, &info, "the tensor is made by numpy or another array library, not torch");
    if (origin == 1 && s->opts->target == EINC_EMIT_NUMPY)
      einc__py_unsafe(f, &info, "the tensor is made by torch, not numpy");
    /* ... or is (taken from) a name the scope assigns such an array: `img = np.load(p)`, then
     * `img`, `img[None]` or `img.astype(f)` as the tensor. */
    const TSNode root =
        tensor_from < c->n_pos ? einc__py_chain_root(c->pos[tensor_from]) : (TSNode){0};
    const int assigned = !layer && !other_arrays && !origin && !ts_node_is_null(root)
                             ? einc__py_name_origin(s, c->call, c->scope, root)
                             : 0;
    if ((assigned & 2) && s->opts->target == EINC_EMIT_TORCH)
      einc__py_unsafe(f, &info,
                      "the tensor's name is assigned an array made by numpy or another array "
                      "library, not torch");
    if ((assigned & 1) && s->opts->target == EINC_EMIT_NUMPY)
      einc__py_unsafe(f, &info, "the tensor's name is assigned a tensor made by torch, not numpy");
    /* ... or is a parameter whose annotation says so: `def f(x: np.ndarray)` */
    const int annotated =
        !layer && !other_arrays && !origin && !assigned && !ts_node_is_null(root)
            ? einc__py_param_annotation(s, c->scope, root, ts_node_eq(root, c->pos[tensor_from]))
            : 0;
    if ((annotated & 2) && s->opts->target == EINC_EMIT_TORCH)
      einc__py_unsafe(f, &info, "the tensor is a parameter annotated as another library's array");
    if ((annotated & 1) && s->opts->target == EINC_EMIT_NUMPY)
      einc__py_unsafe(f, &info, "the tensor is a parameter annotated as a torch tensor");
    if (annotated & 4)
      einc__py_unsafe(f, &info,
                      "the tensor is a parameter annotated as a list or tuple (einops stacks it)");
    f->replacement = einc__lint_strdup(A, expr);
    f->has_fix = f->replacement != NULL; /* out of memory: no fix rather than half of one */
    f->fix_note = info.dropped[0]
                      ? einc__lint_printf(A, "the fix drops einops' %s check%s%s%s", info.dropped,
                                          strchr(info.dropped, ',') ? "s" : "",
                                          info.unsafe_why[0] ? "; unsafe: " : "", info.unsafe_why)
                  : info.unsafe_why[0] ? einc__lint_printf(A, "unsafe: %s", info.unsafe_why)
                                       : NULL;
    einc__free(expr);
    f->message = einc__lint_printf(A, "%s parses \"%s\"%s at run time; use `%s`", c->op, lit.text,
                                   from, f->replacement);
  } else {
    f->message = einc__lint_printf(A, "%s parses \"%s\"%s at run time (no fix: %s)", c->op,
                                   lit.text, from, no_fix);
  }
}

/* ---- edits ------------------------------------------------------------------------------- */

static bool einc__py_fix_applies(const einc__py_scan *s, const einc__finding *f) {
  return f->has_fix && (f->safety == EINC_FIX_SAFE || s->opts->unsafe_fixes);
}

static bool einc__py_add_edit(einc__py_scan *s, einc__finding *f, uint32_t start, uint32_t end,
                              const char *text) {
  einc__edit *e = einc__lint_alloc(s->file, sizeof *e * (size_t)(f->n_edits + 1));
  if (!e || !text) return false;
  if (f->n_edits) memcpy(e, f->edits, sizeof *e * (size_t)f->n_edits);
  e[f->n_edits++] = (einc__edit){start, end, text};
  f->edits = e;
  return true;
}

static int einc__py_u32_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Counts the uses of each alias that no applied fix removes. One walk with a cursor, keeping
 * the parents' types on a stack (ts_node_parent walks down from the root each time). */
static void einc__py_count_uses(einc__py_scan *s) {
  enum { MAX_DEPTH = 1024 };
  const char **types = einc__malloc(sizeof *types * MAX_DEPTH);
  if (!types) return;
  TSTreeCursor cur = ts_tree_cursor_new(s->root);
  int32_t depth = 0;
  for (;;) {
    TSNode n = ts_tree_cursor_current_node(&cur);
    const char *type = ts_node_type(n);
    bool descend = true;
    if (!strcmp(type, "import_statement") || !strcmp(type, "import_from_statement")) {
      descend = false;
    } else if (!strcmp(type, "identifier")) {
      descend = false;
      int32_t a = 0;
      while (a < s->n_aliases && !einc__node_text_eq(s, n, s->aliases[a].local))
        a++;
      if (a < s->n_aliases) {
        const char *parent = depth > 0 && depth <= MAX_DEPTH ? types[depth - 1] : "";
        const char *field = ts_tree_cursor_current_field_name(&cur);
        bool is_use = true;
        if (!strcmp(parent, "attribute")) is_use = !field || strcmp(field, "attribute") != 0;
        if (!strcmp(parent, "keyword_argument")) is_use = !field || strcmp(field, "name") != 0;
        if (is_use) {
          uint32_t at = ts_node_start_byte(n);
          bool fixed = s->n_fixed_ids && bsearch(&at, s->fixed_ids, (size_t)s->n_fixed_ids,
                                                 sizeof at, einc__py_u32_cmp);
          for (; a < s->n_aliases; a++) {
            if (!einc__node_text_eq(s, n, s->aliases[a].local)) continue;
            if (fixed)
              s->aliases[a].uses_fixed++;
            else
              s->aliases[a].uses_left++;
          }
        }
      }
    }
    if (descend && ts_tree_cursor_goto_first_child(&cur)) {
      if (depth < MAX_DEPTH) types[depth] = type;
      depth++;
      continue;
    }
    if (ts_tree_cursor_goto_next_sibling(&cur)) continue;
    bool next = false;
    while (ts_tree_cursor_goto_parent(&cur)) {
      depth--;
      if (ts_tree_cursor_goto_next_sibling(&cur)) {
        next = true;
        break;
      }
    }
    if (!next) break;
  }
  ts_tree_cursor_delete(&cur);
  einc__free(types);
}

static bool einc__py_alias_dropped(const einc__py_alias *a) {
  return a->uses_fixed > 0 && a->uses_left == 0 && !ts_node_is_null(a->item);
}

/* The start of the line holding byte `off`. */
static uint32_t einc__py_line_start(const einc__py_scan *s, uint32_t off) {
  while (off > 0 && s->src[off - 1] != '\n')
    off--;
  return off;
}

/* Whether `at` lies inside the span of a call with a fix (not at its ends). */
static bool einc__py_inside_fix(const einc__lint_file *file, uint32_t at) {
  for (int32_t i = 0; i < file->n_findings; i++)
    if (file->findings[i].has_fix && file->findings[i].start < at && at < file->findings[i].end)
      return true;
  return false;
}

/* The comments inside [start, end) (a call that spans lines, an import statement), which an edit
 * of it would otherwise drop, as lines of their own above its first line, indented as it is: the
 * edit text, "" when there are none, or NULL when they cannot go there (that line starts inside a
 * string or another call being fixed, or continues the line before with a backslash). */
static const char *einc__py_kept_comments(einc__py_scan *s, uint32_t start, uint32_t end) {
  int32_t first = -1, n = 0;
  for (int32_t i = 0; i < s->n_comments; i++) {
    const uint32_t at = ts_node_start_byte(s->comments[i]);
    if (at >= start && at < end) {
      if (first < 0) first = i;
      n++;
    }
  }
  if (!n) return "";
  const uint32_t ls = einc__py_line_start(s, start);
  /* the line before ending in a backslash (before its LF or CRLF) continues into this one */
  uint32_t prev = ls; /* just after the line before */
  if (prev > 0) prev--;
  if (prev > 0 && s->src[prev - 1] == '\r') prev--;
  if (prev > 0 && s->src[prev - 1] == '\\') return NULL;
  if (einc__py_inside_fix(s->file, ls)) return NULL;
  for (TSNode at = ts_node_descendant_for_byte_range(s->root, ls, ls); !ts_node_is_null(at);
       at = ts_node_parent(at)) {
    const char *type = ts_node_type(at);
    if ((!strcmp(type, "string") || !strcmp(type, "string_content")) &&
        ts_node_start_byte(at) < ls && ts_node_end_byte(at) > ls)
      return NULL;
    if (strstr(type, "statement") || !strcmp(type, "block") || !strcmp(type, "module")) break;
  }
  uint32_t ind = ls;
  while (ind < s->file->len && (s->src[ind] == ' ' || s->src[ind] == '\t'))
    ind++;
  uint32_t nl = start;
  while (nl < s->file->len && s->src[nl] != '\n')
    nl++;
  const char *eol = nl > 0 && s->src[nl - 1] == '\r' ? "\r\n" : "\n";
  einc_sbuf text = {0};
  for (int32_t i = first; i < s->n_comments && n > 0; i++) {
    const TSNode c = s->comments[i];
    if (ts_node_start_byte(c) < start || ts_node_start_byte(c) >= end) continue;
    einc__sbuf_append(&text, s->src + ls, ind - ls);
    einc__sbuf_append(&text, s->src + ts_node_start_byte(c), einc__node_len(c));
    einc__sbuf_puts(&text, eol);
    n--;
  }
  char *out = einc__sbuf_finish(&text);
  const char *kept = out ? einc__lint_strdup(s->file, out) : NULL;
  einc__free(out);
  return kept;
}

/* An import edit: part of `only_fix` when the file applies that one fix (it is then right on its
 * own), else of the file's edits, made only with all of its fixes: with several, applying one
 * alone (an editor's quick fix from the JSON or SARIF) must not drop a name the others still
 * use. */
static void einc__py_import_edit(einc__py_scan *s, einc__finding *only_fix, uint32_t b, uint32_t e,
                                 const char *text) {
  if (only_fix) {
    einc__py_add_edit(s, only_fix, b, e, text);
    return;
  }
  einc__lint_file *file = s->file;
  einc__edit *edits = einc__lint_alloc(file, sizeof *edits * (size_t)(file->n_file_edits + 1));
  if (!edits || !text) return;
  if (file->n_file_edits)
    memcpy(edits, file->file_edits, sizeof *edits * (size_t)file->n_file_edits);
  edits[file->n_file_edits++] = (einc__edit){b, e, text};
  file->file_edits = edits;
}

/* Whether the line before the one starting at `at` holds nothing but spaces. */
static bool einc__py_blank_line_ends_at(const einc__py_scan *s, uint32_t at) {
  if (at == 0 || s->src[at - 1] != '\n') return false;
  uint32_t p = at - 1;
  while (p > 0 && (s->src[p - 1] == ' ' || s->src[p - 1] == '\t' || s->src[p - 1] == '\r'))
    p--;
  return p == 0 || s->src[p - 1] == '\n';
}

/* Drops the import items whose aliases lost their last use (einc__py_import_edit). */
static void einc__py_drop_imports(einc__py_scan *s, einc__finding *only_fix) {
  einc__lint_file *A = s->file;
  for (int32_t a = 0; a < s->n_aliases; a++) {
    TSNode stmt = s->aliases[a].stmt;
    bool seen = false, any = false;
    for (int32_t b = 0; b < a; b++)
      seen |= ts_node_eq(s->aliases[b].stmt, stmt);
    for (int32_t b = a; b < s->n_aliases; b++)
      any |= ts_node_eq(s->aliases[b].stmt, stmt) && einc__py_alias_dropped(&s->aliases[b]);
    if (seen || !any) continue;
    /* Keep the items of this statement that are not being dropped. */
    einc_sbuf keep = {0};
    int kept = 0;
    uint32_t n = ts_node_named_child_count(stmt);
    bool from = einc__node_is(stmt, "import_from_statement");
    TSNode mod = from ? ts_node_child_by_field_name(stmt, "module_name", 11) : (TSNode){0};
    for (uint32_t i = 0; i < n; i++) {
      TSNode item = ts_node_named_child(stmt, i);
      if (from && ts_node_eq(item, mod)) continue;
      if (einc__node_is(item, "comment")) continue;
      bool dropped = false;
      for (int32_t b = 0; b < s->n_aliases; b++)
        dropped |= ts_node_eq(s->aliases[b].item, item) && einc__py_alias_dropped(&s->aliases[b]);
      if (dropped) continue;
      einc__sbuf_puts(&keep, kept++ ? ", " : "");
      einc__sbuf_append(&keep, s->src + ts_node_start_byte(item), einc__node_len(item));
    }
    uint32_t b = ts_node_start_byte(stmt), e = ts_node_end_byte(stmt);
    /* comments inside a statement over several lines go above it; where they cannot, it stays */
    const char *inner = einc__py_kept_comments(s, b, e);
    if (!inner) {
      einc__sbuf_free(&keep);
      continue;
    }
    if (*inner) {
      const uint32_t ls = einc__py_line_start(s, b);
      einc__py_import_edit(s, only_fix, ls, ls, inner);
    }
    if (kept) {
      const char *text = from
                             ? einc__lint_printf(A, "from %.*s import %s", (int)einc__node_len(mod),
                                                 s->src + ts_node_start_byte(mod), keep.data)
                             : einc__lint_printf(A, "import %s", keep.data);
      einc__sbuf_free(&keep);
      einc__py_import_edit(s, only_fix, b, e, text);
      continue;
    }
    einc__sbuf_free(&keep);
    /* Delete the whole line when the statement is alone on it and not alone in its block. */
    uint32_t lb = b, le = e;
    while (lb > 0 && (s->src[lb - 1] == ' ' || s->src[lb - 1] == '\t'))
      lb--;
    while (le < s->file->len && (s->src[le] == ' ' || s->src[le] == '\t' || s->src[le] == '\r'))
      le++;
    const bool line_start = lb == 0 || s->src[lb - 1] == '\n';
    /* `from einops import rearrange  # why`: the statement goes, its comment stays on the line */
    const bool commented = le < s->file->len && s->src[le] == '#';
    bool alone = line_start && (le == s->file->len || s->src[le] == '\n' || commented);
    TSNode parent = ts_node_parent(stmt);
    uint32_t siblings = 0;
    for (uint32_t i = 0; i < ts_node_named_child_count(parent); i++)
      if (!einc__node_is(ts_node_named_child(parent, i), "comment")) siblings++;
    if (!alone || (einc__node_is(parent, "block") && siblings < 2)) continue;
    if (commented) {
      einc__py_import_edit(s, only_fix, b, le, "");
      continue;
    }
    if (le < s->file->len) le++;
    /* Blank lines on both sides: as many go as the shorter run has (all of them first in the
     * file or its block), so the longer run is what stays and no third blank line lands before a
     * `def`. Not where an added `import torch` takes the line's place (the file's first import). */
    bool replaced = false;
    if (b == ts_node_start_byte(s->first_import))
      for (int32_t i = 0; i < A->n_findings; i++)
        replaced |= A->findings[i].has_fix && A->findings[i].needs_import;
    if (!*inner && !replaced) {
      uint32_t before = 0, at = lb;
      while (at > 0 && einc__py_blank_line_ends_at(s, at)) {
        before++;
        at = einc__py_line_start(s, at - 1);
      }
      /* first in the file, or first in its block (right after the `def ...:` line) */
      if (lb == 0 || at == 0 ||
          (einc__node_is(parent, "block") && ts_node_eq(ts_node_named_child(parent, 0), stmt)))
        before = UINT32_MAX;
      for (uint32_t eaten = 0; eaten < before; eaten++) {
        uint32_t next = le;
        while (next < s->file->len &&
               (s->src[next] == ' ' || s->src[next] == '\t' || s->src[next] == '\r'))
          next++;
        if (next >= s->file->len || s->src[next] != '\n') break;
        le = next + 1;
      }
    }
    einc__py_import_edit(s, only_fix, lb, le, "");
  }
}

/* A finding's span, to look at a file's findings in order of start (the outer call first). */
typedef struct einc__py_span {
  uint32_t start, end;
  int32_t i;
} einc__py_span;

static int einc__py_span_cmp(const void *a, const void *b) {
  const einc__py_span *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  if (x->end != y->end) return x->end > y->end ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

static void einc__py_make_edits(einc__py_scan *s) {
  einc__lint_file *file = s->file;
  einc__lint_file *A = file;
  /* A fix that contains another fix waits for the next round. The findings are looked at in
   * order of start, so that those inside a call follow it (a file may have thousands). */
  int32_t nf = file->n_findings;
  einc__py_span *order = einc__malloc(sizeof *order * (size_t)(nf ? nf : 1));
  if (!order) {
    for (int32_t i = 0; i < nf; i++)
      file->findings[i].has_fix = false; /* out of memory: report, fix nothing */
    return;
  }
  int32_t n_order = 0; /* the findings with a fix */
  for (int32_t i = 0; i < nf; i++)
    if (file->findings[i].has_fix)
      order[n_order++] = (einc__py_span){file->findings[i].start, file->findings[i].end, i};
  qsort(order, (size_t)n_order, sizeof *order, einc__py_span_cmp);
  for (int32_t p = 0; p < n_order; p++) {
    einc__finding *f = &file->findings[order[p].i];
    for (int32_t q = p + 1; q < n_order && order[q].start < f->end; q++) {
      if (order[q].end <= f->end && (order[q].start != f->start || order[q].end != f->end)) {
        f->has_fix = false;
        f->message = einc__lint_printf(A, "%s (its fix waits for the call inside it)", f->message);
        break;
      }
    }
  }
  /* The fixes ending on each line, for the trailing comment: next[i] is the one after finding
   * i on its line, or -1. */
  int32_t *next = einc__malloc(sizeof *next * (size_t)(nf ? nf : 1));
  if (!next) {
    einc__free(order);
    for (int32_t i = 0; i < nf; i++)
      file->findings[i].has_fix = false;
    return;
  }
  n_order = 0;
  for (int32_t i = 0; i < nf; i++) {
    next[i] = -1;
    if (file->findings[i].has_fix)
      order[n_order++] = (einc__py_span){file->findings[i].end_pos.line, 0, i};
  }
  qsort(order, (size_t)n_order, sizeof *order, einc__py_span_cmp);
  for (int32_t p = 0; p + 1 < n_order; p++)
    if (order[p + 1].start == order[p].start) next[order[p].i] = order[p + 1].i;
  einc__free(order);
  einc__finding *last_fix = NULL;
  int32_t n_applied = 0;
  uint32_t last_line = 0;
  einc_sbuf pending = {0}; /* patterns of lines whose comment went to a later line */
  for (int32_t i = 0; i < file->n_findings; i++) {
    einc__finding *f = &file->findings[i];
    if (!f->has_fix) continue;
    const char *comments = einc__py_kept_comments(s, f->start, f->end);
    if (!comments) { /* "... at run time; use `fix`" becomes "... at run time (no fix: why)" */
      const char *use = strstr(f->message, "; use `");
      f->has_fix = false;
      f->message = einc__lint_printf(
          A, "%.*s (no fix: the comments inside the call have no place to go)",
          (int)(use ? (size_t)(use - f->message) : strlen(f->message)), f->message);
      continue;
    }
    if (!einc__py_add_edit(s, f, f->start, f->end, f->replacement)) continue;
    if (*comments) {
      const uint32_t ls = einc__py_line_start(s, f->start);
      einc__py_add_edit(s, f, ls, ls, comments);
    }
    /* The module the expression names, imported above the file's first import: by every fix
     * that needs it, so that each is right on its own (applied together, the same edit is made
     * once). */
    if (f->needs_import) {
      uint32_t at = ts_node_start_byte(s->first_import);
      /* the line ends as the import's own line does: CRLF in a CRLF file */
      uint32_t nl = at;
      while (nl < file->len && s->src[nl] != '\n')
        nl++;
      const char *eol = nl > at && s->src[nl - 1] == '\r' ? "\r\n" : "\n";
      einc__py_add_edit(s, f, at, at, einc__lint_printf(A, "%s%s", f->needs_import, eol));
    }
    /* The pattern stays as a trailing comment, once per line; not where the line's end lies
     * inside another call being fixed (`rearrange(a, ...) - rearrange(` and the rest of the
     * second call on the next lines), which the comment would cut. */
    uint32_t eol;
    if (f->end_pos.line != last_line && einc__py_eol(s, f->end, &eol)) {
      /* a line whose end is cut off: its patterns go with the next comment */
      const bool cut = einc__py_inside_fix(file, eol);
      einc_sbuf note = {0};
      einc__sbuf_puts(&note, "  # ");
      int k = 0;
      if (!cut && pending.len) {
        einc__sbuf_append(&note, pending.data, pending.len);
        k++;
      }
      for (int32_t j = i; j >= 0; j = next[j]) {
        einc__finding *g = &file->findings[j];
        if (!einc__py_fix_applies(s, g) && einc__py_fix_applies(s, f)) continue;
        einc__sbuf_puts(&note, k++ ? "; " : "");
        /* einops ignores spaces around the pattern; the comment need not keep them */
        const char *pat = g->pattern;
        size_t plen = strlen(pat);
        while (plen && *pat == ' ')
          pat++, plen--;
        while (plen && pat[plen - 1] == ' ')
          plen--;
        einc__sbuf_append(&note, pat, plen);
        if (g->reduction) einc__sbuf_printf(&note, " (%s)", g->reduction);
      }
      char *text = einc__sbuf_finish(&note);
      /* the line's trailing blanks would follow the comment: they go */
      uint32_t blank_end = eol;
      while (blank_end < s->file->len && (s->src[blank_end] == ' ' || s->src[blank_end] == '\t'))
        blank_end++;
      if (text && cut) {
        einc__sbuf_puts(&pending, pending.len ? "; " : "");
        einc__sbuf_puts(&pending, text + 4); /* without "  # " */
      } else if (text) {
        einc__py_add_edit(s, f, eol, blank_end, einc__lint_strdup(A, text));
        pending.len = 0;
      }
      einc__free(text);
      last_line = f->end_pos.line;
    }
    if (!einc__py_fix_applies(s, f)) continue;
    last_fix = f;
    n_applied++;
    if (s->n_fixed_ids == s->cap_fixed_ids) {
      int32_t cap = s->cap_fixed_ids ? 2 * s->cap_fixed_ids : 16;
      uint32_t *ids = einc__realloc(s->fixed_ids, sizeof *ids * (size_t)cap);
      if (!ids) continue;
      s->fixed_ids = ids;
      s->cap_fixed_ids = cap;
    }
    if (i < s->n_callee_ids) s->fixed_ids[s->n_fixed_ids++] = s->finding_callee_id[i];
  }
  if (last_fix && !s->has_error) {
    if (s->n_fixed_ids > 1)
      qsort(s->fixed_ids, (size_t)s->n_fixed_ids, sizeof *s->fixed_ids, einc__py_u32_cmp);
    einc__py_count_uses(s);
    einc__py_drop_imports(s, n_applied == 1 ? last_fix : NULL);
  }
  einc__sbuf_free(&pending);
  einc__free(next);
}

/* ---- entry ------------------------------------------------------------------------------- */

/* ---- parsing only what can matter ------------------------------------------------------- */

/* A top-level statement: bytes [start, end), starting at column 0 of line `row`. */
typedef struct einc__py_chunk {
  uint32_t start, end, row;
} einc__py_chunk;

static bool einc__py_continues(const char *p, const char *end) {
  static const char *const kw[] = {"else", "elif", "except", "finally"};
  for (size_t k = 0; k < sizeof kw / sizeof *kw; k++) {
    size_t n = strlen(kw[k]);
    if (p + n < end && !strncmp(p, kw[k], n) &&
        (p[n] == ':' || p[n] == ' ' || p[n] == '(' || p[n] == '*'))
      return true;
  }
  return false;
}

/* Splits the file into top-level statements with a small lexer (strings, comments, brackets,
 * line continuations), keeping decorators with what they decorate and else/except/finally with
 * their statement. Returns the count, or -1 when the file does not split cleanly. */
static int32_t einc__py_chunks(const char *src, size_t len, einc__py_chunk **out) {
  int32_t n = 0, cap = 64;
  einc__py_chunk *v = einc__malloc(sizeof *v * (size_t)cap);
  if (!v) return -1;
  uint32_t row = 0, start = 0, start_row = 0;
  int depth = 0;
  bool line_start = true;
  char head = 0; /* first character of the latest top-level line */
  size_t i = 0;
  while (i < len) {
    char c = src[i];
    if (line_start) {
      line_start = false;
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '#' && c != '\f') {
        if (i > start && head != '@' && !einc__py_continues(src + i, src + len)) {
          if (n == cap) {
            einc__py_chunk *w = einc__realloc(v, sizeof *v * (size_t)(cap *= 2));
            if (!w) goto fail;
            v = w;
          }
          v[n++] = (einc__py_chunk){start, (uint32_t)i, start_row};
          start = (uint32_t)i;
          start_row = row;
        }
        head = c;
      }
    }
    if (c == '#') {
      while (i < len && src[i] != '\n')
        i++;
      continue;
    }
    if (c == '\'' || c == '"') {
      bool triple = i + 2 < len && src[i + 1] == c && src[i + 2] == c;
      size_t q = triple ? 3 : 1;
      i += q;
      for (;;) {
        if (i >= len) goto fail; /* unterminated string */
        if (src[i] == '\\') {
          /* an escaped line end, LF or CRLF */
          size_t cr = i + 2 < len && src[i + 1] == '\r' && src[i + 2] == '\n';
          if (i + 1 + cr < len && src[i + 1 + cr] == '\n') row++;
          i += 2 + cr;
          continue;
        }
        if (src[i] == '\n') {
          if (!triple) goto fail; /* a syntax error: let the parser see all of it */
          row++;
        }
        if (src[i] == c && (!triple || (i + 2 < len && src[i + 1] == c && src[i + 2] == c))) {
          i += q;
          break;
        }
        i++;
      }
      continue;
    }
    if (c == '(' || c == '[' || c == '{') depth++;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) goto fail; /* a closer without an opener: a syntax error, as below */
      depth--;
    }
    /* a line continuation, LF or CRLF */
    size_t cr = i + 2 < len && src[i + 1] == '\r' && src[i + 2] == '\n';
    if (c == '\\' && i + 1 + cr < len && src[i + 1 + cr] == '\n') {
      i += 2 + cr;
      row++;
      continue;
    }
    if (c == '\n') {
      row++;
      if (depth == 0) line_start = true;
    }
    i++;
  }
  /* a bracket never closed: a syntax error in whichever statement, so the parser sees the whole
   * file (a statement not naming einops would not be parsed, and the error not reported) */
  if (depth > 0) goto fail;
  if (n == cap) {
    einc__py_chunk *w = einc__realloc(v, sizeof *v * (size_t)(cap + 1));
    if (!w) goto fail;
    v = w;
  }
  v[n++] = (einc__py_chunk){start, (uint32_t)len, start_row};
  *out = v;
  return n;
fail:
  einc__free(v);
  return -1;
}

/* Whether `word` occurs in s[0..n) as a whole identifier. */
static bool einc__py_has_word(const char *s, size_t n, const char *word) {
  size_t w = strlen(word);
  const char *p = s, *end = s + n;
  while (p < end && (p = memmem(p, (size_t)(end - p), word, w))) {
    bool before = p > s && einc__py_ident_char(p[-1]);
    bool after = p + w < end && einc__py_ident_char(p[w]);
    if (!before && !after) return true;
    p++;
  }
  return false;
}

/* The ranges of the chunks holding one of `needles`, for ts_parser_set_included_ranges. */
static uint32_t einc__py_ranges(const char *src, size_t len, const einc__py_chunk *ch, int32_t n,
                                const char *const *needles, int32_t n_needles, TSRange *out,
                                size_t *bytes) {
  uint32_t k = 0;
  *bytes = 0;
  for (int32_t i = 0; i < n; i++) {
    bool hit = false;
    for (int32_t j = 0; j < n_needles && !hit; j++)
      hit = einc__py_has_word(src + ch[i].start, ch[i].end - ch[i].start, needles[j]);
    if (!hit) continue;
    TSPoint end_point = {ch[i].row, 0};
    if (i + 1 < n) {
      end_point.row = ch[i + 1].row;
    } else {
      /* the file's last line may lack a newline */
      uint32_t b = ch[i].end;
      while (b > ch[i].start && src[b - 1] != '\n')
        b--;
      end_point.row = ch[i].row;
      for (uint32_t t = ch[i].start; t < b; t++)
        end_point.row += src[t] == '\n';
      end_point.column = ch[i].end - b;
    }
    out[k++] = (TSRange){{ch[i].row, 0}, end_point, ch[i].start, ch[i].end};
    *bytes += ch[i].end - ch[i].start;
  }
  (void)len;
  return k;
}

/* The module-level imports of a partly parsed file, read from the text of its top-level
 * statements: the parse leaves most of them out, and a fix must not add `import torch` a second
 * time. Items as einc__py_read_import sees them. */
static void einc__py_scan_imports(const char *src, const einc__py_chunk *ch, int32_t n,
                                  einc__py_arrays *arr) {
  for (int32_t i = 0; i < n; i++) {
    const char *p = src + ch[i].start, *end = src + ch[i].end;
    if (end - p > 5 && !memcmp(p, "from ", 5))
      einc__py_note_import(arr, p + 5, strcspn(p + 5, " \t\n"), false);
    if (end - p < 7 || memcmp(p, "import ", 7) != 0) continue;
    p += 7;
    while (p < end && *p != '\n' && *p != '#' && *p != ';') {
      while (p < end && (*p == ' ' || *p == '\t'))
        p++;
      const char *q = p;
      while (q < end && *q != ',' && *q != '\n' && *q != '#' && *q != ';')
        q++;
      const char *e = q;
      while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
      einc__py_note_import(arr, p, (size_t)(e - p), true);
      p = q < end && *q == ',' ? q + 1 : q;
    }
  }
}

/* Parses the file, or only the top-level statements that mention einops or a name bound by
 * an einops import: a module is mostly other code, and the parse is most of a scan's time.
 * Statements are independent, so parsing a subset gives the same trees for that subset. */
static TSTree *einc__py_parse(einc__py_ctx *ctx, const einc__lint_file *file, bool full,
                              einc__py_arrays *arrays) {
  enum { SMALL = 2048 };
  einc__py_chunk *ch = NULL;
  int32_t n = full || file->len < SMALL ? -1 : einc__py_chunks(file->src, file->len, &ch);
  TSRange *ranges = n > 1 ? einc__malloc(sizeof *ranges * (size_t)n) : NULL;
  TSTree *tree = NULL;
  if (n > 1) einc__py_scan_imports(file->src, ch, n, arrays);
  if (ranges) {
    /* First the statements naming einops: its imports say which other names to look for. */
    const char *needles[EINC__PY_MAX_ALIASES + 1] = {"einops"};
    int32_t n_needles = 1;
    size_t bytes;
    uint32_t k = einc__py_ranges(file->src, file->len, ch, n, needles, 1, ranges, &bytes);
    ts_parser_set_included_ranges(ctx->parser, ranges, k);
    TSTree *t1 = ts_parser_parse_string(ctx->parser, NULL, file->src, (uint32_t)file->len);
    einc__py_scan s1 = {.file = (einc__lint_file *)file, .src = file->src};
    if (t1) {
      ts_query_cursor_exec(ctx->cursor, ctx->query, ts_tree_root_node(t1));
      TSQueryMatch m;
      while (ts_query_cursor_next_match(ctx->cursor, &m))
        for (uint16_t i = 0; i < m.capture_count; i++)
          if (m.captures[i].index == ctx->cap_import) einc__py_read_import(&s1, m.captures[i].node);
      ts_tree_delete(t1);
    }
    for (int32_t a = 0; a < s1.n_aliases && n_needles <= EINC__PY_MAX_ALIASES; a++)
      needles[n_needles++] = s1.aliases[a].local;
    k = einc__py_ranges(file->src, file->len, ch, n, needles, n_needles, ranges, &bytes);
    /* Most of the file anyway: one plain parse. */
    if (bytes * 4 < file->len * 3) {
      ts_parser_set_included_ranges(ctx->parser, ranges, k);
      tree = ts_parser_parse_string(ctx->parser, NULL, file->src, (uint32_t)file->len);
    }
    ts_parser_set_included_ranges(ctx->parser, NULL, 0);
  }
  einc__free(ranges);
  einc__free(ch);
  if (!tree) tree = ts_parser_parse_string(ctx->parser, NULL, file->src, (uint32_t)file->len);
  return tree;
}

/* Says where the parser stopped understanding the file, once, also when no call was found: the
 * broken region may hide some, or the einops import itself. */
static void einc__py_report_syntax_error(einc__py_scan *s) {
  if (!s->has_error || !einc__lint_code_enabled(s->opts, EINC_LINT_EIN900)) return;
  TSNode e = s->root; /* down to the first error */
  for (;;) {
    bool found = false;
    for (uint32_t i = 0; i < ts_node_child_count(e); i++) {
      TSNode k = ts_node_child(e, i);
      if (ts_node_has_error(k) || ts_node_is_missing(k)) {
        e = k;
        found = true;
        break;
      }
    }
    if (!found || einc__node_is(e, "ERROR") || ts_node_is_missing(e)) break;
  }
  einc__finding *f =
      einc__lint_file_add(s->file, EINC_LINT_EIN900, ts_node_start_byte(e), ts_node_end_byte(e));
  if (f)
    f->message = "syntax error: einops calls in this region may be missed and are never fixed, "
                 "and imports are kept";
}

static int einc__py_finding_cmp(const void *a, const void *b) {
  const einc__finding *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end > y->end ? -1 : x->end < y->end; /* an outer call before the one inside it */
}

int einc__lint_python_file(einc__lint_file *file, const einc__lint_options *opts) {
  einc__py_ctx *ctx = einc__py_ctx_get();
  if (!ctx) {
    file->error = "cannot set up the Python parser (grammar ABI not supported?)";
    return EINC_ENOMEM;
  }
  einc__py_arrays arrays = {0}; /* what the text of a partly parsed file imports */
  TSTree *tree = einc__py_parse(ctx, file, opts->full_parse, &arrays);
  if (!tree) {
    file->error = "the Python parser gave up on this file";
    return EINC_ENOMEM;
  }
  einc__py_scan *s = einc__calloc(1, sizeof *s);
  if (!s) {
    ts_tree_delete(tree);
    return EINC_ENOMEM;
  }
  s->file = file;
  s->opts = opts;
  s->src = file->src;
  s->root = ts_tree_root_node(tree);
  s->has_error = ts_node_has_error(s->root);
  s->arrays = arrays;

  /* One pass of the query: imports and comments first (calls need both), calls after. */
  TSNode *calls = NULL; /* call, callee, arguments */
  int32_t n_calls = 0, cap_calls = 0;
  ts_query_cursor_exec(ctx->cursor, ctx->query, s->root);
  TSQueryMatch m;
  while (ts_query_cursor_next_match(ctx->cursor, &m)) {
    TSNode call = {0}, callee = {0}, args = {0};
    for (uint16_t i = 0; i < m.capture_count; i++) {
      uint32_t id = m.captures[i].index;
      TSNode n = m.captures[i].node;
      if (id == ctx->cap_import) {
        einc__py_read_import(s, n);
      } else if (id == ctx->cap_comment) {
        if (s->n_comments == s->cap_comments) {
          int32_t cap = s->cap_comments ? 2 * s->cap_comments : 32;
          TSNode *c = einc__realloc(s->comments, sizeof *c * (size_t)cap);
          if (!c) continue;
          s->comments = c;
          s->cap_comments = cap;
        }
        s->comments[s->n_comments++] = n;
      } else if (id == ctx->cap_call) {
        call = n;
      } else if (id == ctx->cap_callee) {
        callee = n;
      } else if (id == ctx->cap_args) {
        args = n;
      }
    }
    if (!ts_node_is_null(call)) {
      if (n_calls == cap_calls) {
        int32_t cap = cap_calls ? 2 * cap_calls : 256;
        TSNode *grown = einc__realloc(calls, sizeof *calls * 3 * (size_t)cap);
        if (!grown) {
          file->oom = true; /* reported as out of memory, never as a clean file */
          goto done;
        }
        calls = grown;
        cap_calls = cap;
      }
      calls[3 * n_calls] = call;
      calls[3 * n_calls + 1] = callee;
      calls[3 * n_calls + 2] = args;
      n_calls++;
    }
  }
  if (s->n_aliases == 0) { /* (the file mentions einops: maybe in a broken import) */
    einc__py_report_syntax_error(s);
    goto done;
  }

  for (int32_t i = 0; i < n_calls; i++) {
    einc__py_call c = {.call = calls[3 * i], .callee = calls[3 * i + 1], .args = calls[3 * i + 2]};
    char target[256];
    c.alias = einc__py_resolve(s, c.callee, target, sizeof target, &c.root_id);
    if (c.alias < 0) continue;
    c.scope = einc__py_scope_of(c.call);
    if (einc__py_shadowed(s, c.scope, c.alias)) continue;
    c.op = einc__py_einops_op(target);
    if (!c.op || !einc__py_read_args(s, &c)) continue;
    c.target = target;
    einc__py_call_site(s, &c);
  }
  einc__py_report_syntax_error(s);
  einc__py_make_edits(s);
  /* Report in source order (invalid patterns and the syntax error were found out of order). */
  if (file->n_findings > 1)
    qsort(file->findings, (size_t)file->n_findings, sizeof *file->findings, einc__py_finding_cmp);

done:
  einc__free(calls);
  einc__free(s->comments);
  einc__free(s->fixed_ids);
  einc__free(s->finding_callee_id);
  einc__free(s->module_origins.names);
  einc__free(s->module_origins.sets);
  einc__free(s->scope_origins.names);
  einc__free(s->scope_origins.sets);
  einc__free(s);
  ts_tree_delete(tree);
  return file->oom ? EINC_ENOMEM : EINC_OK;
}

/*
 * The C / C++ / CUDA scanner: parses a source with libclang (flags from compile_commands.json,
 * or given explicitly) and finds calls of the run-time pattern API (einc_rt_rearrange,
 * einc_rt_reduce, einc_rt_repeat). A call whose pattern, reduction, dtype and rank are constants
 * libclang can evaluate (literals, macros, const variables) and whose axis sizes are an
 * EINC_RT_SIZES list (or NULL) gets a fix: the call becomes a call of a function that `einc gen`
 * generates at build time, the pattern goes into the project's manifest as a new entry and the
 * generated header is #included. A call with a non-constant pattern is reported, never fixed.
 * The fixes can also be exported as YAML for clang-apply-replacements.
 */
#include <clang-c/CXCompilationDatabase.h>
#include <clang-c/Index.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen.h"
#include "lint.h"

/* ---------------------------------------------------------------------------------------------
 * Configuration: compile flags, compilation database, manifest
 * ------------------------------------------------------------------------------------------- */

static pthread_mutex_t scan__lock = PTHREAD_MUTEX_INITIALIZER;
/* `einc gen` sources: where the entries of fixable calls go (NULL when linting). */
static einc__manifest *scan__collect_into;
static struct {
  char *compdb_dir;
  int n_flags;
  char **flags;
  char *manifest;
} scan__cfg;

void einc__lint_c_configure(const char *compdb_dir, int n_flags, const char *const *flags,
                            const char *manifest) {
  pthread_mutex_lock(&scan__lock);
  free(scan__cfg.compdb_dir);
  free(scan__cfg.manifest);
  for (int i = 0; i < scan__cfg.n_flags; i++)
    free(scan__cfg.flags[i]);
  free(scan__cfg.flags);
  memset(&scan__cfg, 0, sizeof scan__cfg);
  scan__cfg.compdb_dir = compdb_dir ? strdup(compdb_dir) : NULL;
  scan__cfg.manifest = manifest ? strdup(manifest) : NULL;
  if (n_flags > 0 && (scan__cfg.flags = calloc((size_t)n_flags, sizeof(char *))) != NULL) {
    for (int i = 0; i < n_flags; i++)
      scan__cfg.flags[i] = strdup(flags[i]);
    scan__cfg.n_flags = n_flags;
  }
  pthread_mutex_unlock(&scan__lock);
}

static void scan__dirname(const char *path, char *out, size_t n) {
  char abs[PATH_MAX];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  snprintf(out, n, "%s", abs);
  char *slash = strrchr(out, '/');
  if (slash && slash != out)
    *slash = '\0';
  else if (slash)
    slash[1] = '\0';
  else
    snprintf(out, n, ".");
}

/* The folder holding compile_commands.json for `path`: the configured one, else the nearest
 * ancestor folder (or its build/) that has one, as clang's tools look for it. */
static bool scan__find_compdb(const char *path, char *out, size_t n) {
  if (scan__cfg.compdb_dir) {
    snprintf(out, n, "%s", scan__cfg.compdb_dir);
    return true;
  }
  char dir[PATH_MAX], probe[PATH_MAX + 64];
  scan__dirname(path, dir, sizeof dir);
  for (;;) {
    static const char *const subs[] = {"", "/build"};
    for (int s = 0; s < 2; s++) {
      snprintf(probe, sizeof probe, "%s%s/compile_commands.json", dir, subs[s]);
      if (access(probe, R_OK) == 0) return snprintf(out, n, "%s%s", dir, subs[s]) < (int)n;
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return false;
    *slash = '\0';
  }
}

typedef struct scan__args {
  int n;
  char *v[512];
} scan__args;

static void scan__push(scan__args *a, const char *s) {
  if (a->n < (int)(sizeof a->v / sizeof *a->v)) a->v[a->n++] = strdup(s);
}

static void scan__args_free(scan__args *a) {
  for (int i = 0; i < a->n; i++)
    free(a->v[i]);
  a->n = 0;
}

/* Compile flags for `path`: explicit flags, or the compilation database's command with the
 * compiler, the output and the input dropped and relative include folders made absolute. */
static void scan__flags_for(const char *path, scan__args *out) {
  pthread_mutex_lock(&scan__lock);
  for (int i = 0; i < scan__cfg.n_flags; i++)
    scan__push(out, scan__cfg.flags[i]);
  bool explicit = scan__cfg.n_flags > 0;
  char dbdir[PATH_MAX];
  bool have_db = !explicit && scan__find_compdb(path, dbdir, sizeof dbdir);
  pthread_mutex_unlock(&scan__lock);
  if (!have_db) return;

  CXCompilationDatabase_Error dberr;
  CXCompilationDatabase db = clang_CompilationDatabase_fromDirectory(dbdir, &dberr);
  if (dberr != CXCompilationDatabase_NoError) return;
  char abs[PATH_MAX];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  CXCompileCommands cmds = clang_CompilationDatabase_getCompileCommands(db, abs);
  if (cmds && clang_CompileCommands_getSize(cmds) > 0) {
    CXCompileCommand cmd = clang_CompileCommands_getCommand(cmds, 0);
    CXString wd = clang_CompileCommand_getDirectory(cmd);
    const char *dir = clang_getCString(wd);
    unsigned n = clang_CompileCommand_getNumArgs(cmd);
    for (unsigned i = 1; i < n; i++) {
      CXString s = clang_CompileCommand_getArg(cmd, i);
      const char *a = clang_getCString(s);
      char buf[PATH_MAX + 16];
      if (!strcmp(a, "-c")) {
      } else if (!strcmp(a, "-o") && i + 1 < n) {
        i++;
      } else if (a[0] != '-' && (strstr(abs, a) || strstr(a, abs))) {
        /* the input itself */
      } else if (!strncmp(a, "-I", 2) && a[2] && a[2] != '/') {
        snprintf(buf, sizeof buf, "-I%s/%s", dir, a + 2);
        scan__push(out, buf);
      } else if ((!strcmp(a, "-I") || !strcmp(a, "-isystem") || !strcmp(a, "-iquote")) &&
                 i + 1 < n) {
        scan__push(out, a);
        CXString v = clang_CompileCommand_getArg(cmd, ++i);
        const char *p = clang_getCString(v);
        if (p[0] != '/')
          snprintf(buf, sizeof buf, "%s/%s", dir, p);
        else
          snprintf(buf, sizeof buf, "%s", p);
        scan__push(out, buf);
        clang_disposeString(v);
      } else {
        scan__push(out, a);
      }
      clang_disposeString(s);
    }
    clang_disposeString(wd);
  }
  clang_CompileCommands_dispose(cmds);
  clang_CompilationDatabase_dispose(db);
}

/* The manifest the fixes add to, and the header `einc gen` makes of it. */
static void scan__manifest_for(const char *path, char *out, size_t n) {
  pthread_mutex_lock(&scan__lock);
  const char *m = scan__cfg.manifest;
  if (!m) m = getenv("EINC_MANIFEST");
  if (m && *m) {
    snprintf(out, n, "%s", m);
    pthread_mutex_unlock(&scan__lock);
    return;
  }
  pthread_mutex_unlock(&scan__lock);
  char dir[PATH_MAX], probe[PATH_MAX + 32];
  scan__dirname(path, dir, sizeof dir);
  char start[PATH_MAX];
  snprintf(start, sizeof start, "%s", dir);
  for (;;) {
    snprintf(probe, sizeof probe, "%s/einc_patterns.einc", dir);
    if (access(probe, F_OK) == 0 && snprintf(out, n, "%s", probe) < (int)n) return;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) break;
    *slash = '\0';
  }
  if (snprintf(out, n, "%s/einc_patterns.einc", start) >= (int)n)
    snprintf(out, n, "einc_patterns.einc");
}

static void scan__header_for(const char *manifest, char *out, size_t n) {
  const char *base = strrchr(manifest, '/');
  base = base ? base + 1 : manifest;
  snprintf(out, n, "%s", base);
  char *dot = strrchr(out, '.');
  if (dot && dot != out) *dot = '\0';
  size_t l = strlen(out);
  snprintf(out + l, n - l, ".h");
}

void einc__lint_c_collect(einc__manifest *into) {
  pthread_mutex_lock(&scan__lock);
  scan__collect_into = into;
  pthread_mutex_unlock(&scan__lock);
}

/* Add `entry` to the collecting manifest (einc gen) unless it is there. */
static int scan__collect_entry(const einc__gen_entry *entry) {
  int status = EINC_OK;
  pthread_mutex_lock(&scan__lock);
  einc__manifest *m = scan__collect_into;
  bool have = false;
  for (int32_t i = 0; m && i < m->n_entries && !have; i++)
    have = !strcmp(m->entries[i].name, entry->name);
  if (m && !have) {
    if (m->n_entries == m->cap) {
      int32_t cap = m->cap ? 2 * m->cap : 8;
      einc__gen_entry *p = realloc(m->entries, (size_t)cap * sizeof *p);
      if (!p)
        status = EINC_ENOMEM;
      else {
        m->entries = p;
        m->cap = cap;
      }
    }
    if (status == EINC_OK) m->entries[m->n_entries++] = *entry;
  }
  pthread_mutex_unlock(&scan__lock);
  return status;
}

/* Add `entry` to the manifest unless an entry of that name is there; atomic. */
static int scan__manifest_add(const char *manifest, const einc__gen_entry *entry, char *why,
                              size_t why_len) {
  pthread_mutex_lock(&scan__lock);
  size_t len = 0;
  char *text = einc__read_file(manifest, &len);
  einc__manifest m = {0};
  char err[512];
  int status = EINC_OK;
  if (text && einc__manifest_parse(&m, manifest, text, len, err, sizeof err) != EINC_OK) {
    snprintf(why, why_len, "%s", err);
    status = EINC_EINVAL;
    goto done;
  }
  for (int32_t i = 0; i < m.n_entries; i++)
    if (!strcmp(m.entries[i].name, entry->name)) goto done;
  einc_sbuf b;
  einc__sbuf_init(&b);
  if (text) {
    einc__sbuf_append(&b, text, len);
    if (len && text[len - 1] != '\n') einc__sbuf_puts(&b, "\n");
  } else {
    einc__sbuf_puts(&b, "# Patterns compiled at build time by `einc gen` (CMake: einc_generate).\n"
                        "# Entries are added by `einc lint --fix`; see einc's README.\n");
  }
  einc__sbuf_puts(&b, "\n");
  einc__manifest_format_entry(&b, entry);
  if (b.failed) {
    status = EINC_ENOMEM;
  } else if (einc__rewrite_file(manifest, b.data, b.len, why, why_len) != EINC_OK) {
    /* a new manifest: there is no old file to replace */
    if (access(manifest, F_OK) != 0 && einc__write_file_atomic(manifest, b.data, b.len) == EINC_OK)
      status = EINC_OK;
    else
      status = EINC_EINVAL;
  }
  einc__sbuf_free(&b);
done:
  einc__manifest_free(&m);
  free(text);
  pthread_mutex_unlock(&scan__lock);
  return status;
}

/* ---------------------------------------------------------------------------------------------
 * The scan
 * ------------------------------------------------------------------------------------------- */

typedef struct scan__call {
  CXCursor cursor;
  einc_op op;
} scan__call;

typedef struct scan__state {
  einc__lint_file *file;
  CXFile main_file;
  int32_t n_calls, cap_calls;
  scan__call *calls;
} scan__state;

static enum CXChildVisitResult scan__visit(CXCursor c, CXCursor parent, CXClientData data) {
  (void)parent;
  scan__state *st = data;
  if (clang_getCursorKind(c) == CXCursor_CallExpr) {
    CXString name = clang_getCursorSpelling(c);
    const char *s = clang_getCString(name);
    einc_op op = EINC_OP_EINSUM;
    if (!strcmp(s, "einc_rt_rearrange"))
      op = EINC_OP_REARRANGE;
    else if (!strcmp(s, "einc_rt_reduce"))
      op = EINC_OP_REDUCE;
    else if (!strcmp(s, "einc_rt_repeat"))
      op = EINC_OP_REPEAT;
    clang_disposeString(name);
    CXFile where = NULL;
    if (op != EINC_OP_EINSUM)
      clang_getExpansionLocation(clang_getCursorLocation(c), &where, NULL, NULL, NULL);
    /* in this file: where it is written, or where the macro that writes it is used */
    if (op != EINC_OP_EINSUM && where && st->main_file &&
        clang_File_isEqual(where, st->main_file)) {
      if (st->n_calls == st->cap_calls) {
        int32_t cap = st->cap_calls ? st->cap_calls * 2 : 16;
        scan__call *p = realloc(st->calls, (size_t)cap * sizeof *p);
        if (!p) return CXChildVisit_Break;
        st->calls = p;
        st->cap_calls = cap;
      }
      st->calls[st->n_calls++] = (scan__call){c, op};
    }
  }
  return CXChildVisit_Recurse;
}

/* Byte offsets of a cursor in the main file (expansion locations: where a macro is used). */
static bool scan__range(CXCursor c, bool spelling, uint32_t *start, uint32_t *end) {
  CXSourceRange r = clang_getCursorExtent(c);
  CXFile f1, f2;
  unsigned o1, o2;
  if (spelling) {
    clang_getSpellingLocation(clang_getRangeStart(r), &f1, NULL, NULL, &o1);
    clang_getSpellingLocation(clang_getRangeEnd(r), &f2, NULL, NULL, &o2);
  } else {
    clang_getExpansionLocation(clang_getRangeStart(r), &f1, NULL, NULL, &o1);
    clang_getExpansionLocation(clang_getRangeEnd(r), &f2, NULL, NULL, &o2);
  }
  if (!f1 || !f2 || !clang_File_isEqual(f1, f2) || o2 < o1) return false;
  *start = o1;
  *end = o2;
  return true;
}

/* Whether a cursor's extent is written out in the file (not produced by a macro). */
static bool scan__in_file(CXCursor c) {
  uint32_t a, b, s, e;
  return scan__range(c, false, &a, &b) && scan__range(c, true, &s, &e) && a == s && b == e;
}

typedef struct scan__first {
  CXCursor c;
  int n;
} scan__first;

static enum CXChildVisitResult scan__first_child(CXCursor c, CXCursor parent, CXClientData d) {
  (void)parent;
  scan__first *f = d;
  if (f->n++ == 0) f->c = c;
  return CXChildVisit_Continue;
}

static CXCursor scan__child(CXCursor c, int *count) {
  scan__first f = {clang_getNullCursor(), 0};
  clang_visitChildren(c, scan__first_child, &f);
  if (count) *count = f.n;
  return f.c;
}

/* A string constant: a literal, a macro, or a const variable with a literal initializer. */
static bool scan__eval_string(CXCursor c, char *out, size_t n) {
  for (int depth = 0; depth < 8; depth++) {
    CXEvalResult r = clang_Cursor_Evaluate(c);
    if (r) {
      bool ok = clang_EvalResult_getKind(r) == CXEval_StrLiteral;
      if (ok) snprintf(out, n, "%s", clang_EvalResult_getAsStr(r));
      clang_EvalResult_dispose(r);
      if (ok) return true;
    }
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_DeclRefExpr) {
      CXCursor d = clang_getCursorReferenced(c);
      if (clang_getCursorKind(d) != CXCursor_VarDecl) return false;
      CXType t = clang_getCursorType(d);
      bool konst = clang_isConstQualifiedType(t) ||
                   (t.kind == CXType_ConstantArray &&
                    clang_isConstQualifiedType(clang_getArrayElementType(t)));
      if (!konst) return false;
      int nc = 0;
      CXCursor init = scan__child(d, &nc);
      if (nc == 0) return false;
      /* the initializer is the last child; for `const char P[] = "..."` the only one */
      c = init;
      continue;
    }
    if (k == CXCursor_StringLiteral) {
      /* libclang evaluates a literal in an expression, not one initialising an array: read the
       * token, a plain "..." without escapes (patterns need none) */
      CXString sp = clang_getCursorSpelling(c);
      const char *t = clang_getCString(sp);
      size_t l = strlen(t);
      bool ok = l >= 2 && t[0] == '"' && t[l - 1] == '"' && !memchr(t + 1, '"', l - 2) &&
                !memchr(t + 1, '\\', l - 2) && l - 2 < n;
      if (ok) snprintf(out, n, "%.*s", (int)(l - 2), t + 1);
      clang_disposeString(sp);
      return ok;
    }
    if (k == CXCursor_UnexposedExpr || k == CXCursor_ParenExpr) {
      int nc = 0;
      CXCursor ch = scan__child(c, &nc);
      if (nc == 0) return false;
      c = ch;
      continue;
    }
    return false;
  }
  return false;
}

static bool scan__eval_int(CXCursor c, int64_t *out) {
  CXEvalResult r = clang_Cursor_Evaluate(c);
  if (!r) return false;
  bool ok = clang_EvalResult_getKind(r) == CXEval_Int;
  if (ok) *out = (int64_t)clang_EvalResult_getAsLongLong(r);
  clang_EvalResult_dispose(r);
  return ok;
}

typedef struct scan__kids {
  int n;
  CXCursor c[64];
} scan__kids;

static enum CXChildVisitResult scan__collect(CXCursor c, CXCursor parent, CXClientData d) {
  (void)parent;
  scan__kids *k = d;
  if (k->n < 64) k->c[k->n++] = c;
  return CXChildVisit_Continue;
}

/* NULL, 0, nullptr, (void *)0 ... */
static bool scan__is_null(CXCursor c) {
  for (int depth = 0; depth < 8; depth++) {
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_GNUNullExpr || k == CXCursor_CXXNullPtrLiteralExpr) return true;
    if (k == CXCursor_IntegerLiteral) {
      int64_t v;
      return scan__eval_int(c, &v) && v == 0;
    }
    if (k != CXCursor_UnexposedExpr && k != CXCursor_ParenExpr && k != CXCursor_CStyleCastExpr &&
        k != CXCursor_CXXStaticCastExpr && k != CXCursor_CXXReinterpretCastExpr)
      return false;
    int n = 0;
    CXCursor child = scan__child(c, &n);
    if (n == 0) return false;
    /* a cast's operand is its last child (a type reference may come first) */
    scan__kids kids = {0};
    clang_visitChildren(c, scan__collect, &kids);
    c = kids.n ? kids.c[kids.n - 1] : child;
  }
  return false;
}

/* Find the InitListExpr of an EINC_RT_SIZES(...) compound literal (through casts). */
static bool scan__init_list(CXCursor c, CXCursor *out) {
  for (int depth = 0; depth < 8; depth++) {
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_InitListExpr) {
      *out = c;
      return true;
    }
    if (k != CXCursor_UnexposedExpr && k != CXCursor_ParenExpr &&
        k != CXCursor_CompoundLiteralExpr && k != CXCursor_CStyleCastExpr)
      return false;
    scan__kids kids = {0};
    clang_visitChildren(c, scan__collect, &kids);
    if (kids.n == 0) return false;
    c = kids.c[kids.n - 1];
  }
  return false;
}

typedef struct scan__sizes {
  int32_t n;
  char names[EINC_GEN_MAX_KWARGS][32];
  int64_t values[EINC_GEN_MAX_KWARGS]; /* EINC_UNKNOWN: run-time, `exprs` has the source */
  uint32_t expr_start[EINC_GEN_MAX_KWARGS], expr_end[EINC_GEN_MAX_KWARGS];
} scan__sizes;

/* The sizes argument: NULL, or EINC_RT_SIZES({"h", 8}, ...). false: not understood. */
static bool scan__eval_sizes(CXCursor arg, scan__sizes *out) {
  out->n = 0;
  if (scan__is_null(arg)) return true;
  CXCursor list;
  if (!scan__init_list(arg, &list)) return false;
  scan__kids items = {0};
  clang_visitChildren(list, scan__collect, &items);
  for (int i = 0; i < items.n; i++) {
    scan__kids kv = {0};
    clang_visitChildren(items.c[i], scan__collect, &kv);
    if (clang_getCursorKind(items.c[i]) != CXCursor_InitListExpr || kv.n != 2) return false;
    char name[64];
    if (!scan__eval_string(kv.c[0], name, sizeof name)) {
      if (scan__is_null(kv.c[0]) && i == items.n - 1) break; /* the {NULL, 0} terminator */
      return false;
    }
    if (out->n == EINC_GEN_MAX_KWARGS || strlen(name) >= sizeof out->names[0]) return false;
    snprintf(out->names[out->n], sizeof out->names[0], "%s", name);
    int64_t v;
    if (scan__eval_int(kv.c[1], &v) && v >= 0) {
      out->values[out->n] = v;
    } else {
      out->values[out->n] = EINC_UNKNOWN;
      if (!scan__range(kv.c[1], true, &out->expr_start[out->n], &out->expr_end[out->n]))
        return false;
    }
    out->n++;
  }
  return true;
}

static uint64_t scan__hash(const einc__gen_entry *e) {
  uint64_t h = 1469598103934665603ull;
  char buf[EINC_MAX_PATTERN + 256];
  int n = snprintf(buf, sizeof buf, "%d|%s|%s|%d|%d|", (int)e->op, e->pattern, e->reduction,
                   (int)e->dtype, e->shape.rank);
  for (int32_t k = 0; k < e->n_kwargs && n > 0 && (size_t)n < sizeof buf; k++)
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s=%" PRId64 ",", e->kw_names[k],
                  e->kw_values[k]);
  for (int i = 0; i < n && (size_t)i < sizeof buf; i++)
    h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
  return h;
}

/* Where to #include the generated header: after the last #include line, else at the top. */
static uint32_t scan__include_at(const char *src, size_t len) {
  uint32_t at = 0;
  size_t i = 0;
  while (i < len) {
    size_t e = i;
    while (e < len && src[e] != '\n')
      e++;
    size_t b = i;
    while (b < e && (src[b] == ' ' || src[b] == '\t'))
      b++;
    if (e - b >= 8 && !strncmp(src + b, "#include", 8)) at = (uint32_t)(e < len ? e + 1 : e);
    i = e + 1;
  }
  return at;
}

static const char *scan__api_name(einc_op op) {
  return op == EINC_OP_REDUCE   ? "einc_rt_reduce"
         : op == EINC_OP_REPEAT ? "einc_rt_repeat"
                                : "einc_rt_rearrange";
}

static einc_lint_code scan__code(einc_op op) {
  return op == EINC_OP_REDUCE   ? EINC_LINT_EIN002
         : op == EINC_OP_REPEAT ? EINC_LINT_EIN003
                                : EINC_LINT_EIN001;
}

static char *scan__src(einc__lint_file *f, uint32_t a, uint32_t b) {
  return einc__lint_strndup(f, f->src + a, b - a);
}

/* One call: report it, and fix it when everything the generated function needs is constant. */
static int scan__call_one(einc__lint_file *file, const einc__lint_options *opts, scan__call *call,
                          bool file_ok, const char *manifest, const char *header,
                          bool *include_added) {
  CXCursor c = call->cursor;
  uint32_t cs, ce;
  if (!scan__range(c, false, &cs, &ce) || ce > file->len) {
    /* written by a macro: point at where the macro is used (and never edit it) */
    CXFile f;
    unsigned off = 0;
    clang_getExpansionLocation(clang_getCursorLocation(c), &f, NULL, NULL, &off);
    if (off >= file->len) return EINC_OK;
    cs = off;
    ce = off + 1;
  }
  /* rearrange/repeat(pattern, dtype, in, rank, shape, out, sizes);
   * reduce(pattern, reduction, dtype, in, rank, shape, out, sizes) */
  int base = call->op == EINC_OP_REDUCE ? 1 : 0;
  int nargs = clang_Cursor_getNumArguments(c);
  const char *api = scan__api_name(call->op);
  einc__finding *f = NULL;
  if (nargs != 7 + base) {
    f = einc__lint_file_add(file, EINC_LINT_EIN201, cs, ce);
    if (!f) return EINC_ENOMEM;
    f->message = einc__lint_printf(file, "%s called with %d arguments; not understood", api, nargs);
    f->op = api;
    return EINC_OK;
  }
  CXCursor a_pat = clang_Cursor_getArgument(c, 0);
  einc__gen_entry en;
  memset(&en, 0, sizeof en);
  en.op = call->op;
  en.targets = EINC_GEN_TARGET_C;
  uint32_t ps = 0, pe = 0;
  scan__range(a_pat, false, &ps, &pe);
  if (!scan__eval_string(a_pat, en.pattern, sizeof en.pattern)) {
    f = einc__lint_file_add(file, EINC_LINT_EIN201, ps < pe ? ps : cs, ps < pe ? pe : ce);
    if (!f) return EINC_ENOMEM;
    f->message = einc__lint_printf(
        file,
        "the pattern of %s is not a constant: it is parsed at run time and cannot be "
        "compiled ahead",
        api);
    f->op = api;
    return EINC_OK;
  }
  f = einc__lint_file_add(file, scan__code(call->op), cs, ce);
  if (!f) return EINC_ENOMEM;
  f->op = api;
  f->pattern = einc__lint_strdup(file, en.pattern);
  const char *why_not = NULL;
  if (call->op == EINC_OP_REDUCE) {
    CXCursor a_red = clang_Cursor_getArgument(c, 1);
    uint32_t rs, re;
    if (scan__range(a_red, false, &rs, &re)) f->reduction = scan__src(file, rs, re);
    if (!scan__eval_string(a_red, en.reduction, sizeof en.reduction)) {
      f->code = EINC_LINT_EIN203;
      why_not = "the reduction is not a constant";
    }
  }
  int64_t dt = -1, rank = -1;
  if (!why_not && !scan__eval_int(clang_Cursor_getArgument(c, base + 1), &dt))
    why_not = "the dtype is not a constant";
  if (!why_not && !scan__eval_int(clang_Cursor_getArgument(c, base + 3), &rank))
    why_not = "the rank is not a constant";
  static const einc_dtype dtypes[] = {EINC_F32, EINC_BF16, EINC_F16};
  if (!why_not && (dt < 0 || dt > 2)) why_not = "unknown dtype";
  if (!why_not && (rank < 0 || rank > EINC_MAX_RANK)) why_not = "the rank is out of range";
  scan__sizes sizes;
  if (!why_not && !scan__eval_sizes(clang_Cursor_getArgument(c, base + 6), &sizes)) {
    f->code = EINC_LINT_EIN204;
    why_not = "the axis sizes are not an EINC_RT_SIZES(...) list or NULL";
  }
  if (!why_not) {
    en.dtype = dtypes[dt];
    en.shape.rank = (int32_t)rank;
    for (int32_t d = 0; d < en.shape.rank; d++)
      en.shape.dims[d] = EINC_UNKNOWN;
    en.n_kwargs = sizes.n;
    f->n_sizes = sizes.n;
    f->size_names = einc__lint_alloc(file, sizeof(char *) * (size_t)(sizes.n + 1));
    f->size_sources = einc__lint_alloc(file, sizeof(char *) * (size_t)(sizes.n + 1));
    if (!f->size_names || !f->size_sources) return EINC_ENOMEM;
    for (int32_t k = 0; k < sizes.n; k++) {
      snprintf(en.kw_names[k], sizeof en.kw_names[k], "%s", sizes.names[k]);
      en.kw_values[k] = sizes.values[k];
      f->size_names[k] = einc__lint_strdup(file, sizes.names[k]);
      f->size_sources[k] = sizes.values[k] == EINC_UNKNOWN
                               ? scan__src(file, sizes.expr_start[k], sizes.expr_end[k])
                               : einc__lint_printf(file, "%" PRId64, sizes.values[k]);
    }
    /* The pattern must compile for this rank and these sizes. */
    einc_spec spec;
    einc_kwarg kw[EINC_GEN_MAX_KWARGS];
    einc__gen_entry_spec(&en, &spec, kw);
    einc_plan *plan = NULL;
    einc_error err = {0};
    if (einc_plan_new(&spec, &plan, &err) != EINC_OK) {
      f->code =
          strcmp(einc_error_stage(err.kind), "parse") == 0 ? EINC_LINT_EIN101 : EINC_LINT_EIN102;
      f->message = einc__lint_printf(file, "%s(\"%s\") always fails: error[%s]: %s", api,
                                     en.pattern, einc_error_key(err.kind), err.message);
      return EINC_OK;
    }
    einc_plan_delete(plan);
  }
  if (why_not) {
    f->message = einc__lint_printf(file, "%s parses \"%s\" at run time; not fixed: %s", api,
                                   en.pattern, why_not);
    return EINC_OK;
  }
  snprintf(en.name, sizeof en.name, "einc_%s_%08" PRIx32, einc_op_name(en.op),
           (uint32_t)(scan__hash(&en) >> 32));
  f->message = einc__lint_printf(file,
                                 "%s parses \"%s\" at run time; `einc gen` can compile it into "
                                 "%s() at build time",
                                 api, en.pattern, en.name);
  if (scan__collect_into && scan__collect_entry(&en) != EINC_OK) return EINC_ENOMEM;
  /* Edit only a call written out in this file: its text starts with the function's name and
   * ends with the closing parenthesis (a macro that writes the call is reported, not edited). */
  size_t api_len = strlen(api);
  bool written =
      ce > cs + api_len && !strncmp(file->src + cs, api, api_len) && file->src[ce - 1] == ')';
  if (!written || !scan__in_file(c)) {
    f->message = einc__lint_printf(file,
                                   "%s parses \"%s\" at run time; not fixed: the call is "
                                   "written by a macro",
                                   api, en.pattern);
    return EINC_OK;
  }
  if (!file_ok) return EINC_OK;

  /* The replacement: NAME(in, shape, out[, run-time sizes]). */
  uint32_t as[3], ae[3];
  int idx[3] = {base + 2, base + 4, base + 5};
  for (int i = 0; i < 3; i++)
    if (!scan__range(clang_Cursor_getArgument(c, idx[i]), false, &as[i], &ae[i]) ||
        as[i] >= ae[i] || as[i] < cs || ae[i] > ce)
      return EINC_OK;
  einc_sbuf r;
  einc__sbuf_init(&r);
  einc__sbuf_printf(&r, "%s(%.*s, %.*s, %.*s", en.name, (int)(ae[0] - as[0]), file->src + as[0],
                    (int)(ae[1] - as[1]), file->src + as[1], (int)(ae[2] - as[2]),
                    file->src + as[2]);
  for (int32_t k = 0; k < sizes.n; k++)
    if (sizes.values[k] == EINC_UNKNOWN)
      einc__sbuf_printf(&r, ", %.*s", (int)(sizes.expr_end[k] - sizes.expr_start[k]),
                        file->src + sizes.expr_start[k]);
  einc__sbuf_puts(&r, ")");
  if (r.failed) {
    einc__sbuf_free(&r);
    return EINC_ENOMEM;
  }
  f->replacement = einc__lint_strndup(file, r.data, r.len);
  einc__sbuf_free(&r);
  f->has_fix = true;
  f->safety = EINC_FIX_SAFE;
  f->fix_note = "the generated function returns the same status codes but does not set "
                "einc_rt_last_error()";
  char inc_line[PATH_MAX + 32];
  snprintf(inc_line, sizeof inc_line, "#include \"%s\"", header);
  bool need_include = !*include_added && !strstr(file->src, inc_line);
  f->n_edits = need_include ? 2 : 1;
  f->edits = einc__lint_alloc(file, sizeof(einc__edit) * 2);
  if (!f->edits || !f->replacement) return EINC_ENOMEM;
  f->edits[0] = (einc__edit){cs, ce, f->replacement};
  if (need_include) {
    uint32_t at = scan__include_at(file->src, file->len);
    f->edits[1] = (einc__edit){at, at, einc__lint_printf(file, "%s\n", inc_line)};
    *include_added = true;
  }
  /* The manifest gets the entry when the fix is applied for real (not for --diff). */
  if (opts->fix && !opts->diff) {
    char why[512] = "";
    if (scan__manifest_add(manifest, &en, why, sizeof why) != EINC_OK) {
      f->has_fix = false;
      f->message =
          einc__lint_printf(file, "%s; not fixed: cannot update %s: %s", f->message, manifest, why);
    }
  }
  return EINC_OK;
}

int einc__lint_c_file(einc__lint_file *file, const einc__lint_options *opts) {
  scan__args args = {0};
  scan__flags_for(file->path, &args);
  const char *dot = strrchr(file->path, '.');
  if (dot && (!strcmp(dot, ".cu") || !strcmp(dot, ".cuh"))) {
    bool has_x = false, no_inc = false;
    for (int i = 0; i < args.n; i++) {
      if (!strcmp(args.v[i], "-x")) has_x = true;
      if (!strcmp(args.v[i], "-nocudainc")) no_inc = true;
    }
    if (!has_x) {
      /* host-side CUDA without the toolkit's headers (clang 14 does not know recent CUDA
       * versions): the calls are host code; kernels only need to parse */
      static const char *const cuda[] = {"-x",         "cuda",       "--cuda-host-only",
                                         "-nocudainc", "-nocudalib", "-Wno-unknown-cuda-version"};
      for (size_t i = 0; i < sizeof cuda / sizeof *cuda; i++)
        scan__push(&args, cuda[i]);
      no_inc = true;
    }
    if (no_inc) {
      /* what cuda_runtime.h would define: the qualifiers and threadIdx & co. */
      static const char *const quals[] = {"-D__global__=__attribute__((global))",
                                          "-D__device__=__attribute__((device))",
                                          "-D__host__=__attribute__((host))",
                                          "-D__shared__=__attribute__((shared))",
                                          "-D__constant__=__attribute__((constant))",
                                          "-include",
                                          "__clang_cuda_builtin_vars.h"};
      for (size_t i = 0; i < sizeof quals / sizeof *quals; i++)
        scan__push(&args, quals[i]);
    }
  } else if (dot && !strcmp(dot, ".h")) {
    bool has_x = false;
    for (int i = 0; i < args.n; i++)
      if (!strcmp(args.v[i], "-x")) has_x = true;
    if (!has_x) {
      scan__push(&args, "-x");
      scan__push(&args, "c");
    }
  }

  CXIndex index = clang_createIndex(0, 0);
  struct CXUnsavedFile unsaved = {file->path, file->src, (unsigned long)file->len};
  CXTranslationUnit tu = NULL;
  enum CXErrorCode ec =
      clang_parseTranslationUnit2(index, file->path, (const char *const *)args.v, args.n, &unsaved,
                                  1, CXTranslationUnit_KeepGoing, &tu);
  int status = EINC_OK;
  if (ec != CXError_Success || !tu) {
    file->error = einc__lint_printf(file, "libclang could not parse the file (error %d)", (int)ec);
    goto done;
  }

  char manifest[PATH_MAX], header[PATH_MAX];
  scan__manifest_for(file->path, manifest, sizeof manifest);
  scan__header_for(manifest, header, sizeof header);
  char missing_header[PATH_MAX + 32];
  snprintf(missing_header, sizeof missing_header, "'%s' file not found", header);

  /* A file with errors is reported but not fixed: what the calls mean is not certain. The
   * generated header is the exception: it exists only once the build has run `einc gen`. */
  bool file_ok = true;
  unsigned nd = clang_getNumDiagnostics(tu);
  for (unsigned i = 0; i < nd && file_ok; i++) {
    CXDiagnostic d = clang_getDiagnostic(tu, i);
    CXString ds = clang_getDiagnosticSpelling(d);
    bool ours = strstr(clang_getCString(ds), missing_header) != NULL;
    clang_disposeString(ds);
    if (!ours && clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
      file_ok = false;
      CXString s = clang_getDiagnosticSpelling(d);
      CXFile df;
      unsigned off = 0;
      clang_getExpansionLocation(clang_getDiagnosticLocation(d), &df, NULL, NULL, &off);
      if (off > file->len) off = 0;
      einc__finding *f = einc__lint_file_add(file, EINC_LINT_EIN900, off, off);
      if (f)
        f->message = einc__lint_printf(file, "%s; calls in this file are reported, not fixed",
                                       clang_getCString(s));
      clang_disposeString(s);
    }
    clang_disposeDiagnostic(d);
  }

  scan__state st = {.file = file, .main_file = clang_getFile(tu, file->path)};
  clang_visitChildren(clang_getTranslationUnitCursor(tu), scan__visit, &st);
  bool include_added = false;
  for (int32_t i = 0; i < st.n_calls && status == EINC_OK; i++)
    status = scan__call_one(file, opts, &st.calls[i], file_ok, manifest, header, &include_added);
  free(st.calls);
  for (int32_t i = 0; i < file->n_findings; i++) {
    einc__finding *f = &file->findings[i];
    f->begin_pos = einc__lint_pos(file->src, file->len, f->start);
    f->end_pos = einc__lint_pos(file->src, file->len, f->end);
  }
  if (file->oom) status = EINC_ENOMEM;
  clang_disposeTranslationUnit(tu);
done:
  clang_disposeIndex(index);
  scan__args_free(&args);
  return status;
}

/* ---------------------------------------------------------------------------------------------
 * --export-fixes: YAML for clang-apply-replacements
 * ------------------------------------------------------------------------------------------- */

static void scan__yaml_str(einc_sbuf *out, const char *s, size_t n) {
  einc__sbuf_puts(out, "'");
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\'')
      einc__sbuf_puts(out, "''");
    else if (s[i] == '\n')
      einc__sbuf_puts(out, "\n\n"); /* a single-quoted scalar folds one newline; two keep one */
    else
      einc__sbuf_append(out, s + i, 1);
  }
  einc__sbuf_puts(out, "'");
}

void einc__lint_c_export_begin(einc_sbuf *out, const char *main_file) {
  einc__sbuf_puts(out, "---\nMainSourceFile: ");
  scan__yaml_str(out, main_file, strlen(main_file));
  einc__sbuf_puts(out, "\nDiagnostics:\n");
}

void einc__lint_c_export_file(einc_sbuf *out, const einc__lint_file *file) {
  char abs[PATH_MAX];
  if (!realpath(file->path, abs)) snprintf(abs, sizeof abs, "%s", file->path);
  for (int32_t i = 0; i < file->n_findings; i++) {
    const einc__finding *f = &file->findings[i];
    if (!f->has_fix) continue;
    einc__sbuf_printf(out, "  - DiagnosticName: einc-%s\n    DiagnosticMessage:\n      Message: ",
                      einc__lint_code_name(f->code));
    scan__yaml_str(out, f->message, strlen(f->message));
    einc__sbuf_puts(out, "\n      FilePath: ");
    scan__yaml_str(out, abs, strlen(abs));
    einc__sbuf_printf(out, "\n      FileOffset: %u\n      Replacements:\n", f->start);
    for (int32_t e = 0; e < f->n_edits; e++) {
      einc__sbuf_puts(out, "        - FilePath: ");
      scan__yaml_str(out, abs, strlen(abs));
      einc__sbuf_printf(out,
                        "\n          Offset: %u\n          Length: %u\n          ReplacementText: ",
                        f->edits[e].start, f->edits[e].end - f->edits[e].start);
      scan__yaml_str(out, f->edits[e].text, strlen(f->edits[e].text));
      einc__sbuf_puts(out, "\n");
    }
    einc__sbuf_puts(out, "    Level: Warning\n    BuildDirectory: ''\n");
  }
}

void einc__lint_c_export_end(einc_sbuf *out) {
  einc__sbuf_puts(out, "...\n");
}

/*
 * lint.c — `einc lint PATH...`: the driver of the source linters.
 *
 * Walks the paths (recursively, honouring .gitignore, --exclude and the [tool.einc] table of
 * pyproject.toml, detecting symlink loops), hands each file to the scanner of its language on a
 * pool of threads, applies the fixes (re-scanning until no fix is left, so nested calls are
 * fixed in one run), and prints the findings as text, JSON or SARIF, or the fixes as a diff.
 * Files that cannot contain a finding (no "einops" in them) are dropped after one memmem.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen.h"
#include "lint.h"

int einc_cli_lint(int argc, char **argv);

enum {
  EINC__LINT_MAX_FILE = 32 << 20, /* bigger sources are reported, not parsed */
  EINC__LINT_MAX_ROUNDS = 64,     /* fix rounds per file (nested calls need one each) */
  EINC__LINT_MAX_DEPTH = 256,
};

typedef struct einc__lint_lang {
  const char *ext;
  einc__lint_scan_fn scan;
  const char *needle; /* a file without it has nothing to report */
} einc__lint_lang;

/* The scanners this build has. */
static const einc__lint_lang einc__lint_langs[] = {
#ifdef EINC_HAVE_PYTHON_LINT
    {".py", einc__lint_python_file, "einops"},
    {".pyi", einc__lint_python_file, "einops"},
#endif
#ifdef EINC_HAVE_CLANG_LINT
    {".c", einc__lint_c_file, "einc_"},
    {".h", einc__lint_c_file, "einc_"},
    {".cc", einc__lint_c_file, "einc_"},
    {".cpp", einc__lint_c_file, "einc_"},
    {".cu", einc__lint_c_file, "einc_"},
    {".cuh", einc__lint_c_file, "einc_"},
    {".hpp", einc__lint_c_file, "einc_"},
#endif
    {NULL, NULL, NULL}, /* the end (and the whole table when no scanner is built) */
};

static const einc__lint_lang *einc__lint_lang_of(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return NULL;
  for (size_t i = 0; einc__lint_langs[i].ext; i++)
    if (!strcmp(dot, einc__lint_langs[i].ext)) return &einc__lint_langs[i];
  return NULL;
}

/* ---- growable lists ---------------------------------------------------------------------- */

typedef struct einc__strs {
  int32_t n, cap;
  char **v;
} einc__strs;

static bool einc__strs_push(einc__strs *self, char *s) {
  if (!s) return false;
  if (self->n == self->cap) {
    int32_t cap = self->cap ? 2 * self->cap : 16;
    char **v = realloc(self->v, sizeof *v * (size_t)cap);
    if (!v) {
      free(s);
      return false;
    }
    self->v = v;
    self->cap = cap;
  }
  self->v[self->n++] = s;
  return true;
}

static void einc__strs_free(einc__strs *self) {
  for (int32_t i = 0; i < self->n; i++)
    free(self->v[i]);
  free(self->v);
  *self = (einc__strs){0};
}

/* A file to lint: its language, or the error found while walking. */
typedef struct einc__job {
  char *path;
  const einc__lint_lang *lang;
  char *error;
} einc__job;

typedef struct einc__file_id {
  dev_t dev;
  ino_t ino;
} einc__file_id;

typedef struct einc__walk {
  int32_t n_jobs, cap_jobs;
  einc__job *jobs;
  const einc__strs *exclude;
  /* directories on the current path, to detect symlink loops */
  int32_t depth;
  dev_t dev[EINC__LINT_MAX_DEPTH];
  ino_t ino[EINC__LINT_MAX_DEPTH];
  /* .gitignore patterns in force: each with the directory it came from */
  einc__strs ignore_pat, ignore_base;
  bool use_gitignore;
  bool oom;
  /* the files added so far, by device and inode: two paths naming one file lint it once */
  einc__file_id *seen;
  size_t n_seen, cap_seen; /* cap_seen is a power of two; an empty slot has ino 0 */
} einc__walk;

/* Whether the file (dev, ino) was added before; records it if not. */
static bool einc__walk_seen(einc__walk *w, dev_t dev, ino_t ino) {
  if (ino == 0) return false;
  if (2 * (w->n_seen + 1) > w->cap_seen) {
    size_t cap = w->cap_seen ? 2 * w->cap_seen : 1024;
    void *v = calloc(cap, sizeof *w->seen);
    if (!v) {
      w->oom = true;
      return false;
    }
    einc__file_id *old = w->seen;
    size_t old_cap = w->cap_seen;
    w->seen = v;
    w->cap_seen = cap;
    w->n_seen = 0;
    for (size_t i = 0; i < old_cap; i++)
      if (old[i].ino) einc__walk_seen(w, old[i].dev, old[i].ino);
    free(old);
  }
  size_t h = ((size_t)ino * 0x9E3779B97F4A7C15u ^ (size_t)dev) & (w->cap_seen - 1);
  while (w->seen[h].ino) {
    if (w->seen[h].ino == ino && w->seen[h].dev == dev) return true;
    h = (h + 1) & (w->cap_seen - 1);
  }
  w->seen[h].dev = dev;
  w->seen[h].ino = ino;
  w->n_seen++;
  return false;
}

static void einc__walk_add(einc__walk *w, const char *path, const einc__lint_lang *lang,
                           const char *error) {
  if (w->n_jobs == w->cap_jobs) {
    int32_t cap = w->cap_jobs ? 2 * w->cap_jobs : 256;
    einc__job *j = realloc(w->jobs, sizeof *j * (size_t)cap);
    if (!j) {
      w->oom = true;
      return;
    }
    w->jobs = j;
    w->cap_jobs = cap;
  }
  einc__job *j = &w->jobs[w->n_jobs];
  j->path = strdup(path);
  j->lang = lang;
  j->error = error ? strdup(error) : NULL;
  if (!j->path || (error && !j->error)) {
    free(j->path);
    free(j->error);
    w->oom = true;
    return;
  }
  w->n_jobs++;
}

/* ---- .gitignore and --exclude ------------------------------------------------------------ */

/* Reads DIR/.gitignore into the pattern stack; returns how many patterns it pushed. */
static int32_t einc__walk_read_gitignore(einc__walk *w, const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.gitignore", dir);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int32_t pushed = 0;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    while (n > 0 && line[n - 1] == ' ')
      line[--n] = '\0';
    if (n == 0 || line[0] == '#') continue;
    if (einc__strs_push(&w->ignore_pat, strdup(line)) &&
        einc__strs_push(&w->ignore_base, strdup(dir)))
      pushed++;
    else
      w->oom = true;
  }
  fclose(f);
  return pushed;
}

static void einc__walk_pop_gitignore(einc__walk *w, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    free(w->ignore_pat.v[--w->ignore_pat.n]);
    free(w->ignore_base.v[--w->ignore_base.n]);
  }
}

/* Git's rules, the common part: `!` negates, a trailing `/` matches directories only, a
 * pattern with a slash is anchored at its .gitignore's directory, `**` spans directories. */
static bool einc__walk_gitignored(const einc__walk *w, const char *path, const char *name,
                                  bool is_dir) {
  bool ignored = false;
  for (int32_t i = 0; i < w->ignore_pat.n; i++) {
    const char *pat = w->ignore_pat.v[i];
    bool neg = pat[0] == '!';
    if (neg) pat++;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", pat);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '/') {
      if (!is_dir) continue;
      buf[--n] = '\0';
    }
    bool match;
    const char *p = buf;
    if (!strncmp(p, "**/", 3)) p += 3;
    if (strchr(p, '/') && p == buf) {
      const char *base = w->ignore_base.v[i];
      size_t bl = strlen(base);
      if (strncmp(path, base, bl) != 0 || path[bl] != '/') continue;
      const char *rel = path + bl + 1;
      if (*p == '/') p++;
      match = fnmatch(p, rel, FNM_PATHNAME) == 0 || fnmatch(p, rel, 0) == 0;
    } else {
      match = fnmatch(p, name, 0) == 0;
    }
    if (match) ignored = !neg;
  }
  return ignored;
}

static bool einc__walk_excluded(const einc__walk *w, const char *path, const char *name) {
  for (int32_t i = 0; i < w->exclude->n; i++) {
    const char *pat = w->exclude->v[i];
    if (fnmatch(pat, name, 0) == 0 || fnmatch(pat, path, 0) == 0) return true;
    const char *p = path;
    if (!strncmp(p, "./", 2)) p += 2;
    if (fnmatch(pat, p, 0) == 0) return true;
  }
  return false;
}

/* ---- the walk ---------------------------------------------------------------------------- */

static int einc__name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

static void einc__walk_dir(einc__walk *w, const char *dir, const struct stat *st);

/* `reg_dev` / `reg_ino`: the identity readdir gave a regular file (the directory's device and
 * the entry's inode), so that no stat is needed; reg_ino 0 for anything else. */
static void einc__walk_path(einc__walk *w, const char *path, const char *name, bool explicit,
                            dev_t reg_dev, ino_t reg_ino) {
  struct stat st;
  if (reg_ino) {
    const einc__lint_lang *lang = einc__lint_lang_of(path);
    if (lang && !einc__walk_excluded(w, path, name) &&
        !einc__walk_gitignored(w, path, name, false) && !einc__walk_seen(w, reg_dev, reg_ino))
      einc__walk_add(w, path, lang, NULL);
    return;
  }
  if (stat(path, &st) != 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s",
             errno == ELOOP    ? "symlink loop"
             : errno == ENOENT ? "no such file or dangling symlink"
                               : strerror(errno));
    einc__walk_add(w, path, NULL, msg);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    if (!explicit &&
        (einc__walk_excluded(w, path, name) || einc__walk_gitignored(w, path, name, true)))
      return;
    einc__walk_dir(w, path, &st);
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    if (explicit) einc__walk_add(w, path, NULL, "not a regular file");
    return;
  }
  const einc__lint_lang *lang = einc__lint_lang_of(path);
  if (explicit) {
    if (lang && einc__walk_seen(w, st.st_dev, st.st_ino)) return;
    einc__walk_add(w, path, lang, lang ? NULL : "no linter for this file type in this build");
    return;
  }
  if (!lang || einc__walk_excluded(w, path, name) || einc__walk_gitignored(w, path, name, false) ||
      einc__walk_seen(w, st.st_dev, st.st_ino))
    return;
  einc__walk_add(w, path, lang, NULL);
}

static void einc__walk_dir(einc__walk *w, const char *dir, const struct stat *st) {
  for (int32_t i = 0; i < w->depth; i++) {
    if (w->dev[i] == st->st_dev && w->ino[i] == st->st_ino) {
      einc__walk_add(w, dir, NULL, "symlink loop: this directory contains itself");
      return;
    }
  }
  if (w->depth == EINC__LINT_MAX_DEPTH) {
    einc__walk_add(w, dir, NULL, "directories nested too deep");
    return;
  }
  DIR *d = opendir(dir);
  if (!d) {
    einc__walk_add(w, dir, NULL, strerror(errno));
    return;
  }
  w->dev[w->depth] = st->st_dev;
  w->ino[w->depth] = st->st_ino;
  w->depth++;
  int32_t pushed = w->use_gitignore ? einc__walk_read_gitignore(w, dir) : 0;
  einc__strs names = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, ".git") || !strcmp(n, ".hg") ||
        !strcmp(n, ".svn") || !strcmp(n, "__pycache__") || !strcmp(n, "node_modules"))
      continue;
    /* Regular files of no known language need no stat. */
    if (e->d_type == DT_REG && !einc__lint_lang_of(n)) continue;
    /* the entry's type rides along as the name's first byte, its inode after the name's end */
    size_t nl = strlen(n);
    char *entry = malloc(nl + 2 + sizeof(ino_t));
    if (entry) {
      entry[0] = e->d_type == DT_REG ? 'f' : '?';
      memcpy(entry + 1, n, nl + 1);
      ino_t ino = e->d_ino;
      memcpy(entry + nl + 2, &ino, sizeof ino);
    }
    if (!einc__strs_push(&names, entry)) w->oom = true;
  }
  closedir(d);
  if (names.n > 1) qsort(names.v, (size_t)names.n, sizeof *names.v, einc__name_cmp);
  size_t dl = strlen(dir);
  for (int32_t i = 0; i < names.n; i++) {
    const char *name = names.v[i] + 1;
    size_t nl = strlen(name);
    char *path = malloc(dl + nl + 2);
    if (!path) {
      w->oom = true;
      break;
    }
    memcpy(path, dir, dl);
    size_t k = dl;
    if (k == 0 || path[k - 1] != '/') path[k++] = '/';
    memcpy(path + k, name, nl + 1);
    ino_t ino = 0;
    if (names.v[i][0] == 'f') memcpy(&ino, name + nl + 1, sizeof ino);
    einc__walk_path(w, path, name, false, st->st_dev, ino);
    free(path);
  }
  einc__strs_free(&names);
  einc__walk_pop_gitignore(w, pushed);
  w->depth--;
}

/* ---- pyproject.toml ---------------------------------------------------------------------- */

typedef struct einc__config {
  einc__strs select, ignore, exclude;
  char target[16];
  char path[4200];
} einc__config;

/* Reads `key = "s"` and `key = ["a", "b"]` (arrays may span lines) of [tool.einc]. */
static int einc__config_read(einc__config *cfg, char *err, size_t err_len) {
  char dir[4096];
  if (!getcwd(dir, sizeof dir)) return 0;
  FILE *f = NULL;
  for (;;) {
    snprintf(cfg->path, sizeof cfg->path, "%s/pyproject.toml", dir);
    if ((f = fopen(cfg->path, "r"))) break;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
  }
  char line[2048];
  bool in = false;
  char key[64] = "";
  bool in_array = false;
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *p = line;
    while (*p == ' ' || *p == '\t')
      p++;
    if (!in_array && *p == '[') {
      in = !strncmp(p, "[tool.einc]", 11);
      continue;
    }
    if (!in || (!in_array && (*p == '#' || *p == '\n' || *p == '\0'))) continue;
    if (!in_array) {
      size_t k = strcspn(p, " =\t");
      if (k >= sizeof key) continue;
      memcpy(key, p, k);
      key[k] = '\0';
      p = strchr(p, '=');
      if (!p) {
        snprintf(err, err_len, "%.400s:%d: expected `key = value`", cfg->path, lineno);
        fclose(f);
        return -1;
      }
      p++;
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '[') {
        in_array = true;
        p++;
      }
    }
    einc__strs *list = !strcmp(key, "select")    ? &cfg->select
                       : !strcmp(key, "ignore")  ? &cfg->ignore
                       : !strcmp(key, "exclude") ? &cfg->exclude
                                                 : NULL;
    /* Every quoted string on the line is a value. */
    for (;;) {
      char *q = strpbrk(p, "\"'#]");
      if (!q || *q == '#') break;
      if (*q == ']') {
        in_array = false;
        break;
      }
      char *e = strchr(q + 1, *q);
      if (!e) break;
      if (!strcmp(key, "target"))
        snprintf(cfg->target, sizeof cfg->target, "%.*s", (int)(e - q - 1), q + 1);
      else if (list)
        einc__strs_push(list, strndup(q + 1, (size_t)(e - q - 1)));
      p = e + 1;
    }
  }
  fclose(f);
  return 1;
}

/* ---- the worker pool --------------------------------------------------------------------- */

typedef struct einc__pool {
  einc__job *jobs;
  einc__lint_file *files;
  int32_t n;
  atomic_int next;
  const einc__lint_options *opts;
} einc__pool;

static bool einc__utf8_check(const char *s, size_t n, size_t *bad) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + len > n) goto bad;
    for (size_t k = 1; k < len; k++)
      if ((p[i + k] & 0xC0) != 0x80) goto bad;
    i += len;
  }
  return true;
bad:
  *bad = i;
  return false;
}

/* Reads the file into the thread's buffer; a file without the needle stops here. */
static void einc__lint_one(einc__pool *pool, int32_t idx, char **buf, size_t *cap) {
  einc__job *job = &pool->jobs[idx];
  einc__lint_file *file = &pool->files[idx];
  einc__lint_file *A = file;
  file->path = job->path;
  if (job->error) {
    file->error = job->error;
    return;
  }
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    file->error = einc__lint_printf(A, "cannot open: %s", strerror(errno));
    return;
  }
  /* Read to the end into the thread's buffer, growing it; no fstat, as with grep. */
  size_t got = 0;
  for (;;) {
    if (*cap < got + 65536 + 1) {
      size_t ncap = *cap ? *cap * 2 : 1 << 17;
      while (ncap < got + 65536 + 1)
        ncap *= 2;
      char *b = realloc(*buf, ncap);
      if (!b) {
        file->error = "out of memory";
        close(fd);
        return;
      }
      *buf = b;
      *cap = ncap;
    }
    ssize_t r = read(fd, *buf + got, *cap - got - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      file->error = einc__lint_printf(file, "cannot read: %s", strerror(errno));
      close(fd);
      return;
    }
    if (r == 0) break;
    got += (size_t)r;
    if (got > EINC__LINT_MAX_FILE) {
      struct stat st;
      long long size = fstat(fd, &st) == 0 ? (long long)st.st_size : (long long)got;
      file->error = einc__lint_printf(file, "file too large to lint (%lld bytes; the limit is %d)",
                                      size, EINC__LINT_MAX_FILE);
      close(fd);
      return;
    }
  }
  close(fd);
  const char *needle = job->lang->needle;
  if (!memmem(*buf, got, needle, strlen(needle))) return;
  if (memchr(*buf, '\0', got)) {
    file->error = "binary file (contains NUL bytes); not linted";
    return;
  }
  size_t bad;
  if (!einc__utf8_check(*buf, got, &bad)) {
    einc__pos p = einc__lint_pos(*buf, got, (uint32_t)bad);
    file->error = einc__lint_printf(A,
                                    "not valid UTF-8 (byte 0x%02x at line %u, column %u); "
                                    "not linted",
                                    (unsigned char)(*buf)[bad], p.line, p.column);
    return;
  }
  /* A UTF-8 byte order mark is not part of the text (Python skips it): without it every column
   * counts as an editor shows it and line 1 starts where it looks to. Fixes write it back. */
  const size_t skip = got >= 3 && !memcmp(*buf, "\xEF\xBB\xBF", 3) ? 3 : 0;
  file->src = einc__malloc(got - skip + 1);
  if (!file->src) {
    file->error = "out of memory";
    return;
  }
  memcpy(file->src, *buf + skip, got - skip);
  file->src[got - skip] = '\0';
  file->len = got - skip;
  file->bom = skip != 0;

  const einc__lint_options *opts = pool->opts;
  if (job->lang->scan(file, opts) != EINC_OK && !file->error) file->error = "out of memory";
  if (file->error || !(opts->fix || opts->diff)) return;

  /* Apply, re-scan, until no applicable fix is left. The findings kept are the last scan's,
   * over the final text; the original text is kept for the diff. */
  char *orig = NULL;
  size_t orig_len = 0;
  for (int round = 0; round < EINC__LINT_MAX_ROUNDS; round++) {
    int32_t n_edits = 0, n_applied = 0;
    for (int32_t i = 0; i < file->n_findings; i++) {
      einc__finding *f = &file->findings[i];
      if (f->has_fix && (f->safety == EINC_FIX_SAFE || opts->unsafe_fixes))
        n_edits += f->n_edits, n_applied++;
    }
    if (n_applied == 0) break;
    n_edits += file->n_file_edits;
    einc__edit *edits = malloc(sizeof *edits * (size_t)n_edits);
    if (!edits) {
      file->error = "out of memory";
      break;
    }
    int32_t k = 0;
    for (int32_t i = 0; i < file->n_findings; i++) {
      einc__finding *f = &file->findings[i];
      if (f->has_fix && (f->safety == EINC_FIX_SAFE || opts->unsafe_fixes))
        for (int32_t e = 0; e < f->n_edits; e++)
          edits[k++] = f->edits[e];
    }
    for (int32_t e = 0; e < file->n_file_edits; e++)
      edits[k++] = file->file_edits[e];
    char *next;
    size_t next_len;
    int rc = einc__rewrite_apply(file->src, file->len, edits, n_edits, &next, &next_len);
    free(edits);
    if (rc != EINC_OK) {
      file->error = "overlapping fixes; nothing written";
      break;
    }
    if (!orig) {
      orig = file->src;
      orig_len = file->len;
      file->src = NULL;
    }
    int32_t fixed = file->n_fixed + n_applied;
    const bool bom = file->bom;
    einc__lint_file_clear(file);
    file->path = job->path;
    file->bom = bom;
    file->src = next;
    file->len = next_len;
    file->n_fixed = fixed;
    if (job->lang->scan(file, opts) != EINC_OK && !file->error) file->error = "out of memory";
    if (file->error) break;
  }
  if (orig) {
    /* fixed_src holds the original so the driver can diff and write. */
    file->fixed_src = orig;
    file->fixed_len = orig_len;
  }
}

static void *einc__pool_main(void *arg) {
  einc__pool *pool = arg;
  char *buf = NULL;
  size_t cap = 0;
  for (;;) {
    int32_t i = atomic_fetch_add(&pool->next, 1);
    if (i >= pool->n) break;
    einc__lint_one(pool, i, &buf, &cap);
  }
  free(buf);
#ifdef EINC_HAVE_PYTHON_LINT
  einc__lint_python_thread_end();
#endif
  return NULL;
}

/* ---- the command ------------------------------------------------------------------------- */

static void einc__lint_usage(FILE *out) {
  fputs("usage: einc lint [options] PATH...\n"
        "Find einops patterns parsed at run time and rewrite them to native code.\n\n"
        "  --fix               apply safe fixes in place\n"
        "  --unsafe-fixes      also apply (or show) fixes that need review\n"
        "  --diff              print the fixes as a unified diff; write nothing\n"
        "  --format FMT        text (default), json or sarif\n"
        "  --target T          torch (default) or numpy\n"
        "  --select CODES      only these codes (comma-separated codes or prefixes)\n"
        "  --ignore CODES      not these codes\n"
        "  --exclude GLOB      skip matching files and directories (repeatable)\n"
        "  --no-gitignore      do not read .gitignore files\n"
        "  --no-config         do not read [tool.einc] from pyproject.toml\n"
        "  -j N                threads (default: every core)\n"
        "  --full-parse        parse whole files, not only the statements naming einops\n"
        "  --list-codes        print the codes and exit\n"
        "C, C++ and CUDA sources (libclang):\n"
        "  -p DIR              the folder of compile_commands.json (default: the nearest one)\n"
        "  --manifest FILE     the pattern manifest fixes add entries to\n"
        "  --export-fixes FILE write the fixes as YAML for clang-apply-replacements\n"
        "  -- FLAGS...         compile flags for every C/C++/CUDA file (instead of a database)\n\n"
        "Exit status: 0 clean, 1 findings remain, 2 usage or I/O error.\n",
        out);
}

static bool einc__split_codes(einc__strs *list, const char *arg) {
  const char *p = arg;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n && !einc__strs_push(list, strndup(p, n))) return false;
    p += n;
    if (*p) p++;
  }
  return true;
}

static bool einc__codes_valid(const einc__strs *list, const char **bad) {
  for (int32_t i = 0; i < list->n; i++) {
    bool ok = false;
    for (int c = 0; c < EINC_LINT__COUNT && !ok; c++)
      ok = !strncmp(einc__lint_code_id(c), list->v[i], strlen(list->v[i]));
    if (!ok) {
      *bad = list->v[i];
      return false;
    }
  }
  return true;
}

/* `text` as it goes to disk: behind the byte order mark the file was read with, in a new buffer
 * (NULL when out of memory); `text` itself when there was none. */
static char *einc__with_bom(const einc__lint_file *file, char *text, size_t len, size_t *out_len) {
  *out_len = len;
  if (!file->bom) return text;
  char *b = malloc(len + 3);
  if (!b) return NULL;
  memcpy(b, "\xEF\xBB\xBF", 3);
  memcpy(b + 3, text, len);
  *out_len = len + 3;
  return b;
}

int einc_cli_lint(int argc, char **argv) {
  einc__strs paths = {0}, cli_select = {0}, cli_ignore = {0};
  einc__config cfg = {0};
  einc__lint_options opts = {.target = EINC_EMIT_TORCH};
  const char *format = "text", *target = NULL;
  bool use_config = true, use_gitignore = true, select_given = false;
  long threads = sysconf(_SC_NPROCESSORS_ONLN);
  int status = 2;
  einc__walk w = {0};
  einc__pool pool = {0};
  pthread_t *tids = NULL;
  const char *compdb_dir = NULL, *manifest = NULL, *export_fixes = NULL;
  int n_flags = 0;
  char **flags = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define EINC__NEED_VALUE()                                                                         \
  do {                                                                                             \
    if (!val) {                                                                                    \
      fprintf(stderr, "einc lint: %s needs a value\n", a);                                         \
      goto fail_args;                                                                              \
    }                                                                                              \
    i++;                                                                                           \
  } while (0)
    if (!strcmp(a, "--fix"))
      opts.fix = true;
    else if (!strcmp(a, "--unsafe-fixes"))
      opts.unsafe_fixes = true;
    else if (!strcmp(a, "--diff"))
      opts.diff = true;
    else if (!strcmp(a, "--no-config"))
      use_config = false;
    else if (!strcmp(a, "--no-gitignore"))
      use_gitignore = false;
    else if (!strcmp(a, "--full-parse"))
      opts.full_parse = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      einc__lint_usage(stdout);
      status = 0;
      goto fail_args;
    } else if (!strcmp(a, "--list-codes")) {
      for (int c = 0; c < EINC_LINT__COUNT; c++)
        printf("%s  %-24s %s\n", einc__lint_code_id(c), einc__lint_code_name(c),
               einc__lint_code_summary(c));
      status = 0;
      goto fail_args;
    } else if (!strcmp(a, "--format")) {
      EINC__NEED_VALUE();
      format = val;
    } else if (!strcmp(a, "--target")) {
      EINC__NEED_VALUE();
      target = val;
    } else if (!strcmp(a, "--select")) {
      EINC__NEED_VALUE();
      select_given = true;
      einc__split_codes(&cli_select, val);
    } else if (!strcmp(a, "--ignore")) {
      EINC__NEED_VALUE();
      einc__split_codes(&cli_ignore, val);
    } else if (!strcmp(a, "--exclude")) {
      EINC__NEED_VALUE();
      einc__strs_push(&cfg.exclude, strdup(val));
    } else if (!strcmp(a, "-p")) {
      EINC__NEED_VALUE();
      compdb_dir = val;
    } else if (!strcmp(a, "--manifest")) {
      EINC__NEED_VALUE();
      manifest = val;
    } else if (!strcmp(a, "--export-fixes")) {
      EINC__NEED_VALUE();
      export_fixes = val;
    } else if (!strcmp(a, "--")) {
      flags = argv + i + 1;
      n_flags = argc - i - 1;
      break;
    } else if (!strcmp(a, "-j")) {
      EINC__NEED_VALUE();
      threads = strtol(val, NULL, 10);
      if (threads < 1 || threads > 1024) {
        fprintf(stderr, "einc lint: -j wants 1..1024\n");
        goto fail_args;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "einc lint: unknown option %s\n", a);
      einc__lint_usage(stderr);
      goto fail_args;
    } else {
      einc__strs_push(&paths, strdup(a));
    }
#undef EINC__NEED_VALUE
  }
  if (paths.n == 0) {
    einc__lint_usage(stderr);
    goto fail_args;
  }
#ifdef EINC_HAVE_CLANG_LINT
  einc__lint_c_configure(compdb_dir, n_flags, (const char *const *)flags, manifest);
#else
  (void)n_flags;
  if (compdb_dir || manifest || export_fixes || flags) {
    fprintf(stderr, "einc lint: -p, --manifest, --export-fixes and -- need the C linter, which "
                    "this build of einc leaves out (libclang)\n");
    goto fail_args;
  }
#endif
  if (use_config) {
    char err[512];
    if (einc__config_read(&cfg, err, sizeof err) < 0) {
      fprintf(stderr, "einc lint: %s\n", err);
      goto fail_args;
    }
  }
  if (!target) target = cfg.target[0] ? cfg.target : "torch";
  if (!strcmp(target, "torch"))
    opts.target = EINC_EMIT_TORCH;
  else if (!strcmp(target, "numpy"))
    opts.target = EINC_EMIT_NUMPY;
  else {
    fprintf(stderr, "einc lint: unknown target '%s' (torch or numpy)\n", target);
    goto fail_args;
  }
  if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "sarif")) {
    fprintf(stderr, "einc lint: unknown format '%s' (text, json or sarif)\n", format);
    goto fail_args;
  }
  /* The command line's --select replaces the configuration's; --ignore adds to it. */
  einc__strs *select = select_given ? &cli_select : &cfg.select;
  for (int32_t i = 0; i < cli_ignore.n; i++)
    einc__strs_push(&cfg.ignore, strdup(cli_ignore.v[i]));
  const char *bad;
  if (!einc__codes_valid(select, &bad) || !einc__codes_valid(&cfg.ignore, &bad)) {
    fprintf(stderr, "einc lint: unknown code '%s' (see --list-codes)\n", bad);
    goto fail_args;
  }
  opts.n_select = select->n;
  opts.select = (const char **)select->v;
  opts.n_ignore = cfg.ignore.n;
  opts.ignore = (const char **)cfg.ignore.v;

  w.exclude = &cfg.exclude;
  w.use_gitignore = use_gitignore;
  for (int32_t i = 0; i < paths.n; i++) {
    const char *name = strrchr(paths.v[i], '/');
    einc__walk_path(&w, paths.v[i], name ? name + 1 : paths.v[i], true, 0, 0);
  }
  if (w.oom) {
    fprintf(stderr, "einc lint: out of memory\n");
    goto fail_walk;
  }

  pool.jobs = w.jobs;
  pool.n = w.n_jobs;
  pool.opts = &opts;
  pool.files = calloc((size_t)(w.n_jobs ? w.n_jobs : 1), sizeof *pool.files);
  if (!pool.files) goto fail_walk;
  if (threads > w.n_jobs / 8 + 1) threads = w.n_jobs / 8 + 1;
  tids = calloc((size_t)threads, sizeof *tids);
  if (!tids) goto fail_walk;
  long started = 0;
  for (long t = 1; t < threads; t++)
    if (pthread_create(&tids[t], NULL, einc__pool_main, &pool) == 0) started = t;
  einc__pool_main(&pool);
  for (long t = 1; t <= started; t++)
    pthread_join(tids[t], NULL);

    /* Write, print, count. */
#ifdef EINC_HAVE_CLANG_LINT
  if (export_fixes) {
    einc_sbuf yaml = {0};
    einc__lint_c_export_begin(&yaml, pool.n ? pool.files[0].path : paths.v[0]);
    for (int32_t i = 0; i < pool.n; i++)
      if (!pool.files[i].error) einc__lint_c_export_file(&yaml, &pool.files[i]);
    einc__lint_c_export_end(&yaml);
    char *text = einc__sbuf_finish(&yaml);
    if (!text || einc__write_file_atomic(export_fixes, text, strlen(text)) != EINC_OK) {
      fprintf(stderr, "einc lint: cannot write %s\n", export_fixes);
      free(text);
      goto fail_files;
    }
    free(text);
  }
#endif
  einc_sbuf out = {0};
  bool first = true;
  int32_t remaining = 0, fixable = 0, unsafe = 0, fixed = 0, errors = 0, changed = 0;
  if (!strcmp(format, "json")) einc__sbuf_puts(&out, "[");
  if (!strcmp(format, "sarif")) einc__lint_sarif_begin(&out);
  for (int32_t i = 0; i < pool.n; i++) {
    einc__lint_file *file = &pool.files[i];
    if (file->fixed_src && !file->error) {
      /* the texts as on disk: with the byte order mark the file was read with */
      size_t old_len, new_len;
      char *old_text = einc__with_bom(file, file->fixed_src, file->fixed_len, &old_len);
      char *new_text = einc__with_bom(file, file->src, file->len, &new_len);
      if (!old_text || !new_text) {
        file->error = "out of memory";
      } else if (opts.diff) {
        einc__lint_format_diff(&out, file->path, old_text, old_len, new_text, new_len);
        changed++;
      } else {
        char why[256];
        if (einc__rewrite_file(file->path, new_text, new_len, why, sizeof why) != EINC_OK) {
          file->error = einc__lint_printf(file, "fixes not written (%s)", why);
          remaining += file->n_fixed; /* they stay in the file */
        } else {
          changed++;
        }
      }
      if (old_text != file->fixed_src) free(old_text);
      if (new_text != file->src) free(new_text);
      if (!file->error) fixed += file->n_fixed;
    }
    if (file->error) errors++;
    for (int32_t k = 0; k < file->n_findings; k++) {
      const einc__finding *f = &file->findings[k];
      remaining++;
      if (f->has_fix && f->safety == EINC_FIX_SAFE) fixable++;
      if (f->has_fix && f->safety == EINC_FIX_UNSAFE) unsafe++;
    }
    if (opts.diff && !file->error) {
      /* the diff is the output; findings go to the summary */
    } else if (opts.diff) { /* a file with no diff: its report goes to stderr, apart from it */
      einc_sbuf err = {0};
      einc__lint_format_text(&err, file, isatty(2) && !getenv("NO_COLOR"));
      if (err.len) fwrite(err.data, 1, err.len, stderr);
      einc__sbuf_free(&err);
    } else if (!strcmp(format, "text")) {
      if (file->error || file->n_findings)
        einc__lint_format_text(&out, file, isatty(1) && !getenv("NO_COLOR"));
    } else if (!strcmp(format, "json")) {
      einc__lint_format_json(&out, file, &first);
    } else {
      einc__lint_format_sarif(&out, file, &first);
    }
    if (out.len > (1 << 16)) {
      fwrite(out.data, 1, out.len, stdout);
      out.len = 0;
    }
  }
  if (!strcmp(format, "json")) einc__sbuf_puts(&out, first ? "]\n" : "\n]\n");
  if (!strcmp(format, "sarif")) einc__lint_sarif_end(&out);
  if (out.failed) {
    fprintf(stderr, "einc lint: out of memory\n");
    errors++;
  } else if (out.len) {
    fwrite(out.data, 1, out.len, stdout);
  }
  einc__sbuf_free(&out);
  fflush(stdout);

  if (!strcmp(format, "text") || opts.diff) {
    if (opts.fix && !opts.diff)
      fprintf(stderr, "Fixed %d finding%s in %d file%s.\n", fixed, fixed == 1 ? "" : "s", changed,
              changed == 1 ? "" : "s");
    if (opts.diff)
      fprintf(stderr, "Would fix %d finding%s in %d file%s.\n", fixed, fixed == 1 ? "" : "s",
              changed, changed == 1 ? "" : "s");
    /* after fixes, made or shown, say what is left ("Found 0 findings" read as a contradiction) */
    if (opts.diff)
      fprintf(stderr, "%d finding%s would remain in %d file%s", remaining,
              remaining == 1 ? "" : "s", pool.n, pool.n == 1 ? "" : "s");
    else
      fprintf(stderr, "Found %d %sfinding%s in %d file%s", remaining, opts.fix ? "remaining " : "",
              remaining == 1 ? "" : "s", pool.n, pool.n == 1 ? "" : "s");
    if (fixable) fprintf(stderr, " (%d fixable with --fix", fixable);
    if (unsafe) fprintf(stderr, "%s%d with --unsafe-fixes", fixable ? ", " : " (", unsafe);
    fprintf(stderr, "%s.\n", fixable || unsafe ? ")" : "");
    if (errors) fprintf(stderr, "%d file%s could not be linted.\n", errors, errors == 1 ? "" : "s");
  }
  status = errors ? 2 : (remaining || (opts.diff && changed)) ? 1 : 0;

fail_files:
  __attribute__((unused));
  for (int32_t i = 0; i < pool.n; i++)
    einc__lint_file_clear(&pool.files[i]);
fail_walk:
  free(tids);
  free(pool.files);
  for (int32_t i = 0; i < w.n_jobs; i++) {
    free(w.jobs[i].path);
    free(w.jobs[i].error);
  }
  free(w.jobs);
  free(w.seen);
  einc__strs_free(&w.ignore_pat);
  einc__strs_free(&w.ignore_base);
fail_args:
  einc__strs_free(&paths);
  einc__strs_free(&cli_select);
  einc__strs_free(&cli_ignore);
  einc__strs_free(&cfg.select);
  einc__strs_free(&cfg.ignore);
  einc__strs_free(&cfg.exclude);
  return status;
}

/*
 * `einc gen`: the build step. Reads pattern manifests, compiles every entry and writes one header
 * and one source per target into the output folder. Files are replaced atomically and only when
 * their text changes, so a build system sees no spurious changes.
 *
 *   einc gen [-o DIR] [--name BASE] [--target c|cuda|opencl]... [MANIFEST...] [--scan SOURCE... [-p
 * DIR]
 *            [-- FLAGS...]]
 *
 * With --scan, the calls of the run-time pattern API that `einc lint --fix` would rewrite are
 * found in the C / C++ / CUDA sources (libclang) and compiled as if they were manifest entries,
 * under the names the fix gives them; the sources are not edited.
 *
 * Exit status: 0 written, 1 a pattern in a manifest is invalid, 2 usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen.h"
#ifdef EINC_HAVE_CLANG_LINT
#include "lint.h"
#endif

int einc_cli_gen(int argc, char **argv);

static void gen__usage(FILE *f) {
  fprintf(f, "usage: einc gen [-o DIR] [--name BASE] [--target c|cuda|opencl]... [MANIFEST...]\n"
             "                [--scan SOURCE... [-p BUILD_DIR] [-- COMPILER FLAGS...]]\n"
             "  Compiles each [entry] of the manifests into a C function; writes DIR/BASE.h and\n"
             "  DIR/BASE.c (DIR defaults to '.', BASE to the first manifest's name without its\n"
             "  extension); --target cuda writes DIR/BASE.cuh and DIR/BASE.cu (entries with\n"
             "  `targets = cuda`), --target opencl DIR/BASE.cl. --scan also compiles the constant "
             "run-time API calls found in C/C++/CUDA\n"
             "  sources. See README.md, \"Code generation\", for the manifest format.\n");
}

/* Write unless the file already holds exactly this text. */
static int gen__write_if_changed(const char *path, const einc_sbuf *b) {
  size_t len = 0;
  char *old = einc__read_file(path, &len);
  bool same = old && len == b->len && memcmp(old, b->data, len) == 0;
  free(old);
  if (same) return EINC_OK;
  return einc__write_file_atomic(path, b->data, b->len);
}

int einc_cli_gen(int argc, char **argv) {
  const char *out_dir = ".", *base = NULL;
  const char *manifests[256], *sources[256], *compdb = NULL;
  int n_manifests = 0, n_sources = 0, n_flags = 0;
  char **flags = NULL;
  bool scanning = false;
  unsigned targets = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      flags = argv + i + 1;
      n_flags = argc - i - 1;
      break;
    } else if (strcmp(a, "--scan") == 0) {
      scanning = true;
    } else if (strcmp(a, "-p") == 0 && i + 1 < argc) {
      compdb = argv[++i];
    } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output-dir") == 0) && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (strcmp(a, "--name") == 0 && i + 1 < argc) {
      base = argv[++i];
    } else if (strcmp(a, "--target") == 0 && i + 1 < argc) {
      const char *t = argv[++i];
      if (strcmp(t, "c") == 0) {
        targets |= EINC_GEN_TARGET_C;
      } else if (strcmp(t, "cuda") == 0) {
        targets |= EINC_GEN_TARGET_CUDA;
      } else if (strcmp(t, "opencl") == 0) {
        targets |= EINC_GEN_TARGET_OPENCL;
      } else {
        fprintf(stderr, "einc gen: target '%s' is not available (targets: c, cuda, opencl)\n", t);
        return 2;
      }
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      gen__usage(stdout);
      return 0;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "einc gen: unknown option '%s'\n", a);
      gen__usage(stderr);
      return 2;
    } else if (scanning && n_sources < (int)(sizeof sources / sizeof *sources)) {
      sources[n_sources++] = a;
    } else if (!scanning && n_manifests < (int)(sizeof manifests / sizeof *manifests)) {
      manifests[n_manifests++] = a;
    } else {
      fprintf(stderr, "einc gen: too many inputs\n");
      return 2;
    }
  }
#ifndef EINC_HAVE_CLANG_LINT
  if (n_sources > 0) {
    fprintf(stderr,
            "einc gen: --scan needs the libclang scanner, not built in (EINC_WITH_CLANG)\n");
    return 2;
  }
  (void)compdb;
  (void)flags;
  (void)n_flags;
#endif
  if (n_manifests == 0 && n_sources == 0) {
    gen__usage(stderr);
    return 2;
  }
  if (!targets) targets = EINC_GEN_TARGET_C;

  char base_buf[256];
  if (!base) {
    const char *first = n_manifests ? manifests[0] : sources[0];
    const char *s = strrchr(first, '/');
    s = s ? s + 1 : first;
    snprintf(base_buf, sizeof base_buf, "%s", s);
    char *dot = strrchr(base_buf, '.');
    if (dot && dot != base_buf) *dot = '\0';
    base = base_buf;
  }

  int rc = 2;
  einc__manifest m = {0};
  einc_sbuf h = {0}, c = {0};
  char err[1024];
  for (int i = 0; i < n_manifests; i++) {
    size_t len = 0;
    char *text = einc__read_file(manifests[i], &len);
    if (!text) {
      fprintf(stderr, "einc gen: cannot read %s\n", manifests[i]);
      goto done;
    }
    int status = einc__manifest_parse(&m, manifests[i], text, len, err, sizeof err);
    free(text);
    if (status != EINC_OK) {
      fprintf(stderr, "einc gen: %s\n", err);
      goto done;
    }
  }

  mkdir(out_dir, 0777); /* the folder may exist; a real failure shows when writing */
#ifdef EINC_HAVE_CLANG_LINT
  if (n_sources > 0) {
    einc__lint_c_configure(compdb, n_flags, (const char *const *)flags, NULL);
    einc__lint_c_collect(&m);
    for (int i = 0; i < n_sources; i++) {
      einc__lint_file file;
      memset(&file, 0, sizeof file);
      file.path = sources[i];
      file.src = einc__read_file(sources[i], &file.len);
      einc__lint_options opts = {.fix = false};
      int status = file.src ? einc__lint_c_file(&file, &opts) : EINC_EINVAL;
      bool failed = status != EINC_OK || file.error;
      if (failed)
        fprintf(stderr, "einc gen: %s: %s\n", sources[i],
                file.error ? file.error
                : file.src ? "scan failed"
                           : "cannot read");
      for (int32_t k = 0; k < file.n_findings && !failed; k++)
        if (file.findings[k].code == EINC_LINT_EIN900) {
          fprintf(stderr, "einc gen: %s:%u: %s\n", sources[i], file.findings[k].begin_pos.line,
                  file.findings[k].message);
          failed = true;
        }
      einc__lint_file_clear(&file);
      free(file.src);
      if (failed) {
        einc__lint_c_collect(NULL);
        goto done;
      }
    }
    einc__lint_c_collect(NULL);
  }
#endif
  for (unsigned t = EINC_GEN_TARGET_C; t <= EINC_GEN_TARGET_CUDA; t <<= 1) {
    if (!(targets & t)) continue;
    bool cuda = t == EINC_GEN_TARGET_CUDA;
    char header_name[300], h_path[1400], c_path[1400];
    snprintf(header_name, sizeof header_name, "%s.%s", base, cuda ? "cuh" : "h");
    snprintf(h_path, sizeof h_path, "%s/%s", out_dir, header_name);
    snprintf(c_path, sizeof c_path, "%s/%s.%s", out_dir, base, cuda ? "cu" : "c");
    einc__sbuf_free(&h); /* the previous target's text */
    einc__sbuf_free(&c);
    einc__sbuf_init(&h);
    einc__sbuf_init(&c);
    int status = cuda ? einc__gen_cuda(&m, header_name, &h, &c, err, sizeof err)
                      : einc__gen_c(&m, header_name, &h, &c, err, sizeof err);
    if (status != EINC_OK) {
      fprintf(stderr, "einc gen: %s\n", err);
      rc = status == EINC_ENOMEM ? 2 : 1;
      goto done;
    }
    if (gen__write_if_changed(h_path, &h) != EINC_OK ||
        gen__write_if_changed(c_path, &c) != EINC_OK) {
      fprintf(stderr, "einc gen: cannot write %s / %s\n", h_path, c_path);
      goto done;
    }
  }
  if (targets & EINC_GEN_TARGET_OPENCL) {
    char cl_path[1400];
    snprintf(cl_path, sizeof cl_path, "%s/%s.cl", out_dir, base);
    einc_sbuf cl;
    einc__sbuf_init(&cl);
    int status = einc__gen_opencl(&m, &cl, err, sizeof err);
    if (status != EINC_OK) {
      fprintf(stderr, "einc gen: %s\n", err);
      einc__sbuf_free(&cl);
      rc = status == EINC_ENOMEM ? 2 : 1;
      goto done;
    }
    bool ok = gen__write_if_changed(cl_path, &cl) == EINC_OK;
    einc__sbuf_free(&cl);
    if (!ok) {
      fprintf(stderr, "einc gen: cannot write %s\n", cl_path);
      goto done;
    }
  }
  rc = 0;
done:
  einc__sbuf_free(&h);
  einc__sbuf_free(&c);
  einc__manifest_free(&m);
  return rc;
}

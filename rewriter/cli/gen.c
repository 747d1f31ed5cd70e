/*
 * `einc gen`: the build step. Reads pattern manifests, compiles every entry and writes one header
 * and one source per target into the output folder. Files are replaced atomically and only when
 * their text changes, so a build system sees no spurious changes.
 *
 *   einc gen [-o DIR] [--name BASE] [--target c] MANIFEST...
 *
 * Exit status: 0 written, 1 a pattern in a manifest is invalid, 2 usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

int einc_cli_gen(int argc, char **argv);

static void gen__usage(FILE *f) {
  fprintf(f, "usage: einc gen [-o DIR] [--name BASE] [--target c] MANIFEST...\n"
             "  Compiles each [entry] of the manifests into a C function; writes DIR/BASE.h and\n"
             "  DIR/BASE.c (DIR defaults to '.', BASE to the first manifest's name without its\n"
             "  extension). See README.md, \"Code generation\", for the manifest format.\n");
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
  const char *manifests[256];
  int n_manifests = 0;
  unsigned targets = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "-o") == 0 || strcmp(a, "--output-dir") == 0) && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (strcmp(a, "--name") == 0 && i + 1 < argc) {
      base = argv[++i];
    } else if (strcmp(a, "--target") == 0 && i + 1 < argc) {
      const char *t = argv[++i];
      if (strcmp(t, "c") == 0) {
        targets |= EINC_GEN_TARGET_C;
      } else {
        fprintf(stderr, "einc gen: target '%s' is not available (targets: c)\n", t);
        return 2;
      }
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      gen__usage(stdout);
      return 0;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "einc gen: unknown option '%s'\n", a);
      gen__usage(stderr);
      return 2;
    } else if (n_manifests < (int)(sizeof manifests / sizeof *manifests)) {
      manifests[n_manifests++] = a;
    } else {
      fprintf(stderr, "einc gen: too many manifests\n");
      return 2;
    }
  }
  if (n_manifests == 0) {
    gen__usage(stderr);
    return 2;
  }
  if (!targets) targets = EINC_GEN_TARGET_C;

  char base_buf[256];
  if (!base) {
    const char *s = strrchr(manifests[0], '/');
    s = s ? s + 1 : manifests[0];
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

  if (targets & EINC_GEN_TARGET_C) {
    char header_name[300], h_path[1400], c_path[1400];
    snprintf(header_name, sizeof header_name, "%s.h", base);
    snprintf(h_path, sizeof h_path, "%s/%s.h", out_dir, base);
    snprintf(c_path, sizeof c_path, "%s/%s.c", out_dir, base);
    int status = einc__gen_c(&m, header_name, &h, &c, err, sizeof err);
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
  rc = 0;
done:
  einc__sbuf_free(&h);
  einc__sbuf_free(&c);
  einc__manifest_free(&m);
  return rc;
}

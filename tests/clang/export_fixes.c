/*
 * Writes the libclang scanner's fixes for one file as the YAML of --export-fixes (the input of
 * clang-apply-replacements). usage: export_fixes FILE > fixes.yaml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "lint.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  einc__lint_file file;
  memset(&file, 0, sizeof file);
  file.path = argv[1];
  file.src = einc__read_file(argv[1], &file.len);
  if (!file.src) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  einc__lint_options opts = {.fix = false};
  if (einc__lint_c_file(&file, &opts) != EINC_OK || file.error) {
    fprintf(stderr, "scan failed: %s\n", file.error ? file.error : "out of memory");
    return 1;
  }
  einc_sbuf out;
  einc__sbuf_init(&out);
  einc__lint_c_export_begin(&out, argv[1]);
  einc__lint_c_export_file(&out, &file);
  einc__lint_c_export_end(&out);
  char *text = einc__sbuf_finish(&out);
  if (!text) return 1;
  fputs(text, stdout);
  free(text);
  einc__lint_file_clear(&file);
  return 0;
}

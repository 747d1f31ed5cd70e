/*
 * rewrite.c — applies a file's fixes: byte-range edits, then an atomic replace of the file.
 *
 * The new text is built in memory first; the file on disk is only ever replaced whole, by
 * renaming a fully written and fsync'ed temporary file over it, so a crash or a full disk leaves
 * either the old file or the new one, never half of each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lint.h"

static int einc__edit_cmp(const void *a, const void *b) {
  const einc__edit *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

int einc__rewrite_apply(const char *src, size_t len, einc__edit *edits, int32_t n_edits, char **out,
                        size_t *out_len) {
  *out = NULL;
  if (n_edits > 1) qsort(edits, (size_t)n_edits, sizeof *edits, einc__edit_cmp);
  /* The same edit carried by several fixes (each fix's own `import torch`) is made once. */
  int32_t kept = 0;
  for (int32_t i = 0; i < n_edits; i++)
    if (!kept || edits[i].start != edits[kept - 1].start || edits[i].end != edits[kept - 1].end ||
        strcmp(edits[i].text, edits[kept - 1].text) != 0)
      edits[kept++] = edits[i];
  n_edits = kept;
  for (int32_t i = 0; i < n_edits; i++) {
    if (edits[i].end < edits[i].start || edits[i].end > len) return EINC_EINVAL;
    if (i && edits[i].start < edits[i - 1].end) return EINC_EINVAL;
  }
  einc_sbuf b = {0};
  size_t pos = 0;
  for (int32_t i = 0; i < n_edits; i++) {
    einc__sbuf_append(&b, src + pos, edits[i].start - pos);
    einc__sbuf_puts(&b, edits[i].text);
    pos = edits[i].end;
  }
  einc__sbuf_append(&b, src + pos, len - pos);
  size_t n = b.len;
  char *data = einc__sbuf_finish(&b);
  if (!data) return EINC_ENOMEM;
  *out = data;
  *out_len = n;
  return EINC_OK;
}

static int einc__rewrite_fail(char *why, size_t why_len, const char *step) {
  if (why) snprintf(why, why_len, "%s: %s", step, strerror(errno));
  return EINC_EINVAL;
}

static int einc__rewrite_path(const char *path, const char *data, size_t len, char *why,
                              size_t why_len) {
  struct stat st;
  if (stat(path, &st) != 0) return einc__rewrite_fail(why, why_len, "stat");
  /* A file nobody may write is left alone, even by root (rename would bypass the mode). */
  if ((st.st_mode & 0222) == 0 || access(path, W_OK) != 0) {
    if (why) snprintf(why, why_len, "the file is read-only");
    return EINC_EINVAL;
  }

  /* The temporary file lives beside the target so the rename stays within one file system. */
  size_t n = strlen(path);
  char *tmp = einc__malloc(n + 16);
  if (!tmp) return EINC_ENOMEM;
  snprintf(tmp, n + 16, "%s.eincXXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int rc = einc__rewrite_fail(why, why_len, "create temporary file");
    einc__free(tmp);
    return rc;
  }
  const char *step = NULL;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      step = "write";
      goto fail_tmp;
    }
    done += (size_t)w;
  }
  if (fchmod(fd, st.st_mode & 07777) != 0) {
    step = "chmod";
    goto fail_tmp;
  }
  if (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) {
    step = "chown";
    goto fail_tmp;
  }
  if (fsync(fd) != 0) {
    step = "fsync";
    goto fail_tmp;
  }
  if (close(fd) != 0) {
    fd = -1;
    step = "close";
    goto fail_tmp;
  }
  fd = -1;
  if (rename(tmp, path) != 0) {
    step = "rename";
    goto fail_tmp;
  }
  einc__free(tmp);
  return EINC_OK;

fail_tmp : {
  int rc = einc__rewrite_fail(why, why_len, step);
  if (fd >= 0) close(fd);
  unlink(tmp);
  einc__free(tmp);
  return rc;
}
}

int einc__rewrite_file(const char *link, const char *data, size_t len, char *why, size_t why_len) {
  /* Through a symlink the file it names is written; renaming onto the link would replace the
   * link itself with a copy and leave its target unfixed. */
  char *real = realpath(link, NULL);
  const char *path = real ? real : link;
  int rc = einc__rewrite_path(path, data, len, why, why_len);
  free(real);
  return rc;
}

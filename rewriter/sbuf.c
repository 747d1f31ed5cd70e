/*
 * A growable string with a sticky error. Emitters and formatters append without checking;
 * einc__sbuf_finish reports whether every append succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void einc__sbuf_init(einc_sbuf *self) {
  memset(self, 0, sizeof *self);
}

void einc__sbuf_free(einc_sbuf *self) {
  einc__free(self->data);
  einc__sbuf_init(self);
}

static bool einc_sbuf__reserve(einc_sbuf *self, size_t extra) {
  if (self->failed) return false;
  if (self->len + extra + 1 <= self->cap) return true;
  size_t cap = self->cap ? self->cap : 64;
  while (cap < self->len + extra + 1) {
    if (cap > SIZE_MAX / 2) goto fail;
    cap *= 2;
  }
  char *data = einc__realloc(self->data, cap);
  if (!data) goto fail;
  self->data = data;
  self->cap = cap;
  return true;
fail:
  self->failed = true;
  return false;
}

void einc__sbuf_append(einc_sbuf *self, const char *s, size_t n) {
  if (!einc_sbuf__reserve(self, n)) return;
  memcpy(self->data + self->len, s, n);
  self->len += n;
  self->data[self->len] = 0;
}

void einc__sbuf_puts(einc_sbuf *self, const char *s) {
  einc__sbuf_append(self, s, strlen(s));
}

void einc__sbuf_vprintf(einc_sbuf *self, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) {
    self->failed = true;
    return;
  }
  if (!einc_sbuf__reserve(self, (size_t)n)) return;
  vsnprintf(self->data + self->len, (size_t)n + 1, fmt, ap);
  self->len += (size_t)n;
}

void einc__sbuf_printf(einc_sbuf *self, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  einc__sbuf_vprintf(self, fmt, ap);
  va_end(ap);
}

char *einc__sbuf_finish(einc_sbuf *self) {
  if (self->failed || !einc_sbuf__reserve(self, 0)) {
    einc__sbuf_free(self);
    return NULL;
  }
  char *out = self->data;
  einc__sbuf_init(self);
  return out;
}

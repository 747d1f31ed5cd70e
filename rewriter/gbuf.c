/*
 * The code generator's string builder: every emitter appends here, never into a FILE *. An
 * allocation failure makes the builder sticky-failed; later appends are no-ops and the caller
 * checks `failed` once at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static bool einc__gbuf_reserve(einc__gbuf *self, size_t extra) {
  if (self->failed) return false;
  if (self->len + extra + 1 <= self->cap) return true;
  size_t cap = self->cap ? self->cap : 256;
  while (cap < self->len + extra + 1) cap *= 2;
  char *data = realloc(self->data, cap);
  if (!data) {
    self->failed = true;
    return false;
  }
  self->data = data;
  self->cap = cap;
  return true;
}

void einc__gbuf_append(einc__gbuf *self, const char *s, size_t n) {
  if (!einc__gbuf_reserve(self, n)) return;
  memcpy(self->data + self->len, s, n);
  self->len += n;
  self->data[self->len] = '\0';
}

void einc__gbuf_vprintf(einc__gbuf *self, const char *fmt, va_list ap) {
  if (self->failed) return;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    self->failed = true; /* cannot happen with the formats einc uses */
    return;
  }
  if (!einc__gbuf_reserve(self, (size_t)n)) return;
  vsnprintf(self->data + self->len, (size_t)n + 1, fmt, ap);
  self->len += (size_t)n;
}

void einc__gbuf_printf(einc__gbuf *self, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  einc__gbuf_vprintf(self, fmt, ap);
  va_end(ap);
}

void einc__gbuf_free(einc__gbuf *self) {
  free(self->data);
  self->data = NULL;
  self->len = self->cap = 0;
  self->failed = false;
}

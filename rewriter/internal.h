/*
 * Internal to libeinc: the exports of each pipeline stage, one section per file, and the small
 * helpers they share. Nothing here is part of the public API (include/einc/einc.h).
 */
#ifndef EINC_INTERNAL_H
#define EINC_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "einc/einc.h"

/* ---- status.c: allocation through the replaceable hooks -------------------------------- */

void *einc__malloc(size_t size);
void *einc__calloc(size_t count, size_t size);
void *einc__realloc(void *ptr, size_t size);
void einc__free(void *ptr);

/* ---- sbuf.c: a growable string with a sticky error (SQLite's StrAccum idea) ---------------- */

typedef struct einc_sbuf {
  char *data;
  size_t len, cap;
  bool failed; /* an allocation failed: later appends are no-ops; check once at the end */
} einc_sbuf;

void einc__sbuf_init(einc_sbuf *self);
void einc__sbuf_free(einc_sbuf *self);
void einc__sbuf_append(einc_sbuf *self, const char *s, size_t n);
void einc__sbuf_puts(einc_sbuf *self, const char *s);
void einc__sbuf_printf(einc_sbuf *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void einc__sbuf_vprintf(einc_sbuf *self, const char *fmt, va_list ap);
/* Hand the buffer over (NUL-terminated, malloc'd) or NULL if anything failed; resets self. */
char *einc__sbuf_finish(einc_sbuf *self);

/* ---- status.c: errors --------------------------------------------------------------------- */

/* Fill `err` (if not NULL) and return EINC_EPATTERN-class status for `kind`. The span is
 * relative to the whole pattern. */
int einc__fail(einc_error *err, einc_error_kind kind, einc_span span, bool has_span,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int einc__status_for(einc_error_kind kind);

/* ---- pattern.c: one side of a pattern --------------------------------------------------------
 * Lexes and parses bytes [start, end) of `pattern` by the einops rules (spec §2). Atoms point
 * into `arena` memory owned by the caller (freed with the plan). */

typedef struct einc_arena einc_arena;
einc_arena *einc__arena_new(void);
void einc__arena_delete(einc_arena *self);
void *einc__arena_alloc(einc_arena *self, size_t n);
char *einc__arena_strndup(einc_arena *self, const char *s, size_t n);

typedef struct einc_side_options {
  bool allow_underscore; /* a bare `_` is a name (einsum, parse_shape) */
  bool allow_duplicates; /* names may repeat (einsum operands) */
} einc_side_options;

int einc__parse_side(const char *pattern, size_t start, size_t end, einc_side_options opts,
                     einc_arena *arena, einc_side *out, einc_error *err);

/* Find the one "->" of `pattern` (einops splits on it: none or several is a ValueError, reported
 * as `no_arrow_kind` or multiple_arrows with a span). */
int einc__split_arrow(const char *pattern, size_t len, einc_error_kind no_arrow_kind,
                      const char *no_arrow_message, size_t *arrow, einc_error *err);

/* The axis-name rule: a Python identifier that neither starts nor ends with `_` (a bare `_` when
 * allow_underscore). Returns NULL when valid, else the reason einops gives. */
const char *einc__axis_name_problem(const char *name, size_t len, bool allow_underscore);
/* Python keyword (accepted by einops with a warning). */
bool einc__is_python_keyword(const char *name);

/* Decode one UTF-8 code point at s[0..n); returns its byte length, or 0 if malformed. */
int einc__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* ---- plan.c ------------------------------------------------------------------------------ */

/* Allocate an empty plan with its arena; the arena pointer is kept in the plan's private tail. */
einc_plan *einc__plan_alloc(void);
einc_arena *einc__plan_arena(einc_plan *self);
/* Checked int64 product; false on overflow. */
bool einc__mul_overflow(int64_t a, int64_t b, int64_t *out);

/* ---- einsum.c, pack.c: plans of the ops with their own grammar ----------------------------- */

int einc__plan_einsum(einc_plan *plan, const einc_spec *spec, einc_error *err);
int einc__plan_pack(einc_plan *plan, const einc_spec *spec, einc_error *err);
int einc__plan_unpack(einc_plan *plan, const einc_spec *spec, einc_error *err);
int einc__plan_parse_shape(einc_plan *plan, const einc_spec *spec, einc_error *err);

/* ---- interp.c ----------------------------------------------------------------------------- */

double einc__load_f64(einc_dtype dt, const void *base, int64_t index);
void einc__store_f64(einc_dtype dt, void *base, int64_t index, double v);
uint16_t einc__f32_to_bf16(float f);
float einc__bf16_to_f32(uint16_t h);
uint16_t einc__f32_to_f16(float f);
float einc__f16_to_f32(uint16_t h);

#endif /* EINC_INTERNAL_H */

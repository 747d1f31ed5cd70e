/*
 * The pattern manifest: the input of `einc gen`. One section per generated function:
 *
 *   # comment (also at the end of a line, after a blank)
 *   [gdn_flatten]                      the function's name (a C identifier)
 *   op = rearrange                     rearrange | reduce | repeat
 *   pattern = ... h d -> ... (h d)
 *   reduction = sum                    reduce only
 *   shape = ?, 32, 128                 input shape; ? marks a length bound at run time
 *   sizes = h=32, d=128                keyword axis sizes in call order; NAME=? is an argument
 *   dtype = float32                    float64 float32 bfloat16 float16 int64 bool
 *   targets = c                        c, cuda, opencl (default: c)
 *
 * The parser is line-based, reports "FILE:LINE: message" and never stops half-way silently.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static void manifest__trim(const char **b, const char **e) {
  while (*b < *e && isspace((unsigned char)**b))
    (*b)++;
  while (*e > *b && isspace((unsigned char)(*e)[-1]))
    (*e)--;
}

static bool manifest__is_ident(const char *b, const char *e) {
  if (b == e || !(isalpha((unsigned char)*b) || *b == '_')) return false;
  for (const char *s = b; s < e; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
  return true;
}

static int manifest__fail(char *err, size_t err_len, const char *path, int32_t line,
                          const char *msg, const char *b, const char *e) {
  snprintf(err, err_len, "%s:%d: %s%s%.*s%s", path, line, msg, b ? " '" : "", b ? (int)(e - b) : 0,
           b ? b : "", b ? "'" : "");
  return EINC_EINVAL;
}

/* A length: a non-negative integer, or ? for a run-time one. */
static bool manifest__length(const char *b, const char *e, int64_t *out) {
  manifest__trim(&b, &e);
  if (e - b == 1 && *b == '?') {
    *out = EINC_UNKNOWN;
    return true;
  }
  if (b == e) return false;
  int64_t v = 0;
  for (const char *s = b; s < e; s++) {
    if (!isdigit((unsigned char)*s)) return false;
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

static int manifest__check_entry(const einc__gen_entry *en, const char *path, char *err,
                                 size_t err_len) {
  if (!en->pattern[0])
    return manifest__fail(err, err_len, path, en->line, "entry has no pattern", NULL, NULL);
  if (en->shape.rank < 0)
    return manifest__fail(err, err_len, path, en->line,
                          "entry has no shape (give the input rank, ? for run-time lengths)", NULL,
                          NULL);
  if (en->op == EINC_OP_REDUCE && !en->reduction[0])
    return manifest__fail(err, err_len, path, en->line, "reduce entry has no reduction", NULL,
                          NULL);
  return EINC_OK;
}

static int manifest__push(einc__manifest *self) {
  if (self->n_entries == self->cap) {
    int32_t cap = self->cap ? self->cap * 2 : 8;
    einc__gen_entry *p = realloc(self->entries, (size_t)cap * sizeof *p);
    if (!p) return EINC_ENOMEM;
    self->entries = p;
    self->cap = cap;
  }
  einc__gen_entry *en = &self->entries[self->n_entries++];
  memset(en, 0, sizeof *en);
  en->op = EINC_OP_REARRANGE;
  en->shape.rank = EINC_UNKNOWN;
  en->dtype = EINC_F32;
  en->targets = EINC_GEN_TARGET_C;
  return EINC_OK;
}

static int manifest__key(einc__gen_entry *en, const char *path, int32_t line, const char *kb,
                         const char *ke, const char *vb, const char *ve, char *err,
                         size_t err_len) {
  size_t kl = (size_t)(ke - kb), vl = (size_t)(ve - vb);
  char val[EINC_MAX_PATTERN];
  if (vl >= sizeof val)
    return manifest__fail(err, err_len, path, line, "value too long", NULL, NULL);
  memcpy(val, vb, vl);
  val[vl] = '\0';
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(kb, s, kl) == 0)
  if (KEY("op")) {
    if (!einc_op_from_name(val, &en->op) ||
        (en->op != EINC_OP_REARRANGE && en->op != EINC_OP_REDUCE && en->op != EINC_OP_REPEAT))
      return manifest__fail(err, err_len, path, line, "op must be rearrange, reduce or repeat", vb,
                            ve);
  } else if (KEY("pattern")) {
    memcpy(en->pattern, val, vl + 1);
  } else if (KEY("reduction")) {
    if (vl >= sizeof en->reduction)
      return manifest__fail(err, err_len, path, line, "unknown reduction", vb, ve);
    memcpy(en->reduction, val, vl + 1);
  } else if (KEY("dtype")) {
    if (!einc_dtype_from_name(val, &en->dtype))
      return manifest__fail(err, err_len, path, line, "unknown dtype", vb, ve);
  } else if (KEY("shape")) {
    en->shape.rank = 0;
    const char *s = vb;
    if (s == ve) return EINC_OK; /* a scalar input */
    while (s <= ve) {
      const char *comma = memchr(s, ',', (size_t)(ve - s));
      const char *end = comma ? comma : ve;
      if (en->shape.rank == EINC_MAX_RANK)
        return manifest__fail(err, err_len, path, line, "too many dims", NULL, NULL);
      if (!manifest__length(s, end, &en->shape.dims[en->shape.rank]))
        return manifest__fail(err, err_len, path, line, "a dim must be a length or ?", s, end);
      en->shape.rank++;
      if (!comma) break;
      s = comma + 1;
    }
  } else if (KEY("sizes")) {
    en->n_kwargs = 0;
    const char *s = vb;
    while (s < ve) {
      const char *comma = memchr(s, ',', (size_t)(ve - s));
      const char *end = comma ? comma : ve;
      const char *eq = memchr(s, '=', (size_t)(end - s));
      if (!eq) return manifest__fail(err, err_len, path, line, "expected NAME=LENGTH", s, end);
      const char *nb = s, *ne = eq;
      manifest__trim(&nb, &ne);
      if (!manifest__is_ident(nb, ne) || (size_t)(ne - nb) >= sizeof en->kw_names[0])
        return manifest__fail(err, err_len, path, line, "not an axis name", nb, ne);
      if (en->n_kwargs == EINC_GEN_MAX_KWARGS)
        return manifest__fail(err, err_len, path, line, "too many sizes", NULL, NULL);
      memcpy(en->kw_names[en->n_kwargs], nb, (size_t)(ne - nb));
      en->kw_names[en->n_kwargs][ne - nb] = '\0';
      if (!manifest__length(eq + 1, end, &en->kw_values[en->n_kwargs]))
        return manifest__fail(err, err_len, path, line, "a size must be a length or ?", eq + 1,
                              end);
      en->n_kwargs++;
      s = comma ? comma + 1 : ve;
    }
  } else if (KEY("targets")) {
    en->targets = 0;
    const char *s = vb;
    while (s < ve) {
      const char *comma = memchr(s, ',', (size_t)(ve - s));
      const char *b = s, *end = comma ? comma : ve;
      manifest__trim(&b, &end);
      if (end - b == 1 && *b == 'c')
        en->targets |= EINC_GEN_TARGET_C;
      else if (end - b == 4 && memcmp(b, "cuda", 4) == 0)
        en->targets |= EINC_GEN_TARGET_CUDA;
      else if (end - b == 6 && memcmp(b, "opencl", 6) == 0)
        en->targets |= EINC_GEN_TARGET_OPENCL;
      else
        return manifest__fail(err, err_len, path, line, "unknown target", b, end);
      s = comma ? comma + 1 : ve;
    }
  } else {
    return manifest__fail(err, err_len, path, line, "unknown key", kb, ke);
  }
#undef KEY
  return EINC_OK;
}

int einc__manifest_parse(einc__manifest *self, const char *path, const char *text, size_t len,
                         char *err, size_t err_len) {
  const char *s = text, *end = text + len;
  int32_t line = 0, first = self->n_entries;
  einc__gen_entry *en = NULL;
  int status = EINC_OK;
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *b = s, *e = nl ? nl : end;
    s = nl ? nl + 1 : end;
    line++;
    manifest__trim(&b, &e);
    if (b == e || *b == '#') continue;
    /* a comment may also end a line: " #" to the end (no value contains '#') */
    for (const char *c = b + 1; c < e; c++)
      if (*c == '#' && (c[-1] == ' ' || c[-1] == '\t')) {
        e = c;
        manifest__trim(&b, &e);
        break;
      }
    if (*b == '[') {
      if (e[-1] != ']') return manifest__fail(err, err_len, path, line, "expected [name]", b, e);
      const char *nb = b + 1, *ne = e - 1;
      manifest__trim(&nb, &ne);
      if (!manifest__is_ident(nb, ne) || (size_t)(ne - nb) >= EINC_GEN_MAX_NAME)
        return manifest__fail(err, err_len, path, line, "the name must be a C identifier", nb, ne);
      for (int32_t i = 0; i < self->n_entries; i++)
        if (strlen(self->entries[i].name) == (size_t)(ne - nb) &&
            memcmp(self->entries[i].name, nb, (size_t)(ne - nb)) == 0)
          return manifest__fail(err, err_len, path, line, "duplicate name", nb, ne);
      if (en && (status = manifest__check_entry(en, path, err, err_len)) != EINC_OK) return status;
      if ((status = manifest__push(self)) != EINC_OK) return status;
      en = &self->entries[self->n_entries - 1];
      memcpy(en->name, nb, (size_t)(ne - nb));
      en->line = line;
      continue;
    }
    const char *eq = memchr(b, '=', (size_t)(e - b));
    if (!eq) return manifest__fail(err, err_len, path, line, "expected KEY = VALUE", b, e);
    if (!en)
      return manifest__fail(err, err_len, path, line, "KEY = VALUE before the first [name]", NULL,
                            NULL);
    const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
    manifest__trim(&kb, &ke);
    manifest__trim(&vb, &ve);
    status = manifest__key(en, path, line, kb, ke, vb, ve, err, err_len);
    if (status != EINC_OK) return status;
  }
  if (en && (status = manifest__check_entry(en, path, err, err_len)) != EINC_OK) return status;
  (void)first;
  return EINC_OK;
}

void einc__manifest_free(einc__manifest *self) {
  free(self->entries);
  memset(self, 0, sizeof *self);
}

void einc__manifest_format_entry(einc_sbuf *out, const einc__gen_entry *en) {
  einc__sbuf_printf(out, "[%s]\nop = %s\npattern = %s\n", en->name, einc_op_name(en->op),
                    en->pattern);
  if (en->op == EINC_OP_REDUCE) einc__sbuf_printf(out, "reduction = %s\n", en->reduction);
  einc__sbuf_printf(out, "shape = ");
  for (int32_t d = 0; d < en->shape.rank; d++) {
    if (en->shape.dims[d] == EINC_UNKNOWN)
      einc__sbuf_printf(out, "%s?", d ? ", " : "");
    else
      einc__sbuf_printf(out, "%s%" PRId64, d ? ", " : "", en->shape.dims[d]);
  }
  einc__sbuf_printf(out, "\n");
  if (en->n_kwargs > 0) {
    einc__sbuf_printf(out, "sizes = ");
    for (int32_t k = 0; k < en->n_kwargs; k++) {
      if (en->kw_values[k] == EINC_UNKNOWN)
        einc__sbuf_printf(out, "%s%s=?", k ? ", " : "", en->kw_names[k]);
      else
        einc__sbuf_printf(out, "%s%s=%" PRId64, k ? ", " : "", en->kw_names[k], en->kw_values[k]);
    }
    einc__sbuf_printf(out, "\n");
  }
  einc__sbuf_printf(out, "dtype = %s\ntargets = ", einc_dtype_name(en->dtype));
  const char *sep = "";
  if (en->targets & EINC_GEN_TARGET_C) einc__sbuf_printf(out, "%sc", sep), sep = ", ";
  if (en->targets & EINC_GEN_TARGET_CUDA) einc__sbuf_printf(out, "%scuda", sep), sep = ", ";
  if (en->targets & EINC_GEN_TARGET_OPENCL) einc__sbuf_printf(out, "%sopencl", sep);
  einc__sbuf_printf(out, "\n");
}

void einc__gen_entry_spec(const einc__gen_entry *self, einc_spec *spec, einc_kwarg *kwargs) {
  memset(spec, 0, sizeof *spec);
  spec->op = self->op;
  spec->pattern = self->pattern;
  spec->pattern_len = strlen(self->pattern);
  spec->reduction_name = self->op == EINC_OP_REDUCE ? self->reduction : NULL;
  spec->reduction = EINC_RED_NONE;
  spec->dtype = self->dtype;
  spec->n_inputs = 1;
  spec->inputs = &self->shape;
  for (int32_t k = 0; k < self->n_kwargs; k++) {
    kwargs[k].name = self->kw_names[k];
    kwargs[k].value = self->kw_values[k];
  }
  spec->n_kwargs = self->n_kwargs;
  spec->kwargs = kwargs;
}

/*
 * Stage 1 of the pipeline: lex and parse one side of a pattern into top-level items (groups of
 * elementary axes, or the ellipsis), by einops' rules (spec §2) and in einops' order, so the
 * first error found is the one einops reports. Every error carries the byte span of the
 * offending character or token.
 */
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "internal.h"

/* ---- arena: every string and array of one plan lives here, freed at once ---------------- */

typedef struct einc_arena_block {
  struct einc_arena_block *next;
  size_t used, cap;
  max_align_t data[];
} einc_arena_block;

struct einc_arena {
  einc_arena_block *head;
};

einc_arena *einc__arena_new(void) {
  return einc__calloc(1, sizeof(einc_arena));
}

void einc__arena_delete(einc_arena *self) {
  if (!self) return;
  for (einc_arena_block *b = self->head, *next; b; b = next) {
    next = b->next;
    einc__free(b);
  }
  einc__free(self);
}

void *einc__arena_alloc(einc_arena *self, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  einc_arena_block *b = self->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 4096 ? n : 4096;
    b = einc__malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    b->next = self->head;
    self->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

char *einc__arena_strndup(einc_arena *self, const char *s, size_t n) {
  char *p = einc__arena_alloc(self, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* ---- characters -------------------------------------------------------------------------- */

int einc__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  if (n == 0) return 0;
  if (s[0] < 0x80) return *cp = s[0], 1;
  int len;
  uint32_t c, min;
  if ((s[0] & 0xE0) == 0xC0)
    len = 2, c = s[0] & 0x1F, min = 0x80;
  else if ((s[0] & 0xF0) == 0xE0)
    len = 3, c = s[0] & 0x0F, min = 0x800;
  else if ((s[0] & 0xF8) == 0xF0)
    len = 4, c = s[0] & 0x07, min = 0x10000;
  else
    return 0;
  if ((size_t)len > n) return 0;
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

/* First code point of each run of ten Unicode decimal digits (category Nd) outside ASCII. */
static const uint32_t einc__digit_zeros[] = {
    0x0660,  0x06F0,  0x07C0,  0x0966,  0x09E6,  0x0A66,  0x0AE6,  0x0B66,  0x0BE6,  0x0C66,
    0x0CE6,  0x0D66,  0x0DE6,  0x0E50,  0x0ED0,  0x0F20,  0x1040,  0x1090,  0x17E0,  0x1810,
    0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,
    0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0,
    0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950,
    0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC,
    0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

/* The digit value of a decimal digit code point, or -1. */
static int einc__digit_value(uint32_t cp) {
  if (cp >= '0' && cp <= '9') return (int)(cp - '0');
  if (cp < 0x0660) return -1;
  for (size_t i = 0; i < sizeof einc__digit_zeros / sizeof einc__digit_zeros[0]; i++)
    if (cp >= einc__digit_zeros[i] && cp < einc__digit_zeros[i] + 10)
      return (int)(cp - einc__digit_zeros[i]);
  return -1;
}

/* Unicode letters come from the C library's UTF-8 locale, made once and never installed
 * globally, so the caller's locale is left alone. */
static locale_t einc__utf8_locale;
static pthread_once_t einc__utf8_once = PTHREAD_ONCE_INIT;

static void einc__utf8_locale_init(void) {
  einc__utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static bool einc__is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  pthread_once(&einc__utf8_once, einc__utf8_locale_init);
  if (!einc__utf8_locale) return cp >= 0xC0; /* no UTF-8 locale: accept, einops would */
  return iswalpha_l((wint_t)cp, einc__utf8_locale) != 0;
}

/* Python's str.isalnum for one character (letters, decimal digits and other numerics). */
static bool einc__is_alnum(uint32_t cp) {
  if (einc__is_letter(cp) || einc__digit_value(cp) >= 0) return true;
  if (cp < 0x80) return false;
  /* superscripts, fractions and other numeric characters */
  if (cp == 0xB2 || cp == 0xB3 || cp == 0xB9 || (cp >= 0xBC && cp <= 0xBE)) return true;
  pthread_once(&einc__utf8_once, einc__utf8_locale_init);
  return einc__utf8_locale && iswalnum_l((wint_t)cp, einc__utf8_locale);
}

static const char *const einc__python_keywords[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield",
};

bool einc__is_python_keyword(const char *name) {
  for (size_t i = 0; i < sizeof einc__python_keywords / sizeof einc__python_keywords[0]; i++)
    if (!strcmp(name, einc__python_keywords[i])) return true;
  return false;
}

const char *einc__axis_name_problem(const char *name, size_t len, bool allow_underscore) {
  /* str.isidentifier: a letter or _ first, then letters, digits or _ */
  const unsigned char *s = (const unsigned char *)name;
  size_t i = 0;
  if (len == 0) return "not a valid python identifier";
  while (i < len) {
    uint32_t cp;
    int n = einc__utf8_decode(s + i, len - i, &cp);
    if (n == 0) return "not a valid python identifier";
    bool ok = cp == '_' || einc__is_letter(cp) || (i > 0 && einc__digit_value(cp) >= 0);
    if (!ok) return "not a valid python identifier";
    i += (size_t)n;
  }
  if (name[0] == '_' || name[len - 1] == '_') {
    if (len == 1 && allow_underscore) return NULL;
    return "axis name should should not start or end with underscore";
  }
  return NULL;
}

/* ---- one side ---------------------------------------------------------------------------- */

static const char einc__ellipsis_utf8[] = "\xE2\x80\xA6"; /* U+2026, einops' internal token */

typedef struct einc_side_parser {
  const char *pattern;
  einc_side_options opts;
  einc_arena *arena;
  einc_error *err;
  einc_item items[EINC_MAX_AXES + 1];
  int n_items;
  einc_atom atoms[EINC_MAX_AXES + 1];
  int n_atoms;
  int group;                           /* index of the open group item, or -1 */
  const char *seen[EINC_MAX_AXES + 2]; /* identifiers so far (names and the ellipsis) */
  int n_seen;
  bool has_ellipsis, ellipsis_in_group, has_anonymous;
} einc_side_parser;

static einc_span einc__span(size_t a, size_t b) {
  return (einc_span){(uint32_t)a, (uint32_t)b};
}

static int einc_side__new_item(einc_side_parser *p, einc_item_kind kind, size_t start, size_t end) {
  if (p->n_items >= EINC_MAX_AXES)
    return einc__fail(p->err, EINC_ERR_TOO_MANY_AXES, einc__span(start, end), true,
                      "Too many dims on one side (einc supports at most %d)", EINC_MAX_AXES);
  p->items[p->n_items++] = (einc_item){.kind = kind, .span = einc__span(start, end)};
  return EINC_OK;
}

static int einc_side__add_atom(einc_side_parser *p, einc_atom atom) {
  if (p->n_atoms >= EINC_MAX_AXES)
    return einc__fail(p->err, EINC_ERR_TOO_MANY_AXES, atom.span, true,
                      "Too many axes on one side (einc supports at most %d)", EINC_MAX_AXES);
  if (p->group < 0) {
    int rc = einc_side__new_item(
        p, atom.kind == EINC_ATOM_ELLIPSIS ? EINC_ITEM_ELLIPSIS : EINC_ITEM_GROUP, atom.span.start,
        atom.span.end);
    if (rc) return rc;
    p->items[p->n_items - 1].n_atoms = atom.kind == EINC_ATOM_ELLIPSIS ? 0 : 1;
  } else {
    p->items[p->group].n_atoms++;
  }
  p->atoms[p->n_atoms++] = atom;
  return EINC_OK;
}

/* A finished token: `text` is its canonical form (the ellipsis as U+2026). */
static int einc_side__token(einc_side_parser *p, const char *text, size_t len, size_t start,
                            size_t end) {
  einc_span span = einc__span(start, end);
  char *name = einc__arena_strndup(p->arena, text, len);
  if (!name) return einc__fail(p->err, EINC_ERR_NONE, span, false, "out of memory");

  /* duplicates first, as einops checks them before anything else */
  for (int i = 0; i < p->n_seen; i++) {
    if (strcmp(p->seen[i], name)) continue;
    if (p->opts.allow_duplicates || (p->opts.allow_underscore && !strcmp(name, "_"))) break;
    return einc__fail(p->err, EINC_ERR_DUPLICATE_AXIS, span, true,
                      "Indexing expression contains duplicate dimension \"%s\"", name);
  }

  if (!strcmp(name, einc__ellipsis_utf8)) {
    p->seen[p->n_seen++] = name;
    if (p->group >= 0) p->ellipsis_in_group = true;
    return einc_side__add_atom(p,
                               (einc_atom){.kind = EINC_ATOM_ELLIPSIS, .name = name, .span = span});
  }

  /* str.isdecimal: every character a decimal digit */
  bool is_number = true;
  int64_t value = 0;
  bool too_large = false;
  for (size_t i = 0; i < len && is_number;) {
    uint32_t cp;
    int n = einc__utf8_decode((const unsigned char *)text + i, len - i, &cp);
    int d = n ? einc__digit_value(cp) : -1;
    if (d < 0) {
      is_number = false;
      break;
    }
    if (value > (INT64_C(1) << 62) / 10)
      too_large = true;
    else
      value = value * 10 + d;
    i += (size_t)n;
  }
  if (is_number) {
    if (!too_large && value == 1) {
      /* a unit axis: a length-1 dim at top level, nothing inside a group */
      if (p->group < 0) return einc_side__new_item(p, EINC_ITEM_GROUP, start, end);
      return EINC_OK;
    }
    if (!too_large && value == 0)
      return einc__fail(p->err, EINC_ERR_ANON_NONPOSITIVE, span, true,
                        "Anonymous axis should have positive length, not 0");
    if (too_large || value > (INT64_C(1) << 62))
      return einc__fail(p->err, EINC_ERR_ANON_TOO_LARGE, span, true,
                        "Anonymous axis %s is too large (einc supports lengths below 2^62)", name);
    p->has_anonymous = true;
    return einc_side__add_atom(
        p, (einc_atom){.kind = EINC_ATOM_ANONYMOUS, .name = name, .value = value, .span = span});
  }

  const char *problem = einc__axis_name_problem(name, len, p->opts.allow_underscore);
  if (problem) {
    bool underscore = problem[0] == 'a';
    return einc__fail(p->err, underscore ? EINC_ERR_UNDERSCORE_NAME : EINC_ERR_INVALID_IDENTIFIER,
                      span, true, "Invalid axis identifier: %s\n%s", name, problem);
  }
  p->seen[p->n_seen++] = name;
  return einc_side__add_atom(
      p, (einc_atom){.kind = EINC_ATOM_NAMED, .name = name, .value = EINC_UNKNOWN, .span = span});
}

int einc__split_arrow(const char *pat, size_t len, einc_error_kind no_arrow_kind,
                      const char *no_arrow_message, size_t *arrow, einc_error *err) {
  size_t n_arrows = 0, second = 0;
  *arrow = SIZE_MAX;
  for (size_t i = 0; i + 1 < len;) {
    if (pat[i] == '-' && pat[i + 1] == '>') {
      if (n_arrows == 0)
        *arrow = i;
      else if (n_arrows == 1)
        second = i;
      n_arrows++;
      i += 2;
    } else {
      i++;
    }
  }
  if (n_arrows == 0)
    return einc__fail(err, no_arrow_kind, (einc_span){(uint32_t)len, (uint32_t)len}, true, "%s",
                      no_arrow_message);
  if (n_arrows > 1)
    return einc__fail(
        err, EINC_ERR_MULTIPLE_ARROWS, (einc_span){(uint32_t)second, (uint32_t)second + 2}, true,
        "too many values to unpack (expected 2): the pattern has %zu \"->\"", n_arrows);
  return EINC_OK;
}

/* Python's str.count: non-overlapping occurrences. */
static size_t einc__count(const char *s, size_t n, const char *needle, size_t m, size_t *first) {
  size_t count = 0;
  for (size_t i = 0; i + m <= n;) {
    if (!memcmp(s + i, needle, m)) {
      if (count == 0 && first) *first = i;
      count++;
      i += m;
    } else {
      i++;
    }
  }
  return count;
}

int einc__parse_side(const char *pattern, size_t start, size_t end, einc_side_options opts,
                     einc_arena *arena, einc_side *out, einc_error *err) {
  einc_side_parser *p = einc__calloc(1, sizeof *p);
  if (!p) return einc__fail(err, EINC_ERR_NONE, einc__span(0, 0), false, "out of memory");
  p->pattern = pattern;
  p->opts = opts;
  p->arena = arena;
  p->err = err;
  p->group = -1;
  int rc = EINC_OK;
  const char *s = pattern + start;
  size_t n = end - start;

  /* Step 1: dots are allowed only as one "..." */
  size_t ellipsis_at = SIZE_MAX;
  if (memchr(s, '.', n)) {
    size_t first_dot = (size_t)((const char *)memchr(s, '.', n) - s);
    size_t n_ellipsis = einc__count(s, n, "...", 3, &ellipsis_at);
    size_t n_dots = einc__count(s, n, ".", 1, NULL);
    if (n_ellipsis == 0) {
      rc =
          einc__fail(err, EINC_ERR_STRAY_DOTS, einc__span(start + first_dot, start + first_dot + 1),
                     true, "Expression may contain dots only inside ellipsis (...)");
      goto done;
    }
    if (n_ellipsis != 1 || n_dots != 3) {
      /* point at the first dot that is not part of the first "..." */
      size_t bad = first_dot < ellipsis_at ? first_dot : ellipsis_at + 3;
      while (bad < n && s[bad] != '.')
        bad++;
      if (bad >= n) bad = ellipsis_at;
      rc = einc__fail(err, EINC_ERR_BAD_ELLIPSIS_COUNT, einc__span(start + bad, start + bad + 1),
                      true,
                      "Expression may contain dots only inside ellipsis (...); only one ellipsis "
                      "for tensor ");
      goto done;
    }
    p->has_ellipsis = true;
  }

  /* Step 2: characters, left to right */
  char token[EINC_MAX_PATTERN + 8];
  size_t token_len = 0, token_start = 0;
  bool in_token = false;
  for (size_t i = 0; i <= n;) {
    bool at_end = i == n;
    uint32_t cp = 0;
    int len = 0;
    bool is_ellipsis = false;
    if (!at_end) {
      if (i == ellipsis_at) {
        is_ellipsis = true;
        len = 3;
      } else {
        len = einc__utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0) {
          rc = einc__fail(err, EINC_ERR_UNKNOWN_CHAR, einc__span(start + i, start + i + 1), true,
                          "Unknown character: byte 0x%02x is not valid UTF-8", (unsigned char)s[i]);
          goto done;
        }
        is_ellipsis = cp == 0x2026;
      }
    }
    bool separator = at_end || cp == '(' || cp == ')' || (cp == ' ' && !is_ellipsis);
    if (separator) {
      if (in_token) {
        rc = einc_side__token(p, token, token_len, start + token_start, start + i);
        if (rc) goto done;
        in_token = false;
        token_len = 0;
      }
      if (at_end) break;
      if (cp == '(') {
        if (p->group >= 0) {
          rc = einc__fail(err, EINC_ERR_NESTED_PARENS, einc__span(start + i, start + i + 1), true,
                          "Axis composition is one-level (brackets inside brackets not allowed)");
          goto done;
        }
        rc = einc_side__new_item(p, EINC_ITEM_GROUP, start + i, start + i + 1);
        if (rc) goto done;
        p->group = p->n_items - 1;
        p->items[p->group].n_atoms = 0;
      } else if (cp == ')') {
        if (p->group < 0) {
          rc = einc__fail(err, EINC_ERR_UNBALANCED_CLOSE_PAREN,
                          einc__span(start + i, start + i + 1), true, "Brackets are not balanced");
          goto done;
        }
        p->items[p->group].span.end = (uint32_t)(start + i + 1);
        p->group = -1;
      }
      i += (size_t)len;
      continue;
    }
    if (is_ellipsis || cp == '_' || einc__is_alnum(cp)) {
      if (!in_token) in_token = true, token_start = i;
      const char *bytes = is_ellipsis ? einc__ellipsis_utf8 : s + i;
      size_t nb = is_ellipsis ? 3 : (size_t)len;
      if (token_len + nb > EINC_MAX_PATTERN) {
        rc = einc__fail(err, EINC_ERR_PATTERN_TOO_LONG, einc__span(start + i, start + i + 1), true,
                        "Axis name too long");
        goto done;
      }
      memcpy(token + token_len, bytes, nb);
      token_len += nb;
      i += (size_t)len;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F)
      rc = einc__fail(err, EINC_ERR_UNKNOWN_CHAR, einc__span(start + i, start + i + len), true,
                      "Unknown character '\\x%02x' (only spaces separate axes)", (unsigned)cp);
    else
      rc = einc__fail(err, EINC_ERR_UNKNOWN_CHAR, einc__span(start + i, start + i + len), true,
                      "Unknown character '%.*s'", len, s + i);
    goto done;
  }

  if (p->group >= 0) {
    einc_span open = p->items[p->group].span;
    rc = einc__fail(err, EINC_ERR_UNBALANCED_OPEN_PAREN, einc__span(open.start, open.start + 1),
                    true, "Imbalanced parentheses in expression: \"%.*s\"", (int)n, s);
    goto done;
  }

  /* Hand the items and atoms over to arena memory. */
  einc_item *items = einc__arena_alloc(arena, sizeof(einc_item) * (size_t)(p->n_items + 1));
  einc_atom *atoms = einc__arena_alloc(arena, sizeof(einc_atom) * (size_t)(p->n_atoms + 1));
  if (!items || !atoms) {
    rc = einc__fail(err, EINC_ERR_NONE, einc__span(0, 0), false, "out of memory");
    goto done;
  }
  memcpy(atoms, p->atoms, sizeof(einc_atom) * (size_t)p->n_atoms);
  int next_atom = 0;
  for (int k = 0; k < p->n_items; k++) {
    items[k] = p->items[k];
    if (items[k].kind == EINC_ITEM_ELLIPSIS) {
      next_atom++; /* its atom stays in the list but belongs to no group */
      items[k].atoms = NULL;
      continue;
    }
    items[k].atoms = atoms + next_atom;
    next_atom += items[k].n_atoms;
  }
  *out = (einc_side){.n_items = p->n_items,
                     .items = items,
                     .has_ellipsis = p->has_ellipsis,
                     .ellipsis_in_group = p->ellipsis_in_group,
                     .has_anonymous = p->has_anonymous};
done:
  einc__free(p);
  return rc;
}

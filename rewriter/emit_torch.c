/*
 * emit_torch.c — a plan as one PyTorch or numpy expression.
 *
 * The plan's two sides are replayed on a symbolic list of the tensor's dims (elementary axes,
 * the ellipsis as one block of unknown length, unit dims): split the input's groups, reduce,
 * permute, insert the new axes of repeat, merge the output's groups. Each step prints as the
 * most idiomatic call (unflatten, squeeze, sum/mean/amax/..., transpose/movedim/permute,
 * unsqueeze/expand, flatten). Dims before the ellipsis are counted from the front and dims
 * after it from the back, so a pattern with an ellipsis works for every rank. numpy has no
 * flatten/unflatten over a range, so its shape steps become one reshape whose sizes are read
 * from the input's shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"

enum { EINC__EMIT_MAX = EINC_MAX_AXES + 8, EINC__EXPR = 512 };

typedef enum { EINC__D_AXIS, EINC__D_ELLIPSIS, EINC__D_UNIT, EINC__D_MERGED } einc__dkind;

typedef struct einc__eaxis {
  const char *name;
  bool anon;
  const char *size;       /* a known size as text (keyword source or digits), NULL if not */
  bool on_left, on_right; /* named on that side */
  char shape[EINC__EXPR]; /* numpy: its length as an expression over the input's shape */
} einc__eaxis;

typedef struct einc__edim {
  einc__dkind kind;
  int32_t axis;           /* EINC__D_AXIS */
  bool unit;              /* a new axis not yet repeated: length 1 for now */
  char shape[EINC__EXPR]; /* EINC__D_MERGED: its length (numpy) */
} einc__edim;

typedef struct einc__elist {
  int32_t n;
  einc__edim d[EINC__EMIT_MAX];
} einc__elist;

typedef struct einc__emitter {
  const einc_plan *plan;
  einc_emit_target target;
  const char *x; /* the input expression */
  einc_sbuf expr;
  int32_t n_axes;
  einc__eaxis ax[EINC__EMIT_MAX];
  einc__elist cur;
  int32_t ell_before, ell_after; /* input dims before / after the ellipsis */
  bool numpy_dirty;              /* numpy: shape steps wait for a reshape */
  einc__emit_info *info;
  bool failed;
} einc__emitter;

static void einc__emit_drop(einc__emitter *e, const char *what) {
  if (strstr(e->info->dropped, what)) return;
  size_t n = strlen(e->info->dropped);
  snprintf(e->info->dropped + n, sizeof e->info->dropped - n, "%s%s", n ? ", " : "", what);
}

static int einc__emit_decline(einc__emitter *e, const char *why) {
  snprintf(e->info->why_not, sizeof e->info->why_not, "%s", why);
  return EINC_EUNSUPPORTED;
}

/* ---- the symbolic dim list --------------------------------------------------------------- */

static int32_t einc__ell_at(const einc__elist *l) {
  for (int32_t i = 0; i < l->n; i++)
    if (l->d[i].kind == EINC__D_ELLIPSIS) return i;
  return -1;
}

/* The index of dim `pos` as torch/numpy take it: from the front before the ellipsis, from the
 * back after it. For the ellipsis itself `end` picks its last dim. */
static int32_t einc__ix(const einc__elist *l, int32_t pos, bool end) {
  int32_t e = einc__ell_at(l);
  if (e < 0 || pos < e || (pos == e && !end)) return pos;
  if (pos == e) return -(l->n - e);
  return pos - l->n;
}

static void einc__list_insert(einc__elist *l, int32_t pos, einc__edim d) {
  memmove(&l->d[pos + 1], &l->d[pos], sizeof d * (size_t)(l->n - pos));
  l->d[pos] = d;
  l->n++;
}

static void einc__list_remove(einc__elist *l, int32_t pos, int32_t count) {
  memmove(&l->d[pos], &l->d[pos + count], sizeof l->d[0] * (size_t)(l->n - pos - count));
  l->n -= count;
}

static int32_t einc__list_find(const einc__elist *l, einc__dkind kind, int32_t axis) {
  for (int32_t i = 0; i < l->n; i++)
    if (l->d[i].kind == kind && (kind != EINC__D_AXIS || l->d[i].axis == axis)) return i;
  return -1;
}

/* ---- numpy shapes ------------------------------------------------------------------------ */

/* numpy: the input's ellipsis dims as a slice of x.shape. */
static void einc__np_ell_slice(const einc__emitter *e, char *out, size_t cap) {
  char from[16] = "";
  if (e->ell_before) snprintf(from, sizeof from, "%d", e->ell_before);
  if (e->ell_after)
    snprintf(out, cap, "%s.shape[%s:%d]", e->x, from, -e->ell_after);
  else if (e->ell_before)
    snprintf(out, cap, "%s.shape[%s:]", e->x, from);
  else
    snprintf(out, cap, "%s.shape", e->x);
}

static void einc__np_dim_shape(const einc__emitter *e, const einc__edim *d, bool star, char *out,
                               size_t cap) {
  char sl[EINC__EXPR];
  switch (d->kind) {
  case EINC__D_AXIS:
    snprintf(out, cap, "%s", d->unit ? "1" : e->ax[d->axis].shape);
    break;
  case EINC__D_UNIT:
    snprintf(out, cap, "1");
    break;
  case EINC__D_MERGED:
    snprintf(out, cap, "%s", d->shape);
    break;
  case EINC__D_ELLIPSIS:
    einc__np_ell_slice(e, sl, sizeof sl);
    if (star)
      snprintf(out, cap, "*%.480s", sl);
    else
      snprintf(out, cap, "int(np.prod(%.480s))", sl);
    break;
  }
}

/* numpy: one reshape to the list's current shape, when shape steps are pending. */
static void einc__np_flush(einc__emitter *e) {
  if (e->target != EINC_EMIT_NUMPY || !e->numpy_dirty) return;
  e->numpy_dirty = false;
  if (e->cur.n == 1 && e->cur.d[0].kind == EINC__D_ELLIPSIS) {
    /* the slice itself, not `*slice`: an empty one would be reshape(), a TypeError */
    char sl[EINC__EXPR];
    einc__np_ell_slice(e, sl, sizeof sl);
    einc__sbuf_printf(&e->expr, ".reshape(%s)", sl);
    return;
  }
  einc__sbuf_puts(&e->expr, ".reshape(");
  for (int32_t i = 0; i < e->cur.n; i++) {
    char s[EINC__EXPR];
    einc__np_dim_shape(e, &e->cur.d[i], true, s, sizeof s);
    einc__sbuf_printf(&e->expr, "%s%s", i ? ", " : "", s);
  }
  if (e->cur.n == 0) einc__sbuf_puts(&e->expr, "()");
  einc__sbuf_puts(&e->expr, ")");
}

/* ---- steps ------------------------------------------------------------------------------- */

static bool einc__simple_text(const char *s) {
  for (; *s; s++)
    if (!(*s == '_' || *s == '.' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
          (*s >= 'A' && *s <= 'Z')))
      return false;
  return true;
}

/* Split dim `pos` (a group of the input) into its axes. */
static int einc__step_split(einc__emitter *e, int32_t pos, const einc_item *item,
                            const int32_t *axes, int32_t in_dim) {
  int32_t n = item->n_atoms, unknown = -1;
  for (int32_t k = 0; k < n; k++) {
    if (e->ax[axes[k]].size) continue;
    if (unknown >= 0) return einc__emit_decline(e, "two axes of one group have unknown sizes");
    unknown = k;
  }
  /* numpy: each axis's length over the input's shape */
  char known[EINC__EXPR] = "";
  for (int32_t k = 0; k < n; k++) {
    const char *s = e->ax[axes[k]].size;
    if (!s || k == unknown) continue;
    size_t l = strlen(known);
    snprintf(known + l, sizeof known - l, "%s%s", l ? " * " : "", einc__simple_text(s) ? s : "(");
    if (!einc__simple_text(s)) {
      l = strlen(known);
      snprintf(known + l, sizeof known - l, "%s)", s);
    }
  }
  for (int32_t k = 0; k < n; k++) {
    einc__eaxis *a = &e->ax[axes[k]];
    if (k != unknown)
      snprintf(a->shape, sizeof a->shape, "%s", einc__simple_text(a->size) ? a->size : "");
    if (k != unknown && !einc__simple_text(a->size))
      snprintf(a->shape, sizeof a->shape, "(%s)", a->size);
    if (k == unknown)
      snprintf(a->shape, sizeof a->shape, "%s.shape[%d] // %s%s%s", e->x, in_dim,
               strchr(known, '*') ? "(" : "", known, strchr(known, '*') ? ")" : "");
  }
  if (e->target == EINC_EMIT_TORCH) {
    einc__sbuf_printf(&e->expr, ".unflatten(%d, (", einc__ix(&e->cur, pos, false));
    for (int32_t k = 0; k < n; k++)
      einc__sbuf_printf(&e->expr, "%s%s", k ? ", " : "", k == unknown ? "-1" : e->ax[axes[k]].size);
    einc__sbuf_puts(&e->expr, "))");
  }
  e->numpy_dirty = true;
  einc__list_remove(&e->cur, pos, 1);
  for (int32_t k = 0; k < n; k++)
    einc__list_insert(&e->cur, pos + k, (einc__edim){.kind = EINC__D_AXIS, .axis = axes[k]});
  return EINC_OK;
}

/* Turns the ellipsis block into one dim (reductions over it need a single index). */
static void einc__step_merge_ellipsis(einc__emitter *e) {
  int32_t p = einc__ell_at(&e->cur);
  if (e->target == EINC_EMIT_TORCH) {
    int32_t start = einc__ix(&e->cur, p, false), end = einc__ix(&e->cur, p, true);
    /* A unit dim in front keeps flatten valid when the ellipsis is empty. */
    einc__sbuf_printf(&e->expr, ".unsqueeze(%d)", start);
    if (end == -1)
      einc__sbuf_printf(&e->expr, ".flatten(%d)", start);
    else
      einc__sbuf_printf(&e->expr, ".flatten(%d, %d)", start, end);
  }
  einc__edim m = {.kind = EINC__D_MERGED};
  einc__np_dim_shape(e, &e->cur.d[p], false, m.shape, sizeof m.shape);
  e->cur.d[p] = m;
  e->numpy_dirty = true;
}

static const char *einc__red_method(einc_emit_target t, einc_reduction r, bool *multi) {
  *multi = true;
  switch (r) {
  case EINC_RED_SUM:
    return "sum";
  case EINC_RED_MEAN:
    return "mean";
  case EINC_RED_MAX:
    return t == EINC_EMIT_TORCH ? "amax" : "max";
  case EINC_RED_MIN:
    return t == EINC_EMIT_TORCH ? "amin" : "min";
  case EINC_RED_PROD:
    *multi = t == EINC_EMIT_NUMPY;
    return "prod";
  case EINC_RED_ANY:
    *multi = t == EINC_EMIT_NUMPY;
    return "any";
  case EINC_RED_ALL:
    *multi = t == EINC_EMIT_NUMPY;
    return "all";
  default:
    return NULL;
  }
}

static int einc__step_reduce(einc__emitter *e, const bool *reduce_dim) {
  bool multi;
  const char *m = einc__red_method(e->target, e->plan->reduction, &multi);
  int32_t n = 0;
  for (int32_t i = 0; i < e->cur.n; i++)
    n += reduce_dim[i];
  if (!m && e->plan->reduction == EINC_RED_NONE) {
    /* The plan knew the rank and found nothing to reduce: the dims left are an empty
     * ellipsis merged into one dim of length 1. */
    for (int32_t i = e->cur.n - 1; i >= 0; i--) {
      if (!reduce_dim[i]) continue;
      if (e->target == EINC_EMIT_TORCH)
        einc__sbuf_printf(&e->expr, ".squeeze(%d)", einc__ix(&e->cur, i, false));
      einc__list_remove(&e->cur, i, 1);
      e->numpy_dirty = true;
    }
    return EINC_OK;
  }
  if (!m) return einc__emit_decline(e, "unknown reduction");
  if (n == 0) return EINC_OK;
  if (e->target == EINC_EMIT_NUMPY && e->plan->reduction == EINC_RED_MEAN)
    einc__emit_drop(e, "float-dtype (mean)");
  einc__np_flush(e);
  const char *kw = e->target == EINC_EMIT_NUMPY ? "axis=" : "";
  if (n == e->cur.n && einc__ell_at(&e->cur) < 0) {
    /* Everything goes: the no-argument form. */
    einc__sbuf_printf(&e->expr, ".%s()", m);
    e->cur.n = 0;
    return EINC_OK;
  }
  bool keep[EINC__EMIT_MAX];
  for (int32_t i = 0; i < e->cur.n; i++)
    keep[i] = !reduce_dim[i];
  if (multi) {
    einc__sbuf_printf(&e->expr, ".%s(%s%s", m, kw, n > 1 ? "(" : "");
    int32_t k = 0;
    for (int32_t i = 0; i < e->cur.n; i++)
      if (reduce_dim[i])
        einc__sbuf_printf(&e->expr, "%s%d", k++ ? ", " : "", einc__ix(&e->cur, i, false));
    einc__sbuf_puts(&e->expr, n > 1 ? "))" : ")");
  } else {
    /* torch's prod/any/all take one dim: one call per dim, the last first. */
    einc__elist tmp = e->cur;
    for (int32_t i = e->cur.n - 1; i >= 0; i--) {
      if (!reduce_dim[i]) continue;
      einc__sbuf_printf(&e->expr, ".%s(%d)", m, einc__ix(&tmp, i, false));
      einc__list_remove(&tmp, i, 1);
    }
  }
  int32_t w = 0;
  for (int32_t i = 0; i < e->cur.n; i++)
    if (keep[i]) e->cur.d[w++] = e->cur.d[i];
  e->cur.n = w;
  return EINC_OK;
}

static bool einc__edim_same(const einc__edim *a, const einc__edim *b) {
  return a->kind == b->kind && (a->kind != EINC__D_AXIS || a->axis == b->axis);
}

/* Reorders the current dims into `want` (same dims, other order). */
static void einc__step_permute(einc__emitter *e, const einc__elist *want) {
  bool same = true;
  for (int32_t i = 0; i < want->n; i++)
    same &= einc__edim_same(&e->cur.d[i], &want->d[i]);
  if (same) return;
  einc__np_flush(e);
  bool ell = einc__ell_at(&e->cur) >= 0;
  /* Sources and destinations of the dims that move (dims keeping their index stay out). */
  int32_t src[EINC__EMIT_MAX], dst[EINC__EMIT_MAX], n = 0;
  int32_t perm[EINC__EMIT_MAX];
  for (int32_t j = 0; j < want->n; j++) {
    int32_t i = 0;
    while (!einc__edim_same(&e->cur.d[i], &want->d[j]))
      i++;
    perm[j] = i;
    if (want->d[j].kind == EINC__D_ELLIPSIS) continue;
    int32_t s = einc__ix(&e->cur, i, false), d = einc__ix(want, j, false);
    if (s != d) src[n] = s, dst[n] = d, n++;
  }
  bool np = e->target == EINC_EMIT_NUMPY;
  if (n == 2 && src[0] == dst[1] && src[1] == dst[0]) {
    /* torch's transpose(a, b) swaps two dims in either order. The odd one goes first (`x.
     * transpose(1, 0)`, `(-1, -2)`): should the tensor turn out to be a numpy array, numpy reads
     * the pair as a whole permutation, which (1, 0) is for a matrix and (0, 1) silently is not;
     * other ranks raise. numpy's own fix is swapaxes. */
    const int32_t lo = src[0] < src[1] ? src[0] : src[1], hi = src[0] < src[1] ? src[1] : src[0];
    const bool odd_first = !np && (lo & 1) == 0 && (hi & 1) != 0;
    einc__sbuf_printf(&e->expr, ".%s(%d, %d)", np ? "swapaxes" : "transpose", odd_first ? hi : lo,
                      odd_first ? lo : hi);
  } else if (!ell && n > 2) {
    einc__sbuf_puts(&e->expr, np ? ".transpose(" : ".permute(");
    for (int32_t j = 0; j < want->n; j++)
      einc__sbuf_printf(&e->expr, "%s%d", j ? ", " : "", perm[j]);
    einc__sbuf_puts(&e->expr, ")");
  } else if (e->expr.failed) {
    e->failed = true;
  } else {
    einc_sbuf tmp = {0};
    if (np) {
      einc__sbuf_puts(&tmp, "np.moveaxis(");
      einc__sbuf_append(&tmp, e->expr.data, e->expr.len);
      einc__sbuf_puts(&tmp, ", ");
    } else {
      einc__sbuf_append(&tmp, e->expr.data, e->expr.len);
      einc__sbuf_puts(&tmp, ".movedim(");
    }
    for (int pass = 0; pass < 2; pass++) {
      const int32_t *v = pass ? dst : src;
      if (pass) einc__sbuf_puts(&tmp, ", ");
      if (n > 1) einc__sbuf_puts(&tmp, "(");
      for (int32_t k = 0; k < n; k++)
        einc__sbuf_printf(&tmp, "%s%d", k ? ", " : "", v[k]);
      if (n > 1) einc__sbuf_puts(&tmp, ")");
    }
    einc__sbuf_puts(&tmp, ")");
    if (tmp.failed) e->failed = true;
    einc__sbuf_free(&e->expr);
    e->expr = tmp;
  }
  e->cur = *want;
}

/* ---- the plan ---------------------------------------------------------------------------- */

/* Merges dims [pos, pos + n) into one (torch flatten; numpy waits for its reshape). */
static int einc__step_merge(einc__emitter *e, int32_t pos, int32_t n) {
  if (n > 1 && e->target == EINC_EMIT_TORCH) {
    int32_t s = einc__ix(&e->cur, pos, false), t = einc__ix(&e->cur, pos + n - 1, true);
    if (pos + n == e->cur.n) t = -1; /* up to the last dim: flatten(s) */
    if (s == 0 && t == -1)
      einc__sbuf_puts(&e->expr, ".flatten()");
    else if (t == -1)
      einc__sbuf_printf(&e->expr, ".flatten(%d)", s);
    else
      einc__sbuf_printf(&e->expr, ".flatten(%d, %d)", s, t);
  }
  einc__edim m = {.kind = EINC__D_MERGED};
  size_t used = 0;
  for (int32_t k = 0; k < n; k++) {
    char sh[EINC__EXPR];
    einc__np_dim_shape(e, &e->cur.d[pos + k], false, sh, sizeof sh);
    used += (size_t)snprintf(m.shape + used, used < sizeof m.shape ? sizeof m.shape - used : 0,
                             "%s%s", k ? " * " : "", sh);
  }
  if (used >= sizeof m.shape) return einc__emit_decline(e, "shape expression too long");
  einc__list_remove(&e->cur, pos, n);
  einc__list_insert(&e->cur, pos, m);
  if (n > 1) e->numpy_dirty = true;
  return EINC_OK;
}

/* Merges dims [pos, pos + n) into one and repeats each of its elements `times` times in place
 * (torch repeat_interleave, numpy repeat). */
static int einc__step_repeat_in_place(einc__emitter *e, int32_t pos, int32_t n, const char *times) {
  int rc = einc__step_merge(e, pos, n);
  if (rc != EINC_OK) return rc;
  einc__np_flush(e);
  int32_t at = einc__ix(&e->cur, pos, false);
  if (e->target == EINC_EMIT_NUMPY)
    einc__sbuf_printf(&e->expr, ".repeat(%s, axis=%d)", times, at);
  else
    einc__sbuf_printf(&e->expr, ".repeat_interleave(%s, %d)", times, at);
  einc__edim *m = &e->cur.d[pos];
  size_t used = strlen(m->shape);
  bool simple = einc__simple_text(times);
  if ((size_t)snprintf(m->shape + used, sizeof m->shape - used, " * %s%s%s", simple ? "" : "(",
                       times, simple ? "" : ")") >= sizeof m->shape - used)
    return einc__emit_decline(e, "shape expression too long");
  return EINC_OK;
}

static const char *einc__kwarg_source(int32_t n, const char *const *names, const char *const *src,
                                      const char *name) {
  for (int32_t i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return src[i];
  return NULL;
}

static int32_t einc__axis_by_name(const einc__emitter *e, const char *name) {
  for (int32_t i = 0; i < e->n_axes; i++)
    if (!e->ax[i].anon && !strcmp(e->ax[i].name, name)) return i;
  return -1;
}

static int32_t einc__axis_new(einc__emitter *e, const einc_atom *atom, int32_t n_sizes,
                              const char *const *size_names, const char *const *size_src) {
  if (e->n_axes == EINC__EMIT_MAX) return -1;
  einc__eaxis *a = &e->ax[e->n_axes];
  memset(a, 0, sizeof *a);
  a->name = atom->name;
  a->anon = atom->kind == EINC_ATOM_ANONYMOUS;
  a->size = a->anon ? atom->name : einc__kwarg_source(n_sizes, size_names, size_src, atom->name);
  return e->n_axes++;
}

/* Whether left item `i` comes after the ellipsis. */
static bool einc__after_ellipsis(const einc_side *L, int32_t i) {
  for (int32_t k = 0; k < i; k++)
    if (L->items[k].kind == EINC_ITEM_ELLIPSIS) return true;
  return false;
}

static int einc__emit_rearrange(einc__emitter *e, int32_t n_sizes, const char *const *size_names,
                                const char *const *size_src) {
  const einc_plan *p = e->plan;
  const einc_side *L = &p->left, *R = &p->right;
  bool np = e->target == EINC_EMIT_NUMPY;
  /* Axes of the left side, one list entry per input dim. */
  int32_t item_axes[EINC_MAX_RANK][EINC_MAX_AXES];
  bool seen_ell = false;
  for (int32_t i = 0; i < L->n_items; i++) {
    const einc_item *it = &L->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS) {
      seen_ell = true;
      einc__list_insert(&e->cur, e->cur.n, (einc__edim){.kind = EINC__D_ELLIPSIS});
      continue;
    }
    *(seen_ell ? &e->ell_after : &e->ell_before) += 1;
    for (int32_t k = 0; k < it->n_atoms; k++) {
      int32_t a = einc__axis_new(e, &it->atoms[k], n_sizes, size_names, size_src);
      if (a < 0) return einc__emit_decline(e, "too many axes");
      e->ax[a].on_left = true;
      item_axes[i][k] = a;
    }
    einc__list_insert(&e->cur, e->cur.n, (einc__edim){.kind = EINC__D_UNIT});
  }
  if (!L->has_ellipsis) einc__emit_drop(e, "rank");
  /* Input dim index of each left item, for numpy's shape expressions. */
  int32_t n_left = L->n_items;
  for (int32_t i = 0, pos = 0; i < n_left; i++) {
    const einc_item *it = &L->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS) {
      pos++;
      continue;
    }
    /* the item's dim in the input: from the back after the ellipsis */
    int32_t in_dim = L->has_ellipsis && einc__after_ellipsis(L, i) ? i - n_left : i;
    if (it->n_atoms == 1) {
      einc__eaxis *a = &e->ax[item_axes[i][0]];
      snprintf(a->shape, sizeof a->shape, "%s.shape[%d]", e->x, in_dim);
      if (a->size) einc__emit_drop(e, "axis length");
      e->cur.d[pos] = (einc__edim){.kind = EINC__D_AXIS, .axis = item_axes[i][0]};
      pos++;
    } else if (it->n_atoms == 0) {
      if (!np) einc__sbuf_printf(&e->expr, ".squeeze(%d)", einc__ix(&e->cur, pos, false));
      einc__emit_drop(e, "length-1");
      e->numpy_dirty = true;
      einc__list_remove(&e->cur, pos, 1);
    } else {
      int rc = einc__step_split(e, pos, it, item_axes[i], in_dim);
      if (rc != EINC_OK) return rc;
      pos += it->n_atoms;
    }
  }
  /* Right side: mark kept axes, create new ones (repeat). */
  einc__elist want = {0};
  int32_t n_new = 0;
  for (int32_t i = 0; i < R->n_items; i++) {
    const einc_item *it = &R->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS) continue;
    for (int32_t k = 0; k < it->n_atoms; k++) {
      const einc_atom *at = &it->atoms[k];
      if (at->kind != EINC_ATOM_NAMED) continue;
      int32_t a = einc__axis_by_name(e, at->name);
      if (a >= 0 && e->ax[a].on_left) e->ax[a].on_right = true;
    }
  }
  /* Reduce what the right side does not name. */
  bool reduce_dim[EINC__EMIT_MAX] = {0};
  bool any = false;
  for (int32_t i = 0; i < e->cur.n; i++) {
    const einc__edim *d = &e->cur.d[i];
    if (d->kind == EINC__D_AXIS && !e->ax[d->axis].on_right) reduce_dim[i] = any = true;
  }
  int32_t ell = einc__ell_at(&e->cur);
  if (ell >= 0 && !R->has_ellipsis) {
    einc__step_merge_ellipsis(e);
    reduce_dim[ell] = any = true;
    /* einops skips a reduction over no axes, keeping the dtype; sum/prod of bool and any/all
     * change it. When only the ellipsis is reduced and it may be empty, the fix differs. */
    bool named = false;
    for (int32_t i = 0; i < e->cur.n; i++)
      named |= reduce_dim[i] && i != ell;
    einc_reduction r = p->reduction;
    bool may_be_empty = !(p->has_ellipsis_rank && p->ellipsis_dims > 0);
    if (!named && may_be_empty &&
        (r == EINC_RED_SUM || r == EINC_RED_PROD || r == EINC_RED_ANY || r == EINC_RED_ALL)) {
      e->info->safety = EINC_FIX_UNSAFE;
      snprintf(e->info->unsafe_why, sizeof e->info->unsafe_why,
               "when the ellipsis is empty einops returns the input unreduced, so its dtype "
               "(bool for any/all) differs");
    } else if (!named && may_be_empty && r == EINC_RED_MEAN) {
      e->info->safety = EINC_FIX_UNSAFE;
      snprintf(e->info->unsafe_why, sizeof e->info->unsafe_why,
               "when the ellipsis is empty einops returns the input unreduced, where the "
               "fix's mean rejects an integer input");
    }
  }
  if (any) {
    if (p->op != EINC_OP_REDUCE) return einc__emit_decline(e, "axes vanish outside a reduction");
    int rc = einc__step_reduce(e, reduce_dim);
    if (rc != EINC_OK) return rc;
  }
  /* The output order of the kept dims, then the full output with new and unit dims. */
  einc__elist full = {0};
  int32_t group_first[EINC_MAX_RANK + 1], group_len[EINC_MAX_RANK + 1];
  for (int32_t i = 0; i < R->n_items; i++) {
    const einc_item *it = &R->items[i];
    group_first[i] = full.n;
    if (it->kind == EINC_ITEM_ELLIPSIS) {
      full.d[full.n++] = (einc__edim){.kind = EINC__D_ELLIPSIS};
      group_len[i] = 1;
      continue;
    }
    for (int32_t k = 0; k < it->n_atoms; k++) {
      const einc_atom *at = &it->atoms[k];
      if (at->kind == EINC_ATOM_ELLIPSIS) {
        full.d[full.n++] = (einc__edim){.kind = EINC__D_ELLIPSIS};
        continue;
      }
      int32_t a = at->kind == EINC_ATOM_NAMED ? einc__axis_by_name(e, at->name) : -1;
      if (a < 0) {
        a = einc__axis_new(e, at, n_sizes, size_names, size_src);
        if (a < 0) return einc__emit_decline(e, "too many axes");
        if (!e->ax[a].size) return einc__emit_decline(e, "a new axis has no size");
        snprintf(e->ax[a].shape, sizeof e->ax[a].shape, "%s",
                 einc__simple_text(e->ax[a].size) ? e->ax[a].size : "");
        if (!einc__simple_text(e->ax[a].size))
          snprintf(e->ax[a].shape, sizeof e->ax[a].shape, "(%s)", e->ax[a].size);
        n_new++;
      }
      full.d[full.n++] = (einc__edim){.kind = EINC__D_AXIS, .axis = a};
    }
    group_len[i] = full.n - group_first[i];
  }
  for (int32_t j = 0; j < full.n; j++) {
    const einc__edim *d = &full.d[j];
    if (d->kind == EINC__D_ELLIPSIS || einc__list_find(&e->cur, EINC__D_AXIS, d->axis) >= 0)
      want.d[want.n++] = *d;
  }
  if (want.n != e->cur.n) return einc__emit_decline(e, "the two sides do not match");
  einc__step_permute(e, &want);

  /* One new axis at the end of a group of kept axes, "(h g)": each element repeated g times in
   * place, which is repeat_interleave over the merged kept axes. */
  if (n_new == 1) {
    for (int32_t i = 0; i < R->n_items; i++) {
      const einc_item *it = &R->items[i];
      int32_t len = group_len[i], first = group_first[i];
      if (it->kind != EINC_ITEM_GROUP || len < 2) continue;
      const einc__edim *last = &full.d[first + len - 1];
      if (last->kind != EINC__D_AXIS || e->ax[last->axis].on_left) continue;
      bool kept = true;
      for (int32_t k = 0; k < len - 1; k++)
        kept &= full.d[first + k].kind == EINC__D_AXIS && e->ax[full.d[first + k].axis].on_left;
      if (!kept) continue;
      int32_t pos = einc__list_find(&e->cur, EINC__D_AXIS, full.d[first].axis);
      int rc = einc__step_repeat_in_place(e, pos, len - 1, e->ax[last->axis].size);
      if (rc != EINC_OK) return rc;
      group_len[i] = 1;
      n_new = 0;
      break;
    }
  }

  /* New axes: a unit dim each, then expanded (a view) or repeated. */
  if (n_new) {
    for (int32_t j = 0; j < full.n; j++) {
      const einc__edim *d = &full.d[j];
      if (d->kind != EINC__D_AXIS || einc__list_find(&e->cur, EINC__D_AXIS, d->axis) >= 0) continue;
      einc__edim nd = *d;
      nd.unit = true;
      einc__list_insert(&e->cur, j, nd);
      if (!np) einc__sbuf_printf(&e->expr, ".unsqueeze(%d)", einc__ix(&e->cur, j, false));
      e->numpy_dirty = true;
    }
    einc__np_flush(e);
    for (int32_t j = 0; j < e->cur.n; j++)
      e->cur.d[j].unit = false;
    if (!np && einc__ell_at(&e->cur) < 0) {
      einc__sbuf_puts(&e->expr, ".expand(");
      for (int32_t j = 0; j < e->cur.n; j++) {
        const einc__edim *d = &e->cur.d[j];
        bool is_new = !e->ax[d->axis].on_left;
        einc__sbuf_printf(&e->expr, "%s%s", j ? ", " : "", is_new ? e->ax[d->axis].size : "-1");
      }
      einc__sbuf_puts(&e->expr, ")");
    } else {
      for (int32_t j = 0; j < e->cur.n; j++) {
        const einc__edim *d = &e->cur.d[j];
        if (d->kind != EINC__D_AXIS || e->ax[d->axis].on_left) continue;
        if (np)
          einc__sbuf_printf(&e->expr, ".repeat(%s, axis=%d)", e->ax[d->axis].size,
                            einc__ix(&e->cur, j, false));
        else
          einc__sbuf_printf(&e->expr, ".repeat_interleave(%s, %d)", e->ax[d->axis].size,
                            einc__ix(&e->cur, j, false));
      }
    }
  }

  /* Compose the output's groups, left to right. */
  int32_t pos = 0;
  for (int32_t i = 0; i < R->n_items; i++) {
    const einc_item *it = &R->items[i];
    int32_t len = group_len[i];
    if (it->kind == EINC_ITEM_GROUP && len == 0) {
      einc__list_insert(&e->cur, pos, (einc__edim){.kind = EINC__D_UNIT});
      if (!np) einc__sbuf_printf(&e->expr, ".unsqueeze(%d)", einc__ix(&e->cur, pos, false));
      e->numpy_dirty = true;
      pos++;
      continue;
    }
    if (it->kind == EINC_ITEM_ELLIPSIS || len == 1) {
      if (len == 1 && full.d[group_first[i]].kind == EINC__D_ELLIPSIS &&
          it->kind == EINC_ITEM_GROUP) {
        /* "(...)": the ellipsis merged into one dim, 1 when it is empty */
        einc__step_merge_ellipsis(e);
      }
      pos++;
      continue;
    }
    int rc = einc__step_merge(e, pos, len);
    if (rc != EINC_OK) return rc;
    pos++;
  }
  einc__np_flush(e);
  return EINC_OK;
}

/* parse_shape(x, "b _ ... d") as a dict of x.shape's entries: {"b": x.shape[0], "d": x.shape[-1]}
 * (the same for torch and numpy). Dims after the ellipsis count from the end. Where the input
 * may not be evaluated once per entry, `dict(zip(("b", "n"), x.shape))` when the names are the
 * whole shape in order; else declined. */
static int einc__emit_parse_shape(einc__emitter *e, const char *x, bool simple) {
  const einc_side *L = &e->plan->left;
  bool after_ellipsis = false, consecutive = !L->has_ellipsis;
  int32_t n_named = 0;
  einc_sbuf keys = {0};
  einc__sbuf_puts(&e->expr, "{");
  for (int32_t i = 0; i < L->n_items; i++) {
    const einc_item *it = &L->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS) {
      after_ellipsis = true;
      continue;
    }
    const einc_atom *a = it->n_atoms ? &it->atoms[0] : NULL;
    if (!a || a->kind != EINC_ATOM_NAMED || !strcmp(a->name, "_")) { /* no entry */
      if (!a) einc__emit_drop(e, "length-1");
      if (a && a->kind == EINC_ATOM_ANONYMOUS) einc__emit_drop(e, "axis length");
      consecutive = false;
      continue;
    }
    int32_t at = after_ellipsis ? i - L->n_items : i;
    einc__sbuf_puts(&e->expr, n_named ? ", " : "");
    einc__lint_json_str(&e->expr, a->name, strlen(a->name));
    einc__sbuf_printf(&e->expr, ": %s.shape[%d]", x, (int)at);
    einc__sbuf_puts(&keys, n_named ? ", " : "");
    einc__lint_json_str(&keys, a->name, strlen(a->name));
    n_named++;
  }
  einc__sbuf_puts(&e->expr, "}");
  einc__emit_drop(e, "rank");
  int rc = EINC_OK;
  if (!simple) {
    einc__sbuf_free(&e->expr);
    einc__sbuf_init(&e->expr);
    if (consecutive && n_named > 0)
      einc__sbuf_printf(&e->expr, "dict(zip((%s%s), %s.shape))", keys.data, n_named == 1 ? "," : "",
                        x);
    else
      rc = einc__emit_decline(e, "the input would be evaluated once per axis; bind it to a name "
                                 "first");
  }
  if (keys.failed) e->failed = true;
  einc__sbuf_free(&keys);
  return rc;
}

int einc__emit_torch(const einc_plan *plan, einc_emit_target target, const char *const *input_names,
                     const bool *input_simple, int32_t n_sizes, const char *const *size_names,
                     const char *const *size_source, char **out, einc__emit_info *info) {
  einc__emit_info scratch;
  if (!info) info = &scratch;
  memset(info, 0, sizeof *info);
  info->safety = EINC_FIX_SAFE;
  *out = NULL;
  einc__emitter *e = einc__calloc(1, sizeof *e);
  if (!e) return EINC_ENOMEM;
  e->plan = plan;
  e->target = target;
  e->info = info;
  e->x = input_names[0];
  int rc = EINC_OK;
  bool np = target == EINC_EMIT_NUMPY;
  switch (plan->op) {
  case EINC_OP_EINSUM:
    einc__sbuf_printf(&e->expr, "%s.einsum(", np ? "np" : "torch");
    einc__lint_json_str(&e->expr, plan->einsum_compact, strlen(plan->einsum_compact));
    for (int32_t i = 0; i < plan->n_inputs; i++)
      einc__sbuf_printf(&e->expr, ", %s", input_names[i]);
    einc__sbuf_puts(&e->expr, ")");
    break;
  case EINC_OP_REARRANGE:
  case EINC_OP_REDUCE:
  case EINC_OP_REPEAT:
    if (np && strlen(input_names[0]) > 64) {
      rc = einc__emit_decline(e, "the input expression is too long for numpy's shape reads");
      break;
    }
    einc__sbuf_puts(&e->expr, input_names[0]);
    rc = einc__emit_rearrange(e, n_sizes, size_names, size_source);
    /* numpy reshapes read x.shape: then the input must be safe to evaluate twice */
    if (rc == EINC_OK && np && input_simple && !input_simple[0] && e->expr.data &&
        strstr(e->expr.data + strlen(input_names[0]), ".shape"))
      rc = einc__emit_decline(e, "the numpy reshape reads the input's shape; bind the input "
                                 "to a name first");
    break;
  case EINC_OP_PARSE_SHAPE:
    rc = einc__emit_parse_shape(e, input_names[0], !input_simple || input_simple[0]);
    break;
  default:
    rc = einc__emit_decline(e, "pack and unpack have no single native expression");
    break;
  }
  if (rc == EINC_OK && (e->expr.failed || e->failed)) rc = EINC_ENOMEM;
  if (rc == EINC_OK) {
    *out = einc__sbuf_finish(&e->expr);
    if (!*out) rc = EINC_ENOMEM;
  }
  einc__sbuf_free(&e->expr);
  einc__free(e);
  return rc;
}

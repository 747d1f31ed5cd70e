/*
 * Stage 2: from two parsed sides, an op and what is known of the input, to the plan — the
 * static stride transform. The checks run in einops' order (spec §5.5): op-specific identifier
 * rules, rank, keyword names, inference, then binding to the lengths that are known. Lengths not
 * known until run time stay symbolic (EINC_UNKNOWN) with the recipe to bind them. Finally the
 * plan is coalesced into the fewest loops and classified (view, copy, reduce, broadcast,
 * repeat).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct einc_plan_impl {
  einc_plan pub; /* first, so the public pointer is the allocation */
  einc_arena *arena;
} einc_plan_impl;

einc_plan *einc__plan_alloc(void) {
  einc_plan_impl *self = einc__calloc(1, sizeof *self);
  if (!self) return NULL;
  self->arena = einc__arena_new();
  if (!self->arena) {
    einc__free(self);
    return NULL;
  }
  return &self->pub;
}

einc_arena *einc__plan_arena(einc_plan *self) {
  return ((einc_plan_impl *)self)->arena;
}

void einc_plan_delete(einc_plan *self) {
  if (!self) return;
  einc__arena_delete(((einc_plan_impl *)self)->arena);
  einc__free(self);
}

bool einc__mul_overflow(int64_t a, int64_t b, int64_t *out) {
  return __builtin_mul_overflow(a, b, out);
}

static const char einc__ellipsis[] = "\xE2\x80\xA6";

/* ---- identifier sets (spec §5: names, the ellipsis marker, unique anonymous axes) -------- */

typedef struct einc_ident_set {
  int n;
  const einc_atom *atoms[EINC_MAX_AXES + 1];
} einc_ident_set;

static bool einc__atom_same(const einc_atom *a, const einc_atom *b) {
  if (a == b) return true;
  if (a->kind == EINC_ATOM_ANONYMOUS || b->kind == EINC_ATOM_ANONYMOUS) return false;
  return !strcmp(a->name, b->name);
}

static void einc__ident_collect(const einc_side *side, einc_ident_set *set) {
  set->n = 0;
  for (int i = 0; i < side->n_items; i++) {
    const einc_item *it = &side->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS) {
      static const einc_atom marker = {.kind = EINC_ATOM_ELLIPSIS, .name = einc__ellipsis};
      set->atoms[set->n++] = &marker;
      continue;
    }
    for (int j = 0; j < it->n_atoms; j++)
      set->atoms[set->n++] = &it->atoms[j];
  }
}

static bool einc__ident_has(const einc_ident_set *set, const einc_atom *a) {
  for (int i = 0; i < set->n; i++)
    if (einc__atom_same(set->atoms[i], a)) return true;
  return false;
}

/* "{'a', 'b'}" as Python prints a set (sorted, as the corpus records it). */
static void einc__format_set(const einc_atom **atoms, int n, char *buf, size_t size) {
  const char *names[EINC_MAX_AXES * 2 + 2];
  for (int i = 0; i < n; i++)
    names[i] = atoms[i]->name;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      const char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  size_t len = 0;
  len += (size_t)snprintf(buf + len, size - len, "{");
  for (int i = 0; i < n && len < size; i++)
    len += (size_t)snprintf(buf + len, size - len, "%s'%s'", i ? ", " : "", names[i]);
  if (len < size) snprintf(buf + len, size - len, "}");
}

/* Atoms of `a` not in `b`; returns how many (stored in out). */
static int einc__ident_minus(const einc_ident_set *a, const einc_ident_set *b,
                             const einc_atom **out) {
  int n = 0;
  for (int i = 0; i < a->n; i++)
    if (!einc__ident_has(b, a->atoms[i])) out[n++] = a->atoms[i];
  return n;
}

/* ---- the plan of rearrange / reduce / repeat --------------------------------------------- */

typedef enum einc_mode { EINC_MODE_REARRANGE, EINC_MODE_REDUCE, EINC_MODE_REPEAT } einc_mode;

static const char *const einc__reduction_list =
    "('min', 'max', 'sum', 'mean', 'prod', 'any', 'all')";

static bool einc__reduction_from_name(const char *s, einc_reduction *out) {
  static const struct {
    const char *name;
    einc_reduction r;
  } table[] = {{"min", EINC_RED_MIN},   {"max", EINC_RED_MAX},   {"sum", EINC_RED_SUM},
               {"mean", EINC_RED_MEAN}, {"prod", EINC_RED_PROD}, {"any", EINC_RED_ANY},
               {"all", EINC_RED_ALL}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcmp(s, table[i].name)) return *out = table[i].r, true;
  return false;
}

static einc_span einc__whole(const einc_plan *p) {
  return (einc_span){0, (uint32_t)p->pattern_len};
}

/* Index of the elementary axis named like `a` (anonymous: the very atom), or -1. */
static int einc__find_axis(const einc_plan *p, const einc_atom *const *axis_atoms,
                           const einc_atom *a, const char *name) {
  for (int i = 0; i < p->n_axes; i++) {
    if (axis_atoms[i] && a && a->kind == EINC_ATOM_ANONYMOUS) {
      if (axis_atoms[i] == a) return i;
      continue;
    }
    if (!strcmp(p->axes[i].name, name)) return i;
  }
  return -1;
}

static int einc__add_axis(einc_plan *p, const einc_atom **axis_atoms, const einc_atom *atom,
                          const char *name, int in_dim, einc_error *err) {
  if (p->n_axes >= EINC_MAX_AXES)
    return einc__fail(err, EINC_ERR_TOO_MANY_AXES, einc__whole(p), false,
                      "Too many elementary axes (einc supports at most %d)", EINC_MAX_AXES);
  einc_axis *ax = &p->axes[p->n_axes];
  memset(ax, 0, sizeof *ax);
  ax->name = name;
  ax->in_dim = in_dim;
  ax->length = atom && atom->kind == EINC_ATOM_ANONYMOUS ? atom->value : EINC_UNKNOWN;
  ax->in_divisor = 1;
  ax->in_stride = EINC_UNKNOWN;
  ax->out_pos = -1;
  ax->kwarg_value = EINC_UNKNOWN;
  axis_atoms[p->n_axes] = atom;
  p->n_axes++;
  return EINC_OK;
}

/* Structural stride fusion in a contiguous input: axis b directly follows axis a in left order
 * (skipping length-1 axes), or both are new axes (stride 0). */
static bool einc__axes_fuse(const einc_plan *p, int a, int b) {
  const einc_axis *x = &p->axes[a], *y = &p->axes[b];
  if (x->role == EINC_AXIS_NEW || y->role == EINC_AXIS_NEW)
    return x->role == EINC_AXIS_NEW && y->role == EINC_AXIS_NEW;
  if (b <= a) return false;
  for (int k = a + 1; k < b; k++)
    if (p->axes[k].length != 1) return false;
  return true;
}

static void einc__build_loops(const einc_plan *p, const int32_t *axes, int n, bool output,
                              einc_loop *loops, int32_t *n_loops) {
  int nl = 0;
  /* output strides: the product of the lengths of later output axes */
  int64_t out_stride[EINC_MAX_AXES];
  int64_t acc = 1;
  for (int i = n - 1; i >= 0; i--) {
    out_stride[i] = acc;
    int64_t len = p->axes[axes[i]].length;
    if (acc != EINC_UNKNOWN && len != EINC_UNKNOWN)
      acc *= len;
    else
      acc = EINC_UNKNOWN;
  }
  int prev = -1;
  for (int i = 0; i < n; i++) {
    const einc_axis *ax = &p->axes[axes[i]];
    if (ax->length == 1) continue;
    if (prev >= 0 && einc__axes_fuse(p, prev, axes[i])) {
      einc_loop *l = &loops[nl - 1];
      l->length = (l->length == EINC_UNKNOWN || ax->length == EINC_UNKNOWN)
                      ? EINC_UNKNOWN
                      : l->length * ax->length;
      l->in_stride = ax->in_stride;
      l->out_stride = output ? out_stride[i] : 0;
      l->axes[l->n_axes++] = axes[i];
    } else {
      einc_loop *l = &loops[nl++];
      memset(l, 0, sizeof *l);
      l->length = ax->length;
      l->in_stride = ax->in_stride;
      l->out_stride = output ? out_stride[i] : 0;
      l->axes[0] = axes[i];
      l->n_axes = 1;
    }
    prev = axes[i];
  }
  *n_loops = nl;
}

static int einc__plan_transform(einc_plan *p, const einc_spec *spec, einc_error *err) {
  einc_arena *arena = einc__plan_arena(p);
  const char *pat = p->pattern;
  size_t len = p->pattern_len;
  int rc;

  /* 1. exactly one "->" (a plain ValueError in einops) */
  size_t arrow;
  rc = einc__split_arrow(pat, len, EINC_ERR_NO_ARROW,
                         "not enough values to unpack (expected 2, got 1): the pattern needs one "
                         "\"->\"",
                         &arrow, err);
  if (rc) return rc;

  /* 2-3. each side on its own, left first */
  einc_side_options opts = {0};
  rc = einc__parse_side(pat, 0, arrow, opts, arena, &p->left, err);
  if (rc) return rc;
  rc = einc__parse_side(pat, arrow + 2, len, opts, arena, &p->right, err);
  if (rc) return rc;
  const einc_side *L = &p->left, *R = &p->right;

  /* 4-5. ellipsis placement */
  if (!L->has_ellipsis && R->has_ellipsis)
    return einc__fail(err, EINC_ERR_ELLIPSIS_RIGHT_ONLY,
                      (einc_span){(uint32_t)arrow + 2, (uint32_t)len}, true,
                      "Ellipsis found in right side, but not left side of a pattern %s", pat);
  if (L->has_ellipsis && L->ellipsis_in_group)
    return einc__fail(err, EINC_ERR_ELLIPSIS_PAREN_LEFT, (einc_span){0, (uint32_t)arrow}, true,
                      "Ellipsis inside parenthesis in the left side is not allowed: %s", pat);

  /* 6. op-specific identifier rules; the reduction name decides reduce's rules */
  einc_mode mode = spec->op == EINC_OP_REPEAT   ? EINC_MODE_REPEAT
                   : spec->op == EINC_OP_REDUCE ? EINC_MODE_REDUCE
                                                : EINC_MODE_REARRANGE;
  einc_reduction reduction = EINC_RED_NONE;
  const char *bad_reduction = NULL;
  if (mode == EINC_MODE_REDUCE) {
    if (spec->reduction_name) {
      if (!einc__reduction_from_name(spec->reduction_name, &reduction))
        bad_reduction = spec->reduction_name;
    } else if (spec->reduction >= EINC_RED_SUM && spec->reduction <= EINC_RED_ALL) {
      reduction = spec->reduction;
    } else {
      bad_reduction = "none";
    }
  }
  einc_ident_set li, ri;
  einc__ident_collect(L, &li);
  einc__ident_collect(R, &ri);
  const einc_atom *diff[EINC_MAX_AXES * 2 + 2];
  char set_text[400];
  if (mode == EINC_MODE_REARRANGE) {
    for (int s = 0; s < 2; s++) {
      const einc_ident_set *set = s ? &ri : &li;
      for (int i = 0; i < set->n; i++)
        if (set->atoms[i]->kind == EINC_ATOM_ANONYMOUS)
          return einc__fail(err, EINC_ERR_ANON_IN_REARRANGE, set->atoms[i]->span, true,
                            "Non-unitary anonymous axes are not supported in rearrange "
                            "(exception is length 1)");
    }
    int n = einc__ident_minus(&li, &ri, diff);
    n += einc__ident_minus(&ri, &li, diff + n);
    if (n) {
      einc__format_set(diff, n, set_text, sizeof set_text);
      const einc_atom *first = diff[0];
      return einc__fail(
          err, EINC_ERR_IDENTIFIERS_ONE_SIDE, first->span, first->span.end > first->span.start,
          "Identifiers only on one side of expression (should be on both): %s", set_text);
    }
  } else if (mode == EINC_MODE_REPEAT) {
    int n = einc__ident_minus(&li, &ri, diff);
    if (n) {
      einc__format_set(diff, n, set_text, sizeof set_text);
      return einc__fail(err, EINC_ERR_REPEAT_LEFT_ONLY, diff[0]->span,
                        diff[0]->span.end > diff[0]->span.start,
                        "Unexpected identifiers on the left side of repeat: %s", set_text);
    }
    n = 0;
    for (int i = 0; i < ri.n; i++) {
      const einc_atom *a = ri.atoms[i];
      if (a->kind == EINC_ATOM_ANONYMOUS || einc__ident_has(&li, a)) continue;
      bool given = false;
      for (int k = 0; k < spec->n_kwargs; k++)
        if (spec->kwargs[k].name && !strcmp(spec->kwargs[k].name, a->name)) given = true;
      if (!given) diff[n++] = a;
    }
    if (n) {
      einc__format_set(diff, n, set_text, sizeof set_text);
      return einc__fail(err, EINC_ERR_REPEAT_MISSING_SIZE, diff[0]->span, true,
                        "Specify sizes for new axes in repeat: %s", set_text);
    }
  } else if (!bad_reduction) {
    int n = einc__ident_minus(&ri, &li, diff);
    if (n) {
      einc__format_set(diff, n, set_text, sizeof set_text);
      return einc__fail(err, EINC_ERR_REDUCE_RIGHT_ONLY, diff[0]->span, true,
                        "Unexpected identifiers on the right side of reduce %s: %s",
                        einc_reduction_name(reduction), set_text);
    }
  } else {
    if (!strcmp(bad_reduction, "rearrange") || !strcmp(bad_reduction, "repeat"))
      return einc__fail(err, EINC_ERR_UNKNOWN_REDUCTION, einc__whole(p), false,
                        "Unknown reduction %s. Expect one of %s. (einc does not accept "
                        "reduce(..., \"%s\"): call %s directly)",
                        bad_reduction, einc__reduction_list, bad_reduction, bad_reduction);
    return einc__fail(err, EINC_ERR_UNKNOWN_REDUCTION, einc__whole(p), false,
                      "Unknown reduction %s. Expect one of %s.", bad_reduction,
                      einc__reduction_list);
  }

  /* 7. rank */
  const einc_shape *in = &p->inputs[0];
  bool rank_known = in->rank >= 0;
  bool expand = L->has_ellipsis; /* a literal U+2026 is just a name (einops quirk) */
  int ell_dims = 1;
  if (rank_known) {
    if (expand) {
      int n_other = L->n_items - 1;
      if (in->rank < n_other)
        return einc__fail(err, EINC_ERR_NDIM_TOO_SMALL, (einc_span){0, (uint32_t)arrow}, true,
                          "Wrong shape: expected >=%d dims. Received %d-dim tensor.", n_other,
                          in->rank);
      ell_dims = in->rank - n_other;
    } else if (in->rank != L->n_items) {
      return einc__fail(err, EINC_ERR_NDIM_MISMATCH, (einc_span){0, (uint32_t)arrow}, true,
                        "Wrong shape: expected %d dims. Received %d-dim tensor.", L->n_items,
                        in->rank);
    }
  }
  p->has_ellipsis_rank = rank_known || !expand;
  p->ellipsis_dims = expand ? (rank_known ? ell_dims : EINC_UNKNOWN) : 0;

  /* elementary axes: the left side in order (ellipsis expanded), then repeat's new axes */
  const einc_atom *axis_atoms[EINC_MAX_AXES + 1];
  int32_t item_first_axis[EINC_MAX_AXES + 1];
  int32_t item_dim[EINC_MAX_AXES + 1];
  int32_t ell_first = -1, n_ell = 0;
  int dim = 0;
  for (int i = 0; i < L->n_items; i++) {
    const einc_item *it = &L->items[i];
    item_first_axis[i] = p->n_axes;
    item_dim[i] = dim;
    if (it->kind == EINC_ITEM_ELLIPSIS && expand) {
      ell_first = p->n_axes;
      n_ell = rank_known ? ell_dims : 1;
      for (int k = 0; k < n_ell; k++) {
        char name[32];
        int nl = rank_known ? snprintf(name, sizeof name, "%s%d", einc__ellipsis, k)
                            : snprintf(name, sizeof name, "%s", einc__ellipsis);
        char *copy = einc__arena_strndup(arena, name, (size_t)nl);
        if (!copy) return einc__fail(err, EINC_ERR_NONE, einc__whole(p), false, "out of memory");
        rc = einc__add_axis(p, axis_atoms, NULL, copy, dim, err);
        if (rc) return rc;
        p->axes[p->n_axes - 1].from_ellipsis = true;
        dim++;
      }
      continue;
    }
    if (it->kind == EINC_ITEM_ELLIPSIS) { /* literal U+2026: a one-axis group named "…" */
      static const einc_atom literal = {.kind = EINC_ATOM_NAMED, .name = einc__ellipsis};
      rc = einc__add_axis(p, axis_atoms, &literal, einc__ellipsis, dim, err);
      if (rc) return rc;
      dim++;
      continue;
    }
    for (int j = 0; j < it->n_atoms; j++) {
      rc = einc__add_axis(p, axis_atoms, &it->atoms[j], it->atoms[j].name, dim, err);
      if (rc) return rc;
    }
    dim++;
  }
  int n_left_axes = p->n_axes;
  if (mode == EINC_MODE_REPEAT) {
    for (int i = 0; i < ri.n; i++) {
      const einc_atom *a = ri.atoms[i];
      if (a->kind == EINC_ATOM_ELLIPSIS && expand) continue;
      if (einc__find_axis(p, axis_atoms, a, a->name) >= 0) continue;
      rc = einc__add_axis(p, axis_atoms, a, a->name, -1, err);
      if (rc) return rc;
      p->axes[p->n_axes - 1].role = EINC_AXIS_NEW;
      p->axes[p->n_axes - 1].in_stride = 0;
    }
  }

  /* 8. keyword sizes, in call order: a valid name, used by the pattern */
  for (int k = 0; k < spec->n_kwargs; k++) {
    const einc_kwarg *kw = &spec->kwargs[k];
    const char *name = kw->name ? kw->name : "";
    if (einc__axis_name_problem(name, strlen(name), false))
      return einc__fail(err, EINC_ERR_INVALID_KWARG_NAME, einc__whole(p), false,
                        "('Invalid name for an axis', '%s')", name);
    int a = -1;
    for (int i = 0; i < p->n_axes; i++)
      if (!p->axes[i].from_ellipsis &&
          (!axis_atoms[i] || axis_atoms[i]->kind != EINC_ATOM_ANONYMOUS) &&
          !strcmp(p->axes[i].name, name))
        a = i;
    if (a < 0)
      return einc__fail(err, EINC_ERR_KWARG_UNUSED, einc__whole(p), false,
                        "Axis %s is not used in transform", name);
    if (p->axes[a].from_kwarg)
      return einc__fail(err, EINC_ERR_INVALID_KWARG_NAME, einc__whole(p), false,
                        "Axis %s is given twice", name);
    if (kw->value < EINC_UNKNOWN)
      return einc__fail(err, EINC_ERR_NEGATIVE_LENGTH, einc__whole(p), false,
                        "Axis %s has negative length %lld", name, (long long)kw->value);
    p->axes[a].from_kwarg = true;
    p->axes[a].kwarg_value = kw->value;
    p->axes[a].length = kw->value;
  }

  /* 9. inference: at most one axis of unknown length in each left group */
  for (int i = 0; i < L->n_items; i++) {
    if (L->items[i].kind == EINC_ITEM_ELLIPSIS) continue;
    const einc_atom *unknown[EINC_MAX_AXES];
    int n = 0;
    int first = item_first_axis[i],
        last = i + 1 < L->n_items ? item_first_axis[i + 1] : n_left_axes;
    for (int a = first; a < last; a++)
      if (!p->axes[a].from_kwarg && axis_atoms[a] && axis_atoms[a]->kind == EINC_ATOM_NAMED)
        unknown[n++] = axis_atoms[a];
    if (n > 1) {
      einc__format_set(unknown, n, set_text, sizeof set_text);
      return einc__fail(err, EINC_ERR_UNDERDETERMINED, L->items[i].span, true,
                        "Could not infer sizes for %s", set_text);
    }
  }

  /* roles and the output composition */
  for (int a = 0; a < n_left_axes; a++) {
    const einc_atom *atom = axis_atoms[a];
    bool kept;
    static const einc_atom marker = {.kind = EINC_ATOM_ELLIPSIS, .name = einc__ellipsis};
    /* ellipsis dims are kept when the right side names the ellipsis (even as a literal U+2026) */
    if (p->axes[a].from_ellipsis)
      kept = einc__ident_has(&ri, &marker);
    else
      kept = einc__ident_has(&ri, atom);
    p->axes[a].role = kept ? EINC_AXIS_KEPT : EINC_AXIS_REDUCED;
    if (!kept) p->reduced[p->n_reduced++] = a;
  }
  p->out_rank = 0;
  p->n_out_axes = 0;
  for (int i = 0; i < R->n_items; i++) {
    const einc_item *it = &R->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS && expand) {
      for (int k = 0; k < n_ell; k++) {
        if (p->out_rank >= EINC_MAX_RANK)
          return einc__fail(err, EINC_ERR_TOO_MANY_AXES, einc__whole(p), false,
                            "Too many output dims (einc supports at most %d)", EINC_MAX_RANK);
        p->out_group_start[p->out_rank++] = p->n_out_axes;
        p->out_axes[p->n_out_axes++] = ell_first + k;
      }
      continue;
    }
    if (p->out_rank >= EINC_MAX_RANK)
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, einc__whole(p), false,
                        "Too many output dims (einc supports at most %d)", EINC_MAX_RANK);
    p->out_group_start[p->out_rank++] = p->n_out_axes;
    if (it->kind == EINC_ITEM_ELLIPSIS) { /* literal U+2026 */
      p->out_axes[p->n_out_axes++] = einc__find_axis(p, axis_atoms, NULL, einc__ellipsis);
      continue;
    }
    for (int j = 0; j < it->n_atoms; j++) {
      const einc_atom *a = &it->atoms[j];
      if (a->kind == EINC_ATOM_ELLIPSIS && expand) {
        for (int k = 0; k < n_ell; k++)
          p->out_axes[p->n_out_axes++] = ell_first + k;
        continue;
      }
      int idx = einc__find_axis(p, axis_atoms, a, a->name);
      if (idx < 0) /* cannot happen: the identifier checks above guarantee it */
        return einc__fail(err, EINC_ERR_NONE, a->span, true, "internal: axis %s not found",
                          a->name);
      p->out_axes[p->n_out_axes++] = idx;
    }
  }
  p->out_group_start[p->out_rank] = p->n_out_axes;
  for (int i = 0; i < p->n_out_axes; i++)
    p->axes[p->out_axes[i]].out_pos = i;

  /* 10. binding: every left dim against its group's known product */
  for (int i = 0, d = 0; i < L->n_items; i++) {
    const einc_item *it = &L->items[i];
    int first = item_first_axis[i];
    int last = i + 1 < L->n_items ? item_first_axis[i + 1] : n_left_axes;
    if (it->kind == EINC_ITEM_ELLIPSIS && expand) {
      for (int a = first; a < last; a++, d++)
        p->axes[a].length = rank_known ? in->dims[d] : EINC_UNKNOWN;
      continue;
    }
    int64_t D = rank_known ? in->dims[d] : EINC_UNKNOWN;
    int64_t P = 1;
    int unknown = -1;
    for (int a = first; a < last; a++) {
      const einc_axis *ax = &p->axes[a];
      if (!ax->from_kwarg && (!axis_atoms[a] || axis_atoms[a]->kind != EINC_ATOM_ANONYMOUS)) {
        unknown = a;
        continue;
      }
      if (P == EINC_UNKNOWN || ax->length == EINC_UNKNOWN)
        P = EINC_UNKNOWN;
      else if (einc__mul_overflow(P, ax->length, &P))
        return einc__fail(err, EINC_ERR_SIZE_OVERFLOW, it->span, true,
                          "The lengths of this group overflow a 64-bit integer");
    }
    if (unknown < 0) {
      if (D != EINC_UNKNOWN && P != EINC_UNKNOWN && D != P)
        return einc__fail(err, EINC_ERR_LENGTH_MISMATCH, it->span, true,
                          "Shape mismatch, %lld != %lld", (long long)D, (long long)P);
    } else {
      einc_axis *ax = &p->axes[unknown];
      ax->in_dim = item_dim[i];
      if (P == 0)
        return einc__fail(err, EINC_ERR_ZERO_LENGTH_KWARG, it->span, true,
                          "integer modulo by zero: a keyword length of 0 in a group whose other "
                          "length is inferred");
      if (D != EINC_UNKNOWN && P != EINC_UNKNOWN) {
        if (D % P)
          return einc__fail(err, EINC_ERR_NOT_DIVISIBLE, it->span, true,
                            "Shape mismatch, can't divide axis of length %lld in chunks of %lld",
                            (long long)D, (long long)P);
        ax->length = D / P;
      } else {
        ax->length = EINC_UNKNOWN;
      }
      ax->in_divisor = P;
    }
    d++;
  }

  /* reduction details, dtypes */
  p->in_dtype = spec->dtype;
  p->out_dtype = spec->dtype;
  p->reduction = mode == EINC_MODE_REDUCE && p->n_reduced ? reduction : EINC_RED_NONE;
  if (p->reduction == EINC_RED_MEAN && (spec->dtype == EINC_I64 || spec->dtype == EINC_BOOL))
    return einc__fail(err, EINC_ERR_MEAN_ON_NON_FLOAT, einc__whole(p), false,
                      "reduce_mean is not available for non-floating tensors");
  if (p->reduction == EINC_RED_ANY || p->reduction == EINC_RED_ALL) p->out_dtype = EINC_BOOL;
  if ((p->reduction == EINC_RED_SUM || p->reduction == EINC_RED_PROD) && spec->dtype == EINC_BOOL)
    p->out_dtype = EINC_I64;

  /* strides in a contiguous input, output shape, element counts */
  int64_t dim_stride = 1;
  bool stride_known = rank_known;
  for (int a = n_left_axes - 1; a >= 0; a--) {
    einc_axis *ax = &p->axes[a];
    ax->in_stride = stride_known ? dim_stride : EINC_UNKNOWN;
    if (ax->length == EINC_UNKNOWN)
      stride_known = false;
    else if (stride_known && einc__mul_overflow(dim_stride, ax->length, &dim_stride))
      return einc__fail(err, EINC_ERR_SIZE_OVERFLOW, einc__whole(p), false,
                        "The input has more than 2^63 elements");
  }
  if (p->reduction == EINC_RED_MIN || p->reduction == EINC_RED_MAX) {
    for (int i = 0; i < p->n_reduced; i++)
      if (p->axes[p->reduced[i]].length == 0)
        return einc__fail(err, EINC_ERR_EMPTY_MIN_MAX, einc__whole(p), false,
                          "zero-size array to reduction operation %s which has no identity",
                          p->reduction == EINC_RED_MIN ? "minimum" : "maximum");
  }
  int64_t out_numel = 1;
  for (int j = 0; j < p->out_rank; j++) {
    int64_t n = 1;
    for (int k = p->out_group_start[j]; k < p->out_group_start[j + 1]; k++) {
      int64_t l = p->axes[p->out_axes[k]].length;
      if (n == EINC_UNKNOWN || l == EINC_UNKNOWN)
        n = EINC_UNKNOWN;
      else if (einc__mul_overflow(n, l, &n))
        return einc__fail(err, EINC_ERR_SIZE_OVERFLOW,
                          p->right.n_items ? p->right.items[0].span : einc__whole(p), false,
                          "The output has more than 2^63 elements");
    }
    p->out_shape[j] = n;
    if (out_numel != EINC_UNKNOWN && n != EINC_UNKNOWN) {
      if (einc__mul_overflow(out_numel, n, &out_numel))
        return einc__fail(err, EINC_ERR_SIZE_OVERFLOW, einc__whole(p), false,
                          "The output has more than 2^63 elements");
    } else {
      out_numel = EINC_UNKNOWN;
    }
  }

  /* loops and class */
  int32_t kept_axes[EINC_MAX_AXES];
  for (int i = 0; i < p->n_out_axes; i++)
    kept_axes[i] = p->out_axes[i];
  einc__build_loops(p, kept_axes, p->n_out_axes, true, p->loops, &p->n_loops);
  einc__build_loops(p, p->reduced, p->n_reduced, false, p->red_loops, &p->n_red_loops);

  if (p->reduction != EINC_RED_NONE) {
    p->klass = EINC_PLAN_REDUCE;
  } else if (p->n_reduced) {
    /* reduce with only... unreachable: reduced axes always carry a reduction */
    p->klass = EINC_PLAN_REDUCE;
  } else {
    bool fused = true, has_new = false;
    for (int j = 0; j < p->out_rank; j++) {
      int prev = -1;
      int64_t stride = EINC_UNKNOWN;
      for (int k = p->out_group_start[j]; k < p->out_group_start[j + 1]; k++) {
        int a = p->out_axes[k];
        if (p->axes[a].role == EINC_AXIS_NEW) has_new = true;
        if (p->axes[a].length == 1) continue;
        if (prev >= 0 && !einc__axes_fuse(p, prev, a)) fused = false;
        prev = a;
        stride = p->axes[a].in_stride;
      }
      /* a length-1 (or empty) dim: any stride works; use the contiguous one */
      if (prev < 0) stride = 1;
      p->view_strides[j] = stride;
    }
    if (has_new)
      p->klass = fused ? EINC_PLAN_BROADCAST : EINC_PLAN_REPEAT;
    else
      p->klass = fused ? EINC_PLAN_VIEW : EINC_PLAN_COPY;
  }

  /* warnings einops gives for keyword-like names */
  size_t wl = 0;
  for (int a = 0; a < p->n_axes; a++) {
    const einc_atom *atom = axis_atoms[a];
    if (!atom || atom->kind != EINC_ATOM_NAMED) continue;
    const char *w = NULL;
    if (einc__is_python_keyword(atom->name))
      w = "RuntimeWarning: It is discouraged to use axes names that are keywords: ";
    else if (!strcmp(atom->name, "axis"))
      w = "FutureWarning: It is discouraged to use 'axis' as an axis name and will raise an "
          "error in future";
    if (w && wl < sizeof p->warnings)
      wl += (size_t)snprintf(p->warnings + wl, sizeof p->warnings - wl, "%s%s%s\n", w,
                             w[0] == 'R' ? atom->name : "", "");
  }
  return EINC_OK;
}

int einc_plan_new(const einc_spec *spec, einc_plan **out, einc_error *err) {
  einc_error scratch;
  if (!err) err = &scratch;
  memset(err, 0, sizeof *err);
  if (!out) return einc__fail(err, EINC_ERR_NONE, (einc_span){0, 0}, false, "out is NULL");
  *out = NULL;
  if (!spec || !spec->pattern)
    return einc__fail(err, EINC_ERR_NONE, (einc_span){0, 0}, false, "spec or pattern is NULL"),
           EINC_EINVAL;
  if (spec->pattern_len > EINC_MAX_PATTERN)
    return einc__fail(err, EINC_ERR_PATTERN_TOO_LONG, (einc_span){0, 0}, false,
                      "Pattern of %zu bytes is longer than einc accepts (%d bytes)",
                      spec->pattern_len, EINC_MAX_PATTERN);
  if (spec->n_inputs < 0 || spec->n_inputs > EINC_MAX_INPUTS || spec->n_kwargs < 0 ||
      spec->n_packed < 0 || spec->n_packed > EINC_MAX_INPUTS ||
      (unsigned)spec->dtype >= EINC_DTYPE__COUNT || (spec->n_inputs && !spec->inputs) ||
      (spec->n_kwargs && !spec->kwargs))
    return einc__fail(err, EINC_ERR_NONE, (einc_span){0, 0}, false, "invalid spec"), EINC_EINVAL;
  for (int i = 0; i < spec->n_inputs; i++) {
    const einc_shape *s = &spec->inputs[i];
    if (s->rank > EINC_MAX_RANK || s->rank < EINC_UNKNOWN)
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, (einc_span){0, 0}, false,
                        "Input %d has rank %d; einc supports ranks up to %d", i, s->rank,
                        EINC_MAX_RANK);
    for (int d = 0; d < s->rank; d++)
      if (s->dims[d] < EINC_UNKNOWN)
        return einc__fail(err, EINC_ERR_NEGATIVE_LENGTH, (einc_span){0, 0}, false,
                          "Input %d has a negative length %lld in dim %d", i, (long long)s->dims[d],
                          d);
  }

  einc_plan *p = einc__plan_alloc();
  if (!p)
    return einc__fail(err, EINC_ERR_NONE, (einc_span){0, 0}, false, "out of memory"), EINC_ENOMEM;
  int rc;
  char *pattern = einc__arena_strndup(einc__plan_arena(p), spec->pattern, spec->pattern_len);
  if (!pattern) {
    rc = EINC_ENOMEM;
    goto fail_plan;
  }
  p->pattern = pattern;
  p->pattern_len = spec->pattern_len;
  p->op = spec->op;
  p->in_dtype = p->out_dtype = spec->dtype;
  p->n_inputs = spec->n_inputs;
  for (int i = 0; i < spec->n_inputs; i++)
    p->inputs[i] = spec->inputs[i];
  if (spec->n_inputs == 0) p->inputs[0].rank = EINC_UNKNOWN;
  p->n_outputs = 1;

  switch (spec->op) {
  case EINC_OP_REARRANGE:
  case EINC_OP_REDUCE:
  case EINC_OP_REPEAT:
    if (spec->n_inputs > 1) {
      rc = einc__fail(err, EINC_ERR_NONE, (einc_span){0, 0}, false,
                      "%s takes one input (stack a list of tensors first)", einc_op_name(spec->op));
      rc = EINC_EINVAL;
      goto fail_plan;
    }
    rc = einc__plan_transform(p, spec, err);
    break;
  case EINC_OP_EINSUM:
    rc = einc__plan_einsum(p, spec, err);
    break;
  case EINC_OP_PACK:
    rc = einc__plan_pack(p, spec, err);
    break;
  case EINC_OP_UNPACK:
    rc = einc__plan_unpack(p, spec, err);
    break;
  case EINC_OP_PARSE_SHAPE:
    rc = einc__plan_parse_shape(p, spec, err);
    break;
  default:
    rc = einc__fail(err, EINC_ERR_NONE, (einc_span){0, 0}, false, "unknown op %d", (int)spec->op);
    rc = EINC_EINVAL;
  }
  if (rc) goto fail_plan;
  *out = p;
  return EINC_OK;

fail_plan:
  if (rc == EINC_ENOMEM) snprintf(err->message, sizeof err->message, "out of memory");
  einc_plan_delete(p);
  return rc;
}

bool einc_plan_is_bound(const einc_plan *self) {
  for (int i = 0; i < self->n_inputs; i++) {
    if (self->inputs[i].rank < 0) return false;
    for (int d = 0; d < self->inputs[i].rank; d++)
      if (self->inputs[i].dims[d] < 0) return false;
  }
  if (self->n_inputs == 0) return false;
  for (int a = 0; a < self->n_axes; a++)
    if (self->axes[a].length < 0) return false;
  for (int i = 0; i < self->n_outputs; i++)
    for (int d = 0; d < self->outputs[i].rank; d++)
      if (self->op == EINC_OP_UNPACK && self->outputs[i].dims[d] < 0) return false;
  return true;
}

int64_t einc_plan_out_numel(const einc_plan *self, int32_t i) {
  if (!einc_plan_is_bound(self)) return -1;
  const int64_t *dims;
  int rank;
  if (self->op == EINC_OP_REARRANGE || self->op == EINC_OP_REDUCE || self->op == EINC_OP_REPEAT) {
    if (i != 0) return -1;
    dims = self->out_shape;
    rank = self->out_rank;
  } else {
    if (i < 0 || i >= self->n_outputs) return -1;
    dims = self->outputs[i].dims;
    rank = self->outputs[i].rank;
  }
  int64_t n = 1;
  for (int d = 0; d < rank; d++)
    n *= dims[d];
  return n;
}

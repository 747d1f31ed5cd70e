/*
 * parse_shape (spec §7, last paragraph): one side, `_` allowed and repeatable, an ellipsis for
 * any number of dims, no composite groups. The result is the named dims with their lengths, as
 * plan axes in pattern order; unit and anonymous entries must match the shape.
 */
#include <string.h>

#include "internal.h"

int einc__plan_parse_shape(einc_plan *p, const einc_spec *spec, einc_error *err) {
  p->klass = EINC_PLAN_PARSE_SHAPE;
  size_t len = p->pattern_len;
  einc_side_options opts = {.allow_underscore = true};
  int rc = einc__parse_side(p->pattern, 0, len, opts, einc__plan_arena(p), &p->left, err);
  if (rc) return rc;
  const einc_side *s = &p->left;
  for (int i = 0; i < s->n_items; i++)
    if (s->items[i].kind == EINC_ITEM_GROUP && s->items[i].n_atoms > 1)
      return einc__fail(err, EINC_ERR_PARSE_SHAPE_COMPOSITE, s->items[i].span, true,
                        "Can't parse shape with composite axes: %s", p->pattern);
  p->n_outputs = 0;
  if (spec->n_inputs < 1 || spec->inputs[0].rank < 0) return EINC_OK;
  const einc_shape *in = &spec->inputs[0];
  int n_items = s->n_items;
  if (in->rank != n_items) {
    if (!s->has_ellipsis)
      return einc__fail(err, EINC_ERR_PARSE_SHAPE_NDIM, (einc_span){0, (uint32_t)len}, true,
                        "Can't parse shape with different number of dimensions: %s (%d dims)",
                        p->pattern, in->rank);
    if (in->rank < n_items - 1)
      return einc__fail(err, EINC_ERR_PARSE_SHAPE_NDIM, (einc_span){0, (uint32_t)len}, true,
                        "Can't parse shape with this number of dimensions: %s (%d dims)",
                        p->pattern, in->rank);
  }
  int ell_dims = s->has_ellipsis ? in->rank - (n_items - 1) : 0;
  for (int i = 0, d = 0; i < n_items; i++) {
    const einc_item *it = &s->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS && s->has_ellipsis) {
      d += ell_dims;
      continue;
    }
    int64_t length = in->dims[d++];
    const einc_atom *a = it->kind == EINC_ITEM_GROUP && it->n_atoms ? &it->atoms[0] : NULL;
    if (it->kind == EINC_ITEM_GROUP && !a) {
      if (length != 1 && length != EINC_UNKNOWN)
        return einc__fail(err, EINC_ERR_PARSE_SHAPE_UNIT_MISMATCH, it->span, true,
                          "Length of axis is not 1: %s", p->pattern);
      continue;
    }
    if (a && a->kind == EINC_ATOM_ANONYMOUS) {
      if (length != a->value && length != EINC_UNKNOWN)
        return einc__fail(err, EINC_ERR_PARSE_SHAPE_ANON_MISMATCH, a->span, true,
                          "Length of anonymous axis does not match: %s", p->pattern);
      continue;
    }
    const char *name = a ? a->name : "\xE2\x80\xA6"; /* a literal U+2026 names one dim */
    if (!strcmp(name, "_")) continue;
    if (p->n_axes >= EINC_MAX_AXES) /* cannot happen: a side has at most as many items */
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, it->span, true, "too many axes");
    einc_axis *ax = &p->axes[p->n_axes++];
    memset(ax, 0, sizeof *ax);
    ax->name = name;
    ax->length = length;
    ax->in_dim = d - 1;
    ax->in_divisor = 1;
    ax->out_pos = -1;
    ax->kwarg_value = EINC_UNKNOWN;
  }
  return EINC_OK;
}

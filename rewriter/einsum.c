/*
 * Plans for einsum (spec §6): each operand is parsed as one side (duplicates and `_` allowed),
 * names are mapped to letters in order of first appearance, and — once shapes are known — the
 * numpy einsum rules the backend would apply are checked: operand count, ranks, label lengths
 * (size-1 broadcasting across operands), and ellipsis broadcasting.
 */
#include <string.h>

#include "internal.h"

static const char einc__letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* One operand's (or the output's) items, validated: every item one named axis or the ellipsis. */
static int einc__einsum_terms(einc_plan *p, const einc_side *side, bool output,
                              einc_einsum_operand *op, einc_error *err) {
  op->n_terms = 0;
  op->ellipsis_at = -1;
  for (int i = 0; i < side->n_items; i++) {
    const einc_item *it = &side->items[i];
    if (it->kind == EINC_ITEM_ELLIPSIS) {
      op->ellipsis_at = op->n_terms;
      continue;
    }
    if (it->n_atoms == 0)
      return einc__fail(err, EINC_ERR_EINSUM_UNIT_AXIS, it->span, true,
                        "Singleton () axes are not yet supported in einsum.");
    if (it->n_atoms > 1)
      return einc__fail(err, EINC_ERR_EINSUM_COMPOSITE_AXIS, it->span, true,
                        "Shape rearrangement is not yet supported in einsum.");
    const einc_atom *a = &it->atoms[0];
    if (a->kind == EINC_ATOM_ANONYMOUS)
      return einc__fail(err, EINC_ERR_EINSUM_ANONYMOUS_AXIS, a->span, true,
                        "Anonymous axes are not yet supported in einsum.");
    /* a named axis, or "(...)", which einops treats as an axis named U+2026 */
    int idx = -1;
    for (int k = 0; k < p->n_einsum_names; k++)
      if (!strcmp(p->einsum_names[k], a->name)) idx = k;
    if (idx < 0) {
      if (output)
        return einc__fail(err, EINC_ERR_EINSUM_UNKNOWN_OUTPUT_AXIS, a->span, true,
                          "Unknown axis %s on right side of einsum %s.", a->name, p->pattern);
      if (p->n_einsum_names >= 52)
        return einc__fail(err, EINC_ERR_EINSUM_TOO_MANY_AXES, a->span, true,
                          "Too many axes in einsum.");
      idx = p->n_einsum_names;
      p->einsum_names[p->n_einsum_names++] = a->name;
    }
    if (op->n_terms >= EINC_MAX_AXES) /* cannot happen: a side has at most as many items */
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, a->span, true,
                        "Too many axes in one einsum operand (einc supports %d)", EINC_MAX_AXES);
    op->terms[op->n_terms++] = idx;
  }
  return EINC_OK;
}

static void einc__einsum_append(char *buf, size_t *len, const einc_einsum_operand *op) {
  for (int t = 0; t <= op->n_terms; t++) {
    if (t == op->ellipsis_at && *len + 3 < EINC_MAX_PATTERN) {
      memcpy(buf + *len, "...", 3);
      *len += 3;
    }
    if (t < op->n_terms && *len + 1 < EINC_MAX_PATTERN) buf[(*len)++] = einc__letters[op->terms[t]];
  }
  buf[*len] = 0;
}

int einc__plan_einsum(einc_plan *p, const einc_spec *spec, einc_error *err) {
  einc_arena *arena = einc__plan_arena(p);
  const char *pat = p->pattern;
  size_t len = p->pattern_len;
  p->klass = EINC_PLAN_EINSUM;
  int rc;

  size_t arrow;
  rc = einc__split_arrow(pat, len, EINC_ERR_EINSUM_NO_ARROW, "Einsum pattern must contain '->'.",
                         &arrow, err);
  if (rc) return rc;

  /* parse every operand, then the output; validate afterwards, in that order */
  einc_side operands[EINC_MAX_INPUTS];
  int n_ops = 0;
  einc_side_options in_opts = {.allow_underscore = true, .allow_duplicates = true};
  for (size_t start = 0;;) {
    const char *comma = memchr(pat + start, ',', arrow - start);
    size_t end = comma ? (size_t)(comma - pat) : arrow;
    if (n_ops >= EINC_MAX_INPUTS)
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, (einc_span){(uint32_t)start, (uint32_t)end},
                        true, "Too many einsum operands (einc supports %d)", EINC_MAX_INPUTS);
    rc = einc__parse_side(pat, start, end, in_opts, arena, &operands[n_ops], err);
    if (rc) return rc;
    n_ops++;
    if (!comma) break;
    start = end + 1;
  }
  einc_side_options out_opts = {.allow_underscore = true};
  rc = einc__parse_side(pat, arrow + 2, len, out_opts, arena, &p->right, err);
  if (rc) return rc;
  p->left = operands[0];

  for (int k = 0; k < n_ops; k++) {
    rc = einc__einsum_terms(p, &operands[k], false, &p->operands[k], err);
    if (rc) return rc;
  }
  p->n_operands = n_ops;
  rc = einc__einsum_terms(p, &p->right, true, &p->einsum_out, err);
  if (rc) return rc;

  size_t cl = 0;
  for (int k = 0; k < n_ops; k++) {
    if (k) p->einsum_compact[cl++] = ',';
    einc__einsum_append(p->einsum_compact, &cl, &p->operands[k]);
  }
  memcpy(p->einsum_compact + cl, "->", 3);
  cl += 2;
  einc__einsum_append(p->einsum_compact, &cl, &p->einsum_out);

  /* the backend's rules, once shapes are known */
  for (int k = 0; k < 52; k++)
    p->einsum_lengths[k] = EINC_UNKNOWN;
  p->n_outputs = 1;
  p->outputs[0].rank = EINC_UNKNOWN;
  p->out_rank = 0;
  if (spec->n_inputs == 0) return EINC_OK;
  if (spec->n_inputs != n_ops)
    return einc__fail(err, EINC_ERR_EINSUM_OPERAND_COUNT, (einc_span){0, (uint32_t)arrow}, true,
                      "The pattern has %d operands but %d tensors were given", n_ops,
                      spec->n_inputs);
  bool bound = true;
  int ell_rank = 0;
  int64_t ell_shape[EINC_MAX_RANK];
  for (int k = 0; k < n_ops; k++) {
    const einc_shape *s = &spec->inputs[k];
    const einc_einsum_operand *op = &p->operands[k];
    if (s->rank < 0) {
      bound = false;
      continue;
    }
    int extra = s->rank - op->n_terms;
    if (extra < 0 || (op->ellipsis_at < 0 && extra != 0))
      return einc__fail(err, EINC_ERR_EINSUM_NDIM,
                        operands[k].n_items ? operands[k].items[0].span : (einc_span){0, 0},
                        operands[k].n_items > 0,
                        "einsum operand %d has %d dims but its subscripts name %d%s", k, s->rank,
                        op->n_terms, op->ellipsis_at >= 0 ? " plus an ellipsis" : "");
    for (int t = 0, d = 0; d < s->rank;) {
      if (t == op->ellipsis_at && extra > 0) {
        /* ellipsis dims broadcast right-aligned against the others seen so far */
        for (int e = 0; e < extra; e++, d++) {
          int pos = e - extra; /* from the right */
          int64_t len_d = s->dims[d];
          if (extra > ell_rank) {
            int shift = extra - ell_rank;
            memmove(ell_shape + shift, ell_shape, sizeof(int64_t) * (size_t)ell_rank);
            for (int q = 0; q < shift; q++)
              ell_shape[q] = 1;
            ell_rank = extra;
          }
          int64_t *cur = &ell_shape[ell_rank + pos];
          if (len_d < 0 || *cur < 0)
            *cur = EINC_UNKNOWN, bound = false;
          else if (*cur == 1)
            *cur = len_d;
          else if (len_d != 1 && len_d != *cur)
            return einc__fail(err, EINC_ERR_EINSUM_LENGTH_MISMATCH, (einc_span){0, 0}, false,
                              "operands could not be broadcast together: ellipsis dims %lld and "
                              "%lld",
                              (long long)*cur, (long long)len_d);
        }
        extra = 0;
        continue;
      }
      int label = op->terms[t];
      int64_t len_d = s->dims[d];
      int64_t *cur = &p->einsum_lengths[label];
      bool first_in_operand = true;
      for (int q = 0; q < t; q++)
        if (op->terms[q] == label) first_in_operand = false;
      if (len_d < 0) {
        bound = false;
      } else if (*cur == EINC_UNKNOWN) {
        *cur = len_d;
      } else if (!first_in_operand && *cur != len_d) {
        return einc__fail(err, EINC_ERR_EINSUM_LENGTH_MISMATCH, (einc_span){0, 0}, false,
                          "dimensions in single operand for collapsing index '%c' don't match "
                          "(%lld != %lld)",
                          einc__letters[label], (long long)*cur, (long long)len_d);
      } else if (*cur == 1) {
        *cur = len_d;
      } else if (len_d != 1 && *cur != len_d) {
        return einc__fail(err, EINC_ERR_EINSUM_LENGTH_MISMATCH, (einc_span){0, 0}, false,
                          "operands could not be broadcast together: axis %s has lengths %lld "
                          "and %lld",
                          p->einsum_names[label], (long long)*cur, (long long)len_d);
      }
      t++;
      d++;
    }
    if (op->ellipsis_at >= 0 && s->rank == op->n_terms) { /* an ellipsis covering no dims */
    }
  }
  /* an operand's duplicate labels of different lengths were caught above only when seen in
   * order; re-check every operand against the final lengths */
  for (int k = 0; k < n_ops && bound; k++) {
    const einc_shape *s = &spec->inputs[k];
    const einc_einsum_operand *op = &p->operands[k];
    int extra = s->rank - op->n_terms;
    for (int t = 0, d = 0; t < op->n_terms; t++, d++) {
      if (t == op->ellipsis_at) d += extra;
      int64_t want = p->einsum_lengths[op->terms[t]];
      if (s->dims[d] != want && s->dims[d] != 1)
        return einc__fail(err, EINC_ERR_EINSUM_LENGTH_MISMATCH, (einc_span){0, 0}, false,
                          "operands could not be broadcast together: axis %s has lengths %lld "
                          "and %lld",
                          p->einsum_names[op->terms[t]], (long long)want, (long long)s->dims[d]);
    }
  }
  if (p->einsum_out.ellipsis_at < 0 && ell_rank > 0)
    return einc__fail(err, EINC_ERR_EINSUM_NDIM, (einc_span){(uint32_t)arrow + 2, (uint32_t)len},
                      true,
                      "output has more dimensions than subscripts given in einstein sum, but no "
                      "'...' ellipsis provided to broadcast the extra dimensions.");
  p->einsum_ellipsis_rank = ell_rank;
  memcpy(p->einsum_ellipsis_shape, ell_shape, sizeof(int64_t) * (size_t)ell_rank);

  /* result dtype: numpy's promotion over the inputs (all share spec->dtype here) */
  p->in_dtype = p->out_dtype = spec->dtype;

  /* output shape */
  einc_shape *o = &p->outputs[0];
  o->rank = 0;
  const einc_einsum_operand *out = &p->einsum_out;
  for (int t = 0; t <= out->n_terms; t++) {
    if (t == out->ellipsis_at)
      for (int e = 0; e < ell_rank; e++) {
        if (o->rank >= EINC_MAX_RANK)
          return einc__fail(err, EINC_ERR_TOO_MANY_AXES, (einc_span){0, 0}, false,
                            "einsum output has too many dims");
        o->dims[o->rank++] = ell_shape[e];
      }
    if (t < out->n_terms) {
      if (o->rank >= EINC_MAX_RANK)
        return einc__fail(err, EINC_ERR_TOO_MANY_AXES, (einc_span){0, 0}, false,
                          "einsum output has too many dims");
      o->dims[o->rank++] = p->einsum_lengths[out->terms[t]];
    }
  }
  p->out_rank = o->rank;
  memcpy(p->out_shape, o->dims, sizeof(int64_t) * (size_t)o->rank);
  (void)bound;
  return EINC_OK;
}

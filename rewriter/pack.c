/*
 * Plans for pack and unpack (spec §7). Their patterns are whitespace-separated placeholders
 * around one `*`; only how many come before and after it matters. Unpack's split positions
 * follow einops exactly (accumulated from the front up to the -1 entry, from the back after
 * it), with Python's slice semantics — so inconsistent requests give empty or overlapping
 * pieces exactly as einops does.
 */
#include <string.h>

#include "internal.h"

/* Python's str.split() separators: ASCII whitespace, \x1c-\x1f and Unicode spaces. */
static int einc__space_len(const char *s, size_t n) {
  unsigned char c = (unsigned char)s[0];
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  uint32_t cp;
  int len = einc__utf8_decode((const unsigned char *)s, n, &cp);
  if (!len) return 0;
  if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
      cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
    return len;
  return 0;
}

static int einc__pack_pattern(einc_plan *p, const char *opname, einc_error *err) {
  const char *pat = p->pattern;
  size_t len = p->pattern_len;
  struct {
    size_t start, end;
  } tok[EINC_MAX_RANK * 2 + 2];
  int n = 0;
  for (size_t i = 0; i < len;) {
    int sp = einc__space_len(pat + i, len - i);
    if (sp) {
      i += (size_t)sp;
      continue;
    }
    size_t start = i;
    while (i < len && !einc__space_len(pat + i, len - i))
      i++;
    if (n >= (int)(sizeof tok / sizeof tok[0]))
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, (einc_span){(uint32_t)start, (uint32_t)i},
                        true, "Too many axes in %s pattern", opname);
    tok[n].start = start;
    tok[n].end = i;
    n++;
  }
  /* duplicates (a second * included), then the star, then each name */
  for (int a = 0; a < n; a++)
    for (int b = 0; b < a; b++)
      if (tok[a].end - tok[a].start == tok[b].end - tok[b].start &&
          !memcmp(pat + tok[a].start, pat + tok[b].start, tok[a].end - tok[a].start))
        return einc__fail(err, EINC_ERR_PACK_DUPLICATE_AXIS,
                          (einc_span){(uint32_t)tok[a].start, (uint32_t)tok[a].end}, true,
                          "Duplicates in axes names in %s(..., \"%s\")", opname, pat);
  int star = -1;
  for (int a = 0; a < n; a++)
    if (tok[a].end - tok[a].start == 1 && pat[tok[a].start] == '*') star = a;
  if (star < 0)
    return einc__fail(err, EINC_ERR_PACK_NO_STAR, (einc_span){0, (uint32_t)len}, false,
                      "No *-axis in %s(..., \"%s\")", opname, pat);
  for (int a = 0; a < n; a++) {
    if (a == star) continue;
    if (einc__axis_name_problem(pat + tok[a].start, tok[a].end - tok[a].start, false))
      return einc__fail(err, EINC_ERR_PACK_INVALID_AXIS_NAME,
                        (einc_span){(uint32_t)tok[a].start, (uint32_t)tok[a].end}, true,
                        "Invalid axis name %.*s in %s(..., \"%s\")",
                        (int)(tok[a].end - tok[a].start), pat + tok[a].start, opname, pat);
  }
  p->n_before = star;
  p->n_after = n - star - 1;
  return EINC_OK;
}

int einc__plan_pack(einc_plan *p, const einc_spec *spec, einc_error *err) {
  p->klass = EINC_PLAN_PACK;
  int rc = einc__pack_pattern(p, "pack", err);
  if (rc) return rc;
  p->n_outputs = 1;
  p->outputs[0].rank = EINC_UNKNOWN;
  if (spec->n_inputs == 0) return EINC_OK;
  int nb = p->n_before, na = p->n_after;
  einc_shape *o = &p->outputs[0];
  int64_t packed = 0;
  for (int i = 0; i < spec->n_inputs; i++) {
    const einc_shape *s = &spec->inputs[i];
    if (s->rank < 0) return EINC_OK; /* rank unknown: pattern checks only */
    if (s->rank < nb + na)
      return einc__fail(err, EINC_ERR_PACK_TOO_FEW_DIMS, (einc_span){0, 0}, false,
                        "packed tensor #%d (enumeration starts with 0) has %d dims, while "
                        "pattern %s assumes at least %d axes",
                        i, s->rank, p->pattern, nb + na);
    /* the packed dims of this input, as einops returns them */
    einc_shape *ps = &p->packed[i];
    ps->rank = s->rank - nb - na;
    int64_t middle = 1;
    for (int d = 0; d < ps->rank; d++) {
      ps->dims[d] = s->dims[nb + d];
      if (middle != EINC_UNKNOWN && s->dims[nb + d] >= 0) {
        if (einc__mul_overflow(middle, s->dims[nb + d], &middle))
          return einc__fail(err, EINC_ERR_SIZE_OVERFLOW, (einc_span){0, 0}, false,
                            "packed dims of input %d overflow a 64-bit integer", i);
      } else {
        middle = EINC_UNKNOWN;
      }
    }
    /* numpy cannot infer -1 when the other dims hold no elements */
    int64_t others = 1;
    for (int d = 0; d < nb; d++)
      others = s->dims[d] < 0 || others < 0 ? -1 : others * s->dims[d];
    for (int d = s->rank - na; d < s->rank; d++)
      others = s->dims[d] < 0 || others < 0 ? -1 : others * s->dims[d];
    if (others == 0)
      return einc__fail(err, EINC_ERR_PACK_LENGTH_MISMATCH, (einc_span){0, 0}, false,
                        "cannot reshape packed tensor #%d: its other dims hold no elements, so "
                        "the packed length is ambiguous",
                        i);
    if (i == 0) {
      o->rank = nb + 1 + na;
      for (int d = 0; d < nb; d++)
        o->dims[d] = s->dims[d];
      for (int d = 0; d < na; d++)
        o->dims[nb + 1 + d] = s->dims[s->rank - na + d];
    } else {
      for (int d = 0; d < nb + na; d++) {
        int od = d < nb ? d : d + 1;
        int64_t have = d < nb ? s->dims[d] : s->dims[s->rank - na + (d - nb)];
        if (have >= 0 && o->dims[od] >= 0 && have != o->dims[od])
          return einc__fail(err, EINC_ERR_PACK_LENGTH_MISMATCH, (einc_span){0, 0}, false,
                            "all the input array dimensions except for the concatenation axis "
                            "must match exactly, but along dimension %d, the array at index 0 "
                            "has size %lld and the array at index %d has size %lld",
                            od, (long long)o->dims[od], i, (long long)have);
      }
    }
    if (packed != EINC_UNKNOWN && middle != EINC_UNKNOWN)
      packed += middle;
    else
      packed = EINC_UNKNOWN;
  }
  p->n_packed = spec->n_inputs;
  o->dims[nb] = packed;
  p->out_rank = o->rank;
  memcpy(p->out_shape, o->dims, sizeof(int64_t) * (size_t)o->rank);
  return EINC_OK;
}

int einc__plan_unpack(einc_plan *p, const einc_spec *spec, einc_error *err) {
  p->klass = EINC_PLAN_UNPACK;
  int rc = einc__pack_pattern(p, "unpack", err);
  if (rc) return rc;
  int nb = p->n_before, na = p->n_after;
  int n = spec->n_packed;
  p->n_packed = n;
  p->n_outputs = n;
  /* einops checks the rank before the -1 entries */
  if (spec->n_inputs >= 1 && spec->inputs[0].rank >= 0 && spec->inputs[0].rank != nb + 1 + na)
    return einc__fail(err, EINC_ERR_UNPACK_WRONG_NDIM, (einc_span){0, 0}, false,
                      "unpack(..., %s) received input of wrong dim with %d dims (expected %d)",
                      p->pattern, spec->inputs[0].rank, nb + 1 + na);
  int unknown = -1;
  int64_t lengths[EINC_MAX_INPUTS];
  for (int i = 0; i < n; i++) {
    const einc_shape *ps = &spec->packed[i];
    p->packed[i] = *ps;
    bool has_unknown = false;
    int64_t prod = 1;
    for (int d = 0; d < ps->rank; d++) {
      if (ps->dims[d] == -1)
        has_unknown = true;
      else if (ps->dims[d] < -1)
        return einc__fail(err, EINC_ERR_UNPACK_BAD_SPLIT, (einc_span){0, 0}, false,
                          "packed shape %d has a negative length", i);
      else if (einc__mul_overflow(prod, ps->dims[d], &prod))
        return einc__fail(err, EINC_ERR_SIZE_OVERFLOW, (einc_span){0, 0}, false,
                          "packed shape %d overflows a 64-bit integer", i);
    }
    lengths[i] = has_unknown ? -1 : prod;
    if (has_unknown) {
      if (unknown >= 0)
        return einc__fail(err, EINC_ERR_UNPACK_MULTIPLE_UNKNOWN, (einc_span){0, 0}, false,
                          "unpack(..., %s) received more than one -1 in packed_shapes and can't "
                          "infer dimensions",
                          p->pattern);
      unknown = i;
    }
  }
  if (spec->n_inputs < 1 || spec->inputs[0].rank < 0) return EINC_OK;
  const einc_shape *s = &spec->inputs[0];
  int64_t total = s->dims[nb];
  if (total < 0) return EINC_OK; /* bound at run time */

  int64_t split[EINC_MAX_INPUTS + 1];
  for (int i = 0; i < n; i++)
    split[i] = 0;
  split[n] = total;
  if (unknown < 0) {
    for (int i = 0; i + 1 < n; i++)
      split[i + 1] = split[i] + lengths[i];
  } else {
    for (int i = 0; i < unknown; i++)
      split[i + 1] = split[i] + lengths[i];
    for (int j = n - 1; j > unknown; j--)
      split[j] = split[j + 1] - lengths[j];
  }
  for (int i = 0; i < n; i++) {
    /* Python slice [a:b] on a length-`total` axis */
    int64_t a = split[i], b = split[i + 1];
    if (a < 0) a = a + total < 0 ? 0 : a + total;
    if (b < 0) b = b + total < 0 ? 0 : b + total;
    if (a > total) a = total;
    if (b > total) b = total;
    int64_t count = b > a ? b - a : 0;
    p->packed_offset[i] = a;
    p->packed_len[i] = count;
    /* the reshape of the slice to the requested shape */
    einc_shape *ps = &p->packed[i];
    if (lengths[i] < 0) {
      int64_t known = 1;
      int at = -1, n_unknown = 0;
      for (int d = 0; d < ps->rank; d++) {
        if (ps->dims[d] == -1)
          at = d, n_unknown++;
        else
          known *= ps->dims[d];
      }
      if (n_unknown > 1 || known == 0 || count % known)
        return einc__fail(err, EINC_ERR_UNPACK_BAD_SPLIT, (einc_span){0, 0}, false,
                          "Error during unpack(..., \"%s\"): could not split axis of size %lld "
                          "into requested shapes",
                          p->pattern, (long long)total);
      ps->dims[at] = count / known;
    } else if (lengths[i] != count) {
      return einc__fail(err, EINC_ERR_UNPACK_BAD_SPLIT, (einc_span){0, 0}, false,
                        "Error during unpack(..., \"%s\"): could not split axis of size %lld into "
                        "requested shapes",
                        p->pattern, (long long)total);
    }
    einc_shape *o = &p->outputs[i];
    o->rank = nb + ps->rank + na;
    if (o->rank > EINC_MAX_RANK)
      return einc__fail(err, EINC_ERR_TOO_MANY_AXES, (einc_span){0, 0}, false,
                        "unpacked piece %d has more than %d dims", i, EINC_MAX_RANK);
    for (int d = 0; d < nb; d++)
      o->dims[d] = s->dims[d];
    for (int d = 0; d < ps->rank; d++)
      o->dims[nb + d] = ps->dims[d];
    for (int d = 0; d < na; d++)
      o->dims[nb + ps->rank + d] = s->dims[nb + 1 + d];
  }
  return EINC_OK;
}

/*
 * The reference executor: runs any bound plan on contiguous host buffers. Every emitter and
 * backend is tested against it, so it favours obviousness over speed: an odometer over the
 * plan's coalesced loops, reductions accumulated in float64 (int64 for integer sums and
 * products) in the left order of the reduced axes, so results are the same on every run.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- element conversions (round to nearest even) ----------------------------------------- */

static uint32_t einc__f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float einc__bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t einc__f32_to_bf16(float f) {
  uint32_t u = einc__f32_bits(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7FFF + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

float einc__bf16_to_f32(uint16_t h) {
  return einc__bits_f32((uint32_t)h << 16);
}

uint16_t einc__f32_to_f16(float f) {
  uint32_t x = einc__f32_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  x &= 0x7FFFFFFF;
  if (x >= 0x7F800000) return sign | (x > 0x7F800000 ? 0x7E00 : 0x7C00);
  if (x >= 0x477FF000) return sign | 0x7C00; /* rounds to infinity */
  if (x < 0x38800000) /* below the smallest normal half: a multiple of 2^-24 */
    return sign | (uint16_t)nearbyintf(einc__bits_f32(x) * 16777216.0f);
  uint32_t r = x + 0xFFF + ((x >> 13) & 1);
  return sign | (uint16_t)((r - 0x38000000) >> 13);
}

float einc__f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0) {
    float v = (float)mant * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 31) return einc__bits_f32(sign | 0x7F800000 | (mant << 13));
  return einc__bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

double einc__load_f64(einc_dtype dt, const void *base, int64_t i) {
  switch (dt) {
  case EINC_F64:
    return ((const double *)base)[i];
  case EINC_F32:
    return ((const float *)base)[i];
  case EINC_BF16:
    return einc__bf16_to_f32(((const uint16_t *)base)[i]);
  case EINC_F16:
    return einc__f16_to_f32(((const uint16_t *)base)[i]);
  case EINC_I64:
    return (double)((const int64_t *)base)[i];
  case EINC_BOOL:
    return ((const uint8_t *)base)[i] ? 1.0 : 0.0;
  default:
    return 0;
  }
}

void einc__store_f64(einc_dtype dt, void *base, int64_t i, double v) {
  switch (dt) {
  case EINC_F64:
    ((double *)base)[i] = v;
    break;
  case EINC_F32:
    ((float *)base)[i] = (float)v;
    break;
  case EINC_BF16:
    ((uint16_t *)base)[i] = einc__f32_to_bf16((float)v);
    break;
  case EINC_F16:
    ((uint16_t *)base)[i] = einc__f32_to_f16((float)v);
    break;
  case EINC_I64:
    ((int64_t *)base)[i] = (int64_t)v;
    break;
  case EINC_BOOL:
    ((uint8_t *)base)[i] = v != 0;
    break;
  default:
    break;
  }
}

static int64_t einc__load_i64(einc_dtype dt, const void *base, int64_t i) {
  if (dt == EINC_I64) return ((const int64_t *)base)[i];
  if (dt == EINC_BOOL) return ((const uint8_t *)base)[i] != 0;
  return (int64_t)einc__load_f64(dt, base, i);
}

static void einc__store_i64(einc_dtype dt, void *base, int64_t i, int64_t v) {
  if (dt == EINC_I64)
    ((int64_t *)base)[i] = v;
  else if (dt == EINC_BOOL)
    ((uint8_t *)base)[i] = v != 0;
  else
    einc__store_f64(dt, base, i, (double)v);
}

/* ---- rearrange / reduce / repeat ---------------------------------------------------------- */

/* Advance an odometer over `loops`; returns false when it wraps around. */
static bool einc__odometer_next(const einc_loop *loops, int n, int64_t *idx, int64_t *offset) {
  for (int k = n - 1; k >= 0; k--) {
    if (++idx[k] < loops[k].length) {
      *offset += loops[k].in_stride;
      return true;
    }
    *offset -= loops[k].in_stride * (idx[k] - 1);
    idx[k] = 0;
  }
  return false;
}

static bool einc__loops_empty(const einc_loop *loops, int n) {
  for (int k = 0; k < n; k++)
    if (loops[k].length == 0) return true;
  return false;
}

static void einc__reduce_one(const einc_plan *p, const void *in, int64_t base, void *out,
                             int64_t o) {
  einc_dtype dt = p->in_dtype;
  const einc_loop *rl = p->red_loops;
  int nr = p->n_red_loops;
  int64_t idx[EINC_MAX_AXES] = {0};
  int64_t off = base;
  bool integer = dt == EINC_I64 || dt == EINC_BOOL;
  bool empty = einc__loops_empty(rl, nr);
  einc_reduction r = p->reduction;

  if (r == EINC_RED_ANY || r == EINC_RED_ALL) {
    bool acc = r == EINC_RED_ALL;
    if (!empty) do {
        bool v = einc__load_f64(dt, in, off) != 0;
        acc = r == EINC_RED_ANY ? (acc || v) : (acc && v);
      } while (einc__odometer_next(rl, nr, idx, &off));
    ((uint8_t *)out)[o] = acc;
    return;
  }
  if (integer) {
    uint64_t acc = r == EINC_RED_PROD ? 1 : 0; /* unsigned: wraps like numpy's int64 */
    int64_t best = 0;
    bool first = true;
    if (!empty) do {
        int64_t v = einc__load_i64(dt, in, off);
        if (r == EINC_RED_SUM)
          acc += (uint64_t)v;
        else if (r == EINC_RED_PROD)
          acc *= (uint64_t)v;
        else if (first || (r == EINC_RED_MAX ? v > best : v < best))
          best = v;
        first = false;
      } while (einc__odometer_next(rl, nr, idx, &off));
    int64_t result = (r == EINC_RED_SUM || r == EINC_RED_PROD) ? (int64_t)acc : best;
    einc__store_i64(p->out_dtype, out, o, result);
    return;
  }
  double acc = r == EINC_RED_PROD ? 1.0 : 0.0;
  int64_t count = 0;
  bool first = true;
  if (!empty) do {
      double v = einc__load_f64(dt, in, off);
      switch (r) {
      case EINC_RED_SUM:
      case EINC_RED_MEAN:
        acc += v;
        break;
      case EINC_RED_PROD:
        acc *= v;
        break;
      default: /* max, min: NaN wins, as in numpy */
        if (first || isnan(v) || (!isnan(acc) && (r == EINC_RED_MAX ? v > acc : v < acc))) acc = v;
      }
      first = false;
      count++;
    } while (einc__odometer_next(rl, nr, idx, &off));
  if (r == EINC_RED_MEAN) acc = count ? acc / (double)count : NAN;
  einc__store_f64(p->out_dtype, out, o, acc);
}

static int einc__run_transform(const einc_plan *p, const void *in, void *out) {
  const einc_loop *loops = p->loops;
  int n = p->n_loops;
  if (einc__loops_empty(loops, n)) return EINC_OK;
  size_t es = einc_dtype_size(p->in_dtype);
  int64_t idx[EINC_MAX_AXES] = {0};
  int64_t off = 0, o = 0;
  if (p->klass != EINC_PLAN_REDUCE) {
    const char *src = in;
    char *dst = out;
    do {
      memcpy(dst + (size_t)o * es, src + (size_t)off * es, es);
      o++;
    } while (einc__odometer_next(loops, n, idx, &off));
    return EINC_OK;
  }
  do {
    einc__reduce_one(p, in, off, out, o);
    o++;
  } while (einc__odometer_next(loops, n, idx, &off));
  return EINC_OK;
}

/* ---- einsum ------------------------------------------------------------------------------ */

typedef struct einc_einsum_var {
  int64_t length;
  int64_t stride[EINC_MAX_INPUTS]; /* per operand, 0 where broadcast or absent */
} einc_einsum_var;

static int einc__run_einsum(const einc_plan *p, const void *const *ins, void *out) {
  einc_einsum_var *vars = einc__calloc(52 + EINC_MAX_RANK, sizeof *vars);
  if (!vars) return EINC_ENOMEM;
  int nv = 0;
  int var_of_label[52];
  for (int l = 0; l < 52; l++)
    var_of_label[l] = -1;
  int ell_var = -1;
  const einc_einsum_operand *eo = &p->einsum_out;
  /* output variables in output order, then the summed labels in order of first appearance */
  for (int t = 0; t <= eo->n_terms; t++) {
    if (t == eo->ellipsis_at) {
      ell_var = nv;
      for (int e = 0; e < p->einsum_ellipsis_rank; e++)
        vars[nv++].length = p->einsum_ellipsis_shape[e];
    }
    if (t < eo->n_terms) {
      var_of_label[eo->terms[t]] = nv;
      vars[nv++].length = p->einsum_lengths[eo->terms[t]];
    }
  }
  int n_out = nv;
  for (int k = 0; k < p->n_operands; k++)
    for (int t = 0; t < p->operands[k].n_terms; t++) {
      int l = p->operands[k].terms[t];
      if (var_of_label[l] < 0) {
        var_of_label[l] = nv;
        vars[nv++].length = p->einsum_lengths[l];
      }
    }
  /* strides of every operand dim on its variable (diagonals add up) */
  for (int k = 0; k < p->n_operands; k++) {
    const einc_einsum_operand *op = &p->operands[k];
    const einc_shape *s = &p->inputs[k];
    int extra = s->rank - op->n_terms;
    int64_t stride = 1;
    for (int d = s->rank - 1, t = op->n_terms - 1; d >= 0; d--) {
      int var;
      bool in_ell = op->ellipsis_at >= 0 && d >= op->ellipsis_at && d < op->ellipsis_at + extra;
      if (in_ell) {
        int from_right = op->ellipsis_at + extra - 1 - d;
        var = ell_var + p->einsum_ellipsis_rank - 1 - from_right;
      } else {
        var = var_of_label[op->terms[t--]];
      }
      if (s->dims[d] != 1) vars[var].stride[k] += stride;
      stride *= s->dims[d];
    }
  }
  int64_t idx[52 + EINC_MAX_RANK] = {0};
  int64_t off[EINC_MAX_INPUTS] = {0};
  bool empty_out = false, empty_sum = false;
  for (int v = 0; v < nv; v++)
    if (vars[v].length == 0) *(v < n_out ? &empty_out : &empty_sum) = true;
  einc_dtype dt = p->out_dtype;
  int64_t o = 0;
  if (!empty_out) {
    for (;;) {
      double acc = 0;
      int64_t iacc = 0;
      bool bacc = false;
      if (!empty_sum) {
        int64_t sidx[52 + EINC_MAX_RANK] = {0};
        int64_t soff[EINC_MAX_INPUTS];
        memcpy(soff, off, sizeof soff);
        for (;;) {
          if (dt == EINC_I64) {
            int64_t prod = 1;
            for (int k = 0; k < p->n_operands; k++)
              prod = (int64_t)((uint64_t)prod * (uint64_t)einc__load_i64(dt, ins[k], soff[k]));
            iacc = (int64_t)((uint64_t)iacc + (uint64_t)prod);
          } else if (dt == EINC_BOOL) {
            bool all = true;
            for (int k = 0; k < p->n_operands; k++)
              all = all && ((const uint8_t *)ins[k])[soff[k]];
            bacc = bacc || all;
          } else {
            double prod = 1;
            for (int k = 0; k < p->n_operands; k++)
              prod *= einc__load_f64(dt, ins[k], soff[k]);
            acc += prod;
          }
          int v = nv - 1;
          for (; v >= n_out; v--) {
            if (++sidx[v] < vars[v].length) {
              for (int k = 0; k < p->n_operands; k++)
                soff[k] += vars[v].stride[k];
              break;
            }
            for (int k = 0; k < p->n_operands; k++)
              soff[k] -= vars[v].stride[k] * (sidx[v] - 1);
            sidx[v] = 0;
          }
          if (v < n_out) break;
        }
      }
      if (dt == EINC_I64)
        ((int64_t *)out)[o] = iacc;
      else if (dt == EINC_BOOL)
        ((uint8_t *)out)[o] = bacc;
      else
        einc__store_f64(dt, out, o, acc);
      o++;
      int v = n_out - 1;
      for (; v >= 0; v--) {
        if (++idx[v] < vars[v].length) {
          for (int k = 0; k < p->n_operands; k++)
            off[k] += vars[v].stride[k];
          break;
        }
        for (int k = 0; k < p->n_operands; k++)
          off[k] -= vars[v].stride[k] * (idx[v] - 1);
        idx[v] = 0;
      }
      if (v < 0) break;
    }
  }
  einc__free(vars);
  return EINC_OK;
}

/* ---- pack / unpack ----------------------------------------------------------------------- */

static void einc__shape_split(const einc_shape *s, int nb, int na, int64_t *before, int64_t *middle,
                              int64_t *after) {
  *before = *middle = *after = 1;
  for (int d = 0; d < s->rank; d++) {
    if (d < nb)
      *before *= s->dims[d];
    else if (d >= s->rank - na)
      *after *= s->dims[d];
    else
      *middle *= s->dims[d];
  }
}

static int einc__run_pack(const einc_plan *p, const void *const *ins, void *out) {
  size_t es = einc_dtype_size(p->in_dtype);
  int nb = p->n_before, na = p->n_after;
  int64_t total = p->outputs[0].dims[nb];
  int64_t offset = 0;
  for (int i = 0; i < p->n_inputs; i++) {
    int64_t B, M, A;
    einc__shape_split(&p->inputs[i], nb, na, &B, &M, &A);
    for (int64_t b = 0; b < B; b++)
      memcpy((char *)out + (size_t)((b * total + offset) * A) * es,
             (const char *)ins[i] + (size_t)(b * M * A) * es, (size_t)(M * A) * es);
    offset += M;
  }
  return EINC_OK;
}

static int einc__run_unpack(const einc_plan *p, const void *in, void *const *outs) {
  size_t es = einc_dtype_size(p->in_dtype);
  int nb = p->n_before;
  int64_t B = 1, A = 1;
  const einc_shape *s = &p->inputs[0];
  for (int d = 0; d < nb; d++)
    B *= s->dims[d];
  for (int d = nb + 1; d < s->rank; d++)
    A *= s->dims[d];
  int64_t total = s->dims[nb];
  for (int i = 0; i < p->n_outputs; i++) {
    int64_t M = p->packed_len[i], start = p->packed_offset[i];
    for (int64_t b = 0; b < B; b++)
      memcpy((char *)outs[i] + (size_t)(b * M * A) * es,
             (const char *)in + (size_t)((b * total + start) * A) * es, (size_t)(M * A) * es);
  }
  return EINC_OK;
}

int einc_plan_execute(const einc_plan *self, const void *const *ins, void *const *outs) {
  if (!self || !ins || !outs) return EINC_EINVAL;
  if (!einc_plan_is_bound(self)) return EINC_EUNSUPPORTED;
  for (int i = 0; i < self->n_inputs; i++)
    if (!ins[i] && einc_plan_out_numel(self, 0) != 0) return EINC_EINVAL;
  switch (self->op) {
  case EINC_OP_REARRANGE:
  case EINC_OP_REDUCE:
  case EINC_OP_REPEAT:
    return einc__run_transform(self, ins[0], outs[0]);
  case EINC_OP_EINSUM:
    return einc__run_einsum(self, ins, outs[0]);
  case EINC_OP_PACK:
    return einc__run_pack(self, ins, outs[0]);
  case EINC_OP_UNPACK:
    return einc__run_unpack(self, ins[0], outs);
  case EINC_OP_PARSE_SHAPE:
    return EINC_OK; /* its result is the plan itself */
  }
  return EINC_EINVAL;
}

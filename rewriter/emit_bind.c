/*
 * What the C and CUDA emitters share: gen-time knowledge of a plan's lengths and strides, the
 * binder that recovers every axis length from the input shape and size arguments (with the
 * checks einops makes), the out-shape and view functions, and the context of loop lengths and
 * strides a kernel reads. All of it is host C, valid in a .c file and in a .cu file alike.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gen.h"

int einc__emit_setup(einc__emit *e, einc_sbuf *h, einc_sbuf *c, const char *name,
                     const einc_plan *plan, const einc_kwarg *kwargs, int32_t n_kwargs) {
  if (plan->op != EINC_OP_REARRANGE && plan->op != EINC_OP_REDUCE && plan->op != EINC_OP_REPEAT)
    return EINC_EUNSUPPORTED;
  if (plan->n_inputs != 1 || plan->inputs[0].rank < 0) return EINC_EUNSUPPORTED;
  if (n_kwargs > EINC_GEN_MAX_KWARGS) return EINC_ELIMIT;
  memset(e, 0, sizeof *e);
  e->h = h;
  e->c = c;
  e->name = name;
  e->p = plan;
  e->rank = plan->inputs[0].rank;
  e->kwargs = kwargs;
  e->n_kwargs = n_kwargs;
  e->ctx = "c->";
  size_t po = 0, ao = 0;
  for (int32_t k = 0; k < n_kwargs; k++) {
    if (kwargs[k].value != EINC_UNKNOWN) continue;
    po += (size_t)snprintf(e->params + po, sizeof e->params - po, ", int64_t size_%s",
                           kwargs[k].name);
    ao += (size_t)snprintf(e->args + ao, sizeof e->args - ao, ", size_%s", kwargs[k].name);
  }
  einc__emit_axis_knowledge(e);
  return EINC_OK;
}

void einc__emit_plan_comment(einc__emit *e) {
  const einc_plan *plan = e->p;
  einc_sbuf *h = e->h;
  einc__sbuf_printf(h, "/* %s: %s \"", e->name, einc_op_name(plan->op));
  for (const char *s = plan->pattern; *s; s++)
    if (!(s[0] == '*' && s[1] == '/')) einc__sbuf_append(h, s, 1);
  einc__sbuf_printf(h, "\"%s%s, %s, %s; input rank %d", plan->op == EINC_OP_REDUCE ? ", " : "",
                    plan->op == EINC_OP_REDUCE ? einc_reduction_name(plan->reduction) : "",
                    einc_dtype_name(plan->in_dtype), einc_plan_class_name(plan->klass), e->rank);
  if (plan->in_dtype != plan->out_dtype)
    einc__sbuf_printf(h, ", output %s", einc_dtype_name(plan->out_dtype));
  einc__sbuf_printf(h, ".\n   Input and output are contiguous (C order); returns EINC_GEN_OK or a "
                       "negative EINC_GEN_ status and then writes nothing. */\n");
  einc__sbuf_printf(h, "#define %s_IN_RANK %d\n#define %s_OUT_RANK %d\n", e->name, e->rank, e->name,
                    plan->out_rank);
}

/* ---------------------------------------------------------------------------------------------
 * Gen-time arithmetic: a value is known (>= 0) or EINC_UNKNOWN.
 * ------------------------------------------------------------------------------------------- */

int64_t einc__emit_mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return EINC_UNKNOWN;
  if (a != 0 && b > INT64_MAX / a)
    return EINC_UNKNOWN; /* too large to print: compute at run time */
  return a * b;
}

/* A value as C text: the literal when known, otherwise the run-time expression. */
const char *einc__emit_val(char *buf, size_t n, int64_t known, const char *fmt, int32_t i) {
  if (known >= 0)
    snprintf(buf, n, "INT64_C(%" PRId64 ")", known);
  else
    snprintf(buf, n, fmt, i);
  return buf;
}

const char *einc__emit_raw_type(einc_dtype dt) {
  switch (einc_dtype_size(dt)) {
  case 8:
    return "uint64_t";
  case 4:
    return "uint32_t";
  case 2:
    return "uint16_t";
  default:
    return "uint8_t";
  }
}

void einc__emit_axis_knowledge(einc__emit *e) {
  const einc_plan *p = e->p;
  int64_t st = 1;
  for (int32_t i = p->n_axes - 1; i >= 0; i--) {
    e->len[i] = p->axes[i].length;
    e->os[i] = 0;
    if (p->axes[i].role == EINC_AXIS_NEW) {
      e->is[i] = 0;
      continue;
    }
    e->is[i] = st;
    st = einc__emit_mul(st, p->axes[i].length);
  }
  st = 1;
  for (int32_t q = p->n_out_axes - 1; q >= 0; q--) {
    int32_t i = p->out_axes[q];
    e->os[i] = st;
    st = einc__emit_mul(st, p->axes[i].length);
  }
}

int64_t einc__emit_loop_len(const einc__emit *e, const einc_loop *l) {
  int64_t v = 1;
  for (int32_t k = 0; k < l->n_axes; k++)
    v = einc__emit_mul(v, e->len[l->axes[k]]);
  return v;
}

/* ---------------------------------------------------------------------------------------------
 * Binding: axis lengths from the input shape and size arguments, with every check einops makes.
 * ------------------------------------------------------------------------------------------- */

const einc_kwarg *einc__emit_runtime_kwarg(const einc__emit *e, const char *name) {
  for (int32_t k = 0; k < e->n_kwargs; k++)
    if (e->kwargs[k].value == EINC_UNKNOWN && strcmp(e->kwargs[k].name, name) == 0)
      return &e->kwargs[k];
  return NULL;
}

/* static inline int NAME__bind(const int64_t *in_shape, int64_t *a, int64_t *s, int64_t *o...)
 * a: axis lengths, s: contiguous input strides, o: contiguous output strides. */
void einc__emit_bind(einc__emit *e) {
  const einc_plan *p = e->p;
  einc_sbuf *c = e->c;
  einc__sbuf_printf(c,
                    "static inline int %s__bind(const int64_t *in_shape, int64_t *a, int64_t *s, "
                    "int64_t *o%s) {\n",
                    e->name, e->params);
  einc__sbuf_printf(c, "  (void)in_shape;\n  (void)a;\n  (void)s;\n  (void)o;\n");
  for (int32_t k = 0; k < e->n_kwargs; k++)
    if (e->kwargs[k].value == EINC_UNKNOWN)
      einc__sbuf_printf(c, "  if (size_%s <= 0) return EINC_GEN_EINVAL;\n", e->kwargs[k].name);
  /* Known lengths and run-time sizes first, then the lengths inferred from the shape. */
  for (int32_t i = 0; i < p->n_axes; i++) {
    const einc_axis *ax = &p->axes[i];
    if (ax->length >= 0) {
      einc__sbuf_printf(c, "  a[%d] = %" PRId64 ";\n", i, ax->length);
    } else if (einc__emit_runtime_kwarg(e, ax->name)) {
      einc__sbuf_printf(c, "  a[%d] = size_%s;\n", i, ax->name);
    }
  }
  for (int32_t d = 0; d < e->rank; d++) {
    /* The axes of input dim d: known product, the one to infer, and how many there are. */
    int32_t n_in_dim = 0, infer = -1;
    int64_t known = 1;
    for (int32_t i = 0; i < p->n_axes; i++) {
      const einc_axis *ax = &p->axes[i];
      if (ax->role == EINC_AXIS_NEW || ax->in_dim != d) continue;
      n_in_dim++;
      if (ax->length >= 0)
        known = einc__emit_mul(known, ax->length);
      else if (einc__emit_runtime_kwarg(e, ax->name))
        known = EINC_UNKNOWN;
      else
        infer = i;
    }
    if (n_in_dim == 1 && infer >= 0) { /* the dim is one axis: it is the dim's length */
      einc__sbuf_printf(
          c, "  if (in_shape[%d] < 0) return EINC_GEN_ESHAPE;\n  a[%d] = in_shape[%d];\n", d, infer,
          d);
      continue;
    }
    if (infer < 0 && known >= 0) { /* every length known: the dim must be their product */
      einc__sbuf_printf(c, "  if (in_shape[%d] != %" PRId64 ") return EINC_GEN_ESHAPE;\n", d,
                        known);
      continue;
    }
    if (infer >= 0) {
      if (known >= 0) {
        einc__sbuf_printf(c,
                          "  if (in_shape[%d] < 0 || in_shape[%d] %% %" PRId64
                          " != 0) return EINC_GEN_ESHAPE;\n  a[%d] = in_shape[%d] / %" PRId64 ";\n",
                          d, d, known > 0 ? known : 1, infer, d, known > 0 ? known : 1);
        if (known == 0) einc__sbuf_printf(c, "  return EINC_GEN_ESHAPE;\n");
        continue;
      }
      einc__sbuf_printf(c, "  {\n    int64_t div = 1;\n");
      for (int32_t j = 0; j < p->n_axes; j++)
        if (j != infer && p->axes[j].role != EINC_AXIS_NEW && p->axes[j].in_dim == d)
          einc__sbuf_printf(c, "    div *= a[%d];\n", j);
      einc__sbuf_printf(c,
                        "    if (in_shape[%d] < 0 || div <= 0 || in_shape[%d] %% div != 0) "
                        "return EINC_GEN_ESHAPE;\n    a[%d] = in_shape[%d] / div;\n  }\n",
                        d, d, infer, d);
      continue;
    }
    /* run-time sizes only: their product must be the dim (overflow-checked) */
    einc__sbuf_printf(c, "  {\n    int64_t n = 1;\n");
    for (int32_t i = 0; i < p->n_axes; i++)
      if (p->axes[i].role != EINC_AXIS_NEW && p->axes[i].in_dim == d)
        einc__sbuf_printf(
            c, "    if (__builtin_mul_overflow(n, a[%d], &n)) return EINC_GEN_ESHAPE;\n", i);
    einc__sbuf_printf(c, "    if (n != in_shape[%d]) return EINC_GEN_ESHAPE;\n  }\n", d);
  }
  for (int32_t i = 0; i < p->n_axes; i++) {
    const einc_axis *ax = &p->axes[i];
    if (ax->length < 0 && !einc__emit_runtime_kwarg(e, ax->name) &&
        (ax->role == EINC_AXIS_NEW || ax->in_dim < 0 || ax->in_dim >= e->rank))
      einc__sbuf_printf(c, "  return EINC_GEN_EINVAL; /* axis %s has no size */\n", ax->name);
  }
  /* Strides of a contiguous input and output, and the output's size must fit in int64. (No
   * axes: nothing to stride, and a `st` only set would draw nvcc's "set but never used".) */
  if (p->n_axes == 0) {
    einc__sbuf_printf(c, "  return EINC_GEN_OK;\n}\n\n");
    return;
  }
  einc__sbuf_printf(c, "  int64_t st = 1;\n");
  for (int32_t i = p->n_axes - 1; i >= 0; i--) {
    if (p->axes[i].role == EINC_AXIS_NEW) {
      einc__sbuf_printf(c, "  s[%d] = 0;\n", i);
    } else {
      einc__sbuf_printf(c, "  s[%d] = st;\n  st *= a[%d];\n", i, i);
    }
    einc__sbuf_printf(c, "  o[%d] = 0;\n", i);
  }
  einc__sbuf_printf(c, "  st = 1;\n");
  for (int32_t q = p->n_out_axes - 1; q >= 0; q--)
    einc__sbuf_printf(c,
                      "  o[%d] = st;\n"
                      "  if (__builtin_mul_overflow(st, a[%d], &st)) return EINC_GEN_ESHAPE;\n",
                      p->out_axes[q], p->out_axes[q]);
  einc__sbuf_printf(c, "  (void)st;\n  return EINC_GEN_OK;\n}\n\n");
}

/* Declare a[], s[], o[] and call the binder; `ret` is what to return on failure. */
void einc__emit_call_bind(einc__emit *e) {
  int32_t n = e->p->n_axes > 0 ? e->p->n_axes : 1;
  einc__sbuf_printf(e->c,
                    "  int64_t a[%d], s[%d], o[%d];\n"
                    "  int status = %s__bind(in_shape, a, s, o%s);\n"
                    "  if (status != EINC_GEN_OK) return status;\n",
                    n, n, n, e->name, e->args);
}

/* "a[3] * a[4]" for the axes of output dim j (or "1"). */
void einc__emit_group_len(einc__emit *e, einc_sbuf *c, int32_t j) {
  const einc_plan *p = e->p;
  int32_t b = p->out_group_start[j], end = p->out_group_start[j + 1];
  if (b == end) {
    einc__sbuf_printf(c, "1");
    return;
  }
  for (int32_t q = b; q < end; q++)
    einc__sbuf_printf(c, "%sa[%d]", q > b ? " * " : "", p->out_axes[q]);
}

void einc__emit_out_shape_fn(einc__emit *e) {
  einc__sbuf_printf(e->h,
                    "/* The output shape (%d dims) for input shape `in_shape`. */\n"
                    "int %s_out_shape(const int64_t *in_shape, int64_t *out_shape%s);\n",
                    e->p->out_rank, e->name, e->params);
  einc__sbuf_printf(e->c, "int %s_out_shape(const int64_t *in_shape, int64_t *out_shape%s) {\n",
                    e->name, e->params);
  einc__sbuf_printf(e->c, "  if (!in_shape || !out_shape) return EINC_GEN_EINVAL;\n");
  einc__emit_call_bind(e);
  for (int32_t j = 0; j < e->p->out_rank; j++) {
    einc__sbuf_printf(e->c, "  out_shape[%d] = ", j);
    einc__emit_group_len(e, e->c, j);
    einc__sbuf_printf(e->c, ";\n");
  }
  einc__sbuf_printf(e->c, "  return EINC_GEN_OK;\n}\n\n");
}

void einc__emit_view_fn(einc__emit *e) {
  const einc_plan *p = e->p;
  einc__sbuf_printf(
      e->h,
      "/* The output as a view of `in` (no data moves). */\n"
      "int %s_view(const void *in, const int64_t *in_shape, einc_gen_view *view%s);\n",
      e->name, e->params);
  einc__sbuf_printf(
      e->c,
      "int %s_view(const void *in, const int64_t *in_shape, einc_gen_view *view%s) {\n"
      "  if (!in_shape || !view) return EINC_GEN_EINVAL;\n",
      e->name, e->params);
  einc__emit_call_bind(e);
  einc__sbuf_printf(e->c, "  view->data = (void *)(uintptr_t)in;\n  view->rank = %d;\n",
                    p->out_rank);
  for (int32_t j = 0; j < p->out_rank; j++) {
    int32_t b = p->out_group_start[j], end = p->out_group_start[j + 1];
    einc__sbuf_printf(e->c, "  view->shape[%d] = ", j);
    einc__emit_group_len(e, e->c, j);
    /* A view's group is contiguous in the input (length-1 axes aside): its stride is that of its
     * last axis longer than 1. */
    einc__sbuf_printf(e->c, ";\n  view->strides[%d] = ", j);
    int32_t open = 0;
    bool done = false;
    for (int32_t q = end - 1; q >= b && !done; q--) {
      int32_t i = p->out_axes[q];
      if (e->len[i] == 1) continue;
      if (e->len[i] >= 0) {
        einc__sbuf_printf(e->c, "s[%d]", i);
        done = true;
      } else {
        einc__sbuf_printf(e->c, "a[%d] != 1 ? s[%d] : (", i, i);
        open++;
      }
    }
    if (!done) einc__sbuf_printf(e->c, "1");
    for (; open > 0; open--)
      einc__sbuf_printf(e->c, ")");
    einc__sbuf_printf(e->c, ";\n");
  }
  einc__sbuf_printf(e->c, "  return EINC_GEN_OK;\n}\n\n");
}

void einc__emit_loopv(const einc__emit *e, const einc_loop *l, const char *kind, int32_t j,
                      einc__loopv *v) {
  int32_t last = l->axes[l->n_axes - 1];
  v->len = einc__emit_loop_len(e, l);
  v->is = e->is[last];
  v->os = e->os[last];
  char fmt[32];
  snprintf(fmt, sizeof fmt, "%s%sL[%%d]", e->ctx, kind);
  einc__emit_val(v->elen, sizeof v->elen, v->len, fmt, j);
  snprintf(fmt, sizeof fmt, "%s%sIS[%%d]", e->ctx, kind);
  einc__emit_val(v->eis, sizeof v->eis, v->is, fmt, j);
  snprintf(fmt, sizeof fmt, "%s%sOS[%%d]", e->ctx, kind);
  einc__emit_val(v->eos, sizeof v->eos, v->os, fmt, j);
}

/* Fill the context at entry: loop lengths and strides from a[], s[], o[]. */
void einc__emit_fill_loops(einc__emit *e, const einc_loop *loops, int32_t n, const char *kind) {
  for (int32_t j = 0; j < n; j++) {
    const einc_loop *l = &loops[j];
    int32_t last = l->axes[l->n_axes - 1];
    einc__sbuf_printf(e->c, "  c->%sL[%d] = ", kind, j);
    for (int32_t k = 0; k < l->n_axes; k++)
      einc__sbuf_printf(e->c, "%sa[%d]", k ? " * " : "", l->axes[k]);
    einc__sbuf_printf(e->c, ";\n  c->%sIS[%d] = s[%d];\n  c->%sOS[%d] = o[%d];\n", kind, j, last,
                      kind, j, last);
  }
}

void einc__emit_ctx_struct(einc__emit *e, int32_t n, int32_t nr) {
  const einc_plan *p = e->p;
  bool reduce = p->klass == EINC_PLAN_REDUCE;
  einc__sbuf_printf(e->c, "typedef struct %s__ctx {\n  const %s *in;\n  %s *out;\n", e->name,
                    reduce ? "T_IN" : "T", reduce ? "T_OUT" : "T");
  einc__sbuf_printf(e->c, "  int64_t L[%d], IS[%d], OS[%d];\n  int stream;\n", n ? n : 1, n ? n : 1,
                    n ? n : 1);
  if (reduce)
    einc__sbuf_printf(e->c, "  int64_t RL[%d], RIS[%d], ROS[%d];\n", nr ? nr : 1, nr ? nr : 1,
                      nr ? nr : 1);
  einc__sbuf_printf(e->c, "} %s__ctx;\n\n", e->name);
}

const char *einc__emit_value_type(einc_dtype dt) {
  switch (dt) {
  case EINC_F64:
    return "double";
  case EINC_F32:
    return "float";
  case EINC_BF16:
  case EINC_F16:
    return "uint16_t";
  case EINC_I64:
    return "int64_t";
  default:
    return "uint8_t";
  }
}

void einc__emit_half_conversions(einc_sbuf *out, const char *qual, const char *to_bits,
                                 const char *from_bits) {
  einc__sbuf_printf(out,
                    "/* Conversions with round-to-nearest-even, as the einc interpreter does. */\n"
                    "%s uint32_t einc_gen__bits(float f) { %s }\n"
                    "%s float einc_gen__from_bits(uint32_t x) { %s }\n",
                    qual, to_bits, qual, from_bits);
  einc__sbuf_printf(
      out,
      "%s float einc_gen__bf16_to_f32(uint16_t h) { return einc_gen__from_bits((uint32_t)h << 16); "
      "}\n"
      "%s uint16_t einc_gen__f32_to_bf16(float f) {\n"
      "  uint32_t x = einc_gen__bits(f);\n"
      "  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);\n"
      "  x += 0x7fffu + ((x >> 16) & 1u);\n"
      "  return (uint16_t)(x >> 16);\n"
      "}\n"
      "%s float einc_gen__f16_to_f32(uint16_t h) {\n"
      "  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;\n"
      "  if (e == 0x1f) x = sign | 0x7f800000u | (m << 13);\n"
      "  else if (e) x = sign | ((e + 112u) << 23) | (m << 13);\n"
      "  else if (!m) x = sign;\n"
      "  else {\n"
      "    e = 113;\n"
      "    while (!(m & 0x400u)) { m <<= 1; e--; }\n"
      "    x = sign | (e << 23) | ((m & 0x3ffu) << 13);\n"
      "  }\n"
      "  return einc_gen__from_bits(x);\n"
      "}\n"
      "%s uint16_t einc_gen__f32_to_f16(float f) {\n"
      "  uint32_t x = einc_gen__bits(f);\n"
      "  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);\n"
      "  uint32_t ax = x & 0x7fffffffu;\n"
      "  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);\n"
      "  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);\n"
      "  if (ax < 0x38800000u) {\n"
      "    if (ax < 0x33000000u) return sign;\n"
      "    uint32_t m = (ax & 0x7fffffu) | 0x800000u, shift = 126u - (ax >> 23);\n"
      "    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), hb = 1u << (shift - 1u);\n"
      "    if (rem > hb || (rem == hb && (r & 1u))) r++;\n"
      "    return (uint16_t)(sign | r);\n"
      "  }\n"
      "  uint32_t r = ax - 0x38000000u, hv = r >> 13, rem = r & 0x1fffu;\n"
      "  if (rem > 0x1000u || (rem == 0x1000u && (hv & 1u))) hv++;\n"
      "  return (uint16_t)(sign | hv);\n"
      "}\n\n",
      qual, qual, qual, qual);
}

bool einc__emit_typed_as_reduce(einc__emit *e, einc_plan *scratch) {
  const einc_plan *plan = e->p;
  bool reduce = plan->klass == EINC_PLAN_REDUCE || plan->in_dtype != plan->out_dtype;
  if (reduce && plan->klass != EINC_PLAN_REDUCE) {
    *scratch = *plan;
    scratch->klass = EINC_PLAN_REDUCE;
    e->p = scratch;
  }
  return reduce;
}

void einc__emit_kernel_head(einc__emit *e, const einc_plan *plan, bool reduce) {
  einc__emit_plan_comment(e);
  einc__sbuf_printf(e->c, "/* ---- %s (%s) ---- */\n", e->name, einc_plan_class_name(plan->klass));
  if (reduce)
    einc__sbuf_printf(e->c, "#define T_IN %s\n#define T_OUT %s\n",
                      einc__emit_value_type(plan->in_dtype),
                      einc__emit_value_type(plan->out_dtype));
  else
    einc__sbuf_printf(e->c, "#define T %s\n", einc__emit_raw_type(plan->in_dtype));
  einc__emit_bind(e);
  einc__emit_ctx_struct(e, e->p->n_loops, e->p->n_red_loops);
}

/*
 * Text for people: an error with the pattern and a caret under the offending characters, and a
 * plan as `einc explain` prints it. Both go through the string builder.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Append the pattern for display (control and invalid bytes escaped) and return the display
 * columns of byte offsets `a` and `b`. */
static void einc__append_display(einc_sbuf *sb, const char *s, size_t n, size_t a, size_t b,
                                 size_t *col_a, size_t *col_b) {
  size_t col = 0;
  *col_a = *col_b = SIZE_MAX;
  for (size_t i = 0; i <= n;) {
    if (i >= a && *col_a == SIZE_MAX) *col_a = col;
    if (i >= b && *col_b == SIZE_MAX) *col_b = col;
    if (i == n) break;
    uint32_t cp;
    int len = einc__utf8_decode((const unsigned char *)s + i, n - i, &cp);
    if (len == 0 || cp < 0x20 || cp == 0x7F) {
      unsigned char c = (unsigned char)s[i];
      if (c == '\t')
        einc__sbuf_puts(sb, "\\t"), col += 2;
      else if (c == '\n')
        einc__sbuf_puts(sb, "\\n"), col += 2;
      else
        einc__sbuf_printf(sb, "\\x%02x", c), col += 4;
      i += 1;
      continue;
    }
    einc__sbuf_append(sb, s + i, (size_t)len);
    col += 1;
    i += (size_t)len;
  }
}

char *einc_error_format(const einc_error *err, const char *pattern, size_t pattern_len) {
  einc_sbuf sb;
  einc__sbuf_init(&sb);
  einc__sbuf_printf(&sb, "error[%s]: ", einc_error_key(err->kind));
  /* continuation lines of the message are indented under the first */
  for (const char *m = err->message; *m; m++) {
    if (*m == '\n')
      einc__sbuf_puts(&sb, "\n  ");
    else
      einc__sbuf_append(&sb, m, 1);
  }
  einc__sbuf_puts(&sb, "\n");
  if (pattern && pattern_len <= EINC_MAX_PATTERN) {
    size_t a = err->has_span ? err->span.start : pattern_len;
    size_t b = err->has_span ? err->span.end : pattern_len;
    if (a > pattern_len) a = pattern_len;
    if (b > pattern_len) b = pattern_len;
    if (b < a) b = a;
    size_t ca, cb;
    einc__sbuf_puts(&sb, "  | ");
    einc__append_display(&sb, pattern, pattern_len, a, b, &ca, &cb);
    einc__sbuf_puts(&sb, "\n");
    if (err->has_span) {
      einc__sbuf_puts(&sb, "  | ");
      for (size_t i = 0; i < ca; i++)
        einc__sbuf_puts(&sb, " ");
      size_t width = cb > ca ? cb - ca : 1;
      for (size_t i = 0; i < width; i++)
        einc__sbuf_puts(&sb, "^");
      einc__sbuf_puts(&sb, "\n");
    }
  }
  return einc__sbuf_finish(&sb);
}

static void einc__append_len(einc_sbuf *sb, int64_t v) {
  if (v == EINC_UNKNOWN)
    einc__sbuf_puts(sb, "?");
  else
    einc__sbuf_printf(sb, "%lld", (long long)v);
}

static void einc__append_dims(einc_sbuf *sb, const int64_t *dims, int rank) {
  einc__sbuf_puts(sb, "[");
  for (int d = 0; d < rank; d++) {
    if (d) einc__sbuf_puts(sb, ", ");
    einc__append_len(sb, dims[d]);
  }
  einc__sbuf_puts(sb, "]");
}

static void einc__describe_transform(const einc_plan *p, einc_sbuf *sb) {
  const einc_shape *in = &p->inputs[0];
  einc__sbuf_printf(sb, "  input     %s", einc_dtype_name(p->in_dtype));
  if (in->rank >= 0)
    einc__append_dims(sb, in->dims, in->rank);
  else
    einc__sbuf_puts(sb, "[rank not given]");
  einc__sbuf_puts(sb, "\n");

  einc__sbuf_puts(sb, "  axes      ");
  for (int a = 0; a < p->n_axes; a++) {
    const einc_axis *ax = &p->axes[a];
    if (a) einc__sbuf_puts(sb, "            ");
    /* pad by characters, not bytes: ellipsis names hold a 3-byte U+2026 */
    size_t chars = 0;
    for (const char *c = ax->name; *c; c++)
      chars += ((unsigned char)*c & 0xC0) != 0x80;
    einc__sbuf_puts(sb, ax->name);
    for (size_t k = chars; k < 6; k++)
      einc__sbuf_puts(sb, " ");
    einc__sbuf_puts(sb, " = ");
    if (ax->length != EINC_UNKNOWN)
      einc__sbuf_printf(sb, "%-8lld", (long long)ax->length);
    else if (ax->from_kwarg)
      einc__sbuf_printf(sb, "%-8s", "(kwarg)");
    else if (ax->in_divisor > 1) {
      char tmp[48];
      snprintf(tmp, sizeof tmp, "d%d/%lld", ax->in_dim, (long long)ax->in_divisor);
      einc__sbuf_printf(sb, "%-8s", tmp);
    } else {
      char tmp[48];
      snprintf(tmp, sizeof tmp, "d%d", ax->in_dim);
      einc__sbuf_printf(sb, "%-8s", tmp);
    }
    static const char *const roles[] = {"kept", "reduced", "new"};
    einc__sbuf_printf(sb, " %-8s", roles[ax->role]);
    if (ax->role == EINC_AXIS_NEW)
      einc__sbuf_puts(sb, "stride 0");
    else {
      einc__sbuf_printf(sb, "input dim %d, stride ", ax->in_dim);
      einc__append_len(sb, ax->in_stride);
    }
    einc__sbuf_puts(sb, "\n");
  }
  if (p->n_axes == 0) einc__sbuf_puts(sb, "(none)\n");

  einc__sbuf_puts(sb, "  output    ");
  einc__append_dims(sb, p->out_shape, p->out_rank);
  einc__sbuf_puts(sb, " =");
  for (int j = 0; j < p->out_rank; j++) {
    einc__sbuf_puts(sb, " (");
    for (int k = p->out_group_start[j]; k < p->out_group_start[j + 1]; k++)
      einc__sbuf_printf(sb, "%s%s", k > p->out_group_start[j] ? " " : "",
                        p->axes[p->out_axes[k]].name);
    einc__sbuf_puts(sb, ")");
  }
  einc__sbuf_printf(sb, "  %s\n", einc_dtype_name(p->out_dtype));
  if (p->n_reduced) {
    einc__sbuf_printf(sb, "  reduce    %s over", einc_reduction_name(p->reduction));
    for (int i = 0; i < p->n_reduced; i++)
      einc__sbuf_printf(sb, " %s", p->axes[p->reduced[i]].name);
    einc__sbuf_puts(sb, " (in this order)\n");
  }

  static const char *const what[] = {
      "no data moves: the output is a strided view of the input",
      "a permutation that moves data",
      "a reduction",
      "no data moves: a view with stride-0 (broadcast) axes",
      "new axes merged into dims: the output is materialised",
  };
  einc__sbuf_printf(sb, "  class     %s: %s\n", einc_plan_class_name(p->klass),
                    (unsigned)p->klass < 5 ? what[p->klass] : "");
  if (p->klass == EINC_PLAN_VIEW || p->klass == EINC_PLAN_BROADCAST) {
    einc__sbuf_puts(sb, "  strides   ");
    einc__append_dims(sb, p->view_strides, p->out_rank);
    einc__sbuf_puts(sb, " (elements, over the input)\n");
  }
  einc__sbuf_printf(sb, "  loops     %d after coalescing", p->n_loops);
  for (int l = 0; l < p->n_loops; l++) {
    einc__sbuf_puts(sb, l ? ", [" : ": [");
    einc__append_len(sb, p->loops[l].length);
    einc__sbuf_puts(sb, " : in ");
    einc__append_len(sb, p->loops[l].in_stride);
    einc__sbuf_puts(sb, ", out ");
    einc__append_len(sb, p->loops[l].out_stride);
    einc__sbuf_puts(sb, "]");
  }
  einc__sbuf_puts(sb, "\n");
  if (p->n_red_loops) {
    einc__sbuf_printf(sb, "  reduced   %d loops", p->n_red_loops);
    for (int l = 0; l < p->n_red_loops; l++) {
      einc__sbuf_puts(sb, l ? ", [" : ": [");
      einc__append_len(sb, p->red_loops[l].length);
      einc__sbuf_puts(sb, " : in ");
      einc__append_len(sb, p->red_loops[l].in_stride);
      einc__sbuf_puts(sb, "]");
    }
    einc__sbuf_puts(sb, "\n");
  }
}

char *einc_plan_describe(const einc_plan *self) {
  einc_sbuf sb;
  einc__sbuf_init(&sb);
  const einc_plan *p = self;
  einc__sbuf_printf(&sb, "%s \"%s\"", einc_op_name(p->op), p->pattern);
  if (p->op == EINC_OP_REDUCE && p->reduction != EINC_RED_NONE)
    einc__sbuf_printf(&sb, " (%s)", einc_reduction_name(p->reduction));
  einc__sbuf_puts(&sb, "\n");
  switch (p->op) {
  case EINC_OP_REARRANGE:
  case EINC_OP_REDUCE:
  case EINC_OP_REPEAT:
    einc__describe_transform(p, &sb);
    break;
  case EINC_OP_EINSUM:
    einc__sbuf_printf(&sb, "  compact   %s\n", p->einsum_compact);
    einc__sbuf_puts(&sb, "  axes     ");
    for (int i = 0; i < p->n_einsum_names; i++) {
      einc__sbuf_printf(&sb, " %s=%c:", p->einsum_names[i],
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]);
      einc__append_len(&sb, p->einsum_lengths[i]);
    }
    einc__sbuf_puts(&sb, "\n");
    if (p->outputs[0].rank >= 0) {
      einc__sbuf_puts(&sb, "  output    ");
      einc__append_dims(&sb, p->outputs[0].dims, p->outputs[0].rank);
      einc__sbuf_printf(&sb, " %s\n", einc_dtype_name(p->out_dtype));
    }
    einc__sbuf_puts(&sb, "  class     einsum: a contraction\n");
    break;
  case EINC_OP_PARSE_SHAPE:
    einc__sbuf_puts(&sb, "  parsed    {");
    for (int a = 0; a < p->n_axes; a++) {
      einc__sbuf_printf(&sb, "%s'%s': ", a ? ", " : "", p->axes[a].name);
      einc__append_len(&sb, p->axes[a].length);
    }
    einc__sbuf_puts(&sb, "}\n");
    break;
  case EINC_OP_PACK:
  case EINC_OP_UNPACK:
    einc__sbuf_printf(&sb, "  axes      %d before *, %d after\n", p->n_before, p->n_after);
    for (int i = 0; i < p->n_outputs; i++) {
      if (p->outputs[i].rank < 0) continue;
      einc__sbuf_printf(&sb, "  output %-2d ", i);
      einc__append_dims(&sb, p->outputs[i].dims, p->outputs[i].rank);
      if (p->op == EINC_OP_UNPACK)
        einc__sbuf_printf(&sb, "  from [%lld, %lld) of the packed dim",
                          (long long)p->packed_offset[i],
                          (long long)(p->packed_offset[i] + p->packed_len[i]));
      einc__sbuf_puts(&sb, "\n");
    }
    einc__sbuf_printf(&sb, "  class     %s\n", einc_plan_class_name(p->klass));
    break;
  }
  if (p->warnings[0]) {
    einc__sbuf_puts(&sb, "  warnings  ");
    for (const char *w = p->warnings; *w; w++) {
      einc__sbuf_append(&sb, w, 1);
      if (*w == '\n' && w[1]) einc__sbuf_puts(&sb, "            ");
    }
  }
  return einc__sbuf_finish(&sb);
}

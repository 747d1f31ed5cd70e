/*
 * A small image/attention pipeline written with einc's run-time pattern API (einops for C):
 * a batch of images NCHW -> NHWC, a 2x2 mean-pool, a 2x nearest upsample (repeat), and a head
 * split / merge of token features. It prints a checksum and a few values of every result.
 *
 * `einc lint --fix image_ops.c` turns every call into a call of a function generated at build
 * time (see CMakeLists.txt): the program then prints the same numbers, and the binary holds
 * neither the pattern strings nor einc's pattern compiler.
 */
#include <stdio.h>
#include <stdlib.h>

#include "einc/einc_rt.h"

#define BATCH    4
#define CHANNELS 3
#define SIZE     32
#define TOKENS   16
#define HEADS    8
#define HEAD_DIM 16

static const char NHWC[] = "b c h w -> b h w c";

static double checksum(const float *x, long n) {
  double s = 0.0;
  for (long i = 0; i < n; i++)
    s += (double)x[i] * (double)((i % 97) + 1);
  return s;
}

static void report(const char *what, const float *x, long n) {
  printf("%-8s n=%-6ld checksum=%.6e  [%g %g %g ... %g]\n", what, n, checksum(x, n), x[0], x[1],
         x[2], x[n - 1]);
}

static int check(int status, const char *what) {
  if (status != EINC_RT_OK) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, einc_rt_status_message(status),
            einc_rt_last_error());
    exit(1);
  }
  return status;
}

int main(void) {
  enum { N_IMG = BATCH * CHANNELS * SIZE * SIZE, N_TOK = BATCH * TOKENS * HEADS * HEAD_DIM };
  float *img = malloc(sizeof(float) * N_IMG), *nhwc = malloc(sizeof(float) * N_IMG);
  float *pooled = malloc(sizeof(float) * N_IMG / 4), *up = malloc(sizeof(float) * N_IMG);
  float *tok = malloc(sizeof(float) * N_TOK), *heads = malloc(sizeof(float) * N_TOK);
  float *merged = malloc(sizeof(float) * N_TOK);
  if (!img || !nhwc || !pooled || !up || !tok || !heads || !merged) return 1;
  for (long i = 0; i < N_IMG; i++)
    img[i] = (float)((i * 37) % 251) / 16.0f;
  for (long i = 0; i < N_TOK; i++)
    tok[i] = (float)((i * 11) % 101) - 50.0f;

  const int64_t img_shape[4] = {BATCH, CHANNELS, SIZE, SIZE};
  check(einc_rt_rearrange(NHWC, EINC_RT_F32, img, 4, img_shape, nhwc, NULL), "nchw->nhwc");
  report("nhwc", nhwc, N_IMG);

  check(einc_rt_reduce("b c (h 2) (w 2) -> b c h w", "mean", EINC_RT_F32, img, 4, img_shape, pooled,
                       NULL),
        "mean-pool");
  report("pooled", pooled, N_IMG / 4);

  const int64_t pooled_shape[4] = {BATCH, CHANNELS, SIZE / 2, SIZE / 2};
  check(
      einc_rt_repeat("b c h w -> b c (h 2) (w 2)", EINC_RT_F32, pooled, 4, pooled_shape, up, NULL),
      "upsample");
  report("up", up, N_IMG);

  const int64_t tok_shape[3] = {BATCH, TOKENS, HEADS * HEAD_DIM};
  check(einc_rt_rearrange("b n (h d) -> b h n d", EINC_RT_F32, tok, 3, tok_shape, heads,
                          EINC_RT_SIZES({"h", HEADS})),
        "head split");
  report("heads", heads, N_TOK);

  const int64_t heads_shape[4] = {BATCH, HEADS, TOKENS, HEAD_DIM};
  check(einc_rt_rearrange("b h n d -> b n (h d)", EINC_RT_F32, heads, 4, heads_shape, merged, NULL),
        "head merge");
  report("merged", merged, N_TOK);

  int same = 1;
  for (long i = 0; i < N_TOK; i++)
    same &= merged[i] == tok[i];
  printf("merge(split(x)) == x: %s\n", same ? "yes" : "no");

  free(img);
  free(nhwc);
  free(pooled);
  free(up);
  free(tok);
  free(heads);
  free(merged);
  return same ? 0 : 1;
}

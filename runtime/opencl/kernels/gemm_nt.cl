/*
 * out[m, n] = sum_k x[m, k] * w[n, k] for OpenCL devices without a vendor GEMM, accumulating in
 * float. dtype.cl is prepended.
 *
 * einc_gemm_nt: a work-group computes an EINC_TILE x EINC_TILE block of out, staging x and w
 * through local memory EINC_TK columns of k at a time; each work-item keeps an EINC_WPT x
 * EINC_WPT block of outputs in registers (rows tr + i * R, columns tc + j * R, R = TILE / WPT), so
 * every value read from local memory feeds WPT multiply-adds. Local size (R, R).
 *
 * einc_gemv_nt: few rows (m <= EINC_GEMV_ROWS, decode): one work-group of EINC_GEMV_LOCAL per
 * output column; the work-items stride through k together (reading w's row contiguously) and
 * the group reduces the partial sums. Local size (EINC_GEMV_LOCAL, 1).
 */

#define EINC_R (EINC_TILE / EINC_WPT)

__kernel __attribute__((reqd_work_group_size(EINC_R, EINC_R, 1)))
void einc_gemm_nt(__global const act_t *x, long x_off, long ldx,
                  __global const act_t *w, long w_off, long ldw,
                  __global act_t *out, long out_off, long ldo,
                  int m, int n, int k) {
  __local float xs[EINC_TILE][EINC_TK + 1];
  __local float ws[EINC_TILE][EINC_TK + 1];
  const int tc = get_local_id(0), tr = get_local_id(1);
  const int lin = tr * EINC_R + tc; /* this work-item's index in the group */
  const int m0 = get_group_id(1) * EINC_TILE, n0 = get_group_id(0) * EINC_TILE;
  float acc[EINC_WPT][EINC_WPT];
  for (int i = 0; i < EINC_WPT; i++)
    for (int j = 0; j < EINC_WPT; j++) acc[i][j] = 0.0f;
  for (int k0 = 0; k0 < k; k0 += EINC_TK) {
    /* Stage x[m0 .. +TILE, k0 .. +TK] and w[n0 .. +TILE, k0 .. +TK], zero past the edges. */
    for (int e = lin; e < EINC_TILE * EINC_TK; e += EINC_R * EINC_R) {
      const int row = e / EINC_TK, col = e % EINC_TK, gk = k0 + col;
      const int gm = m0 + row, gn = n0 + row;
      xs[row][col] = gm < m && gk < k ? LOAD(x, x_off + gm * ldx + gk) : 0.0f;
      ws[row][col] = gn < n && gk < k ? LOAD(w, w_off + gn * ldw + gk) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < EINC_TK; kk++) {
      float a[EINC_WPT], b[EINC_WPT];
      for (int i = 0; i < EINC_WPT; i++) a[i] = xs[tr + i * EINC_R][kk];
      for (int j = 0; j < EINC_WPT; j++) b[j] = ws[tc + j * EINC_R][kk];
      for (int i = 0; i < EINC_WPT; i++)
        for (int j = 0; j < EINC_WPT; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int i = 0; i < EINC_WPT; i++) {
    const int gm = m0 + tr + i * EINC_R;
    for (int j = 0; j < EINC_WPT; j++) {
      const int gn = n0 + tc + j * EINC_R;
      if (gm < m && gn < n) STORE(out, out_off + gm * ldo + gn, acc[i][j]);
    }
  }
}

__kernel __attribute__((reqd_work_group_size(EINC_GEMV_LOCAL, 1, 1)))
void einc_gemv_nt(__global const act_t *x, long x_off, long ldx,
                  __global const act_t *w, long w_off, long ldw,
                  __global act_t *out, long out_off, long ldo,
                  int m, int n, int k) {
  __local float part[EINC_GEMV_ROWS][EINC_GEMV_LOCAL];
  const int lid = get_local_id(0);
  const long col = get_group_id(0);
  float acc[EINC_GEMV_ROWS];
  for (int r = 0; r < EINC_GEMV_ROWS; r++) acc[r] = 0.0f;
  for (int i = lid; i < k; i += EINC_GEMV_LOCAL) {
    const float wv = LOAD(w, w_off + col * ldw + i);
    for (int r = 0; r < EINC_GEMV_ROWS; r++)
      if (r < m) acc[r] = mad(LOAD(x, x_off + r * ldx + i), wv, acc[r]);
  }
  for (int r = 0; r < EINC_GEMV_ROWS; r++) part[r][lid] = acc[r];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = EINC_GEMV_LOCAL / 2; s > 0; s >>= 1) {
    if (lid < s)
      for (int r = 0; r < EINC_GEMV_ROWS; r++) part[r][lid] += part[r][lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid < m) STORE(out, out_off + lid * ldo + col, part[lid][0]);
}

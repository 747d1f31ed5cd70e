/*
 * out[m, n] = sum_k x[m, k] * w[n, k] for OpenCL devices without a vendor GEMM: tiles of
 * EINC_TILE x EINC_TILE outputs per work-group, staged through local memory in steps of
 * EINC_TILE along k, each work-item accumulating EINC_WPT outputs of one column block in float.
 * Local size (EINC_TILE, EINC_TILE / EINC_WPT). dtype.cl is prepended.
 */

__kernel __attribute__((reqd_work_group_size(EINC_TILE, EINC_TILE / EINC_WPT, 1)))
void einc_gemm_nt(__global const act_t *x, long x_off, long ldx,
                  __global const act_t *w, long w_off, long ldw,
                  __global act_t *out, long out_off, long ldo,
                  int m, int n, int k) {
  __local float xs[EINC_TILE][EINC_TILE + 1];
  __local float ws[EINC_TILE][EINC_TILE + 1];
  const int tc = get_local_id(0);           /* column within the tile (n) */
  const int tr = get_local_id(1);           /* row block within the tile (m) */
  const int rows = EINC_TILE / EINC_WPT;    /* work-items along m */
  const int m0 = get_group_id(1) * EINC_TILE, n0 = get_group_id(0) * EINC_TILE;
  float acc[EINC_WPT];
  for (int r = 0; r < EINC_WPT; r++) acc[r] = 0.0f;
  for (int k0 = 0; k0 < k; k0 += EINC_TILE) {
    /* Stage x[m0 .. +TILE, k0 .. +TILE] and w[n0 .. +TILE, k0 .. +TILE], zero past the edges. */
    for (int r = 0; r < EINC_WPT; r++) {
      const int row = tr + r * rows;
      const int gm = m0 + row, gn = n0 + row, gk = k0 + tc;
      xs[row][tc] = gm < m && gk < k ? LOAD(x, x_off + gm * ldx + gk) : 0.0f;
      ws[row][tc] = gn < n && gk < k ? LOAD(w, w_off + gn * ldw + gk) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < EINC_TILE; kk++) {
      const float wv = ws[tc][kk];
      for (int r = 0; r < EINC_WPT; r++) acc[r] += xs[tr + r * rows][kk] * wv;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const int gn = n0 + tc;
  for (int r = 0; r < EINC_WPT; r++) {
    const int gm = m0 + tr + r * rows;
    if (gm < m && gn < n) STORE(out, out_off + gm * ldo + gn, acc[r]);
  }
}

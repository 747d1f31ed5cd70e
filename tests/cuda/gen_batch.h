/*
 * The generated-CUDA corpus tests emit many kernels into a few .cu files ("batches"): each is a
 * header part (the prelude, then every launcher declared with C linkage) and a source part.
 */
#ifndef EINC_GEN_BATCH_H
#define EINC_GEN_BATCH_H

#include "gen.h"

static inline void gen_batches_begin(einc_sbuf *h, einc_sbuf *cu, int n) {
  for (int f = 0; f < n; f++) {
    einc__sbuf_init(&h[f]);
    einc__sbuf_init(&cu[f]);
    einc__emit_cuda_prelude_header(&h[f]);
    einc__sbuf_printf(&h[f], "#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
    einc__emit_cuda_prelude_source(&cu[f]);
  }
}

#endif /* EINC_GEN_BATCH_H */

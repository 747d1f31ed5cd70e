/*
 * Executors the conformance runner can use besides the interpreter. An executor runs a bound
 * plan on the case's inputs; it returns 0 when it wrote the outputs, > 0 when it does not handle
 * this plan (the case is skipped), < 0 on failure (with `why` filled).
 */
#ifndef EINC_CLI_CONFORMANCE_H
#define EINC_CLI_CONFORMANCE_H

#include "einc/einc.h"

typedef int (*einc_conformance_via)(const einc_plan *plan, const void *const *ins,
                                    void *const *outs, char *why, size_t why_size);

/* Generated C compiled on the fly (defined by the code generator when it is built). */
int einc__conformance_via_c(const einc_plan *plan, const void *const *ins, void *const *outs,
                            char *why, size_t why_size) __attribute__((weak));

#endif

/*
 * Names and messages: status codes, error kinds, ops, reductions, dtypes and plan classes, all
 * from the tables in einc.h so that one list is the truth.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static einc_allocator einc__allocator = {malloc, calloc, realloc, free};

void einc_set_allocator(const einc_allocator *allocator) {
  einc_allocator libc = {malloc, calloc, realloc, free};
  einc__allocator = allocator ? *allocator : libc;
}

void *einc__malloc(size_t size) {
  return einc__allocator.malloc(size);
}

void *einc__calloc(size_t count, size_t size) {
  return einc__allocator.calloc(count, size);
}

void *einc__realloc(void *ptr, size_t size) {
  return einc__allocator.realloc(ptr, size);
}

void einc__free(void *ptr) {
  einc__allocator.free(ptr);
}

void einc_free(void *ptr) {
  einc__allocator.free(ptr);
}

const char *einc_status_message(int status) {
  switch (status) {
#define EINC__STATUS_MSG(name, value, msg)                                                         \
  case value:                                                                                      \
    return msg;
    EINC_STATUS_TABLE(EINC__STATUS_MSG)
#undef EINC__STATUS_MSG
  }
  return "unknown status";
}

const char *einc_status_name(int status) {
  switch (status) {
#define EINC__STATUS_NAME(name, value, msg)                                                        \
  case value:                                                                                      \
    return "EINC_" #name;
    EINC_STATUS_TABLE(EINC__STATUS_NAME)
#undef EINC__STATUS_NAME
  }
  return "EINC_UNKNOWN";
}

static const char *const einc__error_keys[] = {
#define EINC__ERROR_KEY(name, key, stage) key,
    EINC_ERROR_TABLE(EINC__ERROR_KEY)
#undef EINC__ERROR_KEY
};

static const char *const einc__error_stages[] = {
#define EINC__ERROR_STAGE(name, key, stage) stage,
    EINC_ERROR_TABLE(EINC__ERROR_STAGE)
#undef EINC__ERROR_STAGE
};

const char *einc_error_key(einc_error_kind kind) {
  return (unsigned)kind < EINC_ERR__COUNT ? einc__error_keys[kind] : "unknown";
}

const char *einc_error_stage(einc_error_kind kind) {
  return (unsigned)kind < EINC_ERR__COUNT ? einc__error_stages[kind] : "unknown";
}

int einc__status_for(einc_error_kind kind) {
  const char *stage = einc_error_stage(kind);
  if (kind == EINC_ERR_NONE) return EINC_ENOMEM; /* the only failure without an error kind */
  if (kind == EINC_ERR_SIZE_OVERFLOW) return EINC_ELIMIT;
  if (kind == EINC_ERR_PATTERN_TOO_LONG || kind == EINC_ERR_TOO_MANY_AXES ||
      kind == EINC_ERR_ANON_TOO_LARGE || kind == EINC_ERR_EINSUM_TOO_MANY_AXES)
    return EINC_ELIMIT;
  if (!strcmp(stage, "dtype")) return EINC_EDTYPE;
  if (!strcmp(stage, "ndim") || !strcmp(stage, "shape")) return EINC_ESHAPE;
  return EINC_EPATTERN;
}

int einc__fail(einc_error *err, einc_error_kind kind, einc_span span, bool has_span,
               const char *fmt, ...) {
  if (err) {
    err->kind = kind;
    err->span = span;
    err->has_span = has_span;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return einc__status_for(kind);
}

static const char *const einc__op_names[] = {"rearrange", "reduce", "repeat",     "einsum",
                                             "pack",      "unpack", "parse_shape"};
static const char *const einc__reduction_names[] = {"none", "sum",  "mean", "max",
                                                    "min",  "prod", "any",  "all"};
static const char *const einc__dtype_names[] = {"float64", "float32", "bfloat16",
                                                "float16", "int64",   "bool"};
static const size_t einc__dtype_sizes[] = {8, 4, 2, 2, 8, 1};
static const char *const einc__class_names[] = {"view",   "copy", "reduce", "broadcast",  "repeat",
                                                "einsum", "pack", "unpack", "parse_shape"};

#define EINC__LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *einc_op_name(einc_op op) {
  return (unsigned)op < EINC__LEN(einc__op_names) ? einc__op_names[op] : NULL;
}

const char *einc_reduction_name(einc_reduction r) {
  return (unsigned)r < EINC__LEN(einc__reduction_names) ? einc__reduction_names[r] : NULL;
}

const char *einc_dtype_name(einc_dtype dt) {
  return (unsigned)dt < EINC__LEN(einc__dtype_names) ? einc__dtype_names[dt] : NULL;
}

size_t einc_dtype_size(einc_dtype dt) {
  return (unsigned)dt < EINC__LEN(einc__dtype_sizes) ? einc__dtype_sizes[dt] : 0;
}

const char *einc_plan_class_name(einc_plan_class c) {
  return (unsigned)c < EINC__LEN(einc__class_names) ? einc__class_names[c] : "unknown";
}

bool einc_op_from_name(const char *name, einc_op *out) {
  for (size_t i = 0; i < EINC__LEN(einc__op_names); i++)
    if (!strcmp(name, einc__op_names[i])) return *out = (einc_op)i, true;
  return false;
}

bool einc_dtype_from_name(const char *name, einc_dtype *out) {
  for (size_t i = 0; i < EINC__LEN(einc__dtype_names); i++)
    if (!strcmp(name, einc__dtype_names[i])) return *out = (einc_dtype)i, true;
  return false;
}

/*
 * The run-time pattern API (einc_rt.h, Section 5): einops for C. A call is keyed like einops'
 * recipe cache (op, pattern, reduction, axis names and sizes, dtype, input shape); the key is
 * hashed in place, without allocating, and looked up in a sharded cache (16 shards, each a small
 * chained hash table behind its own mutex, 64 plans each, least recently used evicted). A hit
 * takes a reference on the cached plan so that an eviction by another thread cannot free it
 * while it runs; the data then moves through the pattern compiler's interpreter.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "einc/einc.h"
#include "einc/einc_rt.h"

#define API__SHARDS    16
#define API__SHARD_CAP 64
#define API__BUCKETS   128
#define API__MAX_SIZES 16

typedef struct api__plan_ref {
  atomic_int refs;
  einc_plan *plan;
} api__plan_ref;

typedef struct api__entry {
  uint64_t hash;
  uint64_t stamp; /* shard clock at the last use: the smallest is evicted */
  int32_t next;   /* next entry in the bucket chain, -1 at the end */
  bool used;
  /* the key */
  int32_t op, dtype, rank, n_sizes;
  int64_t shape[EINC_MAX_RANK];
  int64_t size_values[API__MAX_SIZES];
  char *strings; /* pattern \0 reduction \0 name \0 name \0 ... (one allocation) */
  api__plan_ref *ref;
} api__entry;

typedef struct api__shard {
  pthread_mutex_t lock;
  uint64_t clock;
  int32_t buckets[API__BUCKETS];
  api__entry entries[API__SHARD_CAP];
  uint64_t hits, misses, evictions;
} api__shard;

static api__shard api__cache[API__SHARDS];
static pthread_once_t api__once = PTHREAD_ONCE_INIT;

static void api__init(void) {
  for (int s = 0; s < API__SHARDS; s++) {
    pthread_mutex_init(&api__cache[s].lock, NULL);
    for (int b = 0; b < API__BUCKETS; b++)
      api__cache[s].buckets[b] = -1;
  }
}

/* The call's key, pointing at the caller's strings. */
typedef struct api__key {
  int32_t op, dtype, rank, n_sizes;
  const char *pattern, *reduction;
  const int64_t *shape;
  const einc_rt_axis_size *sizes;
  uint64_t hash;
} api__key;

static inline uint64_t api__mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

static inline uint64_t api__hash_str(uint64_t h, const char *s) {
  /* Eight bytes at a time would read past the string; one at a time is short for patterns. */
  uint64_t x = 1469598103934665603ull;
  for (; *s; s++)
    x = (x ^ (unsigned char)*s) * 1099511628211ull;
  return api__mix(h, x);
}

static int api__make_key(api__key *k, einc_rt_pattern_op op, const char *pattern,
                         const char *reduction, einc_rt_dtype dtype, int32_t rank,
                         const int64_t *shape, const einc_rt_axis_size *sizes) {
  if (!pattern || rank < 0 || rank > EINC_MAX_RANK || (rank > 0 && !shape))
    return einc_rt__fail(EINC_RT_EINVAL, "pattern is NULL, or rank %d is not in 0..%d", rank,
                         EINC_MAX_RANK);
  if (op == EINC_RT_PATTERN_REDUCE && !reduction)
    return einc_rt__fail(EINC_RT_EINVAL, "reduce needs a reduction name");
  if ((int)dtype < EINC_RT_F32 || (int)dtype > EINC_RT_F16)
    return einc_rt__fail(EINC_RT_EDTYPE, "unknown dtype %d", (int)dtype);
  k->op = op;
  k->dtype = dtype;
  k->rank = rank;
  k->pattern = pattern;
  k->reduction = op == EINC_RT_PATTERN_REDUCE ? reduction : "";
  k->shape = shape;
  k->sizes = sizes;
  k->n_sizes = 0;
  uint64_t h = api__mix((uint64_t)op * 31u + (uint64_t)dtype, (uint64_t)rank);
  h = api__hash_str(h, pattern);
  h = api__hash_str(h, k->reduction);
  for (int32_t d = 0; d < rank; d++)
    h = api__mix(h, (uint64_t)shape[d]);
  if (sizes) {
    for (; sizes[k->n_sizes].name; k->n_sizes++) {
      if (k->n_sizes == API__MAX_SIZES)
        return einc_rt__fail(EINC_RT_EINVAL, "more than %d axis sizes", API__MAX_SIZES);
      h = api__hash_str(h, sizes[k->n_sizes].name);
      h = api__mix(h, (uint64_t)sizes[k->n_sizes].value);
    }
  }
  k->hash = h;
  return EINC_RT_OK;
}

static bool api__key_equal(const api__entry *e, const api__key *k) {
  if (e->hash != k->hash || e->op != k->op || e->dtype != k->dtype || e->rank != k->rank ||
      e->n_sizes != k->n_sizes)
    return false;
  for (int32_t d = 0; d < k->rank; d++)
    if (e->shape[d] != k->shape[d]) return false;
  for (int32_t i = 0; i < k->n_sizes; i++)
    if (e->size_values[i] != k->sizes[i].value) return false;
  const char *s = e->strings;
  if (strcmp(s, k->pattern) != 0) return false;
  s += strlen(s) + 1;
  if (strcmp(s, k->reduction) != 0) return false;
  s += strlen(s) + 1;
  for (int32_t i = 0; i < k->n_sizes; i++) {
    if (strcmp(s, k->sizes[i].name) != 0) return false;
    s += strlen(s) + 1;
  }
  return true;
}

static void api__ref_release(api__plan_ref *ref) {
  if (ref && atomic_fetch_sub_explicit(&ref->refs, 1, memory_order_acq_rel) == 1) {
    einc_plan_delete(ref->plan);
    free(ref);
  }
}

static einc_dtype api__dtype(int32_t dt) {
  switch (dt) {
  case EINC_RT_BF16:
    return EINC_BF16;
  case EINC_RT_F16:
    return EINC_F16;
  default:
    return EINC_F32;
  }
}

static int api__status(int s) {
  switch (s) {
  case EINC_EPATTERN:
    return EINC_RT_EPATTERN;
  case EINC_ESHAPE:
    return EINC_RT_ESHAPE;
  case EINC_EDTYPE:
    return EINC_RT_EDTYPE;
  case EINC_ENOMEM:
    return EINC_RT_ENOMEM;
  case EINC_EUNSUPPORTED:
    return EINC_RT_EUNSUPPORTED;
  default:
    return EINC_RT_EINVAL;
  }
}

/* Compile the key's plan (outside any lock). */
static int api__compile(const api__key *k, api__plan_ref **out) {
  static const einc_op ops[] = {EINC_OP_REARRANGE, EINC_OP_REDUCE, EINC_OP_REPEAT};
  einc_shape shape;
  shape.rank = k->rank;
  for (int32_t d = 0; d < k->rank; d++)
    shape.dims[d] = k->shape[d];
  einc_kwarg kwargs[API__MAX_SIZES];
  for (int32_t i = 0; i < k->n_sizes; i++) {
    kwargs[i].name = k->sizes[i].name;
    kwargs[i].value = k->sizes[i].value;
  }
  einc_spec spec = {
      .op = ops[k->op],
      .pattern = k->pattern,
      .pattern_len = strlen(k->pattern),
      .reduction_name = k->op == EINC_RT_PATTERN_REDUCE ? k->reduction : NULL,
      .reduction = EINC_RED_NONE,
      .dtype = api__dtype(k->dtype),
      .n_inputs = 1,
      .inputs = &shape,
      .n_kwargs = k->n_sizes,
      .kwargs = kwargs,
  };
  einc_plan *plan = NULL;
  einc_error err = {0};
  int s = einc_plan_new(&spec, &plan, &err);
  if (s != EINC_OK) {
    int rs = api__status(s);
    if (s == EINC_EPATTERN && strcmp(einc_error_stage(err.kind), "shape") == 0) rs = EINC_RT_ESHAPE;
    if (strcmp(einc_error_stage(err.kind), "ndim") == 0) rs = EINC_RT_ESHAPE;
    return einc_rt__fail(rs, "%s: %s", einc_error_key(err.kind), err.message);
  }
  if (!einc_plan_is_bound(plan)) {
    einc_plan_delete(plan);
    return einc_rt__fail(EINC_RT_ESHAPE, "the input shape does not bind every axis");
  }
  api__plan_ref *ref = malloc(sizeof *ref);
  if (!ref) {
    einc_plan_delete(plan);
    return einc_rt__fail(EINC_RT_ENOMEM, "out of memory");
  }
  atomic_init(&ref->refs, 1);
  ref->plan = plan;
  *out = ref;
  return EINC_RT_OK;
}

/* Fill a cache entry's key; false when out of memory. */
static bool api__entry_set_key(api__entry *e, const api__key *k) {
  size_t n = strlen(k->pattern) + strlen(k->reduction) + 2;
  for (int32_t i = 0; i < k->n_sizes; i++)
    n += strlen(k->sizes[i].name) + 1;
  char *s = malloc(n);
  if (!s) return false;
  e->strings = s;
  size_t l = strlen(k->pattern) + 1;
  memcpy(s, k->pattern, l);
  s += l;
  l = strlen(k->reduction) + 1;
  memcpy(s, k->reduction, l);
  s += l;
  for (int32_t i = 0; i < k->n_sizes; i++) {
    l = strlen(k->sizes[i].name) + 1;
    memcpy(s, k->sizes[i].name, l);
    s += l;
    e->size_values[i] = k->sizes[i].value;
  }
  e->hash = k->hash;
  e->op = k->op;
  e->dtype = k->dtype;
  e->rank = k->rank;
  e->n_sizes = k->n_sizes;
  for (int32_t d = 0; d < k->rank; d++)
    e->shape[d] = k->shape[d];
  return true;
}

static void api__unlink(api__shard *sh, int32_t idx) {
  int32_t *p = &sh->buckets[(sh->entries[idx].hash >> 8) % API__BUCKETS];
  while (*p != idx)
    p = &sh->entries[*p].next;
  *p = sh->entries[idx].next;
}

/* The cached plan of the key, referenced and marked used; NULL when absent. */
static api__plan_ref *api__find_locked(api__shard *sh, int32_t b, const api__key *k) {
  for (int32_t i = sh->buckets[b]; i >= 0; i = sh->entries[i].next) {
    api__entry *e = &sh->entries[i];
    if (api__key_equal(e, k)) {
      e->stamp = ++sh->clock;
      atomic_fetch_add_explicit(&e->ref->refs, 1, memory_order_relaxed);
      return e->ref;
    }
  }
  return NULL;
}

/* A referenced plan for the key: from the cache, or compiled and inserted. */
static int api__lookup(const api__key *k, api__plan_ref **out) {
  pthread_once(&api__once, api__init);
  api__shard *sh = &api__cache[k->hash % API__SHARDS];
  int32_t b = (int32_t)((k->hash >> 8) % API__BUCKETS);

  pthread_mutex_lock(&sh->lock);
  if ((*out = api__find_locked(sh, b, k)) != NULL) {
    sh->hits++;
    pthread_mutex_unlock(&sh->lock);
    return EINC_RT_OK;
  }
  sh->misses++;
  pthread_mutex_unlock(&sh->lock);

  api__plan_ref *ref = NULL;
  int s = api__compile(k, &ref);
  if (s != EINC_RT_OK) return s;

  pthread_mutex_lock(&sh->lock);
  /* Another thread may have inserted the same key meanwhile: then use (and keep) that one. */
  if ((*out = api__find_locked(sh, b, k)) != NULL) {
    pthread_mutex_unlock(&sh->lock);
    api__ref_release(ref);
    return EINC_RT_OK;
  }
  int32_t slot = -1;
  uint64_t oldest = UINT64_MAX;
  for (int32_t i = 0; i < API__SHARD_CAP; i++) {
    if (!sh->entries[i].used) {
      slot = i;
      break;
    }
    if (sh->entries[i].stamp < oldest) {
      oldest = sh->entries[i].stamp;
      slot = i;
    }
  }
  api__entry *e = &sh->entries[slot];
  api__plan_ref *evicted = NULL;
  char *evicted_strings = NULL;
  if (e->used) {
    api__unlink(sh, slot);
    evicted = e->ref;
    evicted_strings = e->strings;
    e->used = false;
    sh->evictions++;
  }
  if (api__entry_set_key(e, k)) {
    e->ref = ref;
    e->used = true;
    e->stamp = ++sh->clock;
    e->next = sh->buckets[b];
    sh->buckets[b] = slot;
    atomic_fetch_add_explicit(&ref->refs, 1, memory_order_relaxed); /* the cache's reference */
  }
  pthread_mutex_unlock(&sh->lock);
  free(evicted_strings);
  api__ref_release(evicted);
  *out = ref; /* uncached when the key could not be stored: still correct, just not reused */
  return EINC_RT_OK;
}

/* A view whose output keeps the input's element order: the copy is one memcpy. */
static bool api__same_order(const einc_plan *p) {
  return p->klass == EINC_PLAN_VIEW &&
         (p->n_loops == 0 || (p->n_loops == 1 && p->loops[0].in_stride == 1));
}

static int api__run(einc_rt_pattern_op op, const char *pattern, const char *reduction,
                    einc_rt_dtype dtype, const void *in, int32_t rank, const int64_t *shape,
                    void *out, const einc_rt_axis_size *sizes) {
  api__key k;
  int s = api__make_key(&k, op, pattern, reduction, dtype, rank, shape, sizes);
  if (s != EINC_RT_OK) return s;
  api__plan_ref *ref = NULL;
  if ((s = api__lookup(&k, &ref)) != EINC_RT_OK) return s;
  const einc_plan *p = ref->plan;
  int64_t n_out = einc_plan_out_numel(p, 0);
  int64_t n_in = 1;
  for (int32_t d = 0; d < rank; d++)
    n_in *= shape[d];
  if ((n_out > 0 && !out) || (n_in > 0 && !in)) {
    s = einc_rt__fail(EINC_RT_EINVAL, "input or output buffer is NULL");
  } else if (api__same_order(p)) {
    if (out != in && n_out > 0) memcpy(out, in, (size_t)n_out * einc_dtype_size(p->out_dtype));
  } else if (out == in && n_out > 0) {
    s = einc_rt__fail(EINC_RT_EINVAL, "in and out may be the same buffer only for a view");
  } else if (n_out > 0) {
    const void *ins[1] = {in};
    void *outs[1] = {out};
    int es = einc_plan_execute(p, ins, outs);
    if (es != EINC_OK) s = einc_rt__fail(api__status(es), "%s", einc_status_message(es));
  }
  api__ref_release(ref);
  return s;
}

int einc_rt_rearrange(const char *pattern, einc_rt_dtype dtype, const void *in, int32_t rank,
                      const int64_t *shape, void *out, const einc_rt_axis_size *sizes) {
  return api__run(EINC_RT_PATTERN_REARRANGE, pattern, NULL, dtype, in, rank, shape, out, sizes);
}

int einc_rt_reduce(const char *pattern, const char *reduction, einc_rt_dtype dtype, const void *in,
                   int32_t rank, const int64_t *shape, void *out, const einc_rt_axis_size *sizes) {
  return api__run(EINC_RT_PATTERN_REDUCE, pattern, reduction, dtype, in, rank, shape, out, sizes);
}

int einc_rt_repeat(const char *pattern, einc_rt_dtype dtype, const void *in, int32_t rank,
                   const int64_t *shape, void *out, const einc_rt_axis_size *sizes) {
  return api__run(EINC_RT_PATTERN_REPEAT, pattern, NULL, dtype, in, rank, shape, out, sizes);
}

int einc_rt_pattern_shape(einc_rt_pattern_op op, const char *pattern, const char *reduction,
                          einc_rt_dtype dtype, int32_t rank, const int64_t *shape,
                          const einc_rt_axis_size *sizes, int32_t *out_rank, int64_t *out_shape) {
  if (!out_rank || !out_shape) return einc_rt__fail(EINC_RT_EINVAL, "out_rank/out_shape is NULL");
  if ((int)op < EINC_RT_PATTERN_REARRANGE || (int)op > EINC_RT_PATTERN_REPEAT)
    return einc_rt__fail(EINC_RT_EINVAL, "unknown op %d", (int)op);
  api__key k;
  int s = api__make_key(&k, op, pattern, reduction, dtype, rank, shape, sizes);
  if (s != EINC_RT_OK) return s;
  api__plan_ref *ref = NULL;
  if ((s = api__lookup(&k, &ref)) != EINC_RT_OK) return s;
  *out_rank = ref->plan->out_rank;
  for (int32_t d = 0; d < ref->plan->out_rank; d++)
    out_shape[d] = ref->plan->out_shape[d];
  api__ref_release(ref);
  return EINC_RT_OK;
}

void einc_rt_pattern_cache_get_stats(einc_rt_pattern_cache_stats *out) {
  pthread_once(&api__once, api__init);
  memset(out, 0, sizeof *out);
  out->capacity = API__SHARDS * API__SHARD_CAP;
  for (int s = 0; s < API__SHARDS; s++) {
    api__shard *sh = &api__cache[s];
    pthread_mutex_lock(&sh->lock);
    out->hits += sh->hits;
    out->misses += sh->misses;
    out->evictions += sh->evictions;
    for (int i = 0; i < API__SHARD_CAP; i++)
      out->size += sh->entries[i].used;
    pthread_mutex_unlock(&sh->lock);
  }
}

void einc_rt_pattern_cache_clear(void) {
  pthread_once(&api__once, api__init);
  for (int s = 0; s < API__SHARDS; s++) {
    api__shard *sh = &api__cache[s];
    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < API__SHARD_CAP; i++) {
      api__entry *e = &sh->entries[i];
      if (!e->used) continue;
      free(e->strings);
      api__ref_release(e->ref);
      e->used = false;
    }
    for (int b = 0; b < API__BUCKETS; b++)
      sh->buckets[b] = -1;
    sh->hits = sh->misses = sh->evictions = 0;
    pthread_mutex_unlock(&sh->lock);
  }
}

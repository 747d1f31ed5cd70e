/*
 * The CPU backend's threads for its own loops (the norm, the conversions). Work is split into
 * one contiguous range per thread; the caller takes the first range.
 *
 * When oneDNN runs its GEMMs on OpenMP (Debian's build does), the loops run on the same OpenMP
 * team: after a GEMM, libgomp's workers spin for a while before they sleep, and a second set of
 * threads would have to share the cores with those spinning workers (measured: the norm's second
 * half ran up to twice as long, and the projection paid it on every call). On the same team the
 * spinning workers pick the norm up at once. Otherwise (oneDNN on TBB, a threadpool or
 * sequential) the pool is n - 1 pthreads that sleep on a condition variable between jobs.
 */
#include <pthread.h>
#include <stdlib.h>
#ifdef EINC_RT_POOL_OPENMP
#include <omp.h>
#endif

#include "cpu.h"

struct einc_rt__pool {
  int32_t n_threads;
  pthread_t *workers;
  pthread_mutex_t run_mu; /* one job at a time when several threads share a backend */
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  uint64_t generation; /* bumped per job */
  int32_t pending;     /* workers still running the current job */
  bool stop;
  /* the current job */
  einc_rt__pool_fn fn;
  void *ctx;
  int64_t n, chunk;
};

typedef struct einc_rt__worker_arg {
  einc_rt__pool *pool;
  int32_t index;
} einc_rt__worker_arg;

#ifndef EINC_RT_POOL_OPENMP
static void *einc_rt__pool_main(void *arg_) {
  einc_rt__worker_arg *arg = arg_;
  einc_rt__pool *self = arg->pool;
  int32_t index = arg->index;
  free(arg);
  uint64_t seen = 0;
  pthread_mutex_lock(&self->mu);
  for (;;) {
    while (!self->stop && self->generation == seen)
      pthread_cond_wait(&self->wake, &self->mu);
    if (self->stop) break;
    seen = self->generation;
    int64_t begin = self->chunk * index, end = begin + self->chunk;
    if (end > self->n) end = self->n;
    einc_rt__pool_fn fn = self->fn;
    void *ctx = self->ctx;
    pthread_mutex_unlock(&self->mu);
    if (begin < end) fn(ctx, begin, end);
    pthread_mutex_lock(&self->mu);
    if (--self->pending == 0) pthread_cond_signal(&self->done);
  }
  pthread_mutex_unlock(&self->mu);
  return NULL;
}
#endif

int einc_rt__pool_new(int32_t n_threads, einc_rt__pool **out) {
  *out = NULL;
  einc_rt__pool *self = calloc(1, sizeof *self);
  if (!self) return einc_rt__fail(EINC_RT_ENOMEM, "allocating the thread pool");
  if (n_threads < 1) n_threads = 1;
  self->workers = calloc((size_t)n_threads, sizeof *self->workers);
  if (!self->workers) goto fail_self;
  pthread_mutex_init(&self->run_mu, NULL);
  pthread_mutex_init(&self->mu, NULL);
  pthread_cond_init(&self->wake, NULL);
  pthread_cond_init(&self->done, NULL);
  self->n_threads = 1;
#ifdef EINC_RT_POOL_OPENMP
  self->n_threads = n_threads; /* OpenMP's team, started by the first region */
#else
  for (int32_t i = 1; i < n_threads; i++) {
    einc_rt__worker_arg *arg = malloc(sizeof *arg);
    if (!arg) break;
    arg->pool = self;
    arg->index = i;
    if (pthread_create(&self->workers[i], NULL, einc_rt__pool_main, arg) != 0) {
      free(arg);
      break;
    }
    self->n_threads++;
  }
#endif
  *out = self;
  return EINC_RT_OK;
fail_self:
  free(self);
  return einc_rt__fail(EINC_RT_ENOMEM, "allocating the thread pool");
}

void einc_rt__pool_delete(einc_rt__pool *self) {
  if (!self) return;
  pthread_mutex_lock(&self->mu);
  self->stop = true;
  pthread_cond_broadcast(&self->wake);
  pthread_mutex_unlock(&self->mu);
#ifndef EINC_RT_POOL_OPENMP
  for (int32_t i = 1; i < self->n_threads; i++)
    pthread_join(self->workers[i], NULL);
#endif
  pthread_cond_destroy(&self->done);
  pthread_cond_destroy(&self->wake);
  pthread_mutex_destroy(&self->mu);
  pthread_mutex_destroy(&self->run_mu);
  free(self->workers);
  free(self);
}

int32_t einc_rt__pool_size(const einc_rt__pool *self) {
  return self->n_threads;
}

void einc_rt__pool_run(einc_rt__pool *self, int64_t n, int64_t grain, einc_rt__pool_fn fn,
                       void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t parts = (n + grain - 1) / grain;
  if (parts > self->n_threads) parts = self->n_threads;
  if (parts <= 1) {
    fn(ctx, 0, n);
    return;
  }
  int64_t chunk = (n + parts - 1) / parts;
#ifdef EINC_RT_POOL_OPENMP
  /* Always the whole team, the size oneDNN's GEMMs use, even for fewer ranges: a smaller team
   * sends libgomp's other workers to sleep, and the next GEMM waits for them to wake (on a
   * 16-core Xeon the projection took up to 6x its GEMM at 16 tokens). The team may be smaller
   * than asked for (nested regions, OMP_DYNAMIC): threads take the ranges in turn. */
#pragma omp parallel num_threads((int)self->n_threads)
  for (int64_t i = omp_get_thread_num(); i < parts; i += omp_get_num_threads()) {
    int64_t begin = i * chunk, end = begin + chunk < n ? begin + chunk : n;
    if (begin < end) fn(ctx, begin, end);
  }
#else
  pthread_mutex_lock(&self->run_mu);
  pthread_mutex_lock(&self->mu);
  self->fn = fn;
  self->ctx = ctx;
  self->n = n;
  self->chunk = chunk;
  self->pending = self->n_threads - 1;
  self->generation++;
  pthread_cond_broadcast(&self->wake);
  pthread_mutex_unlock(&self->mu);
  fn(ctx, 0, chunk < n ? chunk : n);
  pthread_mutex_lock(&self->mu);
  while (self->pending > 0)
    pthread_cond_wait(&self->done, &self->mu);
  pthread_mutex_unlock(&self->mu);
  pthread_mutex_unlock(&self->run_mu);
#endif
}

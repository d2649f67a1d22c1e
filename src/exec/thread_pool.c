/* The thread-pool executor (cc_executor_*), its batched map, the default
 * pool and cc_to_thread.
 *
 * One mutex `mu` guards the queue (an intrusive list of futures: a future
 * is its own work item) and the worker bookkeeping; idle workers sleep on
 * `work_cv`. Invariants:
 *  - mu is never held while a task, a done callback or a future completion
 *    runs, so tasks and callbacks may submit more work freely;
 *  - a submit signals work_cv only when some idle worker has not already
 *    been signalled (`wakes` counts signals in flight), so a flood of
 *    submissions to busy workers costs no system call;
 *  - under a backlog a worker claims up to `batch` items per trip through
 *    the lock, never more than its fair share (queue length / workers);
 *  - the executor is reference-counted: the handle holds one reference and
 *    every worker thread one, so a handle freed while a worker is stuck in
 *    a task that never ends leaves that worker safe; the last one frees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/executor.h"
#include "concur/thread.h"
#include "exec/future_int.h"

struct cc_executor {
  pthread_mutex_t mu;
  pthread_cond_t work_cv;
  cc_future_t *head, *tail;
  size_t qlen;
  unsigned nthreads; /* worker threads alive */
  unsigned idle;     /* of which waiting on work_cv */
  unsigned wakes;    /* signals sent to idle workers, not yet consumed */
  unsigned max_workers, batch, seq;
  int broken; /* initializer error, 0 if none */
  bool shutdown;
  bool is_default;
  cc__twq_t exit_waiters; /* shutdown(wait): nthreads reaching 0 */
  int (*init)(void *);
  void *initargs;
  char prefix[11];
  atomic_int refs;
};

static _Thread_local cc_executor_t *worker_of;

static void ex_unref(cc_executor_t *ex) {
  if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_cond_destroy(&ex->work_cv);
  pthread_mutex_destroy(&ex->mu);
  free(ex);
}

static unsigned ncpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

int cc_executor_new(cc_executor_t **out, const cc_executor_opts_t *opts) {
  static const cc_executor_opts_t dflt;
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (!opts)
    opts = &dflt;
  cc_executor_t *ex = calloc(1, sizeof *ex);
  if (!ex)
    return -ENOMEM;
  pthread_mutex_init(&ex->mu, NULL);
  pthread_cond_init(&ex->work_cv, NULL);
  ex->max_workers = opts->max_workers ? opts->max_workers : ncpus();
  ex->batch = opts->batch ? opts->batch : 16;
  ex->init = opts->initializer;
  ex->initargs = opts->initargs;
  snprintf(ex->prefix, sizeof ex->prefix, "%s",
           opts->name_prefix && opts->name_prefix[0] ? opts->name_prefix : "cc-pool");
  atomic_init(&ex->refs, 1);
  *out = ex;
  return 0;
}

/* ---- workers ---------------------------------------------------------------- */

static void run_item(cc_future_t *f) {
  if (cc_future_set_running(f) == 0)
    cc__future_finish(f, f->fn(f->arg));
  /* else: cancelled while queued; it never runs. */
  cc_future_unref(f); /* the executor's reference */
}

/* Fails every future of `list` with `err` (or cancels it if err is
 * -ECANCELED) and drops the executor's references. No lock held. */
static void fail_list(cc_future_t *list, int err) {
  while (list) {
    cc_future_t *n = list->next;
    if (err == -ECANCELED || cc_future_set_running(list) < 0)
      cc_future_cancel(list);
    else
      cc__future_finish(list, err);
    cc_future_unref(list);
    list = n;
  }
}

static cc_future_t *take_all(cc_executor_t *ex) {
  cc_future_t *list = ex->head;
  ex->head = ex->tail = NULL;
  ex->qlen = 0;
  return list;
}

static intptr_t worker_main(void *p) {
  cc_executor_t *ex = p;
  worker_of = ex;
  if (ex->init) {
    int r = ex->init(ex->initargs);
    if (r < 0) {
      pthread_mutex_lock(&ex->mu);
      if (!ex->broken)
        ex->broken = r;
      cc_future_t *list = take_all(ex);
      pthread_cond_broadcast(&ex->work_cv);
      pthread_mutex_unlock(&ex->mu);
      fail_list(list, r);
    }
  }
  pthread_mutex_lock(&ex->mu);
  for (;;) {
    while (!ex->head && !ex->shutdown && !ex->broken) {
      ex->idle++;
      pthread_cond_wait(&ex->work_cv, &ex->mu);
      ex->idle--;
      if (ex->wakes)
        ex->wakes--;
    }
    if (!ex->head || ex->broken)
      break;
    /* Claim a batch: at most `batch`, at most a fair share of the backlog. */
    size_t k = ex->qlen / (ex->nthreads ? ex->nthreads : 1);
    if (k > ex->batch)
      k = ex->batch;
    if (k == 0)
      k = 1;
    cc_future_t *first = ex->head, *last = first;
    size_t taken = 1;
    while (taken < k && last->next) {
      last = last->next;
      taken++;
    }
    ex->head = last->next;
    if (!ex->head)
      ex->tail = NULL;
    ex->qlen -= taken;
    last->next = NULL;
    /* Others may be idle while work remains: pass the wake on. */
    if (ex->head && ex->idle > ex->wakes) {
      ex->wakes++;
      pthread_cond_signal(&ex->work_cv);
    }
    pthread_mutex_unlock(&ex->mu);
    while (first) {
      cc_future_t *n = first->next;
      run_item(first);
      first = n;
    }
    pthread_mutex_lock(&ex->mu);
  }
  ex->nthreads--;
  if (ex->nthreads == 0)
    cc__tw_broadcast(&ex->exit_waiters, 0);
  pthread_mutex_unlock(&ex->mu);
  worker_of = NULL;
  ex_unref(ex);
  return 0;
}

/* Starts one more worker; ex->mu held. */
static int spawn_worker(cc_executor_t *ex) {
  char name[16];
  snprintf(name, sizeof name, "%s-%u", ex->prefix, ++ex->seq);
  cc_thread_opts_t o = {.name = name, .detached = true, .block_signals = true};
  atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
  ex->nthreads++;
  int r = cc_thread_start(NULL, worker_main, ex, &o);
  if (r < 0) {
    ex->nthreads--;
    atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_relaxed);
  }
  return r;
}

/* Makes sure `n` newly queued items will be picked up: wakes idle workers,
 * else starts new ones up to max_workers. ex->mu held. Fails only if no
 * worker exists at all and none could be started. */
static int kick(cc_executor_t *ex, size_t n) {
  while (n > 0 && ex->idle > ex->wakes) {
    ex->wakes++;
    pthread_cond_signal(&ex->work_cv);
    n--;
  }
  while (n > 0 && ex->nthreads < ex->max_workers) {
    int r = spawn_worker(ex);
    if (r < 0)
      return ex->nthreads ? 0 : r;
    n--;
  }
  return 0;
}

static int closed_err(const cc_executor_t *ex) {
  return ex->broken ? ex->broken : ex->shutdown ? -CC_ECLOSED : 0;
}

int cc_executor_submit(cc_executor_t *ex, cc_task_fn fn, void *arg, cc_future_t **out) {
  if (out)
    *out = NULL;
  if (!ex || !fn)
    return -EINVAL;
  cc_future_t *f = cc__future_alloc(out ? 2 : 1);
  if (!f)
    return -ENOMEM;
  f->fn = fn;
  f->arg = arg;
  pthread_mutex_lock(&ex->mu);
  int r = closed_err(ex);
  if (r == 0) {
    if (ex->tail)
      ex->tail->next = f;
    else
      ex->head = f;
    ex->tail = f;
    ex->qlen++;
    r = kick(ex, 1);
    if (r < 0) { /* no worker at all: take it back */
      ex->head = ex->tail = NULL;
      ex->qlen = 0;
    }
  }
  pthread_mutex_unlock(&ex->mu);
  if (r < 0) {
    atomic_store(&f->refs, 1);
    cc_future_unref(f);
    return r;
  }
  if (out)
    *out = f;
  return 0;
}

/* ---- shutdown and free ------------------------------------------------------ */

int cc_executor_shutdown(cc_executor_t *ex, bool wait, bool cancel_futures) {
  if (!ex)
    return -EINVAL;
  pthread_mutex_lock(&ex->mu);
  ex->shutdown = true;
  cc_future_t *list = cancel_futures ? take_all(ex) : NULL;
  pthread_cond_broadcast(&ex->work_cv);
  pthread_mutex_unlock(&ex->mu);
  fail_list(list, -ECANCELED);
  if (!wait)
    return 0;
  if (worker_of == ex)
    return -EDEADLK;
  int r = 0;
  pthread_mutex_lock(&ex->mu);
  while (ex->nthreads > 0) {
    cc__tw_t w;
    r = cc__tw_wait(&ex->exit_waiters, &ex->mu, &w, "executor shutdown", ex, CC_FOREVER,
                    0);
    if (r < 0)
      break;
  }
  pthread_mutex_unlock(&ex->mu);
  return r;
}

int cc_executor_free(cc_executor_t *ex) {
  if (!ex)
    return 0;
  if (ex->is_default)
    return -EINVAL;
  pthread_mutex_lock(&ex->mu);
  bool was_shut = ex->shutdown;
  pthread_mutex_unlock(&ex->mu);
  if (!was_shut)
    cc_executor_shutdown(ex, worker_of != ex, false);
  ex_unref(ex);
  return 0;
}

unsigned cc_executor_workers(cc_executor_t *ex) {
  pthread_mutex_lock(&ex->mu);
  unsigned n = ex->nthreads;
  pthread_mutex_unlock(&ex->mu);
  return n;
}

unsigned cc_executor_max_workers(cc_executor_t *ex) {
  return ex->max_workers;
}

size_t cc_executor_pending(cc_executor_t *ex) {
  pthread_mutex_lock(&ex->mu);
  size_t n = ex->qlen;
  pthread_mutex_unlock(&ex->mu);
  return n;
}

/* ---- map ---------------------------------------------------------------------
 * The items are cut into chunks; each chunk is one queued future whose task
 * runs its items in a row, and whose done callback (also run for a chunk
 * cancelled by shutdown) counts it off. When the call cannot be interrupted
 * (a plain thread, no deadline) the chunks read the caller's args and write
 * its results directly; otherwise they work on private copies, so that an
 * early return leaves nothing pointing into the caller's arrays, and a
 * running chunk stops at its next item once the call has been abandoned. */

typedef struct map_ctl map_ctl_t;
typedef struct map_chunk {
  map_ctl_t *ctl;
  size_t lo, hi;
  cc_future_t *f;
} map_chunk_t;

struct map_ctl {
  pthread_mutex_t mu;
  cc__twq_t waiters;
  atomic_int refs;
  atomic_bool abandoned;
  size_t remaining; /* chunks not finished, under mu */
  cc_task_fn fn;
  void *const *args;
  intptr_t *vals;
  void **own_args;    /* private copy, or NULL */
  intptr_t *own_vals; /* private results, or NULL */
  size_t nchunks;
  map_chunk_t chunks[];
};

static void map_unref(map_ctl_t *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < c->nchunks; i++)
    cc_future_unref(c->chunks[i].f);
  pthread_mutex_destroy(&c->mu);
  free(c->own_args);
  free(c->own_vals);
  free(c);
}

static intptr_t map_chunk_run(void *p) {
  map_chunk_t *ch = p;
  map_ctl_t *c = ch->ctl;
  cc_task_fn fn = c->fn;
  void *const *args = c->args;
  intptr_t *vals = c->vals;
  if (!c->own_args) { /* nobody can abandon the call */
    for (size_t i = ch->lo; i < ch->hi; i++)
      vals[i] = fn(args[i]);
    return 0;
  }
  for (size_t i = ch->lo; i < ch->hi; i++) {
    if (atomic_load_explicit(&c->abandoned, memory_order_relaxed))
      break;
    vals[i] = fn(args[i]);
  }
  return 0;
}

static void map_chunk_done(cc_future_t *f, void *p) {
  map_chunk_t *ch = p;
  map_ctl_t *c = ch->ctl;
  int err = cc_future_error(f); /* cancelled, or failed by a broken pool */
  if (err < 0)
    for (size_t i = ch->lo; i < ch->hi; i++)
      c->vals[i] = err;
  pthread_mutex_lock(&c->mu);
  if (--c->remaining == 0)
    cc__tw_broadcast(&c->waiters, 0);
  pthread_mutex_unlock(&c->mu);
  map_unref(c);
}

int cc_executor_map(cc_executor_t *ex, cc_task_fn fn, void *const *args, size_t n,
                    intptr_t *results, size_t *failed_index, size_t chunksize,
                    int64_t deadline) {
  if (!ex || !fn || (n && !args))
    return -EINVAL;
  if (n == 0)
    return 0;
  if (chunksize == 0) {
    chunksize = n / (8 * (size_t)ex->max_workers);
    if (chunksize == 0)
      chunksize = 1;
  }
  size_t nchunks = (n + chunksize - 1) / chunksize;
  map_ctl_t *c = calloc(1, sizeof *c + nchunks * sizeof c->chunks[0]);
  if (!c)
    return -ENOMEM;
  pthread_mutex_init(&c->mu, NULL);
  c->fn = fn;
  c->nchunks = 0;
  bool direct = deadline == CC_FOREVER && !cc__self() && results;
  int r = 0;
  if (direct) {
    c->args = args;
    c->vals = results;
  } else {
    c->own_args = malloc(n * sizeof *c->own_args);
    c->own_vals = malloc(n * sizeof *c->own_vals);
    if (!c->own_args || !c->own_vals) {
      r = -ENOMEM;
      goto fail;
    }
    memcpy(c->own_args, args, n * sizeof *args);
    c->args = c->own_args;
    c->vals = c->own_vals;
  }
  for (size_t i = 0; i < nchunks; i++) {
    map_chunk_t *ch = &c->chunks[i];
    ch->ctl = c;
    ch->lo = i * chunksize;
    ch->hi = ch->lo + chunksize < n ? ch->lo + chunksize : n;
    /* References: the executor's (dropped after it runs) and ours. */
    ch->f = cc__future_alloc(2);
    if (!ch->f) {
      r = -ENOMEM;
      goto fail;
    }
    c->nchunks++;
    ch->f->fn = map_chunk_run;
    ch->f->arg = ch;
    cc_future_add_done_callback(ch->f, map_chunk_done, ch); /* inline slot */
    if (i)
      c->chunks[i - 1].f->next = ch->f;
  }
  atomic_init(&c->refs, (int)nchunks + 1);
  c->remaining = nchunks;

  pthread_mutex_lock(&ex->mu);
  r = closed_err(ex);
  if (r == 0) {
    if (ex->tail)
      ex->tail->next = c->chunks[0].f;
    else
      ex->head = c->chunks[0].f;
    ex->tail = c->chunks[nchunks - 1].f;
    ex->qlen += nchunks;
    r = kick(ex, nchunks);
    if (r < 0) {
      ex->head = ex->tail = NULL;
      ex->qlen = 0;
    }
  }
  pthread_mutex_unlock(&ex->mu);
  if (r < 0) {
    atomic_store(&c->refs, 1);
    for (size_t i = 0; i < nchunks; i++)
      atomic_store(&c->chunks[i].f->refs, 1);
    goto fail;
  }

  pthread_mutex_lock(&c->mu);
  while (c->remaining > 0) {
    cc__tw_t w;
    r = cc__tw_wait(&c->waiters, &c->mu, &w, "executor map", c, deadline, 0);
    if (r < 0)
      break;
  }
  pthread_mutex_unlock(&c->mu);
  if (r < 0) {
    atomic_store(&c->abandoned, true);
    for (size_t i = 0; i < nchunks; i++)
      cc_future_cancel(c->chunks[i].f);
    map_unref(c);
    return r;
  }
  r = 0;
  for (size_t i = 0; i < n; i++) {
    if (c->vals[i] < 0) {
      r = c->vals[i] >= INT32_MIN ? (int)c->vals[i] : -ERANGE;
      if (failed_index)
        *failed_index = i;
      break;
    }
  }
  if (!direct && results)
    memcpy(results, c->vals, n * sizeof *results);
  map_unref(c);
  return r;

fail:
  for (size_t i = 0; i < c->nchunks; i++)
    atomic_store(&c->chunks[i].f->refs, 1);
  atomic_store(&c->refs, 1);
  map_unref(c);
  return r;
}

/* ---- call, the default executor, to_thread ---------------------------------- */

int cc_executor_call(cc_executor_t *ex, cc_task_fn fn, void *arg, intptr_t *result) {
  cc_future_t *f;
  int r = cc_executor_submit(ex, fn, arg, &f);
  if (r < 0)
    return r;
  r = cc_future_result(f, CC_FOREVER, result);
  if (r < 0 && !cc_future_done(f)) {
    /* Interrupted: if it has not started it never will; if it is running,
     * it finishes on the pool and its result is dropped with the future. */
    cc_future_cancel(f);
  }
  cc_future_unref(f);
  return r;
}

static cc_executor_t *default_ex;
static int default_err;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void) {
  unsigned n = ncpus() + 4;
  cc_executor_opts_t o = {
      .max_workers = n < 32 ? n : 32, .name_prefix = "cc-default", .batch = 1};
  default_err = cc_executor_new(&default_ex, &o);
  if (default_ex)
    default_ex->is_default = true;
}

int cc_executor_default(cc_executor_t **out) {
  pthread_once(&default_once, default_init);
  *out = default_ex;
  return default_err;
}

int cc_to_thread(cc_task_fn fn, void *arg, intptr_t *result) {
  if (!fn)
    return -EINVAL;
  if (!cc__self()) {
    intptr_t v = fn(arg);
    if (v < 0)
      return v >= INT32_MIN ? (int)v : -ERANGE;
    if (result)
      *result = v;
    return 0;
  }
  cc_executor_t *ex;
  int r = cc_executor_default(&ex);
  if (r < 0)
    return r;
  return cc_executor_call(ex, fn, arg, result);
}

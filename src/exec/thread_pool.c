/* The thread-pool executor (cc_executor_*), its batched map, the default
 * pool and cc_to_thread.
 *
 * The queue is an intrusive lock-free multi-producer queue of futures (a
 * future is its own work item; Vyukov's MPSC node queue): a submit is one
 * atomic exchange on the tail and takes no lock. Workers pop under `mu`,
 * which also guards the worker bookkeeping; idle workers first spin briefly
 * watching the tail, then sleep on `work_cv`. Invariants:
 *  - a submitter publishes its item, then (seq_cst) reads `nsleep`; a worker
 *    going to sleep raises `nsleep` under `mu`, then (seq_cst) re-checks the
 *    queue. One of the two sees the other, so no item waits for a worker
 *    that sleeps; the submitter takes `mu` only when a worker sleeps or a
 *    new worker must start;
 *  - shutdown: `closing` is set (seq_cst) before the workers are told to
 *    exit once the queue is empty; a submitter pushes (seq_cst), then
 *    re-reads `closing`. If it is set, the push may have come too late for
 *    the workers, so the submitter cancels its future: if that succeeds the
 *    task never runs and the submit fails with -CC_ECLOSED; if a worker has
 *    already started it, the submit simply succeeded. Items left in the
 *    queue that way are cancelled and released with the executor;
 *  - futures are recycled through per-thread caches (future.c), so a
 *    submit-and-collect loop allocates nothing;
 *  - mu is never held while a task, a done callback or a future completion
 *    runs, so tasks and callbacks may submit more work freely;
 *  - a worker claims `batch` items per trip through the lock, or (batch
 *    0) its fair share of the visible backlog, at most ADAPTIVE_BATCH
 *    (and at most CLAIM_MAX). The claimed items stay visible to shutdown:
 *    they sit in the worker's claim_t, linked into `claims` under mu, and
 *    each one goes either to the worker (one atomic fetch_add on `next`
 *    before it starts) or to shutdown(cancel_futures) (one atomic exchange
 *    of `next` with `n`, under mu), never to both. So a shutdown that
 *    cancels futures cancels the claimed-but-not-started ones too;
 *  - the executor is reference-counted: the handle holds one reference and
 *    every worker thread one, so a handle freed while a worker is stuck in
 *    a task that never ends leaves that worker safe; the last one frees.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/executor.h"
#include "concur/thread.h"
#include "core/trace.h"
#include "exec/future_int.h"

#define SPIN_ITERS 256 /* pauses (a few microseconds), with yields */

#define cpu_relax() CC__CPU_RELAX()

#define ADAPTIVE_BATCH 4  /* tasks a worker claims at once in a backlog */
#define CLAIM_MAX      64 /* most tasks a worker claims at once (opts.batch) */

/* The items a worker has claimed and not yet started (see above). `items`
 * and `n` are written under mu by their worker only; `next` is the index
 * of the next item to start. */
typedef struct claim {
  struct claim *next_claim, *prev_claim;
  unsigned n;
  atomic_uint next;
  cc_future_t *items[CLAIM_MAX];
} claim_t;

struct cc_executor {
  /* producer side: one cache line of its own */
  _Alignas(64) _Atomic(cc_future_t *) qtail;
  /* read by submitters, rarely written */
  _Alignas(64) atomic_bool closing; /* shutdown has begun */
  atomic_int broken;                /* initializer error, 0 if none */
  atomic_uint nthreads;             /* worker threads alive (written under mu) */
  atomic_uint nsleep;               /* workers asleep on work_cv (written under mu) */
  /* written by workers often */
  _Alignas(64) atomic_uint nspin; /* workers spinning for work */
  /* consumer side, under mu */
  _Alignas(64) pthread_mutex_t mu;
  pthread_cond_t work_cv;
  cc_future_t *qhead;
  /* the queue's dummy node (only qnext is used): on lines of its own, as
   * both submitters and workers write its qnext */
  _Alignas(64) cc_future_t stub;
  _Alignas(64) char pad_;
  unsigned wakes; /* signals sent to sleepers, not yet consumed */
  unsigned max_workers, batch, seq;
  bool shutdown; /* workers exit once the queue is empty */
  bool is_default;
  cc__twq_t exit_waiters; /* shutdown(wait): nthreads reaching 0 */
  claim_t *claims;        /* every worker's claim, under mu */
  int (*init)(void *);
  void *initargs;
  char prefix[11];
  atomic_int refs;
  unsigned gen; /* fork_gen when the workers were started */
};

static _Thread_local cc_executor_t *worker_of;

/* Fork safety: a child process inherits executors whose worker threads do
 * not exist in it. Each fork bumps fork_gen (pthread_atfork child handler);
 * an executor created under another generation is reset on its next
 * submission: fresh mutex and condition variable, no workers, so new ones
 * start. Tasks that were queued or running in the parent at the fork are
 * lost for the child (their futures never complete there). */
static atomic_uint fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
  atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void atfork_init(void) {
  pthread_atfork(NULL, NULL, on_fork_child);
}

static cc_future_t *q_take_all(cc_executor_t *ex);
static void cancel_list(cc_future_t *list);

static void ex_unref(cc_executor_t *ex) {
  if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* Items pushed after the workers left (see shutdown above). */
  cancel_list(q_take_all(ex));
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
  cc_executor_t *ex = aligned_alloc(64, (sizeof *ex + 63) & ~(size_t)63);
  if (!ex)
    return -ENOMEM;
  memset(ex, 0, sizeof *ex);
  pthread_mutex_init(&ex->mu, NULL);
  pthread_cond_init(&ex->work_cv, NULL);
  atomic_init(&ex->stub.qnext, NULL);
  atomic_init(&ex->qtail, &ex->stub);
  ex->qhead = &ex->stub;
  atomic_init(&ex->closing, false);
  atomic_init(&ex->broken, 0);
  atomic_init(&ex->nthreads, 0);
  atomic_init(&ex->nsleep, 0);
  atomic_init(&ex->nspin, 0);
  ex->max_workers = opts->max_workers ? opts->max_workers : ncpus();
  ex->batch = opts->batch; /* 0: adaptive */
  ex->init = opts->initializer;
  ex->initargs = opts->initargs;
  snprintf(ex->prefix, sizeof ex->prefix, "%s",
           opts->name_prefix && opts->name_prefix[0] ? opts->name_prefix : "cc-pool");
  atomic_init(&ex->refs, 1);
  pthread_once(&atfork_once, atfork_init);
  ex->gen = atomic_load(&fork_gen);
  *out = ex;
  return 0;
}

/* ---- the queue ----------------------------------------------------------------- */

/* Appends the chain first..last (linked by qnext, last's qnext NULL). Any
 * thread, no lock. */
static void q_push_chain(cc_executor_t *ex, cc_future_t *first, cc_future_t *last) {
  atomic_store_explicit(&last->qnext, NULL, memory_order_relaxed);
  /* seq_cst: ordered before the submitter's reads of nsleep and closing */
  cc_future_t *prev = atomic_exchange_explicit(&ex->qtail, last, memory_order_seq_cst);
  atomic_store_explicit(&prev->qnext, first, memory_order_release);
}

/* Takes the oldest item, or NULL if there is none (or the newest push is
 * half done: its submitter wakes a sleeper once it is complete). mu held. */
static cc_future_t *q_pop(cc_executor_t *ex) {
  cc_future_t *head = ex->qhead;
  cc_future_t *next = atomic_load_explicit(&head->qnext, memory_order_acquire);
  if (head == &ex->stub) {
    if (!next)
      return NULL;
    ex->qhead = head = next;
    next = atomic_load_explicit(&head->qnext, memory_order_acquire);
  }
  if (next) {
    ex->qhead = next;
    return head;
  }
  if (atomic_load_explicit(&ex->qtail, memory_order_acquire) != head)
    return NULL; /* a push is between its exchange and its link */
  q_push_chain(ex, &ex->stub, &ex->stub);
  next = atomic_load_explicit(&head->qnext, memory_order_acquire);
  if (next) {
    ex->qhead = next;
    return head;
  }
  return NULL;
}

/* Counts the queued items, up to `max`. mu held. */
static size_t q_peek(cc_executor_t *ex, size_t max) {
  size_t n = 0;
  cc_future_t *f = ex->qhead;
  if (f == &ex->stub)
    f = atomic_load_explicit(&f->qnext, memory_order_acquire);
  while (f && n < max) {
    if (f != &ex->stub)
      n++;
    f = atomic_load_explicit(&f->qnext, memory_order_acquire);
  }
  return n;
}

/* True unless the queue is certainly empty. mu held. */
static bool q_maybe_nonempty(cc_executor_t *ex) {
  return ex->qhead != &ex->stub ||
         atomic_load_explicit(&ex->qtail, memory_order_seq_cst) != &ex->stub;
}

/* Pops every item into a private list (linked by next). mu held. */
static cc_future_t *q_take_all(cc_executor_t *ex) {
  cc_future_t *first = NULL, **tail = &first, *f;
  while ((f = q_pop(ex))) {
    f->next = NULL;
    *tail = f;
    tail = &f->next;
  }
  return first;
}

/* ---- workers ---------------------------------------------------------------- */

static void run_item(cc_executor_t *ex, cc_future_t *f) {
  if (cc_future_set_running(f) == 0) {
    int broken = atomic_load_explicit(&ex->broken, memory_order_relaxed);
    cc__future_finish(f, broken ? broken : CC__TRACE_CALL(f->fn, f->arg));
  }
  /* else: cancelled while queued; it never runs. */
  cc_future_unref(f); /* the executor's reference */
}

/* Cancels every future of `list` and drops the executor's references. No
 * lock held. */
static void cancel_list(cc_future_t *list) {
  while (list) {
    cc_future_t *n = list->next;
    cc_future_cancel(list);
    cc_future_unref(list);
    list = n;
  }
}

static void claims_link(cc_executor_t *ex, claim_t *c) {
  c->prev_claim = NULL;
  c->next_claim = ex->claims;
  if (ex->claims)
    ex->claims->prev_claim = c;
  ex->claims = c;
}

static void claims_unlink(cc_executor_t *ex, claim_t *c) {
  if (c->prev_claim)
    c->prev_claim->next_claim = c->next_claim;
  else
    ex->claims = c->next_claim;
  if (c->next_claim)
    c->next_claim->prev_claim = c->prev_claim;
}

/* Takes the claimed items no worker has started from every claim, into a
 * list linked by next. mu held. */
static cc_future_t *claims_take(cc_executor_t *ex) {
  cc_future_t *first = NULL, **tail = &first;
  for (claim_t *c = ex->claims; c; c = c->next_claim) {
    unsigned i = atomic_exchange_explicit(&c->next, c->n, memory_order_acq_rel);
    for (; i < c->n; i++) {
      c->items[i]->next = NULL;
      *tail = c->items[i];
      tail = &c->items[i]->next;
    }
  }
  return first;
}

static intptr_t worker_main(void *p) {
  cc_executor_t *ex = p;
  worker_of = ex;
  if (ex->init) {
    int r = ex->init(ex->initargs);
    if (r < 0) {
      /* A broken pool fails every task, queued or submitted later. */
      int zero = 0;
      atomic_compare_exchange_strong(&ex->broken, &zero, r);
    }
  }
  claim_t claim = {.n = 0};
  atomic_init(&claim.next, 0);
  pthread_mutex_lock(&ex->mu);
  claims_link(ex, &claim);
  for (;;) {
    cc_future_t *f;
    unsigned k = 0, limit = ex->batch;
    if (limit == 0) {
      /* Adaptive: a fair share of the visible backlog, at most
       * ADAPTIVE_BATCH; one at a time unless tasks pile up, so that long
       * tasks still spread over every worker. */
      unsigned nt = atomic_load_explicit(&ex->nthreads, memory_order_relaxed);
      nt = nt ? nt : 1;
      limit = (unsigned)(q_peek(ex, (size_t)ADAPTIVE_BATCH * nt) / nt);
      limit = limit < 1 ? 1 : limit > ADAPTIVE_BATCH ? ADAPTIVE_BATCH : limit;
    }
    if (limit > CLAIM_MAX)
      limit = CLAIM_MAX;
    while (k < limit && (f = q_pop(ex)))
      claim.items[k++] = f;
    if (k) {
      claim.n = k;
      atomic_store_explicit(&claim.next, 0, memory_order_relaxed);
      /* Sleepers while work remains: pass a wake on. */
      if (atomic_load_explicit(&ex->nsleep, memory_order_relaxed) > ex->wakes &&
          q_maybe_nonempty(ex)) {
        ex->wakes++;
        pthread_cond_signal(&ex->work_cv);
      }
      pthread_mutex_unlock(&ex->mu);
      unsigned i;
      while ((i = atomic_fetch_add_explicit(&claim.next, 1, memory_order_acq_rel)) < k)
        run_item(ex, claim.items[i]);
      pthread_mutex_lock(&ex->mu);
      claim.n = 0;
      continue;
    }
    if (ex->shutdown && !q_maybe_nonempty(ex))
      break;
    if (!ex->shutdown) {
      /* Spin a little before sleeping: a submitter that finds nobody asleep
       * needs no system call, which is what keeps floods of tiny tasks
       * cheap. */
      cc_future_t *t0 = atomic_load_explicit(&ex->qtail, memory_order_relaxed);
      atomic_fetch_add_explicit(&ex->nspin, 1, memory_order_relaxed);
      pthread_mutex_unlock(&ex->mu);
      for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&ex->qtail, memory_order_relaxed) != t0)
          break;
        cpu_relax();
        if ((i & 31) == 31)
          sched_yield();
      }
      pthread_mutex_lock(&ex->mu);
      atomic_fetch_sub_explicit(&ex->nspin, 1, memory_order_relaxed);
      if (q_maybe_nonempty(ex))
        continue;
    }
    /* seq_cst store, then seq_cst load of the tail in q_maybe_nonempty():
     * pairs with the submitter's push, then load of nsleep. */
    atomic_store_explicit(&ex->nsleep, atomic_load(&ex->nsleep) + 1,
                          memory_order_seq_cst);
    if (!ex->shutdown && !q_maybe_nonempty(ex))
      pthread_cond_wait(&ex->work_cv, &ex->mu);
    atomic_store_explicit(&ex->nsleep, atomic_load(&ex->nsleep) - 1,
                          memory_order_relaxed);
    if (ex->wakes)
      ex->wakes--;
  }
  claims_unlink(ex, &claim);
  unsigned left = atomic_load(&ex->nthreads) - 1;
  atomic_store(&ex->nthreads, left);
  if (left == 0)
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
  atomic_store(&ex->nthreads, atomic_load(&ex->nthreads) + 1);
  int r = cc_thread_start(NULL, worker_main, ex, &o);
  if (r < 0) {
    atomic_store(&ex->nthreads, atomic_load(&ex->nthreads) - 1);
    atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_relaxed);
  }
  return r;
}

/* After pushing `n` items: wakes sleepers, or starts workers up to
 * max_workers when none is free. Lock-free unless either is needed. Fails
 * only if no worker exists at all and none could be started. */
/* In a forked child: forget the parent's workers (see fork_gen). */
static void after_fork(cc_executor_t *ex) {
  /* The parent's queued work is the parent's: dropped, not run twice. */
  atomic_store(&ex->stub.qnext, NULL);
  atomic_store(&ex->qtail, &ex->stub);
  ex->qhead = &ex->stub;
  pthread_mutex_init(&ex->mu, NULL);
  pthread_cond_init(&ex->work_cv, NULL);
  atomic_store(&ex->nthreads, 0);
  atomic_store(&ex->nsleep, 0);
  atomic_store(&ex->nspin, 0);
  ex->wakes = 0;
  ex->exit_waiters.head = ex->exit_waiters.tail = NULL;
  ex->exit_waiters.n = 0;
  ex->claims = NULL; /* the parent's workers' stacks */
  ex->gen = atomic_load(&fork_gen);
}

static inline void fork_check(cc_executor_t *ex) {
  if (CC_UNLIKELY(ex->gen != atomic_load_explicit(&fork_gen, memory_order_relaxed)))
    after_fork(ex);
}

static int kick(cc_executor_t *ex, size_t n) {
  if (atomic_load_explicit(&ex->nsleep, memory_order_seq_cst) == 0 &&
      (atomic_load_explicit(&ex->nthreads, memory_order_relaxed) >= ex->max_workers ||
       atomic_load_explicit(&ex->nspin, memory_order_relaxed) >= n))
    return 0; /* the common case: no lock, no system call */
  int r = 0;
  pthread_mutex_lock(&ex->mu);
  while (n > 0 && atomic_load(&ex->nsleep) > ex->wakes) {
    ex->wakes++;
    pthread_cond_signal(&ex->work_cv);
    n--;
  }
  /* Spinning workers take some; start workers for the rest. */
  unsigned spin = atomic_load(&ex->nspin);
  n = n > spin ? n - spin : 0;
  while (n > 0 && atomic_load(&ex->nthreads) < ex->max_workers) {
    r = spawn_worker(ex);
    if (r < 0) {
      r = atomic_load(&ex->nthreads) ? 0 : r;
      break;
    }
    n--;
  }
  pthread_mutex_unlock(&ex->mu);
  return r;
}

/* The error that refuses new work, or 0. */
static int refused(cc_executor_t *ex) {
  int b = atomic_load_explicit(&ex->broken, memory_order_relaxed);
  if (b)
    return b;
  return atomic_load_explicit(&ex->closing, memory_order_seq_cst) ? -CC_ECLOSED : 0;
}

int cc_executor_submit(cc_executor_t *ex, cc_task_fn fn, void *arg, cc_future_t **out) {
  if (out)
    *out = NULL;
  if (!ex || !fn)
    return -EINVAL;
  int r = refused(ex);
  if (r < 0)
    return r;
  cc_future_t *f = cc__future_alloc(out ? 2 : 1);
  if (!f)
    return -ENOMEM;
  f->fn = fn;
  f->arg = arg;
  fork_check(ex);
  q_push_chain(ex, f, f);
  r = atomic_load_explicit(&ex->closing, memory_order_seq_cst) ? -CC_ECLOSED
                                                               : kick(ex, 1);
  if (r < 0 && cc_future_cancel(f) == 0) {
    /* Too late for the workers (or none could start): it will never run;
     * the queue's reference goes with the executor. */
    if (out)
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
  atomic_store_explicit(&ex->closing, true, memory_order_seq_cst);
  pthread_mutex_lock(&ex->mu);
  ex->shutdown = true;
  cc_future_t *list = NULL;
  if (cancel_futures) {
    /* The queue, and the items workers have claimed but not started. */
    list = claims_take(ex);
    cc_future_t **tail = &list;
    while (*tail)
      tail = &(*tail)->next;
    *tail = q_take_all(ex);
  }
  pthread_cond_broadcast(&ex->work_cv);
  pthread_mutex_unlock(&ex->mu);
  cancel_list(list);
  if (!wait)
    return 0;
  if (worker_of == ex)
    return -EDEADLK;
  int r = 0;
  pthread_mutex_lock(&ex->mu);
  while (atomic_load(&ex->nthreads) > 0) {
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
  if (!atomic_load(&ex->closing))
    cc_executor_shutdown(ex, worker_of != ex, false);
  ex_unref(ex);
  return 0;
}

unsigned cc_executor_workers(cc_executor_t *ex) {
  return atomic_load(&ex->nthreads);
}

unsigned cc_executor_max_workers(cc_executor_t *ex) {
  return ex->max_workers;
}

size_t cc_executor_pending(cc_executor_t *ex) {
  /* Walks the queue: O(n), for diagnostics and tests. */
  pthread_mutex_lock(&ex->mu);
  size_t n = 0;
  for (cc_future_t *f = ex->qhead; f;
       f = atomic_load_explicit(&f->qnext, memory_order_acquire))
    if (f != &ex->stub)
      n++;
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
  if (failed_index)
    *failed_index = (size_t)-1;
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
  }
  atomic_init(&c->refs, (int)nchunks + 1);
  c->remaining = nchunks;

  r = refused(ex);
  if (r < 0)
    goto fail;
  for (size_t i = 1; i < nchunks; i++)
    atomic_store_explicit(&c->chunks[i - 1].f->qnext, c->chunks[i].f,
                          memory_order_relaxed);
  fork_check(ex);
  q_push_chain(ex, c->chunks[0].f, c->chunks[nchunks - 1].f);
  r = atomic_load_explicit(&ex->closing, memory_order_seq_cst) ? -CC_ECLOSED
                                                               : kick(ex, nchunks);
  if (r < 0) {
    /* Raced with shutdown, or no worker could start: the chunks not yet
     * started never will (their items report -ECANCELED); wait for the
     * others as usual. */
    for (size_t i = 0; i < nchunks; i++)
      cc_future_cancel(c->chunks[i].f);
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

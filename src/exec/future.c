/* Futures: state machine, waiting from threads and coroutines, done
 * callbacks, and the multi-future waits (concurrent.futures.wait and
 * as_completed). See future_int.h for the lock-free fast path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec/future_int.h"

/* ---- the striped locks ---------------------------------------------------- */

#define NSTRIPES 64
static pthread_mutex_t stripes[NSTRIPES] = {
#define S4                                                                               \
  PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,       \
      PTHREAD_MUTEX_INITIALIZER
#define S16 S4, S4, S4, S4
    S16, S16, S16, S16
#undef S16
#undef S4
};

static pthread_mutex_t *fmu(const cc_future_t *f) {
  uintptr_t a = (uintptr_t)f;
  return &stripes[((a >> 6) ^ (a >> 12)) % NSTRIPES];
}

/* ---- allocation ---------------------------------------------------------------
 * Futures come from 8 KiB slabs of 64 cache-line-aligned 128-byte slots (the
 * hot fields in the first line), carved once and then recycled for good:
 * the thread that drops the last reference keeps the memory in its own
 * cache for its next allocation, so a submit-and-collect loop recycles the
 * same futures with no malloc and no shared lock. A cache that grows past
 * FCACHE_MAX hands batches of FBATCH to a global pool (one mutex operation
 * per batch), where allocating threads take them back; a thread's cache
 * goes to the pool when the thread exits. The memory is kept for reuse,
 * never returned to malloc: the footprint is the peak number of futures
 * alive at once (128 bytes each). */

#define FSLOT      128
#define FSLAB      64
#define FCACHE_MAX 4096
#define FBATCH     1024

static_assert(sizeof(cc_future_t) <= FSLOT, "a future fits its slab slot");

/* Under AddressSanitizer every future is its own malloc, so that a use
 * after the last unref is caught instead of hitting a recycled slot. */
#if defined(__SANITIZE_ADDRESS__)
#define FUTURE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUTURE_MALLOC 1
#endif
#endif
#ifndef FUTURE_MALLOC
#define FUTURE_MALLOC 0
#endif

static _Thread_local struct {
  cc_future_t *head;
  size_t n;
  bool registered;
} fcache;
static pthread_key_t fcache_key;
static pthread_once_t fcache_once = PTHREAD_ONCE_INIT;

/* Batches of free futures, chained by `next`; a batch's first future
 * holds its length in `value` and links the next batch through `arg`. */
static pthread_mutex_t gpool_mu = PTHREAD_MUTEX_INITIALIZER;
static cc_future_t *gpool;

static void gpool_put(cc_future_t *batch, size_t n) {
  batch->value = (intptr_t)n;
  pthread_mutex_lock(&gpool_mu);
  batch->arg = gpool;
  gpool = batch;
  pthread_mutex_unlock(&gpool_mu);
}

static cc_future_t *gpool_get(size_t *n) {
  pthread_mutex_lock(&gpool_mu);
  cc_future_t *b = gpool;
  if (b)
    gpool = b->arg;
  pthread_mutex_unlock(&gpool_mu);
  if (b)
    *n = (size_t)b->value;
  return b;
}

static void fcache_exit(void *unused) {
  (void)unused;
  if (fcache.head)
    gpool_put(fcache.head, fcache.n);
  fcache.head = NULL;
  fcache.n = 0;
}

static void fcache_key_init(void) {
  pthread_key_create(&fcache_key, fcache_exit);
}

static void fcache_push(cc_future_t *f) {
  f->next = fcache.head;
  fcache.head = f;
  fcache.n++;
}

/* Refills the empty cache from the pool or a new slab. */
static bool fcache_refill(void) {
  size_t n;
  cc_future_t *b = gpool_get(&n);
  if (b) {
    fcache.head = b;
    fcache.n = n;
    return true;
  }
  char *slab = aligned_alloc(64, (size_t)FSLOT * FSLAB);
  if (!slab)
    return false;
  for (int i = FSLAB - 1; i >= 0; i--)
    fcache_push((cc_future_t *)(slab + (size_t)i * FSLOT));
  return true;
}

cc_future_t *cc__future_alloc(int refs) {
  cc_future_t *f;
  if (FUTURE_MALLOC) {
    f = malloc(sizeof *f);
    if (!f)
      return NULL;
  } else {
    if (!fcache.head && !fcache_refill())
      return NULL;
    f = fcache.head;
    fcache.head = f->next;
    fcache.n--;
  }
  atomic_init(&f->state, CC_FUTURE_PENDING);
  atomic_init(&f->refs, refs);
  f->value = 0;
  f->err = 0;
  f->dtor = NULL;
  atomic_init(&f->qnext, NULL);
  f->next = NULL;
  f->fn = NULL;
  f->arg = NULL;
  f->waiters.head = f->waiters.tail = NULL;
  f->waiters.n = 0;
  f->cb0 = NULL;
  f->cb0_arg = NULL;
  f->cbs = NULL;
  return f;
}

static void future_release_mem(cc_future_t *f) {
  if (FUTURE_MALLOC) {
    free(f);
    return;
  }
  if (!fcache.registered) {
    pthread_once(&fcache_once, fcache_key_init);
    pthread_setspecific(fcache_key, &fcache);
    fcache.registered = true;
  }
  fcache_push(f);
  if (fcache.n >= FCACHE_MAX + FBATCH) {
    /* Hand FBATCH of them (the most recently freed) to the pool. */
    cc_future_t *first = fcache.head, *last = first;
    for (int i = 1; i < FBATCH; i++)
      last = last->next;
    fcache.head = last->next;
    fcache.n -= FBATCH;
    last->next = NULL;
    gpool_put(first, FBATCH);
  }
}

int cc_future_new(cc_future_t **out) {
  if (!out)
    return -EINVAL;
  cc_future_t *f = cc__future_alloc(1);
  if (!f)
    return -ENOMEM;
  *out = f;
  return 0;
}

cc_future_t *cc_future_ref(cc_future_t *f) {
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

void cc_future_unref(cc_future_t *f) {
  if (!f)
    return;
  /* Only holders take references, so a count of 1 is ours alone: free
   * without a locked instruction (the common case when a worker has
   * already dropped the executor's reference). */
  if (atomic_load_explicit(&f->refs, memory_order_acquire) != 1 &&
      atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (f->dtor)
    f->dtor((void *)f->value);
  cc__fcb_t *c = f->cbs;
  while (c) {
    cc__fcb_t *n = c->next;
    free(c);
    c = n;
  }
  future_release_mem(f);
}

/* ---- state transitions ------------------------------------------------------ */

int cc_future_set_running(cc_future_t *f) {
  unsigned s = atomic_load_explicit(&f->state, memory_order_relaxed);
  for (;;) {
    unsigned st = s & F_STATE_MASK;
    if (st == CC_FUTURE_CANCELLED)
      return -ECANCELED;
    if (st != CC_FUTURE_PENDING)
      return -EINVAL;
    if (atomic_compare_exchange_weak_explicit(&f->state, &s,
                                              (s & ~F_STATE_MASK) | CC_FUTURE_RUNNING,
                                              memory_order_acq_rel, memory_order_relaxed))
      return 0;
  }
}

/* The slow half of a completion: wake waiters, run callbacks (no lock
 * held while they run, in the order they were added). */
static void complete_slow(cc_future_t *f) {
  /* A callback may drop the last other reference; keep f alive for it. */
  cc_future_ref(f);
  pthread_mutex_t *mu = fmu(f);
  pthread_mutex_lock(mu);
  cc__tw_broadcast(&f->waiters, 0);
  cc_future_cb cb0 = f->cb0;
  void *cb0_arg = f->cb0_arg;
  cc__fcb_t *list = NULL, *c = f->cbs;
  f->cb0 = NULL;
  f->cbs = NULL;
  pthread_mutex_unlock(mu);
  while (c) { /* newest first -> oldest first */
    cc__fcb_t *n = c->next;
    c->next = list;
    list = c;
    c = n;
  }
  if (cb0)
    cb0(f, cb0_arg);
  while (list) {
    cc__fcb_t *n = list->next;
    list->cb(f, list->arg);
    free(list);
    list = n;
  }
  cc_future_unref(f);
}

/* PENDING/RUNNING -> `to`, after the value has been stored by the caller. */
static int complete(cc_future_t *f, unsigned to, bool allow_running) {
  unsigned s = atomic_load_explicit(&f->state, memory_order_relaxed);
  for (;;) {
    unsigned st = s & F_STATE_MASK;
    if (st == CC_FUTURE_DONE || st == CC_FUTURE_CANCELLED)
      return -EINVAL;
    if (st == CC_FUTURE_RUNNING && !allow_running)
      return -EBUSY;
    if (atomic_compare_exchange_weak_explicit(&f->state, &s, to, memory_order_acq_rel,
                                              memory_order_relaxed))
      break;
  }
  if (s & F_SLOW)
    complete_slow(f);
  return 0;
}

/* The value is written before the CAS that publishes it; a second
 * completer racing with the first could overwrite it, so completing twice
 * concurrently is unsupported (the executor completes each future once). */
int cc_future_set_result(cc_future_t *f, intptr_t value) {
  if (cc_future_done(f))
    return -EINVAL;
  f->value = value;
  f->err = 0;
  return complete(f, CC_FUTURE_DONE, true);
}

int cc_future_set_result_owned(cc_future_t *f, void *value, void (*dtor)(void *)) {
  if (cc_future_done(f))
    return -EINVAL;
  f->value = (intptr_t)value;
  f->err = 0;
  f->dtor = dtor;
  int r = complete(f, CC_FUTURE_DONE, true);
  if (r < 0)
    f->dtor = NULL;
  return r;
}

int cc_future_set_error(cc_future_t *f, int err) {
  if (cc_future_done(f))
    return -EINVAL;
  f->err = err < 0 ? err : -EINVAL;
  return complete(f, CC_FUTURE_DONE, true);
}

void cc__future_finish(cc_future_t *f, intptr_t r) {
  if (r >= 0) {
    f->value = r;
    f->err = 0;
  } else {
    f->err = r >= INT32_MIN ? (int)r : -ERANGE;
  }
  complete(f, CC_FUTURE_DONE, true);
}

int cc_future_cancel(cc_future_t *f) {
  unsigned st = atomic_load_explicit(&f->state, memory_order_acquire) & F_STATE_MASK;
  if (st == CC_FUTURE_CANCELLED)
    return 0;
  int r = complete(f, CC_FUTURE_CANCELLED, false);
  if (r == -EINVAL && (atomic_load_explicit(&f->state, memory_order_acquire) &
                       F_STATE_MASK) == CC_FUTURE_CANCELLED)
    return 0;
  return r;
}

cc_future_state_t cc_future_state(const cc_future_t *f) {
  cc_future_t *m = (cc_future_t *)f;
  return (cc_future_state_t)(atomic_load_explicit(&m->state, memory_order_acquire) &
                             F_STATE_MASK);
}

bool cc_future_done(const cc_future_t *f) {
  return cc_future_state(f) >= CC_FUTURE_DONE;
}

bool cc_future_cancelled(const cc_future_t *f) {
  return cc_future_state(f) == CC_FUTURE_CANCELLED;
}

/* Sets F_SLOW unless the future is finished; its lock held. True if set. */
static bool mark_slow(cc_future_t *f) {
  unsigned s = atomic_load_explicit(&f->state, memory_order_acquire);
  for (;;) {
    if ((s & F_STATE_MASK) >= CC_FUTURE_DONE)
      return false;
    if (s & F_SLOW)
      return true;
    if (atomic_compare_exchange_weak_explicit(&f->state, &s, s | F_SLOW,
                                              memory_order_acq_rel, memory_order_acquire))
      return true;
  }
}

int cc_future_wait(cc_future_t *f, int64_t deadline) {
  /* The caller usually drops its reference next (an atomic write): fetch
   * the line for writing now rather than shared, then again exclusive. */
  __builtin_prefetch(f, 1, 3);
  if (cc_future_done(f))
    return 0;
  if (!cc__self()) {
    /* A plain thread about to block: a result due within a microsecond or
     * so is cheaper to spin for than a futex sleep and wake-up on both
     * sides. */
    for (int i = 0; i < 64; i++) {
      CC__CPU_RELAX();
      if (cc_future_done(f))
        return 0;
    }
  }
  int r = 0;
  pthread_mutex_t *mu = fmu(f);
  pthread_mutex_lock(mu);
  while (mark_slow(f)) {
    cc__tw_t w;
    r = cc__tw_wait(&f->waiters, mu, &w, "future", f, deadline, 0);
    if (r < 0)
      break;
  }
  pthread_mutex_unlock(mu);
  return r;
}

int cc_future_result(cc_future_t *f, int64_t deadline, intptr_t *value) {
  int r = cc_future_wait(f, deadline);
  if (r < 0)
    return r;
  if (cc_future_cancelled(f))
    return -ECANCELED;
  if (f->err)
    return f->err;
  if (value)
    *value = f->value;
  return 0;
}

int cc_future_add_done_callback(cc_future_t *f, cc_future_cb cb, void *arg) {
  if (!cb)
    return -EINVAL;
  pthread_mutex_t *mu = fmu(f);
  pthread_mutex_lock(mu);
  if (!mark_slow(f)) {
    pthread_mutex_unlock(mu);
    cb(f, arg);
    return 0;
  }
  if (!f->cb0 && !f->cbs) {
    f->cb0 = cb;
    f->cb0_arg = arg;
  } else {
    cc__fcb_t *c = malloc(sizeof *c);
    if (!c) {
      pthread_mutex_unlock(mu);
      return -ENOMEM;
    }
    c->cb = cb;
    c->arg = arg;
    c->next = f->cbs;
    f->cbs = c;
  }
  pthread_mutex_unlock(mu);
  return 0;
}

int cc_future_error(const cc_future_t *f) {
  switch (cc_future_state(f)) {
  case CC_FUTURE_CANCELLED:
    return -ECANCELED;
  case CC_FUTURE_DONE:
    return f->err;
  default:
    return -EAGAIN;
  }
}

/* ---- waiting on many futures ------------------------------------------------
 * A notifier is a small reference-counted object that a done callback on
 * each future feeds: it counts completions and queues the indices of the
 * finished futures. The caller's reference and one per registered callback
 * keep it alive, so the caller may return (time-out) before every future
 * has finished. */

typedef struct notifier notifier_t;
typedef struct nslot {
  notifier_t *nt;
  size_t idx;
} nslot_t;

struct notifier {
  pthread_mutex_t mu;
  cc__twq_t waiters;
  atomic_size_t refs;
  size_t n, ndone, nerr;
  size_t *ready; /* indices in completion order */
  size_t rhead;  /* next index for as_completed to hand out */
  cc_future_t **fs;
  nslot_t *slots;
};

static void notifier_unref(notifier_t *nt) {
  if (atomic_fetch_sub_explicit(&nt->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < nt->n; i++)
    cc_future_unref(nt->fs[i]);
  pthread_mutex_destroy(&nt->mu);
  free(nt->ready);
  free(nt->fs);
  free(nt->slots);
  free(nt);
}

static void notifier_cb(cc_future_t *f, void *arg) {
  nslot_t *s = arg;
  notifier_t *nt = s->nt;
  pthread_mutex_lock(&nt->mu);
  nt->ready[nt->ndone++] = s->idx;
  if (!cc_future_cancelled(f) && f->err)
    nt->nerr++;
  cc__tw_broadcast(&nt->waiters, 0);
  pthread_mutex_unlock(&nt->mu);
  notifier_unref(nt);
}

/* Creates a notifier over fs[0..n) holding a reference on each future. */
static int notifier_new(notifier_t **out, cc_future_t *const *fs, size_t n) {
  notifier_t *nt = calloc(1, sizeof *nt);
  if (!nt)
    return -ENOMEM;
  nt->ready = malloc((n ? n : 1) * sizeof *nt->ready);
  nt->fs = malloc((n ? n : 1) * sizeof *nt->fs);
  nt->slots = malloc((n ? n : 1) * sizeof *nt->slots);
  if (!nt->ready || !nt->fs || !nt->slots) {
    free(nt->ready);
    free(nt->fs);
    free(nt->slots);
    free(nt);
    return -ENOMEM;
  }
  pthread_mutex_init(&nt->mu, NULL);
  atomic_init(&nt->refs, 1);
  for (size_t i = 0; i < n; i++) {
    nt->fs[i] = cc_future_ref(fs[i]);
    nt->n = i + 1;
    nt->slots[i].nt = nt;
    nt->slots[i].idx = i;
    atomic_fetch_add(&nt->refs, 1);
    int r = cc_future_add_done_callback(fs[i], notifier_cb, &nt->slots[i]);
    if (r < 0) {
      /* Futures already registered will still call back; let them. Mark the
       * rest as never coming by dropping their references now. */
      atomic_fetch_sub(&nt->refs, 1);
      notifier_unref(nt);
      return r;
    }
  }
  *out = nt;
  return 0;
}

int cc_futures_wait(cc_future_t *const *fs, size_t n, cc_wait_mode_t mode,
                    int64_t deadline) {
  if (n && !fs)
    return -EINVAL;
  if (mode == CC_ALL_COMPLETED) {
    /* No notifier needed: wait for each in turn. */
    for (size_t i = 0; i < n; i++) {
      int r = cc_future_wait(fs[i], deadline);
      if (r < 0)
        return r;
    }
    return (int)n;
  }
  if (mode != CC_FIRST_COMPLETED && mode != CC_FIRST_EXCEPTION)
    return -EINVAL;
  if (n == 0)
    return 0;
  notifier_t *nt;
  int r = notifier_new(&nt, fs, n);
  if (r < 0)
    return r;
  pthread_mutex_lock(&nt->mu);
  for (;;) {
    if (nt->ndone == n || (mode == CC_FIRST_COMPLETED && nt->ndone > 0) ||
        (mode == CC_FIRST_EXCEPTION && nt->nerr > 0)) {
      r = (int)nt->ndone;
      break;
    }
    cc__tw_t w;
    r = cc__tw_wait(&nt->waiters, &nt->mu, &w, "futures wait", nt, deadline, 0);
    if (r < 0)
      break;
  }
  pthread_mutex_unlock(&nt->mu);
  notifier_unref(nt);
  return r;
}

struct cc_as_completed {
  notifier_t *nt;
};

int cc_as_completed_new(cc_as_completed_t **out, cc_future_t *const *fs, size_t n) {
  if (!out || (n && !fs))
    return -EINVAL;
  cc_as_completed_t *it = malloc(sizeof *it);
  if (!it)
    return -ENOMEM;
  int r = notifier_new(&it->nt, fs, n);
  if (r < 0) {
    free(it);
    return r;
  }
  *out = it;
  return 0;
}

int cc_as_completed_next(cc_as_completed_t *it, int64_t deadline, cc_future_t **f) {
  notifier_t *nt = it->nt;
  int r = 0;
  *f = NULL;
  pthread_mutex_lock(&nt->mu);
  while (nt->rhead < nt->n) {
    if (nt->rhead < nt->ndone) {
      *f = nt->fs[nt->ready[nt->rhead++]];
      break;
    }
    cc__tw_t w;
    r = cc__tw_wait(&nt->waiters, &nt->mu, &w, "as_completed", nt, deadline, 0);
    if (r < 0)
      break;
  }
  pthread_mutex_unlock(&nt->mu);
  return r;
}

void cc_as_completed_free(cc_as_completed_t *it) {
  if (!it)
    return;
  notifier_unref(it->nt);
  free(it);
}

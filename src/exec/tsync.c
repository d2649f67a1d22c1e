/* Thread-level Lock/RLock, Event, Semaphore, Condition, Barrier and Queue.
 *
 * Each object is one pthread mutex guarding its state plus wait queues of
 * cc__tw_t (task/wait.h), so that threads block on condition variables and
 * coroutines park without blocking their loop. The mutex is never held
 * across a wait, a park, or a call into user code. Wakers wake one waiter
 * per unit of resource released (a lock release, a semaphore count, a
 * queued item, a free slot); the woken waiter re-checks under the mutex,
 * because a newcomer may have taken the resource first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "concur/thread.h"
#include "task/wait.h"

#define LOCKED(obj, body)                                                                \
  do {                                                                                   \
    pthread_mutex_lock(&(obj)->mu);                                                      \
    body;                                                                                \
    pthread_mutex_unlock(&(obj)->mu);                                                    \
  } while (0)

/* ---- Lock / RLock ----------------------------------------------------------- */

struct cc_tlock {
  pthread_mutex_t mu;
  cc__twq_t waiters;
  uintptr_t owner; /* cc__owner_id() of the holder, 0 when free */
  unsigned count;  /* nesting depth (always 1 for a plain lock) */
  bool recursive;
};

int cc_tlock_new(cc_tlock_t **out, unsigned flags) {
  if (!out || (flags & ~CC_TLOCK_RECURSIVE))
    return -EINVAL;
  cc_tlock_t *l = calloc(1, sizeof *l);
  if (!l)
    return -ENOMEM;
  pthread_mutex_init(&l->mu, NULL);
  l->recursive = flags & CC_TLOCK_RECURSIVE;
  *out = l;
  return 0;
}

int cc_tlock_free(cc_tlock_t *l) {
  if (!l)
    return 0;
  pthread_mutex_lock(&l->mu);
  bool busy = l->count || l->waiters.n;
  pthread_mutex_unlock(&l->mu);
  if (busy)
    return -EBUSY;
  pthread_mutex_destroy(&l->mu);
  free(l);
  return 0;
}

/* Takes the lock for `me` if possible; l->mu held. 1 taken, 0 not, <0. */
static int tlock_take(cc_tlock_t *l, uintptr_t me) {
  if (l->count == 0) {
    l->owner = me;
    l->count = 1;
    return 1;
  }
  if (l->owner == me)
    return l->recursive ? (int)(++l->count, 1) : -EDEADLK;
  return 0;
}

static int tlock_acquire(cc_tlock_t *l, int64_t deadline, unsigned flags,
                         unsigned depth) {
  uintptr_t me = cc__owner_id();
  pthread_mutex_lock(&l->mu);
  int r;
  while ((r = tlock_take(l, me)) == 0) {
    cc__tw_t w;
    r = cc__tw_wait(&l->waiters, &l->mu, &w, "thread lock", l, deadline, flags);
    if (r < 0)
      break;
  }
  if (r == 1 && depth > 1)
    l->count = depth; /* restoring an RLock after a condition wait */
  /* A waiter that gives up may leave the lock free with others waiting:
   * they were not signalled for it, so pass the turn on. */
  if (r < 0 && l->count == 0)
    cc__tw_signal(&l->waiters, 0);
  pthread_mutex_unlock(&l->mu);
  return r < 0 ? r : 0;
}

int cc_tlock_acquire(cc_tlock_t *l, int64_t deadline) {
  return tlock_acquire(l, deadline, 0, 1);
}

int cc_tlock_try_acquire(cc_tlock_t *l) {
  pthread_mutex_lock(&l->mu);
  int r = tlock_take(l, cc__owner_id());
  pthread_mutex_unlock(&l->mu);
  return r == 1 ? 0 : r == 0 ? -EBUSY : r;
}

/* Releases `all` levels (or one); stores the depth released in *depth. */
static int tlock_release(cc_tlock_t *l, bool all, unsigned *depth) {
  pthread_mutex_lock(&l->mu);
  if (l->count == 0 || (l->recursive && l->owner != cc__owner_id())) {
    pthread_mutex_unlock(&l->mu);
    return -EPERM;
  }
  unsigned d = all ? l->count : 1;
  l->count -= d;
  if (l->count == 0) {
    l->owner = 0;
    cc__tw_signal(&l->waiters, 0);
  }
  pthread_mutex_unlock(&l->mu);
  if (depth)
    *depth = d;
  return 0;
}

int cc_tlock_release(cc_tlock_t *l) {
  return tlock_release(l, false, NULL);
}

bool cc_tlock_locked(cc_tlock_t *l) {
  bool r;
  LOCKED(l, r = l->count > 0);
  return r;
}

/* ---- Event -------------------------------------------------------------------- */

struct cc_tevent {
  pthread_mutex_t mu;
  cc__twq_t waiters;
  bool flag;
};

int cc_tevent_new(cc_tevent_t **out) {
  if (!out)
    return -EINVAL;
  cc_tevent_t *e = calloc(1, sizeof *e);
  if (!e)
    return -ENOMEM;
  pthread_mutex_init(&e->mu, NULL);
  *out = e;
  return 0;
}

int cc_tevent_free(cc_tevent_t *e) {
  if (!e)
    return 0;
  size_t n;
  LOCKED(e, n = e->waiters.n);
  if (n)
    return -EBUSY;
  pthread_mutex_destroy(&e->mu);
  free(e);
  return 0;
}

void cc_tevent_set(cc_tevent_t *e) {
  LOCKED(e, {
    e->flag = true;
    cc__tw_broadcast(&e->waiters, 0);
  });
}

void cc_tevent_clear(cc_tevent_t *e) {
  LOCKED(e, e->flag = false);
}

bool cc_tevent_is_set(cc_tevent_t *e) {
  bool r;
  LOCKED(e, r = e->flag);
  return r;
}

int cc_tevent_wait(cc_tevent_t *e, int64_t deadline) {
  int r = 0;
  pthread_mutex_lock(&e->mu);
  while (!e->flag) {
    cc__tw_t w;
    r = cc__tw_wait(&e->waiters, &e->mu, &w, "thread event", e, deadline, 0);
    if (r < 0 || w.signalled)
      break; /* signalled: it was set, even if cleared again since */
  }
  pthread_mutex_unlock(&e->mu);
  return r;
}

/* ---- Semaphore ---------------------------------------------------------------- */

struct cc_tsem {
  pthread_mutex_t mu;
  cc__twq_t waiters;
  unsigned value, bound;
};

int cc_tsem_new(cc_tsem_t **out, unsigned value, unsigned bound) {
  if (!out || (bound && value > bound))
    return -EINVAL;
  cc_tsem_t *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  pthread_mutex_init(&s->mu, NULL);
  s->value = value;
  s->bound = bound;
  *out = s;
  return 0;
}

int cc_tsem_free(cc_tsem_t *s) {
  if (!s)
    return 0;
  size_t n;
  LOCKED(s, n = s->waiters.n);
  if (n)
    return -EBUSY;
  pthread_mutex_destroy(&s->mu);
  free(s);
  return 0;
}

int cc_tsem_acquire(cc_tsem_t *s, int64_t deadline) {
  int r = 0;
  pthread_mutex_lock(&s->mu);
  while (s->value == 0) {
    cc__tw_t w;
    r = cc__tw_wait(&s->waiters, &s->mu, &w, "thread semaphore", s, deadline, 0);
    if (r < 0)
      break;
  }
  if (r == 0)
    s->value--;
  else if (s->value > 0)
    cc__tw_signal(&s->waiters, 0); /* pass on a count we will not take */
  pthread_mutex_unlock(&s->mu);
  return r;
}

int cc_tsem_try_acquire(cc_tsem_t *s) {
  int r = -EBUSY;
  LOCKED(
      s, if (s->value > 0) {
        s->value--;
        r = 0;
      });
  return r;
}

int cc_tsem_release(cc_tsem_t *s) {
  int r = 0;
  LOCKED(s, {
    if (s->bound ? s->value >= s->bound : s->value == UINT32_MAX) {
      r = -EOVERFLOW;
    } else {
      s->value++;
      cc__tw_signal(&s->waiters, 0);
    }
  });
  return r;
}

unsigned cc_tsem_value(cc_tsem_t *s) {
  unsigned v;
  LOCKED(s, v = s->value);
  return v;
}

/* ---- Condition ---------------------------------------------------------------
 * Lock order: c->mu, then l->mu (cc_tcond_wait releases `l` while holding
 * c->mu, so that a notify between the release and the wait is not lost). */

struct cc_tcond {
  pthread_mutex_t mu;
  cc__twq_t waiters;
};

int cc_tcond_new(cc_tcond_t **out) {
  if (!out)
    return -EINVAL;
  cc_tcond_t *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

int cc_tcond_free(cc_tcond_t *c) {
  if (!c)
    return 0;
  size_t n;
  LOCKED(c, n = c->waiters.n);
  if (n)
    return -EBUSY;
  pthread_mutex_destroy(&c->mu);
  free(c);
  return 0;
}

int cc_tcond_wait(cc_tcond_t *c, cc_tlock_t *l, int64_t deadline) {
  pthread_mutex_lock(&c->mu);
  unsigned depth;
  /* A plain lock may be released by anyone, so "held by the caller" is
   * checked only as far as the lock can tell. */
  if (!l->recursive) {
    pthread_mutex_lock(&l->mu);
    bool mine = l->count && l->owner == cc__owner_id();
    pthread_mutex_unlock(&l->mu);
    if (!mine) {
      pthread_mutex_unlock(&c->mu);
      return -EPERM;
    }
  }
  int r = tlock_release(l, true, &depth);
  if (r < 0) {
    pthread_mutex_unlock(&c->mu);
    return r;
  }
  cc__tw_t w;
  r = cc__tw_wait(&c->waiters, &c->mu, &w, "thread condition", c, deadline, 0);
  pthread_mutex_unlock(&c->mu);
  /* The caller holds `l` again whatever happened (shielded wait). */
  tlock_acquire(l, CC_FOREVER, CC__TW_SHIELD, depth);
  return r;
}

int cc_tcond_wait_for(cc_tcond_t *c, cc_tlock_t *l, bool (*pred)(void *arg), void *arg,
                      int64_t deadline) {
  while (!pred(arg)) {
    int r = cc_tcond_wait(c, l, deadline);
    if (r < 0)
      return pred(arg) ? 0 : r;
  }
  return 0;
}

void cc_tcond_notify(cc_tcond_t *c, size_t n) {
  LOCKED(c, {
    while (n-- > 0 && cc__tw_signal(&c->waiters, 0))
      ;
  });
}

void cc_tcond_notify_all(cc_tcond_t *c) {
  LOCKED(c, cc__tw_broadcast(&c->waiters, 0));
}

/* ---- Barrier ------------------------------------------------------------------ */

struct cc_barrier {
  pthread_mutex_t mu;
  cc__twq_t waiters;
  unsigned parties, count;
  bool broken;
};

int cc_barrier_new(cc_barrier_t **out, unsigned parties) {
  if (!out || parties == 0)
    return -EINVAL;
  cc_barrier_t *b = calloc(1, sizeof *b);
  if (!b)
    return -ENOMEM;
  pthread_mutex_init(&b->mu, NULL);
  b->parties = parties;
  *out = b;
  return 0;
}

int cc_barrier_free(cc_barrier_t *b) {
  if (!b)
    return 0;
  size_t n;
  LOCKED(b, n = b->waiters.n);
  if (n)
    return -EBUSY;
  pthread_mutex_destroy(&b->mu);
  free(b);
  return 0;
}

int cc_barrier_wait(cc_barrier_t *b, int64_t deadline) {
  pthread_mutex_lock(&b->mu);
  if (b->broken) {
    pthread_mutex_unlock(&b->mu);
    return -EPIPE;
  }
  int idx = (int)b->count++;
  if (b->count == b->parties) {
    b->count = 0;
    cc__tw_broadcast(&b->waiters, 0); /* the round is complete */
    pthread_mutex_unlock(&b->mu);
    return idx;
  }
  cc__tw_t w;
  int r;
  for (;;) {
    r = cc__tw_wait(&b->waiters, &b->mu, &w, "thread barrier", b, deadline, 0);
    if (w.signalled) {
      r = w.result; /* 0: passed; -EPIPE: broken or reset */
      break;
    }
    if (r < 0) {
      /* Giving up breaks the barrier for everyone, as in Python. */
      b->broken = true;
      b->count = 0;
      cc__tw_broadcast(&b->waiters, -EPIPE);
      break;
    }
  }
  pthread_mutex_unlock(&b->mu);
  return r < 0 ? r : idx;
}

void cc_barrier_abort(cc_barrier_t *b) {
  LOCKED(b, {
    b->broken = true;
    b->count = 0;
    cc__tw_broadcast(&b->waiters, -EPIPE);
  });
}

void cc_barrier_reset(cc_barrier_t *b) {
  LOCKED(b, {
    cc__tw_broadcast(&b->waiters, -EPIPE);
    b->broken = false;
    b->count = 0;
  });
}

unsigned cc_barrier_parties(cc_barrier_t *b) {
  return b->parties;
}

unsigned cc_barrier_waiting(cc_barrier_t *b) {
  unsigned n;
  LOCKED(b, n = b->count);
  return n;
}

bool cc_barrier_broken(cc_barrier_t *b) {
  bool r;
  LOCKED(b, r = b->broken);
  return r;
}

/* ---- Queue --------------------------------------------------------------------
 * A ring buffer; an unbounded queue doubles it when full. */

struct cc_tqueue {
  pthread_mutex_t mu;
  cc__twq_t getters, putters, joiners;
  size_t unfinished; /* items put and not yet marked done (task_done) */
  void **buf;
  size_t cap;      /* allocated slots */
  size_t head, n;  /* oldest item, item count */
  size_t capacity; /* 0: unbounded */
  bool closed;
};

int cc_tqueue_new(cc_tqueue_t **out, size_t capacity) {
  if (!out)
    return -EINVAL;
  cc_tqueue_t *q = calloc(1, sizeof *q);
  if (!q)
    return -ENOMEM;
  q->cap = capacity ? capacity : 16;
  q->buf = malloc(q->cap * sizeof *q->buf);
  if (!q->buf) {
    free(q);
    return -ENOMEM;
  }
  pthread_mutex_init(&q->mu, NULL);
  q->capacity = capacity;
  *out = q;
  return 0;
}

int cc_tqueue_free(cc_tqueue_t *q) {
  if (!q)
    return 0;
  size_t n;
  LOCKED(q, n = q->getters.n + q->putters.n + q->joiners.n);
  if (n)
    return -EBUSY;
  pthread_mutex_destroy(&q->mu);
  free(q->buf);
  free(q);
  return 0;
}

static bool tq_full(const cc_tqueue_t *q) {
  return q->capacity && q->n >= q->capacity;
}

/* Appends; q->mu held and the queue not full. */
static int tq_push(cc_tqueue_t *q, void *item) {
  if (q->n == q->cap) {
    size_t ncap = q->cap * 2;
    void **nb = malloc(ncap * sizeof *nb);
    if (!nb)
      return -ENOMEM;
    for (size_t i = 0; i < q->n; i++)
      nb[i] = q->buf[(q->head + i) % q->cap];
    free(q->buf);
    q->buf = nb;
    q->cap = ncap;
    q->head = 0;
  }
  q->buf[(q->head + q->n) % q->cap] = item;
  q->n++;
  q->unfinished++;
  cc__tw_signal(&q->getters, 0);
  return 0;
}

static void *tq_pop(cc_tqueue_t *q) {
  void *item = q->buf[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  cc__tw_signal(&q->putters, 0);
  return item;
}

int cc_tqueue_put(cc_tqueue_t *q, void *item, int64_t deadline) {
  int r = 0;
  pthread_mutex_lock(&q->mu);
  while (!q->closed && tq_full(q)) {
    cc__tw_t w;
    r = cc__tw_wait(&q->putters, &q->mu, &w, "thread queue put", q, deadline, 0);
    if (r < 0)
      break;
  }
  if (q->closed)
    r = -CC_ECLOSED;
  if (r == 0)
    r = tq_push(q, item);
  else if (!q->closed && !tq_full(q))
    cc__tw_signal(&q->putters, 0); /* pass on a slot we will not use */
  pthread_mutex_unlock(&q->mu);
  return r;
}

int cc_tqueue_try_put(cc_tqueue_t *q, void *item) {
  int r;
  LOCKED(q, r = q->closed ? -CC_ECLOSED : tq_full(q) ? -EAGAIN : tq_push(q, item));
  return r;
}

int cc_tqueue_get(cc_tqueue_t *q, void **item, int64_t deadline) {
  int r = 0;
  pthread_mutex_lock(&q->mu);
  while (q->n == 0 && !q->closed) {
    cc__tw_t w;
    r = cc__tw_wait(&q->getters, &q->mu, &w, "thread queue get", q, deadline, 0);
    if (r < 0)
      break;
  }
  if (q->n > 0 && r == 0) {
    void *it = tq_pop(q);
    if (item)
      *item = it;
  } else if (r == 0) {
    r = -CC_ECLOSED;
  } else if (q->n > 0) {
    cc__tw_signal(&q->getters, 0); /* pass on an item we will not take */
  }
  pthread_mutex_unlock(&q->mu);
  return r;
}

int cc_tqueue_try_get(cc_tqueue_t *q, void **item) {
  int r = 0;
  LOCKED(q, {
    if (q->n > 0) {
      void *it = tq_pop(q);
      if (item)
        *item = it;
    } else {
      r = q->closed ? -CC_ECLOSED : -EAGAIN;
    }
  });
  return r;
}

void cc_tqueue_close(cc_tqueue_t *q) {
  LOCKED(q, {
    q->closed = true;
    cc__tw_broadcast(&q->putters, 0);
    cc__tw_broadcast(&q->getters, 0);
  });
}

size_t cc_tqueue_size(cc_tqueue_t *q) {
  size_t n;
  LOCKED(q, n = q->n);
  return n;
}

int cc_tqueue_task_done(cc_tqueue_t *q) {
  int r = 0;
  LOCKED(q, {
    if (q->unfinished == 0)
      r = -EINVAL;
    else if (--q->unfinished == 0)
      cc__tw_broadcast(&q->joiners, 0);
  });
  return r;
}

int cc_tqueue_join(cc_tqueue_t *q, int64_t deadline) {
  int r = 0;
  pthread_mutex_lock(&q->mu);
  while (q->unfinished > 0) {
    cc__tw_t w;
    r = cc__tw_wait(&q->joiners, &q->mu, &w, "thread queue join", q, deadline, 0);
    if (r < 0)
      break;
  }
  pthread_mutex_unlock(&q->mu);
  return r;
}

size_t cc_tqueue_capacity(cc_tqueue_t *q) {
  return q->capacity;
}

/* cc_queue: a FIFO of pointers, unbounded, bounded with back-pressure, or a
 * rendezvous (asyncio.Queue(maxsize), Go channels).
 *
 * Invariants: getters wait only while the ring is empty, putters only while
 * it is full (a rendezvous is always full: its putters wait until a getter
 * comes; an unbounded queue never is). So a put that finds a waiting getter
 * hands the item straight to it, and a get that frees a slot moves the
 * first waiting putter's item into the ring. Every hand-off goes through
 * cc__handoff(), which skips a waiter whose wait was already ended by
 * cancellation or a deadline: a waiter woken with 0 has completed its
 * operation; one woken with an error has not, and nothing of it (its item,
 * or an item meant for it) is left anywhere. The common hand-off (to the
 * first waiter, still parked, of this loop, with no timer) is done inline
 * by take_fast() with the same outcome; W2 measures it (docs/coro.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop/loop_int.h"
#define CC__SYNC_WAKE cc__wake_inl
#include "sync/sync_int.h"

struct cc_queue {
  void **ring;
  size_t cap;   /* slots in ring */
  size_t max;   /* most items held: SIZE_MAX unbounded, 0 rendezvous */
  size_t asked; /* the capacity given to cc_queue_new */
  size_t head, count;
  bool closed;
  cc__wlist_t getters; /* waiter->data: where the item goes (void **, or NULL) */
  cc__wlist_t putters; /* waiter->data holds the item */
};

int cc_queue_new(cc_queue_t **out, size_t capacity) {
  if (!out)
    return -EINVAL;
  size_t max = capacity == CC_QUEUE_UNBOUNDED    ? SIZE_MAX
               : capacity == CC_QUEUE_RENDEZVOUS ? 0
                                                 : capacity;
  if (max && max != SIZE_MAX && max > SIZE_MAX / sizeof(void *))
    return -EINVAL;
  cc_queue_t *q = calloc(1, sizeof *q);
  if (!q)
    return -ENOMEM;
  if (max && max != SIZE_MAX) { /* bounded: the whole ring at once */
    q->ring = malloc(max * sizeof(void *));
    if (!q->ring) {
      free(q);
      return -ENOMEM;
    }
    q->cap = max;
  }
  q->max = max;
  q->asked = capacity;
  *out = q;
  return 0;
}

int cc_queue_free(cc_queue_t *q) {
  if (!q)
    return 0;
  if (q->getters.head || q->putters.head)
    return -EBUSY;
  free(q->ring);
  free(q);
  return 0;
}

static inline void ring_push(cc_queue_t *q, void *item) {
  size_t i = q->head + q->count;
  if (i >= q->cap)
    i -= q->cap;
  q->ring[i] = item;
  q->count++;
}

static inline void *ring_pop(cc_queue_t *q) {
  void *item = q->ring[q->head];
  if (++q->head == q->cap)
    q->head = 0;
  q->count--;
  return item;
}

/* Unbounded queue: doubles the ring, keeping the items in order. */
static int ring_grow(cc_queue_t *q) {
  size_t cap = q->cap ? q->cap * 2 : 16;
  if (cap > SIZE_MAX / 2 / sizeof(void *))
    return -ENOMEM;
  void **ring = malloc(cap * sizeof(void *));
  if (!ring)
    return -ENOMEM;
  size_t first = q->cap - q->head; /* items from head to the end of the ring */
  if (first > q->count)
    first = q->count;
  if (q->count) {
    memcpy(ring, q->ring + q->head, first * sizeof(void *));
    memcpy(ring + first, q->ring, (q->count - first) * sizeof(void *));
  }
  free(q->ring);
  q->ring = ring;
  q->cap = cap;
  q->head = 0;
  return 0;
}

/* Completes a hand-off to getter `g` (already woken with 0): the item goes
 * where its waiter points. */
static inline void give(cc__waiter_t *g, void *item) {
  if (g->data)
    *(void **)g->data = item;
}

static inline int try_put(cc_queue_t *q, void *item) {
  if (!q)
    return -EINVAL;
  if (q->closed)
    return -CC_ECLOSED;
  cc__waiter_t *g = cc__handoff(&q->getters, 0);
  if (g) {
    give(g, item);
    return 0;
  }
  if (CC_LIKELY(q->count < q->cap)) {
    ring_push(q, item);
    return 0;
  }
  if (q->count < q->max) { /* unbounded: room is made */
    int r = ring_grow(q);
    if (r < 0)
      return r;
    ring_push(q, item);
    return 0;
  }
  return -EAGAIN;
}

static inline int try_get(cc_queue_t *q, void **item) {
  if (!q)
    return -EINVAL;
  if (q->count) {
    void *v = ring_pop(q);
    cc__waiter_t *p = cc__handoff(&q->putters, 0); /* a slot is free */
    if (p)
      ring_push(q, p->data);
    if (item)
      *item = v;
    return 0;
  }
  cc__waiter_t *p = cc__handoff(&q->putters, 0); /* rendezvous */
  if (p) {
    if (item)
      *item = p->data;
    return 0;
  }
  return q->closed ? -CC_ECLOSED : -EAGAIN;
}

int cc_queue_try_put(cc_queue_t *q, void *item) {
  return try_put(q, item);
}

int cc_queue_try_get(cc_queue_t *q, void **item) {
  return try_get(q, item);
}

/* The first waiter of `wl`, if a hand-off to it can take the fast path: a
 * task of this loop (`l`), still parked with the waiter's token, with no
 * timer armed. Then it is unlinked and made runnable with 0, exactly as
 * cc__handoff() would; otherwise NULL, and nothing has changed (the
 * caller's slow path runs cc__handoff(), which skips ended waiters, wakes
 * other loops' tasks and disarms timers). */
static inline CC__HOT cc__waiter_t *take_fast(cc__wlist_t *wl, cc__waiter_t *w,
                                              cc_loop_t *l) {
  cc_task_t *t = w->task;
  if (CC_UNLIKELY(t->loop != l || t->state != CC__PARKED || t->token != w->token ||
                  t->timer.where))
    return NULL;
  cc__wlist_pop_head(wl, w);
  t->wake_result = 0;
  t->state = CC__READY;
  cc__rq_push(l, t);
  return w;
}

/* Suspending: a putter that found the queue full, a getter that found it
 * empty (`get`), with `data` the item put or where the item got goes.
 * Nothing is kept in registers across the switch (cc__park_lean gets the
 * task back from it; a getter's item is written through the pointer its
 * waiter holds; the queue is the task's wait_obj), so with `plain` (the
 * caller checked cc__park_plain_ok) the only registers saved are the
 * switch's own. */
static inline CC__HOT int queue_wait(cc_queue_t *q, bool get, void *data, bool plain) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (!self)
    return -CC_ENOTCORO;
  cc__waiter_t w;
  w.task = self;
  w.token = self->token;
  w.data = data;
  cc__wlist_push(get ? &q->getters : &q->putters, &w);
  const char *what = get ? "queue get" : "queue put";
  int r = plain ? cc__park_lean(l, self, what, q)
                : cc__park_inl(l, self, what, q, CC_FOREVER);
  if (CC_UNLIKELY(r < 0)) {
    q = (cc_queue_t *)w.task->wait_obj;
    cc__wlist_remove(get ? &q->getters : &q->putters, &w);
  }
  return r;
}

/* With a deadline scope or a cancellation pending: the general park. */
static __attribute__((noinline)) int put_wait(cc_queue_t *q, void *item) {
  return queue_wait(q, false, item, false);
}

static __attribute__((noinline)) int get_wait(cc_queue_t *q, void **item) {
  return queue_wait(q, true, item, false);
}

CC__PARK_IMPL int cc__queue_put_park(cc_queue_t *q, void *item);
CC__PARK_IMPL int cc__queue_put_park(cc_queue_t *q, void *item) {
  cc_task_t *self = cc__current();
  if (CC_UNLIKELY(!self || !cc__park_plain_ok(self, CC_FOREVER)))
    return put_wait(q, item);
  return queue_wait(q, false, item, true);
}

CC__PARK_IMPL int cc__queue_get_park(cc_queue_t *q, void **item);
CC__PARK_IMPL int cc__queue_get_park(cc_queue_t *q, void **item) {
  cc_task_t *self = cc__current();
  if (CC_UNLIKELY(!self || !cc__park_plain_ok(self, CC_FOREVER)))
    return get_wait(q, item);
  return queue_wait(q, true, item, true);
}

/* The parking halves are entered through their return stubs where the
 * architecture has them (coro/coro.h), by a tail call, so that a task
 * resumed by a hand-off returns to the caller of cc_queue_put/get without
 * a mispredicted `ret`. */
#ifdef CC__PARK_STUB
int cc__queue_put_park_s(cc_queue_t *q, void *item);
int cc__queue_get_park_s(cc_queue_t *q, void **item);
CC__PARK_STUB(cc__queue_put_park_s, cc__queue_put_park);
CC__PARK_STUB(cc__queue_get_park_s, cc__queue_get_park);
#define PUT_PARK cc__queue_put_park_s
#define GET_PARK cc__queue_get_park_s
#else
#define PUT_PARK cc__queue_put_park
#define GET_PARK cc__queue_get_park
#endif

/* The general cases, out of line: try, then wait. */
static __attribute__((noinline)) int put_slow(cc_queue_t *q, void *item) {
  int r = try_put(q, item);
  if (r != -EAGAIN)
    return r;
  return PUT_PARK(q, item);
}

static __attribute__((noinline)) int get_slow(cc_queue_t *q, void **item) {
  int r = try_get(q, item);
  if (r != -EAGAIN)
    return r;
  return GET_PARK(q, item);
}

/* put and get: the common cases inline, with no call and no register to
 * save; the rest is the slow half's. */
int cc_queue_put(cc_queue_t *q, void *item) {
  if (CC_LIKELY(q != NULL && !q->closed)) {
    cc__waiter_t *g = q->getters.head;
    if (g) { /* the ring is empty: straight to the first getter */
      if (CC_LIKELY(take_fast(&q->getters, g, cc__tl_loop) != NULL)) {
        give(g, item);
        return 0;
      }
    } else if (q->count < q->cap) {
      ring_push(q, item);
      return 0;
    } else if (q->count >= q->max) { /* full (a rendezvous always is) */
      return PUT_PARK(q, item);
    }
  }
  return put_slow(q, item);
}

int cc_queue_get(cc_queue_t *q, void **item) {
  if (CC_LIKELY(q != NULL)) {
    cc__waiter_t *p = q->putters.head;
    if (q->count) {
      if (!p) {
        void *v = ring_pop(q);
        if (item)
          *item = v;
        return 0;
      }
    } else if (!p) {
      if (!q->closed)
        return GET_PARK(q, item);
    } else if (take_fast(&q->putters, p, cc__tl_loop)) { /* rendezvous */
      if (item)
        *item = p->data;
      return 0;
    }
  }
  return get_slow(q, item);
}

void cc_queue_close(cc_queue_t *q) {
  if (!q || q->closed)
    return;
  q->closed = true;
  while (cc__handoff(&q->putters, -CC_ECLOSED)) {
  }
  while (cc__handoff(&q->getters, -CC_ECLOSED)) {
  }
}

size_t cc_queue_size(const cc_queue_t *q) {
  return q ? q->count : 0;
}

size_t cc_queue_capacity(const cc_queue_t *q) {
  return q ? q->asked : 0;
}

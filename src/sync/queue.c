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
 * or an item meant for it) is left anywhere.
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
  cc__wlist_t getters; /* waiter->data receives the item */
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
  if (q->getters.n || q->putters.n)
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

static inline int try_put(cc_queue_t *q, void *item) {
  if (!q)
    return -EINVAL;
  if (q->closed)
    return -CC_ECLOSED;
  cc__waiter_t *g = cc__handoff(&q->getters, 0);
  if (g) {
    g->data = item; /* g runs later: it reads the item then */
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

int cc_queue_put(cc_queue_t *q, void *item) {
  int r = try_put(q, item);
  if (r != -EAGAIN)
    return r;
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (!self)
    return -CC_ENOTCORO;
  cc__waiter_t w = {.task = self, .token = self->token, .data = item};
  cc__wlist_push(&q->putters, &w);
  r = cc__park_inl(l, self, "queue put", q, CC_FOREVER);
  if (r < 0)
    cc__wlist_remove(&q->putters, &w);
  return r;
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

int cc_queue_get(cc_queue_t *q, void **item) {
  int r = try_get(q, item);
  if (r != -EAGAIN)
    return r;
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (!self)
    return -CC_ENOTCORO;
  cc__waiter_t w = {.task = self, .token = self->token};
  cc__wlist_push(&q->getters, &w);
  r = cc__park_inl(l, self, "queue get", q, CC_FOREVER);
  if (r < 0) {
    cc__wlist_remove(&q->getters, &w);
    return r;
  }
  if (item)
    *item = w.data;
  return 0;
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

/* cc_queue: a bounded FIFO with back-pressure (asyncio.Queue, Go channels).
 *
 * Invariants: getters wait only while the ring is empty, putters only while
 * it is full (or, for capacity 0, until a getter comes). So a put that finds
 * a waiting getter hands the item straight to it, and a get that frees a
 * slot moves the first waiting putter's item into the ring. A waiter woken
 * with 0 has completed its operation; one woken with an error has not.
 */
#include <errno.h>
#include <stdlib.h>

#include "loop/loop_int.h"
#include "sync/sync_int.h"

struct cc_queue {
  void **ring;
  size_t cap, head, count;
  bool closed;
  cc__wlist_t getters; /* waiter->data receives the item */
  cc__wlist_t putters; /* waiter->data holds the item */
};

int cc_queue_new(cc_queue_t **out, size_t capacity) {
  if (!out || capacity > SIZE_MAX / sizeof(void *))
    return -EINVAL;
  cc_queue_t *q = calloc(1, sizeof *q);
  if (!q)
    return -ENOMEM;
  if (capacity) {
    q->ring = malloc(capacity * sizeof(void *));
    if (!q->ring) {
      free(q);
      return -ENOMEM;
    }
  }
  q->cap = capacity;
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

static inline int try_put(cc_queue_t *q, void *item) {
  if (!q)
    return -EINVAL;
  if (q->closed)
    return -CC_ECLOSED;
  cc__waiter_t *g = cc__wlist_pop(&q->getters);
  if (g) {
    g->data = item;
    cc__wake_inl(g->task, g->token, 0);
    return 0;
  }
  if (q->count < q->cap) {
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
    cc__waiter_t *p = cc__wlist_pop(&q->putters);
    if (p) {
      ring_push(q, p->data);
      cc__wake_inl(p->task, p->token, 0);
    }
    if (item)
      *item = v;
    return 0;
  }
  cc__waiter_t *p = cc__wlist_pop(&q->putters); /* capacity 0: rendezvous */
  if (p) {
    if (item)
      *item = p->data;
    cc__wake_inl(p->task, p->token, 0);
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
  cc__waiter_t *w;
  while ((w = cc__wlist_pop(&q->putters)))
    cc__wake_inl(w->task, w->token, -CC_ECLOSED);
  while ((w = cc__wlist_pop(&q->getters)))
    cc__wake_inl(w->task, w->token, -CC_ECLOSED);
}

size_t cc_queue_size(const cc_queue_t *q) {
  return q ? q->count : 0;
}

size_t cc_queue_capacity(const cc_queue_t *q) {
  return q ? q->cap : 0;
}

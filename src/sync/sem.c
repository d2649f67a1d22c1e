/* cc_sem: asyncio.Semaphore and BoundedSemaphore. A release with waiters
 * hands the unit straight to the first of them that can still take it
 * (FIFO; see cc__handoff), else raises the count. Invariant: while waiters
 * are linked the count is 0. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "sync/sync_int.h"

struct cc_sem {
  unsigned value;
  unsigned bound; /* 0: unbounded */
  cc__wlist_t waiters;
};

int cc_sem_new(cc_sem_t **out, unsigned value, unsigned bound) {
  if (!out || (bound && value > bound))
    return -EINVAL;
  cc_sem_t *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->value = value;
  s->bound = bound;
  *out = s;
  return 0;
}

int cc_sem_free(cc_sem_t *s) {
  if (!s)
    return 0;
  if (s->waiters.head)
    return -EBUSY;
  free(s);
  return 0;
}

int cc_sem_acquire(cc_sem_t *s) {
  if (!cc__self())
    return -CC_ENOTCORO;
  if (!s)
    return -EINVAL;
  if (s->value > 0 && !s->waiters.head) {
    int r = cc__check();
    if (r < 0)
      return r;
    s->value--;
    return 0;
  }
  cc__waiter_t w;
  cc__waiter_init(&w, NULL);
  cc__wlist_push(&s->waiters, &w);
  int r = cc__park("semaphore", s, CC_FOREVER);
  if (r < 0)
    cc__wlist_remove(&s->waiters, &w);
  return r;
}

int cc_sem_try_acquire(cc_sem_t *s) {
  if (!s)
    return -EINVAL;
  if (s->value == 0 || s->waiters.head)
    return -EBUSY;
  s->value--;
  return 0;
}

int cc_sem_release(cc_sem_t *s) {
  if (!s)
    return -EINVAL;
  if (cc__handoff(&s->waiters, 0))
    return 0;
  if (s->value >= (s->bound ? s->bound : UINT_MAX))
    return -EOVERFLOW; /* count untouched */
  s->value++;
  return 0;
}

unsigned cc_sem_value(const cc_sem_t *s) {
  return s ? s->value : 0;
}

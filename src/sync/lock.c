/* cc_lock: asyncio.Lock. Ownership is handed straight to the first waiter
 * that can still take it on release (FIFO, no barging; see cc__handoff),
 * so a waiter woken with 0 owns the lock and one woken with an error does
 * not. */
#include <errno.h>
#include <stdlib.h>

#include "sync/sync_int.h"

int cc_lock_new(cc_lock_t **out) {
  if (!out)
    return -EINVAL;
  cc_lock_t *l = calloc(1, sizeof *l);
  if (!l)
    return -ENOMEM;
  *out = l;
  return 0;
}

int cc_lock_free(cc_lock_t *l) {
  if (!l)
    return 0;
  if (l->owner || l->waiters.head)
    return -EBUSY;
  free(l);
  return 0;
}

int cc_lock_acquire(cc_lock_t *l) {
  cc_task_t *self = cc__self();
  if (!self)
    return -CC_ENOTCORO;
  if (!l)
    return -EINVAL;
  if (!l->owner) {
    int r = cc__check();
    if (r < 0)
      return r;
    l->owner = self;
    return 0;
  }
  if (l->owner == self)
    return -EDEADLK;
  cc__waiter_t w;
  cc__waiter_init(&w, NULL);
  cc__wlist_push(&l->waiters, &w);
  int r = cc__park("lock", l, CC_FOREVER);
  if (r < 0)
    cc__wlist_remove(&l->waiters, &w);
  return r;
}

int cc_lock_try_acquire(cc_lock_t *l) {
  cc_task_t *self = cc__self();
  if (!self)
    return -CC_ENOTCORO;
  if (!l)
    return -EINVAL;
  if (l->owner)
    return -EBUSY;
  l->owner = self;
  return 0;
}

int cc_lock_release(cc_lock_t *l) {
  if (!l)
    return -EINVAL;
  if (!l->owner || l->owner != cc__self())
    return -EPERM;
  cc__waiter_t *w = cc__handoff(&l->waiters, 0);
  l->owner = w ? w->task : NULL;
  return 0;
}

bool cc_lock_locked(const cc_lock_t *l) {
  return l && l->owner;
}

int cc__lock_acquire_shielded(cc_lock_t *l) {
  cc_task_t *self = cc__self();
  bool old = cc__shield(self, true);
  int r = cc_lock_acquire(l);
  cc__shield(self, old);
  return r;
}

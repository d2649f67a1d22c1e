/* cc_cond: asyncio.Condition over a cc_lock. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sync/sync_int.h"

struct cc_cond {
  cc__wlist_t waiters;
};

int cc_cond_new(cc_cond_t **out) {
  if (!out)
    return -EINVAL;
  cc_cond_t *c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  *out = c;
  return 0;
}

int cc_cond_free(cc_cond_t *c) {
  if (!c)
    return 0;
  if (c->waiters.head)
    return -EBUSY;
  free(c);
  return 0;
}

int cc_cond_wait(cc_cond_t *c, cc_lock_t *l) {
  cc_task_t *self = cc__self();
  if (!self)
    return -CC_ENOTCORO;
  if (!c || !l)
    return -EINVAL;
  if (l->owner != self)
    return -EPERM;
  cc__waiter_t w;
  cc__waiter_init(&w, NULL);
  cc__wlist_push(&c->waiters, &w);
  cc_lock_release(l);
  int r = cc__park("condition", c, CC_FOREVER);
  if (r < 0)
    cc__wlist_remove(&c->waiters, &w);
  /* The caller must hold the lock again whatever happened, as with
   * pthread_cond_wait, so the re-acquire ignores cancellation. */
  cc__lock_acquire_shielded(l);
  return r;
}

void cc_cond_notify(cc_cond_t *c, size_t n) {
  if (!c)
    return;
  /* Only waiters that accept count: a notify never goes to one whose wait
   * was already ended by cancellation or a deadline. */
  while (n > 0 && cc__handoff(&c->waiters, 0))
    n--;
}

void cc_cond_notify_all(cc_cond_t *c) {
  cc_cond_notify(c, SIZE_MAX);
}

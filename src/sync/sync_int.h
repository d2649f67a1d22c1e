/* Internal: the structures behind sync.h, shared with the condition
 * variable (which needs to see inside the lock), and the one hand-off
 * mechanism every primitive of sync/ uses. Single-loop objects: no locks,
 * no atomics. */
#ifndef CC_SYNC_INT_H
#define CC_SYNC_INT_H

#include "concur/sync.h"
#include "loop/sched.h"

struct cc_lock {
  cc_task_t *owner;
  cc__wlist_t waiters;
};

/* Acquires `l` ignoring cancellation and deadlines (condition re-acquire). */
int cc__lock_acquire_shielded(cc_lock_t *l);

/* The wake-up cc__handoff() uses: queue.c, on the hot path of a hand-off,
 * defines it to the inline cc__wake_inl() before including this header. */
#ifndef CC__SYNC_WAKE
#define CC__SYNC_WAKE cc__wake
#endif

/* Hands something (a lock, a semaphore unit, a notify, a queue item) to the
 * first waiter of `l` that can still take it: pops waiters in FIFO order
 * and wakes each with `result` until one accepts, and returns that one
 * (unlinked; the caller completes the hand-off, e.g. stores the item), or
 * NULL if none did. A waiter that does not accept is one whose wait was
 * already ended by cancellation or its deadline in this same loop iteration
 * (it is runnable with -ECANCELED/-ETIMEDOUT but has not run yet): it is
 * unlinked and skipped, and returns its error having taken nothing
 * (asyncio bpo-27585, anyio#1145). Exact because these objects belong to
 * one loop: cc__wake() from the waiter's own loop knows whether the park is
 * still open. So a waiter woken with 0 always owns what it was handed, and
 * one woken with an error never holds anything it must pass on. */
static inline cc__waiter_t *cc__handoff(cc__wlist_t *l, int result) {
  cc__waiter_t *w;
  while ((w = cc__wlist_pop(l)))
    if (CC__SYNC_WAKE(w->task, w->token, result))
      return w;
  return NULL;
}

#endif

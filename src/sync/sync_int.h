/* Internal: the structures behind sync.h, shared with the condition
 * variable (which needs to see inside the lock). Single-loop objects: no
 * locks, no atomics. */
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

#endif

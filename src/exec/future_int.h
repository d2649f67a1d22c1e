/* Internal: the layout of a future, shared by future.c and thread_pool.c.
 *
 * A future doubles as the executor's work item (fn, arg, next), so a
 * submit costs one allocation, usually served from a per-thread cache.
 *
 * `state` holds the cc_future_state_t in its low two bits plus F_SLOW, set
 * (under the future's lock) by anyone who registers a waiter or a callback. Completion
 * is a CAS on `state`; only a completer that sees F_SLOW takes `mu` to wake
 * waiters and run callbacks. A future nobody waits on or watches is thus
 * completed and read without any lock: the hot path of an executor.
 */
#ifndef CC_EXEC_FUTURE_INT_H
#define CC_EXEC_FUTURE_INT_H

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>

#include "concur/future.h"
#include "task/wait.h"

#define F_STATE_MASK 3u
#define F_SLOW       4u

typedef struct cc__fcb {
  struct cc__fcb *next;
  cc_future_cb cb;
  void *arg;
} cc__fcb_t;

struct cc_future {
  /* first cache line: everything the hot path touches */
  atomic_uint state;
  atomic_int refs;
  intptr_t value;
  int err;
  void (*dtor)(void *);
  /* executor work item: `qnext` links it in the executor's lock-free
   * queue, `next` in lists private to one thread */
  _Atomic(struct cc_future *) qnext;
  struct cc_future *next;
  cc_task_fn fn;
  void *arg;
  /* slow path, under the future's stripe lock (future.c) */
  cc__twq_t waiters;
  cc_future_cb cb0; /* first callback inline: most futures have at most one */
  void *cb0_arg;
  cc__fcb_t *cbs; /* later callbacks, newest first */
};

static_assert(offsetof(struct cc_future, arg) + sizeof(void *) <= 64,
              "the hot fields of a future fit in one cache line");

/* Allocates a pending future with `refs` references (per-thread cache). */
cc_future_t *cc__future_alloc(int refs);

/* Completes a RUNNING future with a task's return value: DONE with the
 * value if r >= 0, else with the error r. */
void cc__future_finish(cc_future_t *f, intptr_t r);

#endif

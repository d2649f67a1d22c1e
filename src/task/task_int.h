/* Internal: the task layer, for src/task/ and for the layers above it
 * (sync, exec, net, proc) that need more than the contract of loop/sched.h:
 * the inline fast paths of parking and waking, for primitives whose
 * hand-offs are hot (queues, locks).
 */
#ifndef CC_TASK_INT_H
#define CC_TASK_INT_H

#include <string.h>

#include "loop/loop_int.h"

/* cc__park() inline: no call but the context switch when there is no
 * deadline and the task is not cancelled. -CC_ENOTCORO outside a task. */
static inline int cc__park_fast(const char *what, const void *obj, int64_t deadline) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (CC_UNLIKELY(!self))
    return -CC_ENOTCORO;
  return cc__park_inl(l, self, what, obj, deadline);
}

/* cc__wake() inline (same rules). */
static inline bool cc__wake_fast(cc_task_t *t, uint64_t token, int result) {
  return cc__wake_inl(t, token, result);
}

/* For a task whose function is a trampoline of the library (a server's
 * connection task that calls the user's handler, ...): names the user's
 * function `fn` (and its source text `fname`, may be NULL) in the
 * stack-overflow report instead of the trampoline. Call it from inside
 * the running task `t` (the task's own function pointer is reused for it:
 * it is not needed once the task runs). */
static inline void cc__task_report_as(cc_task_t *t, const void *fn, const char *fname) {
  t->fn = (cc_task_fn)(uintptr_t)fn;
  if (t->owned_name)
    memcpy((char *)t->name - sizeof fname, &fname, sizeof fname);
  else
    t->name = fname;
}

/* ---- task.c / group.c -------------------------------------------------------- */

/* Runs the task's function (unless cancelled first) and completes it:
 * result, joiner, group, live count. Leaves the task DONE. */
void cc__task_body(cc_task_t *t);
/* Finishes a task that never ran (cancelled before it started, or no stack
 * could be had for it). */
void cc__task_finish_unstarted(cc_loop_t *l, cc_task_t *t, intptr_t result);
/* Called when a group child ends (group.c). */
void cc__group_child_done(cc_task_t *t);

#endif

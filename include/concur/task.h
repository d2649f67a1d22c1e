/* concur: tasks, gather, task groups, timeouts and cancellation.
 *
 * A task is a stackful coroutine: a plain C function that runs on its own
 * stack and suspends whenever it calls a function documented as "may
 * suspend" (cc_sleep, cc_queue_get, cc_read, cc_join, ...). There is no
 * async/await colouring: any function can suspend.
 *
 * Cancellation (task.cancel() in asyncio) is cooperative and sticky: after
 * cc_cancel(t), every suspending call made by t returns -ECANCELED at once,
 * so t unwinds through its normal error paths. Non-suspending clean-up
 * (free, close) works as usual. A task that does not suspend cannot be
 * cancelled until it does.
 *
 * Deadlines (asyncio.timeout / wait_for) are scoped: inside
 * cc_timeout_begin()/cc_timeout_end() every suspending call returns
 * -ETIMEDOUT once the deadline has passed. Scopes nest; the earliest wins.
 *
 * Tasks belong to the loop that spawned them and never move between
 * threads. Every function here must be called from a coroutine of that loop
 * unless its documentation says otherwise.
 */
#ifndef CONCUR_TASK_H
#define CONCUR_TASK_H

#include "common.h"
#include "loop.h"

CC_BEGIN_DECLS

typedef struct cc_task cc_task_t;
typedef struct cc_group cc_group_t;

/** Options for cc_spawn_opts(); zero-fill for the defaults. */
typedef struct cc_spawn_opts {
  const char *name;  /**< shown by cc_loop_dump; copied (max 31 bytes) */
  size_t stack_size; /**< 0: the loop's default; below 4 GiB */
  bool detached;     /**< nobody will join: freed as soon as it ends */
} cc_spawn_opts_t;

/** Starts fn(arg) as a new task on the current loop (asyncio.create_task).
 *  The task runs the next time the caller suspends or yields; it takes a
 *  stack only when it first runs, so spawning is cheap and a million tasks
 *  spawned at once need only as many stacks as run at once.
 *  On success stores a handle in *out, which the caller owns until it
 *  passes it to cc_join() or cc_detach() exactly once. Never suspends.
 *  Also callable from a cc_loop_call() callback on the loop's thread.
 *  Errors: -ENOMEM; -CC_ENOTCORO outside a loop; -ESHUTDOWN once the loop
 *  is shutting down (cc_run's main has returned); -EINVAL for a NULL fn or
 *  out (unless detached) or a stack_size of 4 GiB or more. */
#define cc_spawn(out, fn, arg)                                                           \
  cc_spawn_at((out), (fn), (arg), NULL, __FILE__, __LINE__, #fn)

/** cc_spawn() with options (name, stack size, detached). `out` may be NULL
 *  only for a detached task. */
#define cc_spawn_opts(out, fn, arg, opts)                                                \
  cc_spawn_at((out), (fn), (arg), (opts), __FILE__, __LINE__, #fn)

/** The function behind cc_spawn(); `file`, `line` and `fname` record where
 *  the task was spawned, for dumps and the stack-overflow report. */
CC_EXTERN int cc_spawn_at(cc_task_t **out, cc_task_fn fn, void *arg,
                          const cc_spawn_opts_t *opts, const char *file, int line,
                          const char *fname);

/** Waits for `t` to finish and frees it (await task). Returns 0 and the
 *  task's value in *result (if not NULL), or the task's own negative
 *  return value, or -ECANCELED if the task was cancelled before it first
 *  ran. If the waiting itself is interrupted (the caller is cancelled or
 *  its deadline passes) it returns -ECANCELED / -ETIMEDOUT and `t` stays
 *  alive and joinable. -EINVAL if `t` is already being joined or was
 *  detached, -EXDEV if `t` belongs to another loop. May suspend. */
CC_EXTERN int cc_join(cc_task_t *t, intptr_t *result);

/** Gives `t` up: it runs to its end and frees itself. Never suspends. */
CC_EXTERN int cc_detach(cc_task_t *t);

/** Requests cancellation of `t` (task.cancel()): if it is suspended it
 *  wakes with -ECANCELED, and every later suspending call it makes returns
 *  -ECANCELED. A task not yet started never runs its function. Idempotent;
 *  a finished task is left alone. Never suspends. Loop thread only. */
CC_EXTERN int cc_cancel(cc_task_t *t);

/** Waits for every task in tasks[0..n) (asyncio.gather) and frees them.
 *  results[i] (if `results` is not NULL) gets task i's value, or its error
 *  code when it failed. Returns 0 if all succeeded, else the error of the
 *  failed task with the lowest index; every task is still joined. If the
 *  caller is cancelled meanwhile, the remaining tasks are cancelled and
 *  still joined, and -ECANCELED is returned. May suspend. */
CC_EXTERN int cc_gather(cc_task_t **tasks, size_t n, intptr_t *results);

/** Lets every other runnable task of the loop run once, then continues
 *  (asyncio.sleep(0)). Returns 0, or -ECANCELED / -ETIMEDOUT. May suspend. */
CC_EXTERN int cc_yield(void);

/** Suspends the caller for `ms` milliseconds (asyncio.sleep). ms <= 0
 *  yields once, as cc_yield(); huge durations (up to INT64_MAX) saturate
 *  and sleep until cancelled. Returns 0, or -ECANCELED, or -ETIMEDOUT when
 *  an enclosing deadline passes first. May suspend. */
CC_EXTERN int cc_sleep(int64_t ms);

/** Suspends the caller until the absolute deadline `when` (cc_now() time;
 *  INT64_MAX: until cancelled). Returns as cc_sleep(), or -EINVAL for a
 *  negative `when`. May suspend. */
CC_EXTERN int cc_sleep_until(int64_t when);

/** The running task, or NULL outside a coroutine. Never suspends. */
CC_EXTERN cc_task_t *cc_self(void);

/** Non-zero when cc_cancel() has been called on the running task. */
CC_EXTERN bool cc_cancelled(void);

/** The task's id (unique within its loop) and name. */
CC_EXTERN uint64_t cc_task_id(const cc_task_t *t);
CC_EXTERN const char *cc_task_name(const cc_task_t *t);

/** True once `t` has returned (its result is ready for cc_join). */
CC_EXTERN bool cc_task_done(const cc_task_t *t);

/* ---- deadlines ------------------------------------------------------- */

/** A deadline scope (asyncio.timeout): caller-allocated, usually on the
 *  coroutine's stack. Treat the fields as private. */
typedef struct cc_timeout {
  int64_t deadline;
  int64_t saved;
  struct cc_timeout *outer;
} cc_timeout_t;

/** Opens a deadline scope: until the matching cc_timeout_end(), every
 *  suspending call of the running task returns -ETIMEDOUT once the
 *  absolute time `deadline` (cc_now() milliseconds, or CC_FOREVER) has
 *  passed. Scopes nest and must be closed in reverse order. Never suspends. */
CC_EXTERN void cc_timeout_begin(cc_timeout_t *scope, int64_t deadline);

/** Closes the scope; returns true if its deadline has passed (the block
 *  "timed out"). Never suspends. */
CC_EXTERN bool cc_timeout_end(cc_timeout_t *scope);

/** The deadline in force for the running task (CC_FOREVER if none). */
CC_EXTERN int64_t cc_deadline(void);

/** Runs fn(arg) as a child task and waits for it for at most `ms`
 *  milliseconds (asyncio.wait_for; ms < 0 or a huge ms: no limit). On
 *  time-out the child is cancelled and waited for, and -ETIMEDOUT is
 *  returned. Otherwise as cc_join(). May suspend. */
CC_EXTERN int cc_wait_for(cc_task_fn fn, void *arg, int64_t ms, intptr_t *result);

/* ---- task groups (structured concurrency) ----------------------------- */

/** Creates a task group (asyncio.TaskGroup, a Trio nursery) on the current
 *  loop. Children spawned into it cannot outlive it: cc_group_wait() (or
 *  cc_group_free()) waits for all of them. The first child to fail cancels
 *  the others. Errors: -ENOMEM, -CC_ENOTCORO. Never suspends. */
CC_EXTERN int cc_group_new(cc_group_t **out);

/** Spawns fn(arg) as a child of `g`. After a child has failed or the
 *  group was cancelled, new children are refused with -ECANCELED.
 *  Never suspends. */
#define cc_group_spawn(g, fn, arg)                                                       \
  cc_group_spawn_at((g), (fn), (arg), __FILE__, __LINE__, #fn)
CC_EXTERN int cc_group_spawn_at(cc_group_t *g, cc_task_fn fn, void *arg, const char *file,
                                int line, const char *fname);

/** Waits until every child has finished. Returns 0 if all succeeded, else
 *  the first error a child returned (in time order). If the waiter is
 *  cancelled or its deadline passes, the children are cancelled, still
 *  waited for, and -ECANCELED / -ETIMEDOUT is returned. May suspend. */
CC_EXTERN int cc_group_wait(cc_group_t *g);

/** Cancels every child still running. Never suspends. */
CC_EXTERN void cc_group_cancel(cc_group_t *g);

/** Number of children still running. */
CC_EXTERN size_t cc_group_size(const cc_group_t *g);

/** Cancels and waits for any child still running, then frees the group.
 *  May suspend (only when children are still running). */
CC_EXTERN void cc_group_free(cc_group_t *g);

CC_END_DECLS
#endif

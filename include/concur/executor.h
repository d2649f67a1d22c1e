/* concur: the thread-pool executor (concurrent.futures.ThreadPoolExecutor)
 * and cc_to_thread (asyncio.to_thread / loop.run_in_executor).
 *
 *   ThreadPoolExecutor(max_workers=4)  cc_executor_new(&ex, &opts)
 *   fut = ex.submit(fn, arg)           cc_executor_submit(ex, fn, arg, &fut)
 *   fut.result(timeout)                cc_future_result(fut, deadline, &v)
 *   list(ex.map(fn, items))            cc_executor_map(ex, fn, args, n, res, ...)
 *   wait(fs, t, FIRST_COMPLETED)       cc_futures_wait(fs, n, CC_FIRST_COMPLETED, dl)
 *   as_completed(fs)                   cc_as_completed_new / _next / _free
 *   ex.shutdown(wait, cancel_futures)  cc_executor_shutdown(ex, wait, cancel)
 *   await asyncio.to_thread(fn, arg)   cc_to_thread(fn, arg, &v)
 *
 * A task is a cc_task_fn: it returns a non-negative value (the future's
 * result) or a negative error code (the future's error). Futures are
 * described in future.h; an executor's future can be waited on by a plain
 * thread and by a coroutine (which does not block its loop) alike.
 *
 * Workers are started lazily, up to max_workers, when work arrives and no
 * worker is idle; they block every signal (so a loop's signalfd gets
 * SIGINT) and are named "<prefix>-<n>" for top -H and gdb.
 *
 * fork(): in a child process, the first submission to an executor inherited
 * from the parent drops the parent's queued tasks and starts fresh workers;
 * futures pending or running in the parent at the fork never complete in
 * the child.
 */
#ifndef CONCUR_EXECUTOR_H
#define CONCUR_EXECUTOR_H

#include <stdbool.h>

#include "common.h"
#include "future.h"
#include "loop.h"

CC_BEGIN_DECLS

typedef struct cc_executor cc_executor_t;

/** Options for cc_executor_new(); zero-fill (or NULL) for the defaults. */
typedef struct cc_executor_opts {
  /** Maximum number of worker threads; 0: the number of online CPUs. */
  unsigned max_workers;
  /** Run once in each worker thread before it takes work (Python's
   *  initializer). A negative return breaks the executor: every pending
   *  and later submission fails with that error. */
  int (*initializer)(void *initargs);
  void *initargs; /**< its argument; cc_pool_opts_t has the same pair */
  /** Worker thread name prefix (thread_name_prefix); at most 10 bytes are
   *  kept. NULL: "cc-pool". */
  const char *name_prefix;
  /** Queued tasks a worker claims per trip through the queue lock.
   *  0 (default): adaptive, its fair share of the visible backlog (queued
   *  tasks / workers), at most 4, so a flood of tiny tasks costs fewer lock
   *  round trips while long tasks still spread over every worker. 1: one
   *  at a time, as Python. Larger fixed values (at most 64 are used) make
   *  a long task hold back the ones claimed with it; a shutdown that
   *  cancels futures cancels the claimed ones not yet started too. */
  unsigned batch;
} cc_executor_opts_t;

/** Creates an executor; no thread starts until work is submitted.
 *  The caller owns it and frees it with cc_executor_free().
 *  Errors: -ENOMEM, -EINVAL. Never suspends. Any thread. */
CC_EXTERN int cc_executor_new(cc_executor_t **out, const cc_executor_opts_t *opts);

/** Queues fn(arg) (executor.submit) and, if `out` is not NULL, stores a
 *  new future in *out that the caller owns (cc_future_unref when done with
 *  it; the executor holds its own reference until the task has finished,
 *  so dropping it early is safe). Errors: -CC_ECLOSED after shutdown,
 *  -ENOMEM, -EINVAL, or the initializer's error for a broken executor; on
 *  error fn never runs and *out is NULL. Never suspends; any thread, also
 *  a worker or a done callback. */
CC_EXTERN int cc_executor_submit(cc_executor_t *ex, cc_task_fn fn, void *arg,
                                 cc_future_t **out);

/** executor.map for an array: runs fn(args[i]) for i in [0, n) on the pool
 *  in chunks of `chunksize` items (0: n / (8 x workers), at least 1), and
 *  waits for all of them. results[i] (if `results` is not NULL) gets item
 *  i's value, or its negative error, or -ECANCELED if it never ran. Returns
 *  0 if every item succeeded, else the error of the failing item with the
 *  lowest index, whose index goes to *failed_index (if not NULL; it is
 *  (size_t)-1 whenever no item's error is returned, as with cc_pool_map());
 *  every item has still been run. If `deadline` passes or the calling
 *  coroutine is cancelled first, chunks not yet started are cancelled, the
 *  call returns -ETIMEDOUT / -ECANCELED at once, `results` is left
 *  untouched, and chunks already running finish in the background. Errors
 *  also: -CC_ECLOSED, -ENOMEM. May suspend (blocks a plain thread). */
CC_EXTERN int cc_executor_map(cc_executor_t *ex, cc_task_fn fn, void *const *args,
                              size_t n, intptr_t *results, size_t *failed_index,
                              size_t chunksize, int64_t deadline);

/** Submits fn(arg) and waits for its result (loop.run_in_executor(ex, ...)
 *  awaited at once): 0 and the value in *result, the task's error, or, if
 *  the caller's wait is interrupted, -ECANCELED / -ETIMEDOUT (as
 *  cc_to_thread describes). May suspend (blocks a plain thread). */
CC_EXTERN int cc_executor_call(cc_executor_t *ex, cc_task_fn fn, void *arg,
                               intptr_t *result);

/** executor.shutdown(wait, cancel_futures): refuses new work
 *  (-CC_ECLOSED); with `cancel_futures`, cancels every queued task that
 *  has not started (their futures become CANCELLED and never run); workers
 *  exit once the queue is empty. With `wait`, waits until every worker has
 *  exited (a coroutine is suspended, not its loop); without it returns at
 *  once, even if a task never finishes. Idempotent: a later call may add
 *  `wait` or `cancel_futures`. Returns 0, or -ECANCELED / -ETIMEDOUT if a
 *  waiting coroutine was interrupted, -EDEADLK if a worker of `ex` asks to
 *  wait for itself. May suspend when `wait`. */
CC_EXTERN int cc_executor_shutdown(cc_executor_t *ex, bool wait, bool cancel_futures);

/** Shuts the executor down (waiting, unless cc_executor_shutdown() was
 *  already called without `wait`, or the caller is one of its workers) and
 *  frees the handle. Workers still busy with a task that never ends are
 *  left to finish on their own; the memory they use is released by the
 *  last of them. Futures obtained from it stay valid until unreffed.
 *  -EINVAL for the default executor (it lives until exit). May suspend. */
CC_EXTERN int cc_executor_free(cc_executor_t *ex);

/** The process-wide default executor (used by cc_to_thread), created on
 *  first use, thread-safely: max_workers = min(32, CPUs + 4) as Python's,
 *  batch 1 (its tasks are blocking calls). Never freed. Errors: -ENOMEM. */
CC_EXTERN int cc_executor_default(cc_executor_t **out);

/** Number of worker threads running now, and the maximum. */
CC_EXTERN unsigned cc_executor_workers(cc_executor_t *ex);
CC_EXTERN unsigned cc_executor_max_workers(cc_executor_t *ex);
/** Number of tasks queued and not yet claimed by a worker. */
CC_EXTERN size_t cc_executor_pending(cc_executor_t *ex);

/** asyncio.to_thread: from a coroutine, runs fn(arg) on the default
 *  executor; the coroutine is suspended (its loop keeps running) and
 *  resumed on its own loop with the result: 0 and the value in *result, or
 *  fn's negative return value. If the coroutine is cancelled or its
 *  deadline passes while waiting, cc_to_thread returns -ECANCELED /
 *  -ETIMEDOUT at once: if fn had not started it never runs; if it is
 *  running it cannot be interrupted, runs to its end on the pool, and its
 *  result is discarded (fn and arg must stay valid until then; arg is not
 *  freed by concur). Called outside a coroutine, it simply calls fn(arg) on
 *  the calling thread. Errors also: -ENOMEM, -CC_ECLOSED. May suspend. */
CC_EXTERN int cc_to_thread(cc_task_fn fn, void *arg, intptr_t *result);

CC_END_DECLS
#endif

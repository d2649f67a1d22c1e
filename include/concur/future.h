/* concur: futures (concurrent.futures.Future / asyncio.Future in one).
 *
 * A future is the result of work that finishes elsewhere: on a thread-pool
 * worker, in a process-pool worker, or on another loop. It joins the two
 * worlds: a plain thread can block on it, and a coroutine can wait on the
 * same future without blocking its loop. All functions are thread-safe.
 *
 * Lifetime: futures are reference-counted. Whoever creates one holds a
 * reference; cc_future_ref()/cc_future_unref() add and drop references, and
 * the last unref frees it. An executor holds its own reference until the
 * work has completed, so dropping yours early is always safe.
 *
 * A value is an intptr_t, as a task's return value. A future whose value is
 * memory owned by the future (a result buffer from a process pool) frees it
 * with the destructor given to cc_future_set_result_owned().
 */
#ifndef CONCUR_FUTURE_H
#define CONCUR_FUTURE_H

#include <stdbool.h>

#include "common.h"

CC_BEGIN_DECLS

typedef struct cc_future cc_future_t;

typedef enum cc_future_state {
  CC_FUTURE_PENDING = 0, /**< created or queued, not started */
  CC_FUTURE_RUNNING,     /**< work has started; can no longer be cancelled */
  CC_FUTURE_DONE,        /**< finished with a value or an error */
  CC_FUTURE_CANCELLED    /**< cancelled before it ran */
} cc_future_state_t;

typedef void (*cc_future_cb)(cc_future_t *f, void *arg);

/** Creates a pending future with one reference, owned by the caller.
 *  Errors: -ENOMEM. Never suspends. */
CC_EXTERN int cc_future_new(cc_future_t **out);

/** Adds a reference. Returns f. */
CC_EXTERN cc_future_t *cc_future_ref(cc_future_t *f);

/** Drops a reference; the last one frees the future (and an owned value).
 *  NULL is ignored. */
CC_EXTERN void cc_future_unref(cc_future_t *f);

/** PENDING -> RUNNING (set_running_or_notify_cancel). Returns 0, or
 *  -ECANCELED if the future was cancelled (the work must not run), or
 *  -EINVAL if it is not pending. */
CC_EXTERN int cc_future_set_running(cc_future_t *f);

/** Completes the future with a value, runs the done callbacks (on the
 *  calling thread) and wakes every waiter. -EINVAL if already done or
 *  cancelled. */
CC_EXTERN int cc_future_set_result(cc_future_t *f, intptr_t value);

/** As cc_future_set_result(), and the future owns `value` (a pointer):
 *  `dtor(value)` runs when the future is freed. */
CC_EXTERN int cc_future_set_result_owned(cc_future_t *f, void *value,
                                         void (*dtor)(void *));

/** Completes the future with an error (a negative code). */
CC_EXTERN int cc_future_set_error(cc_future_t *f, int err);

/** Cancels a pending future: state CANCELLED, callbacks run, waiters wake
 *  with -ECANCELED. Returns 0, or -EBUSY if it is running, -EINVAL if it is
 *  already done (cancelling twice returns 0). */
CC_EXTERN int cc_future_cancel(cc_future_t *f);

CC_EXTERN cc_future_state_t cc_future_state(const cc_future_t *f);
/** True when DONE or CANCELLED. */
CC_EXTERN bool cc_future_done(const cc_future_t *f);
CC_EXTERN bool cc_future_cancelled(const cc_future_t *f);

/** Waits until the future is done or cancelled, or the absolute `deadline`
 *  (cc_now() ms; CC_FOREVER: no limit) passes. Called from a coroutine it
 *  suspends only that coroutine (and honours its deadline scopes and
 *  cancellation); from a plain thread it blocks the thread. Returns 0 when
 *  done, or -ETIMEDOUT / -ECANCELED (the caller was cancelled; the future is
 *  left alone). May suspend. */
CC_EXTERN int cc_future_wait(cc_future_t *f, int64_t deadline);

/** Waits as cc_future_wait(), then returns 0 and the value in *value (if
 *  not NULL), or the future's error, or -ECANCELED for a cancelled future.
 *  May suspend. */
CC_EXTERN int cc_future_result(cc_future_t *f, int64_t deadline, intptr_t *value);

/** Runs cb(f, arg) once the future is done or cancelled: at once on the
 *  calling thread if it already is, otherwise on the thread that completes
 *  it. A callback may submit more work or take references; it must not
 *  wait on the future it is called for. Errors: -ENOMEM. */
CC_EXTERN int cc_future_add_done_callback(cc_future_t *f, cc_future_cb cb, void *arg);

/** The outcome of a finished future without waiting: 0 (it has a value),
 *  its negative error, -ECANCELED if cancelled, or -EAGAIN while it is
 *  still pending or running. Never suspends. */
CC_EXTERN int cc_future_error(const cc_future_t *f);

/* ---- waiting on many futures (concurrent.futures.wait / as_completed) --- */

typedef enum cc_wait_mode {
  CC_ALL_COMPLETED = 0, /**< every future is done or cancelled */
  CC_FIRST_COMPLETED,   /**< at least one future is done or cancelled */
  CC_FIRST_EXCEPTION    /**< one finished with an error (a cancellation does
                             not count), else as CC_ALL_COMPLETED */
} cc_wait_mode_t;

/** Waits until the futures fs[0..n) satisfy `mode`, or the absolute
 *  deadline passes (concurrent.futures.wait). Returns the number of them
 *  that are finished (>= 0) when the condition holds, or -ETIMEDOUT /
 *  -ECANCELED (the caller was cancelled) / -ENOMEM; check each future with
 *  cc_future_done() to split them into done and not done. The futures stay
 *  the caller's. Thread-safe; may suspend (blocks a plain thread). */
CC_EXTERN int cc_futures_wait(cc_future_t *const *fs, size_t n, cc_wait_mode_t mode,
                              int64_t deadline);

/** An iterator over futures in the order they finish
 *  (concurrent.futures.as_completed). */
typedef struct cc_as_completed cc_as_completed_t;

/** Starts watching fs[0..n); takes a reference on each future (dropped
 *  when the iterator is freed and the future has finished). Futures already
 *  finished come first. Errors: -ENOMEM, -EINVAL. Never suspends. */
CC_EXTERN int cc_as_completed_new(cc_as_completed_t **out, cc_future_t *const *fs,
                                  size_t n);

/** Stores in *f the next future to finish, waiting for it until `deadline`;
 *  *f is NULL when every future has been handed out. The future is borrowed:
 *  valid while the iterator lives (take a reference to keep it longer).
 *  Returns 0, or -ETIMEDOUT / -ECANCELED with *f NULL (later calls can go
 *  on). Use from one thread or coroutine at a time. May suspend. */
CC_EXTERN int cc_as_completed_next(cc_as_completed_t *it, int64_t deadline,
                                   cc_future_t **f);

/** Frees the iterator; futures still running are left alone. NULL is
 *  ignored. Never suspends. */
CC_EXTERN void cc_as_completed_free(cc_as_completed_t *it);

CC_END_DECLS
#endif

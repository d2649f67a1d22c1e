/* concur: threads and thread-level synchronisation (Python's threading).
 *
 * cc_thread_start()/cc_thread_join() are threading.Thread(target=f,
 * args=(a,)).start() and .join(), with the function's return value handed
 * to the joiner. The primitives below (Lock and RLock, Event, Semaphore and
 * BoundedSemaphore, Condition, Barrier, and a multi-producer multi-consumer
 * Queue) are shared between OS threads.
 *
 * Every waiting call here can be made from a plain thread OR from a
 * coroutine:
 *  - from a plain thread it blocks the thread;
 *  - from a coroutine (inside cc_run) it suspends only that coroutine, and
 *    the other coroutines of its loop keep running. It then also honours the
 *    coroutine's deadline scopes and cancellation (-ETIMEDOUT / -ECANCELED).
 * So a worker thread and a coroutine can share one queue or event.
 *
 * Deadlines are absolute cc_now() milliseconds (cc_deadline_in(ms) makes
 * one); CC_FOREVER waits without limit; a deadline already passed makes the
 * call a non-blocking attempt. Waiters are woken in FIFO order, threads and
 * coroutines alike; a released lock may still be taken by a newcomer first
 * (no strict hand-off, as with pthread mutexes).
 *
 * All functions are thread-safe. Freeing an object while another thread
 * still uses it is the caller's error; the *_free calls refuse (-EBUSY) an
 * object with waiters when they can see them.
 */
#ifndef CONCUR_THREAD_H
#define CONCUR_THREAD_H

#include <stdbool.h>

#include "common.h"
#include "loop.h"

CC_BEGIN_DECLS

/* ---- threads -------------------------------------------------------------- */

typedef struct cc_thread cc_thread_t;

/** Options for cc_thread_start(); zero-fill (or NULL) for the defaults. */
typedef struct cc_thread_opts {
  /** Name shown by top -H, ps -L and gdb (pthread_setname_np); copied and
   *  truncated to 15 bytes. NULL: "concur-N". */
  const char *name;
  /** Stack size in bytes; 0: the system default (usually 8 MiB, lazily
   *  committed). Raised to PTHREAD_STACK_MIN if smaller. */
  size_t stack_size;
  /** Start detached (daemon-style): nobody joins it; its resources are
   *  freed when it returns. cc_thread_start() then stores NULL in *out. */
  bool detached;
  /** Block every signal in the new thread, so that signals go to the
   *  threads that want them (e.g. a loop's signalfd). */
  bool block_signals;
} cc_thread_opts_t;

/** Starts fn(arg) on a new OS thread (threading.Thread(...).start()).
 *  Unless detached, stores a handle in *out that the caller must pass to
 *  cc_thread_join() or cc_thread_detach() exactly once. fn may run a loop
 *  of its own with cc_run(). Errors: -EAGAIN (thread limit), -ENOMEM,
 *  -EINVAL. Never suspends. Any thread. */
CC_EXTERN int cc_thread_start(cc_thread_t **out, cc_task_fn fn, void *arg,
                              const cc_thread_opts_t *opts);

/** Waits for `t` to return and frees the handle (Thread.join()). Returns 0
 *  and fn's return value, whatever its sign, in *result (if not NULL).
 *  If the wait is interrupted (the calling coroutine is cancelled or its
 *  deadline scope ends) it returns -ETIMEDOUT / -ECANCELED and `t` stays joinable.
 *  -EDEADLK when a thread joins itself, -EINVAL if `t` is being joined by
 *  someone else. May suspend (from a coroutine); blocks a plain thread. */
CC_EXTERN int cc_thread_join(cc_thread_t *t, intptr_t *result);

/** cc_thread_join() with an absolute deadline (Thread.join(timeout)). */
CC_EXTERN int cc_thread_join_until(cc_thread_t *t, int64_t deadline, intptr_t *result);

/** Gives `t` up: it runs to its end and frees itself. 0, or -EINVAL if it
 *  is being joined. Never suspends. */
CC_EXTERN int cc_thread_detach(cc_thread_t *t);

/** True until fn has returned (Thread.is_alive()). */
CC_EXTERN bool cc_thread_is_alive(const cc_thread_t *t);

/** The name of `t`, or of the calling thread when `t` is NULL (a
 *  thread-local copy for threads not started by concur). Valid while `t`
 *  lives (or until the calling thread renames itself). */
CC_EXTERN const char *cc_thread_name(const cc_thread_t *t);

/** Renames the calling thread (at most 15 bytes are kept). 0 or -errno. */
CC_EXTERN int cc_thread_set_name(const char *name);

/** The handle of the calling thread if concur started it, else NULL
 *  (threading.current_thread()). */
CC_EXTERN cc_thread_t *cc_thread_current(void);

/** The kernel's id of the calling thread (threading.get_native_id(), the
 *  TID shown by top -H and gdb). */
CC_EXTERN uint64_t cc_thread_id(void);

/* ---- Lock and RLock --------------------------------------------------------
 * A plain lock may be released by any thread (as threading.Lock); acquiring
 * it again from its holder returns -EDEADLK instead of hanging. A recursive
 * lock (threading.RLock) counts nested acquisitions by its owner and only
 * the owner may release it. The owner is the coroutine when called from
 * one, else the thread. */

typedef struct cc_tlock cc_tlock_t;

#define CC_TLOCK_RECURSIVE 1u /**< flag for cc_tlock_new(): an RLock */

/** Creates an unlocked lock; `flags` 0 or CC_TLOCK_RECURSIVE.
 *  Errors: -ENOMEM, -EINVAL. */
CC_EXTERN int cc_tlock_new(cc_tlock_t **out, unsigned flags);
/** Frees the lock: -EBUSY if it is held or has waiters. NULL is ignored. */
CC_EXTERN int cc_tlock_free(cc_tlock_t *l);
/** Acquires the lock, waiting until `deadline`. 0, -ETIMEDOUT,
 *  -ECANCELED, -EDEADLK (plain lock already held by the caller). May
 *  suspend. */
CC_EXTERN int cc_tlock_acquire(cc_tlock_t *l, int64_t deadline);
/** Acquires only if free now: 0 or -EBUSY. Never suspends. */
CC_EXTERN int cc_tlock_try_acquire(cc_tlock_t *l);
/** Releases (one level of) the lock and wakes a waiter. -EPERM if it is
 *  not locked, or (RLock) the caller is not its owner. Never suspends. */
CC_EXTERN int cc_tlock_release(cc_tlock_t *l);
/** True while the lock is held. */
CC_EXTERN bool cc_tlock_locked(cc_tlock_t *l);

/* ---- Event ----------------------------------------------------------------- */

typedef struct cc_tevent cc_tevent_t;

/** Creates a cleared event. Errors: -ENOMEM. */
CC_EXTERN int cc_tevent_new(cc_tevent_t **out);
/** Frees it; -EBUSY while someone waits. NULL is ignored. */
CC_EXTERN int cc_tevent_free(cc_tevent_t *e);
/** Sets the flag and wakes every waiter. Never suspends. */
CC_EXTERN void cc_tevent_set(cc_tevent_t *e);
/** Clears the flag. Never suspends. */
CC_EXTERN void cc_tevent_clear(cc_tevent_t *e);
CC_EXTERN bool cc_tevent_is_set(cc_tevent_t *e);
/** Waits until the flag is set: 0 (also when it was set and cleared again
 *  while waiting), -ETIMEDOUT, -ECANCELED. May suspend. */
CC_EXTERN int cc_tevent_wait(cc_tevent_t *e, int64_t deadline);

/* ---- Semaphore and BoundedSemaphore ---------------------------------------
 * With `bound` > 0 it is a BoundedSemaphore: releasing above `bound`
 * returns -EOVERFLOW and leaves the count alone. */

typedef struct cc_tsem cc_tsem_t;

/** Errors: -ENOMEM, -EINVAL (bound > 0 and value > bound). */
CC_EXTERN int cc_tsem_new(cc_tsem_t **out, unsigned value, unsigned bound);
/** Frees it; -EBUSY while someone waits. NULL is ignored. */
CC_EXTERN int cc_tsem_free(cc_tsem_t *s);
/** Decrements the count, waiting while it is zero. 0, -ETIMEDOUT,
 *  -ECANCELED. May suspend. */
CC_EXTERN int cc_tsem_acquire(cc_tsem_t *s, int64_t deadline);
/** Decrements only if positive: 0 or -EBUSY. Never suspends. */
CC_EXTERN int cc_tsem_try_acquire(cc_tsem_t *s);
/** Increments the count and wakes a waiter. 0 or -EOVERFLOW. Never
 *  suspends. */
CC_EXTERN int cc_tsem_release(cc_tsem_t *s);
CC_EXTERN unsigned cc_tsem_value(cc_tsem_t *s);

/* ---- Condition --------------------------------------------------------------
 * Used with a cc_tlock_t (plain or recursive) that the caller holds, as
 * threading.Condition. */

typedef struct cc_tcond cc_tcond_t;

CC_EXTERN int cc_tcond_new(cc_tcond_t **out);
/** Frees it; -EBUSY while someone waits. NULL is ignored. */
CC_EXTERN int cc_tcond_free(cc_tcond_t *c);
/** Releases `l` (all levels of an RLock), waits for a notify or the
 *  deadline, and re-acquires `l` before returning, WHATEVER it returns:
 *  0 when notified, -ETIMEDOUT, -ECANCELED. -EPERM (and no wait) if the
 *  caller does not hold `l`. Spurious returns of 0 do not happen, but as
 *  with every condition variable the caller re-checks its predicate. A
 *  cancelled coroutine still re-acquires `l` (waiting shielded from the
 *  cancellation) before it returns -ECANCELED. May suspend. */
CC_EXTERN int cc_tcond_wait(cc_tcond_t *c, cc_tlock_t *l, int64_t deadline);
/** Condition.wait_for(predicate, timeout): waits, as cc_tcond_wait(),
 *  until pred(arg) is true (evaluated with `l` held), or the deadline.
 *  0 when the predicate holds, else -ETIMEDOUT / -ECANCELED / -EPERM; `l`
 *  is held on return. May suspend. */
CC_EXTERN int cc_tcond_wait_for(cc_tcond_t *c, cc_tlock_t *l, bool (*pred)(void *arg),
                                void *arg, int64_t deadline);
/** Wakes up to `n` waiters (SIZE_MAX: all). Never suspends. The caller
 *  should hold the associated lock, as in Python. */
CC_EXTERN void cc_tcond_notify(cc_tcond_t *c, size_t n);
CC_EXTERN void cc_tcond_notify_all(cc_tcond_t *c);

/* ---- Barrier ----------------------------------------------------------------
 * threading.Barrier: `parties` callers meet, then all go on. A wait that
 * times out or is cancelled breaks the barrier, as in Python: every other
 * waiter, and every later caller until cc_barrier_reset(), gets -EPIPE
 * (Python's BrokenBarrierError). */

typedef struct cc_barrier cc_barrier_t;

/** Errors: -ENOMEM, -EINVAL (parties == 0). */
CC_EXTERN int cc_barrier_new(cc_barrier_t **out, unsigned parties);
/** Frees it; -EBUSY while someone waits. NULL is ignored. */
CC_EXTERN int cc_barrier_free(cc_barrier_t *b);
/** Waits until `parties` callers are waiting. Returns the caller's arrival
 *  index 0 .. parties-1 (exactly one caller gets each), or -EPIPE (broken),
 *  -ETIMEDOUT, -ECANCELED (and the barrier is then broken). May suspend. */
CC_EXTERN int cc_barrier_wait(cc_barrier_t *b, int64_t deadline);
/** Breaks the barrier: waiters and later callers get -EPIPE. */
CC_EXTERN void cc_barrier_abort(cc_barrier_t *b);
/** Back to the initial state; current waiters get -EPIPE. */
CC_EXTERN void cc_barrier_reset(cc_barrier_t *b);
CC_EXTERN unsigned cc_barrier_parties(cc_barrier_t *b);
/** Number of callers waiting now. */
CC_EXTERN unsigned cc_barrier_waiting(cc_barrier_t *b);
CC_EXTERN bool cc_barrier_broken(cc_barrier_t *b);

/* ---- Queue ------------------------------------------------------------------
 * queue.Queue: a FIFO of pointers for many producers and many consumers.
 * With a capacity, put waits while the queue is full (back-pressure);
 * capacity 0 means unbounded (Python's maxsize=0). */

typedef struct cc_tqueue cc_tqueue_t;

/** Errors: -ENOMEM. */
CC_EXTERN int cc_tqueue_new(cc_tqueue_t **out, size_t capacity);
/** Frees the queue; -EBUSY while someone waits. Items still inside are the
 *  caller's (not freed). NULL is ignored. */
CC_EXTERN int cc_tqueue_free(cc_tqueue_t *q);
/** Appends `item`, waiting while full. 0, -CC_ECLOSED (closed, also while
 *  waiting), -ETIMEDOUT, -ECANCELED, -ENOMEM (unbounded growth). May
 *  suspend. */
CC_EXTERN int cc_tqueue_put(cc_tqueue_t *q, void *item, int64_t deadline);
/** Appends only if there is room now: 0, -EAGAIN, -CC_ECLOSED. */
CC_EXTERN int cc_tqueue_try_put(cc_tqueue_t *q, void *item);
/** Takes the oldest item, waiting while empty. After cc_tqueue_close() the
 *  items still queued are delivered, then -CC_ECLOSED. 0, -CC_ECLOSED,
 *  -ETIMEDOUT, -ECANCELED. May suspend. */
CC_EXTERN int cc_tqueue_get(cc_tqueue_t *q, void **item, int64_t deadline);
/** Takes an item if there is one: 0, -EAGAIN (empty), -CC_ECLOSED (closed
 *  and empty). Never suspends. */
CC_EXTERN int cc_tqueue_try_get(cc_tqueue_t *q, void **item);
/** Closes the queue (Queue.shutdown()): putters get -CC_ECLOSED at once,
 *  getters once it is empty. Idempotent. Never suspends. */
CC_EXTERN void cc_tqueue_close(cc_tqueue_t *q);
/** Marks one item taken with get as processed (Queue.task_done()): 0, or
 *  -EINVAL if called more times than items were put. Never suspends. */
CC_EXTERN int cc_tqueue_task_done(cc_tqueue_t *q);
/** Waits until every item ever put has been marked done (Queue.join()):
 *  0, -ETIMEDOUT, -ECANCELED. May suspend. */
CC_EXTERN int cc_tqueue_join(cc_tqueue_t *q, int64_t deadline);
CC_EXTERN size_t cc_tqueue_size(cc_tqueue_t *q);
CC_EXTERN size_t cc_tqueue_capacity(cc_tqueue_t *q);

CC_END_DECLS
#endif

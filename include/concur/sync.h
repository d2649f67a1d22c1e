/* concur: coroutine-level synchronisation (asyncio.Lock, Event, Semaphore,
 * BoundedSemaphore, Condition, Queue).
 *
 * These objects belong to one loop and are used by the coroutines of that
 * loop only; they take no locks and use no atomics. To cross threads, use
 * the thread-level primitives of thread.h, which coroutines can also wait
 * on without blocking their loop.
 *
 * Every waiting call honours the task's deadline and cancellation: it
 * returns -ETIMEDOUT or -ECANCELED and leaves the object exactly as if it
 * had never been called. Waiters are woken in FIFO order.
 *
 * Hand-off guarantee (asyncio bpo-27585): a release, a notify or a put
 * hands its lock, unit, notification or item to the first waiter that can
 * still take it. A waiter whose wait was already ended by cancellation or
 * its deadline, even in the same loop iteration and before it ran again,
 * is skipped: the hand-off goes to the next waiter, or back to the object.
 * So a waiting call that returns 0 has got what it waited for, and one
 * that returns -ECANCELED/-ETIMEDOUT has taken nothing. Whichever comes
 * first wins: once a waiter has been handed something, a later cc_cancel()
 * no longer interrupts that wait (the call returns 0; the cancellation is
 * seen at the task's next wait).
 */
#ifndef CONCUR_SYNC_H
#define CONCUR_SYNC_H

#include "common.h"
#include "loop.h"

CC_BEGIN_DECLS

typedef struct cc_lock cc_lock_t;
typedef struct cc_event cc_event_t;
typedef struct cc_sem cc_sem_t;
typedef struct cc_cond cc_cond_t;
typedef struct cc_queue cc_queue_t;

/* ---- Lock ---------------------------------------------------------------
 * Not recursive: locking a lock the caller already holds returns -EDEADLK. */

/** Creates an unlocked lock. Errors: -ENOMEM. Never suspends. */
CC_EXTERN int cc_lock_new(cc_lock_t **out);
/** Frees the lock; it must be unlocked with no waiters (else -EBUSY). */
CC_EXTERN int cc_lock_free(cc_lock_t *l);
/** Acquires the lock, waiting if another task holds it. May suspend. */
CC_EXTERN int cc_lock_acquire(cc_lock_t *l);
/** Acquires the lock only if it is free now: 0 or -EBUSY. Never suspends. */
CC_EXTERN int cc_lock_try_acquire(cc_lock_t *l);
/** Releases the lock and hands it to the first waiter. -EPERM if the
 *  caller is not the owner. Never suspends. */
CC_EXTERN int cc_lock_release(cc_lock_t *l);
/** True while some task holds the lock. */
CC_EXTERN bool cc_lock_locked(const cc_lock_t *l);

/* ---- Event -------------------------------------------------------------- */

CC_EXTERN int cc_event_new(cc_event_t **out);
/** Frees the event; -EBUSY while tasks wait on it. */
CC_EXTERN int cc_event_free(cc_event_t *e);
/** Sets the flag and wakes every waiter. Never suspends. */
CC_EXTERN void cc_event_set(cc_event_t *e);
/** Clears the flag. Never suspends. */
CC_EXTERN void cc_event_clear(cc_event_t *e);
CC_EXTERN bool cc_event_is_set(const cc_event_t *e);
/** Waits until the flag is set (returns at once if it is). May suspend. */
CC_EXTERN int cc_event_wait(cc_event_t *e);

/* ---- Semaphore ----------------------------------------------------------
 * With `bound` > 0 it is a BoundedSemaphore: releasing above `bound`
 * returns -EOVERFLOW instead of raising the count (Python's ValueError).
 * An unbounded one does the same at UINT_MAX. */

CC_EXTERN int cc_sem_new(cc_sem_t **out, unsigned value, unsigned bound);
/** Frees the semaphore; -EBUSY while tasks wait on it. */
CC_EXTERN int cc_sem_free(cc_sem_t *s);
/** Decrements the count, waiting while it is zero. May suspend. */
CC_EXTERN int cc_sem_acquire(cc_sem_t *s);
/** Decrements the count only if positive: 0 or -EBUSY. Never suspends. */
CC_EXTERN int cc_sem_try_acquire(cc_sem_t *s);
/** Increments the count, or hands the unit to the first waiter that can
 *  still take it. -EOVERFLOW (count untouched) at the bound, or at
 *  UINT_MAX when unbounded. Never suspends. */
CC_EXTERN int cc_sem_release(cc_sem_t *s);
CC_EXTERN unsigned cc_sem_value(const cc_sem_t *s);

/* ---- Condition ----------------------------------------------------------
 * Used with a cc_lock_t the caller holds, as asyncio.Condition. */

CC_EXTERN int cc_cond_new(cc_cond_t **out);
/** Frees the condition; -EBUSY while tasks wait on it. */
CC_EXTERN int cc_cond_free(cc_cond_t *c);
/** Releases `l`, waits for a notify, re-acquires `l` (also on error: the
 *  caller holds `l` again whatever this returns). -EPERM if the caller does
 *  not hold `l`. May suspend. */
CC_EXTERN int cc_cond_wait(cc_cond_t *c, cc_lock_t *l);
/** Wakes up to n waiters (n = SIZE_MAX: all); a waiter already cancelled
 *  or timed out does not count towards n. Never suspends. */
CC_EXTERN void cc_cond_notify(cc_cond_t *c, size_t n);
CC_EXTERN void cc_cond_notify_all(cc_cond_t *c);

/* ---- Queue --------------------------------------------------------------
 * A FIFO of pointers. As asyncio.Queue(maxsize): a capacity of 0
 * (CC_QUEUE_UNBOUNDED) makes it unbounded (put never waits; the queue
 * grows), any other capacity bounds it with back-pressure (put waits while
 * it is full). get waits while it is empty. CC_QUEUE_RENDEZVOUS makes it a
 * rendezvous (Go's unbuffered channel, no Python equivalent): it holds
 * nothing, and put waits until a getter takes the item. When a getter is
 * already waiting, put hands the item straight to it and makes it runnable
 * (the putter goes on until it waits itself), so a ping-pong of two tasks
 * costs one context switch per hand-off. */

/** Capacity for cc_queue_new(): unbounded (as Python's Queue(0)). */
#define CC_QUEUE_UNBOUNDED ((size_t)0)
/** Capacity for cc_queue_new(): a rendezvous (Go's `make(chan T)`). */
#define CC_QUEUE_RENDEZVOUS SIZE_MAX

/** Creates a queue: unbounded (capacity 0 = CC_QUEUE_UNBOUNDED), of up to
 *  `capacity` items, or a rendezvous (CC_QUEUE_RENDEZVOUS). A bounded
 *  queue allocates its `capacity` slots at once. Errors: -ENOMEM, -EINVAL
 *  (a capacity too large to allocate). Never suspends. */
CC_EXTERN int cc_queue_new(cc_queue_t **out, size_t capacity);
/** Frees the queue; -EBUSY while tasks wait on it. Items still inside are
 *  not freed (they are the caller's). */
CC_EXTERN int cc_queue_free(cc_queue_t *q);
/** Adds `item`, waiting while full. -CC_ECLOSED once closed; -ENOMEM
 *  when an unbounded queue cannot grow. May suspend (never when unbounded). */
CC_EXTERN int cc_queue_put(cc_queue_t *q, void *item);
/** Adds `item` if there is room now (or, for a rendezvous, a getter
 *  waits): 0, -EAGAIN when full, -CC_ECLOSED, -ENOMEM. Never suspends. */
CC_EXTERN int cc_queue_try_put(cc_queue_t *q, void *item);
/** Takes the oldest item, waiting while empty. After cc_queue_close(), the
 *  remaining items are still delivered, then -CC_ECLOSED. May suspend. */
CC_EXTERN int cc_queue_get(cc_queue_t *q, void **item);
/** Takes an item if one is there (or, for a rendezvous, a putter waits):
 *  0, -EAGAIN when empty, -CC_ECLOSED. Never suspends. */
CC_EXTERN int cc_queue_try_get(cc_queue_t *q, void **item);
/** Closes the queue (asyncio.Queue.shutdown): every waiting putter gets
 *  -CC_ECLOSED at once, waiting getters get -CC_ECLOSED once the queue is
 *  empty. Idempotent. Never suspends. */
CC_EXTERN void cc_queue_close(cc_queue_t *q);
/** Items in the queue now (qsize()); always 0 for a rendezvous. */
CC_EXTERN size_t cc_queue_size(const cc_queue_t *q);
/** The capacity given to cc_queue_new() (0: unbounded; maxsize). */
CC_EXTERN size_t cc_queue_capacity(const cc_queue_t *q);

CC_END_DECLS
#endif

/* Internal: waiting on a thread-level primitive from a thread OR a coroutine.
 *
 * The one "wait from a thread or from a coroutine" facility of the layers
 * above task/: every blocking primitive of exec/ (thread Lock, Event,
 * Semaphore, Condition, Barrier, Queue, futures, thread join, executor
 * shutdown) and the process pool of proc/ is a pthread mutex guarding some
 * state plus one or more wait queues of cc__tw_t. A waiter is either
 *   - a coroutine (task != NULL): it parks with cc__park() and is woken with
 *     cc__wake(); its loop keeps running other coroutines meanwhile; or
 *   - a plain thread (task == NULL): it sleeps on its own condition variable
 *     (on the CLOCK_MONOTONIC clock that cc_now() uses).
 * Both kinds sit in one FIFO queue, so wake-ups are fair across the two.
 *
 * Protocol. The waker holds the primitive's mutex, pops a waiter, sets
 * `signalled` (and `result`, if the primitive passes a value) and wakes it;
 * the rule of loop/sched.h (cc__wake under the lock that guards the
 * registration) is kept because the waiter removes its registration under
 * the same mutex after it wakes. A waiter that was signalled always reports
 * success (0), even if its deadline or a cancellation raced with the signal,
 * so no wake-up is ever lost: the caller re-checks its condition and either
 * consumes it or waits again (where a passed deadline fails at once).
 * A signal from the waiter's own loop is exact instead: cc__tw_signal()
 * skips a coroutine whose park already ended (cc__wake() returns false), so
 * that waiter returns its error and the signal goes to the next one.
 */
#ifndef CC_TASK_WAIT_H
#define CC_TASK_WAIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop/sched.h"

typedef struct cc__tw {
  struct cc__tw *next, *prev;
  cc_task_t *task; /* NULL: a plain thread waiting on `cond` */
  uint64_t token;
  pthread_cond_t cond;
  int result; /* set by the waker before waking (primitive-specific) */
  bool signalled;
  bool linked;
} cc__tw_t;

typedef struct cc__twq {
  cc__tw_t *head, *tail;
  size_t n;
} cc__twq_t;

#if defined(__x86_64__) || defined(__i386__)
#define CC__CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CC__CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CC__CPU_RELAX() ((void)0)
#endif

/* Flags for cc__tw_wait(). */
#define CC__TW_SHIELD                                                                    \
  1u /* with deadline CC_FOREVER: a coroutine waits                                      \
        shielded from cancellation and scope deadlines                                   \
        (cc__shield); used only to re-acquire a lock that                                \
        the caller must hold again on return */

/* Waits on `q` until signalled, `deadline` (absolute cc_now() ms) passes, or
 * (coroutine) the task is cancelled. Called and returns with `mu` held.
 * Returns 0 when signalled, else -ETIMEDOUT / -ECANCELED. `what`/`obj` are
 * shown by cc_loop_dump(). */
int cc__tw_wait(cc__twq_t *q, pthread_mutex_t *mu, cc__tw_t *w, const char *what,
                const void *obj, int64_t deadline, unsigned flags);

/* Wakes the oldest waiter with `result`; false if there was none. A
 * coroutine of the caller's own loop whose park already ended (cancelled
 * or timed out, not yet run) is unlinked and skipped, unsignalled. Caller
 * holds the mutex that guards `q`. */
bool cc__tw_signal(cc__twq_t *q, int result);

/* Wakes every waiter with `result`; returns how many. Caller holds the
 * mutex. */
size_t cc__tw_broadcast(cc__twq_t *q, int result);

/* Initialises a condition variable on CLOCK_MONOTONIC. */
void cc__cond_init_mono(pthread_cond_t *c);

/* An identity for the caller usable as a lock owner: the running task if
 * any, else a per-thread address. Never 0. */
uintptr_t cc__owner_id(void);

#endif

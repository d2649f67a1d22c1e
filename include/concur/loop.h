/* concur: event loops and the clock.
 *
 * asyncio.run(main()) becomes cc_run(main, arg, &result). A loop belongs to
 * the OS thread that runs it; coroutines spawned on a loop never migrate to
 * another thread, so the coroutine-level primitives of sync.h need no atomics.
 * To use several cores, run one loop per thread and hand work between them
 * with cc_loop_call() (asyncio's call_soon_threadsafe) or with the
 * thread-safe queues and futures of thread.h and future.h.
 *
 * Coroutines share their thread's floating-point environment (rounding mode,
 * exception masks): the context switch saves only the callee-saved integer
 * registers, as a function call would, and does not reload the x87/SSE or
 * FPCR control words. A coroutine that changes them must restore them before
 * it suspends.
 */
#ifndef CONCUR_LOOP_H
#define CONCUR_LOOP_H

#include <stdbool.h>
#include <stdio.h>

#include "common.h"

CC_BEGIN_DECLS

typedef struct cc_loop cc_loop_t;

/** The body of a coroutine. It returns a non-negative value (or a pointer
 *  cast to intptr_t: user-space pointers are positive on every supported
 *  platform) on success, or a negative error code to fail. */
typedef intptr_t (*cc_task_fn)(void *arg);

/** Options for a loop; zero-fill it (or pass NULL) for the defaults. */
typedef struct cc_loop_opts {
  /** Stack size of each coroutine in bytes, rounded up to whole pages.
   *  0 means 64 KiB. Only touched pages cost memory. */
  size_t stack_size;
  /** Stacks kept for reuse after their coroutine ends; 0 means 1024. */
  size_t stack_cache;
  /** If true, the loop takes SIGINT and SIGTERM through a signalfd: the first
   *  one cancels the main coroutine, so cc_run() returns -ECANCELED after
   *  every task has been cancelled and finished. Only one loop in the process
   *  can own these signals; the others run without. cc_run() sets this. */
  bool handle_signals;
  /** If true, SIGUSR1 prints every live task of this loop to stderr (see
   *  cc_loop_dump). cc_run() sets this. */
  bool dump_on_sigusr1;
} cc_loop_opts_t;

/** Runs main(arg) as the first coroutine of a new loop on the calling thread
 *  and returns when it has returned: every task still alive then is
 *  cancelled and waited for, as asyncio.run() does. The loop handles SIGINT,
 *  SIGTERM and SIGUSR1 as described in cc_loop_opts_t.
 *  Returns 0 and stores main's return value in *result (if not NULL), or a
 *  negative code: main's own error, or -ENOMEM / -EMFILE when the loop could
 *  not be made, -EBUSY when the thread already runs a loop. Blocks the
 *  calling thread; must not be called from inside a coroutine. */
CC_EXTERN int cc_run(cc_task_fn main, void *arg, intptr_t *result);

/** cc_run() with explicit options (NULL: defaults with no signal handling). */
CC_EXTERN int cc_run_opts(const cc_loop_opts_t *opts, cc_task_fn main, void *arg,
                          intptr_t *result);

/** Creates a loop that is not yet running, so that other threads can hold
 *  its handle (for cc_loop_call) before it starts. The caller owns it and
 *  frees it with cc_loop_free(). Errors: -ENOMEM, -EMFILE, -ENFILE. */
CC_EXTERN int cc_loop_new(cc_loop_t **out, const cc_loop_opts_t *opts);

/** Runs main(arg) on `loop` on the calling thread, as cc_run() does. A loop
 *  can be run more than once, one run at a time. -EBUSY if it is already
 *  running or the thread runs another loop. */
CC_EXTERN int cc_loop_run(cc_loop_t *loop, cc_task_fn main, void *arg, intptr_t *result);

/** Frees a loop that is not running. Callbacks posted to it and not yet run
 *  are dropped. Any thread; the caller must ensure no other thread still
 *  posts to it. */
CC_EXTERN void cc_loop_free(cc_loop_t *loop);

/** Schedules fn(arg) to run on `loop`'s thread, from any thread
 *  (asyncio's call_soon_threadsafe). The callback runs outside any coroutine
 *  (it must not suspend) and may call cc_spawn() to start one. Callbacks
 *  from one thread run in the order posted. The loop need not be running
 *  yet; they run when it next runs. Never suspends. Errors: -ENOMEM. */
CC_EXTERN int cc_loop_call(cc_loop_t *loop, void (*fn)(void *arg), void *arg);

/** The loop running on the calling thread, or NULL. */
CC_EXTERN cc_loop_t *cc_loop_current(void);

/** Prints every live task of the calling thread's loop to `out`: id, name,
 *  state, what it waits on (fd, queue, timer, task), its age and where it was
 *  spawned. Safe to call from any coroutine or loop callback; a no-op
 *  outside a loop. Never suspends. Like asyncio.all_tasks() plus repr. */
CC_EXTERN void cc_loop_dump(FILE *out);

/** Number of live (not yet finished) tasks on the calling thread's loop,
 *  the main coroutine included; 0 outside a loop. */
CC_EXTERN size_t cc_loop_task_count(void);

/** Milliseconds on the monotonic clock. Any thread; never suspends. */
CC_EXTERN int64_t cc_now(void);

/** Nanoseconds on the monotonic clock, for measurements. */
CC_EXTERN int64_t cc_now_ns(void);

/** The deadline `ms` milliseconds from now (ms < 0 gives CC_FOREVER). A
 *  duration too long to add saturates at INT64_MAX, a deadline that never
 *  comes (INT64_MAX ms is "forever", not an error or an overflow). */
CC_EXTERN int64_t cc_deadline_in(int64_t ms);

CC_END_DECLS
#endif

/* Internal: the loop and task structures, shared by src/loop and src/task.
 *
 * Threading: a loop and its tasks are touched only by the thread running
 * the loop, except for the inbox (inbox_mu) through which other threads post
 * callbacks and wake-ups. No other field needs a lock or an atomic.
 *
 * Scheduling: there is no scheduler hop between two tasks. A task that
 * parks, yields or ends pops the next runnable task itself and switches
 * straight to it; only when the run queue is empty, or after `budget`
 * consecutive switches (so that I/O and timers are never starved), does
 * control go back to the loop's own context on the thread stack, which
 * polls the backend, fires timers and drains the inbox.
 */
#ifndef CC_LOOP_INT_H
#define CC_LOOP_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "coro/coro.h"
#include "core/sched.h"
#include "loop/backend/backend.h"
#include "loop/timer.h"

enum cc__task_state {
  CC__NEW = 0, /* spawned, never run, no stack yet */
  CC__READY,   /* in the run queue */
  CC__RUNNING,
  CC__PARKED,  /* suspended in cc__park() */
  CC__DONE
};

struct cc_task {
  cc__ctx_t ctx;
  cc_loop_t *loop;
  struct cc_task *rq_next;
  uint8_t state;
  bool cancelled;
  bool started;
  bool detached;
  bool shield;        /* parks ignore cancellation and scope deadlines */
  bool owned_name;
  uint64_t token;     /* token of the current/next park */
  int wake_result;
  cc__timer_t timer;
  int64_t deadline;   /* effective deadline of the open scopes */
  cc_timeout_t *scope;
  cc__stack_t *stack;
  cc_task_fn fn;
  void *arg;
  intptr_t result;
  cc__waiter_t *joiner;
  cc_group_t *group;
  struct cc_task *gprev, *gnext; /* siblings in the group */
  struct cc_task *aprev, *anext; /* every live task of the loop */
  const char *wait_what;
  const void *wait_obj;
  uint64_t id;
  int64_t born;
  const char *file;
  const char *name;
  int line;
  size_t stack_size;  /* 0: the loop's pool */
  void *asan_fake;
  void *tsan_fiber;
};

typedef struct cc__fdslot {
  cc_task_t *rd, *wr;
  uint64_t rtok, wtok;
  uint8_t registered;
  uint8_t ready; /* CC__READ/CC__WRITE edges seen with nobody waiting */
} cc__fdslot_t;

enum { CC__MSG_CALL, CC__MSG_WAKE };
typedef struct cc__msg {
  int kind;
  int result;
  union {
    struct {
      void (*fn)(void *);
      void *arg;
    } call;
    struct {
      cc_task_t *task;
      uint64_t token;
    } wake;
  } u;
} cc__msg_t;

typedef struct cc__task_slab {
  struct cc__task_slab *next;
  cc_task_t tasks[];
} cc__task_slab_t;

struct cc_loop {
  cc_task_t *current;  /* running task; NULL in the loop's own context */
  cc__ctx_t sched_ctx; /* the loop's own context, on the thread stack */
  cc_task_t *rq_head, *rq_tail;
  unsigned budget;     /* switches left before the loop must poll */
  int64_t now;         /* cached cc_now(), refreshed on every poll */
  cc__timers_t timers;
  cc__poller_t *poller;
  cc__stack_pool_t stacks;
  cc_task_t *zombie;   /* ended task whose stack is released after the switch */

  /* Inbox: the only part other threads touch. */
  pthread_mutex_t inbox_mu;
  cc__msg_t *inbox, *inbox_spare;
  size_t inbox_n, inbox_cap, spare_cap;
  int efd;

  /* Signals (the loop that owns SIGINT/SIGTERM/SIGUSR1). */
  int sigfd;
  bool owns_signals;
  sigset_t saved_mask;
  int interrupts;

  cc__fdslot_t *fds;
  size_t nfds;

  cc_task_t *all;      /* live tasks, newest first */
  size_t live;
  uint64_t next_id;
  cc_task_t *task_free;
  cc__task_slab_t *slabs;

  cc_task_t *main;
  bool running;
  bool shutting_down;
  cc_loop_opts_t opts;

  /* Sanitizer bookkeeping for the loop's own context. */
  const void *thread_stack_lo;
  size_t thread_stack_size;
  void *sched_asan_fake;
  void *sched_tsan_fiber;
};

extern _Thread_local cc_loop_t *cc__tl_loop;

/* Run queue. */
static inline void cc__rq_push(cc_loop_t *l, cc_task_t *t) {
  t->rq_next = NULL;
  if (l->rq_tail)
    l->rq_tail->rq_next = t;
  else
    l->rq_head = t;
  l->rq_tail = t;
}

static inline cc_task_t *cc__rq_pop(cc_loop_t *l) {
  cc_task_t *t = l->rq_head;
  if (t) {
    l->rq_head = t->rq_next;
    if (!l->rq_head)
      l->rq_tail = NULL;
  }
  return t;
}

static inline int64_t cc__dl_min(int64_t a, int64_t b) {
  if (a < 0)
    return b;
  if (b < 0)
    return a;
  return a < b ? a : b;
}

/* Switches from the running task `self` (already marked PARKED, READY or
 * DONE) to the next runnable task or to the loop's own context. Returns
 * when `self` is resumed; never returns when `dying`. (loop.c) */
void cc__run_next(cc_loop_t *l, cc_task_t *self, bool dying);

/* Task life cycle, implemented in src/task/task.c. */
cc_task_t *cc__task_alloc(cc_loop_t *l);
/* Returns an ended task's stack; frees the task too if nobody will join it. */
void cc__task_release(cc_loop_t *l, cc_task_t *t);
/* Returns the task structure to the loop's free list. */
void cc__task_free(cc_loop_t *l, cc_task_t *t);
/* Runs the task's function (unless cancelled first) and completes it:
 * result, joiner, group, live count. Leaves the task DONE. */
void cc__task_body(cc_task_t *t);
/* Finishes a task that never ran (cancelled before it started). */
void cc__task_finish_unstarted(cc_loop_t *l, cc_task_t *t, intptr_t result);
/* The coroutine entry point for every task. */
void cc__task_entry(void *arg);
/* Called when a group child ends (group.c). */
void cc__group_child_done(cc_task_t *t);
/* Frees every task slab (loop teardown). */
void cc__task_slabs_free(cc_loop_t *l);
/* Makes t runnable with park result r (same loop, t PARKED). */
void cc__make_ready(cc_loop_t *l, cc_task_t *t, int r);

#endif

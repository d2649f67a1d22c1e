/* Internal: the loop and task structures, shared by src/loop and src/task.
 *
 * Threading: a loop and its tasks are touched only by the thread running
 * the loop, except for the inbox (a lock-free stack) through which other
 * threads post callbacks and wake-ups, the `polling` flag that tells them
 * whether the loop may be asleep, and each task's remote-wake fields. No
 * other field needs a lock or an atomic.
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
#include <stdlib.h>
#include <signal.h>
#include <stdatomic.h>

#include "coro/annot.h"
#include "coro/coro.h"
#include "loop/sched.h"
#include "loop/backend/backend.h"
#include "loop/timer.h"

/* A task is READY from its spawn (with no stack until it first runs: see
 * `started` and `stack`), RUNNING, PARKED or DONE; 0 is no state (a
 * structure on the free list or fresh from a slab). */
enum cc__task_state {
  CC__READY = 1, /* in the run queue */
  CC__RUNNING,
  CC__PARKED, /* suspended in cc__park() */
  CC__DONE
};

/* A node of the loop's inbox: a task's wake node, or a posted call. */
typedef struct cc__inode {
  struct cc__inode *next;
  uint8_t kind;       /* CC__INODE_WAKE or CC__INODE_CALL */
  atomic_bool queued; /* (a task's node) in the inbox now */
} cc__inode_t;
enum { CC__INODE_WAKE = 1, CC__INODE_CALL };

typedef struct cc__icall {
  cc__inode_t node;
  void (*fn)(void *);
  void *arg;
} cc__icall_t;

/* 256 bytes in a plain 64-bit build, four cache lines: a million live
 * tasks are 256 MB of structures, so every field counts (the hot ones
 * first). */
struct cc_task {
  cc__ctx_t ctx;
  cc_loop_t *loop;
  struct cc_task *rq_next;
  int wake_result;
  uint8_t state;
  bool cancelled;
  bool started;
  bool detached;
  bool shield; /* parks ignore cancellation and scope deadlines */
  bool owned_name;
  _Atomic int rw_result; /* remote wake-ups: see rw_node */
  uint64_t token;        /* token of the current/next park */
  cc__timer_t timer;
  int64_t deadline; /* effective deadline of the open scopes */
  cc_timeout_t *scope;
  cc__stack_t *stack;
  cc_task_fn fn; /* after the task started: the function reports name */
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
  /* The name; when owned_name, a copy preceded by the spawn site's text of
   * the function (see cc__task_fname). */
  const char *name;
  int line;
  uint32_t stack_size; /* 0: the loop's pool */
#ifdef CC__ASAN
  void *asan_fake;
#endif
#ifdef CC__TSAN
  void *tsan_fiber;
#endif
  _Atomic uint64_t rw_token;

  /* Wake-ups from other threads (loop.c), without allocation: the waker
   * stores rw_result and rw_token and pushes rw_node onto the loop's inbox
   * unless it is there already (rw_node.queued); the loop re-reads them
   * when it pops it. rw_node outlives the structure's reuse
   * (cc__task_alloc clears a task only up to it), since it may still be in
   * the inbox: a stale wake then meets a newer token and is dropped. */
  cc__inode_t rw_node;
};

/* The spawn site's text of the task's function, or NULL. */
static inline const char *cc__task_fname(const cc_task_t *t) {
  return t->owned_name ? ((const char *const *)(const void *)t->name)[-1] : t->name;
}

/* What the loop knows of an fd: the tasks parked on it (cc__fd_wait), or
 * the callback watcher that owns it (loop/io.h), never both. */
typedef struct cc__fdslot {
  cc_task_t *rd, *wr;
  uint64_t rtok, wtok;
  struct cc__io *io;  /* the callback watcher on this fd, if any */
  uint8_t registered; /* in the poller, edge-triggered, for tasks */
  uint8_t ready;      /* CC__READ/CC__WRITE edges seen with nobody waiting */
  uint8_t hup;        /* an event said hang-up or error (cc__fd_wait_more) */
} cc__fdslot_t;

typedef struct cc__task_slab {
  struct cc__task_slab *next;
  size_t bytes; /* mapping size, for munmap */
  cc_task_t tasks[];
} cc__task_slab_t;

struct cc_loop {
  cc_task_t *current;  /* running task; NULL in the loop's own context */
  cc__ctx_t sched_ctx; /* the loop's own context, on the thread stack */
  cc_task_t *rq_head, *rq_tail;
  unsigned budget;   /* switches left before the loop checks the clock */
  int64_t polled_ns; /* CLOCK_MONOTONIC of the last poll (cc__budget_renew) */
  int64_t now;       /* cached cc_now(), refreshed on every poll */
  cc__timers_t timers;
  cc__poller_t *poller;
  cc__stack_pool_t stacks;
  cc_task_t *zombie; /* ended task whose stack is released after the switch */
  unsigned fbs_skip; /* starts left before finish_before_start reads the clock */

  /* Inbox: the only part other threads touch. A Treiber stack (newest
   * first) that the loop takes whole and reverses; `polling` is 1 while
   * the loop may block in the poller, and the first poster that finds it
   * so clears it and writes the eventfd. */
  _Atomic(cc__inode_t *) inbox;
  atomic_int polling;
  int efd;

  /* Signals (the loop that owns SIGINT/SIGTERM/SIGUSR1). */
  int sigfd;
  bool owns_signals;
  sigset_t saved_mask;
  int interrupts;

  cc__fdslot_t *fds;
  size_t nfds;

  /* Callback watchers and timers (loop/io.h). */
  size_t nio;                              /* started watchers */
  size_t ncbtimers;                        /* armed callback timers */
  uint32_t io_tag;                         /* last poller tag handed to a watcher */
  struct cc__cbtimer *due_head, *due_tail; /* expired, about to run */
  uint64_t poller_ctls;                    /* calls that changed the poller (for tests) */

  cc_task_t *all; /* live tasks, newest first */
  size_t live;
  uint64_t next_id;
  cc_task_t *task_free;            /* structures to reuse */
  cc_task_t *slab_next, *slab_end; /* never used yet, in the newest slab */
  cc__task_slab_t *slabs;

  const struct cc__task_ops *ops; /* the task layer's hooks, set per run */
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

/* Initial-exec TLS: one instruction to reach the loop, also from the
 * shared library (which must therefore not be dlopen()ed late into a
 * process that has exhausted its static TLS reserve). */
#define CC__TLS _Thread_local __attribute__((tls_model("initial-exec")))
extern CC__TLS cc_loop_t *cc__tl_loop;

/* Inlined even where the compiler would rather not (a primitive with
 * several park sites): a call here costs more than the code it saves. */
#define CC__HOT __attribute__((always_inline))

/* Run queue. */
static inline CC__HOT void cc__rq_push(cc_loop_t *l, cc_task_t *t) {
  t->rq_next = NULL;
  if (l->rq_tail)
    l->rq_tail->rq_next = t;
  else
    l->rq_head = t;
  l->rq_tail = t;
}

static inline CC__HOT cc_task_t *cc__rq_pop(cc_loop_t *l) {
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
cc_task_t *cc__run_next(cc_loop_t *l, cc_task_t *self, bool dying);
/* First-run set-up of a task (stack, first frame); false if it must not run. */
bool cc__prepare_slow(cc_loop_t *l, cc_task_t *t);
/* The out-of-line part of parking: cancellation, deadlines, timer. */
int cc__park_slow(cc_loop_t *l, cc_task_t *self, int64_t deadline);
/* Posts a wake-up to another thread's loop. */
void cc__wake_remote(cc_task_t *t, uint64_t token, int result);
/* Dispatches a poller event for an fd (io.c). */
void cc__fd_ready(cc_loop_t *l, const cc__poll_event_t *ev);
/* Moves an expired callback timer to the loop's due list (io.c). */
void cc__cbtimer_expired(cc_loop_t *l, cc__timer_t *t);
/* Runs the callbacks of the due list (io.c). */
void cc__cbtimers_run(cc_loop_t *l);

/* What the task layer tells the loop when a run begins (cc__loop_enter):
 * the loop calls nothing above it but these. */
typedef struct cc__task_ops {
  /* The coroutine entry point of every task (first frame of its stack). */
  void (*entry)(void *task);
  /* Finishes a task that must not run: cancelled before it started, or no
   * stack could be had for it (result -ECANCELED / -ENOMEM). */
  void (*finish_unstarted)(cc_loop_t *l, cc_task_t *t, intptr_t result);
  /* A signal read from the loop's signalfd (SIGINT, SIGTERM, SIGUSR1). */
  void (*signal)(cc_loop_t *l, int signo);
} cc__task_ops_t;

/* Makes the calling thread run `l` (-EBUSY if it runs one, or l runs). */
int cc__loop_enter(cc_loop_t *l, const cc__task_ops_t *ops);
/* One turn: poll (blocking when nothing is runnable), fire timers and
 * callbacks, then run tasks until control comes back to the loop. */
void cc__loop_iterate(cc_loop_t *l);
/* Ends the thread's run of `l`. */
void cc__loop_leave(cc_loop_t *l);

/* The memory of tasks (tasks.c). */
cc_task_t *cc__task_alloc(cc_loop_t *l);
/* Returns an ended task's stack; frees the task too if nobody will join it. */
void cc__task_release(cc_loop_t *l, cc_task_t *t);
/* Frees every task slab (loop teardown). */
void cc__task_slabs_free(cc_loop_t *l);
/* Makes t runnable with park result r (same loop, t PARKED). */
void cc__make_ready(cc_loop_t *l, cc_task_t *t, int r);

/* Returns the task structure to the loop's free list (inline: every join
 * ends here). */
static inline void cc__task_free(cc_loop_t *l, cc_task_t *t) {
  if (t->owned_name)
    free((char *)t->name - sizeof(const char *));
  t->state = CC__DONE;
  t->rq_next = l->task_free;
  l->task_free = t;
}

/* ---- the hot path, inline ------------------------------------------------ */

#include "coro/annot.h"

/* Everything a context does first when it is resumed: tell the sanitizers,
 * then release the stack of a task that ended on the way here (it could
 * not free the stack it was running on). */
static inline CC__HOT void cc__after_switch(cc_loop_t *l, void *fake) {
  CC__ASAN_FINISH(fake);
  cc_task_t *z = l->zombie;
  if (CC_UNLIKELY(z != NULL)) {
    l->zombie = NULL;
    cc__task_release(l, z);
  }
}

/* Switches from context `from` (the running task `self`, or the loop's own
 * context when self is NULL) to task `to` (or the loop's own context).
 * Returns, once resumed, the context resumed (`from`): callers find their
 * task (container_of) and the loop through it, so that neither need be kept
 * in a callee-saved register across the switch, which saves those itself. */
static inline CC__HOT cc__ctx_t *cc__switch_to(cc_loop_t *l, cc_task_t *self,
                                               cc_task_t *to, bool dying) {
  cc__ctx_t *from = self ? &self->ctx : &l->sched_ctx;
#ifdef CC__ASAN
  void **fake = self ? &self->asan_fake : &l->sched_asan_fake;
#endif
  (void)dying;
  l->current = to;
  if (to) {
    to->state = CC__RUNNING;
    CC__ASAN_START(dying ? NULL : fake, to->stack->lo, to->stack->size);
#ifdef CC__TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    from = cc__ctx_switch(from, &to->ctx);
  } else {
    CC__ASAN_START(dying ? NULL : fake, l->thread_stack_lo, l->thread_stack_size);
#ifdef CC__TSAN
    __tsan_switch_to_fiber(l->sched_tsan_fiber, 0);
#endif
    from = cc__ctx_switch(from, &l->sched_ctx);
  }
  l = self ? container_of(from, cc_task_t, ctx)->loop
           : container_of(from, cc_loop_t, sched_ctx);
#ifdef CC__ASAN
  cc__after_switch(l, *fake);
#else
  cc__after_switch(l, NULL);
#endif
  return from;
}

/* The next task to run, or NULL when the loop's own context should run. */
/* Called when the switch budget is spent: true (budget renewed) if the
 * loop polled less than CC__POLL_EVERY_NS ago, false if it must poll now.
 * (loop.c) */
bool cc__budget_renew(cc_loop_t *l);

static inline CC__HOT cc_task_t *cc__pick(cc_loop_t *l) {
  while (l->rq_head) {
    if (CC_UNLIKELY(!l->budget) && !cc__budget_renew(l))
      return NULL;
    l->budget--;
    cc_task_t *t = cc__rq_pop(l);
    if (CC_LIKELY(t->stack != NULL) || cc__prepare_slow(l, t))
      return t;
  }
  return NULL;
}

/* Returns the resumed task: `self` (see cc__switch_to). */
static inline CC__HOT cc_task_t *cc__run_next_inl(cc_loop_t *l, cc_task_t *self,
                                                  bool dying) {
  cc_task_t *next = cc__pick(l);
  if (next == self) { /* yielded with nobody else to run */
    self->state = CC__RUNNING;
    return self;
  }
  return container_of(cc__switch_to(l, self, next, dying), cc_task_t, ctx);
}

static inline CC__HOT void cc__make_ready_inl(cc_loop_t *l, cc_task_t *t, int r) {
  if (t->timer.where)
    cc__timers_del(&l->timers, &t->timer);
  t->wake_result = r;
  t->state = CC__READY;
  cc__rq_push(l, t);
}

/* Same-loop wake-up inline; other threads go through the inbox. Returns
 * whether it was delivered (see cc__wake in loop/sched.h). */
static inline CC__HOT bool cc__wake_inl(cc_task_t *t, uint64_t token, int result) {
  cc_loop_t *l = t->loop;
  if (CC_LIKELY(cc__tl_loop == l)) {
    if (t->state != CC__PARKED || t->token != token)
      return false;
    cc__make_ready_inl(l, t, result);
    return true;
  }
  cc__wake_remote(t, token, result);
  return true;
}

/* The running task, or NULL. */
static inline cc_task_t *cc__current(void) {
  cc_loop_t *l = cc__tl_loop;
  return l ? l->current : NULL;
}

/* True when a park of `self` with `deadline` needs none of cc__park_slow():
 * no deadline, no scope deadline, not cancelled. */
static inline CC__HOT bool cc__park_plain_ok(const cc_task_t *self, int64_t deadline) {
  return !(deadline >= 0 || self->deadline >= 0 || self->cancelled);
}

/* The switching half of cc__park_inl(), for a caller that has checked
 * cc__park_plain_ok(). The task comes back from the switch rather than
 * being kept in a register across it. */
static inline CC__HOT int cc__park_plain(cc_loop_t *l, cc_task_t *self, const char *what,
                                         const void *obj) {
  self->wait_what = what;
  self->wait_obj = obj;
  self->state = CC__PARKED;
  self = cc__run_next_inl(l, self, false);
  self->token++;
  return self->wake_result;
}

/* cc__park_plain() for a caller that keeps nothing else across the switch
 * either (the queue's parking halves): cc__pick()'s common case (a ready
 * task that has its stack, budget left) inline and free of calls, the rest
 * out of line in cc__run_next(), so that no callee-saved register need be
 * saved here. Costs a call more where the next task has not started yet
 * (a spawn-heavy run), so only hand-off paths use it. */
static inline CC__HOT int cc__park_lean(cc_loop_t *l, cc_task_t *self, const char *what,
                                        const void *obj) {
  self->wait_what = what;
  self->wait_obj = obj;
  self->state = CC__PARKED;
  cc_task_t *next = l->rq_head;
  if (CC_LIKELY(next != NULL && l->budget != 0 && next->stack != NULL)) {
    l->budget--;
    (void)cc__rq_pop(l);
    self = container_of(cc__switch_to(l, self, next, false), cc_task_t, ctx);
  } else {
    self = cc__run_next(l, self, false);
  }
  self->token++;
  return self->wake_result;
}

/* cc__park() for callers that already know the loop and the running task.
 * The common case (no deadline, not cancelled) makes no call but the
 * context switch itself. */
static inline CC__HOT int cc__park_inl(cc_loop_t *l, cc_task_t *self, const char *what,
                                       const void *obj, int64_t deadline) {
  if (CC_UNLIKELY(!cc__park_plain_ok(self, deadline))) {
    int r = cc__park_slow(l, self, deadline);
    if (r < 0)
      return r;
  }
  return cc__park_plain(l, self, what, obj);
}

#endif

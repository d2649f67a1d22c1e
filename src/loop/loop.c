/* The event loop: switching, parking, the inbox, signals, polling. What a
 * run of the loop means (asyncio.run) is src/task/run.c's; fd waits and
 * callback watchers are io.c's.
 *
 * Ordering invariants:
 *  - A task's `token` changes only on its own loop thread, when cc__park()
 *    returns; a wake carrying another token is stale and dropped.
 *  - Posting to the inbox takes no lock and never allocates (a wake-up
 *    uses the node inside the task), so wakers may post while holding
 *    their own object's lock, and an out-of-memory cannot lose one.
 */
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "coro/annot.h"
#include "loop/loop_int.h"

CC__TLS cc_loop_t *cc__tl_loop;

/* The loop polls after BUDGET consecutive task switches, if at least
 * POLL_EVERY_NS have passed since it last polled; otherwise the budget is
 * renewed (one clock read, no system call: the vDSO). A run of cheap
 * switches (a hand-off ping-pong: ~20 ns each) thus polls every ~50 us
 * instead of every ~5 us, where a poll (an epoll_wait that finds nothing,
 * ~0.3-1 us here) cost 5-20% of every switch; tasks that do real work
 * between switches still poll every 256 switches. */
#define BUDGET        256
#define POLL_EVERY_NS 50000

static inline int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool cc__budget_renew(cc_loop_t *l) {
  if (mono_ns() - l->polled_ns >= POLL_EVERY_NS)
    return false;
  l->budget = BUDGET;
  return true;
}
#define MAX_EVENTS 256

static atomic_bool signals_taken;

/* ---- switching -------------------------------------------------------------- */

/* Fresh starts between two clock reads of finish_before_start. */
#define FBS_EVERY 16

/* Finishing before starting. A task that has never run is about to take a
 * stack that was never touched (the pool has no recycled one): if the
 * timers of parked tasks have expired since the last poll, those tasks run
 * first, in deadline order, and the new task right after them. A woken
 * task that ends gives its stack back (or hands it straight to the new
 * task, adopt_next in task/run.c), so a burst of spawns longer than the
 * tasks' sleeps runs on recycled stacks instead of committing a fresh page
 * for every task: W3 at 1,000,000, whose start phase takes longer than its
 * 1 s sleeps on this VM, needs fewer stacks alive at once (see
 * docs/loop.md). Under the run queue's FIFO alone the woken tasks waited
 * behind every task spawned before they woke. The deferral is bounded: a
 * new task is put back at most once (the next FBS_EVERY - 1 starts do not
 * look at the timers), behind the timers expired at that moment only.
 * Returns true if t was put back into the run queue. */
static bool finish_before_start(cc_loop_t *l, cc_task_t *t) {
  cc__timer_t *tm = cc__timers_min(&l->timers);
  if (!tm || tm->kind != CC__TIMER_TASK)
    return false;
  /* The loop's cached clock can be milliseconds old here (polls refresh it,
   * every 256 switches at most), so this reads the clock, but only at
   * every FBS_EVERY-th such start: a read costs ~100 ns on this VM (perf:
   * 4.6% of W3's samples with one per start), and timers are milliseconds
   * apart while starts are microseconds apart. */
  if (l->fbs_skip) {
    l->fbs_skip--;
    return false;
  }
  l->fbs_skip = FBS_EVERY - 1;
  int64_t now = cc_now();
  if (tm->when > now)
    return false;
  l->now = now;
  cc_task_t *head = NULL, *tail = NULL;
  while ((tm = cc__timers_min(&l->timers)) && tm->when <= now &&
         tm->kind == CC__TIMER_TASK) {
    cc_task_t *w = container_of(tm, cc_task_t, timer);
    cc__timers_del(&l->timers, tm);
    w->wake_result = -ETIMEDOUT;
    w->state = CC__READY;
    w->rq_next = NULL;
    if (tail)
      tail->rq_next = w;
    else
      head = w;
    tail = w;
  }
  tail->rq_next = t;
  t->rq_next = l->rq_head;
  if (!l->rq_head)
    l->rq_tail = t;
  l->rq_head = head;
  return true;
}

/* Gives a task its stack and first frame when it is about to run for the
 * first time. Returns false (and finishes the task, or puts it back after
 * the tasks it lets finish first) when it must not run now. */
bool cc__prepare_slow(cc_loop_t *l, cc_task_t *t) {
  if (t->cancelled) {
    l->ops->finish_unstarted(l, t, -ECANCELED);
    return false;
  }
  if (!t->stack_size && !l->stacks.dirty && finish_before_start(l, t))
    return false;
  t->stack = t->stack_size ? cc__stack_map(t->stack_size) : cc__stack_get(&l->stacks);
  if (!t->stack) {
    l->ops->finish_unstarted(l, t, -ENOMEM);
    return false;
  }
  cc__ctx_make(&t->ctx, t->stack->lo, t->stack->size, l->ops->entry, t);
#ifdef CC__TSAN
  t->tsan_fiber = __tsan_create_fiber(0);
#endif
  return true;
}

cc_task_t *cc__run_next(cc_loop_t *l, cc_task_t *self, bool dying) {
  return cc__run_next_inl(l, self, dying);
}

void cc__make_ready(cc_loop_t *l, cc_task_t *t, int r) {
  cc__make_ready_inl(l, t, r);
}

/* ---- inbox ------------------------------------------------------------------ */

/* Pushes n onto the inbox and wakes the loop if it may be asleep. Never
 * allocates, never blocks. The Dekker pair with poll_once(): the poster
 * pushes, then reads `polling`; the loop sets `polling`, then reads the
 * inbox; with both sequentially consistent, at least one sees the other,
 * so a node is never left behind a sleeping loop. */
static void inbox_push(cc_loop_t *l, cc__inode_t *n) {
  cc__inode_t *head = atomic_load_explicit(&l->inbox, memory_order_relaxed);
  do
    n->next = head;
  while (!atomic_compare_exchange_weak(&l->inbox, &head, n));
  if (atomic_load(&l->polling) && atomic_exchange(&l->polling, 0)) {
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof one);
    (void)w; /* EAGAIN only if the counter is saturated: a wake-up is pending */
  }
}

/* Takes the whole inbox, restores posting order and runs it. */
static void inbox_drain(cc_loop_t *l) {
  cc__inode_t *n = atomic_exchange(&l->inbox, NULL), *fifo = NULL;
  while (n) {
    cc__inode_t *next = n->next;
    n->next = fifo;
    fifo = n;
    n = next;
  }
  while (fifo) {
    n = fifo;
    /* Read the link first: once the node's queued flag is cleared, a
     * poster may push the same node again and rewrite it. */
    fifo = n->next;
    if (n->kind == CC__INODE_CALL) {
      cc__icall_t *c = container_of(n, cc__icall_t, node);
      void (*fn)(void *) = c->fn;
      void *arg = c->arg;
      free(c);
      fn(arg);
    } else {
      cc_task_t *t = container_of(n, cc_task_t, rw_node);
      atomic_store(&t->rw_node.queued, false);
      uint64_t tok = atomic_load_explicit(&t->rw_token, memory_order_acquire);
      int r = atomic_load_explicit(&t->rw_result, memory_order_relaxed);
      if (t->state == CC__PARKED && t->token == tok)
        cc__make_ready(l, t, r);
    }
  }
}

/* Drops what is left in the inbox of a loop being freed. */
static void inbox_discard(cc_loop_t *l) {
  cc__inode_t *n = atomic_exchange(&l->inbox, NULL);
  while (n) {
    cc__inode_t *next = n->next;
    if (n->kind == CC__INODE_CALL)
      free(container_of(n, cc__icall_t, node));
    n = next;
  }
}

int cc_loop_call(cc_loop_t *l, void (*fn)(void *), void *arg) {
  if (!l || !fn)
    return -EINVAL;
  cc__icall_t *c = malloc(sizeof *c);
  if (!c)
    return -ENOMEM;
  c->node.kind = CC__INODE_CALL;
  c->fn = fn;
  c->arg = arg;
  inbox_push(l, &c->node);
  return 0;
}

bool cc__wake(cc_task_t *t, uint64_t token, int result) {
  return cc__wake_inl(t, token, result);
}

/* Last writer wins: posts for one task are ordered (each waker holds the
 * lock of the registration it wakes, and a task takes a new registration
 * only after dropping the old one under its lock), so the latest token is
 * the one that can match; result is stored before token (release) and read
 * after it (acquire), so the loop never pairs a token with an older result.
 * Wakes racing for the same park carry the same token: either result is a
 * valid outcome. A node already queued is not pushed again. */
void cc__wake_remote(cc_task_t *t, uint64_t token, int result) {
  atomic_store_explicit(&t->rw_result, result, memory_order_relaxed);
  atomic_store_explicit(&t->rw_token, token, memory_order_release);
  if (atomic_exchange(&t->rw_node.queued, true))
    return;
  t->rw_node.kind = CC__INODE_WAKE;
  inbox_push(t->loop, &t->rw_node);
}

bool cc__shield(cc_task_t *t, bool on) {
  bool old = t->shield;
  t->shield = on;
  return old;
}

/* ---- park ------------------------------------------------------------------- */

cc_task_t *cc__self(void) {
  cc_loop_t *l = cc__tl_loop;
  return l ? l->current : NULL;
}

cc_loop_t *cc__task_loop(const cc_task_t *t) {
  return t->loop;
}

uint64_t cc__park_token(void) {
  cc_task_t *t = cc__self();
  return t ? t->token : 0;
}

int cc__check(void) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (!self)
    return -CC_ENOTCORO;
  if (self->shield)
    return 0;
  if (self->cancelled)
    return -ECANCELED;
  if (self->deadline >= 0 && self->deadline <= cc_now())
    return -ETIMEDOUT;
  return 0;
}

int cc__park(const char *what, const void *obj, int64_t deadline) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (CC_UNLIKELY(!self))
    return -CC_ENOTCORO;
  return cc__park_inl(l, self, what, obj, deadline);
}

int cc__park_slow(cc_loop_t *l, cc_task_t *self, int64_t deadline) {
  int64_t dl = deadline;
  if (!self->shield) {
    if (self->cancelled) {
      self->token++;
      return -ECANCELED;
    }
    dl = cc__dl_min(dl, self->deadline);
  }
  if (dl >= 0) {
    /* Against the loop's cached clock only: a deadline that passed since
     * the last poll fires at the next one, and parking stays free of
     * clock reads (a million sleepers each read the clock once, in
     * cc_sleep, not twice). */
    if (dl <= l->now) {
      self->token++;
      return -ETIMEDOUT;
    }
    if (cc__timers_add(&l->timers, &self->timer, dl) != 0) {
      self->token++;
      return -ENOMEM;
    }
  }
  return 0;
}

/* ---- signals ------------------------------------------------------------------ */

static void signals_setup(cc_loop_t *l) {
  l->sigfd = -1;
  l->owns_signals = false;
  if (!l->opts.handle_signals && !l->opts.dump_on_sigusr1)
    return;
  bool expected = false;
  if (!atomic_compare_exchange_strong(&signals_taken, &expected, true))
    return;
  sigset_t set;
  sigemptyset(&set);
  if (l->opts.handle_signals) {
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
  }
  if (l->opts.dump_on_sigusr1)
    sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, &l->saved_mask);
  l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (l->sigfd < 0 ||
      cc__poller_add(l->poller, l->sigfd, CC__POLL_IN | CC__POLL_LEVEL, 0) != 0) {
    if (l->sigfd >= 0)
      close(l->sigfd);
    l->sigfd = -1;
    pthread_sigmask(SIG_SETMASK, &l->saved_mask, NULL);
    atomic_store(&signals_taken, false);
    return;
  }
  l->owns_signals = true;
  l->interrupts = 0;
}

static void signals_teardown(cc_loop_t *l) {
  if (!l->owns_signals)
    return;
  cc__poller_del(l->poller, l->sigfd);
  /* Consume what is pending, so unblocking does not deliver it late. */
  struct signalfd_siginfo si;
  while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
  }
  close(l->sigfd);
  l->sigfd = -1;
  pthread_sigmask(SIG_SETMASK, &l->saved_mask, NULL);
  l->owns_signals = false;
  atomic_store(&signals_taken, false);
}

static void signals_read(cc_loop_t *l) {
  struct signalfd_siginfo si;
  while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
    l->ops->signal(l, (int)si.ssi_signo); /* what a signal means is the task layer's */
}

/* ---- the loop's own context --------------------------------------------------- */

static void poll_once(cc_loop_t *l, bool may_block) {
  int timeout = 0;
  bool armed = false;
  if (may_block && !l->rq_head) {
    cc__timer_t *t = cc__timers_min(&l->timers);
    if (!t) {
      timeout = -1;
    } else {
      int64_t d = t->when - cc_now();
      timeout = d <= 0 ? 0 : d > INT32_MAX ? INT32_MAX : (int)d;
    }
    if (timeout != 0) {
      cc__stack_pool_trim(&l->stacks, 4096);
      /* About to sleep: from now on posters write the eventfd (see
       * inbox_push for why this order cannot miss a post). */
      atomic_store(&l->polling, 1);
      armed = true;
      if (atomic_load(&l->inbox) != NULL)
        timeout = 0;
    }
  }
  cc__poll_event_t evs[MAX_EVENTS];
  int n = cc__poller_wait(l->poller, timeout, evs, MAX_EVENTS);
  if (armed)
    atomic_store(&l->polling, 0);
  l->polled_ns = mono_ns();
  l->now = l->polled_ns / 1000000;
  for (int i = 0; i < n; i++) {
    int fd = evs[i].fd;
    if (fd == l->efd) {
      uint64_t v;
      ssize_t r = read(l->efd, &v, sizeof v);
      (void)r;
    } else if (fd == l->sigfd)
      signals_read(l);
    else
      cc__fd_ready(l, &evs[i]);
  }
  /* Posts are drained whether or not they wrote the eventfd: only the
   * first one after the loop decided to sleep does. */
  if (atomic_load_explicit(&l->inbox, memory_order_relaxed) != NULL)
    inbox_drain(l);
  cc__timer_t *t;
  while ((t = cc__timers_min(&l->timers)) && t->when <= l->now) {
    if (CC_UNLIKELY(t->kind != CC__TIMER_TASK)) {
      cc__cbtimer_expired(l, t);
      continue;
    }
    cc_task_t *task = container_of(t, cc_task_t, timer);
    cc__make_ready(l, task, -ETIMEDOUT);
  }
  if (CC_UNLIKELY(l->due_head != NULL))
    cc__cbtimers_run(l);
}

void cc__loop_iterate(cc_loop_t *l) {
  poll_once(l, true);
  l->budget = BUDGET;
  cc_task_t *next = cc__pick(l);
  if (next)
    cc__switch_to(l, NULL, next, false);
}

/* ---- overflow reporting --------------------------------------------------------- */

static struct sigaction prev_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;

static size_t fmt_u(char *p, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    p[i] = tmp[n - 1 - i];
  return n;
}

static size_t fmt_s(char *p, const char *s, size_t max) {
  size_t n = 0;
  while (s && s[n] && n < max) {
    p[n] = s[n];
    n++;
  }
  return n;
}

static size_t fmt_x(char *p, uint64_t v) {
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  p[0] = '0';
  p[1] = 'x';
  for (size_t i = 0; i < n; i++)
    p[2 + i] = tmp[n - 1 - i];
  return n + 2;
}

/* The user's task function (or the one a trampoline task runs for its
 * user, cc__task_report_as): its symbol when the dynamic symbol table has
 * it (dladdr, exact address only), else the expression written at the
 * cc_spawn() site, else its offset in its module (for addr2line). Not
 * async-signal-safe in general (dladdr), acceptable on the way to abort. */
static size_t fmt_fn(char *p, const cc_task_t *t) {
  Dl_info di;
  void *fn = (void *)(uintptr_t)t->fn;
  const char *fname = cc__task_fname(t);
  bool found = dladdr(fn, &di) != 0;
  if (found && di.dli_sname && di.dli_saddr == fn)
    return fmt_s(p, di.dli_sname, 128);
  if (fname)
    return fmt_s(p, fname, 128);
  size_t n = 0;
  if (found && di.dli_fname) {
    n += fmt_s(p + n, di.dli_fname, 200);
    n += fmt_s(p + n, "+", 1);
    n += fmt_x(p + n, (uint64_t)((uintptr_t)fn - (uintptr_t)di.dli_fbase));
  } else {
    n += fmt_x(p + n, (uint64_t)(uintptr_t)fn);
  }
  return n;
}

static void segv_handler(int sig, siginfo_t *si, void *uc) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *t = l ? l->current : NULL;
  if (t && t->stack && cc__stack_in_guard(t->stack, si->si_addr)) {
    char buf[768];
    size_t n = 0;
    n += fmt_s(buf + n, "concur: stack overflow in task #", 64);
    n += fmt_u(buf + n, t->id);
    n += fmt_s(buf + n, " '", 4);
    n += fmt_s(buf + n, t->name, 64);
    n += fmt_s(buf + n, "', function ", 16);
    n += fmt_fn(buf + n, t);
    n += fmt_s(buf + n, ", spawned at ", 16);
    n += fmt_s(buf + n, t->file, 200);
    n += fmt_s(buf + n, ":", 2);
    n += fmt_u(buf + n, (uint64_t)t->line);
    n += fmt_s(buf + n, " (stack ", 10);
    n += fmt_u(buf + n, t->stack->size / 1024);
    n += fmt_s(buf + n, " KiB, guard ", 16);
    n += fmt_u(buf + n, cc__stack_guard_size() / 1024);
    n += fmt_s(buf + n, " KiB; see \"the rules of a coroutine\" in docs/task.md)\n", 80);
    ssize_t w = write(2, buf, n);
    (void)w;
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  /* Not ours: hand it to whoever was installed before, or to the default
   * action (returning re-executes the fault with SIG_DFL). */
  if (prev_segv.sa_flags & SA_SIGINFO) {
    if (prev_segv.sa_sigaction) {
      prev_segv.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
    prev_segv.sa_handler(sig);
    return;
  }
  signal(SIGSEGV, SIG_DFL);
}

/* fork() copies the calling thread only. A child of a loop thread must not
 * believe it runs that loop (it has none of its other tasks, and the loop
 * belongs to the parent): it starts outside any loop, may call cc_run()
 * afresh, and gets back the signal mask the loop had changed. */
/* In a child forked from a coroutine, the stack the thread runs on is that
 * coroutine's, not the thread's: the sanitizers must be given its bounds
 * when the child starts a loop of its own. */
static _Thread_local const void *forked_stack_lo;
static _Thread_local size_t forked_stack_size;

static void atfork_child(void) {
  cc_loop_t *l = cc__tl_loop;
  if (l && l->owns_signals)
    pthread_sigmask(SIG_SETMASK, &l->saved_mask, NULL);
  if (l && l->current && l->current->stack) {
    forked_stack_lo = l->current->stack->lo;
    forked_stack_size = l->current->stack->size;
  }
  cc__tl_loop = NULL;
  atomic_store(&signals_taken, false);
}

static void segv_install(void) {
  pthread_atfork(NULL, NULL, atfork_child);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &prev_segv);
}

/* Each loop thread needs an alternate signal stack: the handler cannot run
 * on the stack that just overflowed. */
static _Thread_local void *altstack;

static void altstack_setup(void) {
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
    return; /* the thread has one already (ASan installs its own) */
  size_t sz = 64 * 1024;
  altstack = malloc(sz);
  if (!altstack)
    return;
  stack_t ss = {.ss_sp = altstack, .ss_size = sz, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    free(altstack);
    altstack = NULL;
  }
}

static void altstack_teardown(void) {
  if (!altstack)
    return;
  stack_t ss = {.ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  free(altstack);
  altstack = NULL;
}

/* ---- public loop API -------------------------------------------------------------- */

int cc_loop_new(cc_loop_t **out, const cc_loop_opts_t *opts) {
  if (!out)
    return -EINVAL;
  cc_loop_t *l = calloc(1, sizeof *l);
  if (!l)
    return -ENOMEM;
  if (opts)
    l->opts = *opts;
  int r = cc__poller_new(&l->poller);
  if (r < 0) {
    free(l);
    return r;
  }
  l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->efd < 0) {
    r = -errno;
    cc__poller_free(l->poller);
    free(l);
    return r;
  }
  r = cc__poller_add(l->poller, l->efd, CC__POLL_IN | CC__POLL_LEVEL, 0);
  if (r < 0) {
    close(l->efd);
    cc__poller_free(l->poller);
    free(l);
    return r;
  }
  cc__timers_init(&l->timers);
  cc__stack_pool_init(&l->stacks, l->opts.stack_size, l->opts.stack_cache);
  l->sigfd = -1;
  l->next_id = 1;
  *out = l;
  return 0;
}

void cc_loop_free(cc_loop_t *l) {
  if (!l)
    return;
  /* Watchers and callback timers must be stopped first (loop/io.h). */
  assert(l->nio == 0 && l->ncbtimers == 0);
  inbox_discard(l); /* first: its wake nodes live in the task slabs */
  cc__stack_pool_destroy(&l->stacks);
  cc__timers_destroy(&l->timers);
  cc__task_slabs_free(l);
  free(l->fds);
  close(l->efd);
  cc__poller_free(l->poller);
  free(l);
}

cc_loop_t *cc_loop_current(void) {
  return cc__tl_loop;
}

int cc__loop_enter(cc_loop_t *l, const cc__task_ops_t *ops) {
  if (cc__tl_loop || l->running)
    return -EBUSY;
  pthread_once(&segv_once, segv_install);
  altstack_setup();
  cc__tl_loop = l;
  l->ops = ops;
  l->running = true;
  l->current = NULL;
  l->now = cc_now();
#ifdef CC__TSAN
  l->sched_tsan_fiber = __tsan_get_current_fiber();
#endif
#ifdef CC__ASAN
  pthread_attr_t attr;
  if (forked_stack_lo) {
    l->thread_stack_lo = forked_stack_lo;
    l->thread_stack_size = forked_stack_size;
  } else if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *lo;
    size_t sz;
    pthread_attr_getstack(&attr, &lo, &sz);
    l->thread_stack_lo = lo;
    l->thread_stack_size = sz;
    pthread_attr_destroy(&attr);
  }
#endif
  signals_setup(l);
  return 0;
}

void cc__loop_leave(cc_loop_t *l) {
  /* Callbacks posted from now on wait in the inbox for the next run, or
   * are dropped by cc_loop_free(). */
  signals_teardown(l);
  l->running = false;
  cc__tl_loop = NULL;
  altstack_teardown();
}

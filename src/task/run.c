/* asyncio.run(): the policy of running a loop with a main task.
 *
 * The loop (src/loop/) schedules tasks and polls; what a run means is
 * decided here: main is the first task, SIGINT/SIGTERM cancel it, SIGUSR1
 * prints every task, and once main has returned every other task is
 * cancelled and waited for. Also here: the coroutine entry every task
 * starts in, and the task dump. The loop reaches this file only through
 * the cc__task_ops_t it is given when a run begins.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/trace.h"
#include "task/task_int.h"

/* When a task ends and the next runnable task has never run, the new task
 * simply takes over the stack and the context that are already running:
 * no context switch, no stack from the pool, no first frame to build. A
 * burst of short tasks (a million spawns, then joins) thus runs as a plain
 * loop on one stack. Each adoption counts against the loop's switch budget
 * like a switch would. Not under TSan, which tracks one fiber per task. */
static cc_task_t *adopt_next(cc_loop_t *l, cc_task_t *t) {
#ifdef CC__TSAN
  (void)l;
  (void)t;
  return NULL;
#else
  cc_task_t *n = l->rq_head;
  if (!n || n->stack || n->cancelled || n->stack_size != t->stack_size || !l->budget)
    return NULL;
  l->budget--;
  cc__rq_pop(l);
  n->stack = t->stack;
  t->stack = NULL;
  if (t->detached)
    cc__task_free(l, t);
  l->current = n;
  n->state = CC__RUNNING;
  return n;
#endif
}

static void task_entry(void *arg) {
  cc_task_t *t = arg;
  cc_loop_t *l = t->loop;
  cc__after_switch(l, NULL);
  for (;;) {
    t->started = true;
    cc__task_body(t);
    cc_task_t *n = adopt_next(l, t);
    if (!n)
      break;
    t = n;
  }
  l->zombie = t;
  cc__run_next_inl(l, t, true);
  __builtin_unreachable();
}

static void on_signal(cc_loop_t *l, int signo) {
  if (signo == SIGUSR1) {
    cc_loop_dump(stderr);
    return;
  }
  if (++l->interrupts > 1) {
    /* Asked twice: stop waiting for a clean shutdown. */
    signal(signo, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, &l->saved_mask, NULL);
    raise(signo);
    _exit(128 + signo);
  }
  if (l->main)
    cc_cancel(l->main);
}

static const cc__task_ops_t task_ops = {
    .entry = task_entry,
    .finish_unstarted = cc__task_finish_unstarted,
    .signal = on_signal,
};

static bool finished(cc_loop_t *l) {
  if (l->main->state != CC__DONE)
    return false;
  if (!l->shutting_down) {
    /* asyncio.run(): once main returns, every other task is cancelled. */
    l->shutting_down = true;
    for (cc_task_t *t = l->all; t; t = t->anext)
      cc_cancel(t);
  }
  return l->live == 0;
}

int cc_loop_run(cc_loop_t *l, cc_task_fn main, void *arg, intptr_t *result) {
  if (!l || !main)
    return -EINVAL;
  int r = cc__loop_enter(l, &task_ops);
  if (r < 0)
    return r;
  l->shutting_down = false;
  cc_spawn_opts_t so = {.name = "main"};
  cc_task_t *t = NULL;
  /* The user's function is named by its symbol (see the overflow report),
   * not by this call's text. */
  r = cc_spawn_at(&t, main, arg, &so, "cc_run", 0, NULL);
  if (r == 0) {
    l->main = t;
    while (!finished(l))
      cc__loop_iterate(l);
    r = (int)(t->result < 0 ? t->result : 0);
    if (r == 0 && result)
      *result = t->result;
    l->main = NULL;
    cc__task_free(l, t);
  }
  cc__loop_leave(l);
  return r;
}

int cc_run_opts(const cc_loop_opts_t *opts, cc_task_fn main, void *arg,
                intptr_t *result) {
  if (cc__tl_loop)
    return -EBUSY;
  cc_loop_t *l;
  int r = cc_loop_new(&l, opts);
  if (r < 0)
    return r;
  r = cc_loop_run(l, main, arg, result);
  cc_loop_free(l);
  CC__TRACE(cc__trace_flush());
  return r;
}

int cc_run(cc_task_fn main, void *arg, intptr_t *result) {
  cc_loop_opts_t o = {.handle_signals = true, .dump_on_sigusr1 = true};
  return cc_run_opts(&o, main, arg, result);
}

/* ---- the dump -------------------------------------------------------------- */

size_t cc_loop_task_count(void) {
  cc_loop_t *l = cc__tl_loop;
  return l ? l->live : 0;
}

static const char *state_name(const cc_task_t *t) {
  switch (t->state) {
  case CC__READY:
    return t->started ? "ready" : "new";
  case CC__RUNNING:
    return "running";
  case CC__PARKED:
    return "waiting";
  default:
    return "done";
  }
}

void cc_loop_dump(FILE *out) {
  cc_loop_t *l = cc__tl_loop;
  if (!l || !out)
    return;
  int64_t now = cc_now();
  fprintf(out, "concur: %zu live task(s) on loop %p\n", l->live, (void *)l);
  for (cc_task_t *t = l->all; t; t = t->anext) {
    fprintf(out, "  #%" PRIu64 " %-16s %-8s", t->id, t->name ? t->name : "?",
            state_name(t));
    if (t->state == CC__PARKED && t->wait_what) {
      if (strncmp(t->wait_what, "fd ", 3) == 0)
        fprintf(out, " on %s %d", t->wait_what, (int)(intptr_t)t->wait_obj);
      else if (strcmp(t->wait_what, "join") == 0 && t->wait_obj)
        fprintf(out, " on join #%" PRIu64, ((const cc_task_t *)t->wait_obj)->id);
      else if (t->wait_obj)
        fprintf(out, " on %s %p", t->wait_what, t->wait_obj);
      else
        fprintf(out, " on %s", t->wait_what); /* sleep: there is no object */
      if (t->timer.where)
        fprintf(out, " (timer in %" PRId64 " ms)", t->timer.when - now);
    }
    if (t->cancelled)
      fprintf(out, " [cancelled]");
    fprintf(out, " age %" PRId64 " ms, spawned at %s:%d\n", now - t->born,
            t->file ? t->file : "?", t->line);
  }
  fflush(out);
}

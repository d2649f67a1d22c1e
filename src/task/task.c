/* Tasks: spawn, join, cancel, gather, sleep, yield, deadline scopes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/annot.h"
#include "core/trace.h"
#include "task/task_int.h"

/* ---- completion ------------------------------------------------------------------ */

static void unlink_live(cc_loop_t *l, cc_task_t *t) {
  if (t->aprev)
    t->aprev->anext = t->anext;
  else
    l->all = t->anext;
  if (t->anext)
    t->anext->aprev = t->aprev;
  t->aprev = t->anext = NULL;
  l->live--;
}

static inline void complete(cc_loop_t *l, cc_task_t *t, intptr_t result) {
  t->result = result;
  t->state = CC__DONE;
  unlink_live(l, t);
  if (t->group)
    cc__group_child_done(t);
  if (t->joiner)
    cc__wake(t->joiner->task, t->joiner->token, 0);
}

void cc__task_body(cc_task_t *t) {
  intptr_t r = t->cancelled ? -ECANCELED : t->fn(t->arg);
  CC__TRACE(cc__trace_task_end(t->id, t->name, r));
  complete(t->loop, t, r);
}

void cc__task_finish_unstarted(cc_loop_t *l, cc_task_t *t, intptr_t result) {
  CC__TRACE(cc__trace_task_end(t->id, t->name, result));
  complete(l, t, result);
  if (t->detached)
    cc__task_free(l, t);
}

/* ---- spawn ------------------------------------------------------------------------ */

int cc_spawn_at(cc_task_t **out, cc_task_fn fn, void *arg, const cc_spawn_opts_t *opts,
                const char *file, int line, const char *fname) {
  cc_loop_t *l = cc__tl_loop;
  if (!l)
    return -CC_ENOTCORO;
  if (!fn)
    return -EINVAL;
  bool detached = opts && opts->detached;
  if (!out && !detached)
    return -EINVAL;
  if (l->shutting_down)
    return -ESHUTDOWN;
  if (opts && opts->stack_size > UINT32_MAX)
    return -EINVAL;
  cc_task_t *t = cc__task_alloc(l);
  if (!t)
    return -ENOMEM;
  t->loop = l;
  t->fn = fn;
  t->arg = arg;
  t->deadline = CC_FOREVER;
  t->detached = detached;
  t->id = l->next_id++;
  t->born = l->now;
  t->file = file;
  t->line = line;
  t->name = fname;
  if (opts) {
    if (opts->name) {
      /* The copy is preceded by the spawn site's text of the function
       * (cc__task_fname): the structure has no room for both. */
      size_t n = strnlen(opts->name, 31);
      char *copy = malloc(sizeof(const char *) + n + 1);
      if (copy) {
        memcpy(copy, &fname, sizeof fname);
        copy += sizeof fname;
        memcpy(copy, opts->name, n);
        copy[n] = 0;
        t->name = copy;
        t->owned_name = true;
      }
    }
    if (opts->stack_size && opts->stack_size != l->stacks.stack_size)
      t->stack_size = (uint32_t)opts->stack_size;
  }
  CC__TRACE(cc__trace_task_begin(t->id, t->name, file, line));
  t->anext = l->all;
  if (l->all)
    l->all->aprev = t;
  l->all = t;
  l->live++;
  t->state = CC__READY;
  cc__rq_push(l, t);
  if (out)
    *out = t;
  return 0;
}

/* ---- join / detach / cancel ---------------------------------------------------------
 */

static int check_joinable(cc_loop_t *l, cc_task_t *t) {
  if (!l || !l->current)
    return -CC_ENOTCORO;
  if (!t)
    return -EINVAL;
  if (t->loop != l)
    return -EXDEV;
  if (t->detached || t->joiner || t->group || t == l->current)
    return -EINVAL;
  return 0;
}

/* Waits until t is done; 0, or the reason the wait was interrupted. */
static int wait_done(cc_task_t *t, int64_t deadline) {
  if (t->state == CC__DONE)
    return 0;
  cc__waiter_t w;
  cc__waiter_init(&w, NULL);
  t->joiner = &w;
  int r = cc__park("join", t, deadline);
  t->joiner = NULL;
  if (r == 0 && t->state != CC__DONE)
    r = -EAGAIN; /* cannot happen: only completion wakes a joiner */
  return r;
}

/* Frees a done task and returns its outcome. */
static int take(cc_loop_t *l, cc_task_t *t, intptr_t *result) {
  intptr_t v = t->result;
  cc__task_free(l, t);
  if (v < 0)
    return (int)v;
  if (result)
    *result = v;
  return 0;
}

int cc_join(cc_task_t *t, intptr_t *result) {
  cc_loop_t *l = cc__tl_loop;
  int r = check_joinable(l, t);
  if (r < 0)
    return r;
  r = wait_done(t, CC_FOREVER);
  if (r < 0)
    return r;
  return take(l, t, result);
}

int cc_detach(cc_task_t *t) {
  cc_loop_t *l = cc__tl_loop;
  if (!t)
    return -EINVAL;
  if (t->loop != l)
    return -EXDEV;
  if (t->detached || t->joiner || t->group)
    return -EINVAL;
  if (t->state == CC__DONE && !t->stack) {
    cc__task_free(l, t);
    return 0;
  }
  t->detached = true;
  return 0;
}

int cc_cancel(cc_task_t *t) {
  if (!t)
    return -EINVAL;
  if (t->loop != cc__tl_loop)
    return -EXDEV;
  if (t->state == CC__DONE)
    return 0;
  t->cancelled = true;
  if (t->state == CC__PARKED && !t->shield)
    cc__make_ready(t->loop, t, -ECANCELED);
  return 0;
}

cc_task_t *cc_self(void) {
  return cc__self();
}

bool cc_cancelled(void) {
  cc_task_t *t = cc__self();
  return t && t->cancelled;
}

uint64_t cc_task_id(const cc_task_t *t) {
  return t ? t->id : 0;
}

const char *cc_task_name(const cc_task_t *t) {
  return t && t->name ? t->name : "";
}

bool cc_task_done(const cc_task_t *t) {
  return t && t->state == CC__DONE;
}

int cc_gather(cc_task_t **tasks, size_t n, intptr_t *results) {
  cc_loop_t *l = cc__tl_loop;
  if (!l || !l->current)
    return -CC_ENOTCORO;
  if (n && !tasks)
    return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    int r = check_joinable(l, tasks[i]);
    if (r < 0)
      return r;
  }
  int first = 0, interrupted = 0;
  size_t i = 0;
  for (; i < n; i++) {
    int r = wait_done(tasks[i], CC_FOREVER);
    if (r < 0) {
      interrupted = r;
      break;
    }
    intptr_t v = 0;
    int e = take(l, tasks[i], &v);
    if (results)
      results[i] = e < 0 ? e : v;
    if (e < 0 && !first)
      first = e;
  }
  if (!interrupted)
    return first;
  /* The gatherer was cancelled or timed out: cancel what is left and still
   * collect every task, so nothing outlives the call. */
  for (size_t j = i; j < n; j++)
    cc_cancel(tasks[j]);
  /* Shielded: cancellation and deadlines must not cut this wait short. */
  bool old = cc__shield(cc__self(), true);
  for (size_t j = i; j < n; j++) {
    wait_done(tasks[j], CC_FOREVER);
    intptr_t v = 0;
    int e = take(l, tasks[j], &v);
    if (results)
      results[j] = e < 0 ? e : v;
  }
  cc__shield(cc__self(), old);
  return interrupted;
}

int cc_wait_for(cc_task_fn fn, void *arg, int64_t ms, intptr_t *result) {
  cc_loop_t *l = cc__tl_loop;
  if (!l || !l->current)
    return -CC_ENOTCORO;
  cc_task_t *t;
  cc_spawn_opts_t so = {.name = "wait_for"};
  /* No spawn-site text: it would be "fn", this file's, not the user's. */
  int r = cc_spawn_at(&t, fn, arg, &so, "cc_wait_for", 0, NULL);
  if (r < 0)
    return r;
  r = wait_done(t, cc_deadline_in(ms));
  if (r < 0) {
    cc_cancel(t);
    bool old = cc__shield(cc__self(), true);
    wait_done(t, CC_FOREVER);
    cc__shield(cc__self(), old);
    intptr_t ignored;
    take(l, t, &ignored);
    return r;
  }
  return take(l, t, result);
}

/* ---- yield / sleep --------------------------------------------------------------------
 */

int cc_yield(void) {
  cc_loop_t *l = cc__tl_loop;
  cc_task_t *self = l ? l->current : NULL;
  if (!self)
    return -CC_ENOTCORO;
  int r = cc__check();
  if (r < 0)
    return r;
  self->state = CC__READY;
  cc__rq_push(l, self);
  cc__run_next(l, self, false);
  return 0;
}

int cc_sleep_until(int64_t when) {
  cc_task_t *self = cc__self();
  if (!self)
    return -CC_ENOTCORO;
  if (when < 0)
    return -EINVAL;
  int r = cc__park("sleep", NULL, when);
  if (r == -ETIMEDOUT && (self->shield || self->deadline < 0 || when < self->deadline))
    r = 0; /* our own timer, not an enclosing deadline */
  return r;
}

int cc_sleep(int64_t ms) {
  if (ms <= 0)
    return cc_yield();
  int64_t now = cc_now(); /* cc_deadline_in(ms), inline: this is hot */
  return cc_sleep_until(ms > INT64_MAX - now ? INT64_MAX : now + ms);
}

/* ---- deadline scopes ----------------------------------------------------------------
 */

void cc_timeout_begin(cc_timeout_t *scope, int64_t deadline) {
  cc_task_t *self = cc__self();
  scope->deadline = deadline;
  scope->outer = NULL;
  scope->saved = CC_FOREVER;
  if (!self)
    return;
  scope->outer = self->scope;
  scope->saved = self->deadline;
  self->deadline = cc__dl_min(self->deadline, deadline);
  self->scope = scope;
}

bool cc_timeout_end(cc_timeout_t *scope) {
  cc_task_t *self = cc__self();
  bool expired = scope->deadline >= 0 && cc_now() >= scope->deadline;
  if (self && self->scope == scope) {
    self->deadline = scope->saved;
    self->scope = scope->outer;
  }
  return expired;
}

int64_t cc_deadline(void) {
  cc_task_t *self = cc__self();
  return self ? self->deadline : CC_FOREVER;
}

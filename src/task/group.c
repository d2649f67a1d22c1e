/* Task groups: structured concurrency (asyncio.TaskGroup, Trio nurseries).
 *
 * Children are owned by the group, not by the caller: they cannot be joined
 * or detached individually and their structures are freed as they end. The
 * group records the first error (in time order) and cancels the remaining
 * children at that moment; errors that children return because the group
 * cancelled them are not reported over it.
 */
#include <errno.h>
#include <stdlib.h>

#include "task/task_int.h"

struct cc_group {
  cc_loop_t *loop;
  cc_task_t *children;
  size_t n;
  int first_err;
  bool cancelled;
  cc__waiter_t *waiter;
};

int cc_group_new(cc_group_t **out) {
  cc_loop_t *l = cc__tl_loop;
  if (!out)
    return -EINVAL;
  if (!l)
    return -CC_ENOTCORO;
  cc_group_t *g = calloc(1, sizeof *g);
  if (!g)
    return -ENOMEM;
  g->loop = l;
  *out = g;
  return 0;
}

int cc_group_spawn_at(cc_group_t *g, cc_task_fn fn, void *arg, const char *file, int line,
                      const char *fname) {
  if (!g)
    return -EINVAL;
  if (g->loop != cc__tl_loop)
    return -EXDEV;
  if (g->cancelled)
    return -ECANCELED;
  cc_task_t *t;
  cc_spawn_opts_t so = {.detached = true};
  int r = cc_spawn_at(&t, fn, arg, &so, file, line, fname);
  if (r < 0)
    return r;
  t->group = g;
  t->gprev = NULL;
  t->gnext = g->children;
  if (g->children)
    g->children->gprev = t;
  g->children = t;
  g->n++;
  return 0;
}

void cc_group_cancel(cc_group_t *g) {
  if (!g)
    return;
  g->cancelled = true;
  for (cc_task_t *t = g->children; t; t = t->gnext)
    cc_cancel(t);
}

void cc__group_child_done(cc_task_t *t) {
  cc_group_t *g = t->group;
  if (t->gprev)
    t->gprev->gnext = t->gnext;
  else
    g->children = t->gnext;
  if (t->gnext)
    t->gnext->gprev = t->gprev;
  t->gprev = t->gnext = NULL;
  t->group = NULL;
  g->n--;
  if (t->result < 0 && !g->cancelled) {
    g->first_err = (int)t->result;
    cc_group_cancel(g);
  }
  if (g->n == 0 && g->waiter)
    cc__wake(g->waiter->task, g->waiter->token, 0);
}

/* Waits for n == 0; returns 0 or why the wait was interrupted. */
static int wait_empty(cc_group_t *g) {
  while (g->n > 0) {
    cc__waiter_t w;
    cc__waiter_init(&w, NULL);
    g->waiter = &w;
    int r = cc__park("group", g, CC_FOREVER);
    g->waiter = NULL;
    if (r < 0)
      return r;
  }
  return 0;
}

static void wait_shielded(cc_group_t *g) {
  cc_task_t *self = cc__self();
  bool old = cc__shield(self, true);
  wait_empty(g);
  cc__shield(self, old);
}

int cc_group_wait(cc_group_t *g) {
  if (!g)
    return -EINVAL;
  if (g->loop != cc__tl_loop || !cc__self())
    return -CC_ENOTCORO;
  if (g->waiter)
    return -EBUSY;
  int r = wait_empty(g);
  if (r < 0) {
    cc_group_cancel(g);
    wait_shielded(g);
    return r;
  }
  if (g->first_err)
    return g->first_err;
  return g->cancelled ? -ECANCELED : 0;
}

size_t cc_group_size(const cc_group_t *g) {
  return g ? g->n : 0;
}

void cc_group_free(cc_group_t *g) {
  if (!g)
    return;
  if (g->n > 0) {
    cc_group_cancel(g);
    if (cc__self() && g->loop == cc__tl_loop) {
      wait_shielded(g);
    } else {
      /* Outside a coroutine nobody can wait: orphan the children rather
       * than leave them pointing at freed memory. */
      for (cc_task_t *t = g->children; t; t = t->gnext)
        t->group = NULL;
    }
  }
  free(g);
}

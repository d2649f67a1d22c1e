/* Waiting on thread-level primitives from threads and coroutines alike
 * (see wait.h for the protocol). */
#include "task/wait.h"

#include <errno.h>
#include <time.h>

static pthread_condattr_t mono_attr;
static pthread_once_t mono_once = PTHREAD_ONCE_INIT;

static void mono_init(void) {
  pthread_condattr_init(&mono_attr);
  pthread_condattr_setclock(&mono_attr, CLOCK_MONOTONIC);
}

void cc__cond_init_mono(pthread_cond_t *c) {
  pthread_once(&mono_once, mono_init);
  pthread_cond_init(c, &mono_attr);
}

uintptr_t cc__owner_id(void) {
  static _Thread_local char tag;
  cc_task_t *t = cc__self();
  return t ? (uintptr_t)t : (uintptr_t)&tag;
}

static void twq_push(cc__twq_t *q, cc__tw_t *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail)
    q->tail->next = w;
  else
    q->head = w;
  q->tail = w;
  w->linked = true;
  q->n++;
}

static void twq_remove(cc__twq_t *q, cc__tw_t *w) {
  if (!w->linked)
    return;
  if (w->prev)
    w->prev->next = w->next;
  else
    q->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q->tail = w->prev;
  w->next = w->prev = NULL;
  w->linked = false;
  q->n--;
}

/* Signals w (the caller holds the mutex, and the waiter reads `signalled`
 * under it). With `skip_ended`, a coroutine whose park already ended is
 * not signalled and false is returned: see cc__tw_signal(). */
static bool wake(cc__tw_t *w, int result, bool skip_ended) {
  if (w->task) {
    if (!cc__wake(w->task, w->token, 0) && skip_ended)
      return false;
  } else {
    pthread_cond_signal(&w->cond);
  }
  w->result = result;
  w->signalled = true;
  return true;
}

/* A hand-off to one waiter skips a coroutine whose park already ended
 * (cancelled or timed out in this loop iteration, not yet run): cc__wake()
 * says so exactly when called on that coroutine's loop. Such a waiter is
 * left unsignalled and returns its error having taken nothing; the
 * hand-off goes to the next waiter. From another thread cc__wake() cannot
 * know, and the waiter-side rule applies (a signalled waiter reports
 * success). A broadcast signals every waiter, ended or not. */
bool cc__tw_signal(cc__twq_t *q, int result) {
  cc__tw_t *w;
  while ((w = q->head)) {
    twq_remove(q, w);
    if (wake(w, result, true))
      return true;
  }
  return false;
}

size_t cc__tw_broadcast(cc__twq_t *q, int result) {
  size_t n = 0;
  cc__tw_t *w;
  while ((w = q->head)) {
    twq_remove(q, w);
    wake(w, result, false);
    n++;
  }
  return n;
}

/* Blocks the calling thread on w->cond until signalled or the deadline. */
static int thread_wait(cc__twq_t *q, pthread_mutex_t *mu, cc__tw_t *w, int64_t deadline) {
  struct timespec ts;
  if (deadline != CC_FOREVER) {
    ts.tv_sec = (time_t)(deadline / 1000);
    ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
  }
  int r = 0;
  cc__cond_init_mono(&w->cond);
  if (!w->linked && !w->signalled)
    twq_push(q, w);
  while (!w->signalled) {
    if (deadline == CC_FOREVER) {
      pthread_cond_wait(&w->cond, mu);
    } else if (pthread_cond_timedwait(&w->cond, mu, &ts) == ETIMEDOUT) {
      r = -ETIMEDOUT;
      break;
    }
  }
  twq_remove(q, w);
  pthread_cond_destroy(&w->cond);
  return w->signalled ? 0 : r;
}

int cc__tw_wait(cc__twq_t *q, pthread_mutex_t *mu, cc__tw_t *w, const char *what,
                const void *obj, int64_t deadline, unsigned flags) {
  w->signalled = false;
  w->linked = false;
  w->result = 0;
  w->task = cc__self();
  if (!w->task) {
    if (deadline != CC_FOREVER && cc_now() >= deadline)
      return -ETIMEDOUT;
    return thread_wait(q, mu, w, deadline);
  }
  bool shield = (flags & CC__TW_SHIELD) && deadline == CC_FOREVER;
  bool was_shielded = shield ? cc__shield(w->task, true) : false;
  w->token = cc__park_token();
  twq_push(q, w);
  pthread_mutex_unlock(mu);
  int r = cc__park(what, obj, deadline);
  pthread_mutex_lock(mu);
  if (shield)
    cc__shield(w->task, was_shielded);
  twq_remove(q, w); /* no-op if the waker unlinked it */
  if (w->signalled)
    return 0;
  return r < 0 ? r : 0;
}

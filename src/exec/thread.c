/* Threads (threading.Thread): start, join with the return value, names,
 * detach, identity.
 *
 * A thread and its handle share one reference-counted cc_thread: the
 * thread's own reference is dropped when fn has returned, the handle's by
 * cc_thread_join() (after pthread_join) or cc_thread_detach(). Joining is
 * a wait on `done` under `mu`, so a coroutine can join a thread without
 * blocking its loop; pthread_join() afterwards only reaps a thread that has
 * already finished fn.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "concur/thread.h"
#include "task/wait.h"

struct cc_thread {
  pthread_t pt;
  pthread_mutex_t mu;
  cc__twq_t joiners; /* waiting for done */
  cc_task_fn fn;
  void *arg;
  intptr_t result;
  atomic_int refs;
  bool done, detached, joining;
  char name[16];
};

static _Thread_local cc_thread_t *current;
static _Thread_local char current_name[16];
static atomic_uint thread_seq;

static void thread_unref(cc_thread_t *t) {
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
    pthread_mutex_destroy(&t->mu);
    free(t);
  }
}

static void *trampoline(void *p) {
  cc_thread_t *t = p;
  current = t;
  pthread_setname_np(pthread_self(), t->name);
  intptr_t r = t->fn(t->arg);
  pthread_mutex_lock(&t->mu);
  t->result = r;
  t->done = true;
  cc__tw_broadcast(&t->joiners, 0);
  pthread_mutex_unlock(&t->mu);
  current = NULL;
  thread_unref(t);
  return NULL;
}

int cc_thread_start(cc_thread_t **out, cc_task_fn fn, void *arg,
                    const cc_thread_opts_t *opts) {
  static const cc_thread_opts_t dflt;
  if (!opts)
    opts = &dflt;
  if (out)
    *out = NULL;
  if (!fn || (!out && !opts->detached))
    return -EINVAL;
  cc_thread_t *t = calloc(1, sizeof *t);
  if (!t)
    return -ENOMEM;
  pthread_mutex_init(&t->mu, NULL);
  t->fn = fn;
  t->arg = arg;
  t->detached = opts->detached;
  atomic_init(&t->refs, opts->detached ? 1 : 2);
  if (opts->name && opts->name[0])
    snprintf(t->name, sizeof t->name, "%s", opts->name);
  else
    snprintf(t->name, sizeof t->name, "concur-%u", atomic_fetch_add(&thread_seq, 1) + 1);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (opts->detached)
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (opts->stack_size) {
    size_t min = (size_t)PTHREAD_STACK_MIN;
    size_t sz = opts->stack_size < min ? min : opts->stack_size;
    long pg = sysconf(_SC_PAGESIZE);
    sz = (sz + (size_t)pg - 1) & ~((size_t)pg - 1);
    if (pthread_attr_setstacksize(&attr, sz) != 0) {
      pthread_attr_destroy(&attr);
      pthread_mutex_destroy(&t->mu);
      free(t);
      return -EINVAL;
    }
  }
  /* The new thread inherits the creator's signal mask at pthread_create,
   * so blocking around the call leaves no window in which it could take a
   * signal. */
  sigset_t all, old;
  if (opts->block_signals) {
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
  }
  int rc = pthread_create(&t->pt, &attr, trampoline, t);
  if (opts->block_signals)
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    pthread_mutex_destroy(&t->mu);
    free(t);
    return -rc;
  }
  if (out && !opts->detached)
    *out = t;
  return 0;
}

int cc_thread_join_until(cc_thread_t *t, int64_t deadline, intptr_t *result) {
  if (!t)
    return -EINVAL;
  if (t == current)
    return -EDEADLK;
  pthread_mutex_lock(&t->mu);
  if (t->joining || t->detached) {
    pthread_mutex_unlock(&t->mu);
    return -EINVAL;
  }
  t->joining = true;
  int r = 0;
  while (!t->done) {
    cc__tw_t w;
    r = cc__tw_wait(&t->joiners, &t->mu, &w, "thread join", t, deadline, 0);
    if (r < 0)
      break;
  }
  if (!t->done) {
    t->joining = false;
    pthread_mutex_unlock(&t->mu);
    return r;
  }
  intptr_t res = t->result;
  pthread_mutex_unlock(&t->mu);
  /* fn has returned; the thread only has to unlock and exit. */
  pthread_join(t->pt, NULL);
  if (result)
    *result = res;
  thread_unref(t);
  return 0;
}

int cc_thread_join(cc_thread_t *t, intptr_t *result) {
  return cc_thread_join_until(t, CC_FOREVER, result);
}

int cc_thread_detach(cc_thread_t *t) {
  if (!t)
    return -EINVAL;
  pthread_mutex_lock(&t->mu);
  if (t->joining || t->detached) {
    pthread_mutex_unlock(&t->mu);
    return -EINVAL;
  }
  t->detached = true;
  pthread_mutex_unlock(&t->mu);
  pthread_detach(t->pt);
  thread_unref(t);
  return 0;
}

bool cc_thread_is_alive(const cc_thread_t *t) {
  cc_thread_t *m = (cc_thread_t *)t;
  pthread_mutex_lock(&m->mu);
  bool alive = !m->done;
  pthread_mutex_unlock(&m->mu);
  return alive;
}

const char *cc_thread_name(const cc_thread_t *t) {
  if (t)
    return t->name;
  if (current)
    return current->name;
  if (pthread_getname_np(pthread_self(), current_name, sizeof current_name) != 0)
    current_name[0] = '\0';
  return current_name;
}

int cc_thread_set_name(const char *name) {
  if (!name)
    return -EINVAL;
  char buf[16];
  snprintf(buf, sizeof buf, "%s", name);
  int rc = pthread_setname_np(pthread_self(), buf);
  if (rc != 0)
    return -rc;
  if (current) {
    pthread_mutex_lock(&current->mu);
    memcpy(current->name, buf, sizeof buf);
    pthread_mutex_unlock(&current->mu);
  }
  return 0;
}

cc_thread_t *cc_thread_current(void) {
  return current;
}

uint64_t cc_thread_id(void) {
  return (uint64_t)syscall(SYS_gettid);
}

/* Hand-off races of the thread-level primitives and futures, waited on FROM
 * COROUTINES, driven deterministically (see tests/sync/test_races.c for the
 * method).
 *
 * Two kinds of waker:
 *  - a coroutine of the waiter's own loop: the scheduler knows at once
 *    whether the waiter's park is still open, so the rule is exact, as for
 *    the coroutine primitives: a hand-off (lock, unit, notify, item) skips a
 *    waiter already woken by cancellation or its deadline, and that waiter
 *    returns -ECANCELED/-ETIMEDOUT having taken nothing. A broadcast (event
 *    set, future completion) reaches every waiter, which reports success.
 *  - another thread: it cannot know, so the waiter-side rule of task/wait.h
 *    applies: a waiter that was signalled reports success (it takes what it
 *    was given) even if its cancellation or deadline raced with the signal.
 *    Either way nothing is lost; the tests check exactly that.
 */
#include <stdatomic.h>

#include "test.h"

typedef struct op op_t;
struct op {
  int (*call)(op_t *o);
  void *obj;
  void *lk; /* a condition's lock */
  int64_t deadline;
  void *item;
  intptr_t value;
  int r;
  bool done;
};

static intptr_t op_task(void *arg) {
  op_t *o = arg;
  o->r = o->call(o);
  o->done = true;
  return 0;
}

#define OP(fn, o)                                                                        \
  { .call = (fn), .obj = (o), .deadline = CC_FOREVER, .r = 1 }

static void park_two(op_t *a, op_t *b, cc_task_t **ta, cc_task_t **tb) {
  ASSERT_OK(cc_spawn(ta, op_task, a));
  ASSERT_OK(cc_spawn(tb, op_task, b));
  cc_yield();
  ASSERT_FALSE(a->done);
  ASSERT_FALSE(b->done);
}

/* a parks with the deadline D; the caller's wake-up at D was registered
 * first, so it runs while a is runnable with -ETIMEDOUT but has not run. */
static void park_two_until(op_t *a, op_t *b, cc_task_t **ta, cc_task_t **tb) {
  int64_t d = cc_now() + 20;
  a->deadline = d;
  ASSERT_OK(cc_spawn(ta, op_task, a));
  ASSERT_OK(cc_spawn(tb, op_task, b));
  ASSERT_OK(cc_sleep_until(d));
  ASSERT_FALSE(a->done);
  ASSERT_FALSE(b->done);
}

/* Runs fn(arg) on another thread while this coroutine blocks its loop (so
 * the waiters cannot run in between): the wake-ups arrive through the
 * loop's inbox, for parks that already ended. */
typedef struct {
  void (*fn)(void *);
  void *arg;
  atomic_bool done;
} remote_t;
static intptr_t remote_main(void *a) {
  remote_t *r = a;
  r->fn(r->arg);
  atomic_store(&r->done, true);
  return 0;
}
static void from_thread(void (*fn)(void *), void *arg) {
  remote_t r = {.fn = fn, .arg = arg};
  cc_thread_t *th;
  ASSERT_OK(cc_thread_start(&th, remote_main, &r, NULL));
  while (!atomic_load(&r.done)) {
  }
  ASSERT_OK(cc_thread_join(th, NULL));
}

/* ---- Lock -------------------------------------------------------------------- */

static int lock_call(op_t *o) {
  int r = cc_tlock_acquire(o->obj, o->deadline);
  if (r == 0)
    ASSERT_OK(cc_tlock_release(o->obj));
  return r;
}

static intptr_t t_tlock(void *arg) {
  intptr_t how = (intptr_t)arg; /* 0 cancel, 1 deadline, 2 release first */
  cc_tlock_t *l;
  ASSERT_OK(cc_tlock_new(&l, 0));
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  op_t a = OP(lock_call, l), b = OP(lock_call, l);
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  if (how == 0)
    cc_cancel(ta);
  ASSERT_OK(cc_tlock_release(l));
  if (how == 2)
    cc_cancel(ta);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, how == 0 ? -ECANCELED : how == 1 ? -ETIMEDOUT : 0);
  ASSERT_OK(b.r);
  ASSERT_FALSE(cc_tlock_locked(l));
  ASSERT_OK(cc_tlock_free(l));
  return 0;
}
TEST(tlock_cancel_then_release) {
  cc_test_run(t_tlock, (void *)0);
}
TEST(tlock_deadline_then_release) {
  cc_test_run(t_tlock, (void *)1);
}
TEST(tlock_release_then_cancel) {
  cc_test_run(t_tlock, (void *)2);
}

static void release_tlock(void *l) {
  ASSERT_OK(cc_tlock_release(l));
}
static intptr_t t_tlock_remote(void *unused) {
  cc_tlock_t *l;
  ASSERT_OK(cc_tlock_new(&l, 0));
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  op_t a = OP(lock_call, l), b = OP(lock_call, l);
  cc_task_t *ta, *tb;
  park_two(&a, &b, &ta, &tb);
  cc_cancel(ta);
  from_thread(release_tlock, l);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  /* a was signalled by the thread: it may take the lock (and release it);
   * if it reports the cancellation instead, b must have had the lock. */
  ASSERT_TRUE(a.r == 0 || a.r == -ECANCELED);
  ASSERT_OK(b.r);
  ASSERT_FALSE(cc_tlock_locked(l));
  ASSERT_OK(cc_tlock_free(l));
  return 0;
}
TEST(tlock_cancel_then_release_from_thread) {
  cc_test_run(t_tlock_remote, NULL);
}

/* ---- Semaphore ---------------------------------------------------------------- */

static int sem_call(op_t *o) {
  return cc_tsem_acquire(o->obj, o->deadline);
}

static intptr_t t_tsem(void *arg) {
  intptr_t how = (intptr_t)arg & 3, bound = (intptr_t)arg >> 2;
  cc_tsem_t *s;
  ASSERT_OK(cc_tsem_new(&s, 0, (unsigned)bound));
  op_t a = OP(sem_call, s), b = OP(sem_call, s);
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  if (how == 0)
    cc_cancel(ta);
  ASSERT_OK(cc_tsem_release(s));
  if (how == 2) {
    cc_cancel(ta);
    cc_test_join_within(ta, "a");
    ASSERT_OK(a.r); /* signalled first: the unit is a's */
    ASSERT_FALSE(b.done);
    ASSERT_OK(cc_tsem_release(s));
  }
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  if (how != 2)
    ASSERT_ERR(a.r, how == 0 ? -ECANCELED : -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_EQ(cc_tsem_value(s), 0);
  if (bound) {
    ASSERT_OK(cc_tsem_release(s));
    ASSERT_ERR(cc_tsem_release(s), -EOVERFLOW);
  }
  ASSERT_OK(cc_tsem_free(s));
  return 0;
}
TEST(tsem_cancel_then_release) {
  cc_test_run(t_tsem, (void *)0);
}
TEST(tsem_deadline_then_release) {
  cc_test_run(t_tsem, (void *)1);
}
TEST(tsem_release_then_cancel) {
  cc_test_run(t_tsem, (void *)2);
}
TEST(bounded_tsem_cancel_then_release) {
  cc_test_run(t_tsem, (void *)(0 | 4));
}
TEST(bounded_tsem_deadline_then_release) {
  cc_test_run(t_tsem, (void *)(1 | 4));
}

static void release_tsem(void *s) {
  ASSERT_OK(cc_tsem_release(s));
}
static intptr_t t_tsem_remote(void *unused) {
  cc_tsem_t *s;
  ASSERT_OK(cc_tsem_new(&s, 0, 0));
  op_t a = OP(sem_call, s), b = OP(sem_call, s);
  cc_task_t *ta, *tb;
  park_two(&a, &b, &ta, &tb);
  cc_cancel(ta);
  from_thread(release_tsem, s);
  cc_test_join_within(ta, "a");
  if (a.r == 0) { /* signalled: a took the unit; b still waits for one */
    ASSERT_FALSE(b.done);
    ASSERT_OK(cc_tsem_release(s));
  } else {
    ASSERT_ERR(a.r, -ECANCELED);
  }
  cc_test_join_within(tb, "b");
  ASSERT_OK(b.r);
  ASSERT_EQ(cc_tsem_value(s), 0);
  ASSERT_OK(cc_tsem_free(s));
  return 0;
}
TEST(tsem_cancel_then_release_from_thread) {
  cc_test_run(t_tsem_remote, NULL);
}

/* ---- Condition ------------------------------------------------------------------ */

static int cond_call(op_t *o) {
  ASSERT_OK(cc_tlock_acquire(o->lk, CC_FOREVER));
  int r = cc_tcond_wait(o->obj, o->lk, o->deadline);
  ASSERT_TRUE(cc_tlock_locked(o->lk));
  ASSERT_OK(cc_tlock_release(o->lk));
  return r;
}

static intptr_t t_tcond(void *arg) {
  intptr_t how = (intptr_t)arg;
  cc_tcond_t *c;
  cc_tlock_t *l;
  ASSERT_OK(cc_tcond_new(&c));
  ASSERT_OK(cc_tlock_new(&l, 0));
  op_t a = OP(cond_call, c), b = OP(cond_call, c);
  a.lk = b.lk = l;
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  if (how == 0)
    cc_cancel(ta);
  cc_tcond_notify(c, 1);
  if (how == 2)
    cc_cancel(ta);
  ASSERT_OK(cc_tlock_release(l));
  if (how == 2) {
    cc_test_join_within(ta, "a");
    ASSERT_OK(a.r); /* notified first */
    ASSERT_FALSE(b.done);
    ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
    cc_tcond_notify(c, 1);
    ASSERT_OK(cc_tlock_release(l));
  }
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  if (how != 2)
    ASSERT_ERR(a.r, how == 0 ? -ECANCELED : -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_FALSE(cc_tlock_locked(l));
  ASSERT_OK(cc_tcond_free(c));
  ASSERT_OK(cc_tlock_free(l));
  return 0;
}
TEST(tcond_cancel_then_notify) {
  cc_test_run(t_tcond, (void *)0);
}
TEST(tcond_deadline_then_notify) {
  cc_test_run(t_tcond, (void *)1);
}
TEST(tcond_notify_then_cancel) {
  cc_test_run(t_tcond, (void *)2);
}

/* ---- Event ----------------------------------------------------------------------- */

static int event_call(op_t *o) {
  return cc_tevent_wait(o->obj, o->deadline);
}

static intptr_t t_tevent(void *arg) {
  intptr_t how = (intptr_t)arg;
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  op_t a = OP(event_call, e), b = OP(event_call, e);
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  if (how == 0)
    cc_cancel(ta);
  cc_tevent_set(e);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  /* A broadcast takes nothing from anyone: a signalled waiter reports the
   * event even if its cancellation or deadline came first. */
  ASSERT_OK(a.r);
  ASSERT_OK(b.r);
  ASSERT_OK(cc_tevent_free(e));
  return 0;
}
TEST(tevent_cancel_then_set) {
  cc_test_run(t_tevent, (void *)0);
}
TEST(tevent_deadline_then_set) {
  cc_test_run(t_tevent, (void *)1);
}

/* ---- Queue ------------------------------------------------------------------------ */

static int get_call(op_t *o) {
  return cc_tqueue_get(o->obj, &o->item, o->deadline);
}
static int put_call(op_t *o) {
  return cc_tqueue_put(o->obj, o->item, o->deadline);
}

/* Getters a and b wait on an empty queue (capacity 1, or 0: unbounded). */
static intptr_t t_tqueue_get(void *arg) {
  intptr_t how = (intptr_t)arg & 3, cap = (intptr_t)arg >> 2;
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, (size_t)cap));
  op_t a = OP(get_call, q), b = OP(get_call, q);
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  if (how == 0)
    cc_cancel(ta);
  ASSERT_OK(cc_tqueue_put(q, (void *)7, CC_FOREVER));
  if (how == 2) {
    cc_cancel(ta);
    cc_test_join_within(ta, "a");
    ASSERT_OK(a.r);
    ASSERT_EQ((intptr_t)a.item, 7);
    ASSERT_FALSE(b.done);
    ASSERT_OK(cc_tqueue_put(q, (void *)7, CC_FOREVER));
  }
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  if (how != 2)
    ASSERT_ERR(a.r, how == 0 ? -ECANCELED : -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_EQ((intptr_t)b.item, 7);
  ASSERT_EQ(cc_tqueue_size(q), 0);
  ASSERT_OK(cc_tqueue_free(q));
  return 0;
}
TEST(tqueue_get_cancel_then_put) {
  cc_test_run(t_tqueue_get, (void *)(0 | 4));
}
TEST(tqueue_get_deadline_then_put) {
  cc_test_run(t_tqueue_get, (void *)(1 | 4));
}
TEST(tqueue_get_put_then_cancel) {
  cc_test_run(t_tqueue_get, (void *)(2 | 4));
}
TEST(tqueue_unbounded_get_cancel_then_put) {
  cc_test_run(t_tqueue_get, (void *)0);
}

/* Putters a (7) and b (8) wait on a full queue of capacity 1 (holding 1). */
static intptr_t t_tqueue_put(void *arg) {
  intptr_t how = (intptr_t)arg;
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, 1));
  ASSERT_OK(cc_tqueue_try_put(q, (void *)1));
  op_t a = OP(put_call, q), b = OP(put_call, q);
  a.item = (void *)7;
  b.item = (void *)8;
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  if (how == 0)
    cc_cancel(ta);
  void *v;
  ASSERT_OK(cc_tqueue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, 1);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, how == 0 ? -ECANCELED : -ETIMEDOUT);
  ASSERT_OK(b.r); /* the slot went to b, not to the cancelled a */
  ASSERT_OK(cc_tqueue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, 8);
  ASSERT_ERR(cc_tqueue_try_get(q, &v), -EAGAIN);
  ASSERT_OK(cc_tqueue_free(q));
  return 0;
}
TEST(tqueue_put_cancel_then_get) {
  cc_test_run(t_tqueue_put, (void *)0);
}
TEST(tqueue_put_deadline_then_get) {
  cc_test_run(t_tqueue_put, (void *)1);
}

static void put_seven(void *q) {
  ASSERT_OK(cc_tqueue_put(q, (void *)7, CC_FOREVER));
}
static intptr_t t_tqueue_remote(void *unused) {
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, 1));
  op_t a = OP(get_call, q), b = OP(get_call, q);
  cc_task_t *ta, *tb;
  park_two(&a, &b, &ta, &tb);
  cc_cancel(ta);
  from_thread(put_seven, q);
  cc_test_join_within(ta, "a");
  if (a.r == 0) { /* signalled: a took the item */
    ASSERT_EQ((intptr_t)a.item, 7);
    ASSERT_FALSE(b.done);
    ASSERT_OK(cc_tqueue_put(q, (void *)7, CC_FOREVER));
  } else {
    ASSERT_ERR(a.r, -ECANCELED);
  }
  cc_test_join_within(tb, "b");
  ASSERT_OK(b.r);
  ASSERT_EQ((intptr_t)b.item, 7);
  ASSERT_EQ(cc_tqueue_size(q), 0);
  ASSERT_OK(cc_tqueue_free(q));
  return 0;
}
TEST(tqueue_get_cancel_then_put_from_thread) {
  cc_test_run(t_tqueue_remote, NULL);
}

/* ---- Futures ---------------------------------------------------------------------- */

static int future_call(op_t *o) {
  return cc_future_result(o->obj, o->deadline, &o->value);
}

static void set_41(void *f) {
  ASSERT_OK(cc_future_set_result(f, 41));
}
static intptr_t t_future(void *arg) {
  intptr_t how = (intptr_t)arg; /* 0 cancel, 1 deadline, 2 cancel + thread */
  cc_future_t *f;
  ASSERT_OK(cc_future_new(&f));
  op_t a = OP(future_call, f), b = OP(future_call, f);
  cc_task_t *ta, *tb;
  if (how == 1)
    park_two_until(&a, &b, &ta, &tb);
  else
    park_two(&a, &b, &ta, &tb);
  if (how != 1)
    cc_cancel(ta);
  if (how == 2)
    from_thread(set_41, f);
  else
    set_41(f);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  /* Completion is a broadcast: a signalled waiter has its result. */
  ASSERT_OK(a.r);
  ASSERT_EQ(a.value, 41);
  ASSERT_OK(b.r);
  ASSERT_EQ(b.value, 41);
  cc_future_unref(f);
  return 0;
}
TEST(future_cancel_then_set_result) {
  cc_test_run(t_future, (void *)0);
}
TEST(future_deadline_then_set_result) {
  cc_test_run(t_future, (void *)1);
}
TEST(future_cancel_then_set_result_from_thread) {
  cc_test_run(t_future, (void *)2);
}

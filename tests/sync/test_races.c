/* Hand-off races of the coroutine primitives, driven deterministically.
 *
 * The rule (asyncio bpo-27585, anyio#1145): a hand-off (a lock, a semaphore
 * unit, a notify, a queue item) to a waiter whose wait has already been
 * ended by cancellation or by its deadline goes to the next waiter, or back
 * to the object; a waiter that returns -ECANCELED/-ETIMEDOUT has taken
 * nothing.
 *
 * How each race is made certain, not likely:
 *  - cancel-then-hand-off: one task calls cc_cancel(a) and then the
 *    release/put/notify back to back, without suspending in between; `a`
 *    is then runnable with -ECANCELED but has not run yet.
 *  - deadline-then-hand-off: the releasing task sleeps until D, then `a`
 *    parks with the deadline D. Both timers fire in the same poll, in the
 *    order they were registered (equal deadlines keep their order), so the
 *    releaser runs while `a` is runnable with -ETIMEDOUT but has not run.
 *    Each test checks that this is what happened (`a` not done yet).
 *  - hand-off-then-cancel / hand-off-then-deadline (the other order): the
 *    hand-off comes first, while `a` is still parked, and wins: `a` returns
 *    0 and owns what it was given; the cancellation is seen at its next
 *    wait. For the deadline, the releaser busy-waits past D without
 *    yielding, so the loop has not polled and `a`'s timer has not fired.
 */
#include <limits.h>

#include "test.h"

typedef struct op {
  void *obj;        /* the primitive */
  cc_lock_t *lk;    /* a condition's lock */
  int64_t deadline; /* a deadline scope around the call, or CC_FOREVER */
  void *item;       /* put: the item; get: what was got */
  int r;            /* what the call returned */
  bool done;
} op_t;

#define OP(o)                                                                            \
  { .obj = (o), .deadline = CC_FOREVER, .r = 1 }

static void scope_begin(op_t *o, cc_timeout_t *to) {
  cc_timeout_begin(to, o->deadline);
}

static intptr_t lock_op(void *arg) {
  op_t *o = arg;
  cc_timeout_t to;
  scope_begin(o, &to);
  o->r = cc_lock_acquire(o->obj);
  cc_timeout_end(&to);
  o->done = true;
  if (o->r == 0)
    ASSERT_OK(cc_lock_release(o->obj));
  return 0;
}

static intptr_t sem_op(void *arg) {
  op_t *o = arg;
  cc_timeout_t to;
  scope_begin(o, &to);
  o->r = cc_sem_acquire(o->obj);
  cc_timeout_end(&to);
  o->done = true;
  return 0;
}

static intptr_t cond_op(void *arg) {
  op_t *o = arg;
  ASSERT_OK(cc_lock_acquire(o->lk));
  cc_timeout_t to;
  scope_begin(o, &to);
  o->r = cc_cond_wait(o->obj, o->lk);
  cc_timeout_end(&to);
  ASSERT_TRUE(cc_lock_locked(o->lk));
  o->done = true;
  ASSERT_OK(cc_lock_release(o->lk));
  return 0;
}

static intptr_t event_op(void *arg) {
  op_t *o = arg;
  cc_timeout_t to;
  scope_begin(o, &to);
  o->r = cc_event_wait(o->obj);
  cc_timeout_end(&to);
  o->done = true;
  return 0;
}

static intptr_t get_op(void *arg) {
  op_t *o = arg;
  cc_timeout_t to;
  scope_begin(o, &to);
  o->r = cc_queue_get(o->obj, &o->item);
  cc_timeout_end(&to);
  o->done = true;
  return 0;
}

static intptr_t put_op(void *arg) {
  op_t *o = arg;
  cc_timeout_t to;
  scope_begin(o, &to);
  o->r = cc_queue_put(o->obj, o->item);
  cc_timeout_end(&to);
  o->done = true;
  return 0;
}

/* Spawns fn(a) and fn(b) and lets both park. */
static void park_two(cc_task_fn fn, op_t *a, op_t *b, cc_task_t **ta, cc_task_t **tb) {
  ASSERT_OK(cc_spawn(ta, fn, a));
  ASSERT_OK(cc_spawn(tb, fn, b));
  cc_yield();
  ASSERT_FALSE(a->done);
  ASSERT_FALSE(b->done);
}

/* The deadline race: registers the caller's wake-up at D before a and b
 * park (a with the deadline D), sleeps until D, and checks that a's
 * deadline has fired but a has not run yet. */
static void park_two_until(cc_task_fn fn, op_t *a, op_t *b, cc_task_t **ta,
                           cc_task_t **tb) {
  int64_t d = cc_now() + 20;
  a->deadline = d;
  ASSERT_OK(cc_spawn(ta, fn, a));
  ASSERT_OK(cc_spawn(tb, fn, b));
  ASSERT_OK(cc_sleep_until(d)); /* a and b park while we sleep */
  ASSERT_FALSE(a->done);        /* the race is on: a's deadline fired, a waits to run */
  ASSERT_FALSE(b->done);
}

/* Busy-waits past `when` without letting the loop poll. */
static void spin_past(int64_t when) {
  while (cc_now() <= when) {
  }
}

/* ---- Lock ---------------------------------------------------------------------- */

static intptr_t t_lock_cancel_then_release(void *unused) {
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  ASSERT_OK(cc_lock_acquire(l));
  op_t a = OP(l), b = OP(l);
  cc_task_t *ta, *tb;
  park_two(lock_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  ASSERT_OK(cc_lock_release(l));
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_OK(b.r);
  ASSERT_FALSE(cc_lock_locked(l));
  ASSERT_OK(cc_lock_free(l));
  return 0;
}
TEST(lock_cancel_then_release) {
  cc_test_run(t_lock_cancel_then_release, NULL);
}

static intptr_t t_lock_release_then_cancel(void *unused) {
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  ASSERT_OK(cc_lock_acquire(l));
  op_t a = OP(l), b = OP(l);
  cc_task_t *ta, *tb;
  park_two(lock_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_lock_release(l));
  cc_cancel(ta); /* too late: a owns the lock already */
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_OK(a.r);
  ASSERT_OK(b.r);
  ASSERT_FALSE(cc_lock_locked(l));
  ASSERT_OK(cc_lock_free(l));
  return 0;
}
TEST(lock_release_then_cancel) {
  cc_test_run(t_lock_release_then_cancel, NULL);
}

static intptr_t t_lock_deadline_then_release(void *unused) {
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  ASSERT_OK(cc_lock_acquire(l));
  op_t a = OP(l), b = OP(l);
  cc_task_t *ta, *tb;
  park_two_until(lock_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_lock_release(l));
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_FALSE(cc_lock_locked(l));
  ASSERT_OK(cc_lock_free(l));
  return 0;
}
TEST(lock_deadline_then_release) {
  cc_test_run(t_lock_deadline_then_release, NULL);
}

static intptr_t t_lock_release_then_deadline(void *unused) {
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  ASSERT_OK(cc_lock_acquire(l));
  op_t a = OP(l), b = OP(l);
  a.deadline = cc_now() + 5;
  cc_task_t *ta, *tb;
  park_two(lock_op, &a, &b, &ta, &tb);
  spin_past(a.deadline);
  ASSERT_OK(cc_lock_release(l)); /* before the loop saw the deadline: a wins */
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_OK(a.r);
  ASSERT_OK(b.r);
  ASSERT_OK(cc_lock_free(l));
  return 0;
}
TEST(lock_release_then_deadline) {
  cc_test_run(t_lock_release_then_deadline, NULL);
}

/* ---- Semaphore ------------------------------------------------------------------- */

static intptr_t t_sem_cancel_then_release(void *arg) {
  unsigned bound = (unsigned)(uintptr_t)arg;
  cc_sem_t *s;
  ASSERT_OK(cc_sem_new(&s, 0, bound));
  op_t a = OP(s), b = OP(s);
  cc_task_t *ta, *tb;
  park_two(sem_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  ASSERT_OK(cc_sem_release(s));
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_OK(b.r);
  ASSERT_EQ(cc_sem_value(s), 0);
  ASSERT_OK(cc_sem_release(s));
  ASSERT_EQ(cc_sem_value(s), 1);
  if (bound)
    ASSERT_ERR(cc_sem_release(s), -EOVERFLOW);
  ASSERT_OK(cc_sem_free(s));
  return 0;
}
TEST(sem_cancel_then_release) {
  cc_test_run(t_sem_cancel_then_release, (void *)0);
}
TEST(bounded_sem_cancel_then_release) {
  cc_test_run(t_sem_cancel_then_release, (void *)1);
}

static intptr_t t_sem_release_then_cancel(void *arg) {
  unsigned bound = (unsigned)(uintptr_t)arg;
  cc_sem_t *s;
  ASSERT_OK(cc_sem_new(&s, 0, bound));
  op_t a = OP(s), b = OP(s);
  cc_task_t *ta, *tb;
  park_two(sem_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_sem_release(s));
  cc_cancel(ta); /* too late: a has the unit */
  cc_test_join_within(ta, "a");
  ASSERT_OK(a.r);
  ASSERT_FALSE(b.done);
  ASSERT_OK(cc_sem_release(s));
  cc_test_join_within(tb, "b");
  ASSERT_OK(b.r);
  ASSERT_EQ(cc_sem_value(s), 0);
  ASSERT_OK(cc_sem_free(s));
  return 0;
}
TEST(sem_release_then_cancel) {
  cc_test_run(t_sem_release_then_cancel, (void *)0);
}
TEST(bounded_sem_release_then_cancel) {
  cc_test_run(t_sem_release_then_cancel, (void *)1);
}

static intptr_t t_sem_deadline_then_release(void *arg) {
  unsigned bound = (unsigned)(uintptr_t)arg;
  cc_sem_t *s;
  ASSERT_OK(cc_sem_new(&s, 0, bound));
  op_t a = OP(s), b = OP(s);
  cc_task_t *ta, *tb;
  park_two_until(sem_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_sem_release(s));
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_EQ(cc_sem_value(s), 0);
  ASSERT_OK(cc_sem_free(s));
  return 0;
}
TEST(sem_deadline_then_release) {
  cc_test_run(t_sem_deadline_then_release, (void *)0);
}
TEST(bounded_sem_deadline_then_release) {
  cc_test_run(t_sem_deadline_then_release, (void *)1);
}

static intptr_t t_sem_release_then_deadline(void *unused) {
  cc_sem_t *s;
  ASSERT_OK(cc_sem_new(&s, 0, 0));
  op_t a = OP(s), b = OP(s);
  a.deadline = cc_now() + 5;
  cc_task_t *ta, *tb;
  park_two(sem_op, &a, &b, &ta, &tb);
  spin_past(a.deadline);
  ASSERT_OK(cc_sem_release(s));
  cc_test_join_within(ta, "a");
  ASSERT_OK(a.r);
  ASSERT_OK(cc_sem_release(s));
  cc_test_join_within(tb, "b");
  ASSERT_OK(b.r);
  ASSERT_OK(cc_sem_free(s));
  return 0;
}
TEST(sem_release_then_deadline) {
  cc_test_run(t_sem_release_then_deadline, NULL);
}

static intptr_t t_sem_overflow(void *unused) {
  cc_sem_t *s;
  ASSERT_OK(cc_sem_new(&s, UINT_MAX, 0));
  ASSERT_ERR(cc_sem_release(s), -EOVERFLOW);
  ASSERT_EQ(cc_sem_value(s), UINT_MAX);
  ASSERT_OK(cc_sem_acquire(s));
  ASSERT_OK(cc_sem_release(s));
  ASSERT_EQ(cc_sem_value(s), UINT_MAX);
  ASSERT_OK(cc_sem_free(s));
  return 0;
}
TEST(sem_unbounded_overflow) {
  cc_test_run(t_sem_overflow, NULL);
}

/* ---- Condition ------------------------------------------------------------------- */

typedef struct {
  cc_cond_t *c;
  cc_lock_t *l;
} cv_t;

static void cv_new(cv_t *cv, op_t *a, op_t *b) {
  ASSERT_OK(cc_cond_new(&cv->c));
  ASSERT_OK(cc_lock_new(&cv->l));
  *a = (op_t)OP(cv->c);
  *b = (op_t)OP(cv->c);
  a->lk = b->lk = cv->l;
}

static void cv_free(cv_t *cv) {
  ASSERT_FALSE(cc_lock_locked(cv->l));
  ASSERT_OK(cc_cond_free(cv->c));
  ASSERT_OK(cc_lock_free(cv->l));
}

static void notify_one(cv_t *cv) {
  ASSERT_OK(cc_lock_acquire(cv->l));
  cc_cond_notify(cv->c, 1);
  ASSERT_OK(cc_lock_release(cv->l));
}

static intptr_t t_cond_cancel_then_notify(void *unused) {
  cv_t cv;
  op_t a, b;
  cv_new(&cv, &a, &b);
  cc_task_t *ta, *tb;
  park_two(cond_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_lock_acquire(cv.l));
  cc_cancel(ta);
  cc_cond_notify(cv.c, 1);
  ASSERT_OK(cc_lock_release(cv.l));
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_OK(b.r);
  cv_free(&cv);
  return 0;
}
TEST(cond_cancel_then_notify) {
  cc_test_run(t_cond_cancel_then_notify, NULL);
}

static intptr_t t_cond_notify_then_cancel(void *unused) {
  cv_t cv;
  op_t a, b;
  cv_new(&cv, &a, &b);
  cc_task_t *ta, *tb;
  park_two(cond_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_lock_acquire(cv.l));
  cc_cond_notify(cv.c, 1);
  cc_cancel(ta); /* too late: a was notified */
  ASSERT_OK(cc_lock_release(cv.l));
  cc_test_join_within(ta, "a");
  ASSERT_OK(a.r);
  ASSERT_FALSE(b.done); /* one notify wakes one waiter */
  notify_one(&cv);
  cc_test_join_within(tb, "b");
  ASSERT_OK(b.r);
  cv_free(&cv);
  return 0;
}
TEST(cond_notify_then_cancel) {
  cc_test_run(t_cond_notify_then_cancel, NULL);
}

static intptr_t t_cond_deadline_then_notify(void *unused) {
  cv_t cv;
  op_t a, b;
  cv_new(&cv, &a, &b);
  cc_task_t *ta, *tb;
  park_two_until(cond_op, &a, &b, &ta, &tb);
  notify_one(&cv);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ETIMEDOUT);
  ASSERT_OK(b.r);
  cv_free(&cv);
  return 0;
}
TEST(cond_deadline_then_notify) {
  cc_test_run(t_cond_deadline_then_notify, NULL);
}

/* ---- Event ----------------------------------------------------------------------- */

static intptr_t t_event_cancel_then_set(void *unused) {
  cc_event_t *e;
  ASSERT_OK(cc_event_new(&e));
  op_t a = OP(e), b = OP(e);
  cc_task_t *ta, *tb;
  park_two(event_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  cc_event_set(e);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_OK(b.r);
  ASSERT_OK(cc_event_free(e));
  return 0;
}
TEST(event_cancel_then_set) {
  cc_test_run(t_event_cancel_then_set, NULL);
}

static intptr_t t_event_set_then_cancel(void *unused) {
  cc_event_t *e;
  ASSERT_OK(cc_event_new(&e));
  op_t a = OP(e), b = OP(e);
  cc_task_t *ta, *tb;
  park_two(event_op, &a, &b, &ta, &tb);
  cc_event_set(e);
  cc_event_clear(e); /* the waiters were woken by the set: they report it */
  cc_cancel(ta);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_OK(a.r);
  ASSERT_OK(b.r);
  ASSERT_OK(cc_event_free(e));
  return 0;
}
TEST(event_set_then_cancel) {
  cc_test_run(t_event_set_then_cancel, NULL);
}

static intptr_t t_event_deadline_then_set(void *unused) {
  cc_event_t *e;
  ASSERT_OK(cc_event_new(&e));
  op_t a = OP(e), b = OP(e);
  cc_task_t *ta, *tb;
  park_two_until(event_op, &a, &b, &ta, &tb);
  cc_event_set(e);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_OK(cc_event_free(e));
  return 0;
}
TEST(event_deadline_then_set) {
  cc_test_run(t_event_deadline_then_set, NULL);
}

/* ---- Queue: getters waiting, a put races with a cancelled getter ------------------ */

/* Capacities the get-side races run with: bounded, unbounded, rendezvous. */
static size_t qcap(intptr_t which) {
  return which == 0 ? 1 : which == 1 ? 0 : CC_QUEUE_RENDEZVOUS;
}

static intptr_t t_get_cancel_then_put(void *arg) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, qcap((intptr_t)arg)));
  op_t a = OP(q), b = OP(q);
  cc_task_t *ta, *tb;
  park_two(get_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  ASSERT_OK(cc_queue_put(q, (void *)7)); /* a getter waits: never suspends */
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_OK(b.r);
  ASSERT_EQ((intptr_t)b.item, 7);
  ASSERT_EQ(cc_queue_size(q), 0);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_get_cancel_then_put) {
  cc_test_run(t_get_cancel_then_put, (void *)0);
}
TEST(queue_unbounded_get_cancel_then_put) {
  cc_test_run(t_get_cancel_then_put, (void *)1);
}
TEST(queue_rendezvous_get_cancel_then_put) {
  cc_test_run(t_get_cancel_then_put, (void *)2);
}

static intptr_t t_get_put_then_cancel(void *arg) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, qcap((intptr_t)arg)));
  op_t a = OP(q), b = OP(q);
  cc_task_t *ta, *tb;
  park_two(get_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_queue_put(q, (void *)7));
  cc_cancel(ta); /* too late: a has the item */
  cc_test_join_within(ta, "a");
  ASSERT_OK(a.r);
  ASSERT_EQ((intptr_t)a.item, 7);
  ASSERT_FALSE(b.done);
  ASSERT_OK(cc_queue_put(q, (void *)8));
  cc_test_join_within(tb, "b");
  ASSERT_EQ((intptr_t)b.item, 8);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_get_put_then_cancel) {
  cc_test_run(t_get_put_then_cancel, (void *)0);
}
TEST(queue_rendezvous_get_put_then_cancel) {
  cc_test_run(t_get_put_then_cancel, (void *)2);
}

static intptr_t t_get_deadline_then_put(void *arg) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, qcap((intptr_t)arg)));
  op_t a = OP(q), b = OP(q);
  cc_task_t *ta, *tb;
  park_two_until(get_op, &a, &b, &ta, &tb);
  ASSERT_OK(cc_queue_put(q, (void *)7));
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ETIMEDOUT);
  ASSERT_OK(b.r);
  ASSERT_EQ((intptr_t)b.item, 7);
  ASSERT_EQ(cc_queue_size(q), 0);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_get_deadline_then_put) {
  cc_test_run(t_get_deadline_then_put, (void *)0);
}
TEST(queue_rendezvous_get_deadline_then_put) {
  cc_test_run(t_get_deadline_then_put, (void *)2);
}

/* ---- Queue: putters waiting, a get races with a cancelled putter ------------------ */

/* Two putters p (item 7) and p2 (item 8) wait on a full queue of capacity 1
 * (holding item 1), or on a rendezvous. `how`: 0 try_get, 1 get. */
static intptr_t t_put_cancel_then_get(void *arg) {
  intptr_t how = (intptr_t)arg & 1, rdv = (intptr_t)arg & 2;
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, rdv ? CC_QUEUE_RENDEZVOUS : 1));
  if (!rdv)
    ASSERT_OK(cc_queue_try_put(q, (void *)1));
  op_t a = OP(q), b = OP(q);
  a.item = (void *)7;
  b.item = (void *)8;
  cc_task_t *ta, *tb;
  park_two(put_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  void *v = NULL;
  ASSERT_OK(how ? cc_queue_get(q, &v) : cc_queue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, rdv ? 8 : 1); /* never the cancelled putter's 7 */
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_OK(b.r);
  if (!rdv) {
    ASSERT_OK(cc_queue_try_get(q, &v));
    ASSERT_EQ((intptr_t)v, 8);
  }
  ASSERT_ERR(cc_queue_try_get(q, &v), -EAGAIN);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_put_cancel_then_try_get) {
  cc_test_run(t_put_cancel_then_get, (void *)0);
}
TEST(queue_put_cancel_then_get) {
  cc_test_run(t_put_cancel_then_get, (void *)1);
}
TEST(queue_rendezvous_put_cancel_then_try_get) {
  cc_test_run(t_put_cancel_then_get, (void *)2);
}
TEST(queue_rendezvous_put_cancel_then_get) {
  cc_test_run(t_put_cancel_then_get, (void *)3);
}

static intptr_t t_put_get_then_cancel(void *arg) {
  intptr_t rdv = (intptr_t)arg;
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, rdv ? CC_QUEUE_RENDEZVOUS : 1));
  if (!rdv)
    ASSERT_OK(cc_queue_try_put(q, (void *)1));
  op_t a = OP(q), b = OP(q);
  a.item = (void *)7;
  b.item = (void *)8;
  cc_task_t *ta, *tb;
  park_two(put_op, &a, &b, &ta, &tb);
  void *v = NULL;
  ASSERT_OK(cc_queue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, rdv ? 7 : 1);
  cc_cancel(ta); /* too late: a's item is taken */
  cc_test_join_within(ta, "a");
  ASSERT_OK(a.r);
  if (!rdv) {
    ASSERT_OK(cc_queue_try_get(q, &v));
    ASSERT_EQ((intptr_t)v, 7);
  }
  ASSERT_OK(cc_queue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, 8);
  cc_test_join_within(tb, "b");
  ASSERT_OK(b.r);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_put_get_then_cancel) {
  cc_test_run(t_put_get_then_cancel, (void *)0);
}
TEST(queue_rendezvous_put_get_then_cancel) {
  cc_test_run(t_put_get_then_cancel, (void *)1);
}

static intptr_t t_put_deadline_then_get(void *arg) {
  intptr_t rdv = (intptr_t)arg;
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, rdv ? CC_QUEUE_RENDEZVOUS : 1));
  if (!rdv)
    ASSERT_OK(cc_queue_try_put(q, (void *)1));
  op_t a = OP(q), b = OP(q);
  a.item = (void *)7;
  b.item = (void *)8;
  cc_task_t *ta, *tb;
  park_two_until(put_op, &a, &b, &ta, &tb);
  void *v = NULL;
  ASSERT_OK(cc_queue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, rdv ? 8 : 1);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ETIMEDOUT);
  ASSERT_OK(b.r);
  if (!rdv) {
    ASSERT_OK(cc_queue_try_get(q, &v));
    ASSERT_EQ((intptr_t)v, 8);
  }
  ASSERT_ERR(cc_queue_try_get(q, &v), -EAGAIN);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_put_deadline_then_get) {
  cc_test_run(t_put_deadline_then_get, (void *)0);
}
TEST(queue_rendezvous_put_deadline_then_get) {
  cc_test_run(t_put_deadline_then_get, (void *)1);
}

/* ---- Queue: close ---------------------------------------------------------------- */

static intptr_t t_close_races(void *unused) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, 1));
  op_t a = OP(q), b = OP(q);
  cc_task_t *ta, *tb;
  park_two(get_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  cc_queue_close(q);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_ERR(b.r, -CC_ECLOSED);
  ASSERT_OK(cc_queue_free(q));

  ASSERT_OK(cc_queue_new(&q, 1));
  ASSERT_OK(cc_queue_try_put(q, (void *)1));
  a = (op_t)OP(q);
  b = (op_t)OP(q);
  a.item = (void *)7;
  b.item = (void *)8;
  park_two(put_op, &a, &b, &ta, &tb);
  cc_cancel(ta);
  cc_queue_close(q);
  cc_test_join_within(ta, "a");
  cc_test_join_within(tb, "b");
  ASSERT_ERR(a.r, -ECANCELED);
  ASSERT_ERR(b.r, -CC_ECLOSED);
  void *v;
  ASSERT_OK(cc_queue_get(q, &v)); /* only the item put before */
  ASSERT_EQ((intptr_t)v, 1);
  ASSERT_ERR(cc_queue_get(q, &v), -CC_ECLOSED);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_cancel_then_close) {
  cc_test_run(t_close_races, NULL);
}

/* ---- several waiters already gone ------------------------------------------------ */

static intptr_t t_skip_many(void *unused) {
  /* Lock: the first two waiters are cancelled, the third gets the lock. */
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  ASSERT_OK(cc_lock_acquire(l));
  op_t o[3] = {OP(l), OP(l), OP(l)};
  cc_task_t *t[3];
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_spawn(&t[i], lock_op, &o[i]));
  cc_yield();
  cc_cancel(t[0]);
  cc_cancel(t[1]);
  ASSERT_OK(cc_lock_release(l));
  for (int i = 0; i < 3; i++)
    cc_test_join_within(t[i], "a waiter");
  ASSERT_ERR(o[0].r, -ECANCELED);
  ASSERT_ERR(o[1].r, -ECANCELED);
  ASSERT_OK(o[2].r);
  ASSERT_FALSE(cc_lock_locked(l));
  ASSERT_OK(cc_lock_free(l));

  /* Condition: notify(2) with the first of three waiters cancelled wakes
   * the two others; a cancelled waiter does not count. */
  cv_t cv;
  op_t c[3];
  cv_new(&cv, &c[0], &c[1]);
  c[2] = c[1];
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_spawn(&t[i], cond_op, &c[i]));
  cc_yield();
  ASSERT_OK(cc_lock_acquire(cv.l));
  cc_cancel(t[0]);
  cc_cond_notify(cv.c, 2);
  ASSERT_OK(cc_lock_release(cv.l));
  for (int i = 0; i < 3; i++)
    cc_test_join_within(t[i], "a condition waiter");
  ASSERT_ERR(c[0].r, -ECANCELED);
  ASSERT_OK(c[1].r);
  ASSERT_OK(c[2].r);
  cv_free(&cv);
  return 0;
}
TEST(handoff_skips_every_waiter_already_gone) {
  cc_test_run(t_skip_many, NULL);
}

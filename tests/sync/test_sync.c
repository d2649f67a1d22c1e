/* Coroutine-level Lock, Event, Semaphore, Condition, Queue. */
#include "test.h"

/* ---- lock ---------------------------------------------------------------------- */

static cc_lock_t *lk;
static int in_critical, max_in_critical, counter;

static intptr_t locker(void *a) {
  for (int i = 0; i < 100; i++) {
    int r = cc_lock_acquire(lk);
    if (r < 0)
      return r;
    in_critical++;
    if (in_critical > max_in_critical)
      max_in_critical = in_critical;
    cc_yield();
    counter++;
    in_critical--;
    ASSERT_OK(cc_lock_release(lk));
  }
  return 0;
}

static intptr_t t_lock(void *unused) {
  ASSERT_OK(cc_lock_new(&lk));
  in_critical = max_in_critical = counter = 0;
  cc_task_t *ts[8];
  for (int i = 0; i < 8; i++)
    ASSERT_OK(cc_spawn(&ts[i], locker, NULL));
  ASSERT_OK(cc_gather(ts, 8, NULL));
  ASSERT_EQ(max_in_critical, 1);
  ASSERT_EQ(counter, 800);
  ASSERT_FALSE(cc_lock_locked(lk));
  /* errors */
  ASSERT_ERR(cc_lock_release(lk), -EPERM);
  ASSERT_OK(cc_lock_acquire(lk));
  ASSERT_ERR(cc_lock_acquire(lk), -EDEADLK);
  ASSERT_ERR(cc_lock_try_acquire(lk), -EBUSY);
  ASSERT_ERR(cc_lock_free(lk), -EBUSY);
  ASSERT_OK(cc_lock_release(lk));
  ASSERT_OK(cc_lock_free(lk));
  return 0;
}
TEST(lock_mutual_exclusion) {
  cc_test_run(t_lock, NULL);
}

static intptr_t lock_waiter(void *a) {
  int r = cc_lock_acquire((cc_lock_t *)a);
  if (r < 0)
    return r;
  cc_sleep(1);
  return cc_lock_release((cc_lock_t *)a);
}
static intptr_t t_lock_cancel(void *unused) {
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  ASSERT_OK(cc_lock_acquire(l));
  cc_task_t *w1, *w2;
  ASSERT_OK(cc_spawn(&w1, lock_waiter, l));
  ASSERT_OK(cc_spawn(&w2, lock_waiter, l));
  cc_yield();
  cc_cancel(w1);
  ASSERT_ERR(cc_join(w1, NULL), -ECANCELED);
  /* The cancelled waiter left the queue: the lock goes to w2, which
   * releases it when done. */
  ASSERT_OK(cc_lock_release(l));
  ASSERT_OK(cc_join(w2, NULL));
  ASSERT_FALSE(cc_lock_locked(l));
  ASSERT_OK(cc_lock_free(l));
  return 0;
}
TEST(lock_cancelled_waiter_leaves_no_trace) {
  cc_test_run(t_lock_cancel, NULL);
}

static intptr_t lock_holder(void *a) {
  ASSERT_OK(cc_lock_acquire((cc_lock_t *)a));
  cc_sleep(50);
  return cc_lock_release((cc_lock_t *)a);
}
static intptr_t t_lock_timeout(void *unused) {
  cc_lock_t *l;
  ASSERT_OK(cc_lock_new(&l));
  cc_task_t *holder;
  ASSERT_OK(cc_spawn(&holder, lock_holder, l));
  cc_yield();
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_lock_acquire(l), -ETIMEDOUT);
  cc_timeout_end(&to);
  ASSERT_OK(cc_join(holder, NULL));
  ASSERT_OK(cc_lock_acquire(l));
  ASSERT_OK(cc_lock_release(l));
  ASSERT_OK(cc_lock_free(l));
  return 0;
}
TEST(lock_timeout) {
  cc_test_run(t_lock_timeout, NULL);
}

/* ---- event ---------------------------------------------------------------------- */

static intptr_t event_waiter(void *a) {
  return cc_event_wait((cc_event_t *)a);
}
static intptr_t t_event(void *unused) {
  cc_event_t *e;
  ASSERT_OK(cc_event_new(&e));
  cc_task_t *ts[5];
  for (int i = 0; i < 5; i++)
    ASSERT_OK(cc_spawn(&ts[i], event_waiter, e));
  cc_yield();
  for (int i = 0; i < 5; i++)
    ASSERT_FALSE(cc_task_done(ts[i]));
  ASSERT_ERR(cc_event_free(e), -EBUSY);
  cc_event_set(e);
  ASSERT_TRUE(cc_event_is_set(e));
  ASSERT_OK(cc_gather(ts, 5, NULL));
  ASSERT_OK(cc_event_wait(e)); /* set: immediate */
  cc_event_clear(e);
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_event_wait(e), -ETIMEDOUT);
  cc_timeout_end(&to);
  ASSERT_OK(cc_event_free(e));
  return 0;
}
TEST(event) {
  cc_test_run(t_event, NULL);
}

/* ---- semaphore ------------------------------------------------------------------- */

static cc_sem_t *sem;
static int sem_inside, sem_max;
static intptr_t sem_user(void *a) {
  int r = cc_sem_acquire(sem);
  if (r < 0)
    return r;
  sem_inside++;
  if (sem_inside > sem_max)
    sem_max = sem_inside;
  cc_sleep(2);
  sem_inside--;
  return cc_sem_release(sem);
}
static intptr_t t_sem(void *unused) {
  ASSERT_OK(cc_sem_new(&sem, 3, 0));
  sem_inside = sem_max = 0;
  cc_task_t *ts[20];
  for (int i = 0; i < 20; i++)
    ASSERT_OK(cc_spawn(&ts[i], sem_user, NULL));
  ASSERT_OK(cc_gather(ts, 20, NULL));
  ASSERT_EQ(sem_max, 3);
  ASSERT_EQ(cc_sem_value(sem), 3);
  ASSERT_OK(cc_sem_release(sem)); /* unbounded: may exceed */
  ASSERT_EQ(cc_sem_value(sem), 4);
  ASSERT_OK(cc_sem_free(sem));

  cc_sem_t *b;
  ASSERT_OK(cc_sem_new(&b, 1, 1));
  ASSERT_ERR(cc_sem_release(b), -EOVERFLOW);
  ASSERT_OK(cc_sem_try_acquire(b));
  ASSERT_ERR(cc_sem_try_acquire(b), -EBUSY);
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_sem_acquire(b), -ETIMEDOUT);
  cc_timeout_end(&to);
  ASSERT_OK(cc_sem_release(b));
  ASSERT_EQ(cc_sem_value(b), 1);
  ASSERT_OK(cc_sem_free(b));
  ASSERT_ERR(cc_sem_new(&b, 2, 1), -EINVAL);
  return 0;
}
TEST(semaphore_and_bounded) {
  cc_test_run(t_sem, NULL);
}

/* ---- condition ------------------------------------------------------------------- */

static cc_lock_t *clk;
static cc_cond_t *cv;
static int items;
static intptr_t consumer(void *a) {
  ASSERT_OK(cc_lock_acquire(clk));
  while (items == 0) {
    int r = cc_cond_wait(cv, clk);
    ASSERT_TRUE(cc_lock_locked(clk)); /* held again whatever happened */
    if (r < 0) {
      cc_lock_release(clk);
      return r;
    }
  }
  items--;
  cc_lock_release(clk);
  return 1;
}
static intptr_t t_cond(void *unused) {
  ASSERT_OK(cc_lock_new(&clk));
  ASSERT_OK(cc_cond_new(&cv));
  items = 0;
  cc_task_t *ts[4];
  for (int i = 0; i < 4; i++)
    ASSERT_OK(cc_spawn(&ts[i], consumer, NULL));
  cc_yield();
  ASSERT_OK(cc_lock_acquire(clk));
  items = 2;
  cc_cond_notify(cv, 2);
  cc_lock_release(clk);
  cc_sleep(5);
  int done = 0;
  for (int i = 0; i < 4; i++)
    done += cc_task_done(ts[i]);
  ASSERT_EQ(done, 2);
  ASSERT_OK(cc_lock_acquire(clk));
  items = 2;
  cc_cond_notify_all(cv);
  cc_lock_release(clk);
  intptr_t res[4];
  ASSERT_OK(cc_gather(ts, 4, res));
  ASSERT_ERR(cc_cond_wait(cv, clk), -EPERM); /* not holding the lock */
  /* cancellation while waiting: the waiter still re-acquires the lock */
  cc_task_t *c;
  ASSERT_OK(cc_spawn(&c, consumer, NULL));
  cc_yield();
  ASSERT_OK(cc_lock_acquire(clk));
  cc_cancel(c);
  cc_yield();
  ASSERT_FALSE(cc_task_done(c)); /* blocked re-acquiring the lock we hold */
  cc_lock_release(clk);
  ASSERT_ERR(cc_join(c, NULL), -ECANCELED);
  ASSERT_OK(cc_cond_free(cv));
  ASSERT_OK(cc_lock_free(clk));
  return 0;
}
TEST(condition) {
  cc_test_run(t_cond, NULL);
}

/* ---- queue ----------------------------------------------------------------------- */

static intptr_t producer(void *a) {
  cc_queue_t *q = a;
  for (intptr_t i = 1; i <= 1000; i++) {
    int r = cc_queue_put(q, (void *)i);
    if (r < 0)
      return r;
  }
  return 0;
}
static intptr_t q_consumer(void *a) {
  cc_queue_t *q = a;
  intptr_t sum = 0;
  void *v;
  int r;
  while ((r = cc_queue_get(q, &v)) == 0)
    sum += (intptr_t)v;
  return r == -CC_ECLOSED ? sum : r;
}
static intptr_t t_queue(void *arg) {
  size_t cap = (size_t)(intptr_t)arg;
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, cap));
  ASSERT_EQ(cc_queue_capacity(q), cap);
  cc_task_t *p[4], *c[3];
  for (int i = 0; i < 4; i++)
    ASSERT_OK(cc_spawn(&p[i], producer, q));
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_spawn(&c[i], q_consumer, q));
  ASSERT_OK(cc_gather(p, 4, NULL));
  cc_queue_close(q);
  intptr_t sums[3];
  ASSERT_OK(cc_gather(c, 3, sums));
  ASSERT_EQ(sums[0] + sums[1] + sums[2], 4 * 1000 * 1001 / 2);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_many_producers_consumers) {
  cc_test_run(t_queue, (void *)16);
}
TEST(queue_rendezvous) {
  cc_test_run(t_queue, (void *)CC_QUEUE_RENDEZVOUS);
}
TEST(queue_unbounded) {
  cc_test_run(t_queue, (void *)CC_QUEUE_UNBOUNDED);
}

static intptr_t t_queue_backpressure(void *unused) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, 2));
  ASSERT_OK(cc_queue_try_put(q, (void *)1));
  ASSERT_OK(cc_queue_put(q, (void *)2));
  ASSERT_ERR(cc_queue_try_put(q, (void *)3), -EAGAIN);
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_queue_put(q, (void *)3), -ETIMEDOUT); /* full: put waits */
  cc_timeout_end(&to);
  ASSERT_EQ(cc_queue_size(q), 2);
  void *v;
  ASSERT_OK(cc_queue_get(q, &v));
  ASSERT_EQ((intptr_t)v, 1);
  ASSERT_OK(cc_queue_try_get(q, &v));
  ASSERT_EQ((intptr_t)v, 2);
  ASSERT_ERR(cc_queue_try_get(q, &v), -EAGAIN);
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_queue_get(q, &v), -ETIMEDOUT); /* empty: get waits */
  cc_timeout_end(&to);
  /* close: items still inside are delivered, then CC_ECLOSED */
  ASSERT_OK(cc_queue_put(q, (void *)9));
  cc_queue_close(q);
  ASSERT_ERR(cc_queue_put(q, (void *)10), -CC_ECLOSED);
  ASSERT_OK(cc_queue_get(q, &v));
  ASSERT_EQ((intptr_t)v, 9);
  ASSERT_ERR(cc_queue_get(q, &v), -CC_ECLOSED);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_backpressure_and_close) {
  cc_test_run(t_queue_backpressure, NULL);
}

static intptr_t blocked_putter(void *a) {
  return cc_queue_put((cc_queue_t *)a, (void *)5);
}
static intptr_t blocked_getter(void *a) {
  void *v;
  return cc_queue_get((cc_queue_t *)a, &v);
}
static intptr_t t_close_wakes(void *unused) {
  cc_queue_t *full, *empty;
  ASSERT_OK(cc_queue_new(&full, 1));
  ASSERT_OK(cc_queue_new(&empty, 1));
  ASSERT_OK(cc_queue_put(full, NULL));
  cc_task_t *p, *g;
  ASSERT_OK(cc_spawn(&p, blocked_putter, full));
  ASSERT_OK(cc_spawn(&g, blocked_getter, empty));
  cc_yield();
  ASSERT_ERR(cc_queue_free(full), -EBUSY);
  cc_queue_close(full);
  cc_queue_close(empty);
  ASSERT_ERR(cc_join(p, NULL), -CC_ECLOSED);
  ASSERT_ERR(cc_join(g, NULL), -CC_ECLOSED);
  ASSERT_OK(cc_queue_free(full));
  ASSERT_OK(cc_queue_free(empty));
  return 0;
}
TEST(queue_close_wakes_every_waiter) {
  cc_test_run(t_close_wakes, NULL);
}

static intptr_t t_queue_cancel(void *unused) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, 1));
  cc_task_t *g1, *g2;
  ASSERT_OK(cc_spawn(&g1, blocked_getter, q));
  ASSERT_OK(cc_spawn(&g2, blocked_getter, q));
  cc_yield();
  cc_cancel(g1);
  ASSERT_ERR(cc_join(g1, NULL), -ECANCELED);
  ASSERT_OK(cc_queue_put(q, (void *)1)); /* goes to g2, not to the cancelled g1 */
  ASSERT_OK(cc_join(g2, NULL));
  ASSERT_EQ(cc_queue_size(q), 0);
  ASSERT_OK(cc_queue_free(q));
  return 0;
}
TEST(queue_cancelled_getter_loses_nothing) {
  cc_test_run(t_queue_cancel, NULL);
}

/* The Python trap: Queue(0) is unbounded, so a put-then-get in one task
 * must not wait. A rendezvous is asked for by name. */
static intptr_t t_queue_zero_unbounded(void *unused) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, 0));
  ASSERT_EQ(cc_queue_capacity(q), 0);
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(100));
  ASSERT_OK(cc_queue_put(q, (void *)1)); /* never waits */
  cc_timeout_end(&to);
  void *v;
  ASSERT_OK(cc_queue_get(q, &v));
  ASSERT_EQ((intptr_t)v, 1);
  /* growth keeps the order, also with the ring wrapped around */
  intptr_t next_in = 1, next_out = 1;
  for (int i = 0; i < 10; i++)
    ASSERT_OK(cc_queue_try_put(q, (void *)next_in++));
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(cc_queue_try_get(q, &v));
    ASSERT_EQ((intptr_t)v, next_out++);
  }
  for (int i = 0; i < 1000; i++)
    ASSERT_OK(cc_queue_put(q, (void *)next_in++));
  ASSERT_EQ(cc_queue_size(q), 1005);
  while (cc_queue_try_get(q, &v) == 0)
    ASSERT_EQ((intptr_t)v, next_out++);
  ASSERT_EQ(next_out, next_in);
  cc_queue_close(q);
  ASSERT_ERR(cc_queue_put(q, (void *)1), -CC_ECLOSED);
  ASSERT_OK(cc_queue_free(q));

  /* a rendezvous holds nothing */
  ASSERT_OK(cc_queue_new(&q, CC_QUEUE_RENDEZVOUS));
  ASSERT_EQ(cc_queue_capacity(q), CC_QUEUE_RENDEZVOUS);
  ASSERT_ERR(cc_queue_try_put(q, (void *)1), -EAGAIN);
  ASSERT_ERR(cc_queue_try_get(q, &v), -EAGAIN);
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_queue_put(q, (void *)1), -ETIMEDOUT); /* no getter came */
  cc_timeout_end(&to);
  ASSERT_EQ(cc_queue_size(q), 0);
  ASSERT_OK(cc_queue_free(q));
  ASSERT_ERR(cc_queue_new(&q, SIZE_MAX / 2), -EINVAL);
  return 0;
}
TEST(queue_zero_is_unbounded) {
  cc_test_run(t_queue_zero_unbounded, NULL);
}

/* The hand-off paths of queue.c, one by one: the inline hand-off to a parked
 * getter or from a parked putter, the general one (a waiter with a deadline
 * armed, whose timer must be disarmed), a getter that drops the item (NULL),
 * a long ping-pong through both parking paths (past the switch budget, so
 * the loop's own context runs in between) whose values must all arrive, and
 * get/put returning right from nested frames after they suspended. */
static cc_queue_t *hq_a, *hq_b;
static __attribute__((noinline)) int nested_get(int depth, void **v) {
  if (depth > 0) {
    int r = nested_get(depth - 1, v);
    return r < 0 ? r : r + 1; /* counts the frames it returned through */
  }
  return cc_queue_get(hq_a, v);
}
static intptr_t hq_echo(void *a) {
  intptr_t n = (intptr_t)a;
  for (intptr_t i = 0; i < n; i++) {
    void *v;
    int r = nested_get((int)(i % 4), &v);
    if (r != (int)(i % 4))
      return -1000 - r;
    if ((intptr_t)v != i)
      return -2000;
    if ((r = cc_queue_put(hq_b, (void *)(i * 2))) != 0)
      return r;
  }
  return n;
}
static intptr_t hq_timed_getter(void *a) {
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(60000));
  void *v = NULL;
  int r = cc_queue_get((cc_queue_t *)a, &v);
  cc_timeout_end(&to);
  return r < 0 ? r : (intptr_t)v;
}
static intptr_t hq_timed_putter(void *a) {
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(60000));
  int r = cc_queue_put((cc_queue_t *)a, (void *)77);
  cc_timeout_end(&to);
  return r;
}
static intptr_t hq_null_getter(void *a) {
  return cc_queue_get((cc_queue_t *)a, NULL);
}
static intptr_t t_queue_handoff_paths(void *arg) {
  size_t cap = (size_t)(intptr_t)arg;
  const intptr_t n = 2000;
  ASSERT_OK(cc_queue_new(&hq_a, cap));
  ASSERT_OK(cc_queue_new(&hq_b, cap));
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, hq_echo, (void *)n));
  for (intptr_t i = 0; i < n; i++) {
    void *v;
    ASSERT_OK(cc_queue_put(hq_a, (void *)i));
    ASSERT_OK(cc_queue_get(hq_b, &v));
    ASSERT_EQ((intptr_t)v, i * 2);
  }
  intptr_t r;
  ASSERT_OK(cc_join(t, &r));
  ASSERT_EQ(r, n);

  /* a getter with a deadline: the general hand-off, its timer disarmed */
  ASSERT_OK(cc_spawn(&t, hq_timed_getter, hq_a));
  cc_yield();
  ASSERT_OK(cc_queue_put(hq_a, (void *)42));
  ASSERT_OK(cc_join(t, &r));
  ASSERT_EQ(r, 42);
  /* a putter with a deadline waiting on a full queue (or a rendezvous) */
  if (cap != CC_QUEUE_RENDEZVOUS)
    ASSERT_OK(cc_queue_put(hq_a, (void *)1));
  ASSERT_OK(cc_spawn(&t, hq_timed_putter, hq_a));
  cc_yield();
  void *v;
  if (cap != CC_QUEUE_RENDEZVOUS) {
    ASSERT_OK(cc_queue_get(hq_a, &v));
    ASSERT_EQ((intptr_t)v, 1);
  }
  ASSERT_OK(cc_queue_get(hq_a, &v));
  ASSERT_EQ((intptr_t)v, 77);
  ASSERT_OK(cc_join(t, &r));
  ASSERT_EQ(r, 0);
  /* a parked getter that drops what it gets */
  ASSERT_OK(cc_spawn(&t, hq_null_getter, hq_a));
  cc_yield();
  ASSERT_OK(cc_queue_put(hq_a, (void *)5));
  ASSERT_OK(cc_join(t, &r));
  ASSERT_EQ(r, 0);
  ASSERT_EQ(cc_queue_size(hq_a), 0);
  ASSERT_OK(cc_queue_free(hq_a));
  ASSERT_OK(cc_queue_free(hq_b));
  return 0;
}
TEST(queue_handoff_paths_capacity_1) {
  cc_test_run(t_queue_handoff_paths, (void *)1);
}
TEST(queue_handoff_paths_rendezvous) {
  cc_test_run(t_queue_handoff_paths, (void *)CC_QUEUE_RENDEZVOUS);
}

/* Outside a coroutine: a get that would wait says so, one that need not
 * works. */
TEST(queue_outside_a_coroutine) {
  cc_queue_t *q;
  ASSERT_OK(cc_queue_new(&q, 1));
  void *v;
  ASSERT_ERR(cc_queue_get(q, &v), -CC_ENOTCORO);
  ASSERT_OK(cc_queue_put(q, (void *)3));
  ASSERT_ERR(cc_queue_put(q, (void *)4), -CC_ENOTCORO);
  ASSERT_OK(cc_queue_get(q, &v));
  ASSERT_EQ((intptr_t)v, 3);
  ASSERT_ERR(cc_queue_get(NULL, &v), -EINVAL);
  ASSERT_ERR(cc_queue_put(NULL, v), -EINVAL);
  ASSERT_OK(cc_queue_free(q));
}

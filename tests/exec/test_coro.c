/* Coroutines waiting on thread-level primitives, futures and the pool
 * without blocking their loop, and cc_to_thread. */
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"

static intptr_t plus_one(void *arg) {
  return (intptr_t)arg + 1;
}

static intptr_t wait_event(void *arg) {
  return cc_tevent_wait(arg, CC_FOREVER) == 0 ? 7 : -1;
}

/* A coroutine that counts loop iterations: proof that the loop runs while
 * another coroutine waits on a thread-level object. */
static atomic_int ticks;
static intptr_t ticker(void *arg) {
  for (;;) {
    if (cc_sleep(1) < 0)
      return 0;
    atomic_fetch_add(&ticks, 1);
  }
}

static intptr_t set_after(void *arg) {
  usleep(60000);
  cc_tevent_set(arg);
  return 0;
}

/* ---- a coroutine and a thread waiting on the same future ---------------- */

static intptr_t thread_waits_future(void *arg) {
  intptr_t v = -1;
  int r = cc_future_result(arg, cc_deadline_in(5000), &v);
  return r < 0 ? r : v;
}

static intptr_t main_same_future(void *arg) {
  cc_executor_t *ex;
  ASSERT_OK(cc_executor_new(&ex, NULL));
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_future_t *f;
  ASSERT_OK(cc_executor_submit(ex, wait_event, e, &f));
  cc_thread_t *waiter, *setter;
  ASSERT_OK(cc_thread_start(&waiter, thread_waits_future, f, NULL));
  ASSERT_OK(cc_thread_start(&setter, set_after, e, NULL));
  cc_task_t *tk;
  ASSERT_OK(cc_spawn(&tk, ticker, NULL));
  intptr_t v = 0;
  ASSERT_OK(cc_future_result(f, cc_deadline_in(5000), &v)); /* suspends */
  ASSERT_EQ(v, 7);
  ASSERT_GT(atomic_load(&ticks), 5); /* the loop kept running */
  intptr_t tv;
  ASSERT_OK(cc_thread_join(waiter, &tv)); /* coroutine joins a thread */
  ASSERT_EQ(tv, 7);
  ASSERT_OK(cc_thread_join(setter, NULL));
  cc_cancel(tk);
  ASSERT_OK(cc_join(tk, NULL));
  cc_future_unref(f);
  ASSERT_OK(cc_executor_shutdown(ex, true, false)); /* suspends too */
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_OK(cc_tevent_free(e));
  return 0;
}

TEST(coroutine_and_thread_wait_on_one_future) {
  cc_test_run(main_same_future, NULL);
}

/* ---- cc_to_thread ---------------------------------------------------------- */

static intptr_t slow_square(void *arg) {
  usleep(30000);
  return (intptr_t)arg * (intptr_t)arg;
}

static intptr_t sleep_200ms(void *arg) {
  usleep(200000);
  return 0;
}

static intptr_t to_thread_child(void *arg) {
  intptr_t v = 0;
  int r = cc_to_thread(slow_square, arg, &v);
  return r < 0 ? r : v;
}

static intptr_t main_to_thread(void *arg) {
  atomic_store(&ticks, 0);
  cc_task_t *tk, *kids[8];
  ASSERT_OK(cc_spawn(&tk, ticker, NULL));
  for (intptr_t i = 0; i < 8; i++)
    ASSERT_OK(cc_spawn(&kids[i], to_thread_child, (void *)i));
  intptr_t res[8];
  ASSERT_OK(cc_gather(kids, 8, res));
  for (int i = 0; i < 8; i++)
    ASSERT_EQ(res[i], i * i);
  ASSERT_GT(atomic_load(&ticks), 5);
  cc_cancel(tk);
  ASSERT_OK(cc_join(tk, NULL));
  return 0;
}

TEST(to_thread_runs_blocking_calls_off_the_loop) {
  cc_test_run(main_to_thread, NULL);
}

static atomic_int late_ran, late_started;
static intptr_t block_then_mark(void *arg) {
  atomic_store(&late_started, 1);
  cc_tevent_wait(arg, CC_FOREVER);
  atomic_store(&late_ran, 1);
  return 1;
}

static intptr_t child_to_thread_blocked(void *arg) {
  return cc_to_thread(block_then_mark, arg, NULL);
}

static intptr_t main_to_thread_cancel(void *arg) {
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, child_to_thread_blocked, e));
  for (int i = 0; i < 2500 && !atomic_load(&late_started); i++)
    ASSERT_OK(cc_sleep(2)); /* until the call runs on the pool */
  ASSERT_EQ(atomic_load(&late_started), 1);
  int64_t t0 = cc_now();
  ASSERT_OK(cc_cancel(t));
  intptr_t r = 0;
  int jr = cc_join(t, &r);
  ASSERT_TRUE(jr == -ECANCELED || r == -ECANCELED);
  ASSERT_LT(cc_now() - t0, 1000);
  /* The blocking call is still running on the pool; its result is dropped
   * when it ends. */
  ASSERT_EQ(atomic_load(&late_ran), 0);
  cc_tevent_set(e);
  for (int i = 0; i < 2500 && !atomic_load(&late_ran); i++)
    cc_sleep(2);
  ASSERT_EQ(atomic_load(&late_ran), 1);
  cc_sleep(10);
  ASSERT_OK(cc_tevent_free(e));

  /* A deadline scope interrupts the wait the same way. */
  cc_timeout_t scope;
  cc_timeout_begin(&scope, cc_deadline_in(30));
  ASSERT_ERR(cc_to_thread(sleep_200ms, NULL, NULL), -ETIMEDOUT);
  ASSERT_TRUE(cc_timeout_end(&scope));
  return 0;
}

TEST(to_thread_cancel_and_deadline) {
  cc_test_run(main_to_thread_cancel, NULL);
}

/* A cancelled waiter whose task had not started: it never runs. */
static atomic_int never;
static intptr_t must_not_run(void *arg) {
  atomic_store(&never, 1);
  return 0;
}

typedef struct {
  cc_executor_t *ex;
} call_ctx;

static intptr_t child_call(void *arg) {
  call_ctx *c = arg;
  return cc_executor_call(c->ex, must_not_run, NULL, NULL);
}

static intptr_t main_call_cancel_pending(void *arg) {
  cc_executor_opts_t o = {.max_workers = 1, .batch = 1};
  call_ctx c;
  ASSERT_OK(cc_executor_new(&c.ex, &o));
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_future_t *blocker;
  ASSERT_OK(cc_executor_submit(c.ex, wait_event, e, &blocker));
  while (cc_future_state(blocker) != CC_FUTURE_RUNNING)
    ASSERT_OK(cc_sleep(1));
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, child_call, &c));
  while (cc_executor_pending(c.ex) != 1)
    ASSERT_OK(cc_sleep(1)); /* the child's task is queued behind it */
  cc_cancel(t);
  intptr_t r = 0;
  int jr = cc_join(t, &r);
  ASSERT_TRUE(jr == -ECANCELED || r == -ECANCELED);
  cc_tevent_set(e);
  ASSERT_OK(cc_future_wait(blocker, CC_FOREVER));
  cc_future_unref(blocker);
  ASSERT_OK(cc_executor_free(c.ex));
  ASSERT_EQ(atomic_load(&never), 0);
  ASSERT_OK(cc_tevent_free(e));
  return 0;
}

TEST(cancelled_call_never_runs_pending_task) {
  cc_test_run(main_call_cancel_pending, NULL);
}

/* A coroutine waiting on a task the only worker claimed in a batch (but has
 * not started) wakes when shutdown(cancel_futures) cancels it; the task
 * never runs. Before the fix the waiter slept until the test's timeout. */
static atomic_int claimed_ran;
static intptr_t mark_claimed(void *arg) {
  (void)arg;
  atomic_store(&claimed_ran, 1);
  return 0;
}

static intptr_t co_waits_future(void *arg) {
  return cc_future_wait(arg, CC_FOREVER) == 0 ? cc_future_cancelled(arg) : -1;
}

static intptr_t main_claimed_waiter(void *arg) {
  (void)arg;
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1, .batch = 4};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_tevent_t *gate, *hold;
  ASSERT_OK(cc_tevent_new(&gate));
  ASSERT_OK(cc_tevent_new(&hold));
  cc_future_t *g, *a, *b;
  ASSERT_OK(cc_executor_submit(ex, wait_event, gate, &g));
  while (cc_future_state(g) != CC_FUTURE_RUNNING)
    ASSERT_OK(cc_sleep(1));
  ASSERT_OK(cc_executor_submit(ex, wait_event, hold, &a));
  ASSERT_OK(cc_executor_submit(ex, mark_claimed, NULL, &b));
  cc_task_t *w;
  ASSERT_OK(cc_spawn(&w, co_waits_future, b));
  cc_tevent_set(gate); /* the worker claims a and b at once */
  while (cc_future_state(a) != CC_FUTURE_RUNNING)
    ASSERT_OK(cc_sleep(1));
  ASSERT_EQ(cc_executor_pending(ex), 0);
  ASSERT_OK(cc_executor_shutdown(ex, false, true));
  intptr_t r = 0;
  ASSERT_OK(cc_join(w, &r)); /* woken by the cancellation */
  ASSERT_EQ(r, 1);
  cc_tevent_set(hold);
  ASSERT_OK(cc_executor_shutdown(ex, true, false));
  ASSERT_EQ(atomic_load(&claimed_ran), 0);
  cc_future_unref(g);
  cc_future_unref(a);
  cc_future_unref(b);
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_OK(cc_tevent_free(gate));
  ASSERT_OK(cc_tevent_free(hold));
  return 0;
}

TEST(coroutine_waiting_on_a_claimed_task_wakes_at_shutdown) {
  cc_test_run(main_claimed_waiter, NULL);
}

/* ---- queue between threads and coroutines ------------------------------------ */

#define NQ 2000

static intptr_t thread_producer(void *arg) {
  for (intptr_t i = 1; i <= NQ; i++)
    if (cc_tqueue_put(arg, (void *)i, CC_FOREVER) != 0)
      return -1;
  cc_tqueue_close(arg);
  return 0;
}

static intptr_t coro_consumer(void *arg) {
  intptr_t sum = 0;
  void *it;
  int r;
  while ((r = cc_tqueue_get(arg, &it, CC_FOREVER)) == 0)
    sum += (intptr_t)it;
  return r == -CC_ECLOSED ? sum : r;
}

static intptr_t thread_consumer(void *arg) {
  intptr_t sum = 0;
  void *it;
  while (cc_tqueue_get(arg, &it, CC_FOREVER) == 0)
    sum += (intptr_t)it;
  return sum;
}

static intptr_t coro_producer(void *arg) {
  for (intptr_t i = 1; i <= NQ; i++) {
    int r = cc_tqueue_put(arg, (void *)i, CC_FOREVER);
    if (r != 0)
      return r;
  }
  return 0;
}

static intptr_t main_queue(void *arg) {
  /* thread -> two coroutines */
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, 4));
  cc_task_t *c1, *c2;
  ASSERT_OK(cc_spawn(&c1, coro_consumer, q));
  ASSERT_OK(cc_spawn(&c2, coro_consumer, q));
  cc_thread_t *p;
  ASSERT_OK(cc_thread_start(&p, thread_producer, q, NULL));
  intptr_t s1, s2;
  ASSERT_OK(cc_join(c1, &s1));
  ASSERT_OK(cc_join(c2, &s2));
  ASSERT_EQ(s1 + s2, (intptr_t)NQ * (NQ + 1) / 2);
  ASSERT_OK(cc_thread_join(p, NULL));
  ASSERT_OK(cc_tqueue_free(q));

  /* two coroutines -> thread, with back-pressure */
  ASSERT_OK(cc_tqueue_new(&q, 2));
  cc_thread_t *cons;
  ASSERT_OK(cc_thread_start(&cons, thread_consumer, q, NULL));
  ASSERT_OK(cc_spawn(&c1, coro_producer, q));
  ASSERT_OK(cc_spawn(&c2, coro_producer, q));
  ASSERT_OK(cc_join(c1, NULL));
  ASSERT_OK(cc_join(c2, NULL));
  cc_tqueue_close(q);
  intptr_t s;
  ASSERT_OK(cc_thread_join(cons, &s));
  ASSERT_EQ(s, (intptr_t)NQ * (NQ + 1));
  ASSERT_OK(cc_tqueue_free(q));

  /* a coroutine's get honours its deadline scope and cancellation */
  ASSERT_OK(cc_tqueue_new(&q, 1));
  void *it;
  ASSERT_ERR(cc_tqueue_get(q, &it, cc_deadline_in(20)), -ETIMEDOUT);
  cc_timeout_t scope;
  cc_timeout_begin(&scope, cc_deadline_in(20));
  ASSERT_ERR(cc_tqueue_get(q, &it, CC_FOREVER), -ETIMEDOUT);
  cc_timeout_end(&scope);
  ASSERT_OK(cc_spawn(&c1, coro_consumer, q));
  ASSERT_OK(cc_sleep(5));
  cc_cancel(c1);
  ASSERT_ERR(cc_join(c1, NULL), -ECANCELED);
  ASSERT_OK(cc_tqueue_free(q)); /* the cancelled waiter left no trace */
  return 0;
}

TEST(queue_between_threads_and_coroutines) {
  cc_test_run(main_queue, NULL);
}

/* ---- locks, conditions, events, semaphores, barriers ------------------------- */

typedef struct {
  cc_tlock_t *l;
  cc_tcond_t *c;
  long counter;
  bool ready;
} shared_t;

static intptr_t coro_locker(void *arg) {
  shared_t *s = arg;
  for (int i = 0; i < 200; i++) {
    int r = cc_tlock_acquire(s->l, CC_FOREVER);
    if (r)
      return r;
    long v = s->counter;
    if (i % 10 == 0)
      cc_sleep(0); /* suspend while holding it: others must park, not spin */
    s->counter = v + 1;
    cc_tlock_release(s->l);
  }
  return 0;
}

static intptr_t thread_locker(void *arg) {
  shared_t *s = arg;
  for (int i = 0; i < 200; i++) {
    cc_tlock_acquire(s->l, CC_FOREVER);
    s->counter++;
    cc_tlock_release(s->l);
  }
  return 0;
}

static intptr_t coro_cond_waiter(void *arg) {
  shared_t *s = arg;
  cc_tlock_acquire(s->l, CC_FOREVER);
  int r = 0;
  while (!s->ready && r == 0)
    r = cc_tcond_wait(s->c, s->l, CC_FOREVER);
  bool held = cc_tlock_locked(s->l);
  cc_tlock_release(s->l);
  return r < 0 ? (held ? r : -999) : 1;
}

static intptr_t thread_notifier(void *arg) {
  shared_t *s = arg;
  usleep(20000);
  cc_tlock_acquire(s->l, CC_FOREVER);
  s->ready = true;
  cc_tcond_notify_all(s->c);
  cc_tlock_release(s->l);
  return 0;
}

static intptr_t main_locks(void *arg) {
  shared_t s = {0};
  ASSERT_OK(cc_tlock_new(&s.l, 0));
  ASSERT_OK(cc_tcond_new(&s.c));
  cc_task_t *a, *b;
  cc_thread_t *t;
  ASSERT_OK(cc_spawn(&a, coro_locker, &s));
  ASSERT_OK(cc_spawn(&b, coro_locker, &s));
  ASSERT_OK(cc_thread_start(&t, thread_locker, &s, NULL));
  ASSERT_OK(cc_join(a, NULL));
  ASSERT_OK(cc_join(b, NULL));
  ASSERT_OK(cc_thread_join(t, NULL));
  ASSERT_EQ(s.counter, 600);

  /* Condition: coroutines woken by a thread. */
  ASSERT_OK(cc_spawn(&a, coro_cond_waiter, &s));
  ASSERT_OK(cc_spawn(&b, coro_cond_waiter, &s));
  ASSERT_OK(cc_thread_start(&t, thread_notifier, &s, NULL));
  intptr_t ra, rb;
  ASSERT_OK(cc_join(a, &ra));
  ASSERT_OK(cc_join(b, &rb));
  ASSERT_EQ(ra, 1);
  ASSERT_EQ(rb, 1);
  ASSERT_OK(cc_thread_join(t, NULL));

  /* A cancelled condition waiter still holds the lock when it returns. */
  s.ready = false;
  ASSERT_OK(cc_spawn(&a, coro_cond_waiter, &s));
  ASSERT_OK(cc_sleep(5));
  ASSERT_OK(cc_tlock_acquire(s.l, CC_FOREVER)); /* the waiter released it */
  cc_cancel(a);
  ASSERT_OK(cc_sleep(5)); /* it wakes, and waits (shielded) for the lock */
  ASSERT_OK(cc_tlock_release(s.l));
  ASSERT_ERR(cc_join(a, NULL), -ECANCELED); /* -999 if the lock was not held */
  ASSERT_FALSE(cc_tlock_locked(s.l));
  ASSERT_OK(cc_tcond_free(s.c));
  ASSERT_OK(cc_tlock_free(s.l));
  return 0;
}

TEST(locks_and_conditions_shared_by_coroutines_and_threads) {
  cc_test_run(main_locks, NULL);
}

static intptr_t coro_event_wait(void *arg) {
  return cc_tevent_wait(arg, CC_FOREVER);
}

static intptr_t coro_sem_acquire(void *arg) {
  return cc_tsem_acquire(arg, CC_FOREVER);
}

static intptr_t coro_barrier(void *arg) {
  return cc_barrier_wait(arg, cc_deadline_in(5000));
}

static intptr_t thread_barrier(void *arg) {
  return cc_barrier_wait(arg, cc_deadline_in(5000));
}

static intptr_t main_events(void *arg) {
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_task_t *a, *b;
  ASSERT_OK(cc_spawn(&a, coro_event_wait, e));
  ASSERT_OK(cc_spawn(&b, coro_event_wait, e));
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, set_after, e, NULL));
  intptr_t r;
  ASSERT_OK(cc_join(a, &r));
  ASSERT_EQ(r, 0);
  ASSERT_OK(cc_join(b, &r));
  ASSERT_EQ(r, 0);
  ASSERT_OK(cc_thread_join(t, NULL));
  cc_tevent_clear(e);
  ASSERT_OK(cc_spawn(&a, coro_event_wait, e));
  ASSERT_OK(cc_sleep(5));
  cc_cancel(a);
  ASSERT_ERR(cc_join(a, NULL), -ECANCELED);
  ASSERT_OK(cc_tevent_free(e));

  cc_tsem_t *s;
  ASSERT_OK(cc_tsem_new(&s, 0, 0));
  ASSERT_OK(cc_spawn(&a, coro_sem_acquire, s));
  ASSERT_OK(cc_sleep(5));
  ASSERT_OK(cc_tsem_release(s));
  ASSERT_OK(cc_join(a, &r));
  ASSERT_EQ(r, 0);
  ASSERT_OK(cc_tsem_free(s));

  cc_barrier_t *bar;
  ASSERT_OK(cc_barrier_new(&bar, 3));
  ASSERT_OK(cc_spawn(&a, coro_barrier, bar));
  ASSERT_OK(cc_spawn(&b, coro_barrier, bar));
  ASSERT_OK(cc_thread_start(&t, thread_barrier, bar, NULL));
  intptr_t ra, rb, rt;
  ASSERT_OK(cc_join(a, &ra));
  ASSERT_OK(cc_join(b, &rb));
  ASSERT_OK(cc_thread_join(t, &rt));
  ASSERT_EQ(ra + rb + rt, 0 + 1 + 2);
  ASSERT_OK(cc_barrier_free(bar));
  return 0;
}

TEST(events_semaphores_barriers_from_coroutines) {
  cc_test_run(main_events, NULL);
}

/* ---- map, wait, as_completed from a coroutine ----------------------------------- */

static intptr_t main_pool_apis(void *arg) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 2};
  ASSERT_OK(cc_executor_new(&ex, &o));
  void *args[500];
  intptr_t res[500];
  for (intptr_t i = 0; i < 500; i++)
    args[i] = (void *)i;
  ASSERT_OK(cc_executor_map(ex, plus_one, args, 500, res, NULL, 0, CC_FOREVER));
  for (int i = 0; i < 500; i++)
    ASSERT_EQ(res[i], i + 1);
  cc_future_t *fs[10];
  for (intptr_t i = 0; i < 10; i++)
    ASSERT_OK(cc_executor_submit(ex, plus_one, (void *)i, &fs[i]));
  ASSERT_EQ(cc_futures_wait(fs, 10, CC_ALL_COMPLETED, cc_deadline_in(5000)), 10);
  cc_as_completed_t *it;
  ASSERT_OK(cc_as_completed_new(&it, fs, 10));
  int n = 0;
  cc_future_t *f;
  while (cc_as_completed_next(it, cc_deadline_in(5000), &f) == 0 && f)
    n++;
  ASSERT_EQ(n, 10);
  cc_as_completed_free(it);
  for (int i = 0; i < 10; i++)
    cc_future_unref(fs[i]);
  ASSERT_OK(cc_executor_free(ex));
  return 0;
}

TEST(map_wait_as_completed_from_a_coroutine) {
  cc_test_run(main_pool_apis, NULL);
}

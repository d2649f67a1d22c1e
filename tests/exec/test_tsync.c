/* Threads and thread-level primitives, used from plain threads only (no
 * loop), so that ThreadSanitizer checks them without coroutine switches. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"

static intptr_t ret_arg_plus_one(void *arg) {
  return (intptr_t)arg + 1;
}

TEST(thread_start_join) {
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, ret_arg_plus_one, (void *)41, NULL));
  intptr_t r = 0;
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, 42);
}

static intptr_t report_name(void *arg) {
  char *buf = arg;
  char kname[16] = "";
  pthread_getname_np(pthread_self(), kname, sizeof kname);
  snprintf(buf, 64, "%s|%s|%d", cc_thread_name(NULL), kname, cc_thread_current() != NULL);
  return (intptr_t)cc_thread_id();
}

TEST(thread_names_and_identity) {
  char buf[64];
  cc_thread_t *t;
  cc_thread_opts_t o = {.name = "worker-name-that-is-long"};
  ASSERT_OK(cc_thread_start(&t, report_name, buf, &o));
  ASSERT_STR_EQ(cc_thread_name(t), "worker-name-tha"); /* 15 bytes kept */
  intptr_t tid;
  ASSERT_OK(cc_thread_join(t, &tid));
  ASSERT_STR_EQ(buf, "worker-name-tha|worker-name-tha|1");
  ASSERT_NE((uint64_t)tid, cc_thread_id());
  ASSERT_NULL(cc_thread_current()); /* main thread: not started by concur */
  ASSERT_OK(cc_thread_set_name("main-renamed"));
  ASSERT_STR_EQ(cc_thread_name(NULL), "main-renamed");
}

static intptr_t wait_event(void *arg) {
  return cc_tevent_wait(arg, CC_FOREVER);
}

TEST(thread_join_timeout_keeps_it_joinable) {
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, wait_event, e, NULL));
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_thread_join_until(t, cc_deadline_in(50), NULL), -ETIMEDOUT);
  ASSERT_GE(cc_now() - t0, 49);
  ASSERT_TRUE(cc_thread_is_alive(t));
  cc_tevent_set(e);
  intptr_t r = -1;
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, 0);
  ASSERT_OK(cc_tevent_free(e));
}

static atomic_int detached_ran;
static intptr_t detached_fn(void *arg) {
  atomic_store(&detached_ran, 1);
  cc_tevent_set(arg);
  return 0;
}

TEST(thread_detached) {
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_thread_opts_t o = {.detached = true};
  cc_thread_t *t = (cc_thread_t *)1;
  ASSERT_OK(cc_thread_start(&t, detached_fn, e, &o));
  ASSERT_NULL(t);
  ASSERT_OK(cc_tevent_wait(e, cc_deadline_in(5000)));
  ASSERT_EQ(atomic_load(&detached_ran), 1);
  usleep(20000); /* let it finish touching the event */
  ASSERT_OK(cc_tevent_free(e));
  /* Handle-based detach. */
  ASSERT_OK(cc_thread_start(&t, ret_arg_plus_one, NULL, NULL));
  ASSERT_OK(cc_thread_detach(t));
  ASSERT_ERR(cc_thread_start(NULL, ret_arg_plus_one, NULL, NULL), -EINVAL);
}

/* ---- Lock --------------------------------------------------------------- */

typedef struct {
  cc_tlock_t *l;
  long counter;
  int iters;
} lock_ctx;

static intptr_t lock_worker(void *arg) {
  lock_ctx *c = arg;
  for (int i = 0; i < c->iters; i++) {
    if (cc_tlock_acquire(c->l, CC_FOREVER) != 0)
      return -1;
    c->counter++;
    cc_tlock_release(c->l);
  }
  return 0;
}

TEST(lock_mutual_exclusion) {
  lock_ctx c = {.iters = cc_test_sanitized() ? 2000 : 20000};
  ASSERT_OK(cc_tlock_new(&c.l, 0));
  cc_thread_t *t[4];
  for (int i = 0; i < 4; i++)
    ASSERT_OK(cc_thread_start(&t[i], lock_worker, &c, NULL));
  for (int i = 0; i < 4; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(t[i], &r));
    ASSERT_EQ(r, 0);
  }
  ASSERT_EQ(c.counter, 4L * c.iters);
  ASSERT_FALSE(cc_tlock_locked(c.l));
  ASSERT_OK(cc_tlock_free(c.l));
}

static intptr_t try_lock_timeout(void *arg) {
  return cc_tlock_acquire(arg, cc_deadline_in(30));
}

static intptr_t release_lock(void *arg) {
  return cc_tlock_release(arg);
}

TEST(lock_errors_timeout_and_foreign_release) {
  cc_tlock_t *l;
  ASSERT_OK(cc_tlock_new(&l, 0));
  ASSERT_ERR(cc_tlock_release(l), -EPERM);
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  ASSERT_ERR(cc_tlock_acquire(l, CC_FOREVER), -EDEADLK);
  ASSERT_ERR(cc_tlock_try_acquire(l), -EDEADLK);
  ASSERT_ERR(cc_tlock_free(l), -EBUSY);
  cc_thread_t *t;
  intptr_t r;
  ASSERT_OK(cc_thread_start(&t, try_lock_timeout, l, NULL));
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, -ETIMEDOUT);
  /* threading.Lock may be released by another thread. */
  ASSERT_OK(cc_thread_start(&t, release_lock, l, NULL));
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, 0);
  ASSERT_FALSE(cc_tlock_locked(l));
  ASSERT_OK(cc_tlock_free(l));
  ASSERT_ERR(cc_tlock_new(&l, 99), -EINVAL);
}

TEST(rlock_recursion_and_ownership) {
  cc_tlock_t *l;
  ASSERT_OK(cc_tlock_new(&l, CC_TLOCK_RECURSIVE));
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  ASSERT_OK(cc_tlock_try_acquire(l));
  cc_thread_t *t;
  intptr_t r;
  ASSERT_OK(cc_thread_start(&t, release_lock, l, NULL));
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, -EPERM); /* not the owner */
  ASSERT_OK(cc_thread_start(&t, try_lock_timeout, l, NULL));
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, -ETIMEDOUT);
  ASSERT_OK(cc_tlock_release(l));
  ASSERT_OK(cc_tlock_release(l));
  ASSERT_TRUE(cc_tlock_locked(l));
  ASSERT_OK(cc_tlock_release(l));
  ASSERT_FALSE(cc_tlock_locked(l));
  ASSERT_ERR(cc_tlock_release(l), -EPERM);
  ASSERT_OK(cc_tlock_free(l));
}

/* ---- Event --------------------------------------------------------------- */

TEST(event_set_wakes_all) {
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  ASSERT_ERR(cc_tevent_wait(e, cc_deadline_in(10)), -ETIMEDOUT);
  ASSERT_ERR(cc_tevent_wait(e, cc_now() - 1), -ETIMEDOUT); /* past: no wait */
  cc_thread_t *t[5];
  for (int i = 0; i < 5; i++)
    ASSERT_OK(cc_thread_start(&t[i], wait_event, e, NULL));
  usleep(20000);
  ASSERT_FALSE(cc_tevent_is_set(e));
  cc_tevent_set(e);
  for (int i = 0; i < 5; i++) {
    intptr_t r = -1;
    ASSERT_OK(cc_thread_join(t[i], &r));
    ASSERT_EQ(r, 0);
  }
  ASSERT_OK(cc_tevent_wait(e, CC_FOREVER)); /* already set */
  cc_tevent_clear(e);
  ASSERT_FALSE(cc_tevent_is_set(e));
  ASSERT_OK(cc_tevent_free(e));
}

/* ---- Semaphore ------------------------------------------------------------ */

typedef struct {
  cc_tsem_t *s;
  atomic_int inside, max_inside;
} sem_ctx;

static intptr_t sem_worker(void *arg) {
  sem_ctx *c = arg;
  for (int i = 0; i < 50; i++) {
    if (cc_tsem_acquire(c->s, CC_FOREVER) != 0)
      return -1;
    int n = atomic_fetch_add(&c->inside, 1) + 1;
    int m = atomic_load(&c->max_inside);
    while (n > m && !atomic_compare_exchange_weak(&c->max_inside, &m, n))
      ;
    usleep(100);
    atomic_fetch_sub(&c->inside, 1);
    cc_tsem_release(c->s);
  }
  return 0;
}

TEST(semaphore_limits_concurrency) {
  sem_ctx c = {0};
  ASSERT_OK(cc_tsem_new(&c.s, 2, 0));
  cc_thread_t *t[5];
  for (int i = 0; i < 5; i++)
    ASSERT_OK(cc_thread_start(&t[i], sem_worker, &c, NULL));
  for (int i = 0; i < 5; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(t[i], &r));
    ASSERT_EQ(r, 0);
  }
  ASSERT_LE(atomic_load(&c.max_inside), 2);
  ASSERT_GE(atomic_load(&c.max_inside), 1);
  ASSERT_EQ(cc_tsem_value(c.s), 2);
  ASSERT_OK(cc_tsem_free(c.s));
}

TEST(bounded_semaphore_and_timeouts) {
  cc_tsem_t *s;
  ASSERT_ERR(cc_tsem_new(&s, 3, 2), -EINVAL);
  ASSERT_OK(cc_tsem_new(&s, 1, 1));
  ASSERT_ERR(cc_tsem_release(s), -EOVERFLOW);
  ASSERT_OK(cc_tsem_try_acquire(s));
  ASSERT_ERR(cc_tsem_try_acquire(s), -EBUSY);
  ASSERT_ERR(cc_tsem_acquire(s, cc_deadline_in(20)), -ETIMEDOUT);
  ASSERT_OK(cc_tsem_release(s));
  ASSERT_EQ(cc_tsem_value(s), 1);
  ASSERT_OK(cc_tsem_free(s));
}

/* ---- Condition ------------------------------------------------------------ */

typedef struct {
  cc_tlock_t *l;
  cc_tcond_t *c;
  int items, consumed;
  bool done;
} cond_ctx;

static intptr_t cond_consumer(void *arg) {
  cond_ctx *x = arg;
  int got = 0;
  cc_tlock_acquire(x->l, CC_FOREVER);
  for (;;) {
    while (x->items == 0 && !x->done)
      if (cc_tcond_wait(x->c, x->l, CC_FOREVER) != 0)
        return -1;
    if (x->items == 0 && x->done)
      break;
    x->items--;
    x->consumed++;
    got++;
  }
  cc_tlock_release(x->l);
  return got;
}

TEST(condition_producer_consumers) {
  cond_ctx x = {0};
  ASSERT_OK(cc_tlock_new(&x.l, CC_TLOCK_RECURSIVE)); /* RLock as in Python */
  ASSERT_OK(cc_tcond_new(&x.c));
  cc_thread_t *t[3];
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_thread_start(&t[i], cond_consumer, &x, NULL));
  for (int i = 0; i < 300; i++) {
    ASSERT_OK(cc_tlock_acquire(x.l, CC_FOREVER));
    x.items++;
    cc_tcond_notify(x.c, 1);
    ASSERT_OK(cc_tlock_release(x.l));
  }
  ASSERT_OK(cc_tlock_acquire(x.l, CC_FOREVER));
  x.done = true;
  cc_tcond_notify_all(x.c);
  ASSERT_OK(cc_tlock_release(x.l));
  intptr_t sum = 0;
  for (int i = 0; i < 3; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(t[i], &r));
    ASSERT_GE(r, 0);
    sum += r;
  }
  ASSERT_EQ(sum, 300);
  ASSERT_EQ(x.consumed, 300);
  ASSERT_OK(cc_tcond_free(x.c));
  ASSERT_OK(cc_tlock_free(x.l));
}

static bool items_ready(void *arg) {
  return ((cond_ctx *)arg)->items >= 3;
}

static intptr_t cond_add_items(void *arg) {
  cond_ctx *x = arg;
  for (int i = 0; i < 3; i++) {
    usleep(2000);
    cc_tlock_acquire(x->l, CC_FOREVER);
    x->items++;
    cc_tcond_notify_all(x->c);
    cc_tlock_release(x->l);
  }
  return 0;
}

TEST(condition_wait_for_predicate) {
  cond_ctx x = {0};
  ASSERT_OK(cc_tlock_new(&x.l, 0));
  ASSERT_OK(cc_tcond_new(&x.c));
  ASSERT_OK(cc_tlock_acquire(x.l, CC_FOREVER));
  ASSERT_ERR(cc_tcond_wait_for(x.c, x.l, items_ready, &x, cc_deadline_in(10)),
             -ETIMEDOUT);
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, cond_add_items, &x, NULL));
  ASSERT_OK(cc_tcond_wait_for(x.c, x.l, items_ready, &x, cc_deadline_in(10000)));
  ASSERT_EQ(x.items, 3);
  ASSERT_OK(cc_tlock_release(x.l));
  ASSERT_OK(cc_thread_join(t, NULL));
  ASSERT_OK(cc_tcond_free(x.c));
  ASSERT_OK(cc_tlock_free(x.l));
}

TEST(condition_timeout_and_eperm) {
  cc_tlock_t *l;
  cc_tcond_t *c;
  ASSERT_OK(cc_tlock_new(&l, CC_TLOCK_RECURSIVE));
  ASSERT_OK(cc_tcond_new(&c));
  ASSERT_ERR(cc_tcond_wait(c, l, CC_FOREVER), -EPERM);
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER));
  ASSERT_OK(cc_tlock_acquire(l, CC_FOREVER)); /* depth 2 */
  ASSERT_ERR(cc_tcond_wait(c, l, cc_deadline_in(20)), -ETIMEDOUT);
  /* Still held at depth 2. */
  ASSERT_OK(cc_tlock_release(l));
  ASSERT_TRUE(cc_tlock_locked(l));
  ASSERT_OK(cc_tlock_release(l));
  ASSERT_FALSE(cc_tlock_locked(l));
  ASSERT_OK(cc_tcond_free(c));
  ASSERT_OK(cc_tlock_free(l));
}

/* ---- Barrier -------------------------------------------------------------- */

typedef struct {
  cc_barrier_t *b;
  atomic_int seen[4];
} bar_ctx;

static intptr_t barrier_worker(void *arg) {
  bar_ctx *c = arg;
  int r = 0;
  for (int round = 0; round < 20; round++) {
    r = cc_barrier_wait(c->b, cc_deadline_in(10000));
    if (r < 0)
      return r;
    atomic_fetch_add(&c->seen[r], 1);
  }
  return 0;
}

TEST(barrier_rounds) {
  bar_ctx c = {0};
  ASSERT_OK(cc_barrier_new(&c.b, 4));
  cc_thread_t *t[4];
  for (int i = 0; i < 4; i++)
    ASSERT_OK(cc_thread_start(&t[i], barrier_worker, &c, NULL));
  for (int i = 0; i < 4; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(t[i], &r));
    ASSERT_EQ(r, 0);
  }
  for (int i = 0; i < 4; i++) /* every index handed out once per round */
    ASSERT_EQ(atomic_load(&c.seen[i]), 20);
  ASSERT_EQ(cc_barrier_parties(c.b), 4);
  ASSERT_OK(cc_barrier_free(c.b));
  ASSERT_ERR(cc_barrier_new(&c.b, 0), -EINVAL);
}

static intptr_t barrier_wait_forever(void *arg) {
  return cc_barrier_wait(arg, CC_FOREVER);
}

TEST(barrier_timeout_breaks_it) {
  cc_barrier_t *b;
  ASSERT_OK(cc_barrier_new(&b, 3));
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, barrier_wait_forever, b, NULL));
  while (cc_barrier_waiting(b) < 1)
    usleep(1000);
  ASSERT_ERR(cc_barrier_wait(b, cc_deadline_in(20)), -ETIMEDOUT);
  intptr_t r;
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, -EPIPE);
  ASSERT_TRUE(cc_barrier_broken(b));
  ASSERT_ERR(cc_barrier_wait(b, CC_FOREVER), -EPIPE);
  cc_barrier_reset(b);
  ASSERT_FALSE(cc_barrier_broken(b));
  ASSERT_OK(cc_thread_start(&t, barrier_wait_forever, b, NULL));
  while (cc_barrier_waiting(b) < 1)
    usleep(1000);
  cc_barrier_abort(b);
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, -EPIPE);
  ASSERT_OK(cc_barrier_free(b));
}

/* ---- Queue ---------------------------------------------------------------- */

#define QP 4
#define QC 4
#define QN 5000

typedef struct {
  cc_tqueue_t *q;
  int id;
  atomic_long *sum;
  atomic_int *count;
} q_ctx;

static intptr_t q_producer(void *arg) {
  q_ctx *c = arg;
  for (intptr_t i = 1; i <= QN; i++)
    if (cc_tqueue_put(c->q, (void *)(i * QP + c->id), CC_FOREVER) != 0)
      return -1;
  return 0;
}

static intptr_t q_consumer(void *arg) {
  q_ctx *c = arg;
  void *item;
  int r;
  intptr_t last[QP] = {0};
  while ((r = cc_tqueue_get(c->q, &item, CC_FOREVER)) == 0) {
    intptr_t v = (intptr_t)item;
    /* FIFO per producer: each consumer sees a producer's items in order. */
    if (v / QP <= last[v % QP])
      return -2;
    last[v % QP] = v / QP;
    atomic_fetch_add(c->sum, v / QP);
    atomic_fetch_add(c->count, 1);
  }
  return r == -CC_ECLOSED ? 0 : r;
}

static void queue_mpmc(size_t capacity) {
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, capacity));
  atomic_long sum = 0;
  atomic_int count = 0;
  q_ctx pc[QP], cc[QC];
  cc_thread_t *pt[QP], *ct[QC];
  for (int i = 0; i < QC; i++) {
    cc[i] = (q_ctx){q, i, &sum, &count};
    ASSERT_OK(cc_thread_start(&ct[i], q_consumer, &cc[i], NULL));
  }
  for (int i = 0; i < QP; i++) {
    pc[i] = (q_ctx){q, i, &sum, &count};
    ASSERT_OK(cc_thread_start(&pt[i], q_producer, &pc[i], NULL));
  }
  for (int i = 0; i < QP; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(pt[i], &r));
    ASSERT_EQ(r, 0);
  }
  cc_tqueue_close(q);
  for (int i = 0; i < QC; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(ct[i], &r));
    ASSERT_EQ(r, 0);
  }
  ASSERT_EQ(atomic_load(&count), QP * QN);
  ASSERT_EQ(atomic_load(&sum), (long)QP * QN * (QN + 1) / 2);
  ASSERT_EQ(cc_tqueue_size(q), 0);
  ASSERT_OK(cc_tqueue_free(q));
}

TEST(queue_many_producers_consumers_bounded) {
  queue_mpmc(8);
}

TEST(queue_many_producers_consumers_unbounded) {
  queue_mpmc(0);
}

static intptr_t q_put_blocking(void *arg) {
  return cc_tqueue_put(arg, (void *)7, CC_FOREVER);
}

TEST(queue_timeouts_close_and_try) {
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, 1));
  void *item;
  ASSERT_ERR(cc_tqueue_try_get(q, &item), -EAGAIN);
  ASSERT_ERR(cc_tqueue_get(q, &item, cc_deadline_in(20)), -ETIMEDOUT);
  ASSERT_OK(cc_tqueue_try_put(q, (void *)1));
  ASSERT_ERR(cc_tqueue_try_put(q, (void *)2), -EAGAIN);
  ASSERT_ERR(cc_tqueue_put(q, (void *)2, cc_deadline_in(20)), -ETIMEDOUT);
  ASSERT_EQ(cc_tqueue_capacity(q), 1);
  /* A putter blocked on a full queue gets ECLOSED when it closes. */
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, q_put_blocking, q, NULL));
  usleep(20000);
  cc_tqueue_close(q);
  intptr_t r;
  ASSERT_OK(cc_thread_join(t, &r));
  ASSERT_EQ(r, -CC_ECLOSED);
  ASSERT_ERR(cc_tqueue_put(q, (void *)3, CC_FOREVER), -CC_ECLOSED);
  /* Remaining items are still delivered after close. */
  ASSERT_OK(cc_tqueue_get(q, &item, CC_FOREVER));
  ASSERT_EQ((intptr_t)item, 1);
  ASSERT_ERR(cc_tqueue_get(q, &item, CC_FOREVER), -CC_ECLOSED);
  ASSERT_ERR(cc_tqueue_try_get(q, &item), -CC_ECLOSED);
  ASSERT_OK(cc_tqueue_free(q));
}

static intptr_t q_worker_task_done(void *arg) {
  void *item;
  int n = 0;
  while (cc_tqueue_get(arg, &item, CC_FOREVER) == 0) {
    usleep(200);
    n++;
    if (cc_tqueue_task_done(arg) != 0)
      return -1;
  }
  return n;
}

TEST(queue_task_done_and_join) {
  cc_tqueue_t *q;
  ASSERT_OK(cc_tqueue_new(&q, 0));
  ASSERT_OK(cc_tqueue_join(q, CC_FOREVER)); /* nothing put: at once */
  ASSERT_ERR(cc_tqueue_task_done(q), -EINVAL);
  cc_thread_t *t[2];
  for (int i = 0; i < 2; i++)
    ASSERT_OK(cc_thread_start(&t[i], q_worker_task_done, q, NULL));
  for (intptr_t i = 0; i < 100; i++)
    ASSERT_OK(cc_tqueue_put(q, (void *)i, CC_FOREVER));
  ASSERT_OK(cc_tqueue_join(q, cc_deadline_in(10000))); /* all processed */
  ASSERT_EQ(cc_tqueue_size(q), 0);
  ASSERT_OK(cc_tqueue_put(q, (void *)1, CC_FOREVER));
  cc_tqueue_close(q);
  intptr_t a, b;
  ASSERT_OK(cc_thread_join(t[0], &a));
  ASSERT_OK(cc_thread_join(t[1], &b));
  ASSERT_EQ(a + b, 101);
  ASSERT_OK(cc_tqueue_join(q, cc_deadline_in(1000)));
  ASSERT_OK(cc_tqueue_free(q));
}

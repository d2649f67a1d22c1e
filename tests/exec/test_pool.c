/* Futures and the thread-pool executor, driven from plain threads (no
 * loop), so that ThreadSanitizer checks them. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"

static intptr_t plus_one(void *arg) {
  return (intptr_t)arg + 1;
}

static intptr_t fail_on_37(void *arg) {
  return (intptr_t)arg == 37 ? -EDOM : (intptr_t)arg * 2;
}

static intptr_t wait_event(void *arg) {
  return cc_tevent_wait(arg, CC_FOREVER) == 0 ? 1 : -1;
}

static intptr_t sleep_ms(void *arg) {
  usleep((useconds_t)(intptr_t)arg * 1000);
  return (intptr_t)arg;
}

/* ---- futures -------------------------------------------------------------- */

static atomic_int dtor_calls;
static void count_dtor(void *p) {
  free(p);
  atomic_fetch_add(&dtor_calls, 1);
}

TEST(future_states_and_results) {
  cc_future_t *f;
  ASSERT_OK(cc_future_new(&f));
  ASSERT_EQ(cc_future_state(f), CC_FUTURE_PENDING);
  ASSERT_ERR(cc_future_error(f), -EAGAIN);
  ASSERT_ERR(cc_future_wait(f, cc_deadline_in(10)), -ETIMEDOUT);
  ASSERT_OK(cc_future_set_running(f));
  ASSERT_ERR(cc_future_set_running(f), -EINVAL);
  ASSERT_ERR(cc_future_cancel(f), -EBUSY);
  ASSERT_OK(cc_future_set_result(f, 99));
  ASSERT_ERR(cc_future_set_result(f, 1), -EINVAL);
  ASSERT_ERR(cc_future_set_error(f, -EIO), -EINVAL);
  ASSERT_ERR(cc_future_cancel(f), -EINVAL);
  ASSERT_TRUE(cc_future_done(f));
  intptr_t v = 0;
  ASSERT_OK(cc_future_result(f, CC_FOREVER, &v));
  ASSERT_EQ(v, 99);
  cc_future_unref(f);

  ASSERT_OK(cc_future_new(&f));
  ASSERT_OK(cc_future_set_error(f, -EIO));
  ASSERT_ERR(cc_future_result(f, CC_FOREVER, &v), -EIO);
  ASSERT_ERR(cc_future_error(f), -EIO);
  cc_future_unref(f);

  ASSERT_OK(cc_future_new(&f));
  ASSERT_OK(cc_future_cancel(f));
  ASSERT_OK(cc_future_cancel(f)); /* twice: 0 */
  ASSERT_TRUE(cc_future_cancelled(f));
  ASSERT_ERR(cc_future_set_running(f), -ECANCELED);
  ASSERT_ERR(cc_future_result(f, CC_FOREVER, &v), -ECANCELED);
  cc_future_unref(f);

  ASSERT_OK(cc_future_new(&f));
  cc_future_ref(f);
  ASSERT_OK(cc_future_set_result_owned(f, malloc(16), count_dtor));
  cc_future_unref(f);
  ASSERT_EQ(atomic_load(&dtor_calls), 0);
  cc_future_unref(f);
  ASSERT_EQ(atomic_load(&dtor_calls), 1);
  cc_future_unref(NULL);
}

static atomic_int cb_calls;
static void count_cb(cc_future_t *f, void *arg) {
  ASSERT_TRUE(cc_future_done(f));
  atomic_fetch_add(&cb_calls, (int)(intptr_t)arg);
}

static intptr_t complete_later(void *arg) {
  usleep(20000);
  return cc_future_set_result(arg, 5);
}

TEST(future_callbacks_and_cross_thread_wait) {
  cc_future_t *f;
  ASSERT_OK(cc_future_new(&f));
  for (int i = 0; i < 3; i++) /* inline slot, then the list */
    ASSERT_OK(cc_future_add_done_callback(f, count_cb, (void *)1));
  cc_thread_t *t;
  ASSERT_OK(cc_thread_start(&t, complete_later, f, NULL));
  intptr_t v = 0;
  ASSERT_OK(cc_future_result(f, cc_deadline_in(5000), &v));
  ASSERT_EQ(v, 5);
  ASSERT_OK(cc_thread_join(t, &v));
  ASSERT_EQ(v, 0);
  ASSERT_EQ(atomic_load(&cb_calls), 3);
  /* Added after completion: runs at once on this thread. */
  ASSERT_OK(cc_future_add_done_callback(f, count_cb, (void *)10));
  ASSERT_EQ(atomic_load(&cb_calls), 13);
  cc_future_unref(f);
}

/* ---- submit, results, errors ----------------------------------------------- */

TEST(executor_submit_collect_in_order) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 2};
  ASSERT_OK(cc_executor_new(&ex, &o));
  ASSERT_EQ(cc_executor_workers(ex), 0); /* lazily started */
  enum { N = 5000 };
  static cc_future_t *fs[N];
  for (intptr_t i = 0; i < N; i++)
    ASSERT_OK(cc_executor_submit(ex, plus_one, (void *)i, &fs[i]));
  ASSERT_LE(cc_executor_workers(ex), 2);
  for (intptr_t i = 0; i < N; i++) {
    intptr_t v;
    ASSERT_OK(cc_future_result(fs[i], CC_FOREVER, &v));
    ASSERT_EQ(v, i + 1);
    cc_future_unref(fs[i]);
  }
  ASSERT_OK(cc_executor_submit(ex, plus_one, NULL, NULL)); /* fire and forget */
  ASSERT_OK(cc_executor_free(ex));
}

TEST(executor_errors_and_call) {
  cc_executor_t *ex;
  ASSERT_OK(cc_executor_new(&ex, NULL));
  ASSERT_GE(cc_executor_max_workers(ex), 1);
  cc_future_t *f;
  ASSERT_OK(cc_executor_submit(ex, fail_on_37, (void *)37, &f));
  ASSERT_ERR(cc_future_result(f, CC_FOREVER, NULL), -EDOM);
  cc_future_unref(f);
  intptr_t v;
  ASSERT_OK(cc_executor_call(ex, fail_on_37, (void *)4, &v));
  ASSERT_EQ(v, 8);
  ASSERT_ERR(cc_executor_call(ex, fail_on_37, (void *)37, &v), -EDOM);
  ASSERT_ERR(cc_executor_submit(ex, NULL, NULL, &f), -EINVAL);
  ASSERT_NULL(f);
  ASSERT_OK(cc_executor_shutdown(ex, true, false));
  ASSERT_ERR(cc_executor_submit(ex, plus_one, NULL, &f), -CC_ECLOSED);
  ASSERT_NULL(f);
  ASSERT_ERR(cc_executor_call(ex, plus_one, NULL, &v), -CC_ECLOSED);
  ASSERT_EQ(cc_executor_workers(ex), 0);
  ASSERT_OK(cc_executor_free(ex));
}

/* ---- map ------------------------------------------------------------------- */

TEST(executor_map_order_and_failing_index) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 3};
  ASSERT_OK(cc_executor_new(&ex, &o));
  enum { N = 1000 };
  static void *args[N];
  static intptr_t res[N];
  for (intptr_t i = 0; i < N; i++)
    args[i] = (void *)(i + 100);
  ASSERT_OK(cc_executor_map(ex, plus_one, args, N, res, NULL, 0, CC_FOREVER));
  for (int i = 0; i < N; i++)
    ASSERT_EQ(res[i], i + 101);
  for (intptr_t i = 0; i < N; i++)
    args[i] = (void *)i;
  size_t bad = 0;
  /* Direct path (no deadline) and private-copy path (deadline), chunk 7. */
  ASSERT_ERR(cc_executor_map(ex, fail_on_37, args, N, res, &bad, 7, CC_FOREVER), -EDOM);
  ASSERT_EQ(bad, 37);
  ASSERT_EQ(res[36], 72);
  ASSERT_EQ(res[37], -EDOM);
  ASSERT_EQ(res[N - 1], 2 * (N - 1));
  bad = 0;
  ASSERT_ERR(
      cc_executor_map(ex, fail_on_37, args, N, res, &bad, 0, cc_deadline_in(10000)),
      -EDOM);
  ASSERT_EQ(bad, 37);
  ASSERT_EQ(res[38], 76);
  ASSERT_OK(cc_executor_map(ex, plus_one, args, 0, res, NULL, 0, CC_FOREVER));
  ASSERT_OK(cc_executor_map(ex, plus_one, args, 10, NULL, NULL, 0, CC_FOREVER));
  ASSERT_OK(cc_executor_free(ex));
}

TEST(executor_map_timeout) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1, .batch = 1};
  ASSERT_OK(cc_executor_new(&ex, &o));
  void *args[20];
  intptr_t res[20];
  for (int i = 0; i < 20; i++) {
    args[i] = (void *)(intptr_t)20; /* 20 ms each: 400 ms in all */
    res[i] = -1234;
  }
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_executor_map(ex, sleep_ms, args, 20, res, NULL, 1, cc_deadline_in(50)),
             -ETIMEDOUT);
  ASSERT_LT(cc_now() - t0, 300);
  ASSERT_EQ(res[0], -1234);        /* untouched on an early return */
  ASSERT_OK(cc_executor_free(ex)); /* the not-yet-started chunks were cancelled */
  ASSERT_LT(cc_now() - t0, 300);
}

/* ---- wait, as_completed ------------------------------------------------------ */

TEST(futures_wait_modes) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 3, .batch = 1};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_future_t *fs[3];
  ASSERT_OK(cc_executor_submit(ex, wait_event, e, &fs[0]));
  ASSERT_OK(cc_executor_submit(ex, plus_one, (void *)1, &fs[1]));
  ASSERT_OK(cc_executor_submit(ex, fail_on_37, (void *)37, &fs[2]));
  int n = cc_futures_wait(fs, 3, CC_FIRST_COMPLETED, cc_deadline_in(5000));
  ASSERT_GE(n, 1);
  n = cc_futures_wait(fs, 3, CC_FIRST_EXCEPTION, cc_deadline_in(5000));
  ASSERT_GE(n, 1);
  ASSERT_TRUE(cc_future_done(fs[2]));
  ASSERT_ERR(cc_futures_wait(fs, 3, CC_ALL_COMPLETED, cc_deadline_in(30)), -ETIMEDOUT);
  ASSERT_ERR(cc_futures_wait(fs, 1, CC_FIRST_COMPLETED, cc_deadline_in(30)), -ETIMEDOUT);
  ASSERT_FALSE(cc_future_done(fs[0]));
  cc_tevent_set(e);
  ASSERT_EQ(cc_futures_wait(fs, 3, CC_ALL_COMPLETED, CC_FOREVER), 3);
  ASSERT_EQ(cc_futures_wait(fs, 3, CC_FIRST_EXCEPTION, CC_FOREVER), 3);
  ASSERT_ERR(cc_futures_wait(fs, 3, (cc_wait_mode_t)42, CC_FOREVER), -EINVAL);
  for (int i = 0; i < 3; i++)
    cc_future_unref(fs[i]);
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_OK(cc_tevent_free(e));
}

/* Futures come out of as_completed in the order they finish: each job
 * waits for its own gate, the gates are opened one at a time in a chosen
 * order, and each opening is matched by the next future out (no timing). */
typedef struct gated {
  cc_tevent_t *gate;
  intptr_t id;
} gated_t;

static intptr_t wait_gate(void *arg) {
  gated_t *g = arg;
  int r = cc_tevent_wait(g->gate, CC_FOREVER);
  return r < 0 ? r : g->id;
}

TEST(as_completed_order) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 4, .batch = 1};
  ASSERT_OK(cc_executor_new(&ex, &o));
  gated_t g[4];
  cc_future_t *fs[4];
  for (int i = 0; i < 4; i++) {
    ASSERT_OK(cc_tevent_new(&g[i].gate));
    g[i].id = i;
    ASSERT_OK(cc_executor_submit(ex, wait_gate, &g[i], &fs[i]));
  }
  cc_as_completed_t *it;
  ASSERT_OK(cc_as_completed_new(&it, fs, 4));
  for (int i = 0; i < 4; i++)
    cc_future_unref(fs[i]); /* the iterator holds its own references */
  const int order[4] = {3, 1, 2, 0};
  for (int k = 0; k < 4; k++) {
    cc_future_t *f = NULL;
    /* Nothing is finished before its gate opens. */
    ASSERT_EQ(cc_as_completed_next(it, cc_deadline_in(20), &f), -ETIMEDOUT);
    cc_tevent_set(g[order[k]].gate);
    ASSERT_OK(cc_as_completed_next(it, cc_deadline_in(10000), &f));
    ASSERT_NOT_NULL(f);
    intptr_t id;
    ASSERT_OK(cc_future_result(f, CC_FOREVER, &id));
    ASSERT_EQ(id, order[k]);
  }
  cc_future_t *f = (cc_future_t *)1;
  ASSERT_OK(cc_as_completed_next(it, CC_FOREVER, &f));
  ASSERT_NULL(f);
  cc_as_completed_free(it);
  ASSERT_OK(cc_executor_free(ex));
  for (int i = 0; i < 4; i++)
    ASSERT_OK(cc_tevent_free(g[i].gate));
}

TEST(as_completed_timeout) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_future_t *f;
  ASSERT_OK(cc_executor_submit(ex, wait_event, e, &f));
  cc_as_completed_t *it;
  ASSERT_OK(cc_as_completed_new(&it, &f, 1));
  cc_future_t *g;
  ASSERT_ERR(cc_as_completed_next(it, cc_deadline_in(20), &g), -ETIMEDOUT);
  ASSERT_NULL(g);
  cc_as_completed_free(it); /* with the future still running */
  cc_tevent_set(e);
  ASSERT_OK(cc_future_wait(f, CC_FOREVER));
  cc_future_unref(f);
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_OK(cc_tevent_free(e));
}

/* ---- faults ------------------------------------------------------------------- */

TEST(shutdown_nowait_with_a_task_that_never_finishes) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_future_t *stuck;
  ASSERT_OK(cc_executor_submit(ex, wait_event, e, &stuck));
  while (cc_future_state(stuck) != CC_FUTURE_RUNNING)
    usleep(1000);
  int64_t t0 = cc_now();
  ASSERT_OK(cc_executor_shutdown(ex, false, false));
  ASSERT_OK(cc_executor_free(ex)); /* shut down without wait: no wait here */
  ASSERT_LT(cc_now() - t0, 100);
  ASSERT_FALSE(cc_future_done(stuck));
  /* Release it so that the process exits cleanly; the future still works
   * after its executor is gone. */
  cc_tevent_set(e);
  intptr_t v;
  ASSERT_OK(cc_future_result(stuck, cc_deadline_in(5000), &v));
  ASSERT_EQ(v, 1);
  cc_future_unref(stuck);
  usleep(20000); /* let the worker leave the event */
  ASSERT_OK(cc_tevent_free(e));
}

static atomic_int ran;
static intptr_t count_run(void *arg) {
  atomic_fetch_add(&ran, 1);
  return 0;
}

TEST(cancelled_pending_futures_never_run) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1, .batch = 1};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_tevent_t *e;
  ASSERT_OK(cc_tevent_new(&e));
  cc_future_t *blocker, *fs[10];
  ASSERT_OK(cc_executor_submit(ex, wait_event, e, &blocker));
  while (cc_future_state(blocker) != CC_FUTURE_RUNNING)
    usleep(1000);
  for (int i = 0; i < 10; i++)
    ASSERT_OK(cc_executor_submit(ex, count_run, NULL, &fs[i]));
  ASSERT_EQ(cc_executor_pending(ex), 10);
  ASSERT_OK(cc_future_cancel(fs[0]));               /* cancelled by hand */
  ASSERT_OK(cc_executor_shutdown(ex, false, true)); /* cancel_futures */
  ASSERT_EQ(cc_executor_pending(ex), 0);
  for (int i = 0; i < 10; i++)
    ASSERT_TRUE(cc_future_cancelled(fs[i]));
  ASSERT_ERR(cc_future_cancel(blocker), -EBUSY);
  cc_tevent_set(e);
  ASSERT_OK(cc_executor_shutdown(ex, true, false));
  ASSERT_EQ(atomic_load(&ran), 0);
  ASSERT_OK(cc_future_result(blocker, CC_FOREVER, NULL));
  cc_future_unref(blocker);
  for (int i = 0; i < 10; i++)
    cc_future_unref(fs[i]);
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_OK(cc_tevent_free(e));
}

typedef struct {
  cc_executor_t *ex;
  atomic_int left;
  cc_tevent_t *done;
} chain_ctx;

static chain_ctx chain;
static void chain_cb(cc_future_t *f, void *arg);

static intptr_t chain_task(void *arg) {
  return (intptr_t)arg;
}

static void chain_cb(cc_future_t *f, void *arg) {
  (void)arg;
  (void)f;
  if (atomic_fetch_sub(&chain.left, 1) == 1) {
    cc_tevent_set(chain.done);
    return;
  }
  cc_future_t *g;
  /* Runs on a worker thread: submitting from here must not deadlock. */
  if (cc_executor_submit(chain.ex, chain_task, NULL, &g) == 0) {
    cc_future_add_done_callback(g, chain_cb, NULL);
    cc_future_unref(g);
  }
}

/* shutdown(cancel_futures) while the only worker has claimed four tasks at
 * once (batch 4) and runs the first: the three it claimed but has not
 * started are cancelled by the shutdown (their waiters wake) and never run.
 * Deterministic: the four are queued while the worker is held in a gate
 * task, so it claims them in one trip when the gate opens. Before the fix
 * the three stayed pending after the shutdown returned and ran after it. */
static atomic_int claimed_ran;
static intptr_t count_claimed(void *arg) {
  (void)arg;
  atomic_fetch_add(&claimed_ran, 1);
  return 0;
}

TEST(shutdown_cancels_tasks_a_worker_claimed_but_not_started) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1, .batch = 4};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_tevent_t *gate, *hold;
  ASSERT_OK(cc_tevent_new(&gate));
  ASSERT_OK(cc_tevent_new(&hold));
  cc_future_t *g, *a, *fs[3];
  ASSERT_OK(cc_executor_submit(ex, wait_event, gate, &g));
  while (cc_future_state(g) != CC_FUTURE_RUNNING)
    usleep(1000);
  ASSERT_OK(cc_executor_submit(ex, wait_event, hold, &a));
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_executor_submit(ex, count_claimed, NULL, &fs[i]));
  ASSERT_EQ(cc_executor_pending(ex), 4);
  cc_tevent_set(gate);
  while (cc_future_state(a) != CC_FUTURE_RUNNING)
    usleep(1000);
  ASSERT_EQ(cc_executor_pending(ex), 0); /* all four claimed at once */
  ASSERT_OK(cc_executor_shutdown(ex, false, true));
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(cc_future_cancelled(fs[i]));
    ASSERT_OK(cc_future_wait(fs[i], cc_now())); /* done: waiters wake */
    ASSERT_ERR(cc_future_result(fs[i], CC_FOREVER, NULL), -ECANCELED);
  }
  ASSERT_ERR(cc_future_cancel(a), -EBUSY); /* the running one finishes */
  cc_tevent_set(hold);
  ASSERT_OK(cc_executor_shutdown(ex, true, false));
  ASSERT_EQ(atomic_load(&claimed_ran), 0);
  intptr_t v = 0;
  ASSERT_OK(cc_future_result(a, CC_FOREVER, &v));
  ASSERT_EQ(v, 1);
  cc_future_unref(g);
  cc_future_unref(a);
  for (int i = 0; i < 3; i++)
    cc_future_unref(fs[i]);
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_OK(cc_tevent_free(gate));
  ASSERT_OK(cc_tevent_free(hold));
}

TEST(done_callback_submits_more_work) {
  cc_executor_opts_t o = {.max_workers = 2};
  ASSERT_OK(cc_executor_new(&chain.ex, &o));
  ASSERT_OK(cc_tevent_new(&chain.done));
  atomic_store(&chain.left, 200);
  cc_future_t *f;
  ASSERT_OK(cc_executor_submit(chain.ex, chain_task, NULL, &f));
  ASSERT_OK(cc_future_add_done_callback(f, chain_cb, NULL));
  cc_future_unref(f);
  ASSERT_OK(cc_tevent_wait(chain.done, cc_deadline_in(10000)));
  ASSERT_EQ(atomic_load(&chain.left), 0);
  ASSERT_OK(cc_executor_free(chain.ex));
  ASSERT_OK(cc_tevent_free(chain.done));
}

TEST(free_executor_with_futures_still_referenced) {
  cc_executor_t *ex;
  ASSERT_OK(cc_executor_new(&ex, NULL));
  cc_future_t *fs[100];
  for (intptr_t i = 0; i < 100; i++)
    ASSERT_OK(cc_executor_submit(ex, plus_one, (void *)i, &fs[i]));
  ASSERT_OK(cc_executor_free(ex)); /* waits for the queued work */
  for (intptr_t i = 0; i < 100; i++) {
    intptr_t v;
    ASSERT_OK(cc_future_result(fs[i], 0, &v));
    ASSERT_EQ(v, i + 1);
    cc_future_unref(fs[i]);
  }
}

/* Every submitted item ends with a result, an error or a cancellation:
 * several threads submit while another shuts the pool down mid-way. */
typedef struct {
  cc_executor_t *ex;
  cc_future_t **fs;
  int n, accepted;
} sub_ctx;

static intptr_t mixed_task(void *arg) {
  intptr_t i = (intptr_t)arg;
  return i % 5 == 0 ? -EIO : i;
}

static atomic_int accepted_total;

static intptr_t submitter(void *arg) {
  sub_ctx *c = arg;
  for (int i = 0; i < c->n; i++) {
    int r = cc_executor_submit(c->ex, mixed_task, (void *)(intptr_t)i, &c->fs[i]);
    if (r == -CC_ECLOSED)
      break;
    if (r != 0)
      return r;
    c->accepted++;
    atomic_fetch_add(&accepted_total, 1);
    if (i % 7 == 0)
      cc_future_cancel(c->fs[i]);
  }
  return 0;
}

TEST(no_lost_results) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 3};
  ASSERT_OK(cc_executor_new(&ex, &o));
  enum { T = 4, N = 3000 };
  sub_ctx c[T];
  cc_thread_t *t[T];
  for (int i = 0; i < T; i++) {
    c[i] = (sub_ctx){ex, calloc(N, sizeof(cc_future_t *)), N, 0};
    ASSERT_OK(cc_thread_start(&t[i], submitter, &c[i], NULL));
  }
  /* Shut down mid-way: once some work is in, while more is coming. */
  while (atomic_load(&accepted_total) < 500)
    usleep(100);
  ASSERT_OK(cc_executor_shutdown(ex, true, true));
  int results = 0, errors = 0, cancelled = 0, accepted = 0;
  for (int i = 0; i < T; i++) {
    intptr_t r;
    ASSERT_OK(cc_thread_join(t[i], &r));
    ASSERT_EQ(r, 0);
    accepted += c[i].accepted;
    for (int k = 0; k < c[i].accepted; k++) {
      cc_future_t *f = c[i].fs[k];
      intptr_t v;
      int e = cc_future_result(f, cc_deadline_in(5000), &v);
      if (e == 0) {
        ASSERT_EQ(v, k);
        results++;
      } else if (e == -ECANCELED) {
        cancelled++;
      } else {
        ASSERT_EQ(e, -EIO);
        ASSERT_EQ(k % 5, 0);
        errors++;
      }
      cc_future_unref(f);
    }
    free(c[i].fs);
  }
  ASSERT_GT(accepted, 0);
  ASSERT_EQ(results + errors + cancelled, accepted);
  fprintf(stderr, "accepted %d: %d results, %d errors, %d cancelled\n", accepted, results,
          errors, cancelled);
  ASSERT_OK(cc_executor_free(ex));
}

/* ---- workers: initializer, names, signals ------------------------------------- */

static atomic_int inits;
static int init_ok(void *arg) {
  atomic_fetch_add(&inits, 1);
  return arg ? -EACCES : 0;
}

static intptr_t worker_props(void *arg) {
  char *buf = arg;
  sigset_t cur;
  pthread_sigmask(SIG_SETMASK, NULL, &cur);
  snprintf(buf, 32, "%s", cc_thread_name(NULL));
  return sigismember(&cur, SIGINT) && sigismember(&cur, SIGTERM);
}

TEST(worker_initializer_names_and_signals) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {
      .max_workers = 2, .initializer = init_ok, .name_prefix = "crawl"};
  ASSERT_OK(cc_executor_new(&ex, &o));
  char name[32];
  intptr_t blocked;
  ASSERT_OK(cc_executor_call(ex, worker_props, name, &blocked));
  ASSERT_EQ(blocked, 1);
  ASSERT_EQ(strncmp(name, "crawl-", 6), 0);
  ASSERT_OK(cc_executor_free(ex));
  ASSERT_GE(atomic_load(&inits), 1);
}

TEST(failing_initializer_breaks_the_executor) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 1, .initializer = init_ok, .initargs = "x"};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_future_t *f;
  ASSERT_OK(cc_executor_submit(ex, plus_one, NULL, &f));
  ASSERT_ERR(cc_future_result(f, cc_deadline_in(5000), NULL), -EACCES);
  cc_future_unref(f);
  ASSERT_ERR(cc_executor_submit(ex, plus_one, NULL, &f), -EACCES);
  ASSERT_OK(cc_executor_free(ex));
}

TEST(default_executor_and_to_thread_outside_a_coroutine) {
  cc_executor_t *a, *b;
  ASSERT_OK(cc_executor_default(&a));
  ASSERT_OK(cc_executor_default(&b));
  ASSERT_EQ((uintptr_t)a, (uintptr_t)b);
  ASSERT_GE(cc_executor_max_workers(a), 5);
  ASSERT_ERR(cc_executor_free(a), -EINVAL);
  intptr_t v;
  ASSERT_OK(cc_executor_call(a, plus_one, (void *)1, &v));
  ASSERT_EQ(v, 2);
  ASSERT_OK(cc_to_thread(plus_one, (void *)2, &v)); /* runs right here */
  ASSERT_EQ(v, 3);
  ASSERT_ERR(cc_to_thread(fail_on_37, (void *)37, &v), -EDOM);
}

/* A forked child gets fresh workers for an executor (and the default one)
 * whose threads existed only in the parent. */
TEST(executor_works_in_a_forked_child) {
#if defined(__SANITIZE_THREAD__)
  SKIP("TSan does not support starting threads after a multi-threaded fork");
#endif
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 2};
  ASSERT_OK(cc_executor_new(&ex, &o));
  intptr_t v;
  ASSERT_OK(cc_executor_call(ex, plus_one, (void *)1, &v)); /* workers started */
  cc_executor_t *dflt;
  ASSERT_OK(cc_executor_default(&dflt));
  ASSERT_OK(cc_executor_call(dflt, plus_one, (void *)1, &v));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    intptr_t a = 0, b = 0;
    int ok = cc_executor_call(ex, plus_one, (void *)41, &a) == 0 && a == 42 &&
             cc_executor_call(dflt, plus_one, (void *)9, &b) == 0 && b == 10;
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
  ASSERT_OK(cc_executor_free(ex));
}

/* Claiming several tasks at once must not serialise long tasks on one
 * worker while another is free: 4 x 100 ms on 2 workers take ~200 ms. */
TEST(long_tasks_spread_over_the_workers) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 2};
  ASSERT_OK(cc_executor_new(&ex, &o));
  cc_future_t *fs[4];
  int64_t t0 = cc_now();
  for (int i = 0; i < 4; i++)
    ASSERT_OK(cc_executor_submit(ex, sleep_ms, (void *)(intptr_t)100, &fs[i]));
  ASSERT_EQ(cc_futures_wait(fs, 4, CC_ALL_COMPLETED, cc_deadline_in(5000)), 4);
  int64_t ms = cc_now() - t0;
  ASSERT_LT(ms, 280); /* 300 if one worker had taken three */
  for (int i = 0; i < 4; i++)
    cc_future_unref(fs[i]);
  ASSERT_OK(cc_executor_free(ex));
}

/* Tasks: spawn, join, cancel, gather, sleep, yield, deadlines. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static intptr_t ret_arg(void *a) {
  return (intptr_t)a;
}

static intptr_t sleep_ms(void *a) {
  int r = cc_sleep((int64_t)(intptr_t)a);
  return r < 0 ? r : (intptr_t)a;
}

static intptr_t fail_with(void *a) {
  return -(intptr_t)a;
}

/* ---- spawn / join ----------------------------------------------------------- */

static intptr_t t_spawn_join(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, ret_arg, (void *)7));
  ASSERT_FALSE(cc_task_done(t));
  ASSERT_GT(cc_task_id(t), 0);
  ASSERT_STR_EQ(cc_task_name(t), "ret_arg");
  intptr_t v = 0;
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 7);
  return 1;
}
TEST(spawn_join) {
  ASSERT_EQ(cc_test_run(t_spawn_join, NULL), 1);
}

static intptr_t t_join_error(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, fail_with, (void *)(intptr_t)EIO));
  intptr_t v = 123;
  ASSERT_ERR(cc_join(t, &v), -EIO);
  ASSERT_EQ(v, 123); /* untouched on error */
  return 0;
}
TEST(join_returns_task_error) {
  cc_test_run(t_join_error, NULL);
}

static cc_task_t *shared_target;
static intptr_t join_shared(void *a) {
  return cc_join(shared_target, NULL);
}
static intptr_t t_double_join(void *unused) {
  cc_task_t *j;
  ASSERT_OK(cc_spawn(&shared_target, sleep_ms, (void *)30));
  ASSERT_OK(cc_spawn(&j, join_shared, NULL));
  cc_yield(); /* j is now joining shared_target */
  ASSERT_ERR(cc_join(shared_target, NULL), -EINVAL);
  ASSERT_OK(cc_join(j, NULL));
  return 0;
}
TEST(double_join_is_error) {
  cc_test_run(t_double_join, NULL);
}

static intptr_t t_join_self(void *unused) {
  ASSERT_ERR(cc_join(cc_self(), NULL), -EINVAL);
  ASSERT_ERR(cc_join(NULL, NULL), -EINVAL);
  return 0;
}
TEST(join_self_is_error) {
  cc_test_run(t_join_self, NULL);
}

TEST(calls_outside_a_loop) {
  cc_task_t *t;
  ASSERT_ERR(cc_spawn(&t, ret_arg, NULL), -CC_ENOTCORO);
  ASSERT_ERR(cc_sleep(1), -CC_ENOTCORO);
  ASSERT_ERR(cc_yield(), -CC_ENOTCORO);
  ASSERT_NULL(cc_self());
  ASSERT_NULL(cc_loop_current());
  ASSERT_EQ(cc_loop_task_count(), 0);
}

static intptr_t t_nested_run(void *unused) {
  /* cc_run inside a coroutine is refused, not a crash. */
  ASSERT_ERR(cc_run(ret_arg, NULL, NULL), -EBUSY);
  return 0;
}
TEST(run_inside_run_is_error) {
  cc_test_run(t_nested_run, NULL);
}

static intptr_t t_detach(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sleep_ms, (void *)5));
  ASSERT_OK(cc_detach(t));
  ASSERT_EQ(cc_loop_task_count(), 2);
  cc_sleep(30);
  ASSERT_EQ(cc_loop_task_count(), 1);
  cc_spawn_opts_t o = {.detached = true, .name = "fire-and-forget"};
  ASSERT_OK(cc_spawn_opts(NULL, ret_arg, NULL, &o));
  cc_yield();
  ASSERT_EQ(cc_loop_task_count(), 1);
  return 0;
}
TEST(detach) {
  cc_test_run(t_detach, NULL);
}

static intptr_t t_many(void *arg) {
  size_t n = (size_t)(intptr_t)arg;
  cc_task_t **ts = malloc(n * sizeof *ts);
  for (size_t i = 0; i < n; i++)
    ASSERT_OK(cc_spawn(&ts[i], ret_arg, (void *)(intptr_t)i));
  intptr_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    intptr_t v;
    ASSERT_OK(cc_join(ts[i], &v));
    sum += v;
  }
  free(ts);
  ASSERT_EQ(sum, (intptr_t)(n * (n - 1) / 2));
  return 0;
}
TEST(spawn_100k) {
  cc_test_run(t_many, (void *)(intptr_t)(cc_test_tsan() ? 10000 : 100000));
}

/* ---- gather ------------------------------------------------------------------ */

static intptr_t t_gather(void *arg) {
  size_t n = (size_t)(intptr_t)arg;
  cc_task_t **ts = malloc(n * sizeof *ts);
  intptr_t *res = malloc(n * sizeof *res);
  for (size_t i = 0; i < n; i++)
    ASSERT_OK(cc_spawn(&ts[i], ret_arg, (void *)(intptr_t)i));
  ASSERT_OK(cc_gather(ts, n, res));
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(res[i], (intptr_t)i);
  free(ts);
  free(res);
  return 0;
}
TEST(gather_million) {
  cc_test_run(t_gather, (void *)(intptr_t)(cc_test_tsan()        ? 20000
                                           : cc_test_sanitized() ? 200000
                                                                 : 1000000));
}

static intptr_t t_gather_err(void *unused) {
  cc_task_t *ts[4];
  ASSERT_OK(cc_spawn(&ts[0], ret_arg, (void *)1));
  ASSERT_OK(cc_spawn(&ts[1], fail_with, (void *)(intptr_t)EPIPE));
  ASSERT_OK(cc_spawn(&ts[2], sleep_ms, (void *)10));
  ASSERT_OK(cc_spawn(&ts[3], fail_with, (void *)(intptr_t)EIO));
  intptr_t res[4];
  ASSERT_ERR(cc_gather(ts, 4, res), -EPIPE);
  ASSERT_EQ(res[0], 1);
  ASSERT_EQ(res[1], -EPIPE);
  ASSERT_EQ(res[2], 10); /* the others are still joined */
  ASSERT_EQ(res[3], -EIO);
  ASSERT_EQ(cc_loop_task_count(), 1);
  return 0;
}
TEST(gather_reports_first_error) {
  cc_test_run(t_gather_err, NULL);
}

static intptr_t gather_sleepers(void *unused) {
  cc_task_t *ts[3];
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_spawn(&ts[i], sleep_ms, (void *)10000));
  intptr_t res[3];
  int r = cc_gather(ts, 3, res);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(res[i], -ECANCELED);
  return r;
}
static intptr_t t_gather_cancel(void *unused) {
  cc_task_t *g;
  ASSERT_OK(cc_spawn(&g, gather_sleepers, NULL));
  cc_sleep(10);
  cc_cancel(g);
  ASSERT_ERR(cc_join(g, NULL), -ECANCELED);
  ASSERT_EQ(cc_loop_task_count(), 1);
  return 0;
}
TEST(gather_cancelled_cancels_children) {
  int64_t t0 = cc_now();
  cc_test_run(t_gather_cancel, NULL);
  ASSERT_LT(cc_now() - t0, 5000);
}

/* ---- cancellation ------------------------------------------------------------- */

static intptr_t t_cancel_sleeping(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sleep_ms, (void *)10000));
  cc_sleep(5);
  ASSERT_OK(cc_cancel(t));
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  return 0;
}
TEST(cancel_while_sleeping) {
  int64_t t0 = cc_now();
  cc_test_run(t_cancel_sleeping, NULL);
  ASSERT_LT(cc_now() - t0, 2000);
}

static int ran_flag;
static intptr_t set_flag(void *a) {
  ran_flag = 1;
  return 0;
}
static intptr_t t_cancel_unstarted(void *unused) {
  cc_task_t *t;
  ran_flag = 0;
  ASSERT_OK(cc_spawn(&t, set_flag, NULL));
  ASSERT_OK(cc_cancel(t));
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  ASSERT_EQ(ran_flag, 0);
  return 0;
}
TEST(cancel_before_start_never_runs) {
  cc_test_run(t_cancel_unstarted, NULL);
}

static intptr_t cleanup_after_cancel(void *a) {
  int *state = a;
  int r = cc_sleep(10000);
  *state = 1;
  /* Sticky: every later suspending call fails at once. */
  ASSERT_ERR(cc_sleep(1), -ECANCELED);
  ASSERT_ERR(cc_yield(), -ECANCELED);
  ASSERT_TRUE(cc_cancelled());
  *state = 2;
  return r;
}
static intptr_t t_cancel_cleanup(void *unused) {
  int state = 0;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, cleanup_after_cancel, &state));
  cc_yield();
  cc_cancel(t);
  cc_cancel(t); /* idempotent */
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  ASSERT_EQ(state, 2);
  return 0;
}
TEST(cancelled_task_can_clean_up) {
  cc_test_run(t_cancel_cleanup, NULL);
}

static intptr_t join_target(void *a) {
  return cc_join((cc_task_t *)a, NULL);
}
static intptr_t t_cancel_joiner(void *unused) {
  cc_task_t *target, *joiner;
  ASSERT_OK(cc_spawn(&target, sleep_ms, (void *)20));
  ASSERT_OK(cc_spawn(&joiner, join_target, target));
  cc_yield();
  cc_cancel(joiner);
  ASSERT_ERR(cc_join(joiner, NULL), -ECANCELED);
  /* The target survives its joiner's cancellation and is still joinable. */
  intptr_t v;
  ASSERT_OK(cc_join(target, &v));
  ASSERT_EQ(v, 20);
  return 0;
}
TEST(cancel_while_joined) {
  cc_test_run(t_cancel_joiner, NULL);
}

static intptr_t t_cancel_main_children(void *unused) {
  cc_task_t *t;
  /* Left running when main returns: cc_run cancels and reaps it. */
  ASSERT_OK(cc_spawn(&t, sleep_ms, (void *)100000));
  ASSERT_OK(cc_detach(t));
  return 5;
}
TEST(run_cancels_leftover_tasks) {
  int64_t t0 = cc_now();
  ASSERT_EQ(cc_test_run(t_cancel_main_children, NULL), 5);
  ASSERT_LT(cc_now() - t0, 2000);
}

static intptr_t shutdown_result;
static intptr_t t_spawn_during_shutdown_child2(void *a) {
  cc_sleep(100000); /* cancelled at shutdown */
  cc_task_t *t;
  shutdown_result = cc_spawn(&t, ret_arg, NULL);
  return 0;
}
static intptr_t t_spawn_during_shutdown2(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, t_spawn_during_shutdown_child2, NULL));
  ASSERT_OK(cc_detach(t));
  cc_yield();
  return 0;
}
TEST(spawn_after_shutdown_is_error) {
  shutdown_result = 1;
  cc_test_run(t_spawn_during_shutdown2, NULL);
  ASSERT_EQ(shutdown_result, -ESHUTDOWN);
}

/* ---- sleep, yield, deadlines --------------------------------------------------- */

static intptr_t t_sleep(void *unused) {
  int64_t t0 = cc_now();
  ASSERT_OK(cc_sleep(30));
  int64_t dt = cc_now() - t0;
  ASSERT_GE(dt, 30);
  ASSERT_LT(dt, 1000);
  ASSERT_OK(cc_sleep(0));
  ASSERT_OK(cc_sleep_until(cc_now() - 5)); /* in the past: returns at once */
  ASSERT_ERR(cc_sleep_until(-5), -EINVAL);
  return 0;
}
TEST(sleep) {
  cc_test_run(t_sleep, NULL);
}

static int order[8], norder;
static intptr_t yielder(void *a) {
  for (int i = 0; i < 2; i++) {
    order[norder++] = (int)(intptr_t)a;
    cc_yield();
  }
  return 0;
}
static intptr_t t_yield(void *unused) {
  cc_task_t *a, *b;
  norder = 0;
  ASSERT_OK(cc_spawn(&a, yielder, (void *)1));
  ASSERT_OK(cc_spawn(&b, yielder, (void *)2));
  ASSERT_OK(cc_join(a, NULL));
  ASSERT_OK(cc_join(b, NULL));
  ASSERT_EQ(norder, 4);
  ASSERT_EQ(order[0], 1);
  ASSERT_EQ(order[1], 2);
  ASSERT_EQ(order[2], 1);
  ASSERT_EQ(order[3], 2);
  return 0;
}
TEST(yield_round_robin) {
  cc_test_run(t_yield, NULL);
}

static intptr_t t_timeout_fires(void *unused) {
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(20));
  ASSERT_EQ(cc_deadline(), to.deadline);
  int r = cc_sleep(5000);
  ASSERT_TRUE(cc_timeout_end(&to));
  ASSERT_ERR(r, -ETIMEDOUT);
  ASSERT_EQ(cc_deadline(), CC_FOREVER);
  ASSERT_OK(cc_sleep(1)); /* the scope is gone */
  return 0;
}
TEST(timeout_fires) {
  int64_t t0 = cc_now();
  cc_test_run(t_timeout_fires, NULL);
  ASSERT_LT(cc_now() - t0, 2000);
}

static intptr_t t_timeout_not_fired(void *unused) {
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(2000));
  ASSERT_OK(cc_sleep(10));
  ASSERT_FALSE(cc_timeout_end(&to));
  return 0;
}
TEST(timeout_does_not_fire) {
  cc_test_run(t_timeout_not_fired, NULL);
}

static intptr_t t_timeout_nested(void *unused) {
  cc_timeout_t outer, inner;
  cc_timeout_begin(&outer, cc_deadline_in(30));
  cc_timeout_begin(&inner, cc_deadline_in(5000)); /* later: outer wins */
  ASSERT_EQ(cc_deadline(), outer.deadline);
  ASSERT_ERR(cc_sleep(5000), -ETIMEDOUT);
  ASSERT_FALSE(cc_timeout_end(&inner));
  ASSERT_TRUE(cc_timeout_end(&outer));
  return 0;
}
TEST(timeout_nested) {
  cc_test_run(t_timeout_nested, NULL);
}

static intptr_t t_timeout_join(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sleep_ms, (void *)200));
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(10));
  ASSERT_ERR(cc_join(t, NULL), -ETIMEDOUT);
  cc_timeout_end(&to);
  /* A join interrupted by a deadline leaves the task joinable. */
  intptr_t v;
  ASSERT_OK(cc_join(t, &v));
  ASSERT_EQ(v, 200);
  return 0;
}
TEST(timeout_on_join_keeps_task) {
  cc_test_run(t_timeout_join, NULL);
}

static intptr_t t_wait_for(void *unused) {
  intptr_t v = 0;
  ASSERT_OK(cc_wait_for(sleep_ms, (void *)5, 1000, &v));
  ASSERT_EQ(v, 5);
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_wait_for(sleep_ms, (void *)5000, 20, &v), -ETIMEDOUT);
  ASSERT_LT(cc_now() - t0, 1000);
  ASSERT_EQ(cc_loop_task_count(), 1); /* the child was cancelled and reaped */
  ASSERT_ERR(cc_wait_for(fail_with, (void *)(intptr_t)ENOENT, 1000, &v), -ENOENT);
  return 0;
}
TEST(wait_for) {
  cc_test_run(t_wait_for, NULL);
}

/* ---- dumps -------------------------------------------------------------------- */

static intptr_t t_dump(void *unused) {
  cc_task_t *t;
  cc_spawn_opts_t o = {.name = "sleepy"};
  ASSERT_OK(cc_spawn_opts(&t, sleep_ms, (void *)50, &o));
  cc_yield();
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cc_loop_dump(f);
  fclose(f);
  ASSERT_NOT_NULL(strstr(buf, "2 live task(s)"));
  ASSERT_NOT_NULL(strstr(buf, "sleepy"));
  ASSERT_NOT_NULL(strstr(buf, "on sleep"));
  ASSERT_NOT_NULL(strstr(buf, "test_task.c"));
  free(buf);
  cc_cancel(t);
  cc_join(t, NULL);
  return 0;
}
TEST(dump_lists_tasks) {
  cc_test_run(t_dump, NULL);
}

static intptr_t t_sigusr1(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sleep_ms, (void *)50));
  kill(getpid(), SIGUSR1);
  cc_sleep(20);
  ASSERT_OK(cc_join(t, NULL));
  return 0;
}
TEST(sigusr1_dumps_tasks) {
  /* Run in a child so that its stderr can be checked. */
  char buf[4096];
  int st = cc_test_run_in_child(t_sigusr1, NULL, 1, buf, sizeof buf);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
  ASSERT_NOT_NULL(strstr(buf, "live task(s)"));
  ASSERT_NOT_NULL(strstr(buf, "sleep_ms"));
}

static intptr_t wait_forever(void *unused) {
  return cc_sleep(1000000);
}
TEST(sigint_stops_run_cleanly) {
  pid_t pid = fork();
  if (pid == 0) {
    intptr_t r;
    int rc = cc_run(wait_forever, NULL, &r);
    _exit(rc == -ECANCELED ? 0 : 1);
  }
  usleep(100 * 1000);
  kill(pid, SIGINT);
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* ---- loops on several threads --------------------------------------------------- */

#include <pthread.h>
#include <stdatomic.h>

static atomic_int calls_seen;
static void count_call(void *a) {
  atomic_fetch_add(&calls_seen, 1);
}
static void stop_call(void *a) {
  cc_event_set((cc_event_t *)a);
}
static intptr_t loop_main(void *a) {
  cc_event_t *ev;
  ASSERT_OK(cc_event_new(&ev));
  __atomic_store_n((cc_event_t **)a, ev, __ATOMIC_RELEASE);
  ASSERT_OK(cc_event_wait(ev));
  cc_event_free(ev);
  return 0;
}
struct loop_thread {
  cc_loop_t *loop;
  cc_event_t *stop;
  pthread_t th;
};
static void *loop_thread_main(void *a) {
  struct loop_thread *lt = a;
  intptr_t r;
  int rc = cc_loop_run(lt->loop, loop_main, &lt->stop, &r);
  return (void *)(intptr_t)rc;
}
TEST(loops_on_threads_and_cross_posting) {
  enum { N = 4, CALLS = 1000 };
  struct loop_thread lt[N];
  atomic_store(&calls_seen, 0);
  for (int i = 0; i < N; i++) {
    lt[i].stop = NULL;
    ASSERT_OK(cc_loop_new(&lt[i].loop, NULL));
    /* Posting before the loop runs is allowed. */
    ASSERT_OK(cc_loop_call(lt[i].loop, count_call, NULL));
    ASSERT_OK(pthread_create(&lt[i].th, NULL, loop_thread_main, &lt[i]));
  }
  for (int k = 0; k < CALLS; k++)
    for (int i = 0; i < N; i++)
      ASSERT_OK(cc_loop_call(lt[i].loop, count_call, NULL));
  while (atomic_load(&calls_seen) < N * (CALLS + 1))
    usleep(1000);
  for (int i = 0; i < N; i++) {
    while (!__atomic_load_n(&lt[i].stop, __ATOMIC_ACQUIRE))
      usleep(1000);
    ASSERT_OK(cc_loop_call(lt[i].loop, stop_call, lt[i].stop));
  }
  for (int i = 0; i < N; i++) {
    void *rc;
    pthread_join(lt[i].th, &rc);
    ASSERT_EQ((intptr_t)rc, 0);
    cc_loop_free(lt[i].loop);
  }
  ASSERT_EQ(atomic_load(&calls_seen), N * (CALLS + 1));
}

static intptr_t t_join_other_loop(void *a) {
  ASSERT_ERR(cc_join((cc_task_t *)a, NULL), -EXDEV);
  ASSERT_ERR(cc_cancel((cc_task_t *)a), -EXDEV);
  return 0;
}
static void *other_thread(void *a) {
  intptr_t r;
  return (void *)(intptr_t)cc_run_opts(NULL, t_join_other_loop, a, &r);
}
static intptr_t t_cross_loop(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sleep_ms, (void *)5));
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, other_thread, t));
  void *rc;
  pthread_join(th, &rc); /* blocks this loop briefly; fine in a test */
  ASSERT_EQ((intptr_t)rc, 0);
  ASSERT_OK(cc_join(t, NULL));
  return 0;
}
TEST(join_from_other_loop_is_error) {
  cc_test_run(t_cross_loop, NULL);
}

/* Task groups: structured concurrency. */
#include "test.h"

static intptr_t ret_arg(void *a) {
  return (intptr_t)a;
}
static intptr_t sleep_ms(void *a) {
  int r = cc_sleep((int64_t)(intptr_t)a);
  return r < 0 ? r : 0;
}
static int cancelled_children;
static intptr_t sleep_count_cancel(void *a) {
  int r = cc_sleep((int64_t)(intptr_t)a);
  if (r == -ECANCELED)
    cancelled_children++;
  return r;
}
static intptr_t fail_after(void *a) {
  cc_sleep(5);
  return -(intptr_t)a;
}

static intptr_t t_ok(void *unused) {
  cc_group_t *g;
  ASSERT_OK(cc_group_new(&g));
  for (int i = 0; i < 100; i++)
    ASSERT_OK(cc_group_spawn(g, ret_arg, (void *)(intptr_t)i));
  ASSERT_EQ(cc_group_size(g), 100);
  ASSERT_OK(cc_group_wait(g));
  ASSERT_EQ(cc_group_size(g), 0);
  cc_group_free(g);
  ASSERT_EQ(cc_loop_task_count(), 1);
  return 0;
}
TEST(all_succeed) {
  cc_test_run(t_ok, NULL);
}

static intptr_t t_fail(void *unused) {
  cc_group_t *g;
  cancelled_children = 0;
  ASSERT_OK(cc_group_new(&g));
  for (int i = 0; i < 10; i++)
    ASSERT_OK(cc_group_spawn(g, sleep_count_cancel, (void *)10000));
  ASSERT_OK(cc_group_spawn(g, fail_after, (void *)(intptr_t)EPROTO));
  int64_t t0 = cc_now();
  ASSERT_ERR(cc_group_wait(g), -EPROTO);
  ASSERT_LT(cc_now() - t0, 2000);
  ASSERT_EQ(cancelled_children, 10);
  /* A failed group refuses new children. */
  ASSERT_ERR(cc_group_spawn(g, ret_arg, NULL), -ECANCELED);
  cc_group_free(g);
  return 0;
}
TEST(first_failure_cancels_siblings) {
  cc_test_run(t_fail, NULL);
}

static intptr_t group_owner(void *unused) {
  cc_group_t *g;
  ASSERT_OK(cc_group_new(&g));
  for (int i = 0; i < 5; i++)
    ASSERT_OK(cc_group_spawn(g, sleep_count_cancel, (void *)10000));
  int r = cc_group_wait(g);
  ASSERT_EQ(cc_group_size(g), 0); /* children never outlive the wait */
  cc_group_free(g);
  return r;
}
static intptr_t t_waiter_cancelled(void *unused) {
  cc_task_t *t;
  cancelled_children = 0;
  ASSERT_OK(cc_spawn(&t, group_owner, NULL));
  cc_sleep(10);
  cc_cancel(t);
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  ASSERT_EQ(cancelled_children, 5);
  ASSERT_EQ(cc_loop_task_count(), 1);
  return 0;
}
TEST(cancelling_the_waiter_cancels_children) {
  cc_test_run(t_waiter_cancelled, NULL);
}

static intptr_t t_deadline(void *unused) {
  cc_group_t *g;
  ASSERT_OK(cc_group_new(&g));
  ASSERT_OK(cc_group_spawn(g, sleep_ms, (void *)10000));
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(20));
  ASSERT_ERR(cc_group_wait(g), -ETIMEDOUT);
  ASSERT_TRUE(cc_timeout_end(&to));
  ASSERT_EQ(cc_group_size(g), 0);
  cc_group_free(g);
  return 0;
}
TEST(deadline_on_wait) {
  cc_test_run(t_deadline, NULL);
}

static intptr_t t_free_running(void *unused) {
  cc_group_t *g;
  cancelled_children = 0;
  ASSERT_OK(cc_group_new(&g));
  for (int i = 0; i < 3; i++)
    ASSERT_OK(cc_group_spawn(g, sleep_count_cancel, (void *)10000));
  cc_yield();
  cc_group_free(g); /* cancels and waits */
  ASSERT_EQ(cancelled_children, 3);
  ASSERT_EQ(cc_loop_task_count(), 1);
  return 0;
}
TEST(free_cancels_and_waits) {
  cc_test_run(t_free_running, NULL);
}

static intptr_t t_explicit_cancel(void *unused) {
  cc_group_t *g;
  ASSERT_OK(cc_group_new(&g));
  ASSERT_OK(cc_group_spawn(g, sleep_ms, (void *)10000));
  cc_group_cancel(g);
  ASSERT_ERR(cc_group_wait(g), -ECANCELED);
  cc_group_free(g);
  return 0;
}
TEST(explicit_cancel) {
  cc_test_run(t_explicit_cancel, NULL);
}

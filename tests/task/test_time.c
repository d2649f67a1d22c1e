/* Durations and deadlines at the edges (INT64_MAX, negative), and the text
 * of cc_loop_dump(). */
#include <limits.h>

#include "test.h"

TEST(deadline_in_saturates) {
  ASSERT_EQ(cc_deadline_in(INT64_MAX), INT64_MAX);
  ASSERT_EQ(cc_deadline_in(INT64_MAX - 1), INT64_MAX);
  ASSERT_EQ(cc_deadline_in(INT64_MAX - cc_now() + 1000), INT64_MAX);
  ASSERT_EQ(cc_deadline_in(-1), CC_FOREVER);
  ASSERT_EQ(cc_deadline_in(INT64_MIN), CC_FOREVER);
  int64_t now = cc_now();
  int64_t d = cc_deadline_in(10);
  ASSERT_GE(d, now + 10);
  ASSERT_LE(d, cc_now() + 10);
}

static intptr_t sleeper(void *a) {
  return cc_sleep((int64_t)(intptr_t)a);
}
static intptr_t sleeper_until(void *a) {
  return cc_sleep_until((int64_t)(intptr_t)a);
}

/* A sleep of a huge duration is a sleep until cancelled: it neither fails at
 * once (-EINVAL) nor wakes at once (an overflowed, past deadline). */
static intptr_t t_huge_sleep(void *unused) {
  int64_t durations[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2};
  for (int i = 0; i < 3; i++) {
    cc_task_t *t;
    ASSERT_OK(cc_spawn(&t, sleeper, (void *)(intptr_t)durations[i]));
    cc_sleep(5);
    ASSERT_FALSE(cc_task_done(t));
    ASSERT_OK(cc_cancel(t));
    ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  }
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, sleeper_until, (void *)(intptr_t)INT64_MAX));
  cc_sleep(5);
  ASSERT_FALSE(cc_task_done(t));
  cc_cancel(t);
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  /* negative: a sleep yields, an absolute deadline is refused */
  ASSERT_OK(cc_sleep(-1));
  ASSERT_OK(cc_sleep(INT64_MIN));
  ASSERT_ERR(cc_sleep_until(-5), -EINVAL);
  /* inside a scope of a huge deadline, a short sleep is just a sleep */
  cc_timeout_t scope;
  cc_timeout_begin(&scope, cc_deadline_in(INT64_MAX));
  ASSERT_OK(cc_sleep(1));
  ASSERT_EQ(cc_deadline(), INT64_MAX);
  ASSERT_FALSE(cc_timeout_end(&scope));
  /* and a huge sleep inside a short scope times out */
  cc_timeout_begin(&scope, cc_deadline_in(5));
  ASSERT_ERR(cc_sleep(INT64_MAX), -ETIMEDOUT);
  ASSERT_TRUE(cc_timeout_end(&scope));
  return 0;
}
TEST(sleep_huge_and_negative_durations) {
  cc_test_run(t_huge_sleep, NULL);
}

static intptr_t quick(void *a) {
  cc_sleep(1);
  return 7;
}
static intptr_t t_huge_wait_for(void *unused) {
  int64_t limits[] = {INT64_MAX, INT64_MAX - 1, -1};
  for (int i = 0; i < 3; i++) {
    intptr_t v = 0;
    ASSERT_OK(cc_wait_for(quick, NULL, limits[i], &v));
    ASSERT_EQ(v, 7);
  }
  ASSERT_ERR(cc_wait_for(sleeper, (void *)(intptr_t)INT64_MAX, 5, NULL), -ETIMEDOUT);
  return 0;
}
TEST(wait_for_huge_and_negative_limits) {
  cc_test_run(t_huge_wait_for, NULL);
}

/* ---- the dump ------------------------------------------------------------- */

static intptr_t t_dump(void *unused) {
  cc_task_t *t;
  cc_spawn_opts_t o = {.name = "napper"};
  ASSERT_OK(cc_spawn_opts(&t, sleeper, (void *)(intptr_t)60000, &o));
  cc_sleep(2);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cc_loop_dump(f);
  fclose(f);
  fprintf(stderr, "%s", buf); /* shown when the test fails */
  ASSERT_NOT_NULL(strstr(buf, "2 live task(s)"));
  /* main: running, its age counted from cc_run (not the system's uptime) */
  const char *m = strstr(buf, " main ");
  ASSERT_NOT_NULL(m);
  ASSERT_NOT_NULL(strstr(m, "running"));
  const char *age = strstr(m, " age ");
  ASSERT_NOT_NULL(age);
  long ms = strtol(age + 5, NULL, 10);
  ASSERT_GE(ms, 0);
  ASSERT_LT(ms, 10000);
  /* the sleeper: what it waits on, with its timer, and no "(nil)" */
  const char *n = strstr(buf, "napper");
  ASSERT_NOT_NULL(n);
  ASSERT_NOT_NULL(strstr(n, "waiting  on sleep (timer in "));
  ASSERT_NULL(strstr(buf, "(nil)"));
  ASSERT_NULL(strstr(buf, "0x0"));
  age = strstr(n, " age ");
  ASSERT_NOT_NULL(age);
  ASSERT_LT(strtol(age + 5, NULL, 10), 10000);
  ASSERT_NOT_NULL(strstr(n, "test_time.c:"));
  free(buf);
  cc_cancel(t);
  ASSERT_ERR(cc_join(t, NULL), -ECANCELED);
  return 0;
}
TEST(dump_text) {
  cc_test_run(t_dump, NULL);
}

/* A coroutine that overflows its stack with a large local array (built with
 * -fstack-clash-protection, as concur::concur makes its users' code) is
 * reported by name: the task, its own function and its spawn site. */
#include <signal.h>
#include <sys/wait.h>

#include "task/task_int.h"
#include "test.h"

/* Not static, and the executable exports its symbols: dladdr finds it. */
intptr_t big_frame(void *a);
intptr_t big_frame(void *a) {
  volatile char buf[64 * 1024];
  for (size_t i = 0; i < sizeof buf; i += 512)
    buf[i] = (char)i;
  return buf[(uintptr_t)a % sizeof buf];
}

static intptr_t big_static(void *a) {
  volatile char buf[64 * 1024];
  for (size_t i = 0; i < sizeof buf; i += 512)
    buf[i] = (char)i;
  return buf[(uintptr_t)a % sizeof buf];
}

static intptr_t via_spawn(void *unused) {
  cc_task_t *t;
  cc_spawn_opts_t o = {.name = "worker"};
  ASSERT_OK(cc_spawn_opts(&t, big_static, NULL, &o));
  cc_join(t, NULL);
  return 0;
}

static intptr_t via_wait_for(void *unused) {
  return cc_wait_for(big_frame, NULL, 5000, NULL);
}

/* A library trampoline that runs the user's function names that one. */
static intptr_t trampoline(void *a) {
  cc__task_report_as(cc_self(), (const void *)big_static, "big_static");
  return big_static(a);
}
static intptr_t via_trampoline(void *unused) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, trampoline, NULL));
  cc_join(t, NULL);
  return 0;
}

static void expect_report(cc_task_fn fn, const char *name, const char *func) {
#ifndef CC_TEST_STACK_CLASH
  SKIP("the compiler has no -fstack-clash-protection");
#endif
  if (cc_test_sanitized())
    SKIP("the sanitizers own SIGSEGV and the stack layout");
  char out[4096];
  int st = cc_test_run_in_child(fn, NULL, 0, out, sizeof out);
  fprintf(stderr, "child said: %s\n", out);
  ASSERT_TRUE(WIFSIGNALED(st));
  ASSERT_EQ(WTERMSIG(st), SIGABRT);
  ASSERT_NOT_NULL(strstr(out, "concur: stack overflow in task #"));
  char want[128];
  snprintf(want, sizeof want, "'%s', function %s,", name, func);
  ASSERT_NOT_NULL(strstr(out, want));
  ASSERT_NOT_NULL(strstr(out, "(stack 64 KiB, guard "));
}

TEST(overflow_names_spawned_function) {
  expect_report(via_spawn, "worker", "big_static");
}

TEST(overflow_names_function_behind_wait_for) {
  expect_report(via_wait_for, "wait_for", "big_frame");
}

TEST(overflow_names_user_function_behind_trampoline) {
  /* an unnamed task takes the user function's name too */
  expect_report(via_trampoline, "big_static", "big_static");
}

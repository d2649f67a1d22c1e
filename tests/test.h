/* The test harness: one header of assertions that print both sides (in the
 * manner of libuv's task.h) and a TEST(name) macro. Each case is its own
 * ctest test, run as `<test-exe> <case>` in its own process; after a case
 * returns, test_main.c checks that it leaked no file descriptor, left no
 * child process behind and left no memory mapping made during the case
 * (coroutine stacks, task slabs, shared memory: every mmap of concur or of
 * the test is tracked, see test_main.c). Cases are found in every source of
 * a cc_add_tests() call; a name must be unique within the executable. */
#ifndef CC_TEST_H
#define CC_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur.h"

typedef void (*cc_test_fn)(void);
void cc_test_register(const char *name, cc_test_fn fn);

#define TEST(name)                                                                       \
  static void test_##name(void);                                                         \
  __attribute__((constructor)) static void test_reg_##name(void) {                       \
    cc_test_register(#name, test_##name);                                                \
  }                                                                                      \
  static void test_##name(void)

#define CC_TEST_FAIL(...)                                                                \
  do {                                                                                   \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                      \
    fprintf(stderr, __VA_ARGS__);                                                        \
    fprintf(stderr, "\n");                                                               \
    fflush(stderr);                                                                      \
    abort();                                                                             \
  } while (0)

#define CC_TEST_CMP(a, op, b)                                                            \
  do {                                                                                   \
    intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                     \
    if (!(a_ op b_))                                                                     \
      CC_TEST_FAIL("assertion failed: %s %s %s (%jd %s %jd)", #a, #op, #b, a_, #op, b_); \
  } while (0)

#define ASSERT_EQ(a, b)    CC_TEST_CMP(a, ==, b)
#define ASSERT_NE(a, b)    CC_TEST_CMP(a, !=, b)
#define ASSERT_LT(a, b)    CC_TEST_CMP(a, <, b)
#define ASSERT_LE(a, b)    CC_TEST_CMP(a, <=, b)
#define ASSERT_GT(a, b)    CC_TEST_CMP(a, >, b)
#define ASSERT_GE(a, b)    CC_TEST_CMP(a, >=, b)
#define ASSERT_TRUE(x)     CC_TEST_CMP(!!(x), ==, 1)
#define ASSERT_FALSE(x)    CC_TEST_CMP(!!(x), ==, 0)
#define ASSERT_NULL(p)     CC_TEST_CMP((uintptr_t)(p), ==, 0)
#define ASSERT_NOT_NULL(p) CC_TEST_CMP((uintptr_t)(p), !=, 0)

/* Asserts that a concur call returned a given error code, naming both. */
#define ASSERT_ERR(expr, code)                                                           \
  do {                                                                                   \
    int r_ = (int)(expr);                                                                \
    if (r_ != (code))                                                                    \
      CC_TEST_FAIL("%s returned %d (%s), expected %d (%s)", #expr, r_, cc_err_name(r_),  \
                   (int)(code), cc_err_name(code));                                      \
  } while (0)
#define ASSERT_OK(expr) ASSERT_ERR(expr, 0)

#define ASSERT_STR_EQ(a, b)                                                              \
  do {                                                                                   \
    const char *a_ = (a), *b_ = (b);                                                     \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                               \
      CC_TEST_FAIL("assertion failed: %s == %s (\"%s\" vs \"%s\")", #a, #b,              \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                              \
  } while (0)

/* Exit code 77 is reported by ctest as "skipped", never as passed. */
#define SKIP(...)                                                                        \
  do {                                                                                   \
    fprintf(stderr, "SKIP: ");                                                           \
    fprintf(stderr, __VA_ARGS__);                                                        \
    fprintf(stderr, "\n");                                                               \
    exit(77);                                                                            \
  } while (0)

/* Number of open file descriptors of this process. */
int cc_test_count_fds(void);

/* Number of lines of /proc/self/maps that contain `needle` (all of them when
 * NULL). Shared anonymous mappings (the process pool's arena, cc_shm blocks)
 * show as "/dev/zero (deleted)". */
int cc_test_count_maps(const char *needle);

/* Runs fn(arg) under cc_run() and asserts it returned 0; returns the value. */
intptr_t cc_test_run(cc_task_fn fn, void *arg);

/* Joins task `t` from a coroutine, failing the case with "<who> still waits:
 * the hand-off was lost" if it does not end within 500 ms (a lost wake-up
 * shows up as a waiter that never ends). */
void cc_test_join_within(cc_task_t *t, const char *who);

/* Runs cc_run(fn, arg) (with cc_run's signal handling when `signals`) in a
 * forked child whose stderr is captured into buf (NUL-terminated, at most
 * size-1 bytes); the child exits 0 when cc_run returned 0. Returns the
 * child's wait status, after reaping it. */
int cc_test_run_in_child(cc_task_fn fn, void *arg, int signals, char *buf, size_t size);

/* True when built with ASan/TSan (for scaling loads down or skipping). */
int cc_test_sanitized(void);

/* True when built with ThreadSanitizer, which also caps live coroutines:
 * each is a TSan fiber, and TSan allows about 8,000 of those at once. */
int cc_test_tsan(void);

#endif

/* White-box tests of the context switch and the stack pool, and the
 * stack-overflow report. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro/coro.h"
#include "loop/loop_int.h"
#include "test.h"

/* ---- raw switch ------------------------------------------------------------------- */

static cc__ctx_t main_ctx, co_ctx;
static volatile long co_count;

static void co_entry(void *arg) {
  long n = (long)(intptr_t)arg;
  for (long i = 0; i < n; i++) {
    co_count++;
    cc__ctx_switch(&co_ctx, &main_ctx);
  }
  for (;;)
    cc__ctx_switch(&co_ctx, &main_ctx);
}

TEST(raw_switch_ping_pong) {
  if (cc_test_sanitized())
    SKIP("raw switches without fiber annotations confuse the sanitizers");
  cc__stack_t *s = cc__stack_map(64 * 1024);
  ASSERT_NOT_NULL(s);
  cc__ctx_make(&co_ctx, s->lo, s->size, co_entry, (void *)(intptr_t)1000);
  co_count = 0;
  for (int i = 0; i < 1000; i++) {
    cc__ctx_switch(&main_ctx, &co_ctx);
    ASSERT_EQ(co_count, i + 1);
  }
  cc__stack_unmap(s);
}

/* Callee-saved registers and the stack alignment survive a switch: a
 * coroutine doing floating-point and 16-byte-aligned work between switches
 * computes the same as straight-line code. */
static double fp_result;
static void fp_entry(void *arg) {
  double acc = 1.0;
  for (int i = 1; i <= 100; i++) {
    _Alignas(16) double v[2] = {acc, (double)i};
    acc = v[0] * 1.01 + v[1] / 3.0;
    cc__ctx_switch(&co_ctx, &main_ctx);
  }
  fp_result = acc;
  for (;;)
    cc__ctx_switch(&co_ctx, &main_ctx);
}
TEST(switch_preserves_state) {
  if (cc_test_sanitized())
    SKIP("raw switches without fiber annotations confuse the sanitizers");
  double expect = 1.0;
  for (int i = 1; i <= 100; i++)
    expect = expect * 1.01 + (double)i / 3.0;
  cc__stack_t *s = cc__stack_map(64 * 1024);
  cc__ctx_make(&co_ctx, s->lo, s->size, fp_entry, NULL);
  volatile double local = 42.5;
  for (int i = 0; i <= 100; i++)
    cc__ctx_switch(&main_ctx, &co_ctx);
  ASSERT_TRUE(fp_result == expect);
  ASSERT_TRUE(local == 42.5);
  cc__stack_unmap(s);
}

/* ---- the pool ---------------------------------------------------------------------- */

TEST(stack_pool_reuses_lifo) {
  cc__stack_pool_t p;
  cc__stack_pool_init(&p, 0, 4);
  ASSERT_EQ(p.stack_size, CC__STACK_DEFAULT);
  cc__stack_t *a = cc__stack_get(&p);
  cc__stack_t *b = cc__stack_get(&p);
  ASSERT_NOT_NULL(a);
  ASSERT_NOT_NULL(b);
  ASSERT_NE((uintptr_t)a->lo, (uintptr_t)b->lo);
  memset(a->lo, 1, a->size); /* the whole usable range is writable */
  cc__stack_put(&p, a);
  ASSERT_EQ((uintptr_t)cc__stack_get(&p), (uintptr_t)a); /* hottest first */
  cc__stack_put(&p, a);
  cc__stack_put(&p, b);
  ASSERT_EQ(p.live, 0);
  cc__stack_pool_destroy(&p);
}

TEST(stack_pool_trims_beyond_cache) {
  cc__stack_pool_t p;
  cc__stack_pool_init(&p, 0, 2);
  cc__stack_t *s[10];
  for (int i = 0; i < 10; i++) {
    s[i] = cc__stack_get(&p);
    memset((char *)s[i]->lo + s[i]->size - 4096, 1, 4096);
  }
  for (int i = 0; i < 10; i++)
    cc__stack_put(&p, s[i]);
  ASSERT_EQ(p.ndirty, 10);
  ASSERT_EQ(cc__stack_pool_trim(&p, 100), 8);
  ASSERT_EQ(p.ndirty, 2);
  /* A trimmed stack reads back as zeroes: its pages were released. */
  int zeroed = 0;
  for (int i = 0; i < 10; i++)
    zeroed += ((char *)s[i]->lo)[s[i]->size - 1] == 0;
  ASSERT_EQ(zeroed, 8);
  cc__stack_pool_destroy(&p);
}

static intptr_t park_forever(void *a) {
  return cc_sleep(100000);
}
static intptr_t t_guards(void *arg) {
  int n = (int)(intptr_t)arg;
  int before = cc_test_count_maps(NULL);
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  for (int i = 0; i < n; i++)
    ASSERT_OK(cc_spawn(&ts[i], park_forever, NULL));
  cc_yield(); /* every task now runs on its own stack */
  cc_loop_t *l = cc_loop_current();
  ASSERT_GE(l->stacks.live, (size_t)n);
  int guarded = 0;
  for (int i = 0; i < n; i++)
    guarded += ts[i]->stack->guarded;
  ASSERT_EQ(guarded, n);
  int after = cc_test_count_maps(NULL);
  /* MADV_GUARD_INSTALL guards do not split mappings; the mprotect fallback
   * would add one mapping per stack. */
  if (after - before > n / 2)
    fprintf(stderr, "note: %d new mappings for %d stacks (mprotect fallback)\n",
            after - before, n);
  for (int i = 0; i < n; i++)
    cc_cancel(ts[i]);
  ASSERT_OK(cc_gather(ts, (size_t)n, NULL) == -ECANCELED ? 0 : -1);
  free(ts);
  return after - before;
}
TEST(every_stack_is_guarded_without_map_explosion) {
  if (cc_test_tsan())
    SKIP("TSan maps shadow memory for every fiber stack");
  intptr_t added = cc_test_run(t_guards, (void *)20000);
  if (strcmp(cc__stack_guard_kind(), "madvise") != 0)
    SKIP("no MADV_GUARD_INSTALL here: guards use mprotect, one mapping each");
  ASSERT_LT(added, 200);
}

static intptr_t nothing(void *a) {
  return 0;
}
static intptr_t t_lazy_stacks(void *unused) {
  /* TSan creates and destroys a fiber per task (an mmap and a munmap
   * each): a tenth of the tasks keeps it well within the time-out on a
   * loaded machine. */
  const int N = cc_test_tsan() ? 10000 : 100000;
  cc_task_t **ts = malloc((size_t)N * sizeof *ts);
  for (int i = 0; i < N; i++)
    ASSERT_OK(cc_spawn(&ts[i], nothing, NULL));
  cc_loop_t *l = cc_loop_current();
  ASSERT_EQ(l->stacks.live, 1); /* only main: spawned tasks have no stack yet */
  ASSERT_OK(cc_gather(ts, (size_t)N, NULL));
  /* Short tasks ran one after another on recycled stacks. */
  size_t total = l->stacks.ndirty + l->stacks.nfree + l->stacks.live;
  ASSERT_LT(total, 64);
  free(ts);
  return 0;
}
TEST(stacks_taken_at_first_run) {
  cc_test_run(t_lazy_stacks, NULL);
}

/* ---- overflow ---------------------------------------------------------------------- */

static volatile int depth_limit = 1 << 30;
static int recurse(int n) {
  volatile char pad[512];
  pad[0] = (char)n;
  if (n > depth_limit)
    return 0;
  return recurse(n + 1) + pad[0];
}
static intptr_t overflow(void *a) {
  return recurse(0);
}
static intptr_t t_overflow(void *unused) {
  cc_task_t *t;
  cc_spawn_opts_t o = {.name = "deep", .stack_size = 32 * 1024};
  cc_spawn_opts(&t, overflow, NULL, &o);
  cc_join(t, NULL);
  return 0;
}
TEST(stack_overflow_is_reported) {
  char buf[8192];
  int st = cc_test_run_in_child(t_overflow, NULL, 0, buf, sizeof buf);
  ASSERT_TRUE(WIFSIGNALED(st));
  ASSERT_EQ(WTERMSIG(st), SIGABRT);
  if (!strstr(buf, "stack overflow in task"))
    CC_TEST_FAIL("no overflow report; child said: %s", buf);
  ASSERT_NOT_NULL(strstr(buf, "'deep'"));
  ASSERT_NOT_NULL(strstr(buf, "test_coro.c"));
}

/* Past ~1000 live stacks the pool grows by 1024-stack chunks and a helper
 * thread prepares the next chunk ahead; the tasks still all run, and the
 * helper stops with the loop. The tasks sleep until cancelled: with timers
 * that expire while tasks are still starting, the loop would recycle the
 * stacks of the ones that ended (finish_before_start) and the count below
 * would depend on the machine's speed. */
static intptr_t long_sleep(void *a) {
  return cc_sleep(INT64_MAX);
}
static intptr_t t_prepared(void *unused) {
  enum { N = 3500 };
  cc_task_t **ts = malloc(N * sizeof *ts);
  for (int i = 0; i < N; i++)
    ASSERT_OK(cc_spawn(&ts[i], long_sleep, NULL));
  ASSERT_OK(cc_yield()); /* every task starts and parks */
  cc_loop_t *l = cc_loop_current();
  ASSERT_EQ(l->stacks.live, (size_t)N + 1);
  for (int i = 0; i < N; i++)
    ASSERT_OK(cc_cancel(ts[i]));
  ASSERT_ERR(cc_gather(ts, N, NULL), -ECANCELED);
  free(ts);
  ASSERT_NOT_NULL(l->stacks.prep); /* the helper was started */
  ASSERT_GE(l->stacks.ndirty + l->stacks.nfree, (size_t)N);
  return 0;
}
TEST(stacks_prepared_ahead_in_bulk) {
  cc_test_run(t_prepared, NULL);
}

/* A task about to start on a never-touched stack first lets the tasks whose
 * timers expired since the last poll run and end (loop.c,
 * finish_before_start), so that it starts on a recycled stack: under the
 * run queue's FIFO alone it would start first, on a fresh one. */
static int order[2], norder;
static intptr_t note_after_sleep(void *unused) {
  int r = cc_sleep(1);
  order[norder++] = 1;
  return r;
}
static intptr_t note_start(void *unused) {
  order[norder++] = 2;
  return 0;
}
static intptr_t t_finish_first(void *unused) {
  cc_loop_t *l = cc_loop_current();
  cc_task_t *s, *n;
  norder = 0;
  ASSERT_OK(cc_spawn(&s, note_after_sleep, NULL));
  ASSERT_OK(cc_yield());                /* s starts and parks in its sleep */
  ASSERT_TRUE(l->stacks.dirty == NULL); /* no recycled stack to start n on */
  int64_t until = cc_now() + 5;
  while (cc_now() < until) {
  } /* s's timer expires, and no poll has seen it */
  ASSERT_OK(cc_spawn(&n, note_start, NULL));
  ASSERT_OK(cc_join(n, NULL));
  ASSERT_OK(cc_join(s, NULL));
  ASSERT_EQ(norder, 2);
  ASSERT_EQ(order[0], 1);
  ASSERT_EQ(order[1], 2);
#ifndef CC__TSAN
  /* n took over s's stack as s ended (TSan keeps a stack per task). */
  ASSERT_EQ(l->stacks.ndirty, 1);
#endif
  return 0;
}
TEST(expired_sleepers_end_before_new_tasks_start) {
  cc_test_run(t_finish_first, NULL);
}

/* Where a 16-chunk reserve of address space cannot be mapped (strict
 * overcommit, an address-space limit), full-size chunks are mapped one at
 * a time and their descriptors malloc()ed: the stacks still come, guarded.
 * RLIMIT_AS leaves room for single chunks (80 MiB with the default 64 KiB
 * stacks) but not for a reserve (~1.3 GiB). */
static intptr_t t_no_reserve(void *unused) {
  enum { N = 3500 };
  long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  ASSERT_NOT_NULL(f);
  ASSERT_EQ(fscanf(f, "%ld", &pages), 1);
  fclose(f);
  size_t vm = (size_t)pages * cc__page_size();
  struct rlimit rl = {.rlim_cur = vm + (700u << 20), .rlim_max = vm + (700u << 20)};
  ASSERT_OK(setrlimit(RLIMIT_AS, &rl));
  cc_task_t **ts = malloc(N * sizeof *ts);
  ASSERT_NOT_NULL(ts);
  for (int i = 0; i < N; i++)
    ASSERT_OK(cc_spawn(&ts[i], long_sleep, NULL));
  ASSERT_OK(cc_yield()); /* every task starts and parks */
  cc_loop_t *l = cc_loop_current();
  ASSERT_EQ(l->stacks.live, (size_t)N + 1);
  for (int i = 0; i < N; i++) {
    ASSERT_TRUE(ts[i]->stack && ts[i]->stack->guarded);
    ASSERT_OK(cc_cancel(ts[i]));
  }
  ASSERT_ERR(cc_gather(ts, N, NULL), -ECANCELED);
  free(ts);
  return 0;
}
TEST(stacks_without_an_address_space_reserve) {
  if (cc_test_sanitized())
    SKIP("the sanitizers map terabytes of shadow memory: no address-space limit");
  char buf[4096];
  int st = cc_test_run_in_child(t_no_reserve, NULL, 0, buf, sizeof buf);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    CC_TEST_FAIL("child failed (status %d): %s", st, buf);
}

/* The harness checks itself (registered by cmake/CcTests.cmake): each
 * leaks_* case leaves one kind of resource behind and must be reported (the
 * ctest passes when the report is printed); clean_global_state warms up the
 * lazily-created global state (the default thread pool, threads, malloc's
 * large-block mmaps) and must pass. */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"

static intptr_t in_thread(void *arg) {
  void *big = malloc(8 << 20); /* served by glibc's own mmap, not tracked */
  ASSERT_NOT_NULL(big);
  memset(big, 1, 4096);
  free(big);
  return 7;
}

static intptr_t child(void *arg) {
  return cc_sleep(1);
}

static intptr_t warm_main(void *arg) {
  intptr_t r = 0;
  ASSERT_OK(cc_to_thread(in_thread, NULL, &r));
  ASSERT_EQ(r, 7);
  cc_task_t *t[300];
  for (int i = 0; i < 300; i++)
    ASSERT_OK(cc_spawn(&t[i], child, NULL));
  ASSERT_OK(cc_gather(t, 300, NULL));
  return 0;
}

static void *plain_thread(void *arg) {
  return arg;
}

TEST(clean_global_state) {
  cc_test_run(warm_main, NULL);
  cc_test_run(warm_main, NULL);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, plain_thread, NULL), 0);
  ASSERT_EQ(pthread_join(th, NULL), 0);
}

TEST(leaks_mapping) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_TRUE(p != MAP_FAILED);
}

TEST(leaks_partly_unmapped_mapping) {
  long ps = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, 3 * (size_t)ps, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_TRUE(p != MAP_FAILED);
  ASSERT_EQ(munmap(p + ps, (size_t)ps), 0); /* the middle page: two pages remain */
}

static intptr_t spawn_some(void *arg) {
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, child, NULL));
  return cc_join(t, NULL);
}

TEST(leaks_loop) {
  cc_loop_t *l;
  ASSERT_OK(cc_loop_new(&l, NULL));
  intptr_t r;
  ASSERT_OK(cc_loop_run(l, spawn_some, NULL, &r));
  /* no cc_loop_free(l): its coroutine stacks and task slabs stay mapped */
}

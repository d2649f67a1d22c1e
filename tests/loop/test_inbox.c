/* The inbox: wake-ups from other threads never allocate and never get lost;
 * the eventfd is written only when the loop may be asleep. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "loop/loop_int.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MALLOC_HOOK 0
#else
#define MALLOC_HOOK 1
/* Every malloc of a thread that set no_malloc fails, as under memory
 * exhaustion (the sanitizers interpose malloc themselves: skipped there). */
extern void *__libc_malloc(size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_calloc(size_t, size_t);
static _Thread_local int no_malloc;
static atomic_int refused;
static int refuse(void) {
  if (!no_malloc)
    return 0;
  atomic_fetch_add(&refused, 1);
  return 1;
}
void *malloc(size_t n) {
  return refuse() ? NULL : __libc_malloc(n);
}
void *realloc(void *p, size_t n) {
  return refuse() ? NULL : __libc_realloc(p, n);
}
void *calloc(size_t a, size_t b) {
  return refuse() ? NULL : __libc_calloc(a, b);
}
#endif

struct slot {
  pthread_mutex_t mu;
  cc__waiter_t *w;
  int hits;
};

struct oom_arg {
  struct slot *s;
  cc_loop_t *loop;
  int call_rc;
};
static void never(void *a) {
  CC_TEST_FAIL("a call that failed to post ran");
}
static void *oom_waker(void *a) {
  struct oom_arg *o = a;
#if MALLOC_HOOK
  no_malloc = 1;
#endif
  usleep(10 * 1000);
  pthread_mutex_lock(&o->s->mu);
  if (o->s->w)
    cc__wake(o->s->w->task, o->s->w->token, 99);
  pthread_mutex_unlock(&o->s->mu);
  o->call_rc = cc_loop_call(o->loop, never, NULL);
#if MALLOC_HOOK
  no_malloc = 0;
#endif
  return NULL;
}
static intptr_t t_oom(void *unused) {
  struct slot s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  cc__waiter_t w;
  pthread_mutex_lock(&s.mu);
  cc__waiter_init(&w, NULL);
  s.w = &w;
  pthread_mutex_unlock(&s.mu);
  struct oom_arg o = {&s, cc_loop_current(), 1};
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, oom_waker, &o));
  int r = cc__park("oom", &s, cc_deadline_in(5000));
  pthread_mutex_lock(&s.mu);
  s.w = NULL;
  pthread_mutex_unlock(&s.mu);
  pthread_join(th, NULL);
  ASSERT_EQ(r, 99);               /* the wake-up arrived with no memory */
  ASSERT_ERR(o.call_rc, -ENOMEM); /* a call reports it, and is not run */
#if MALLOC_HOOK
  ASSERT_GE(atomic_load(&refused), 1);
#endif
  cc_sleep(5);
  return 0;
}
TEST(remote_wake_without_memory) {
#if !MALLOC_HOOK
  SKIP("the sanitizers interpose malloc");
#endif
  cc_test_run(t_oom, NULL);
}

/* While the loop never sleeps, posts do not write the eventfd. */
static atomic_int ran;
static void count(void *a) {
  atomic_fetch_add(&ran, 1);
}
static void *poster(void *a) {
  cc_loop_t *l = a;
  for (int i = 0; i < 1000; i++)
    ASSERT_OK(cc_loop_call(l, count, NULL));
  return NULL;
}
static intptr_t t_busy(void *unused) {
  cc_loop_t *l = cc_loop_current();
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, poster, l));
  /* Always runnable: the loop polls without blocking between yields. */
  for (long i = 0; atomic_load(&ran) < 1000 && i < 100000000; i++)
    cc_yield();
  pthread_join(th, NULL);
  ASSERT_EQ(atomic_load(&ran), 1000);
  uint64_t v;
  ASSERT_EQ(read(l->efd, &v, sizeof v), -1);
  ASSERT_EQ(errno, EAGAIN);
  /* Now asleep: one post wakes it. */
  atomic_store(&ran, 0);
  ASSERT_OK(pthread_create(&th, NULL, poster, l));
  for (int i = 0; atomic_load(&ran) < 1000 && i < 5000; i++)
    cc_sleep(1);
  pthread_join(th, NULL);
  ASSERT_EQ(atomic_load(&ran), 1000);
  return 0;
}
TEST(eventfd_only_when_loop_may_sleep) {
  cc_test_run(t_busy, NULL);
}

/* Many threads wake many tasks, with stale wake-ups mixed in (each task
 * also wakes itself by time-out now and then): every wake-up that matches
 * a park arrives exactly once, none is lost, none hits a later park. */
#define NTASKS  32
#define ROUNDS  200
#define NWAKERS 3
static struct slot slots[NTASKS];
static atomic_int stop_wakers;
static atomic_long delivered, timeouts;

static intptr_t parker(void *a) {
  struct slot *s = a;
  for (int i = 0; i < ROUNDS; i++) {
    cc__waiter_t w;
    pthread_mutex_lock(&s->mu);
    cc__waiter_init(&w, NULL);
    s->w = &w;
    pthread_mutex_unlock(&s->mu);
    int r = cc__park("stress", s, cc_deadline_in(i % 7 == 0 ? 0 : 2000));
    pthread_mutex_lock(&s->mu);
    s->w = NULL;
    pthread_mutex_unlock(&s->mu);
    if (r == -ETIMEDOUT) {
      atomic_fetch_add(&timeouts, 1);
    } else {
      ASSERT_EQ(r, (int)(s - slots) + 1); /* a wake for this slot */
      atomic_fetch_add(&delivered, 1);
    }
  }
  return 0;
}
static void *waker(void *a) {
  unsigned seed = (unsigned)(uintptr_t)a;
  while (!atomic_load(&stop_wakers)) {
    int i = (int)(rand_r(&seed) % NTASKS);
    pthread_mutex_lock(&slots[i].mu);
    if (slots[i].w) {
      cc__wake(slots[i].w->task, slots[i].w->token, i + 1);
      /* a duplicate for the same park is harmless */
      cc__wake(slots[i].w->task, slots[i].w->token, i + 1);
      slots[i].hits++;
    }
    pthread_mutex_unlock(&slots[i].mu);
  }
  return NULL;
}
static intptr_t t_stress(void *unused) {
  for (int i = 0; i < NTASKS; i++)
    pthread_mutex_init(&slots[i].mu, NULL);
  pthread_t th[NWAKERS];
  for (int i = 0; i < NWAKERS; i++)
    ASSERT_OK(pthread_create(&th[i], NULL, waker, (void *)(uintptr_t)(i + 1)));
  cc_task_t *ts[NTASKS];
  for (int i = 0; i < NTASKS; i++)
    ASSERT_OK(cc_spawn(&ts[i], parker, &slots[i]));
  ASSERT_OK(cc_gather(ts, NTASKS, NULL));
  atomic_store(&stop_wakers, 1);
  for (int i = 0; i < NWAKERS; i++)
    pthread_join(th[i], NULL);
  ASSERT_EQ(atomic_load(&delivered) + atomic_load(&timeouts), (long)NTASKS * ROUNDS);
  ASSERT_GT(atomic_load(&delivered), 0);
  return 0;
}
TEST(remote_wake_stress) {
  cc_test_run(t_stress, NULL);
}

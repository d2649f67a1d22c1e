/* The process pool: every call, ordering over a million items, every kind of
 * worker death (each proving the other items completed and no child is
 * left: the harness checks waitpid after each case), time-outs, terminate,
 * and shared memory clean-up. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/pool.h"
#include "concur/process.h"
#include "test.h"

/* The failed index the last map call reported. */
static size_t failed_idx;

static int sq(const void *in, void *out, void *ctx) {
  (void)ctx;
  int64_t x = *(const int64_t *)in;
  *(int64_t *)out = x * x;
  return 0;
}

TEST(new_free_defaults) {
  int maps0 = cc_test_count_maps("/dev/zero");
  cc_pool_t *p;
  ASSERT_OK(cc_pool_new(&p, NULL));
  ASSERT_EQ(cc_test_count_maps("/dev/zero"), maps0 + 1);
  ASSERT_EQ(cc_pool_workers(p), cc_cpu_count());
  pid_t pids[64];
  ASSERT_EQ(cc_pool_worker_pids(p, pids, 64), cc_cpu_count());
  cc_pool_free(p);
  for (int i = 0; i < cc_cpu_count(); i++)
    ASSERT_EQ(kill(pids[i], 0), -1);
  /* The shared arena is gone. */
  ASSERT_EQ(cc_test_count_maps("/dev/zero"), maps0);
  cc_pool_opts_t o = {.workers = -1};
  ASSERT_ERR(cc_pool_new(&p, &o), -EINVAL);
  ASSERT_ERR(cc_pool_new(NULL, NULL), -EINVAL);
  cc_pool_free(NULL);
}

TEST(map_records_million_in_order) {
  size_t n = 1000000;
  int64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
  for (size_t i = 0; i < n; i++) {
    in[i] = (int64_t)i - 500000;
    out[i] = -1;
  }
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  failed_idx = 5;
  ASSERT_OK(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, n, &failed_idx, NULL));
  for (size_t i = 0; i < n; i++)
    if (out[i] != in[i] * in[i])
      CC_TEST_FAIL("item %zu: %lld", i, (long long)out[i]);
  ASSERT_EQ(failed_idx, (size_t)-1);
  /* Hand-chosen chunk sizes give the same answer. */
  size_t cs[] = {1, 7, 1000, 100000};
  for (int c = 0; c < 4; c++) {
    memset(out, 0xff, 20000 * sizeof *out);
    cc_pool_map_opts_t mo = {.chunksize = cs[c]};
    ASSERT_OK(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 20000, NULL, &mo));
    for (size_t i = 0; i < 20000; i++)
      ASSERT_EQ(out[i], in[i] * in[i]);
  }
  ASSERT_OK(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 0, NULL, NULL));
  ASSERT_ERR(cc_pool_map_records(p, NULL, NULL, in, 8, out, 8, 1, NULL, NULL), -EINVAL);
  ASSERT_ERR(cc_pool_map_records(p, sq, NULL, in, 0, out, 8, 1, NULL, NULL), -EINVAL);
  ASSERT_ERR(cc_pool_map_records(p, sq, NULL, in, (size_t)4 << 20, out, 8, 1, NULL, NULL),
             -CC_ETOOBIG);
  cc_pool_free(p);
  free(in);
  free(out);
}

/* Records of different sizes: a struct in, a different struct out. */
typedef struct {
  int32_t a, b;
  char name[12];
} rin_t;
typedef struct {
  int64_t sum;
  char tag[3];
} rout_t;

static int rec_fn(const void *in, void *out, void *ctx) {
  const rin_t *r = in;
  rout_t *o = out;
  o->sum = (int64_t)r->a + r->b + (int64_t)(intptr_t)ctx;
  memcpy(o->tag, r->name, 3);
  return r->a == 10 ? -EDOM : 0;
}

TEST(map_records_structs_and_item_error) {
  enum { N = 5000 };
  rin_t *in = calloc(N, sizeof *in);
  rout_t *out = calloc(N, sizeof *out);
  for (int i = 0; i < N; i++) {
    in[i].a = i;
    in[i].b = 2 * i;
    snprintf(in[i].name, sizeof in[i].name, "%03d", i % 1000);
  }
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  ASSERT_ERR(cc_pool_map_records(p, rec_fn, (void *)(intptr_t)5, in, sizeof *in, out,
                                 sizeof *out, N, &failed_idx, NULL),
             -EDOM);
  ASSERT_EQ(failed_idx, 10);
  for (int i = 0; i < N; i++) {
    if (i == 10)
      continue;
    ASSERT_EQ(out[i].sum, 3 * i + 5);
    ASSERT_EQ(memcmp(out[i].tag, in[i].name, 3), 0);
  }
  cc_pool_free(p);
  free(in);
  free(out);
}

/* ---- bytes ---------------------------------------------------------------- */

static ssize_t upper(const void *in, size_t len, void *out, size_t cap, void *ctx) {
  (void)ctx;
  if (len > cap)
    return -CC_ETOOBIG;
  const char *s = in;
  char *d = out;
  for (size_t i = 0; i < len; i++)
    d[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
  if (len && s[0] == '!')
    return -EILSEQ;
  return (ssize_t)len;
}

static void make_items(cc_buf_t *items, char (*bufs)[32], size_t n) {
  for (size_t i = 0; i < n; i++) {
    int l = snprintf(bufs[i], 32, "item-%zu-abc", i);
    items[i] = (cc_buf_t){bufs[i], (size_t)l};
  }
}

TEST(map_bytes) {
  enum { N = 3000 };
  static char bufs[N][32];
  static cc_buf_t items[N], res[N];
  static int st[N];
  make_items(items, bufs, N);
  items[77] = (cc_buf_t){"!bad", 4};
  items[5] = (cc_buf_t){"", 0};
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  ASSERT_ERR(cc_pool_map(p, upper, NULL, items, N, res, st, &failed_idx, NULL), -EILSEQ);
  ASSERT_EQ(failed_idx, 77);
  for (size_t i = 0; i < N; i++) {
    if (i == 77) {
      ASSERT_EQ(st[i], -EILSEQ);
      ASSERT_NULL(res[i].data);
      continue;
    }
    ASSERT_EQ(st[i], 0);
    ASSERT_EQ(res[i].len, items[i].len);
    for (size_t k = 0; k < res[i].len; k++) {
      char c = ((char *)items[i].data)[k];
      ASSERT_EQ(((char *)res[i].data)[k], c >= 'a' && c <= 'z' ? c - 32 : c);
    }
  }
  cc_pool_free_results(res, N);
  cc_pool_free(p);
}

/* Results bigger than the room left in a chunk are run again in a fresh one;
 * one bigger than max_result fails with -CC_ETOOBIG. */
static ssize_t blow_up(const void *in, size_t len, void *out, size_t cap, void *ctx) {
  (void)ctx;
  size_t want = (size_t)atoi(in);
  if (want > cap)
    return -CC_ETOOBIG;
  memset(out, 'z', want);
  (void)len;
  return (ssize_t)want;
}

TEST(map_bytes_big_results) {
  enum { N = 40 };
  char bufs[N][16];
  cc_buf_t items[N], res[N];
  int st[N];
  for (int i = 0; i < N; i++) {
    snprintf(bufs[i], 16, "%d", i == 13 ? 30000 : 3000);
    items[i] = (cc_buf_t){bufs[i], strlen(bufs[i]) + 1};
  }
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2, .max_result = 8192};
  ASSERT_OK(cc_pool_new(&p, &o));
  cc_pool_map_opts_t mo = {.chunksize = 8};
  ASSERT_ERR(cc_pool_map(p, blow_up, NULL, items, N, res, st, &failed_idx, &mo),
             -CC_ETOOBIG);
  ASSERT_EQ(failed_idx, 13);
  for (int i = 0; i < N; i++)
    if (i != 13) {
      ASSERT_EQ(st[i], 0);
      ASSERT_EQ(res[i].len, 3000);
    }
  cc_pool_free_results(res, N);
  cc_pool_free(p);
}

/* max_result is the limit, exactly: a result of max_result bytes is
 * accepted, one byte more fails that item alone with -CC_ETOOBIG, and the
 * map goes on. The same for items. Before the fix the pool offered the fn
 * the whole page-rounded slot (8192 - tables + rounding), so a result of
 * max_result + 1 was accepted. */
static ssize_t echo_or_make(const void *in, size_t len, void *out, size_t cap,
                            void *ctx) {
  size_t want = len;
  if (ctx) /* make: the item is a decimal length */
    want = (size_t)atoi(in);
  if (want > cap)
    return -CC_ETOOBIG;
  if (ctx)
    memset(out, 'm', want);
  else
    memcpy(out, in, want);
  return (ssize_t)want;
}

TEST(max_result_is_exact) {
  enum { N = 12, MAX = 5000 };
  char bufs[N][16];
  cc_buf_t items[N], res[N];
  int st[N];
  for (int i = 0; i < N; i++) {
    snprintf(bufs[i], 16, "%d", i == 4 ? MAX : i == 7 ? MAX + 1 : 100 + i);
    items[i] = (cc_buf_t){bufs[i], strlen(bufs[i]) + 1};
  }
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2, .max_result = MAX};
  ASSERT_OK(cc_pool_new(&p, &o));
  ASSERT_ERR(
      cc_pool_map(p, echo_or_make, (void *)1, items, N, res, st, &failed_idx, NULL),
      -CC_ETOOBIG);
  ASSERT_EQ(failed_idx, 7);
  for (int i = 0; i < N; i++) {
    if (i == 7) {
      ASSERT_EQ(st[i], -CC_ETOOBIG);
      ASSERT_NULL(res[i].data);
      continue;
    }
    ASSERT_EQ(st[i], 0);
    ASSERT_EQ(res[i].len, i == 4 ? MAX : 100 + i);
  }
  cc_pool_free_results(res, N);

  /* Items: MAX bytes run, MAX + 1 fail without running. */
  static char big[MAX + 1];
  memset(big, 'b', sizeof big);
  cc_buf_t its[4] = {{"a", 1}, {big, MAX}, {big, MAX + 1}, {"d", 1}};
  ASSERT_ERR(cc_pool_map(p, echo_or_make, NULL, its, 4, res, st, &failed_idx, NULL),
             -CC_ETOOBIG);
  ASSERT_EQ(failed_idx, 2);
  ASSERT_EQ(st[0], 0);
  ASSERT_EQ(st[1], 0);
  ASSERT_EQ(res[1].len, MAX);
  ASSERT_EQ(st[2], -CC_ETOOBIG);
  ASSERT_EQ(st[3], 0);
  ASSERT_EQ(res[3].len, 1);
  cc_pool_free_results(res, 4);
  cc_future_t *f;
  ASSERT_ERR(cc_pool_submit(p, echo_or_make, NULL, big, MAX + 1, &f), -CC_ETOOBIG);
  ASSERT_OK(cc_pool_submit(p, echo_or_make, NULL, big, MAX, &f));
  intptr_t v;
  ASSERT_OK(cc_future_result(f, cc_deadline_in(10000), &v));
  ASSERT_EQ(((cc_buf_t *)v)->len, MAX);
  cc_future_unref(f);
  /* Records: the same limit. */
  int64_t in[1] = {3}, out[1];
  ASSERT_ERR(cc_pool_map_records(p, sq, NULL, big, MAX + 1, out, 8, 1, NULL, NULL),
             -CC_ETOOBIG);
  ASSERT_OK(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 1, NULL, NULL));
  cc_pool_free(p);
}

/* A deadline of 0 has passed, as everywhere else; CC_FOREVER waits. */
static ssize_t slow_echo(const void *in, size_t len, void *out, size_t cap, void *ctx) {
  (void)ctx;
  usleep(100 * 1000);
  if (len > cap)
    return -CC_ETOOBIG;
  memcpy(out, in, len);
  return (ssize_t)len;
}

TEST(deadline_zero_has_passed) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 1};
  ASSERT_OK(cc_pool_new(&p, &o));
  cc_buf_t items[1] = {{"x", 1}};
  cc_pool_iter_t *it;
  ASSERT_OK(cc_pool_imap(&it, p, slow_echo, NULL, items, 1, true, NULL));
  size_t idx;
  cc_buf_t r;
  int st;
  ASSERT_ERR(cc_pool_iter_next(it, &idx, &r, &st, 0), -ETIMEDOUT);
  ASSERT_ERR(cc_pool_join(p, 0), -ETIMEDOUT);
  ASSERT_OK(cc_pool_iter_next(it, &idx, &r, &st, CC_FOREVER));
  ASSERT_EQ(r.len, 1);
  free(r.data);
  cc_pool_iter_free(it);
  ASSERT_OK(cc_pool_join(p, 0)); /* idle: no wait needed */
  ASSERT_OK(cc_pool_join(p, CC_FOREVER));
  cc_pool_free(p);
}

/* An initializer that returns an error breaks the pool with that error, as
 * a failing executor initializer does. */
static int refusing_init(void *arg) {
  return (int)(intptr_t)arg;
}

TEST(failing_initializer_breaks_the_pool) {
  cc_pool_t *p;
  cc_pool_opts_t o = {
      .workers = 2, .initializer = refusing_init, .initargs = (void *)(intptr_t)-EACCES};
  ASSERT_OK(cc_pool_new(&p, &o));
  int64_t in[4] = {1, 2, 3, 4}, out[4];
  ASSERT_ERR(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 4, NULL, NULL), -EACCES);
  ASSERT_ERR(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 4, NULL, NULL), -EACCES);
  cc_pool_free(p);
}

TEST(imap_ordered_and_unordered) {
  enum { N = 500 };
  static char bufs[N][32];
  static cc_buf_t items[N];
  make_items(items, bufs, N);
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  for (int ordered = 0; ordered < 2; ordered++) {
    cc_pool_iter_t *it;
    ASSERT_OK(cc_pool_imap(&it, p, upper, NULL, items, N, ordered, NULL));
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    for (size_t k = 0; k < N; k++) {
      size_t idx;
      cc_buf_t r;
      int st;
      ASSERT_OK(cc_pool_iter_next(it, &idx, &r, &st, cc_deadline_in(10000)));
      if (ordered)
        ASSERT_EQ(idx, k);
      ASSERT_LT(idx, N);
      ASSERT_FALSE(seen[idx]);
      seen[idx] = true;
      ASSERT_EQ(st, 0);
      ASSERT_EQ(r.len, items[idx].len);
      ASSERT_EQ(((char *)r.data)[0], 'I');
      free(r.data);
    }
    size_t idx;
    cc_buf_t r;
    ASSERT_ERR(cc_pool_iter_next(it, &idx, &r, NULL, CC_FOREVER), -CC_ECLOSED);
    cc_pool_iter_free(it);
  }
  /* An iterator freed early abandons its work; the pool stays usable. */
  cc_pool_iter_t *it;
  ASSERT_OK(cc_pool_imap(&it, p, upper, NULL, items, N, true, NULL));
  cc_buf_t r;
  ASSERT_OK(cc_pool_iter_next(it, NULL, &r, NULL, cc_deadline_in(10000)));
  free(r.data);
  cc_pool_iter_free(it);
  ASSERT_OK(cc_pool_imap(&it, p, upper, NULL, items, 0, false, NULL));
  ASSERT_ERR(cc_pool_iter_next(it, NULL, &r, NULL, CC_FOREVER), -CC_ECLOSED);
  cc_pool_iter_free(it);
  cc_pool_free(p);
}

/* ---- worker faults ---------------------------------------------------------- */

/* Created before the pools so that workers share it: workers write the pid
 * that runs the "victim" item here. */
static cc_shm_t *g_shm;
typedef struct {
  _Atomic int victim_pid;
  _Atomic int kind;
} shared_t;

enum { K_SEGV = 1, K_ABORT, K_EXIT, K_SIGKILL, K_HANG };

static int faulty(const void *in, void *out, void *ctx) {
  (void)ctx;
  int64_t x = *(const int64_t *)in;
  shared_t *sh = cc_shm_ptr(g_shm);
  if (x == 37) {
    switch (atomic_load(&sh->kind)) {
    case K_SEGV: {
      volatile uintptr_t bad = 8; /* opaque to the compiler */
      *(volatile int *)bad = 1;
      break;
    }
    case K_ABORT:
      abort();
    case K_EXIT:
      exit(3);
    case K_SIGKILL:
    case K_HANG:
      atomic_store(&sh->victim_pid, getpid());
      for (;;)
        pause();
    }
  }
  *(int64_t *)out = x + 1;
  return 0;
}

static void *killer(void *arg) {
  shared_t *sh = arg;
  while (atomic_load(&sh->victim_pid) == 0)
    usleep(1000);
  kill(atomic_load(&sh->victim_pid), SIGKILL);
  return NULL;
}

static void crash_case(int kind) {
  ASSERT_OK(cc_shm_new(&g_shm, sizeof(shared_t)));
  shared_t *sh = cc_shm_ptr(g_shm);
  atomic_store(&sh->kind, kind);
  enum { N = 400 };
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++) {
    in[i] = i;
    out[i] = -1;
  }
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2, .item_timeout_ms = kind == K_HANG ? 300 : 0};
  ASSERT_OK(cc_pool_new(&p, &o));
  pid_t before[2];
  ASSERT_EQ(cc_pool_worker_pids(p, before, 2), 2);
  pthread_t th;
  if (kind == K_SIGKILL)
    pthread_create(&th, NULL, killer, sh);
  int64_t t0 = cc_now();
  cc_pool_map_opts_t mo = {.chunksize = 10};
  int r = cc_pool_map_records(p, faulty, NULL, in, 8, out, 8, N, &failed_idx, &mo);
  ASSERT_ERR(r, kind == K_HANG ? -ETIMEDOUT : -CC_EWORKER);
  ASSERT_EQ(failed_idx, 37);
  ASSERT_LT(cc_now() - t0, 5000);
  if (kind == K_SIGKILL)
    pthread_join(th, NULL);
  /* Every other item completed. */
  for (int i = 0; i < N; i++)
    if (i != 37)
      ASSERT_EQ(out[i], i + 1);
  /* The dead worker was replaced, and the pool still works. */
  pid_t after[2];
  ASSERT_EQ(cc_pool_worker_pids(p, after, 2), 2);
  ASSERT_TRUE(after[0] != before[0] || after[1] != before[1]);
  atomic_store(&sh->kind, 0);
  ASSERT_OK(cc_pool_map_records(p, faulty, NULL, in, 8, out, 8, N, NULL, NULL));
  ASSERT_EQ(out[37], 38);
  cc_pool_free(p);
  cc_shm_free(g_shm);
}

TEST(crash_segfault) {
  crash_case(K_SEGV);
}
TEST(crash_abort) {
  crash_case(K_ABORT);
}
TEST(crash_exit_mid_task) {
  crash_case(K_EXIT);
}
TEST(crash_sigkill_from_outside) {
  crash_case(K_SIGKILL);
}
TEST(item_timeout) {
  crash_case(K_HANG);
}

static int bad_init(void *arg) {
  (void)arg;
  abort();
}

TEST(initializer_crash_does_not_hang) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2, .initializer = bad_init};
  ASSERT_OK(cc_pool_new(&p, &o));
  int64_t in[4] = {1, 2, 3, 4}, out[4];
  int r = cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 4, NULL, NULL);
  ASSERT_TRUE(r == -CC_EWORKER || r == -CC_ECLOSED);
  cc_pool_free(p);
}

/* ---- initializer, maxtasksperchild, progress --------------------------------- */

static int64_t g_init_value;

static int good_init(void *arg) {
  g_init_value = (int64_t)(intptr_t)arg;
  return 0;
}

static int whoami(const void *in, void *out, void *ctx) {
  (void)in;
  (void)ctx;
  int64_t *o = out;
  o[0] = getpid();
  o[1] = g_init_value;
  return 0;
}

static _Atomic size_t g_prog_done, g_prog_total, g_prog_calls;

static void on_progress(size_t done, size_t total, void *arg) {
  (void)arg;
  atomic_store(&g_prog_done, done);
  atomic_store(&g_prog_total, total);
  atomic_fetch_add(&g_prog_calls, 1);
}

TEST(initializer_maxtasks_progress) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2,
                      .initializer = good_init,
                      .initargs = (void *)(intptr_t)42,
                      .maxtasksperchild = 10,
                      .progress = on_progress,
                      .progress_bar = true};
  ASSERT_OK(cc_pool_new(&p, &o));
  enum { N = 100 };
  int64_t in[N], out[N][2];
  cc_pool_map_opts_t mo = {.chunksize = 5};
  ASSERT_OK(cc_pool_map_records(p, whoami, NULL, in, 8, out, 16, N, NULL, &mo));
  int distinct = 0;
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(out[i][1], 42);
    bool dup = false;
    for (int k = 0; k < i; k++)
      dup |= out[k][0] == out[i][0];
    distinct += !dup;
  }
  /* 100 items, a worker retires after 10: at least 10 processes ran them. */
  ASSERT_GE(distinct, 10);
  ASSERT_EQ(atomic_load(&g_prog_done), N);
  ASSERT_EQ(atomic_load(&g_prog_total), N);
  ASSERT_GE(atomic_load(&g_prog_calls), 1);
  cc_pool_free(p);
}

/* ---- terminate, deadlines, close/join ---------------------------------------- */

static int slow(const void *in, void *out, void *ctx) {
  (void)ctx;
  usleep(20 * 1000);
  *(int64_t *)out = *(const int64_t *)in;
  return 0;
}

static void *terminator(void *arg) {
  usleep(150 * 1000);
  cc_pool_terminate(arg);
  return NULL;
}

TEST(terminate_during_map) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  enum { N = 400 };
  int64_t in[N], out[N];
  memset(in, 0, sizeof in);
  pthread_t th;
  pthread_create(&th, NULL, terminator, p);
  int64_t t0 = cc_now();
  cc_pool_map_opts_t mo = {.chunksize = 1};
  ASSERT_ERR(cc_pool_map_records(p, slow, NULL, in, 8, out, 8, N, NULL, &mo),
             -CC_ECLOSED);
  ASSERT_LT(cc_now() - t0, 3000);
  pthread_join(th, NULL);
  ASSERT_ERR(cc_pool_map_records(p, slow, NULL, in, 8, out, 8, 1, NULL, NULL),
             -CC_ECLOSED);
  cc_pool_free(p);
}

TEST(map_deadline_then_reuse) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  enum { N = 200 };
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  cc_pool_map_opts_t mo = {.chunksize = 1, .deadline = cc_deadline_in(100)};
  ASSERT_ERR(cc_pool_map_records(p, slow, NULL, in, 8, out, 8, N, NULL, &mo), -ETIMEDOUT);
  /* The abandoned work drains; the pool serves the next map. */
  ASSERT_OK(cc_pool_map_records(p, sq, NULL, in, 8, out, 8, N, NULL, NULL));
  ASSERT_EQ(out[N - 1], (int64_t)(N - 1) * (N - 1));
  cc_pool_free(p);
}

/* ---- coroutines --------------------------------------------------------------- */

static intptr_t ticker(void *arg) {
  int *ticks = arg;
  for (;;) {
    if (cc_sleep(5) < 0)
      break;
    (*ticks)++;
  }
  return 0;
}

static intptr_t co_map(void *arg) {
  cc_pool_t *p = arg;
  int ticks = 0;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, ticker, &ticks));
  enum { N = 30 };
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  cc_pool_map_opts_t mo = {.chunksize = 1};
  ASSERT_OK(
      cc_pool_map_records(p, slow, NULL, in, 8, out, 8, N, NULL, &mo)); /* ~300 ms */
  for (int i = 0; i < N; i++)
    ASSERT_EQ(out[i], i);
  ASSERT_GE(ticks, 10); /* the loop kept running meanwhile */
  cc_cancel(t);
  cc_join(t, NULL);
  return 0;
}

TEST(map_in_coroutine) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  cc_test_run(co_map, p);
  cc_pool_free(p);
}

/* ---- futures -------------------------------------------------------------------- */

TEST(submit_futures_close_join) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  enum { N = 50 };
  cc_future_t *f[N];
  char msg[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(msg[i], 16, "%s%d", i == 7 ? "!" : "f", i);
    ASSERT_OK(cc_pool_submit(p, upper, NULL, msg[i], strlen(msg[i]), &f[i]));
  }
  cc_pool_close(p);
  cc_future_t *g;
  ASSERT_ERR(cc_pool_submit(p, upper, NULL, "x", 1, &g), -CC_ECLOSED);
  ASSERT_OK(cc_pool_join(p, cc_deadline_in(10000)));
  for (int i = 0; i < N; i++) {
    ASSERT_TRUE(cc_future_done(f[i]));
    intptr_t v;
    int r = cc_future_result(f[i], CC_FOREVER, &v);
    if (i == 7) {
      ASSERT_ERR(r, -EILSEQ);
    } else {
      ASSERT_OK(r);
      cc_buf_t *b = (cc_buf_t *)v;
      ASSERT_EQ(b->len, strlen(msg[i]));
      ASSERT_EQ(((char *)b->data)[0], 'F');
    }
    cc_future_unref(f[i]);
  }
  cc_pool_free(p);
}

TEST(submit_then_terminate) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 1};
  ASSERT_OK(cc_pool_new(&p, &o));
  cc_future_t *f[5];
  int64_t x = 0;
  for (int i = 0; i < 5; i++)
    ASSERT_OK(cc_pool_submit(p, (cc_pool_fn)upper, NULL, &x, 8, &f[i]));
  ASSERT_OK(cc_future_cancel(f[4]) == -EBUSY ? 0 : 0);
  cc_pool_terminate(p);
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(cc_future_wait(f[i], cc_deadline_in(5000)));
    cc_future_unref(f[i]);
  }
  cc_pool_free(p);
}

/* ---- cancellation and Ctrl-C ------------------------------------------------------ */

typedef struct {
  cc_pool_t *pool;
  int result;
} cmap_t;

static intptr_t long_map(void *arg) {
  cmap_t *c = arg;
  enum { N = 2000 };
  static int64_t in[N], out[N];
  cc_pool_map_opts_t mo = {.chunksize = 1};
  c->result =
      cc_pool_map_records(c->pool, slow, NULL, in, 8, out, 8, N, NULL, &mo); /* ~20 s */
  return 0;
}

static intptr_t co_cancel(void *arg) {
  cmap_t *c = arg;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, long_map, c));
  cc_sleep(100);
  int64_t t0 = cc_now();
  cc_cancel(t);
  ASSERT_OK(cc_join(t, NULL));
  ASSERT_LT(cc_now() - t0, 1000);
  ASSERT_ERR(c->result, -ECANCELED);
  return 0;
}

TEST(cancel_map_in_coroutine) {
  cmap_t c = {0};
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&c.pool, &o));
  cc_test_run(co_cancel, &c);
  /* The pool is still usable after an abandoned map. */
  int64_t in[3] = {1, 2, 3}, out[3];
  ASSERT_OK(cc_pool_map_records(c.pool, sq, NULL, in, 8, out, 8, 3, NULL, NULL));
  ASSERT_EQ(out[2], 9);
  cc_pool_free(c.pool);
}

/* Ctrl-C at a terminal sends SIGINT to the whole foreground group: the
 * workers ignore it, the loop turns it into cancellation of the main
 * coroutine, whose map returns -ECANCELED; freeing the pool then reaps every
 * worker. */
static intptr_t ctrl_c(void *arg) {
  cc_pool_t *p = arg;
  cc_sleep(100);
  pid_t pids[2];
  int n = cc_pool_worker_pids(p, pids, 2);
  for (int i = 0; i < n; i++)
    kill(pids[i], SIGINT);
  kill(getpid(), SIGINT);
  return 0;
}

static intptr_t co_ctrl_c_main(void *arg) {
  cmap_t *c = arg;
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, ctrl_c, c->pool));
  long_map(c);
  cc_join(t, NULL);
  return c->result;
}

TEST(ctrl_c_stops_map) {
  cmap_t c = {0};
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&c.pool, &o));
  int64_t t0 = cc_now();
  intptr_t res = 0;
  int r = cc_run(co_ctrl_c_main, &c, &res);
  ASSERT_TRUE(r == -ECANCELED || res == -ECANCELED);
  ASSERT_ERR(c.result, -ECANCELED);
  ASSERT_LT(cc_now() - t0, 3000);
  pid_t pids[2];
  ASSERT_EQ(cc_pool_worker_pids(c.pool, pids, 2), 2); /* workers survived SIGINT */
  cc_pool_free(c.pool);
  for (int i = 0; i < 2; i++)
    ASSERT_EQ(kill(pids[i], 0), -1);
}

/* ---- several callers at once --------------------------------------------------------
 */

typedef struct {
  cc_pool_t *pool;
  int64_t base;
  int ok;
} mt_arg_t;

static void *mt_map(void *arg) {
  mt_arg_t *a = arg;
  enum { N = 50000 };
  int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
  a->ok = 1;
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < N; i++)
      in[i] = a->base + i + round;
    if (cc_pool_map_records(a->pool, sq, NULL, in, 8, out, 8, N, NULL, NULL) != 0)
      a->ok = 0;
    for (int i = 0; i < N; i++)
      if (out[i] != in[i] * in[i])
        a->ok = 0;
  }
  free(in);
  free(out);
  return NULL;
}

TEST(maps_from_several_threads) {
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  pthread_t th[3];
  mt_arg_t a[3];
  for (int i = 0; i < 3; i++) {
    a[i] = (mt_arg_t){p, (int64_t)i * 1000000, 0};
    pthread_create(&th[i], NULL, mt_map, &a[i]);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    ASSERT_TRUE(a[i].ok);
  }
  int64_t t0 = cc_now();
  cc_pool_free(p);
  ASSERT_LT(cc_now() - t0, 1000); /* idle workers stop at once (no hang) */
}

/* ---- the parent dies outright
 * ---------------------------------------------------------- */

/* True while pid runs (not gone, not a zombie waiting for init). */
static bool running(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *rp = strrchr(buf, ')');
  return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static intptr_t doomed_parent(void *arg) {
  pid_t *pids = cc_shm_ptr(arg);
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  if (cc_pool_new(&p, &o) < 0)
    return 1;
  cc_pool_worker_pids(p, pids, 2);
  kill(getpid(), SIGKILL); /* no clean-up of any kind */
  return 0;
}

TEST(no_orphans_when_parent_is_killed) {
  cc_shm_t *s;
  ASSERT_OK(cc_shm_new(&s, 2 * sizeof(pid_t)));
  pid_t *pids = cc_shm_ptr(s);
  cc_process_t *c;
  ASSERT_OK(cc_process_start(&c, doomed_parent, s, NULL));
  int code = 0;
  ASSERT_OK(cc_process_join(c, cc_deadline_in(10000), &code));
  ASSERT_EQ(code, -SIGKILL);
  cc_process_free(c);
  ASSERT_GT(pids[0], 0);
  ASSERT_GT(pids[1], 0);
  /* PR_SET_PDEATHSIG kills the workers with their parent. */
  int64_t until = cc_now() + 5000;
  while ((running(pids[0]) || running(pids[1])) && cc_now() < until)
    usleep(2000);
  ASSERT_FALSE(running(pids[0]));
  ASSERT_FALSE(running(pids[1]));
  cc_shm_free(s);
}

/* ---- arrays in shared memory: used in place
 * --------------------------------------------- */

static int64_t *shm_array(cc_shm_t **s, size_t n) {
  ASSERT_OK(cc_shm_new(s, n * sizeof(int64_t)));
  return cc_shm_ptr(*s);
}

static void check_squares(const int64_t *in, const int64_t *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (out[i] != in[i] * in[i])
      CC_TEST_FAIL("item %zu: %lld", i, (long long)out[i]);
}

/* out = 1 if the worker was handed the input record in place (its address
 * lies in the caller's array), else 0 (a copy in the pool's ring). The range
 * lives in shared memory so that the parent can change it after the fork. */
typedef struct {
  const char *lo, *hi;
} range_t;
static range_t *g_range;

static int in_place(const void *in, void *out, void *ctx) {
  (void)ctx;
  const char *c = in;
  *(int64_t *)out = c >= g_range->lo && c < g_range->hi;
  return 0;
}

TEST(map_records_in_shared_memory) {
  size_t n = 300000;
  cc_shm_t *si, *so;
  int64_t *in = shm_array(&si, n), *out = shm_array(&so, n); /* before the pool */
  int64_t *pin = malloc(n * sizeof *pin), *pout = malloc(n * sizeof *pout);
  for (size_t i = 0; i < n; i++)
    in[i] = pin[i] = (int64_t)i - 7;
  cc_shm_t *rs;
  ASSERT_OK(cc_shm_new(&rs, sizeof(range_t)));
  g_range = cc_shm_ptr(rs);
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  ASSERT_OK(
      cc_pool_map_records(p, sq, NULL, in, 8, out, 8, n, NULL, NULL)); /* both in place */
  check_squares(in, out, n);
  memset(out, 0, n * 8);
  ASSERT_OK(
      cc_pool_map_records(p, sq, NULL, pin, 8, out, 8, n, NULL, NULL)); /* output only */
  check_squares(pin, out, n);
  ASSERT_OK(
      cc_pool_map_records(p, sq, NULL, in, 8, pout, 8, n, NULL, NULL)); /* input only */
  check_squares(in, pout, n);
  /* Sub-ranges of a block work too. */
  memset(out, 0, n * 8);
  ASSERT_OK(cc_pool_map_records(p, sq, NULL, in + 100, 8, out + 5, 8, 1000, NULL, NULL));
  check_squares(in + 100, out + 5, 1000);
  ASSERT_EQ(out[4], 0);
  ASSERT_EQ(out[1005], 0);
  /* The records were really used in place, and a private array was not. */
  g_range->lo = (const char *)in;
  g_range->hi = (const char *)(in + n);
  ASSERT_OK(cc_pool_map_records(p, in_place, NULL, in, 8, out, 8, n, NULL, NULL));
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(out[i], 1);
  g_range->lo = (const char *)pin;
  g_range->hi = (const char *)(pin + n);
  ASSERT_OK(cc_pool_map_records(p, in_place, NULL, pin, 8, out, 8, n, NULL, NULL));
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(out[i], 0);
  /* A block made after the workers were forked is not mapped in them: the
   * pool copies, with the same results. */
  cc_shm_t *late;
  int64_t *lout = shm_array(&late, n);
  ASSERT_OK(cc_pool_map_records(p, sq, NULL, in, 8, lout, 8, n, NULL, NULL));
  check_squares(in, lout, n);
  memcpy(lout, in, n * 8);
  g_range->lo = (const char *)lout;
  g_range->hi = (const char *)(lout + n);
  ASSERT_OK(cc_pool_map_records(p, in_place, NULL, lout, 8, out, 8, n, NULL, NULL));
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(out[i], 0);
  cc_pool_free(p);
  cc_shm_free(late);
  cc_shm_free(rs);
  cc_shm_free(si);
  cc_shm_free(so);
  free(pin);
  free(pout);
}

/* A worker forked after the block was made (a replacement) uses it in place
 * while the other worker still copies. */
TEST(shared_memory_after_worker_replaced) {
  ASSERT_OK(cc_shm_new(&g_shm, sizeof(shared_t)));
  shared_t *sh = cc_shm_ptr(g_shm);
  atomic_store(&sh->kind, K_ABORT);
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  enum { N = 100 };
  cc_shm_t *si, *so;
  int64_t *in = shm_array(&si, N), *out = shm_array(&so, N);
  for (int i = 0; i < N; i++)
    in[i] = i;
  cc_pool_map_opts_t mo = {.chunksize = 3};
  ASSERT_ERR(cc_pool_map_records(p, faulty, NULL, in, 8, out, 8, N, &failed_idx, &mo),
             -CC_EWORKER);
  ASSERT_EQ(failed_idx, 37);
  for (int i = 0; i < N; i++)
    if (i != 37)
      ASSERT_EQ(out[i], i + 1);
  atomic_store(&sh->kind, 0);
  memset(out, 0, N * 8);
  ASSERT_OK(cc_pool_map_records(p, faulty, NULL, in, 8, out, 8, N, NULL, &mo));
  for (int i = 0; i < N; i++)
    ASSERT_EQ(out[i], i + 1);
  cc_pool_free(p);
  cc_shm_free(si);
  cc_shm_free(so);
  cc_shm_free(g_shm);
}

/* An abandoned map whose output is shared memory returns only when no worker
 * can write it any more. */
TEST(abandoned_map_stops_writing_shared_output) {
  enum { N = 200 };
  cc_shm_t *si, *so;
  int64_t *in = shm_array(&si, N), *out = shm_array(&so, N);
  for (int i = 0; i < N; i++)
    in[i] = i + 1;
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 2};
  ASSERT_OK(cc_pool_new(&p, &o));
  cc_pool_map_opts_t mo = {.chunksize = 1, .deadline = cc_deadline_in(60)};
  ASSERT_ERR(cc_pool_map_records(p, slow, NULL, in, 8, out, 8, N, NULL, &mo), -ETIMEDOUT);
  int64_t snap[N];
  memcpy(snap, out, sizeof snap);
  usleep(100 * 1000);
  ASSERT_EQ(memcmp(snap, out, sizeof snap), 0);
  cc_pool_free(p);
  cc_shm_free(si);
  cc_shm_free(so);
}

/* A coroutine whose map with an output in place is abandoned (deadline)
 * waits for the chunks still writing that output by parking, not by
 * blocking its loop: here the chunk can finish only once another coroutine
 * of the same loop has run (it sets a flag the worker waits for). Before
 * the fix the loop thread sat in pthread_cond_wait, the setter never ran,
 * and the worker gave up after 3 s (out = 2); the timers make the order
 * deterministic (the map's deadline, 30 ms, comes before the setter's
 * 80 ms). */
static int wait_for_flag(const void *in, void *out, void *ctx) {
  (void)in;
  _Atomic int *flag = ctx;
  int64_t t0 = cc_now();
  while (!atomic_load(flag) && cc_now() - t0 < 3000)
    usleep(1000);
  *(int64_t *)out = atomic_load(flag) ? 1 : 2;
  return 0;
}

typedef struct {
  cc_pool_t *pool;
  _Atomic int *flag;
  int64_t *in, *out;
} inplace_co_t;

static intptr_t flag_setter(void *arg) {
  inplace_co_t *c = arg;
  cc_sleep(80);
  atomic_store(c->flag, 1);
  return 0;
}

static intptr_t co_inplace_abandon(void *arg) {
  inplace_co_t *c = arg;
  cc_pool_map_opts_t mo = {.chunksize = 1, .deadline = cc_deadline_in(30)};
  cc_task_t *t;
  ASSERT_OK(cc_spawn(&t, flag_setter, c));
  ASSERT_ERR(cc_pool_map_records(c->pool, wait_for_flag, (void *)c->flag, c->in, 8,
                                 c->out, 8, 1, NULL, &mo),
             -ETIMEDOUT);
  ASSERT_EQ(c->out[0], 1); /* written in place before the map returned */
  ASSERT_OK(cc_join(t, NULL));
  return 0;
}

TEST(abandoned_map_in_a_coroutine_parks_for_chunks_in_place) {
  cc_shm_t *si, *so, *sf;
  int64_t *in = shm_array(&si, 1), *out = shm_array(&so, 1);
  ASSERT_OK(cc_shm_new(&sf, sizeof(_Atomic int)));
  inplace_co_t c = {.flag = cc_shm_ptr(sf), .in = in, .out = out};
  atomic_store(c.flag, 0);
  out[0] = 0;
  cc_pool_opts_t o = {.workers = 1};
  ASSERT_OK(cc_pool_new(&c.pool, &o));
  cc_test_run(co_inplace_abandon, &c);
  cc_pool_free(c.pool);
  cc_shm_free(si);
  cc_shm_free(so);
  cc_shm_free(sf);
}

/* A child process started from a coroutine starts outside any loop (the
 * runtime's atfork handler): a pool made and waited on there waits as a
 * plain thread. */
static intptr_t child_runs_a_pool(void *arg) {
  (void)arg;
  cc_pool_t *p;
  cc_pool_opts_t o = {.workers = 1};
  if (cc_pool_new(&p, &o) < 0)
    return 1;
  int64_t in[100], out[100];
  for (int i = 0; i < 100; i++)
    in[i] = i;
  int r = cc_pool_map_records(p, sq, NULL, in, 8, out, 8, 100, NULL, NULL);
  cc_pool_free(p);
  if (r < 0)
    return 2;
  for (int i = 0; i < 100; i++)
    if (out[i] != (int64_t)i * i)
      return 3;
  return 0;
}

static intptr_t co_start_pool_child(void *arg) {
  (void)arg;
  cc_process_t *c;
  ASSERT_OK(cc_process_start(&c, child_runs_a_pool, NULL, NULL));
  int code = -1;
  ASSERT_OK(cc_process_join(c, cc_deadline_in(10000), &code));
  ASSERT_EQ(code, 0);
  cc_process_free(c);
  return 0;
}

TEST(pool_in_a_child_forked_from_a_coroutine) {
#if defined(__SANITIZE_THREAD__)
  SKIP("TSan does not support starting threads after a multi-threaded fork");
#endif
  cc_test_run(co_start_pool_child, NULL);
}

/* The MPI side of tests/mpi: one SPMD program, run by test_mpi.c under
 * `mpirun --oversubscribe -n 4 mpi_cases <case> [args]`. Every rank makes
 * the same calls; rank 0 checks the answers, prints "OK <case>" and exits 0,
 * or prints what is wrong and exits 1 (MPI_Abort takes the job down). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <concur.h>
#include <concur/mpi.h>
#include <mpi.h>

static cc_mpi_t *M;

#define CHECK(cond, ...)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "mpi_cases:%d: rank %d: check failed: %s: ", __LINE__,             \
              M ? cc_mpi_rank(M) : -1, #cond);                                           \
      fprintf(stderr, __VA_ARGS__);                                                      \
      fprintf(stderr, "\n");                                                             \
      MPI_Abort(MPI_COMM_WORLD, 1);                                                      \
    }                                                                                    \
  } while (0)

static int my_rank(void) {
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  return r ? atoi(r) : 0;
}

static void spin_us(long us) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do
    clock_gettime(CLOCK_MONOTONIC, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* ---- work functions ------------------------------------------------------- */

static int square(const void *in, void *out, void *ctx) {
  int64_t x = *(const int64_t *)in;
  *(int64_t *)out = x * x + 1;
  return 0;
}

static int square_fail(const void *in, void *out, void *ctx) {
  int64_t x = *(const int64_t *)in;
  if (x == 500 || x == 777)
    return -EDOM;
  *(int64_t *)out = x * x;
  return 0;
}

typedef struct {
  int64_t value, rank;
} tagged_t;

/* Uneven: one item in 10 costs 20 ms, the others 100 us. */
static int uneven(const void *in, void *out, void *ctx) {
  int64_t x = *(const int64_t *)in;
  spin_us(x % 10 == 0 ? 20000 : 100);
  *(tagged_t *)out = (tagged_t){x * 3, my_rank()};
  return 0;
}

static ssize_t upper(const void *in, size_t len, void *out, size_t cap, void *ctx) {
  if (len >= 3 && memcmp(in, "bad", 3) == 0)
    return -EILSEQ;
  if (len > cap)
    return -CC_ETOOBIG;
  for (size_t i = 0; i < len; i++) {
    char c = ((const char *)in)[i];
    ((char *)out)[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
  }
  return (ssize_t)len;
}

#define BIG (8u << 20)
static int big_rec(const void *in, void *out, void *ctx) {
  const unsigned char *i = in;
  unsigned char *o = out;
  for (size_t k = 0; k < BIG; k++)
    o[k] = (unsigned char)(i[k] ^ 0x5a);
  return 0;
}

static int kill_at = -1;
static int slow_square(const void *in, void *out, void *ctx) {
  int64_t x = *(const int64_t *)in;
  if (x == kill_at) {
    /* This rank dies: the local pool worker kills its parent, the rank. */
    kill(getppid(), SIGKILL);
    pause();
  }
  spin_us(1000);
  *(int64_t *)out = x * x;
  return 0;
}

static int init_exit(void *arg) {
  _exit(3);
}

/* ---- cases -------------------------------------------------------------- */

static size_t last_done, last_total, progress_calls;
static void on_progress(size_t done, size_t total, void *arg) {
  last_done = done;
  last_total = total;
  progress_calls++;
}

static int64_t *alloc_seq(size_t n) {
  int64_t *v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = (int64_t)i;
  return v;
}

static void case_million(void) {
  size_t n = 1000000;
  int64_t *in = NULL, *out = NULL;
  if (cc_mpi_is_root(M)) {
    in = alloc_seq(n);
    out = calloc(n, sizeof *out);
  }
  CHECK(cc_mpi_thread_level(M) >= MPI_THREAD_FUNNELED, "thread level %d",
        cc_mpi_thread_level(M));
  int r = cc_mpi_map_records(M, square, NULL, in, 8, out, 8, n, NULL);
  CHECK(r == 0, "%s", cc_strerror(r));
  if (cc_mpi_is_root(M)) {
    for (size_t i = 0; i < n; i++)
      CHECK(out[i] == (int64_t)i * (int64_t)i + 1, "out[%zu] = %lld", i,
            (long long)out[i]);
    CHECK(last_done == n && last_total == n && progress_calls >= 1, "progress %zu/%zu",
          last_done, last_total);
    printf("ranks=%d thread_level=%d local_workers_root=%d\n", cc_mpi_size(M),
           cc_mpi_thread_level(M), cc_mpi_local_workers(M));
  }
  free(in);
  free(out);
}

static void case_errors(void) {
  size_t n = 1000;
  int64_t *in = NULL, *out = NULL;
  cc_buf_t *items = NULL, *res = NULL;
  int *st = NULL;
  char(*txt)[16] = NULL;
  if (cc_mpi_is_root(M)) {
    in = alloc_seq(n);
    out = calloc(n, sizeof *out);
    items = calloc(n, sizeof *items);
    res = calloc(n, sizeof *res);
    st = calloc(n, sizeof *st);
    txt = calloc(n, sizeof *txt);
    for (size_t i = 0; i < n; i++) {
      snprintf(txt[i], sizeof txt[i], i % 7 == 3 ? "bad%zu" : "item%zu", i);
      items[i] = (cc_buf_t){txt[i], strlen(txt[i])};
    }
  }
  int r = cc_mpi_map_records(M, square_fail, NULL, in, 8, out, 8, n, NULL);
  if (cc_mpi_is_root(M)) {
    CHECK(r == -EDOM, "records: %s", cc_strerror(r));
    CHECK(cc_mpi_failed_index(M) == 500, "failed index %zu", cc_mpi_failed_index(M));
    for (size_t i = 0; i < n; i++)
      if (i != 500 && i != 777)
        CHECK(out[i] == (int64_t)(i * i), "out[%zu]", i);
  } else {
    CHECK(r == 0, "worker: %s", cc_strerror(r));
  }
  r = cc_mpi_map(M, upper, NULL, items, n, res, st, NULL);
  if (cc_mpi_is_root(M)) {
    CHECK(r == -EILSEQ, "bytes: %s", cc_strerror(r));
    CHECK(cc_mpi_failed_index(M) == 3, "failed index %zu", cc_mpi_failed_index(M));
    for (size_t i = 0; i < n; i++) {
      if (i % 7 == 3) {
        CHECK(st[i] == -EILSEQ && res[i].data == NULL, "item %zu status %d", i, st[i]);
        continue;
      }
      char want[16];
      snprintf(want, sizeof want, "ITEM%zu", i);
      CHECK(st[i] == 0 && res[i].len == strlen(want) &&
                memcmp(res[i].data, want, res[i].len) == 0,
            "item %zu", i);
    }
    cc_pool_free_results(res, n);
  }
  free(in);
  free(out);
  free(items);
  free(res);
  free(st);
  free(txt);
}

static void case_init_fail(void) {
  size_t n = 100;
  int64_t *in = NULL, *out = NULL;
  if (cc_mpi_is_root(M)) {
    in = alloc_seq(n);
    out = calloc(n, sizeof *out);
  }
  int r = cc_mpi_map_records(M, square, NULL, in, 8, out, 8, n, NULL);
  if (cc_mpi_is_root(M)) {
    CHECK(r == -CC_EWORKER, "%s", cc_strerror(r));
    CHECK(cc_mpi_failed_index(M) == 0, "failed index %zu", cc_mpi_failed_index(M));
  }
  free(in);
  free(out);
}

static void case_uneven(void) {
  size_t n = 600;
  int64_t *in = NULL;
  tagged_t *out = NULL;
  if (cc_mpi_is_root(M)) {
    in = alloc_seq(n);
    out = calloc(n, sizeof *out);
  }
  int r = cc_mpi_map_records(M, uneven, NULL, in, sizeof *in, out, sizeof *out, n, NULL);
  CHECK(r == 0, "%s", cc_strerror(r));
  if (cc_mpi_is_root(M)) {
    int per_rank[64] = {0};
    for (size_t i = 0; i < n; i++) {
      CHECK(out[i].value == (int64_t)i * 3, "out[%zu]", i);
      CHECK(out[i].rank >= 1 && out[i].rank < cc_mpi_size(M), "rank %lld",
            (long long)out[i].rank);
      per_rank[out[i].rank]++;
    }
    for (int w = 1; w < cc_mpi_size(M); w++) {
      CHECK(per_rank[w] > 0, "rank %d did nothing", w);
      printf("rank %d: %d items\n", w, per_rank[w]);
    }
  }
  free(in);
  free(out);
}

static void case_zero_one(void) {
  int64_t in[1] = {7}, out[1] = {0};
  int r = cc_mpi_map_records(M, square, NULL, in, 8, out, 8, 0, NULL);
  CHECK(r == 0, "0 records: %s", cc_strerror(r));
  r = cc_mpi_map_records(M, square, NULL, in, 8, out, 8, 1, NULL);
  CHECK(r == 0, "1 record: %s", cc_strerror(r));
  if (cc_mpi_is_root(M))
    CHECK(out[0] == 50, "out %lld", (long long)out[0]);
  cc_buf_t item = {"abc", 3}, res = {NULL, 0};
  int st = 1;
  r = cc_mpi_map(M, upper, NULL, &item, 0, &res, &st, NULL);
  CHECK(r == 0, "0 bytes: %s", cc_strerror(r));
  r = cc_mpi_map(M, upper, NULL, &item, 1, &res, &st, NULL);
  CHECK(r == 0, "1 bytes: %s", cc_strerror(r));
  if (cc_mpi_is_root(M)) {
    CHECK(st == 0 && res.len == 3 && memcmp(res.data, "ABC", 3) == 0, "res");
    free(res.data);
  }
  cc_mpi_iter_t *it;
  r = cc_mpi_imap(&it, M, upper, NULL, &item, 0, false, NULL);
  CHECK(r == 0, "imap 0: %s", cc_strerror(r));
  size_t idx;
  r = cc_mpi_iter_next(it, &idx, &res, &st);
  CHECK(r == -CC_ECLOSED, "imap 0 next: %s", cc_strerror(r));
  cc_mpi_iter_free(it);
}

static void case_imap(void) {
  size_t n = 5000;
  cc_buf_t *items = NULL;
  char(*txt)[16] = NULL;
  if (cc_mpi_is_root(M)) {
    items = calloc(n, sizeof *items);
    txt = calloc(n, sizeof *txt);
    for (size_t i = 0; i < n; i++) {
      snprintf(txt[i], sizeof txt[i], "w%zu", i);
      items[i] = (cc_buf_t){txt[i], strlen(txt[i])};
    }
  }
  for (int ordered = 0; ordered < 2; ordered++) {
    cc_mpi_iter_t *it;
    int r = cc_mpi_imap(&it, M, upper, NULL, items, n, ordered, NULL);
    CHECK(r == 0, "imap: %s", cc_strerror(r));
    char *seen = calloc(n, 1);
    size_t got = 0, idx;
    cc_buf_t res;
    int st;
    while ((r = cc_mpi_iter_next(it, &idx, &res, &st)) == 0) {
      CHECK(idx < n && !seen[idx], "index %zu", idx);
      if (ordered)
        CHECK(idx == got, "ordered: %zu at %zu", idx, got);
      seen[idx] = 1;
      char want[16];
      snprintf(want, sizeof want, "W%zu", idx);
      CHECK(st == 0 && res.len == strlen(want) && memcmp(res.data, want, res.len) == 0,
            "item %zu", idx);
      free(res.data);
      got++;
    }
    CHECK(r == -CC_ECLOSED, "end: %s", cc_strerror(r));
    CHECK(got == (cc_mpi_is_root(M) ? n : 0), "got %zu", got);
    cc_mpi_iter_free(it);
    free(seen);
  }
  /* Freed before the end: the rest is abandoned, the next map still works. */
  cc_mpi_iter_t *it;
  int r = cc_mpi_imap(&it, M, upper, NULL, items, n, false, NULL);
  CHECK(r == 0, "imap: %s", cc_strerror(r));
  size_t idx;
  cc_buf_t res;
  int st;
  if (cc_mpi_is_root(M)) {
    CHECK(cc_mpi_iter_next(it, &idx, &res, &st) == 0, "first");
    free(res.data);
  }
  cc_mpi_iter_free(it);
  case_zero_one();
  free(items);
  free(txt);
}

static void case_big(void) {
  size_t n = 5;
  unsigned char *in = NULL, *out = NULL;
  if (cc_mpi_is_root(M)) {
    in = malloc(n * BIG);
    out = calloc(n, BIG);
    CHECK(in && out, "memory");
    for (size_t i = 0; i < n * BIG; i++)
      in[i] = (unsigned char)(i * 7 + i / BIG);
  }
  int r = cc_mpi_map_records(M, big_rec, NULL, in, BIG, out, BIG, n, NULL);
  CHECK(r == 0, "%s", cc_strerror(r));
  if (cc_mpi_is_root(M))
    for (size_t i = 0; i < n * BIG; i++)
      CHECK(out[i] == (unsigned char)(in[i] ^ 0x5a), "byte %zu", i);
  free(in);
  free(out);
}

/* kill <checkpoint> [resume]: 3000 slow items; without resume the rank that
 * gets item 600 dies. */
static void case_kill(bool resume) {
  size_t n = 3000;
  int64_t *in = NULL, *out = NULL;
  if (cc_mpi_is_root(M)) {
    in = alloc_seq(n);
    out = calloc(n, sizeof *out);
  }
  int r = cc_mpi_map_records(M, slow_square, NULL, in, 8, out, 8, n, NULL);
  CHECK(r == 0, "%s", cc_strerror(r));
  if (cc_mpi_is_root(M)) {
    for (size_t i = 0; i < n; i++)
      CHECK(out[i] == (int64_t)(i * i), "out[%zu]", i);
    printf("resumed=%zu of %zu\n", cc_mpi_resumed_items(M), n);
    CHECK(!resume || cc_mpi_resumed_items(M) > 0, "nothing resumed");
  }
  free(in);
  free(out);
}

/* A map past its deadline returns -ETIMEDOUT on rank 0 (the chunks in
 * flight are waited for), and the next map works. */
static void case_deadline(void) {
  size_t n = 3000;
  int64_t *in = NULL, *out = NULL;
  if (cc_mpi_is_root(M)) {
    in = alloc_seq(n);
    out = calloc(n, sizeof *out);
  }
  cc_pool_map_opts_t mo = {.deadline = cc_now() + 150};
  int64_t t0 = cc_now();
  int r = cc_mpi_map_records(M, slow_square, NULL, in, 8, out, 8, n, &mo);
  if (cc_mpi_is_root(M)) {
    CHECK(r == -ETIMEDOUT, "%s", cc_strerror(r));
    CHECK(cc_now() - t0 < 2000, "took %lld ms", (long long)(cc_now() - t0));
  } else {
    CHECK(r == 0, "worker: %s", cc_strerror(r));
  }
  r = cc_mpi_map_records(M, square, NULL, in, 8, out, 8, n, NULL);
  CHECK(r == 0, "after: %s", cc_strerror(r));
  if (cc_mpi_is_root(M))
    for (size_t i = 0; i < n; i++)
      CHECK(out[i] == (int64_t)(i * i) + 1, "out[%zu]", i);
  free(in);
  free(out);
}

int main(int argc, char **argv) {
  const char *c = argc > 1 ? argv[1] : "";
  cc_mpi_opts_t o = {.progress = on_progress, .workers = 2};
  bool resume = argc > 3 && strcmp(argv[3], "resume") == 0;
  if (strcmp(c, "init_fail") == 0)
    o.initializer = init_exit;
  if (strcmp(c, "big") == 0)
    o.max_result = BIG;
  if (strcmp(c, "threads") == 0)
    o.threads = 2;
  if (strcmp(c, "kill") == 0) {
    o.checkpoint = argv[2];
    o.resume = resume;
    o.workers = 1;
    if (!resume)
      kill_at = 600;
  }
  int r = cc_mpi_init(&M, &argc, &argv, &o);
  if (r < 0) {
    fprintf(stderr, "cc_mpi_init: %s\n", cc_strerror(r));
    return 1;
  }
  if (strcmp(c, "million") == 0 || strcmp(c, "threads") == 0 || strcmp(c, "twohost") == 0)
    case_million();
  else if (strcmp(c, "errors") == 0)
    case_errors();
  else if (strcmp(c, "init_fail") == 0)
    case_init_fail();
  else if (strcmp(c, "uneven") == 0)
    case_uneven();
  else if (strcmp(c, "zero_one") == 0)
    case_zero_one();
  else if (strcmp(c, "imap") == 0)
    case_imap();
  else if (strcmp(c, "big") == 0)
    case_big();
  else if (strcmp(c, "kill") == 0)
    case_kill(resume);
  else if (strcmp(c, "deadline") == 0)
    case_deadline();
  else
    CHECK(0, "unknown case '%s'", c);
  if (cc_mpi_is_root(M))
    printf("OK %s\n", c);
  fflush(stdout);
  cc_mpi_finalize(M);
  return 0;
}

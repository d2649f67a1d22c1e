/* W8 html-extract: the first <title> and every <a href> (the empty value
 * included) of each HTML file of the Python documentation (WORKLOADS.md),
 * with concur's streaming scanner (cc_html_scan, CC_HTML_RAW).
 *
 *   build/bench/w8_html_extract [DIR] [ROUNDS]
 *       DIR     default /usr/share/doc/python3-doc/html/
 *       ROUNDS  default 3 (1 with BENCH_QUICK=1)
 *
 * The files are read into memory first (every peer does the same), then
 * timed over ROUNDS rounds, each round one pass over every file per line,
 * the two lines' passes alternating:
 *   impl=concur       workers=1   one thread
 *   impl=concur-pool  workers=2   cc_pool_map_records over the file indices
 *                                 (the pool, started before the clock, forks
 *                                 its workers after the files were read: they
 *                                 see them without a copy; the largest files
 *                                 go first); ratio_1 is its mb_per_s over the
 *                                 one thread's
 * Each line: files mb mb_per_s (best round) median_mb_per_s links titles.
 * Exits non-zero if the counts are wrong: 530 titles and 164,265 links for
 * the default directory, and the pool's answer equal to the one thread's
 * for any. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <concur.h>

#include "common.h"

#define PYDOC        "/usr/share/doc/python3-doc/html/"
#define PYDOC_FILES  530
#define PYDOC_TITLES 530
#define PYDOC_LINKS  164265
#define MAX_ROUNDS   16

typedef struct doc {
  char *data;
  size_t len;
} doc_t;

static doc_t *docs;
static size_t ndocs, capdocs, total_bytes;

static int add_file(const char *path, const struct stat *st, int type, struct FTW *f) {
  (void)f;
  size_t n = strlen(path);
  if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".html") != 0)
    return 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return 0;
  char *buf = malloc((size_t)st->st_size + 1);
  size_t got = buf ? fread(buf, 1, (size_t)st->st_size, fp) : 0;
  fclose(fp);
  if (!buf)
    return 1;
  if (ndocs == capdocs) {
    capdocs = capdocs ? 2 * capdocs : 1024;
    docs = realloc(docs, capdocs * sizeof *docs);
    if (!docs)
      return 1;
  }
  docs[ndocs++] = (doc_t){buf, got};
  total_bytes += got;
  return 0;
}

typedef struct answer {
  int64_t links, titles;
} answer_t;

static int count(void *ctx, const cc_html_event_t *ev) {
  answer_t *a = ctx;
  if (ev->kind == CC_HTML_EV_LINK)
    a->links++;
  else if (ev->kind == CC_HTML_EV_TITLE)
    a->titles++;
  return 0;
}

static int extract(size_t i, answer_t *a) {
  return cc_html_scan(docs[i].data, docs[i].len, NULL, CC_HTML_LINK_A, CC_HTML_RAW, count,
                      a);
}

/* The pool's work function: one file index in, its counts out. */
static int extract_item(const void *in, void *out, void *ctx) {
  (void)ctx;
  answer_t *a = out;
  *a = (answer_t){0};
  return extract(*(const size_t *)in, a);
}

static int by_size_desc(const void *x, const void *y) {
  size_t a = docs[*(const size_t *)x].len, b = docs[*(const size_t *)y].len;
  return a < b ? 1 : a > b ? -1 : 0;
}

static int cmp_d(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static double best_one;

static void report(const char *impl, int workers, double *t, int rounds, answer_t a) {
  qsort(t, (size_t)rounds, sizeof *t, cmp_d);
  double mb = (double)total_bytes / 1e6;
  printf("W8 html-extract impl=%s workers=%d files=%zu mb=%.1f mb_per_s=%.1f "
         "median_mb_per_s=%.1f links=%lld titles=%lld",
         impl, workers, ndocs, mb, mb / t[0], mb / t[rounds / 2], (long long)a.links,
         (long long)a.titles);
  if (workers == 1)
    best_one = t[0];
  else
    printf(" ratio_1=%.2f", best_one / t[0]);
  printf("\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : PYDOC;
  const char *q = getenv("BENCH_QUICK");
  int rounds = (int)bench_arg(argc, argv, 2, q && strcmp(q, "1") == 0 ? 1 : 3);
  if (rounds < 1 || rounds > MAX_ROUNDS)
    rounds = 3;
  struct stat st;
  if (stat(dir, &st) != 0) {
    fprintf(stderr, "w8_html_extract: %s not found (apt-get install python3-doc)\n", dir);
    return 77;
  }
  if (nftw(dir, add_file, 32, 0) != 0 || ndocs == 0) {
    fprintf(stderr, "w8_html_extract: no HTML files read under %s\n", dir);
    return 1;
  }

  /* The pool is made first (its idle workers wait on a futex): the rounds
   * of the two lines then alternate, so that both see the same machine. */
  cc_pool_t *pool;
  cc_pool_opts_t po = {.workers = 2};
  int rc = cc_pool_new(&pool, &po);
  if (rc < 0) {
    fprintf(stderr, "w8_html_extract: cc_pool_new: %s\n", cc_strerror(rc));
    return 1;
  }
  size_t *idx = malloc(ndocs * sizeof *idx);
  answer_t *res = malloc(ndocs * sizeof *res);
  for (size_t i = 0; i < ndocs; i++)
    idx[i] = i;
  /* Largest files first, so that no worker is left with a big one at the
   * end while the other idles (contents.html alone is 2.6 MB). */
  qsort(idx, ndocs, sizeof *idx, by_size_desc);
  /* Outside the clock: the first map (each worker's first items) and the
   * parent's first scan. */
  cc_pool_map_records(pool, extract_item, NULL, idx, sizeof *idx, res, sizeof *res,
                      ndocs < 8 ? ndocs : 8, NULL, NULL);
  answer_t warm = {0};
  extract(0, &warm);

  double t1[MAX_ROUNDS], t2[MAX_ROUNDS];
  answer_t one = {0}, two = {0};
  for (int r = 0; r < rounds; r++) {
    answer_t a = {0};
    double t0 = bench_now();
    for (size_t i = 0; i < ndocs; i++) {
      rc = extract(i, &a);
      if (rc < 0) {
        fprintf(stderr, "w8_html_extract: file %zu: %s\n", i, cc_strerror(rc));
        return 1;
      }
    }
    t1[r] = bench_now() - t0;
    one = a;

    t0 = bench_now();
    rc = cc_pool_map_records(pool, extract_item, NULL, idx, sizeof *idx, res, sizeof *res,
                             ndocs, NULL, NULL);
    t2[r] = bench_now() - t0;
    if (rc < 0) {
      fprintf(stderr, "w8_html_extract: pool map: %s\n", cc_strerror(rc));
      return 1;
    }
    two = (answer_t){0};
    for (size_t i = 0; i < ndocs; i++) {
      two.links += res[i].links;
      two.titles += res[i].titles;
    }
  }
  cc_pool_free(pool);
  report("concur", 1, t1, rounds, one);
  report("concur-pool", 2, t2, rounds, two);

  int bad = one.links != two.links || one.titles != two.titles;
  if (strcmp(dir, PYDOC) == 0 || strcmp(dir, "/usr/share/doc/python3-doc/html") == 0)
    bad |= ndocs != PYDOC_FILES || one.titles != PYDOC_TITLES || one.links != PYDOC_LINKS;
  if (bad)
    fprintf(
        stderr,
        "w8_html_extract: WRONG ANSWER (files %zu, titles %lld/%lld, links %lld/%lld)\n",
        ndocs, (long long)one.titles, (long long)two.titles, (long long)one.links,
        (long long)two.links);
  for (size_t i = 0; i < ndocs; i++)
    free(docs[i].data);
  free(docs);
  free(idx);
  free(res);
  return bad;
}

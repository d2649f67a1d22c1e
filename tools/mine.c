/* concur mine: word frequencies over a tree of HTML files, counted in the
 * process pool (the data-mining job of the seed articles).
 *
 * The parent lists the files; each pool item is one path. A worker reads its
 * file, strips the tags crudely (everything between '<' and '>', and
 * entities such as &amp;), counts the lowercase words of ASCII letters in a
 * hash table, and returns them as "word\tcount\n" lines. The parent merges
 * the results as they arrive (imap_unordered), so merging overlaps the
 * workers' counting. Built on the public API only. */
#include "mine.h"
#ifdef CONCUR_MPI
#include "mine_mpi.h"
#endif

#include "cmd.h"
#include "counts.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <concur.h>

#define DEFAULT_DIR "/usr/share/doc/python3-doc/html"
#define TOP         20

/* ---- the work, in a worker process ---------------------------------------- */

static char *read_file(const char *path, size_t *len, int *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = -errno;
    return NULL;
  }
  struct stat st;
  char *buf = NULL;
  if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1))) {
    size_t got = 0;
    while (got < (size_t)st.st_size) {
      ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
      if (r <= 0)
        break;
      got += (size_t)r;
    }
    *len = got;
  } else {
    *err = -ENOMEM;
  }
  close(fd);
  return buf;
}

static ssize_t count_words(const void *in, size_t in_len, void *out, size_t cap,
                           void *ctx) {
  (void)ctx;
  char path[PATH_MAX];
  if (in_len >= sizeof path)
    return -ENAMETOOLONG;
  memcpy(path, in, in_len);
  path[in_len] = 0;
  size_t len = 0;
  int err = 0;
  char *text = read_file(path, &len, &err);
  if (!text)
    return err;
  counts_t t;
  if (counts_init(&t, 1024) < 0) {
    free(text);
    return -ENOMEM;
  }
  char word[64];
  size_t wl = 0;
  int in_tag = 0, in_entity = 0;
  for (size_t i = 0; i <= len; i++) {
    char c = i < len ? text[i] : ' ';
    int letter = 0;
    if (in_tag) {
      in_tag = c != '>';
    } else if (c == '<') {
      in_tag = 1;
    } else if (in_entity) {
      in_entity = c != ';' && c != ' ' && c != '<';
    } else if (c == '&') {
      in_entity = 1;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      letter = 1;
      if (wl < sizeof word)
        word[wl] = (char)(c | 0x20);
      wl++;
    }
    if (!letter && wl) {
      if (wl <= sizeof word && !counts_add(&t, word, wl, 1)) {
        counts_free(&t);
        free(text);
        return -ENOMEM;
      }
      wl = 0;
    }
  }
  free(text);
  ssize_t ret = counts_write(&t, out, cap);
  counts_free(&t);
  return ret;
}

/* ---- listing the files ------------------------------------------------------ */

static struct {
  char **paths;
  size_t n, cap;
  uint64_t bytes;
} files;

static int visit(const char *path, const struct stat *sb, int type, struct FTW *f) {
  (void)f;
  size_t l = strlen(path);
  if (type != FTW_F || l < 5 || strcmp(path + l - 5, ".html") != 0)
    return 0;
  if (files.n == files.cap) {
    size_t nc = files.cap ? files.cap * 2 : 256;
    char **p = realloc(files.paths, nc * sizeof *p);
    if (!p)
      return -1;
    files.paths = p;
    files.cap = nc;
  }
  if (!(files.paths[files.n] = strdup(path)))
    return -1;
  files.n++;
  files.bytes += (uint64_t)sb->st_size;
  return 0;
}

/* ---- merging a file's counts into the total, as results arrive --------- */

typedef struct mine_sum {
  counts_t *total;
  size_t failed;
  uint64_t words;
  char **paths;
} mine_sum_t;

static void merge(size_t idx, cc_buf_t res, int st, void *arg) {
  mine_sum_t *sum = arg;
  if (st < 0) {
    fprintf(stderr, "concur mine: %s: %s\n", sum->paths[idx], cc_strerror(st));
    sum->failed++;
    return;
  }
  int64_t k = counts_merge(sum->total, res.data, res.len);
  if (k < 0) {
    fprintf(stderr, "concur mine: %s: %s\n", sum->paths[idx], cc_strerror((int)k));
    sum->failed++;
  } else {
    sum->words += (uint64_t)k;
  }
  free(res.data);
}

/* With --mpi, rank 0 failing before the map still ends it for the others. */
static int fail(bool mpi) {
#ifdef CONCUR_MPI
  if (mpi)
    concur_mine_mpi_map(NULL, 0, NULL, NULL);
#endif
  return 1;
}

/* ---- main ------------------------------------------------------------------------ */

int concur_mine_main(int argc, char **argv) {
  const char *dir = DEFAULT_DIR;
  int workers = 0;
  int dir_given = 0;
  bool mpi = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--workers") == 0) {
      long w;
      if (i + 1 == argc)
        return concur_usage_error(argv[0], "--workers needs a number");
      if (concur_parse_count(argv[0], "worker count", argv[++i], &w) != 0)
        return 2;
      if (w > 4096)
        return concur_usage_error(argv[0], "at most 4096 workers");
      workers = (int)w;
    } else if (strcmp(argv[i], "--mpi") == 0) {
      mpi = true;
    } else if (argv[i][0] == '-') {
      return concur_usage_error(argv[0], "unknown option '%s'", argv[i]);
    } else if (dir_given) {
      return concur_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
    } else {
      dir = argv[i];
      dir_given = 1;
    }
  }
  if (mpi) {
#ifdef CONCUR_MPI
    /* Every rank starts here (before any thread or file list); the worker
     * ranks only serve the map, rank 0 goes on. */
    int w = concur_mine_mpi_begin(workers, count_words);
    if (w == 0)
      workers = -concur_mine_mpi_ranks();
    if (w != 0)
      return w < 0 ? 1 : 0;
#else
    fprintf(stderr, "concur mine: built without MPI (CONCUR_MPI off)\n");
    return 2;
#endif
  }
  char root[PATH_MAX];
  if (!realpath(dir, root)) {
    fprintf(stderr, "concur mine: %s: %s%s\n", dir, strerror(errno),
            strcmp(dir, DEFAULT_DIR) == 0 ? " (install python3-doc)" : "");
    return fail(mpi);
  }
  int64_t t0 = cc_now_ns();
  if (nftw(root, visit, 32, FTW_PHYS) != 0 || files.n == 0) {
    fprintf(stderr, "concur mine: no HTML files under %s\n", root);
    return fail(mpi);
  }
  cc_buf_t *items = malloc(files.n * sizeof *items);
  if (!items)
    return fail(mpi);
  for (size_t i = 0; i < files.n; i++)
    items[i] = (cc_buf_t){files.paths[i], strlen(files.paths[i])};

  /* The pool is made after the list, so the workers' copies of the parent
   * see it (the 'fork' start method). */
  cc_pool_t *pool = NULL;
  cc_pool_opts_t o = {.workers = workers, .max_result = 4 << 20};
  int r = mpi ? 0 : cc_pool_new(&pool, &o);
  if (r < 0) {
    fprintf(stderr, "concur mine: pool: %s\n", cc_strerror(r));
    return 1;
  }
  counts_t total;
  if (counts_init(&total, 1 << 16) < 0)
    return 1;
  mine_sum_t sum = {&total, 0, 0, files.paths};
  if (mpi) {
#ifdef CONCUR_MPI
    r = concur_mine_mpi_map(items, files.n, merge, &sum);
#endif
  } else {
    cc_progress_t *pg = NULL; /* the shared display: a bar on a terminal */
    cc_progress_opts_t po = {.label = "mine", .unit = "files"};
    cc_progress_new(&pg, files.n, &po);
    cc_pool_iter_t *it;
    r = cc_pool_imap(&it, pool, count_words, NULL, items, files.n, false, NULL);
    while (r == 0) {
      size_t idx;
      cc_buf_t res;
      int st;
      r = cc_pool_iter_next(it, &idx, &res, &st, CC_FOREVER);
      if (r == 0) {
        merge(idx, res, st, &sum);
        cc_progress_field(pg, "errors", (int64_t)sum.failed);
        cc_progress_add(pg, 1);
      }
    }
    cc_pool_iter_free(it);
    cc_progress_free(pg);
    cc_pool_free(pool);
  }
  size_t failed = sum.failed;
  uint64_t words = sum.words;
  if (r != -CC_ECLOSED) {
    fprintf(stderr, "concur mine: %s\n", cc_strerror(r));
    return 1;
  }
  double secs = (double)(cc_now_ns() - t0) / 1e9;

  counts_entry_t *all = counts_sorted(&total);
  size_t n = all ? total.n : 0;
  double mb = (double)files.bytes / (1024.0 * 1024.0);
  printf("mined %zu files, %.1f MB, %llu words (%zu distinct) in %.2f s on %d %s "
         "(%.1f MB/s)%s\n",
         files.n - failed, mb, (unsigned long long)words, n, secs,
         workers < 0 ? -workers
         : workers   ? workers
                     : cc_cpu_count(),
         workers < 0 ? "MPI ranks" : "workers", mb / secs,
         failed ? " - some files failed" : "");
  printf("top %d words:\n", TOP);
  for (size_t i = 0; i < n && i < TOP; i++)
    printf("  %2zu. %-16s %10llu\n", i + 1, all[i].key, (unsigned long long)all[i].count);
  free(all);
  counts_free(&total);
  for (size_t i = 0; i < files.n; i++)
    free(files.paths[i]);
  free(files.paths);
  free(items);
  return failed ? 1 : 0;
}

const concur_cmd_t concur_cmd_mine = {
    .name = "mine",
    .args = "[DIR] [--workers N] [--mpi]",
    .summary = "word frequencies over HTML files, in the process pool",
    .help = "Counts the words of every .html file under DIR in the process pool (one\n"
            "file per item, results merged as they arrive, a progress bar on a\n"
            "terminal) and prints the top 20 words, the files, their size and the time.\n"
            "\n"
            "  DIR            the tree to read (default " DEFAULT_DIR ",\n"
            "                 from the python3-doc package)\n"
            "  --workers N    worker processes (default: one per CPU)\n"
            "  --mpi          split the files across the ranks of an mpirun job\n"
            "                 (built with CONCUR_MPI; see docs/mpi.md)\n",
    .main = concur_mine_main,
};

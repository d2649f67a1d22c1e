/* Runs one named test case (or all of them, in one process, when no name is
 * given) and checks what it left behind: file descriptors, child processes
 * and memory mappings (as libuv's MAKE_VALGRIND_HAPPY, case by case).
 *
 * Mappings: the test executables are linked with -Wl,--wrap=mmap,--wrap=munmap
 * (cmake/CcTests.cmake), so every mmap/munmap made by concur_static or by the
 * test itself (coroutine stack chunks, single stacks, task slabs, the process
 * pool's arena, cc_shm blocks) goes through __wrap_mmap/__wrap_munmap below,
 * which keep the set of live regions. A region mapped during a case and not
 * unmapped by its end is a leak. The C library's own mappings (malloc arenas,
 * thread stacks and glibc's cache of them, the sanitizers' shadow and
 * allocator) do not go through the wrapper, so lazily-created global state --
 * the default thread pool's threads, DNS helper threads, malloc arenas --
 * cannot cause a false report. concur keeps no process-wide mapping of its
 * own; one that is ever added must be created before a case starts (or be
 * exempted in run_one) to keep this check exact. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 512

static struct {
  const char *name;
  cc_test_fn fn;
} tests[MAX_TESTS];
static int ntests;

void cc_test_register(const char *name, cc_test_fn fn) {
  if (ntests == MAX_TESTS) {
    fprintf(stderr, "too many tests\n");
    abort();
  }
  for (int i = 0; i < ntests; i++)
    if (strcmp(tests[i].name, name) == 0) {
      fprintf(stderr, "two tests named %s\n", name);
      abort();
    }
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  ntests++;
}

/* ---- the mapping tracker (see the top of the file) ------------------------------ */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

typedef struct {
  uintptr_t lo, hi;
  unsigned long seq; /* when it was mapped */
} region_t;

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static region_t *regions;
static size_t nregions, regions_cap;
static unsigned long maps_seq;
static int maps_untracked; /* the tracker ran out of memory: no verdict */

static uintptr_t page_up(uintptr_t x) {
  uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
  return (x + ps - 1) & ~(ps - 1);
}

static int region_push(uintptr_t lo, uintptr_t hi, unsigned long seq) {
  if (nregions == regions_cap) {
    size_t cap = regions_cap ? regions_cap * 2 : 256;
    region_t *r = realloc(regions, cap * sizeof *r);
    if (!r) {
      maps_untracked = 1;
      return -1;
    }
    regions = r;
    regions_cap = cap;
  }
  regions[nregions++] = (region_t){lo, hi, seq};
  return 0;
}

/* Removes [lo, hi) from the live set, trimming or splitting regions. */
static void region_cut(uintptr_t lo, uintptr_t hi) {
  for (size_t i = 0; i < nregions;) {
    region_t *r = &regions[i];
    if (r->hi <= lo || r->lo >= hi) {
      i++;
    } else if (r->lo >= lo && r->hi <= hi) {
      regions[i] = regions[--nregions];
    } else if (r->lo < lo && r->hi > hi) {
      region_t tail = {hi, r->hi, r->seq};
      r->hi = lo;
      region_push(tail.lo, tail.hi, tail.seq);
      i++;
    } else {
      if (r->lo < lo)
        r->hi = lo;
      else
        r->lo = hi;
      i++;
    }
  }
}

/* The real calls are made under the lock too, so that an address unmapped
 * on one thread and mapped again on another is recorded in that order. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  pthread_mutex_lock(&maps_lock);
  void *p = __real_mmap(addr, len, prot, flags, fd, off);
  int e = errno;
  if (p != MAP_FAILED && len > 0) {
    uintptr_t lo = (uintptr_t)p, hi = lo + page_up(len);
    region_cut(lo, hi); /* MAP_FIXED replaces what was there */
    region_push(lo, hi, ++maps_seq);
  }
  pthread_mutex_unlock(&maps_lock);
  errno = e;
  return p;
}

int __wrap_munmap(void *addr, size_t len) {
  pthread_mutex_lock(&maps_lock);
  int r = __real_munmap(addr, len);
  int e = errno;
  if (r == 0 && len > 0)
    region_cut((uintptr_t)addr, (uintptr_t)addr + page_up(len));
  pthread_mutex_unlock(&maps_lock);
  errno = e;
  return r;
}

static unsigned long maps_mark(void) {
  pthread_mutex_lock(&maps_lock);
  unsigned long seq = maps_seq;
  pthread_mutex_unlock(&maps_lock);
  return seq;
}

/* Reports the regions mapped after `mark` that are still mapped; returns
 * how many there are. */
static int maps_leaked(const char *name, unsigned long mark) {
  pthread_mutex_lock(&maps_lock);
  int n = 0;
  size_t bytes = 0;
  uintptr_t first = 0;
  for (size_t i = 0; i < nregions; i++)
    if (regions[i].seq > mark) {
      if (!n || regions[i].lo < first)
        first = regions[i].lo;
      n++;
      bytes += regions[i].hi - regions[i].lo;
    }
  int untracked = maps_untracked;
  pthread_mutex_unlock(&maps_lock);
  if (n && !untracked)
    fprintf(stderr,
            "%s: leaked %d memory mapping(s), %zu KiB in all, the lowest at %#lx "
            "(coroutine stacks, task slabs or shared memory still mapped: "
            "a loop, pool or cc_shm block not freed?)\n",
            name, n, bytes / 1024, (unsigned long)first);
  return untracked ? 0 : n;
}

int cc_test_count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the DIR's own fd */
}

int cc_test_count_maps(const char *needle) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f)
    return -1;
  int n = 0;
  char line[4096];
  while (fgets(line, sizeof line, f))
    n += !needle || strstr(line, needle) != NULL;
  fclose(f);
  return n;
}

intptr_t cc_test_run(cc_task_fn fn, void *arg) {
  intptr_t res = -1;
  int rc = cc_run_opts(NULL, fn, arg, &res);
  if (rc != 0)
    CC_TEST_FAIL("cc_run failed: %d (%s)", rc, cc_strerror(rc));
  return res;
}

void cc_test_join_within(cc_task_t *t, const char *who) {
  cc_timeout_t to;
  cc_timeout_begin(&to, cc_deadline_in(500));
  int r = cc_join(t, NULL);
  cc_timeout_end(&to);
  if (r == -ETIMEDOUT)
    CC_TEST_FAIL("%s still waits: the hand-off was lost", who);
  ASSERT_OK(r);
}

int cc_test_run_in_child(cc_task_fn fn, void *arg, int signals, char *buf, size_t size) {
  int pfd[2];
  if (pipe(pfd) != 0)
    CC_TEST_FAIL("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    CC_TEST_FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(pfd[1], 2);
    close(pfd[0]);
    close(pfd[1]);
    intptr_t r;
    int rc = signals ? cc_run(fn, arg, &r) : cc_run_opts(NULL, fn, arg, &r);
    _exit(rc == 0 ? 0 : 1);
  }
  close(pfd[1]);
  size_t n = 0;
  ssize_t k;
  while (n + 1 < size && (k = read(pfd[0], buf + n, size - 1 - n)) > 0)
    n += (size_t)k;
  buf[n] = 0;
  close(pfd[0]);
  int st = 0;
  if (waitpid(pid, &st, 0) != pid)
    CC_TEST_FAIL("waitpid: %s", strerror(errno));
  return st;
}

int cc_test_sanitized(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return 1;
#endif
#endif
  return 0;
}

int cc_test_tsan(void) {
#if defined(__SANITIZE_THREAD__)
  return 1;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return 1;
#endif
#endif
  return 0;
}

/* Runs case i and reports everything it left behind; 1 if anything. */
static int run_one(int i) {
  int fds_before = cc_test_count_fds();
  unsigned long maps_before = maps_mark();
  tests[i].fn();
  int bad = 0;
  int fds_after = cc_test_count_fds();
  if (fds_after > fds_before) {
    fprintf(stderr, "%s: leaked %d file descriptor(s)\n", tests[i].name,
            fds_after - fds_before);
    bad = 1;
  }
  int st;
  pid_t p = waitpid(-1, &st, WNOHANG);
  if (p > 0 || (p == 0)) {
    fprintf(stderr, "%s: left a child process behind\n", tests[i].name);
    bad = 1;
  }
  if (maps_leaked(tests[i].name, maps_before))
    bad = 1;
  return bad;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < ntests; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  if (argc > 1) {
    for (int i = 0; i < ntests; i++)
      if (strcmp(tests[i].name, argv[1]) == 0)
        return run_one(i);
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  int failed = 0;
  for (int i = 0; i < ntests; i++) {
    printf("%s ... ", tests[i].name);
    int r = run_one(i);
    printf("%s\n", r ? "FAILED" : "ok");
    failed += r;
  }
  printf("%d passed, %d failed\n", ntests - failed, failed);
  return failed != 0;
}

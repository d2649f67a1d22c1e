/* Runs one named test case (or all of them, in one process, when no name is
 * given) and checks what it left behind. */
#include <dirent.h>
#include <errno.h>
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
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  ntests++;
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

static int run_one(int i) {
  int fds_before = cc_test_count_fds();
  tests[i].fn();
  int fds_after = cc_test_count_fds();
  if (fds_after > fds_before) {
    fprintf(stderr, "%s: leaked %d file descriptor(s)\n", tests[i].name,
            fds_after - fds_before);
    return 1;
  }
  int st;
  pid_t p = waitpid(-1, &st, WNOHANG);
  if (p > 0 || (p == 0)) {
    fprintf(stderr, "%s: left a child process behind\n", tests[i].name);
    return 1;
  }
  return 0;
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

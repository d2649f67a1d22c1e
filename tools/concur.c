/* The concur command: the showcase (`concur demo`) and the jobs concur is
 * for, built on the public API only.
 *
 *   concur demo              everything below, in order
 *   concur sleepers [N]      N coroutines sleeping 1 s at once (100,000)
 *   concur spawn [N]         spawn and join N tasks (1,000,000)
 *   concur mine [dir]        word frequencies over HTML files, process pool
 *   concur --version
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <concur.h>

#include "fetch.h"
#include "mine.h"

static double peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

/* ---- the asyncio examples of the seed articles ------------------------------ */

static intptr_t execute_task(void *arg) {
  printf("  Executing task %s\n", (const char *)arg);
  int r = cc_sleep(100); /* await asyncio.sleep(...) */
  printf("  Finished task %s\n", (const char *)arg);
  return r < 0 ? r : (intptr_t)strlen(arg);
}

static intptr_t seed_main(void *arg) {
  /* task1 = asyncio.create_task(execute_task("task1")); ... gather */
  cc_task_t *t[2];
  int r;
  if ((r = cc_spawn(&t[0], execute_task, "task1")) < 0 ||
      (r = cc_spawn(&t[1], execute_task, "task2")) < 0)
    return r;
  intptr_t res[2];
  int64_t t0 = cc_now();
  r = cc_gather(t, 2, res);
  printf("  gather -> [%ld, %ld] in %ld ms: the two sleeps overlapped\n", (long)res[0],
         (long)res[1], (long)(cc_now() - t0));
  return r;
}

/* ---- scale --------------------------------------------------------------------- */

static intptr_t sleeper(void *arg) {
  return cc_sleep(1000);
}

static intptr_t sleepers_main(void *arg) {
  long n = *(long *)arg;
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  if (!ts)
    return -ENOMEM;
  double rss0 = peak_rss_mb();
  int64_t t0 = cc_now_ns();
  for (long i = 0; i < n; i++) {
    int r = cc_spawn(&ts[i], sleeper, NULL);
    if (r < 0)
      return r;
  }
  int r = cc_gather(ts, (size_t)n, NULL);
  double s = (double)(cc_now_ns() - t0) / 1e9;
  free(ts);
  if (r < 0)
    return r;
  printf("  %ld coroutines slept 1.0 s each, concurrently: %.3f s wall, %.1f MB peak "
         "(%.2f KiB per coroutine)\n",
         n, s, peak_rss_mb(), (peak_rss_mb() - rss0) * 1024.0 / (double)n);
  return 0;
}

static intptr_t ret_index(void *arg) {
  return (intptr_t)arg;
}

static intptr_t spawn_main(void *arg) {
  long n = *(long *)arg;
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  if (!ts)
    return -ENOMEM;
  int64_t t0 = cc_now_ns();
  for (long i = 0; i < n; i++) {
    int r = cc_spawn(&ts[i], ret_index, (void *)(intptr_t)i);
    if (r < 0)
      return r;
  }
  long long sum = 0;
  for (long i = 0; i < n; i++) {
    intptr_t v;
    int r = cc_join(ts[i], &v);
    if (r < 0)
      return r;
    sum += v;
  }
  double s = (double)(cc_now_ns() - t0) / 1e9;
  free(ts);
  printf("  spawned and joined %ld tasks in %.3f s (%.0f ns per task), sum %s\n", n, s,
         s * 1e9 / (double)n, sum == (long long)n * (n - 1) / 2 ? "correct" : "WRONG");
  return sum == (long long)n * (n - 1) / 2 ? 0 : -EIO;
}

static int run_or_report(const char *what, cc_task_fn fn, void *arg, size_t stack) {
  cc_loop_opts_t o = {
      .stack_size = stack, .handle_signals = true, .dump_on_sigusr1 = true};
  int r = cc_run_opts(&o, fn, arg, NULL);
  if (r < 0)
    fprintf(stderr, "concur %s: %s\n", what, cc_strerror(r));
  return r < 0 ? 1 : 0;
}

static long count_arg(int argc, char **argv, long dflt) {
  if (argc < 3)
    return dflt;
  char *end;
  long n = strtol(argv[2], &end, 10);
  if (*end || n <= 0) {
    fprintf(stderr, "concur %s: bad count '%s'\n", argv[1], argv[2]);
    exit(2);
  }
  return n;
}

static int demo(void) {
  int rc = 0;
  printf("concur %s demo\n\n", cc_version_string());
  printf("1. The asyncio example of the seed articles, as C coroutines\n");
  rc |= run_or_report("demo", seed_main, NULL, 0);
  printf("\n2. Massive concurrency: 100,000 sleeping coroutines\n");
  long n = 100000;
  rc |= run_or_report("demo", sleepers_main, &n, 8 * 1024);
  printf("\n3. Spawn and join 1,000,000 tasks\n");
  n = 1000000;
  rc |= run_or_report("demo", spawn_main, &n, 0);
  printf("\n4. Data mining on every core: word frequencies over the Python docs\n");
  char *argv[] = {"mine", NULL};
  rc |= concur_mine_main(1, argv) != 0;
  printf("\n%s\n", rc ? "demo finished with errors" : "demo finished");
  return rc;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "demo";
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("concur %s\n", cc_version_string());
    return 0;
  }
  if (strcmp(cmd, "demo") == 0)
    return demo();
  if (strcmp(cmd, "sleepers") == 0) {
    long n = count_arg(argc, argv, 100000);
    return run_or_report(cmd, sleepers_main, &n, 8 * 1024);
  }
  if (strcmp(cmd, "spawn") == 0) {
    long n = count_arg(argc, argv, 1000000);
    return run_or_report(cmd, spawn_main, &n, 0);
  }
  if (strcmp(cmd, "mine") == 0)
    return concur_mine_main(argc - 1, argv + 1);
  if (strcmp(cmd, "fetch") == 0)
    return concur_fetch_main(argc - 1, argv + 1);
  fprintf(stderr,
          "usage: concur [demo | sleepers [N] | spawn [N] | mine [dir] | --version]\n");
  return 2;
}

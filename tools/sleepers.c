/* concur sleepers [N]: N coroutines sleeping 1 s at once, with the wall time
 * and the memory each one cost. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cmd.h"

static double peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static intptr_t sleeper(void *arg) {
  return cc_sleep(1000);
}

static intptr_t sleepers_task(void *arg) {
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

static int sleepers_main(int argc, char **argv) {
  long n = 100000;
  if (argc > 2)
    return concur_usage_error(argv[0], "unexpected argument '%s'", argv[2]);
  if (argc == 2 && concur_parse_count(argv[0], "count", argv[1], &n) != 0)
    return 2;
  return concur_run(argv[0], sleepers_task, &n, 8 * 1024);
}

const concur_cmd_t concur_cmd_sleepers = {
    .name = "sleepers",
    .args = "[N]",
    .summary = "N coroutines sleeping 1 s at once (100,000)",
    .help = "Spawns N coroutines (8 KiB stacks) that each sleep one second, gathers\n"
            "them, and prints the wall time and the memory per coroutine.\n"
            "\n"
            "  N    how many coroutines (default 100000)\n",
    .main = sleepers_main,
};

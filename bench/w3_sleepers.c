/* W3 sleepers: N tasks each sleep 1.0 s concurrently, then all are joined.
 * kb_per_coro = (peak RSS - RSS before spawning) / N. */
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>

#include "common.h"

static long long n;
static double wall, rss_before;

static intptr_t sleeper(void *unused) {
  return cc_sleep(1000);
}

static intptr_t bench(void *unused) {
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  if (!ts)
    return -ENOMEM;
  rss_before = bench_rss_now_mb();
  double t0 = bench_now();
  for (long long i = 0; i < n; i++)
    if (cc_spawn(&ts[i], sleeper, NULL) != 0)
      return -ENOMEM;
  for (long long i = 0; i < n; i++)
    if (cc_join(ts[i], NULL) != 0)
      return -EIO;
  wall = bench_now() - t0;
  free(ts);
  return 0;
}

int main(int argc, char **argv) {
  n = bench_arg(argc, argv, 1, 100000);
  /* 8 KiB stacks (one committed page each in practice): what 1,000,000
   * concurrent sleepers need, as Go's 2-8 KiB goroutine stacks. */
  cc_loop_opts_t o = {.stack_size = 8 * 1024, .stack_cache = 64};
  if (argc > 2)
    o.stack_size = (size_t)bench_arg(argc, argv, 2, 8192);
  intptr_t r;
  int rc = cc_run_opts(&o, bench, NULL, &r);
  if (rc != 0) {
    fprintf(stderr, "w3_sleepers: %s\n", cc_strerror(rc));
    return 1;
  }
  double peak = bench_rss_mb();
  printf("W3 sleepers impl=concur n=%lld wall_s=%.3f rss_mb=%.1f kb_per_coro=%.2f\n", n,
         wall, peak, (peak - rss_before) * 1024.0 / (double)n);
  return 0;
}

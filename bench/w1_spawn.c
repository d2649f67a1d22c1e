/* W1 spawn: start N tasks that each return their index, join them all,
 * check the sum. */
#include <stdio.h>
#include <stdlib.h>

#include <concur.h>

#include "common.h"

static long long n;
static double wall;

static intptr_t ret_index(void *a) {
  return (intptr_t)a;
}

static intptr_t bench(void *unused) {
  cc_task_t **ts = malloc((size_t)n * sizeof *ts);
  if (!ts)
    return -ENOMEM;
  double t0 = bench_now();
  for (long long i = 0; i < n; i++)
    if (cc_spawn(&ts[i], ret_index, (void *)(intptr_t)i) != 0)
      return -ENOMEM;
  long long sum = 0;
  for (long long i = 0; i < n; i++) {
    intptr_t v;
    if (cc_join(ts[i], &v) != 0)
      return -EIO;
    sum += v;
  }
  wall = bench_now() - t0;
  free(ts);
  return sum == n * (n - 1) / 2 ? 0 : -EIO;
}

int main(int argc, char **argv) {
  n = bench_arg(argc, argv, 1, 1000000);
  intptr_t r;
  int rc = cc_run(bench, NULL, &r);
  if (rc != 0) {
    fprintf(stderr, "w1_spawn: %s\n", cc_strerror(rc));
    return 1;
  }
  printf("W1 spawn impl=concur n=%lld wall_s=%.4f rss_mb=%.1f us_per_task=%.4f\n", n,
         wall, bench_rss_mb(), wall * 1e6 / (double)n);
  return 0;
}

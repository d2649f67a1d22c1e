/* to_thread round trip: a coroutine hands a trivial call to the default
 * thread pool with cc_to_thread() and is resumed on its loop with the
 * result, N times in a row; also the same with 8 coroutines doing it
 * concurrently (the pool's workers then overlap the round trips).
 *
 *   to_thread_rt [N]      (default N = 100,000)
 *
 * Prints: X to_thread impl=concur n=N wall_s=S us_per_call=U [conc=8 ...]
 * and exits non-zero if a result is wrong. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "concur.h"

static long long n_calls;
static long long bad;

static intptr_t plus_one(void *arg) {
  return (intptr_t)arg + 1;
}

static intptr_t caller(void *arg) {
  long long n = (long long)(intptr_t)arg;
  for (long long i = 0; i < n; i++) {
    intptr_t v = -1;
    if (cc_to_thread(plus_one, (void *)(intptr_t)i, &v) < 0 || v != i + 1)
      bad++;
  }
  return 0;
}

static intptr_t bench_main(void *arg) {
  (void)arg;
  caller((void *)(intptr_t)1000); /* warm-up: start the pool's workers */
  double t0 = bench_now();
  caller((void *)(intptr_t)n_calls);
  double wall = bench_now() - t0;
  printf("X to_thread impl=concur n=%lld wall_s=%.4f us_per_call=%.3f conc=1\n", n_calls,
         wall, wall * 1e6 / (double)n_calls);

  enum { C = 8 };
  cc_task_t *t[C];
  t0 = bench_now();
  for (int i = 0; i < C; i++)
    if (cc_spawn(&t[i], caller, (void *)(intptr_t)(n_calls / C)) < 0)
      return -1;
  if (cc_gather(t, C, NULL) < 0)
    return -1;
  wall = bench_now() - t0;
  long long total = (n_calls / C) * C;
  printf("X to_thread impl=concur-conc8 n=%lld wall_s=%.4f us_per_call=%.3f conc=%d\n",
         total, wall, wall * 1e6 / (double)total, C);
  return 0;
}

int main(int argc, char **argv) {
  n_calls = bench_arg(argc, argv, 1, 100000);
  intptr_t r = -1;
  int rc = cc_run(bench_main, NULL, &r);
  if (rc < 0 || r != 0 || bad) {
    fprintf(stderr, "to_thread_rt: rc %d, %lld wrong results\n", rc, bad);
    return 1;
  }
  return 0;
}

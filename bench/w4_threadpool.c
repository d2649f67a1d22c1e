/* W4 threadpool (WORKLOADS.md): N tiny tasks (return x+1) through a
 * thread-pool executor with 2 workers, all results collected in order.
 *
 *   w4_threadpool [N]      (default N = 1,000,000)
 *
 * Two lines, both measured here in the same run:
 *   impl=concur      one cc_executor_submit() per task, then
 *                    cc_future_result() on each future in order: the same
 *                    shape as Python's [ex.submit(f, x) ...] / ex.map and as
 *                    Go's per-item channel sends;
 *   impl=concur-map  the batched cc_executor_map() over an array of N items.
 * Each checks every result and exits non-zero if one is wrong. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "concur.h"

static intptr_t plus_one(void *arg) {
  return (intptr_t)arg + 1;
}

/* Submits every task and collects the results in order, with at most
 * `window` futures in flight: future i - window is collected before task i
 * is submitted, so memory stays bounded and the futures are recycled
 * through the collecting thread's cache. window >= n: submit all, then
 * collect all (Python's ex.map shape). */
static int run_submit(long long n, long long window, const char *impl) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 2};
  if (cc_executor_new(&ex, &o) < 0)
    return 1;
  long long w = window < n ? window : n;
  cc_future_t **fs = malloc((size_t)w * sizeof *fs);
  if (!fs)
    return 1;
  long long bad = 0;
  double t0 = bench_now();
  for (long long i = 0; i < n + w; i++) {
    if (i >= w) { /* collect i - w */
      long long j = i - w;
      cc_future_t *f = fs[j % w];
      intptr_t v = -1;
      if (cc_future_result(f, CC_FOREVER, &v) < 0 || v != j + 1)
        bad++;
      cc_future_unref(f);
    }
    if (i < n && cc_executor_submit(ex, plus_one, (void *)(intptr_t)i, &fs[i % w]) < 0)
      return 1;
  }
  double wall = bench_now() - t0;
  cc_executor_free(ex);
  free(fs);
  printf("W4 threadpool impl=%s n=%lld wall_s=%.4f us_per_task=%.4f api=submit "
         "window=%lld\n",
         impl, n, wall, wall * 1e6 / (double)n, w);
  if (bad)
    fprintf(stderr, "W4 threadpool (%s): %lld wrong results\n", impl, bad);
  return bad != 0;
}

static int run_map(long long n) {
  cc_executor_t *ex;
  cc_executor_opts_t o = {.max_workers = 2};
  if (cc_executor_new(&ex, &o) < 0)
    return 1;
  void **args = malloc((size_t)n * sizeof *args);
  intptr_t *res = malloc((size_t)n * sizeof *res);
  if (!args || !res)
    return 1;
  int bad = 0;
  double t0 = bench_now();
  for (long long i = 0; i < n; i++)
    args[i] = (void *)(intptr_t)i;
  int r = cc_executor_map(ex, plus_one, args, (size_t)n, res, NULL, 0, CC_FOREVER);
  double wall = bench_now() - t0;
  for (long long i = 0; i < n; i++)
    if (res[i] != i + 1)
      bad++;
  cc_executor_free(ex);
  free(args);
  free(res);
  printf("W4 threadpool impl=concur-map n=%lld wall_s=%.4f us_per_task=%.4f api=map\n", n,
         wall, wall * 1e6 / (double)n);
  if (r < 0 || bad)
    fprintf(stderr, "W4 threadpool (map): rc %d, %d wrong results\n", r, bad);
  return r < 0 || bad != 0;
}

int main(int argc, char **argv) {
  long long n = bench_arg(argc, argv, 1, 1000000);
  int fail = run_submit(n, 4096, "concur");
  fail |= run_submit(n, n, "concur-submit-all");
  fail |= run_map(n);
  return fail;
}

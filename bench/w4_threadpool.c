/* W4 threadpool (WORKLOADS.md): N tiny tasks (return x+1) through a
 * thread-pool executor with 2 workers, all results collected in order.
 *
 *   w4_threadpool [N [map|submit|all]]   (default N = 1,000,000; the second
 *                                        argument runs one variant)
 *
 * Three lines, all measured here in the same run:
 *   impl=concur              cc_executor_map() over the N items: the
 *                            executor's map, the call the Python peer makes
 *                            (ex.map); concur's map cuts the items into
 *                            chunks, one queued work item per chunk;
 *   impl=concur-submit       one cc_executor_submit() and one future per
 *                            task, collected in order with cc_future_result()
 *                            with at most 4096 futures in flight (the shape
 *                            of Go's per-item channel sends);
 *   impl=concur-submit-all   the same, all N submitted before the first is
 *                            collected (N futures alive at once).
 * Each checks every result and exits non-zero if one is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  printf("W4 threadpool impl=concur n=%lld wall_s=%.4f us_per_task=%.4f api=map\n", n,
         wall, wall * 1e6 / (double)n);
  if (r < 0 || bad)
    fprintf(stderr, "W4 threadpool (map): rc %d, %d wrong results\n", r, bad);
  return r < 0 || bad != 0;
}

int main(int argc, char **argv) {
  long long n = bench_arg(argc, argv, 1, 1000000);
  const char *which = argc > 2 ? argv[2] : "";
  int fail = 0;
  if (!*which || !strcmp(which, "map"))
    fail |= run_map(n);
  if (!*which || !strcmp(which, "submit"))
    fail |= run_submit(n, 4096, "concur-submit");
  if (!*which || !strcmp(which, "all"))
    fail |= run_submit(n, n, "concur-submit-all");
  return fail;
}

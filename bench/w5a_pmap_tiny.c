/* W5a pmap-tiny: process-pool map of f(x) = x*x over N 64-bit integers,
 * results in order, 2 worker processes (WORKLOADS.md).
 *
 *   w5a_pmap_tiny [N]     (default 10,000,000)
 *
 * Line 1 (the workload): chunking left to concur, output array freshly
 * allocated (as a caller would), pool started before the clock.
 * Line 2 (impl=concur-handchunk): the best of a sweep of hand-chosen chunk
 * sizes on a warm output array, with auto_ratio = (auto chunking, warm) /
 * (best hand-chosen): the "within 2x of the best chunksize" check.
 * Line 3 (impl=concur-shm): both arrays in cc_shm blocks made before the
 * pool, which the workers read and write in place (output not yet touched,
 * as in line 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <concur.h>

#include "common.h"

static int square(const void *in, void *out, void *ctx) {
  (void)ctx;
  int64_t x = *(const int64_t *)in;
  *(int64_t *)out = x * x;
  return 0;
}

static int check(const int64_t *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (out[i] != (int64_t)i * (int64_t)i) {
      fprintf(stderr, "wrong result at %zu\n", i);
      return 1;
    }
  return 0;
}

static double run(cc_pool_t *pool, const int64_t *in, int64_t *out, size_t n,
                  size_t chunk) {
  cc_pool_map_opts_t mo = {.chunksize = chunk};
  double t0 = bench_now();
  int r = cc_pool_map_records(pool, square, NULL, in, sizeof *in, out, sizeof *out, n,
                              NULL, &mo);
  double t = bench_now() - t0;
  if (r < 0) {
    fprintf(stderr, "map failed: %s\n", cc_strerror(r));
    exit(1);
  }
  return t;
}

int main(int argc, char **argv) {
  size_t n = (size_t)bench_arg(argc, argv, 1, 10000000);
  int64_t *in = malloc(n * sizeof *in);
  int64_t *out = malloc(n * sizeof *out);
  if (!in || !out)
    return 1;
  for (size_t i = 0; i < n; i++)
    in[i] = (int64_t)i;
  /* The same map with both arrays in shared memory made before the pool:
   * the workers read and write them in place (no copies). */
  cc_shm_t *shm_in, *shm_out;
  if (cc_shm_new(&shm_in, n * sizeof *in) < 0 ||
      cc_shm_new(&shm_out, n * sizeof *out) < 0)
    return 1;
  int64_t *sin = cc_shm_ptr(shm_in), *sout = cc_shm_ptr(shm_out);
  for (size_t i = 0; i < n; i++)
    sin[i] = (int64_t)i;
  cc_pool_t *pool;
  cc_pool_opts_t o = {.workers = 2};
  int r = cc_pool_new(&pool, &o);
  if (r < 0) {
    fprintf(stderr, "cc_pool_new: %s\n", cc_strerror(r));
    return 1;
  }
  /* As the Python peers do (pool.map(square, [0, 1])): a two-item map before
   * the clock, so that the workers are up and have run once. */
  run(pool, in, out, 2, 0);
  double wall = run(pool, in, out, n, 0);
  if (check(out, n))
    return 1;
  printf(
      "W5a pmap-tiny impl=concur n=%zu wall_s=%.4f items_per_s=%.0f ns_per_item=%.2f\n",
      n, wall, (double)n / wall, wall * 1e9 / (double)n);

  size_t chunks[] = {1024, 4096, 16384, 65536, 131072};
  double best = 1e9;
  size_t best_chunk = 0;
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
    memset(out, 0, n * sizeof *out);
    double t = run(pool, in, out, n, chunks[c]);
    if (check(out, n))
      return 1;
    if (t < best) {
      best = t;
      best_chunk = chunks[c];
    }
  }
  memset(out, 0, n * sizeof *out);
  double warm = run(pool, in, out, n, 0);
  if (check(out, n))
    return 1;
  printf("W5a pmap-tiny impl=concur-handchunk n=%zu wall_s=%.4f chunksize=%zu "
         "auto_wall_s=%.4f "
         "auto_ratio=%.2f\n",
         n, best, best_chunk, warm, warm / best);
  double shm = run(pool, sin, sout, n, 0);
  if (check(sout, n))
    return 1;
  printf("W5a pmap-tiny impl=concur-shm n=%zu wall_s=%.4f items_per_s=%.0f "
         "ns_per_item=%.2f\n",
         n, shm, (double)n / shm, shm * 1e9 / (double)n);
  cc_shm_free(shm_in);
  cc_shm_free(shm_out);
  cc_pool_free(pool);
  free(in);
  free(out);
  return 0;
}

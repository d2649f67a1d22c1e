/* W5a pmap-tiny over MPI ranks: f(x) = x*x over N 64-bit integers, results
 * in order, with concur::mpi (cc_mpi_map_records) and with
 * mpi4py.futures.MPIPoolExecutor, over 2 and 4 worker ranks (mpirun -n 3
 * and -n 5: rank 0 is the parent in both), one local worker per rank, in
 * the same run.
 *
 *   w5a_mpi [N]     (default 10,000,000; the launcher: runs everything)
 *
 * Lines: W5a pmap-tiny-mpi impl=concur|mpi4py-futures ranks=K n=N wall_s=S
 * ns_per_item=X, then "# ... x lower" with the ratio of the per-item costs
 * (the work itself, one multiplication, is negligible: the cost is the
 * overhead). The clock runs around the map only; each side is warmed up
 * and reports the best of 3 maps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <concur.h>
#include <concur/mpi.h>

#include "common.h"
#include "mpi_common.h"

enum { ROUNDS = 3 };

static int square(const void *in, void *out, void *ctx) {
  int64_t x = *(const int64_t *)in;
  *(int64_t *)out = x * x;
  return 0;
}

static int rank_main(int argc, char **argv, size_t n) {
  cc_mpi_t *m;
  cc_mpi_opts_t o = {.workers = 1};
  int r = cc_mpi_init(&m, &argc, &argv, &o);
  if (r < 0) {
    fprintf(stderr, "cc_mpi_init: %s\n", cc_strerror(r));
    return 1;
  }
  int64_t *in = NULL, *out = NULL;
  if (cc_mpi_is_root(m)) {
    in = malloc(n * sizeof *in);
    out = malloc(n * sizeof *out);
    if (!in || !out)
      return 1;
    for (size_t i = 0; i < n; i++)
      in[i] = (int64_t)i;
  }
  int64_t w_in[8] = {0, 1, 2, 3, 4, 5, 6, 7}, w_out[8];
  r = cc_mpi_map_records(m, square, NULL, w_in, 8, w_out, 8, 8, NULL); /* warm-up */
  /* Best of ROUNDS (the machine is shared and noisy; the peer does the
   * same), each into freshly allocated output as a caller would have. */
  double wall = 1e9;
  for (int round = 0; round < ROUNDS && r == 0; round++) {
    if (cc_mpi_is_root(m)) {
      free(out);
      if (!(out = malloc(n * sizeof *out)))
        return 1;
    }
    double t0 = bench_now();
    r = cc_mpi_map_records(m, square, NULL, in, 8, out, 8, n, NULL);
    double t = bench_now() - t0;
    if (t < wall)
      wall = t;
  }
  int bad = r < 0;
  if (r < 0)
    fprintf(stderr, "map: %s\n", cc_strerror(r));
  if (cc_mpi_is_root(m) && !bad) {
    for (size_t i = 0; i < n && !bad; i++)
      if (out[i] != (int64_t)i * (int64_t)i) {
        fprintf(stderr, "wrong result at %zu\n", i);
        bad = 1;
      }
    if (!bad)
      printf(
          "W5a pmap-tiny-mpi impl=concur ranks=%d n=%zu wall_s=%.4f ns_per_item=%.2f\n",
          cc_mpi_size(m) - 1, n, wall, wall * 1e9 / (double)n);
  }
  fflush(stdout);
  free(in);
  free(out);
  cc_mpi_finalize(m);
  return bad;
}

int main(int argc, char **argv) {
  size_t n = (size_t)bench_arg(argc, argv, 1, 10000000);
  if (bench_mpi_is_rank())
    return rank_main(argc, argv, n);
  static char out[1 << 16];
  char args[4096];
  int fail = 0;
  int ranks[] = {2, 4};
  for (int k = 0; k < 2; k++) {
    snprintf(args, sizeof args, "%s %zu", bench_mpi_self(), n);
    if (bench_mpi_run(ranks[k] + 1, args, out, sizeof out) < 0) {
      fprintf(stderr, "w5a_mpi: concur run with %d ranks failed:\n%s", ranks[k], out);
      return 1;
    }
    fputs(out, stdout);
    double c = bench_mpi_key(out, "ns_per_item");
    snprintf(args, sizeof args, "%s -m mpi4py.futures %s/mpi4py_w5a.py %zu",
             bench_mpi_python(), BENCH_PEERS, n);
    if (bench_mpi_run(ranks[k] + 1, args, out, sizeof out) < 0) {
      fprintf(stderr, "# w5a_mpi: mpi4py.futures peer with %d ranks failed or missing\n",
              ranks[k]);
      continue;
    }
    fputs(out, stdout);
    double p = bench_mpi_key(out, "ns_per_item");
    if (c > 0 && p > 0)
      printf("# W5a over MPI, %d worker ranks: per-item cost concur %.1f ns, "
             "mpi4py.futures %.1f ns: %.0fx lower (target >= 30x)\n",
             ranks[k], c, p, p / c);
    fflush(stdout);
  }
  return fail;
}

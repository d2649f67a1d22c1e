/* concur mine --mpi: the word count of mine.c with its map spread over the
 * ranks of an MPI job (`mpirun -n N concur mine --mpi DIR`). Rank 0 lists
 * the files and merges the counts as they arrive; the other ranks count
 * words in their local process pools. The answer is that of `concur mine`.
 * Built on the public API only (concur/mpi.h). */
#include <stdio.h>

#include <concur/mpi.h>

#include "mine_mpi.h"

static cc_mpi_t *mpi;
static cc_pool_fn work;

int concur_mine_mpi_begin(int workers, cc_pool_fn fn) {
  cc_mpi_opts_t o = {.workers = workers, .progress_bar = true, .max_result = 4 << 20};
  work = fn;
  int r = cc_mpi_init(&mpi, NULL, NULL, &o);
  if (r < 0) {
    fprintf(stderr, "concur mine: MPI: %s\n", cc_strerror(r));
    return -1;
  }
  if (cc_mpi_is_root(mpi))
    return 0;
  cc_mpi_iter_t *it;
  r = cc_mpi_imap(&it, mpi, work, NULL, NULL, 0, false, NULL);
  if (r < 0)
    fprintf(stderr, "concur mine: rank %d: %s\n", cc_mpi_rank(mpi), cc_strerror(r));
  else
    cc_mpi_iter_free(it);
  cc_mpi_finalize(mpi);
  return r < 0 ? -1 : 1;
}

int concur_mine_mpi_ranks(void) {
  return cc_mpi_size(mpi);
}

int concur_mine_mpi_map(const cc_buf_t *items, size_t n,
                        void (*each)(size_t, cc_buf_t, int, void *), void *arg) {
  cc_mpi_iter_t *it;
  int r = cc_mpi_imap(&it, mpi, work, NULL, items, n, false, NULL);
  while (r == 0) {
    size_t idx;
    cc_buf_t res;
    int st;
    r = cc_mpi_iter_next(it, &idx, &res, &st);
    if (r == 0)
      each(idx, res, st, arg);
  }
  cc_mpi_iter_free(it);
  cc_mpi_finalize(mpi);
  return r;
}

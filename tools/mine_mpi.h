/* `concur mine --mpi`: the map of concur mine across the ranks of an MPI
 * job (concur::mpi), linked only when CONCUR_MPI is on. */
#ifndef CONCUR_TOOLS_MINE_MPI_H
#define CONCUR_TOOLS_MINE_MPI_H

#include <concur.h>

/* Starts this rank (every rank calls it first): returns 0 on rank 0, which
 * goes on to list the files and call concur_mine_mpi_map(); on a worker
 * rank serves the map with `fn`, ends the rank and returns 1; -1 on
 * failure (printed). `workers`: local pool processes per rank (0: auto). */
int concur_mine_mpi_begin(int workers, cc_pool_fn fn);

/* Number of ranks of the job (after concur_mine_mpi_begin()). */
int concur_mine_mpi_ranks(void);

/* Rank 0: maps the begin()'s fn over the n items across the ranks
 * (imap_unordered), calls each(index, result, status, arg) as results
 * arrive (each frees result.data), then ends the rank. Returns -CC_ECLOSED
 * when every result was given (as cc_pool_iter_next() does), or an error.
 * items NULL and n 0: only ends the map and the rank (rank 0 failed). */
int concur_mine_mpi_map(const cc_buf_t *items, size_t n,
                        void (*each)(size_t, cc_buf_t, int, void *), void *arg);

#endif

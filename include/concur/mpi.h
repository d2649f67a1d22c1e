/* concur: the process pool's map across the ranks of an MPI job
 * (mpi4py.futures.MPIPoolExecutor / MPICommExecutor for C).
 *
 * Library concur::mpi (concur_mpi), built when CONCUR_MPI is on (Open MPI,
 * libopenmpi-dev). Not included by <concur.h>: include <concur/mpi.h> and
 * link concur::mpi.
 *
 * The model is SPMD, as every MPI program is: `mpirun -n N prog` starts N
 * copies of the program; each calls cc_mpi_init() first thing in main() and
 * then makes the SAME sequence of map calls with the same work function and
 * ctx. Rank 0 (the parent) holds the items: it cuts them into chunks and
 * hands each chunk to whichever worker rank is idle (dynamic load balancing,
 * two chunks in flight per worker), puts the results in input order and
 * returns. Every other rank (a worker) ignores the item arguments: its map
 * call serves chunks until rank 0 says the map is over, then returns 0.
 * Function pointers and ctx therefore never cross the network; each rank
 * uses its own (the same code, the same set-up).
 *
 * Inside each worker rank the chunk runs on every core of its machine: in a
 * local cc_pool forked by cc_mpi_init() BEFORE MPI_Init (Open MPI must not
 * see a fork after MPI_Init), or on threads (opts.threads). Python's
 * equivalent is `mpirun -n N python -m mpi4py.futures prog.py` with an
 * MPIPoolExecutor whose workers each run a ProcessPoolExecutor.
 *
 * What MPI survives (see docs/mpi.md): an item's error (or a crash of a
 * local pool worker) is reported for that item and the map goes on; a rank
 * that dies takes the whole job down under Open MPI 4.1 (no ULFM). With a
 * checkpoint file, every finished chunk is appended to it, rank 0 prints
 * what was done when the job is stopped, and a rerun with opts.resume skips
 * the chunks already done.
 *
 * Threads: the cc_mpi calls of a rank must be made by one thread at a time
 * (MPI_THREAD_SERIALIZED is requested; if Open MPI grants less, only the
 * thread that called cc_mpi_init() may call them, others get -EPERM; below
 * FUNNELED, which the local pool's manager thread needs, cc_mpi_init()
 * aborts the job). They block the calling thread, even in a coroutine.
 */
#ifndef CONCUR_MPI_H
#define CONCUR_MPI_H

#include <stdbool.h>
#include <sys/types.h>

#include "common.h"
#include "pool.h"

CC_BEGIN_DECLS

typedef struct cc_mpi cc_mpi_t;

/** Options for cc_mpi_init(); zero-fill (or NULL) for the defaults. */
typedef struct cc_mpi_opts {
  /** Local pool processes per worker rank; 0: the cores of its machine
   *  divided among the ranks on it (rank 0 not counted), at least 1. */
  int workers;
  /** Run items on this many threads inside each worker rank instead of a
   *  local process pool: nothing is ever forked, but an item that crashes
   *  kills its rank (and so the job). 1: on the rank's own thread. */
  int threads;
  /** Run in each local worker (or once per worker rank with threads) with
   *  `initargs`, as cc_pool_opts_t's initializer: a negative return breaks
   *  that rank's pool (every item it runs fails with that error; with
   *  threads, cc_mpi_init() fails with it). */
  int (*initializer)(void *initargs);
  void *initargs; /**< its argument (a pointer of that rank) */
  /** Called on rank 0 at most 10 times a second and at the end of a map. */
  cc_pool_progress_fn progress;
  void *progress_arg;
  bool progress_bar; /**< draw a progress bar on rank 0's stderr if a tty */
  /** Largest record, bytes item or bytes result; 0: 1 MiB. */
  size_t max_result;
  /** Path of a checkpoint file (rank 0's file system); NULL: none. Each
   *  finished chunk's results are appended to it as they arrive. */
  const char *checkpoint;
  /** Read the checkpoint first and skip the chunks it holds (their results
   *  are taken from it); without resume the file is started afresh. */
  bool resume;
} cc_mpi_opts_t;

/** Starts this rank: forks the local pool (worker ranks only, unless MPI
 *  is already initialised or opts.threads is set), then MPI_Init_thread().
 *  Call it first thing in main(), before any thread or MPI call of yours;
 *  argc/argv may be NULL. The work functions, ctx and initargs must exist
 *  before this call (the pool's 'fork' rule). Outside mpirun the program is
 *  a job of one rank that runs every item in its own local pool.
 *  Caller owns *out (cc_mpi_finalize()). Never suspends.
 *  Errors: -EINVAL, -ENOMEM and the pool's errors (before MPI_Init). A
 *  failure after MPI_Init (-CC_EMPI; on rank 0 a checkpoint that cannot be
 *  opened or is not one, -errno or -CC_ECHECKPOINT) is printed and the job
 *  is aborted (MPI_Abort): the other ranks would otherwise wait forever. */
CC_EXTERN int cc_mpi_init(cc_mpi_t **out, int *argc, char ***argv,
                          const cc_mpi_opts_t *opts);

/** This process's rank, the number of ranks, and whether it is rank 0. */
CC_EXTERN int cc_mpi_rank(const cc_mpi_t *m);
CC_EXTERN int cc_mpi_size(const cc_mpi_t *m);
CC_EXTERN bool cc_mpi_is_root(const cc_mpi_t *m);

/** The thread level MPI_Init_thread() granted (MPI_THREAD_SINGLE = 0 ...
 *  MPI_THREAD_MULTIPLE = 3). */
CC_EXTERN int cc_mpi_thread_level(const cc_mpi_t *m);

/** Local pool processes (or threads) of this rank that run items; 0 on
 *  rank 0 of a job of several ranks. */
CC_EXTERN int cc_mpi_local_workers(const cc_mpi_t *m);

/** Maps fn over n fixed-size records across the ranks (Pool.map over
 *  arrays of structs). On rank 0: as cc_pool_map_records(): out + i*out_size
 *  receives the output of in + i*in_size, in order; returns 0, or after
 *  every other item completed the error of the lowest failed index (see
 *  cc_mpi_failed_index()); also -EINVAL, -ETIMEDOUT (opts->deadline: chunks
 *  already sent are waited for), -CC_EMPI, -CC_ECHECKPOINT (the checkpoint
 *  holds another map at this position), -EPERM. On a worker rank `in`,
 *  `out` and `n` are ignored: it serves chunks, returns 0 when rank 0 ends
 *  the map. in_size and out_size are at most opts.max_result. Blocks. */
CC_EXTERN int cc_mpi_map_records(cc_mpi_t *m, cc_pool_rec_fn fn, void *ctx,
                                 const void *in, size_t in_size, void *out,
                                 size_t out_size, size_t n,
                                 const cc_pool_map_opts_t *opts);

/** Maps fn over n byte items across the ranks (Pool.map, executor.map):
 *  on rank 0, as cc_pool_map(): results[i] a malloc'd buffer (free each, or
 *  cc_pool_free_results()), status[i] (if not NULL) 0 or item i's error.
 *  Returns as cc_mpi_map_records(). Worker ranks ignore items, results,
 *  status and n. Blocks. */
CC_EXTERN int cc_mpi_map(cc_mpi_t *m, cc_pool_fn fn, void *ctx, const cc_buf_t *items,
                         size_t n, cc_buf_t *results, int *status,
                         const cc_pool_map_opts_t *opts);

/** The index of the failed item the last map of rank 0 reported, or
 *  (size_t)-1. */
CC_EXTERN size_t cc_mpi_failed_index(const cc_mpi_t *m);

/** Items of the last map of rank 0 whose results came from the checkpoint
 *  (opts.resume) instead of being computed again. */
CC_EXTERN size_t cc_mpi_resumed_items(const cc_mpi_t *m);

typedef struct cc_mpi_iter cc_mpi_iter_t;

/** Starts mapping fn over n byte items and gives an iterator over the
 *  results (imap when `ordered`, imap_unordered otherwise). On rank 0 the
 *  work proceeds while cc_mpi_iter_next() is called; `items` must stay
 *  valid until the iterator is freed. On a worker rank the call serves the
 *  whole map before it returns, and the iterator it gives is empty.
 *  Errors: -EINVAL, -ENOMEM, -CC_EMPI, -CC_ECHECKPOINT, -EPERM. Blocks. */
CC_EXTERN int cc_mpi_imap(cc_mpi_iter_t **out, cc_mpi_t *m, cc_pool_fn fn, void *ctx,
                          const cc_buf_t *items, size_t n, bool ordered,
                          const cc_pool_map_opts_t *opts);

/** The next result, as cc_pool_iter_next(): *index, *result (malloc'd,
 *  caller frees; {NULL, 0} when failed), *status. Returns 0, -CC_ECLOSED
 *  when every result has been given, -ETIMEDOUT (the map's deadline passed:
 *  the rest is abandoned), -CC_EMPI. Blocks. */
CC_EXTERN int cc_mpi_iter_next(cc_mpi_iter_t *it, size_t *index, cc_buf_t *result,
                               int *status);

/** Frees the iterator. On rank 0 work not yet handed out is abandoned and
 *  the chunks in flight are waited for (so the workers are ready for the
 *  next map). NULL is ignored. Blocks briefly. */
CC_EXTERN void cc_mpi_iter_free(cc_mpi_iter_t *it);

/** Ends this rank: closes the checkpoint, MPI_Finalize() (unless MPI was
 *  initialised before cc_mpi_init()), then stops and reaps the local pool.
 *  Every rank must call it. NULL is ignored. */
CC_EXTERN void cc_mpi_finalize(cc_mpi_t *m);

CC_END_DECLS
#endif

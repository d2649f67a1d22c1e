/* concur: the process pool (multiprocessing.Pool and ProcessPoolExecutor).
 *
 * A pool owns N worker processes forked when it is created (and again when
 * one has to be replaced). Workers run function pointers of the parent's
 * image, so the work function, its `ctx` pointer and anything `ctx` points
 * to must exist in the parent before the pool was created (globals, or
 * memory allocated before cc_pool_new(), as with Python's 'fork' start
 * method). Items and results travel through shared-memory rings (a
 * pre-faulted anonymous shared mapping, futex and eventfd wake-ups), never
 * through pipes: a chunk of items costs one or two copies and at most a couple of
 * system calls, whatever the number of items in it.
 *
 * Two forms of work:
 *  - records: map an array of fixed-size input records to an array of
 *    fixed-size output records (cc_pool_map_records); the natural C case,
 *    with a per-chunk, not per-item, cost.
 *  - bytes: items and results are byte buffers of any length
 *    (cc_pool_map, cc_pool_imap, cc_pool_submit).
 *
 * A helper thread in the parent (the pool manager) moves chunks to and from
 * the workers, watches every worker through a pidfd and enforces item
 * time-outs, so that a worker that dies (segfault, abort, SIGKILL from
 * outside, exit() in the middle of an item) is noticed at once: the item it
 * was running fails with -CC_EWORKER (-ETIMEDOUT for a time-out), the
 * worker is replaced, and every other item still completes. Nothing hangs.
 *
 * Waiting calls (map, imap next, join) called from a coroutine suspend only
 * that coroutine; from a plain thread they block it. Every call is
 * thread-safe unless stated otherwise.
 */
#ifndef CONCUR_POOL_H
#define CONCUR_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include "common.h"
#include "future.h"

CC_BEGIN_DECLS

typedef struct cc_pool cc_pool_t;

/** A work function over fixed-size records: reads one input record, writes
 *  one output record. Returns 0, or a negative code that becomes the
 *  item's error. Runs in a worker process. */
typedef int (*cc_pool_rec_fn)(const void *in, void *out, void *ctx);

/** A work function over byte buffers: reads `in_len` bytes, writes its
 *  result (at most `out_cap` bytes) to `out` and returns its length, or a
 *  negative code that becomes the item's error. If the result does not fit
 *  it should return -CC_ETOOBIG: the item is then run again with the largest
 *  room the pool has (opts.max_result), and fails with -CC_ETOOBIG only if
 *  it still does not fit. Runs in a worker process. */
typedef ssize_t (*cc_pool_fn)(const void *in, size_t in_len, void *out, size_t out_cap,
                              void *ctx);

/** Progress: `done` of `total` items of the current map are finished.
 *  Called on the pool's manager thread, at most about 10 times a second and
 *  once at the end; it must not call into the pool. */
typedef void (*cc_pool_progress_fn)(size_t done, size_t total, void *arg);

/** A byte buffer: an item or a result. */
typedef struct cc_buf {
  void *data;
  size_t len;
} cc_buf_t;

/** Options for cc_pool_new(); zero-fill (or NULL) for the defaults. */
typedef struct cc_pool_opts {
  int workers; /**< worker processes; 0: cc_cpu_count() */
  /** Run in each worker when it starts, with `initargs` (a parent pointer),
   *  as cc_executor_opts_t's initializer: a negative return breaks the
   *  pool, so that every job, queued or given later, fails with that
   *  error. A worker that keeps dying before it takes work breaks it with
   *  -CC_EWORKER. */
  int (*initializer)(void *initargs);
  void *initargs;
  /** A worker exits and is replaced after this many items (counted at the
   *  end of each chunk); 0: never. */
  size_t maxtasksperchild;
  /** An item running longer than this (ms) has its worker killed and
   *  replaced and fails with -ETIMEDOUT; 0: no limit. Checked about four
   *  times per period. */
  int64_t item_timeout_ms;
  cc_pool_progress_fn progress; /**< optional progress callback */
  void *progress_arg;
  /** Draw a progress bar (done/total, rate, time left) on stderr during
   *  maps, if stderr is a terminal. */
  bool progress_bar;
  /** Largest result of a bytes item, largest item, and largest record;
   *  0: 1 MiB. A result longer than this fails its own item with
   *  -CC_ETOOBIG (the fn is offered at most this much room); an item
   *  longer than this fails with -CC_ETOOBIG without running. Every other
   *  item completes. */
  size_t max_result;
} cc_pool_opts_t;

/** Per-call options of the map functions; NULL for the defaults. */
typedef struct cc_pool_map_opts {
  /** Items per chunk; 0: chosen from the item count and the measured cost
   *  of an item (chunks of about a millisecond, at least a few per
   *  worker). */
  size_t chunksize;
  /** Absolute deadline (cc_now() ms) for the whole call; CC_FOREVER, or 0
   *  as in zero-filled options, for none. When it passes, the rest of the
   *  work is abandoned and the call returns -ETIMEDOUT. */
  int64_t deadline;
} cc_pool_map_opts_t;

/** Creates a pool and starts its workers (multiprocessing.Pool(...)).
 *  The caller owns *out and frees it with cc_pool_free(). Never suspends.
 *  Errors: -EINVAL, -ENOMEM, -EAGAIN, -EMFILE, -ENOSYS (no pidfd). */
CC_EXTERN int cc_pool_new(cc_pool_t **out, const cc_pool_opts_t *opts);

/** Number of worker processes. */
CC_EXTERN int cc_pool_workers(const cc_pool_t *pool);

/** The pids of the current workers (up to `cap`); returns how many. For
 *  tests and monitoring: a pid may belong to a dead worker an instant
 *  later. */
CC_EXTERN int cc_pool_worker_pids(cc_pool_t *pool, pid_t *pids, int cap);

/** Maps fn over n fixed-size records (Pool.map for arrays of structs):
 *  out + i*out_size receives fn's output for in + i*in_size, in order.
 *  `in` and `out` are the caller's memory and must not overlap. Any memory
 *  works: the pool copies chunks through its shared rings. An array that
 *  lies in a cc_shm block made before the pool's workers were forked is
 *  used in place instead (workers read the input and write the output
 *  directly: no copy at all); such an output is no longer written once the
 *  call has returned, even after a time-out (the call then waits for the
 *  chunks already running, about a millisecond each). The output records of
 *  failed items are unspecified, and so is `out` after a map that returns
 *  -ETIMEDOUT/-ECANCELED/-CC_ECLOSED (it is no longer written once the call
 *  has returned). Returns 0 if every item succeeded; otherwise
 *  every other item is still completed and the error of the lowest failed
 *  index is returned (the item's own error, -CC_EWORKER if its worker
 *  died, -ETIMEDOUT if it ran past opts.item_timeout_ms); that index goes
 *  to *failed_index (if not NULL), which is (size_t)-1 whenever no item's
 *  error is returned (as cc_executor_map()). Also -EINVAL, -CC_ECLOSED
 *  (pool closed or terminated), -ETIMEDOUT (map deadline), -ECANCELED, the
 *  initializer's error (broken pool), -CC_ETOOBIG (a record larger than
 *  max_result). May suspend. */
CC_EXTERN int cc_pool_map_records(cc_pool_t *pool, cc_pool_rec_fn fn, void *ctx,
                                  const void *in, size_t in_size, void *out,
                                  size_t out_size, size_t n, size_t *failed_index,
                                  const cc_pool_map_opts_t *opts);

/** Maps fn over n byte items (Pool.map): results[i] receives the result of
 *  items[i] in a new malloc'd buffer (data never NULL on success; free()
 *  each one, or use cc_pool_free_results()); status[i] (if status is not
 *  NULL) receives 0 or item i's error, and a failed item's result is
 *  {NULL, 0}. Returns as cc_pool_map_records(). May suspend. */
CC_EXTERN int cc_pool_map(cc_pool_t *pool, cc_pool_fn fn, void *ctx,
                          const cc_buf_t *items, size_t n, cc_buf_t *results, int *status,
                          size_t *failed_index, const cc_pool_map_opts_t *opts);

/** Frees the n result buffers of a cc_pool_map() and zeroes them. */
CC_EXTERN void cc_pool_free_results(cc_buf_t *results, size_t n);

/* ---- imap / imap_unordered --------------------------------------------- */

typedef struct cc_pool_iter cc_pool_iter_t;

/** Starts mapping fn over n byte items and returns an iterator over the
 *  results (Pool.imap when `ordered`, Pool.imap_unordered otherwise).
 *  `items` and the buffers they point to must stay valid until the
 *  iterator is freed. Never suspends. Errors: -EINVAL, -ENOMEM,
 *  -CC_ECLOSED. */
CC_EXTERN int cc_pool_imap(cc_pool_iter_t **out, cc_pool_t *pool, cc_pool_fn fn,
                           void *ctx, const cc_buf_t *items, size_t n, bool ordered,
                           const cc_pool_map_opts_t *opts);

/** The next result: *index is the item's index, *result a malloc'd buffer
 *  (caller frees) and *status 0 or the item's error (then *result is
 *  {NULL, 0}). Ordered iterators give the items in input order, unordered
 *  ones as they finish. Returns 0, -CC_ECLOSED when every result has been
 *  given (or the pool was terminated), -ETIMEDOUT (the absolute `deadline`
 *  passed, CC_FOREVER for none: 0 has passed, so it polls; the iterator
 *  remains usable), -ECANCELED. May suspend. One caller at a time. */
CC_EXTERN int cc_pool_iter_next(cc_pool_iter_t *it, size_t *index, cc_buf_t *result,
                                int *status, int64_t deadline);

/** Frees the iterator; work not yet done for it is abandoned. NULL is
 *  ignored. Never suspends. */
CC_EXTERN void cc_pool_iter_free(cc_pool_iter_t *it);

/* ---- futures (apply_async / ProcessPoolExecutor.submit) --------------- */

/** Runs fn over one byte item in the pool (Pool.apply_async /
 *  ProcessPoolExecutor.submit). The item is copied before the call returns.
 *  *out receives a future owned by the caller (cc_future_unref()); its
 *  value is a `cc_buf_t *` owned by the future (valid until the future is
 *  freed), its error the item's error. Cancelling the future before the
 *  item starts stops it from running. Never suspends. Errors: -EINVAL,
 *  -ENOMEM, -CC_ECLOSED, -CC_ETOOBIG (item larger than max_result). */
CC_EXTERN int cc_pool_submit(cc_pool_t *pool, cc_pool_fn fn, void *ctx, const void *item,
                             size_t len, cc_future_t **out);

/* ---- life cycle ------------------------------------------------------- */

/** Stops accepting new work (Pool.close); work already given completes.
 *  Never suspends. */
CC_EXTERN void cc_pool_close(cc_pool_t *pool);

/** Waits until every item given so far is done (call cc_pool_close()
 *  first to have no more given meanwhile), until the absolute `deadline`
 *  (CC_FOREVER: none; 0 has passed, so it polls). Returns 0, -ETIMEDOUT,
 *  -ECANCELED. May suspend. */
CC_EXTERN int cc_pool_join(cc_pool_t *pool, int64_t deadline);

/** Kills every worker at once (Pool.terminate): running and pending items
 *  fail with -CC_ECLOSED, waiting calls return -CC_ECLOSED, futures
 *  complete with -CC_ECLOSED. The pool accepts no more work. Never
 *  suspends. */
CC_EXTERN void cc_pool_terminate(cc_pool_t *pool);

/** Shuts the pool down and frees it: pending work is abandoned, workers are
 *  asked to exit, killed if they do not within 200 ms, and reaped; the
 *  shared memory is unmapped. No waiting call may be in progress, and every
 *  iterator must have been freed. NULL is ignored. Blocks briefly; never
 *  suspends. */
CC_EXTERN void cc_pool_free(cc_pool_t *pool);

CC_END_DECLS
#endif

/* Internal: the process pool's shared state, used by its four files, one
 * per actor (a reader sees which process or thread runs each line):
 *   pool.c          the public API: callers' threads and coroutines;
 *   pool_job.c      job bookkeeping under pool->mu, by the manager or a caller;
 *   pool_manager.c  the manager thread (one per pool);
 *   pool_worker.c   the worker processes (forked by the manager).
 *
 * Processes and memory
 * --------------------
 * The pool is three kinds of actor:
 *   - callers (any thread or coroutine) queue jobs and wait for them;
 *   - the manager, one thread per pool, the only one that touches the
 *     workers' slots: it copies chunks of items into slots, copies results
 *     out, watches the workers' pidfds, enforces item time-outs, and forks
 *     every worker (so that PR_SET_PDEATHSIG, which follows the forking
 *     thread, ties the workers' lives to the manager's);
 *   - the workers, forked processes that run chunks.
 *
 * Workers and manager share one anonymous shared mapping, made and
 * pre-faulted before the first fork:
 *
 *   +--------+-------------+-----+-------------------------------------+
 *   | header | wshared[0]  | ... | slot areas: per worker, per slot:   |
 *   | (page) | 2 slots     |     |   in area (cap) | out area (cap)    |
 *   +--------+-------------+-----+-------------------------------------+
 *
 * Each worker has two slots, used in strict alternation by both sides
 * (manager fills 0,1,0,1...; worker runs 0,1,0,1...), so a worker finds its
 * next chunk ready while the manager collects the previous one. A slot
 * moves FREE -> READY (manager filled it) -> RUNNING (worker took it) ->
 * DONE (worker finished it) -> FREE (manager collected it); STOP asks the
 * worker to exit.
 *
 * Copies. The manager copies each chunk's input into a slot and its results
 * into the caller's array; no worker ever writes the caller's memory, so a
 * map that is abandoned (deadline, cancellation) can return at once: nothing
 * writes to its arrays after it has returned. A plain-thread caller, idle
 * while it waits, pre-faults a large output array ahead of the manager.
 * (Workers reading their input straight from the parent with
 * process_vm_readv() were tried and measured slower on W5a: the reads
 * contend with the parent's page faults on a fresh output array.)
 *
 * Wake-ups. A worker that finds its next slot not READY spins briefly, then
 * sets `sleeping` and futex-waits on the slot's state; the manager makes a
 * futex_wake only if `sleeping` is set. The manager, when it has nothing to
 * do, sets header.mgr_sleeping and sleeps in epoll_wait on an eventfd and
 * the workers' pidfds; a worker that completes a slot writes the eventfd
 * only if it clears mgr_sleeping from 1. Both are Dekker-style handshakes
 * on sequentially consistent atomics: the sleeper publishes its flag and
 * then re-checks the condition; the waker publishes the condition and then
 * checks the flag; one of the two must see the other. So a busy pool costs
 * no system call per chunk.
 *
 * Faults. A worker stores the index of the item it is running in its slot
 * (one relaxed store per item). When its pidfd becomes readable the manager
 * reaps it; the slot that was RUNNING tells which item was running: items
 * before it are complete and collected, that item fails (-CC_EWORKER, or
 * -ETIMEDOUT if the manager killed it for running too long), the items
 * after it and any READY slot are queued again, and a new worker is forked
 * at the same index.
 *
 * Locking. pool->mu guards every job and the manager's per-worker state;
 * the manager holds it while copying chunks (callers only take it briefly).
 * Callers wait on pool->waiters under mu (task/wait.h: a coroutine parks,
 * a thread sleeps on its own condition variable); every change a caller
 * may wait for is followed by cc__pool_notify(). Futures are completed and
 * their callbacks run after mu is dropped.
 */
#ifndef CC_PROC_POOL_INT_H
#define CC_PROC_POOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "concur/pool.h"
#include "task/wait.h"

/* ---- shared layout ------------------------------------------------------- */

enum { SLOT_FREE = 0, SLOT_READY, SLOT_RUNNING, SLOT_DONE, SLOT_STOP };
enum { KIND_REC = 1, KIND_BYTES };

/* Most items in one bytes chunk; fixes the size of the per-chunk tables. */
#define BYTES_CHUNK_MAX 1024u
/* Room reserved at the start of a bytes area for its tables:
 * in:  uint64 off[n+1];   out: int32 status[n], uint64 off[n+1]. */
#define BYTES_HDR (((BYTES_CHUNK_MAX * 4 + (BYTES_CHUNK_MAX + 1) * 8) + 63) & ~(size_t)63)
#define CACHELINE 64

typedef struct slot {
  _Atomic uint32_t state;
  uint32_t kind;
  uint32_t n;          /* items in the chunk */
  uint32_t in_size;    /* records */
  uint32_t out_size;   /* records */
  uint32_t err_at;     /* records: first item whose fn failed, n if none */
  int32_t err_code;    /* its error */
  uint32_t stop_at;    /* bytes: items run before stopping early (-CC_ETOOBIG) */
  uint64_t elapsed_ns; /* the worker's own time for the chunk */
  uint64_t base;       /* index in the job of the first item (for the trace) */
  void *fn, *ctx;
  size_t in_off, out_off; /* of the areas, from the arena base */
  /* records in a cc_shm block the worker maps too: read and written in
   * place (NULL: use the slot's areas) */
  const char *src;
  char *dst;
  /* Written once per item by the worker: on its own line so that the
   * manager's scans of `state` do not bounce it. */
  _Alignas(CACHELINE) _Atomic uint32_t cur;
} slot_t;

typedef struct wshared {
  _Alignas(CACHELINE) _Atomic uint32_t sleeping;
  _Atomic uint32_t stop;
  _Atomic uint32_t started; /* initializer finished, first slot awaited */
  _Atomic int32_t init_err; /* the initializer's negative return, or 0 */
  uint64_t items_done;
  _Alignas(CACHELINE) slot_t slot[2];
} wshared_t;

typedef struct arena_hdr {
  _Alignas(CACHELINE) _Atomic uint32_t mgr_sleeping;
} arena_hdr_t;

/* ---- parent-side state ----------------------------------------------------- */

typedef struct range {
  size_t start, n;
} range_t;

typedef struct job job_t;
struct job {
  job_t *next_q;   /* in pool->queue while it has undispatched items */
  job_t *next_fin; /* in the manager's local list of finished futures */
  bool queued;
  int kind;
  void *fn, *ctx;
  size_t n;
  /* records */
  const char *in;
  char *out;
  size_t in_size, out_size;
  uint64_t in_shm, out_shm;   /* ids of the cc_shm blocks holding them, or 0 */
  size_t direct_out_inflight; /* chunks that write `out` themselves */
  /* bytes: items, and where results go (the caller's arrays for a map, the
   * job's own for an iterator or a future) */
  const cc_buf_t *items;
  cc_buf_t *results;
  int *status;
  bool *ready;                 /* iterator: result i arrived */
  size_t *order, qhead, qtail; /* unordered iterator: arrival order */
  size_t out_next;             /* ordered iterator: next index to give */
  bool is_iter, ordered;
  /* dispatch */
  size_t next;
  range_t *retry;
  size_t nretry, retry_cap;
  size_t chunksize;   /* fixed by the caller, or 0 */
  double ns_per_item; /* measured; < 0 until the first chunk returns */
  size_t inflight;    /* chunks in slots */
  /* completion */
  size_t done; /* items finished, failed ones included */
  int first_err;
  size_t first_err_idx;
  int final_err; /* whole job failed (pool terminated) */
  bool finished, cancelled;
  int refs;
  /* future */
  cc_future_t *fut;
  bool fut_running;
  cc_buf_t own_item;
  cc_buf_t own_result;
  int own_status;
  /* progress */
  int64_t t_start, t_last_report;
};

typedef struct chunk {
  job_t *job;
  size_t base; /* index in the job of the chunk's first item */
  uint32_t n;
  bool direct_out; /* the worker writes the job's output array itself */
} chunk_t;

typedef struct worker {
  pid_t pid;
  int pidfd;
  uint64_t shm_epoch; /* cc_shm blocks with smaller ids are mapped in it */
  bool alive;
  bool timed_out; /* killed by the manager for an item time-out */
  int next_fill;
  chunk_t ck[2];
  /* time-out watch: what the worker was seen running, and since when */
  uint32_t seen_slot, seen_cur;
  uint64_t seen_gen;
  int64_t seen_at;
  uint64_t gen[2]; /* fills of each slot, to tell chunks apart */
} worker_t;

struct cc_pool {
  cc_pool_opts_t o;
  int nworkers;
  char *arena;
  size_t arena_len, cap;
  arena_hdr_t *hdr;
  wshared_t *ws;
  worker_t *w;
  int mgr_efd; /* wakes the manager: callers and workers write it */
  int epfd;
  pthread_t mgr;
  pid_t parent_pid;
  size_t page; /* sysconf(_SC_PAGESIZE) */

  pthread_mutex_t mu;
  pthread_cond_t start_cv; /* the manager's start-up, for cc_pool_new() */
  cc__twq_t waiters;       /* any job or pool state change: threads and coroutines */
  job_t *qhead, *qtail;
  size_t active; /* jobs not finished */
  bool closed, terminated, shutdown;
  int start_err; /* manager start-up result */
  bool started;
  int init_failures; /* workers that died before running anything */
  bool broken;       /* workers cannot be kept alive: every job fails */
  int broken_err;    /* the error jobs fail with then */
  bool bar_drawn;
};

/* ---- helpers of every actor ----------------------------------------------- */

static inline void cc__efd_post(int fd) {
  uint64_t one = 1;
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}

/* Wakes every waiter of the pool, threads and coroutines alike
 * (task/wait.h). Caller holds mu. */
static inline void cc__pool_notify(cc_pool_t *p) {
  cc__tw_broadcast(&p->waiters, 0);
}

static inline void cc__pool_wake_manager(cc_pool_t *p) {
  cc__efd_post(p->mgr_efd);
}

/* ---- pool_job.c: jobs (mu held; the manager or a caller) ------------------ */

void cc__job_free(job_t *j);
void cc__job_unref(job_t *j);
/* Puts j on / takes it off the queue of jobs with undispatched items. */
void cc__job_queue(cc_pool_t *p, job_t *j);
void cc__job_dequeue(cc_pool_t *p, job_t *j);
bool cc__job_has_work(const job_t *j);
/* The job is over: off the queue; a future's job goes on *fin (completed
 * by cc__complete_futures() without the lock), others stop being active. */
void cc__job_finish(cc_pool_t *p, job_t *j, job_t **fin);
/* Item i of j is finished (ok or with err). */
void cc__item_done(cc_pool_t *p, job_t *j, size_t i, int err);
void cc__add_retry(cc_pool_t *p, job_t *j, size_t start, size_t n, job_t **fin);

/* ---- pool_manager.c -------------------------------------------------------- */

/* The manager thread's body (pthread_create's start routine). */
void *cc__pool_manager_main(void *arg);
/* Every unfinished job fails with err (mu held). */
void cc__fail_all(cc_pool_t *p, int err, job_t **fin);
/* Completes the futures of the jobs on `fin`; called WITHOUT mu. */
void cc__complete_futures(cc_pool_t *p, job_t *fin);

/* ---- pool_worker.c --------------------------------------------------------- */

/* The body of worker wi, in the child right after fork(); never returns. */
_Noreturn void cc__pool_worker_main(cc_pool_t *p, int wi);

#endif

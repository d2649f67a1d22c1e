/* The process pool (multiprocessing.Pool / ProcessPoolExecutor).
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
 * Futures are completed and their callbacks run after it is dropped.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "concur/error.h"
#include "concur/future.h"
#include "concur/loop.h"
#include "concur/pool.h"
#include "concur/process.h"
#include "loop/sched.h"
#include "proc/proc_int.h"

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

typedef struct waiter_fd {
  struct waiter_fd *next;
  int fd;
} waiter_fd_t;

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

  pthread_mutex_t mu;
  pthread_cond_t cv;    /* any job or pool state change (plain threads) */
  waiter_fd_t *waiters; /* the same, for waiting coroutines */
  job_t *qhead, *qtail;
  size_t active; /* jobs not finished */
  bool closed, terminated, shutdown;
  int start_err; /* manager start-up result */
  bool started;
  int init_failures; /* workers that died before running anything */
  bool broken;       /* workers cannot be kept alive: every job fails */
  bool bar_drawn;
};

static _Thread_local size_t failed_index = (size_t)-1;

size_t cc_pool_failed_index(void) {
  return failed_index;
}

/* ---- small helpers ----------------------------------------------------------- */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, (uint32_t *)a, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *a) {
  syscall(SYS_futex, (uint32_t *)a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void efd_post(int fd) {
  uint64_t one = 1;
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}

static void efd_drain(int fd) {
  uint64_t v;
  ssize_t r = read(fd, &v, sizeof v);
  (void)r;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static slot_t *slot_of(cc_pool_t *p, int wi, int k) {
  return &p->ws[wi].slot[k];
}

/* Wakes every waiter of the pool: threads on the condition variable,
 * coroutines through their eventfds. Caller holds mu. */
static void notify(cc_pool_t *p) {
  pthread_cond_broadcast(&p->cv);
  for (waiter_fd_t *w = p->waiters; w; w = w->next)
    efd_post(w->fd);
}

static void wake_manager(cc_pool_t *p) {
  efd_post(p->mgr_efd);
}

/* Waits (mu held) until pred(p, arg) holds, or the deadline passes, or the
 * calling coroutine is cancelled. */
static int pool_wait(cc_pool_t *p, bool (*pred)(cc_pool_t *, void *), void *arg,
                     int64_t deadline) {
  if (deadline == 0)
    deadline = CC_FOREVER;
  if (pred(p, arg))
    return 0;
  if (cc__self() != NULL) {
    waiter_fd_t w = {.next = p->waiters, .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    if (w.fd < 0)
      return -errno;
    p->waiters = &w;
    bool reg = false;
    int r = 0;
    while (!pred(p, arg)) {
      pthread_mutex_unlock(&p->mu);
      r = cc__proc_wait_fd(w.fd, CC__READ, deadline, &reg);
      pthread_mutex_lock(&p->mu);
      efd_drain(w.fd);
      if (r < 0)
        break;
    }
    for (waiter_fd_t **pp = &p->waiters; *pp; pp = &(*pp)->next)
      if (*pp == &w) {
        *pp = w.next;
        break;
      }
    cc__proc_close_fd(w.fd, reg);
    return pred(p, arg) ? 0 : r;
  }
  while (!pred(p, arg)) {
    if (deadline < 0) {
      pthread_cond_wait(&p->cv, &p->mu);
    } else {
      struct timespec ts = {.tv_sec = deadline / 1000,
                            .tv_nsec = (deadline % 1000) * 1000000};
      if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT && !pred(p, arg))
        return -ETIMEDOUT;
    }
  }
  return 0;
}

/* ---- jobs (mu held) ------------------------------------------------------------ */

static void job_free(job_t *j) {
  if (j->is_iter) {
    for (size_t i = 0; i < j->n; i++)
      free(j->results[i].data);
    free(j->results);
    free(j->status);
    free(j->ready);
    free(j->order);
  }
  free(j->own_result.data);
  free(j->own_item.data);
  free(j->retry);
  if (j->fut)
    cc_future_unref(j->fut);
  free(j);
}

static void job_unref(job_t *j) {
  if (--j->refs == 0)
    job_free(j);
}

static void queue_push(cc_pool_t *p, job_t *j) {
  if (j->queued)
    return;
  j->queued = true;
  j->next_q = NULL;
  if (p->qtail)
    p->qtail->next_q = j;
  else
    p->qhead = j;
  p->qtail = j;
}

static void queue_remove(cc_pool_t *p, job_t *j) {
  if (!j->queued)
    return;
  job_t *prev = NULL;
  for (job_t *x = p->qhead; x; prev = x, x = x->next_q)
    if (x == j) {
      if (prev)
        prev->next_q = x->next_q;
      else
        p->qhead = x->next_q;
      if (p->qtail == x)
        p->qtail = prev;
      break;
    }
  j->queued = false;
  j->next_q = NULL;
}

static bool job_has_work(const job_t *j) {
  return j->nretry > 0 || j->next < j->n;
}

static void job_finish(cc_pool_t *p, job_t *j, job_t **fin) {
  if (j->finished)
    return;
  j->finished = true;
  queue_remove(p, j);
  if (j->fut && fin) {
    /* Still active until complete_futures() has completed the future, so
     * that cc_pool_join() returns only when every future is done. */
    j->refs++; /* held by the list until then */
    j->next_fin = *fin;
    *fin = j;
  } else {
    p->active--;
  }
}

/* Item i of j is finished (ok or with err). */
static void item_done(cc_pool_t *p, job_t *j, size_t i, int err) {
  if (err < 0) {
    if (j->first_err == 0 || i < j->first_err_idx) {
      j->first_err = err;
      j->first_err_idx = i;
    }
  }
  if (j->status)
    j->status[i] = err;
  if (j->is_iter) {
    j->ready[i] = true;
    if (!j->ordered)
      j->order[j->qtail++] = i;
  }
  j->done++;
}

static void add_retry(job_t *j, size_t start, size_t n) {
  if (n == 0)
    return;
  if (j->nretry == j->retry_cap) {
    size_t nc = j->retry_cap ? j->retry_cap * 2 : 8;
    range_t *r = realloc(j->retry, nc * sizeof *r);
    if (!r)
      abort(); /* a few bytes; nothing sensible to do without them */
    j->retry = r;
    j->retry_cap = nc;
  }
  j->retry[j->nretry++] = (range_t){start, n};
}

/* ---- progress ------------------------------------------------------------------ */

static void draw_bar(cc_pool_t *p, job_t *j, bool final) {
  int64_t now = cc_now();
  double el = (double)(now - j->t_start) / 1000.0;
  double rate = el > 0 ? (double)j->done / el : 0;
  double left = rate > 0 ? (double)(j->n - j->done) / rate : 0;
  int width = 30,
      fill = j->n ? (int)((double)width * (double)j->done / (double)j->n) : width;
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "\r[%s] %zu/%zu  %.0f items/s  %s %.1fs ", bar, j->done, j->n, rate,
          final ? "took" : "left", final ? el : left);
  if (final)
    fputc('\n', stderr);
  fflush(stderr);
  p->bar_drawn = true;
}

static void report_progress(cc_pool_t *p, job_t *j) {
  if (j->fut || (!p->o.progress && !p->o.progress_bar))
    return;
  int64_t now = cc_now();
  bool final = j->done == j->n;
  if (!final && now - j->t_last_report < 100)
    return;
  j->t_last_report = now;
  if (p->o.progress)
    p->o.progress(j->done, j->n, p->o.progress_arg);
  if (p->o.progress_bar && isatty(2))
    draw_bar(p, j, final);
}

/* ---- the worker ----------------------------------------------------------------- */

/* Maps the pages of [p, p+len) into this worker in one call. A shared
 * mapping inherited through fork() starts with no page tables in the child,
 * so a chunk in place would otherwise take a page fault per 4 KiB. */
static void populate(const void *p, size_t len, int advice) {
  uintptr_t pg = 4096, a = (uintptr_t)p & ~(pg - 1);
  madvise((void *)a, (uintptr_t)p + len - a, advice);
}

static void run_records(char *base, slot_t *s) {
  const char *in = s->src ? s->src : base + s->in_off;
  char *out = s->dst ? s->dst : base + s->out_off;
#ifdef MADV_POPULATE_WRITE
  if (s->src)
    populate(s->src, (size_t)s->n * s->in_size, MADV_POPULATE_READ);
  if (s->dst)
    populate(s->dst, (size_t)s->n * s->out_size, MADV_POPULATE_WRITE);
#endif
  cc_pool_rec_fn f = (cc_pool_rec_fn)s->fn;
  void *ctx = s->ctx;
  uint32_t n = s->n, isz = s->in_size, osz = s->out_size, err_at = n;
  for (uint32_t i = 0; i < n; i++) {
    atomic_store_explicit(&s->cur, i, memory_order_relaxed);
    int r = f(in + (size_t)i * isz, out + (size_t)i * osz, ctx);
    if (CC_UNLIKELY(r < 0) && err_at == n) {
      /* Stored at once, so that it survives a crash later in the chunk. */
      err_at = i;
      s->err_code = r;
      s->err_at = i;
    }
  }
}

static void run_bytes(char *base, slot_t *s, size_t data_cap) {
  const char *in = base + s->in_off;
  char *out = base + s->out_off;
  const uint64_t *ioff = (const uint64_t *)in;
  const char *idata = in + BYTES_HDR;
  int32_t *st = (int32_t *)out;
  uint64_t *ooff = (uint64_t *)(out + BYTES_CHUNK_MAX * 4);
  char *odata = out + BYTES_HDR;
  cc_pool_fn f = (cc_pool_fn)s->fn;
  uint32_t n = s->n, i;
  ooff[0] = 0;
  for (i = 0; i < n; i++) {
    atomic_store_explicit(&s->cur, i, memory_order_relaxed);
    size_t room = data_cap - ooff[i];
    ssize_t r = f(idata + ioff[i], ioff[i + 1] - ioff[i], odata + ooff[i], room, s->ctx);
    if (r == -CC_ETOOBIG && i > 0)
      break; /* run it again at the start of a fresh chunk */
    if (r >= 0 && (size_t)r > room)
      r = -CC_ETOOBIG;
    st[i] = r < 0 ? (int32_t)r : 0;
    ooff[i + 1] = ooff[i] + (r > 0 ? (uint64_t)r : 0);
  }
  s->stop_at = i;
}

static _Noreturn void worker_main(cc_pool_t *p, int wi) {
  wshared_t *ws = &p->ws[wi];
  if (p->o.initializer)
    p->o.initializer(p->o.initarg);
  atomic_store(&ws->started, 1);
  size_t data_cap = p->cap - BYTES_HDR;
  uint64_t items = 0;
  int k = 0;
  for (;;) {
    slot_t *s = &ws->slot[k];
    uint32_t st;
    int spins = 0;
    while ((st = atomic_load_explicit(&s->state, memory_order_acquire)) != SLOT_READY) {
      if (st == SLOT_STOP || atomic_load_explicit(&ws->stop, memory_order_relaxed))
        _exit(0);
      if (spins++ < 200) {
        cpu_relax();
        continue;
      }
      atomic_store(&ws->sleeping, 1);
      st = atomic_load(&s->state);
      if (st != SLOT_READY && st != SLOT_STOP && !atomic_load(&ws->stop))
        futex_wait(&s->state, st);
      atomic_store(&ws->sleeping, 0);
    }
    atomic_store_explicit(&s->state, SLOT_RUNNING, memory_order_relaxed);
    int64_t t0 = now_ns();
    if (s->kind == KIND_REC)
      run_records(p->arena, s);
    else
      run_bytes(p->arena, s, data_cap);
    s->elapsed_ns = (uint64_t)(now_ns() - t0);
    items += s->n;
    ws->items_done = items;
    atomic_store(&s->state, SLOT_DONE);
    if (atomic_exchange(&p->hdr->mgr_sleeping, 0) == 1)
      efd_post(p->mgr_efd);
    k ^= 1;
    if (p->o.maxtasksperchild && items >= p->o.maxtasksperchild)
      _exit(0);
  }
}

/* ---- the manager: workers --------------------------------------------------------- */

static void reset_worker_shared(cc_pool_t *p, int wi) {
  wshared_t *ws = &p->ws[wi];
  atomic_store(&ws->sleeping, 0);
  atomic_store(&ws->stop, 0);
  atomic_store(&ws->started, 0);
  ws->items_done = 0;
  for (int k = 0; k < 2; k++) {
    atomic_store(&ws->slot[k].state, SLOT_FREE);
    atomic_store(&ws->slot[k].cur, 0);
  }
}

static int spawn_worker(cc_pool_t *p, int wi) {
  worker_t *w = &p->w[wi];
  reset_worker_shared(p, wi);
  w->next_fill = 0;
  w->timed_out = false;
  w->ck[0] = w->ck[1] = (chunk_t){0};
  w->seen_at = 0;
  w->shm_epoch = cc__shm_epoch();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    cc__proc_child_setup(p->parent_pid, false, false);
    worker_main(p, wi);
  }
  int fd = cc__pidfd_open(pid);
  if (fd < 0) {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return fd;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)wi};
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
  w->pid = pid;
  w->pidfd = fd;
  w->alive = true;
  return 0;
}

/* Reaps worker wi if it has exited; true if it had. */
static bool reap_worker(cc_pool_t *p, int wi, bool block) {
  worker_t *w = &p->w[wi];
  if (!w->alive)
    return false;
  int st;
  pid_t r;
  do
    r = waitpid(w->pid, &st, block ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return false;
  epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
  close(w->pidfd);
  w->pidfd = -1;
  w->alive = false;
  return true;
}

static void fail_all(cc_pool_t *p, int err, job_t **fin);

/* Moves the results of the first `count` items of chunk `c` out of slot `s`
 * into its job: records are copied into the caller's array (unless the
 * workers wrote them there directly), byte results into fresh buffers;
 * each item is accounted as done or failed. */
static void take_results(cc_pool_t *p, job_t *j, const slot_t *s, chunk_t c,
                         uint32_t count) {
  if (j->kind == KIND_REC) {
    if (!c.direct_out)
      memcpy(j->out + c.base * j->out_size, p->arena + s->out_off,
             (size_t)count * j->out_size);
    if (s->err_at < count)
      item_done(p, j, c.base + s->err_at, s->err_code);
    j->done += count - (s->err_at < count ? 1 : 0);
    return;
  }
  const char *out = p->arena + s->out_off;
  const int32_t *st = (const int32_t *)out;
  const uint64_t *off = (const uint64_t *)(out + BYTES_CHUNK_MAX * 4);
  for (uint32_t i = 0; i < count; i++) {
    size_t idx = c.base + i;
    if (st[i] != 0) {
      item_done(p, j, idx, st[i]);
      continue;
    }
    size_t len = off[i + 1] - off[i];
    void *d = malloc(len ? len : 1);
    if (!d) {
      item_done(p, j, idx, -ENOMEM);
      continue;
    }
    memcpy(d, out + BYTES_HDR + off[i], len);
    j->results[idx] = (cc_buf_t){d, len};
    item_done(p, j, idx, 0);
  }
}

/* Collects slot k of worker wi, which the worker marked DONE. */
static void collect(cc_pool_t *p, int wi, int k, job_t **fin) {
  worker_t *w = &p->w[wi];
  slot_t *s = slot_of(p, wi, k);
  chunk_t c = w->ck[k];
  job_t *j = c.job;
  w->ck[k] = (chunk_t){0};
  atomic_store_explicit(&s->state, SLOT_FREE, memory_order_relaxed);
  if (!j)
    return;
  j->inflight--;
  if (c.direct_out && --j->direct_out_inflight == 0)
    notify(p); /* an abandoned map may be waiting for this */
  if (!j->finished) {
    if (s->n) {
      double per = (double)s->elapsed_ns / (double)s->n;
      j->ns_per_item = j->ns_per_item < 0 ? per : 0.5 * j->ns_per_item + 0.5 * per;
    }
    take_results(p, j, s, c, j->kind == KIND_REC ? c.n : s->stop_at);
    if (j->kind != KIND_REC && s->stop_at < c.n) {
      add_retry(j, c.base + s->stop_at, c.n - s->stop_at);
      queue_push(p, j);
    }
    report_progress(p, j);
    if (j->done == j->n)
      job_finish(p, j, fin);
    notify(p);
  }
  job_unref(j);
}

/* Worker wi has died: account for its chunks and replace it. */
static void handle_death(cc_pool_t *p, int wi, job_t **fin) {
  worker_t *w = &p->w[wi];
  wshared_t *ws = &p->ws[wi];
  bool ran_any = ws->items_done > 0;
  bool was_running = false;
  for (int k = 0; k < 2; k++) {
    slot_t *s = slot_of(p, wi, k);
    chunk_t c = w->ck[k];
    if (!c.job)
      continue;
    uint32_t st = atomic_load(&s->state);
    if (st == SLOT_DONE) {
      collect(p, wi, k, fin);
      continue;
    }
    job_t *j = c.job;
    w->ck[k] = (chunk_t){0};
    atomic_store(&s->state, SLOT_FREE);
    j->inflight--;
    if (c.direct_out && --j->direct_out_inflight == 0)
      notify(p);
    if (!j->finished) {
      if (st == SLOT_RUNNING) {
        was_running = true;
        uint32_t cur = atomic_load_explicit(&s->cur, memory_order_relaxed);
        /* Items before `cur` are complete: collect them as a short chunk. */
        take_results(p, j, s, c, cur);
        item_done(p, j, c.base + cur, w->timed_out ? -ETIMEDOUT : -CC_EWORKER);
        add_retry(j, c.base + cur + 1, c.n - cur - 1);
      } else {
        add_retry(j, c.base, c.n); /* never started */
      }
      if (job_has_work(j))
        queue_push(p, j);
      report_progress(p, j);
      if (j->done == j->n)
        job_finish(p, j, fin);
      notify(p);
    }
    job_unref(j);
  }
  if (p->terminated || p->shutdown)
    return;
  if (!ran_any && !was_running && atomic_load(&ws->started) == 0) {
    /* Died before it could take work (its initializer crashed?). Replacing
     * it forever would hang every caller, as Python's pool does. */
    if (++p->init_failures >= 3 * p->nworkers) {
      p->broken = true;
      fail_all(p, -CC_EWORKER, fin);
      return;
    }
  }
  int r = spawn_worker(p, wi);
  if (r < 0) {
    bool any = false;
    for (int i = 0; i < p->nworkers; i++)
      any |= p->w[i].alive;
    if (!any) {
      p->broken = true;
      fail_all(p, -CC_EWORKER, fin);
    }
  }
}

/* Every unfinished job fails with err. */
static void fail_all(cc_pool_t *p, int err, job_t **fin) {
  while (p->qhead) {
    job_t *j = p->qhead;
    queue_remove(p, j);
    if (!j->finished) {
      j->final_err = err;
      job_finish(p, j, fin);
    }
  }
  for (int wi = 0; wi < p->nworkers; wi++)
    for (int k = 0; k < 2; k++) {
      job_t *j = p->w[wi].ck[k].job;
      if (j && !j->finished) {
        j->final_err = err;
        job_finish(p, j, fin);
      }
    }
  notify(p);
}

/* ---- the manager: dispatch ------------------------------------------------------- */

static size_t chunk_size(cc_pool_t *p, job_t *j, size_t per_cap) {
  size_t c;
  if (j->chunksize) {
    c = j->chunksize;
  } else {
    size_t left = j->n - j->done;
    size_t spread = left / ((size_t)p->nworkers * 4);
    if (spread < 1)
      spread = 1;
    if (j->ns_per_item < 0) {
      /* Probe with small chunks until one comes back with a measured cost. */
      c = j->n / ((size_t)p->nworkers * 64);
      if (c > 64)
        c = 64;
    } else {
      /* Chunks of about a millisecond of work, and enough of them for every
       * worker to stay busy to the end (they shrink as the work runs out),
       * but never under ~50 us of work, which a chunk's fixed cost (a few
       * microseconds: wake-ups, descriptor) would no longer be small
       * against. */
      double per = j->ns_per_item > 0.25 ? j->ns_per_item : 0.25;
      double t = 1e6 / per, floor = 5e4 / per;
      c = t > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)t;
      if (c > spread)
        c = spread;
      if ((double)c < floor)
        c = floor > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)floor;
    }
    if (c < 1)
      c = 1;
  }
  if (c > per_cap)
    c = per_cap;
  return c;
}

/* Takes the next range of at most `max` items of j. */
static bool take_range(job_t *j, size_t max, size_t *start, size_t *n) {
  if (j->nretry) {
    range_t *r = &j->retry[j->nretry - 1];
    *start = r->start;
    *n = r->n < max ? r->n : max;
    r->start += *n;
    r->n -= *n;
    if (r->n == 0)
      j->nretry--;
    return true;
  }
  if (j->next >= j->n)
    return false;
  *start = j->next;
  *n = j->n - j->next < max ? j->n - j->next : max;
  j->next += *n;
  return true;
}

static void put_back(job_t *j, size_t start, size_t n) {
  add_retry(j, start, n);
}

/* Fills slot (wi, k) from job j. Returns true if a chunk was placed. */
static bool fill_slot(cc_pool_t *p, int wi, int k, job_t *j, job_t **fin) {
  slot_t *s = slot_of(p, wi, k);
  char *in = p->arena + s->in_off;
  size_t start, n;
  if (j->kind == KIND_REC) {
    size_t per_cap = p->cap / (j->in_size > j->out_size ? j->in_size : j->out_size);
    if (!take_range(j, chunk_size(p, j, per_cap), &start, &n))
      return false;
    /* Arrays in a cc_shm block this worker maps (it was made before the
     * worker was forked) are used in place: no copy at all. */
    worker_t *wk = &p->w[wi];
    s->src = j->in_shm && j->in_shm < wk->shm_epoch ? j->in + start * j->in_size : NULL;
    s->dst =
        j->out_shm && j->out_shm < wk->shm_epoch ? j->out + start * j->out_size : NULL;
    if (!s->src)
      memcpy(in, j->in + start * j->in_size, n * j->in_size);
    s->in_size = (uint32_t)j->in_size;
    s->out_size = (uint32_t)j->out_size;
  } else {
    size_t want = chunk_size(p, j, BYTES_CHUNK_MAX);
    if (!take_range(j, want, &start, &n))
      return false;
    if (j->fut && !j->fut_running && cc_future_set_running(j->fut) < 0) {
      /* Cancelled before it started: it never runs. */
      j->final_err = -ECANCELED;
      item_done(p, j, 0, -ECANCELED);
      job_finish(p, j, fin);
      notify(p);
      return false;
    }
    if (j->fut)
      j->fut_running = true;
    uint64_t *off = (uint64_t *)in;
    char *data = in + BYTES_HDR;
    size_t room = p->cap - BYTES_HDR, used = 0, m = 0;
    off[0] = 0;
    while (m < n) {
      const cc_buf_t *it = &j->items[start + m];
      if (it->len > room) {
        if (m == 0) { /* can never fit */
          item_done(p, j, start, -CC_ETOOBIG);
          start++;
          n--;
          report_progress(p, j);
          if (j->done == j->n) {
            job_finish(p, j, fin);
            notify(p);
            return false;
          }
          continue;
        }
        break;
      }
      if (used + it->len > room)
        break;
      if (it->len)
        memcpy(data + used, it->data, it->len);
      used += it->len;
      off[++m] = used;
    }
    if (m < n)
      put_back(j, start + m, n - m);
    if (m == 0)
      return false;
    n = m;
  }
  if (j->kind != KIND_REC)
    s->src = NULL, s->dst = NULL;
  s->kind = (uint32_t)j->kind;
  s->n = (uint32_t)n;
  s->fn = j->fn;
  s->ctx = j->ctx;
  s->err_at = (uint32_t)n;
  s->stop_at = (uint32_t)n;
  atomic_store_explicit(&s->cur, 0, memory_order_relaxed);
  worker_t *w = &p->w[wi];
  w->ck[k] = (chunk_t){j, start, (uint32_t)n, s->dst != NULL};
  if (s->dst)
    j->direct_out_inflight++;
  w->gen[k]++;
  j->inflight++;
  j->refs++;
  atomic_store(&s->state, SLOT_READY);
  if (atomic_load(&p->ws[wi].sleeping))
    futex_wake(&s->state);
  return true;
}

static bool dispatch(cc_pool_t *p, job_t **fin) {
  bool any = false;
  for (;;) {
    bool placed = false;
    for (int wi = 0; wi < p->nworkers && p->qhead; wi++) {
      worker_t *w = &p->w[wi];
      if (!w->alive || w->ck[w->next_fill].job)
        continue;
      if (atomic_load_explicit(&slot_of(p, wi, w->next_fill)->state,
                               memory_order_relaxed) != SLOT_FREE)
        continue;
      while (p->qhead) {
        job_t *j = p->qhead;
        if (j->finished || !job_has_work(j)) {
          queue_remove(p, j);
          continue;
        }
        /* Items of several milliseconds are not queued two deep: the
         * second would be tied to this worker while another may fall idle
         * at the end of the map, and a wake-up costs little next to them. */
        if (w->ck[w->next_fill ^ 1].job && j->ns_per_item > 2e6)
          break;
        if (fill_slot(p, wi, w->next_fill, j, fin)) {
          w->next_fill ^= 1;
          placed = any = true;
          if (!job_has_work(j))
            queue_remove(p, j);
          break;
        }
        if (!job_has_work(j))
          queue_remove(p, j);
      }
    }
    if (!placed)
      return any;
  }
}

/* ---- the manager: time-outs -------------------------------------------------------- */

static void check_timeouts(cc_pool_t *p) {
  int64_t now = cc_now();
  for (int wi = 0; wi < p->nworkers; wi++) {
    worker_t *w = &p->w[wi];
    if (!w->alive || w->timed_out)
      continue;
    int run = -1;
    for (int k = 0; k < 2; k++)
      if (w->ck[k].job && atomic_load(&slot_of(p, wi, k)->state) == SLOT_RUNNING)
        run = k;
    if (run < 0) {
      w->seen_at = 0;
      continue;
    }
    uint32_t cur = atomic_load_explicit(&slot_of(p, wi, run)->cur, memory_order_relaxed);
    if (w->seen_at == 0 || w->seen_slot != (uint32_t)run || w->seen_gen != w->gen[run] ||
        w->seen_cur != cur) {
      w->seen_slot = (uint32_t)run;
      w->seen_gen = w->gen[run];
      w->seen_cur = cur;
      w->seen_at = now;
    } else if (now - w->seen_at >= p->o.item_timeout_ms) {
      w->timed_out = true;
      syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
    }
  }
}

/* ---- the manager thread --------------------------------------------------------------
 */

/* Completes the futures of finished jobs, without the lock (their
 * callbacks may call into the pool), then drops the two references the
 * pool held: the queue's and the one job_finish() took for this list. */
static void complete_futures(cc_pool_t *p, job_t *fin) {
  for (job_t *j = fin; j; j = j->next_fin) {
    int err = j->final_err ? j->final_err : j->own_status;
    if (err < 0) {
      cc_future_set_error(j->fut, err); /* -EINVAL if cancelled already */
    } else {
      cc_buf_t *b = malloc(sizeof *b + j->own_result.len + 1);
      if (!b) {
        cc_future_set_error(j->fut, -ENOMEM);
      } else {
        b->data = (char *)(b + 1);
        b->len = j->own_result.len;
        if (b->len)
          memcpy(b->data, j->own_result.data, b->len);
        ((char *)b->data)[b->len] = 0;
        cc_future_set_result_owned(j->fut, b, free);
      }
    }
  }
  if (!fin)
    return;
  pthread_mutex_lock(&p->mu);
  while (fin) {
    job_t *j = fin;
    fin = j->next_fin;
    p->active--;
    job_unref(j);
    job_unref(j);
  }
  notify(p);
  pthread_mutex_unlock(&p->mu);
}

static void stop_workers(cc_pool_t *p) {
  /* STOP in both slots: a worker waiting on either sees its futex word
   * change, so no wake-up can be lost between its check and its sleep. */
  for (int wi = 0; wi < p->nworkers; wi++) {
    atomic_store(&p->ws[wi].stop, 1);
    for (int k = 0; k < 2; k++) {
      atomic_store(&p->ws[wi].slot[k].state, SLOT_STOP);
      futex_wake(&p->ws[wi].slot[k].state);
    }
  }
  /* A worker busy with an item gets a moment, then SIGKILL. */
  int64_t until = cc_now() + 200;
  for (int wi = 0; wi < p->nworkers; wi++) {
    worker_t *w = &p->w[wi];
    while (w->alive && !reap_worker(p, wi, false) && cc_now() < until)
      usleep(1000);
    if (w->alive) {
      syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
      reap_worker(p, wi, true);
    }
  }
}

static void *manager_main(void *arg) {
  cc_pool_t *p = arg;
  pthread_mutex_lock(&p->mu);
  int err = 0;
  for (int wi = 0; wi < p->nworkers && err == 0; wi++)
    err = spawn_worker(p, wi);
  p->start_err = err;
  p->started = true;
  pthread_cond_broadcast(&p->cv);
  if (err < 0) {
    for (int wi = 0; wi < p->nworkers; wi++)
      if (p->w[wi].alive) {
        syscall(SYS_pidfd_send_signal, p->w[wi].pidfd, SIGKILL, NULL, 0);
        reap_worker(p, wi, true);
      }
    pthread_mutex_unlock(&p->mu);
    return NULL;
  }
  struct epoll_event evs[64];
  for (;;) {
    job_t *fin = NULL;
    if (p->shutdown)
      break;
    bool worked = false;
    for (int wi = 0; wi < p->nworkers; wi++) {
      if (!p->w[wi].alive)
        continue;
      for (int k = 0; k < 2; k++)
        if (p->w[wi].ck[k].job &&
            atomic_load_explicit(&slot_of(p, wi, k)->state, memory_order_acquire) ==
                SLOT_DONE) {
          collect(p, wi, k, &fin);
          worked = true;
        }
    }
    if (!p->terminated && !p->broken)
      worked |= dispatch(p, &fin);
    if (fin) {
      pthread_mutex_unlock(&p->mu);
      complete_futures(p, fin);
      pthread_mutex_lock(&p->mu);
      continue;
    }
    if (worked)
      continue;
    /* Nothing to do: sleep, after telling the workers to wake us. */
    atomic_store(&p->hdr->mgr_sleeping, 1);
    bool pending = false;
    for (int wi = 0; wi < p->nworkers && !pending; wi++)
      for (int k = 0; k < 2; k++)
        if (p->w[wi].alive && p->w[wi].ck[k].job &&
            atomic_load(&slot_of(p, wi, k)->state) == SLOT_DONE)
          pending = true;
    if (pending) {
      atomic_store(&p->hdr->mgr_sleeping, 0);
      continue;
    }
    int timeout = -1;
    if (p->o.item_timeout_ms > 0) {
      int64_t t = p->o.item_timeout_ms / 4;
      timeout = t < 5 ? 5 : t > 1000 ? 1000 : (int)t;
    }
    if ((p->o.progress || p->o.progress_bar) && p->qhead &&
        (timeout < 0 || timeout > 100))
      timeout = 100;
    pthread_mutex_unlock(&p->mu);
    int n = epoll_wait(p->epfd, evs, 64, timeout);
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->hdr->mgr_sleeping, 0);
    for (int i = 0; i < n; i++) {
      uint32_t id = evs[i].data.u32;
      if (id == UINT32_MAX) {
        efd_drain(p->mgr_efd);
      } else if ((int)id < p->nworkers && reap_worker(p, (int)id, false)) {
        handle_death(p, (int)id, &fin);
      }
    }
    if (p->o.item_timeout_ms > 0)
      check_timeouts(p);
    if (p->o.progress || p->o.progress_bar)
      for (job_t *j = p->qhead; j; j = j->next_q)
        report_progress(p, j);
    if (fin) {
      pthread_mutex_unlock(&p->mu);
      complete_futures(p, fin);
      pthread_mutex_lock(&p->mu);
    }
  }
  stop_workers(p);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ---- public: life cycle
 * ---------------------------------------------------------------- */

int cc_pool_new(cc_pool_t **out, const cc_pool_opts_t *opts) {
  if (!out)
    return -EINVAL;
  *out = NULL;
  cc_pool_opts_t o = {0};
  if (opts)
    o = *opts;
  if (o.workers < 0 || o.workers > 1024 || o.item_timeout_ms < 0)
    return -EINVAL;
  if (o.workers == 0)
    o.workers = cc_cpu_count();
  if (o.max_result == 0)
    o.max_result = 1 << 20;
  if (o.max_result > ((size_t)1 << 30))
    return -EINVAL;
  cc_pool_t *p = calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  p->o = o;
  p->nworkers = o.workers;
  p->parent_pid = getpid();
  p->cap = (BYTES_HDR + o.max_result + 4095) & ~(size_t)4095;
  size_t hdr = (sizeof(arena_hdr_t) + sizeof(wshared_t) * (size_t)o.workers + 4095) &
               ~(size_t)4095;
  p->arena_len = hdr + (size_t)o.workers * 4 * p->cap;
  p->w = calloc((size_t)o.workers, sizeof *p->w);
  int err = -ENOMEM;
  if (!p->w)
    goto fail_mem;
  /* Pre-faulted, so that no chunk pays for page faults; but a pool with a
   * huge max_result or hundreds of workers only pays for what it touches. */
  int populate = p->arena_len <= ((size_t)64 << 20) ? MAP_POPULATE : 0;
  p->arena = mmap(NULL, p->arena_len, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS | populate, -1, 0);
  if (p->arena == MAP_FAILED) {
    p->arena = NULL;
    goto fail_mem;
  }
  p->hdr = (arena_hdr_t *)p->arena;
  p->ws = (wshared_t *)(p->arena + ((sizeof(arena_hdr_t) + CACHELINE - 1) &
                                    ~(size_t)(CACHELINE - 1)));
  for (int wi = 0; wi < o.workers; wi++)
    for (int k = 0; k < 2; k++) {
      slot_t *s = &p->ws[wi].slot[k];
      s->in_off = hdr + ((size_t)wi * 4 + (size_t)k * 2) * p->cap;
      s->out_off = s->in_off + p->cap;
    }
  for (int wi = 0; wi < o.workers; wi++)
    p->w[wi].pidfd = -1;
  p->mgr_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->mgr_efd < 0 || p->epfd < 0) {
    err = -errno;
    goto fail_fds;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->mgr_efd, &ev);
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);

  /* The manager takes no signals: they belong to the application's threads
   * (and the loop's signalfd). Workers unblock everything after fork. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int r = pthread_create(&p->mgr, NULL, manager_main, p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    err = -r;
    goto fail_sync;
  }
  pthread_mutex_lock(&p->mu);
  while (!p->started)
    pthread_cond_wait(&p->cv, &p->mu);
  err = p->start_err;
  pthread_mutex_unlock(&p->mu);
  if (err < 0) {
    pthread_join(p->mgr, NULL);
    goto fail_sync;
  }
  *out = p;
  return 0;

fail_sync:
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
fail_fds:
  if (p->mgr_efd >= 0)
    close(p->mgr_efd);
  if (p->epfd >= 0)
    close(p->epfd);
  munmap(p->arena, p->arena_len);
fail_mem:
  free(p->w);
  free(p);
  return err;
}

int cc_pool_workers(const cc_pool_t *pool) {
  return pool ? pool->nworkers : 0;
}

int cc_pool_worker_pids(cc_pool_t *p, pid_t *pids, int cap) {
  if (!p || !pids || cap <= 0)
    return 0;
  int n = 0;
  pthread_mutex_lock(&p->mu);
  for (int wi = 0; wi < p->nworkers && n < cap; wi++)
    if (p->w[wi].alive)
      pids[n++] = p->w[wi].pid;
  pthread_mutex_unlock(&p->mu);
  return n;
}

void cc_pool_close(cc_pool_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->closed = true;
  pthread_mutex_unlock(&p->mu);
}

static bool idle_pred(cc_pool_t *p, void *arg) {
  (void)arg;
  return p->active == 0;
}

int cc_pool_join(cc_pool_t *p, int64_t deadline) {
  if (!p)
    return -EINVAL;
  pthread_mutex_lock(&p->mu);
  int r = pool_wait(p, idle_pred, NULL, deadline);
  pthread_mutex_unlock(&p->mu);
  return r;
}

void cc_pool_terminate(cc_pool_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->closed = p->terminated = true;
  job_t *fin = NULL;
  fail_all(p, -CC_ECLOSED, &fin);
  for (int wi = 0; wi < p->nworkers; wi++)
    if (p->w[wi].alive)
      syscall(SYS_pidfd_send_signal, p->w[wi].pidfd, SIGKILL, NULL, 0);
  pthread_mutex_unlock(&p->mu);
  complete_futures(p, fin);
  wake_manager(p);
}

void cc_pool_free(cc_pool_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->closed = p->shutdown = true;
  job_t *fin = NULL;
  fail_all(p, -CC_ECLOSED, &fin);
  pthread_mutex_unlock(&p->mu);
  complete_futures(p, fin);
  wake_manager(p);
  pthread_join(p->mgr, NULL);
  /* Chunks still in slots hold job references; the jobs are finished. */
  for (int wi = 0; wi < p->nworkers; wi++)
    for (int k = 0; k < 2; k++)
      if (p->w[wi].ck[k].job)
        job_unref(p->w[wi].ck[k].job);
  if (p->bar_drawn && isatty(2))
    fflush(stderr);
  close(p->mgr_efd);
  close(p->epfd);
  munmap(p->arena, p->arena_len);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->w);
  free(p);
}

/* ---- public: work
 * ---------------------------------------------------------------------- */

static job_t *job_new(int kind, void *fn, void *ctx, size_t n,
                      const cc_pool_map_opts_t *mo) {
  job_t *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->kind = kind;
  j->fn = fn;
  j->ctx = ctx;
  j->n = n;
  j->refs = 1;
  j->ns_per_item = -1;
  j->chunksize = mo ? mo->chunksize : 0;
  j->t_start = j->t_last_report = cc_now();
  return j;
}

/* Queues j (mu held). */
static int submit_job(cc_pool_t *p, job_t *j) {
  if (p->closed || p->broken)
    return -CC_ECLOSED;
  p->active++;
  if (j->n == 0) {
    j->finished = true;
    p->active--;
    return 0;
  }
  queue_push(p, j);
  return 0;
}

static bool finished_pred(cc_pool_t *p, void *arg) {
  (void)p;
  return ((job_t *)arg)->finished;
}

/* Waits for a map job; on time-out or cancellation abandons it. Returns the
 * job's result; mu held on entry and exit. */
static int wait_map(cc_pool_t *p, job_t *j, int64_t deadline) {
  int r = pool_wait(p, finished_pred, j, deadline);
  if (r < 0) {
    j->cancelled = true;
    if (!j->finished) {
      j->finished = true;
      queue_remove(p, j);
      p->active--;
      notify(p);
    }
  }
  /* Workers that write a shared-memory output in place must be done with it
   * before the caller gets it back: at most the chunks already running
   * (about a millisecond each, or until a worker death is noticed). The
   * thread blocks, even under a coroutine: this is the one wait that must
   * not be interrupted. */
  while (j->direct_out_inflight > 0)
    pthread_cond_wait(&p->cv, &p->mu);
  if (r < 0) {
    failed_index = (size_t)-1;
    return r;
  }
  if (j->final_err) {
    failed_index = (size_t)-1;
    return j->final_err;
  }
  failed_index = j->first_err ? j->first_err_idx : (size_t)-1;
  return j->first_err;
}

/* A large output array fresh from malloc costs a page fault per 4 KiB on
 * first write, and the manager, which writes it, is the map's critical
 * path. A plain-thread caller has nothing to do while it waits, so it
 * faults the pages in ahead of the manager (MADV_POPULATE_WRITE, Linux
 * 5.14; it never changes what a page holds), in pieces, stopping as soon as
 * the job is over. A coroutine caller does not: its loop must keep
 * running. */
#define PREFAULT_MIN  ((size_t)4 << 20)
#define PREFAULT_STEP ((size_t)2 << 20)

static void prefault(cc_pool_t *p, job_t *j, void *out, size_t len) {
#ifdef MADV_POPULATE_WRITE
  uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)out + pg - 1) & ~(pg - 1);
  uintptr_t end = ((uintptr_t)out + len) & ~(pg - 1);
  while (a < end) {
    pthread_mutex_lock(&p->mu);
    bool over = j->finished;
    pthread_mutex_unlock(&p->mu);
    if (over)
      return;
    size_t step = end - a < PREFAULT_STEP ? end - a : PREFAULT_STEP;
    if (madvise((void *)a, step, MADV_POPULATE_WRITE) < 0)
      return; /* older kernel, or not plain anonymous memory: never mind */
    a += step;
  }
#else
  (void)p, (void)j, (void)out, (void)len;
#endif
}

int cc_pool_map_records(cc_pool_t *p, cc_pool_rec_fn fn, void *ctx, const void *in,
                        size_t in_size, void *out, size_t out_size, size_t n,
                        const cc_pool_map_opts_t *opts) {
  failed_index = (size_t)-1;
  if (!p || !fn || in_size == 0 || out_size == 0 || (n && (!in || !out)))
    return -EINVAL;
  if (in_size > p->cap || out_size > p->cap)
    return -CC_ETOOBIG;
  job_t *j = job_new(KIND_REC, (void *)fn, ctx, n, opts);
  if (!j)
    return -ENOMEM;
  j->in = in;
  j->out = out;
  j->in_size = in_size;
  j->out_size = out_size;
  j->in_shm = n ? cc__shm_find(in, n * in_size) : 0;
  j->out_shm = n ? cc__shm_find(out, n * out_size) : 0;
  pthread_mutex_lock(&p->mu);
  int r = submit_job(p, j);
  if (r == 0) {
    wake_manager(p);
    if (cc__self() == NULL && n * out_size >= PREFAULT_MIN) {
      pthread_mutex_unlock(&p->mu);
      prefault(p, j, out, n * out_size);
      pthread_mutex_lock(&p->mu);
    }
    r = wait_map(p, j, opts ? opts->deadline : CC_FOREVER);
  }
  job_unref(j);
  pthread_mutex_unlock(&p->mu);
  return r;
}

int cc_pool_map(cc_pool_t *p, cc_pool_fn fn, void *ctx, const cc_buf_t *items, size_t n,
                cc_buf_t *results, int *status, const cc_pool_map_opts_t *opts) {
  failed_index = (size_t)-1;
  if (!p || !fn || (n && (!items || !results)))
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    results[i] = (cc_buf_t){0};
  job_t *j = job_new(KIND_BYTES, (void *)fn, ctx, n, opts);
  if (!j)
    return -ENOMEM;
  j->items = items;
  j->results = results;
  j->status = status;
  pthread_mutex_lock(&p->mu);
  int r = submit_job(p, j);
  if (r == 0) {
    wake_manager(p);
    r = wait_map(p, j, opts ? opts->deadline : CC_FOREVER);
    if (r < 0 && j->cancelled) {
      /* Abandoned: the manager no longer writes results; drop what came. */
      cc_pool_free_results(results, n);
    }
  }
  job_unref(j);
  pthread_mutex_unlock(&p->mu);
  return r;
}

void cc_pool_free_results(cc_buf_t *results, size_t n) {
  if (!results)
    return;
  for (size_t i = 0; i < n; i++) {
    free(results[i].data);
    results[i] = (cc_buf_t){0};
  }
}

/* ---- imap ----------------------------------------------------------------------------
 */

struct cc_pool_iter {
  cc_pool_t *pool;
  job_t *job;
  size_t given;
};

int cc_pool_imap(cc_pool_iter_t **out, cc_pool_t *p, cc_pool_fn fn, void *ctx,
                 const cc_buf_t *items, size_t n, bool ordered,
                 const cc_pool_map_opts_t *opts) {
  if (!out || !p || !fn || (n && !items))
    return -EINVAL;
  *out = NULL;
  cc_pool_iter_t *it = calloc(1, sizeof *it);
  job_t *j = job_new(KIND_BYTES, (void *)fn, ctx, n, opts);
  if (!it || !j) {
    free(it);
    free(j);
    return -ENOMEM;
  }
  j->is_iter = true;
  j->ordered = ordered;
  j->items = items;
  size_t m = n ? n : 1;
  j->results = calloc(m, sizeof *j->results);
  j->status = calloc(m, sizeof *j->status);
  j->ready = calloc(m, sizeof *j->ready);
  j->order = ordered ? NULL : calloc(m, sizeof *j->order);
  if (!j->results || !j->status || !j->ready || (!ordered && !j->order)) {
    job_free(j);
    free(it);
    return -ENOMEM;
  }
  it->pool = p;
  it->job = j;
  pthread_mutex_lock(&p->mu);
  int r = submit_job(p, j);
  pthread_mutex_unlock(&p->mu);
  if (r < 0) {
    job_free(j);
    free(it);
    return r;
  }
  wake_manager(p);
  *out = it;
  return 0;
}

static bool iter_pred(cc_pool_t *p, void *arg) {
  (void)p;
  cc_pool_iter_t *it = arg;
  job_t *j = it->job;
  if (it->given == j->n || j->final_err)
    return true;
  return j->ordered ? j->ready[j->out_next] : j->qhead < j->qtail;
}

int cc_pool_iter_next(cc_pool_iter_t *it, size_t *index, cc_buf_t *result, int *status,
                      int64_t deadline) {
  if (!it)
    return -EINVAL;
  cc_pool_t *p = it->pool;
  job_t *j = it->job;
  pthread_mutex_lock(&p->mu);
  int r = pool_wait(p, iter_pred, it, deadline);
  if (r == 0) {
    size_t i;
    if (it->given == j->n) {
      r = -CC_ECLOSED;
    } else if (j->ordered ? j->ready[j->out_next] : j->qhead < j->qtail) {
      i = j->ordered ? j->out_next++ : j->order[j->qhead++];
      it->given++;
      if (index)
        *index = i;
      if (status)
        *status = j->status[i];
      if (result)
        *result = j->results[i];
      else
        free(j->results[i].data);
      j->results[i] = (cc_buf_t){0};
    } else {
      r = -CC_ECLOSED; /* terminated: the rest will never come */
    }
  }
  pthread_mutex_unlock(&p->mu);
  return r;
}

void cc_pool_iter_free(cc_pool_iter_t *it) {
  if (!it)
    return;
  cc_pool_t *p = it->pool;
  job_t *j = it->job;
  pthread_mutex_lock(&p->mu);
  if (!j->finished) {
    j->cancelled = true;
    j->finished = true;
    queue_remove(p, j);
    p->active--;
    notify(p);
  }
  job_unref(j);
  pthread_mutex_unlock(&p->mu);
  free(it);
}

/* ---- futures --------------------------------------------------------------------------
 */

int cc_pool_submit(cc_pool_t *p, cc_pool_fn fn, void *ctx, const void *item, size_t len,
                   cc_future_t **out) {
  if (!out || !p || !fn || (len && !item))
    return -EINVAL;
  *out = NULL;
  if (len > p->cap - BYTES_HDR)
    return -CC_ETOOBIG;
  job_t *j = job_new(KIND_BYTES, (void *)fn, ctx, 1, NULL);
  if (!j)
    return -ENOMEM;
  j->own_item.data = malloc(len ? len : 1);
  cc_future_t *f = NULL;
  int r = j->own_item.data ? cc_future_new(&f) : -ENOMEM;
  if (r < 0) {
    free(j->own_item.data);
    free(j);
    return r;
  }
  if (len)
    memcpy(j->own_item.data, item, len);
  j->own_item.len = len;
  j->items = &j->own_item;
  j->results = &j->own_result;
  j->status = &j->own_status;
  j->fut = cc_future_ref(f); /* the job's reference */
  pthread_mutex_lock(&p->mu);
  r = submit_job(p, j); /* the job's one reference now belongs to the pool */
  pthread_mutex_unlock(&p->mu);
  if (r < 0) {
    cc_future_unref(f);
    job_free(j);
    return r;
  }
  wake_manager(p);
  *out = f;
  return 0;
}

/* The process pool (multiprocessing.Pool / ProcessPoolExecutor): the
 * public API. Runs on the CALLERS' threads and coroutines: it queues jobs
 * for the manager thread (pool_manager.c) and waits for them through
 * task/wait.h (a coroutine parks, a thread sleeps). The design, the shared
 * memory layout and the locking rules are in pool_int.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "concur/error.h"
#include "concur/future.h"
#include "concur/loop.h"
#include "concur/process.h"
#include "loop/sched.h"
#include "proc/pool_int.h"
#include "proc/proc_int.h"

/* Waits (mu held) until pred(p, arg) holds, or the deadline (CC_FOREVER:
 * none) passes, or the calling coroutine is cancelled. A coroutine parks
 * (its loop runs on), a plain thread sleeps: task/wait.h. */
static int pool_wait(cc_pool_t *p, bool (*pred)(cc_pool_t *, void *), void *arg,
                     int64_t deadline) {
  while (!pred(p, arg)) {
    cc__tw_t w;
    int r = cc__tw_wait(&p->waiters, &p->mu, &w, "pool", p, deadline, 0);
    if (r < 0)
      return pred(p, arg) ? 0 : r;
  }
  return 0;
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
  long pg = sysconf(_SC_PAGESIZE);
  p->page = pg > 0 ? (size_t)pg : 4096;
  size_t pm = p->page - 1; /* a power of two */
  p->cap = (BYTES_HDR + o.max_result + pm) & ~pm;
  size_t hdr = (sizeof(arena_hdr_t) + sizeof(wshared_t) * (size_t)o.workers + pm) & ~pm;
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
  pthread_cond_init(&p->start_cv, &ca);
  pthread_condattr_destroy(&ca);

  /* The manager takes no signals: they belong to the application's threads
   * (and the loop's signalfd). Workers unblock everything after fork. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int r = pthread_create(&p->mgr, NULL, cc__pool_manager_main, p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    err = -r;
    goto fail_sync;
  }
  pthread_mutex_lock(&p->mu);
  while (!p->started)
    pthread_cond_wait(&p->start_cv, &p->mu);
  err = p->start_err;
  pthread_mutex_unlock(&p->mu);
  if (err < 0) {
    pthread_join(p->mgr, NULL);
    goto fail_sync;
  }
  *out = p;
  return 0;

fail_sync:
  pthread_cond_destroy(&p->start_cv);
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
  cc__fail_all(p, -CC_ECLOSED, &fin);
  for (int wi = 0; wi < p->nworkers; wi++)
    if (p->w[wi].alive)
      syscall(SYS_pidfd_send_signal, p->w[wi].pidfd, SIGKILL, NULL, 0);
  pthread_mutex_unlock(&p->mu);
  cc__complete_futures(p, fin);
  cc__pool_wake_manager(p);
}

void cc_pool_free(cc_pool_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->closed = p->shutdown = true;
  job_t *fin = NULL;
  cc__fail_all(p, -CC_ECLOSED, &fin);
  pthread_mutex_unlock(&p->mu);
  cc__complete_futures(p, fin);
  cc__pool_wake_manager(p);
  pthread_join(p->mgr, NULL);
  /* Chunks still in slots hold job references; the jobs are finished. */
  for (int wi = 0; wi < p->nworkers; wi++)
    for (int k = 0; k < 2; k++)
      if (p->w[wi].ck[k].job)
        cc__job_unref(p->w[wi].ck[k].job);
  if (p->bar_drawn && isatty(2))
    fflush(stderr);
  close(p->mgr_efd);
  close(p->epfd);
  munmap(p->arena, p->arena_len);
  pthread_cond_destroy(&p->start_cv);
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
  if (p->broken)
    return p->broken_err ? p->broken_err : -CC_ECLOSED;
  if (p->closed)
    return -CC_ECLOSED;
  p->active++;
  if (j->n == 0) {
    j->finished = true;
    p->active--;
    return 0;
  }
  cc__job_queue(p, j);
  return 0;
}

static bool finished_pred(cc_pool_t *p, void *arg) {
  (void)p;
  return ((job_t *)arg)->finished;
}

/* Waits for a map job; on time-out or cancellation abandons it. Returns the
 * job's result and stores the failed index in *failed (if not NULL); mu
 * held on entry and exit. */
static int wait_map(cc_pool_t *p, job_t *j, int64_t deadline, size_t *failed) {
  int r = pool_wait(p, finished_pred, j, deadline);
  if (r < 0) {
    j->cancelled = true;
    if (!j->finished) {
      j->finished = true;
      cc__job_dequeue(p, j);
      p->active--;
      cc__pool_notify(p);
    }
  }
  /* Workers that write a shared-memory output in place must be done with it
   * before the caller gets it back: at most the chunks already running
   * (about a millisecond each, or until a worker death is noticed). This
   * wait must not be interrupted: a coroutine parks shielded from
   * cancellation and deadlines (its loop runs on), a thread sleeps. */
  while (j->direct_out_inflight > 0) {
    cc__tw_t w;
    cc__tw_wait(&p->waiters, &p->mu, &w, "pool map: chunks in place", p, CC_FOREVER,
                CC__TW_SHIELD);
  }
  if (failed)
    *failed = (size_t)-1;
  if (r < 0)
    return r;
  if (j->final_err)
    return j->final_err;
  if (failed && j->first_err)
    *failed = j->first_err_idx;
  return j->first_err;
}

/* A map's deadline from its options: 0 (zero-filled options) is none. */
static int64_t map_deadline(const cc_pool_map_opts_t *mo) {
  return mo && mo->deadline ? mo->deadline : CC_FOREVER;
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
                        size_t *failed_index, const cc_pool_map_opts_t *opts) {
  if (failed_index)
    *failed_index = (size_t)-1;
  if (!p || !fn || in_size == 0 || out_size == 0 || (n && (!in || !out)))
    return -EINVAL;
  if (in_size > p->o.max_result || out_size > p->o.max_result)
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
    cc__pool_wake_manager(p);
    if (cc__self() == NULL && n * out_size >= PREFAULT_MIN) {
      pthread_mutex_unlock(&p->mu);
      prefault(p, j, out, n * out_size);
      pthread_mutex_lock(&p->mu);
    }
    r = wait_map(p, j, map_deadline(opts), failed_index);
  }
  cc__job_unref(j);
  pthread_mutex_unlock(&p->mu);
  return r;
}

int cc_pool_map(cc_pool_t *p, cc_pool_fn fn, void *ctx, const cc_buf_t *items, size_t n,
                cc_buf_t *results, int *status, size_t *failed_index,
                const cc_pool_map_opts_t *opts) {
  if (failed_index)
    *failed_index = (size_t)-1;
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
    cc__pool_wake_manager(p);
    r = wait_map(p, j, map_deadline(opts), failed_index);
    if (r < 0 && j->cancelled) {
      /* Abandoned: the manager no longer writes results; drop what came. */
      cc_pool_free_results(results, n);
    }
  }
  cc__job_unref(j);
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
    cc__job_free(j);
    free(it);
    return -ENOMEM;
  }
  it->pool = p;
  it->job = j;
  pthread_mutex_lock(&p->mu);
  int r = submit_job(p, j);
  pthread_mutex_unlock(&p->mu);
  if (r < 0) {
    cc__job_free(j);
    free(it);
    return r;
  }
  cc__pool_wake_manager(p);
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
    cc__job_dequeue(p, j);
    p->active--;
    cc__pool_notify(p);
  }
  cc__job_unref(j);
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
  if (len > p->o.max_result)
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
    cc__job_free(j);
    return r;
  }
  cc__pool_wake_manager(p);
  *out = f;
  return 0;
}

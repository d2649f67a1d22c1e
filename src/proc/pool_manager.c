/* The process pool: the manager. Runs on the pool's manager THREAD in the
 * parent (one per pool, started by cc_pool_new()): it forks every worker
 * (so that PR_SET_PDEATHSIG, which follows the forking thread, ties their
 * lives to it), fills their slots with chunks, collects results, watches
 * their pidfds and enforces item time-outs. It holds pool->mu while it
 * works and drops it to sleep and to complete futures. Also here, called
 * by callers under mu: cc__fail_all(); without mu: cc__complete_futures(). */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concur/error.h"
#include "concur/future.h"
#include "concur/loop.h"
#include "concur/process.h"
#include "concur/progress.h"
#include "proc/pool_int.h"
#include "proc/proc_int.h"

static void futex_wake(_Atomic uint32_t *a) {
  syscall(SYS_futex, (uint32_t *)a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void efd_drain(int fd) {
  uint64_t v;
  ssize_t r = read(fd, &v, sizeof v);
  (void)r;
}

static slot_t *slot_of(cc_pool_t *p, int wi, int k) {
  return &p->ws[wi].slot[k];
}

/* ---- progress ------------------------------------------------------------------ */

static void draw_bar(cc_pool_t *p, job_t *j, bool final) {
  double el = (double)(cc_now() - j->t_start) / 1000.0;
  cc_progress_print(stderr, true, "pool", "items", j->done, j->n, el, final, NULL, 0);
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

/* ---- the manager: workers --------------------------------------------------------- */

static void reset_worker_shared(cc_pool_t *p, int wi) {
  wshared_t *ws = &p->ws[wi];
  atomic_store(&ws->sleeping, 0);
  atomic_store(&ws->stop, 0);
  atomic_store(&ws->started, 0);
  atomic_store(&ws->init_err, 0);
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
    cc__pool_worker_main(p, wi);
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
      cc__item_done(p, j, c.base + s->err_at, s->err_code);
    j->done += count - (s->err_at < count ? 1 : 0);
    return;
  }
  const char *out = p->arena + s->out_off;
  const int32_t *st = (const int32_t *)out;
  const uint64_t *off = (const uint64_t *)(out + BYTES_CHUNK_MAX * 4);
  for (uint32_t i = 0; i < count; i++) {
    size_t idx = c.base + i;
    if (st[i] != 0) {
      cc__item_done(p, j, idx, st[i]);
      continue;
    }
    size_t len = off[i + 1] - off[i];
    void *d = malloc(len ? len : 1);
    if (!d) {
      cc__item_done(p, j, idx, -ENOMEM);
      continue;
    }
    memcpy(d, out + BYTES_HDR + off[i], len);
    j->results[idx] = (cc_buf_t){d, len};
    cc__item_done(p, j, idx, 0);
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
    cc__pool_notify(p); /* an abandoned map may be waiting for this */
  if (!j->finished) {
    if (s->n) {
      double per = (double)s->elapsed_ns / (double)s->n;
      j->ns_per_item = j->ns_per_item < 0 ? per : 0.5 * j->ns_per_item + 0.5 * per;
    }
    take_results(p, j, s, c, j->kind == KIND_REC ? c.n : s->stop_at);
    if (j->kind != KIND_REC && s->stop_at < c.n) {
      cc__add_retry(p, j, c.base + s->stop_at, c.n - s->stop_at, fin);
      cc__job_queue(p, j);
    }
    report_progress(p, j);
    if (j->done == j->n)
      cc__job_finish(p, j, fin);
    cc__pool_notify(p);
  }
  cc__job_unref(j);
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
      cc__pool_notify(p);
    if (!j->finished) {
      if (st == SLOT_RUNNING) {
        was_running = true;
        uint32_t cur = atomic_load_explicit(&s->cur, memory_order_relaxed);
        /* Items before `cur` are complete: collect them as a short chunk. */
        take_results(p, j, s, c, cur);
        cc__item_done(p, j, c.base + cur, w->timed_out ? -ETIMEDOUT : -CC_EWORKER);
        cc__add_retry(p, j, c.base + cur + 1, c.n - cur - 1, fin);
      } else {
        cc__add_retry(p, j, c.base, c.n, fin); /* never started */
      }
      if (cc__job_has_work(j))
        cc__job_queue(p, j);
      report_progress(p, j);
      if (j->done == j->n)
        cc__job_finish(p, j, fin);
      cc__pool_notify(p);
    }
    cc__job_unref(j);
  }
  if (p->terminated || p->shutdown)
    return;
  int ie = atomic_load(&ws->init_err);
  if (ie < 0) {
    /* Its initializer failed: the pool is broken, as an executor is. */
    p->broken = true;
    p->broken_err = ie;
    cc__fail_all(p, ie, fin);
    return;
  }
  if (!ran_any && !was_running && atomic_load(&ws->started) == 0) {
    /* Died before it could take work (its initializer crashed?). Replacing
     * it forever would hang every caller, as Python's pool does. */
    if (++p->init_failures >= 3 * p->nworkers) {
      p->broken = true;
      p->broken_err = -CC_EWORKER;
      cc__fail_all(p, -CC_EWORKER, fin);
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
      p->broken_err = -CC_EWORKER;
      cc__fail_all(p, -CC_EWORKER, fin);
    }
  }
}

/* Every unfinished job fails with err. */
void cc__fail_all(cc_pool_t *p, int err, job_t **fin) {
  while (p->qhead) {
    job_t *j = p->qhead;
    cc__job_dequeue(p, j);
    if (!j->finished) {
      j->final_err = err;
      cc__job_finish(p, j, fin);
    }
  }
  for (int wi = 0; wi < p->nworkers; wi++)
    for (int k = 0; k < 2; k++) {
      job_t *j = p->w[wi].ck[k].job;
      if (j && !j->finished) {
        j->final_err = err;
        cc__job_finish(p, j, fin);
      }
    }
  cc__pool_notify(p);
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
      cc__item_done(p, j, 0, -ECANCELED);
      cc__job_finish(p, j, fin);
      cc__pool_notify(p);
      return false;
    }
    if (j->fut)
      j->fut_running = true;
    uint64_t *off = (uint64_t *)in;
    char *data = in + BYTES_HDR;
    size_t room = p->cap - BYTES_HDR, used = 0, m = 0;
    size_t max = p->o.max_result; /* <= room */
    off[0] = 0;
    while (m < n) {
      const cc_buf_t *it = &j->items[start + m];
      if (it->len > max) {
        /* Larger than max_result: it fails alone, at the start of a
         * chunk (a later one ends the chunk before it). */
        if (m > 0)
          break;
        cc__item_done(p, j, start, -CC_ETOOBIG);
        start++;
        n--;
        report_progress(p, j);
        if (j->done == j->n) {
          cc__job_finish(p, j, fin);
          cc__pool_notify(p);
          return false;
        }
        continue;
      }
      if (used + it->len > room)
        break;
      if (it->len)
        memcpy(data + used, it->data, it->len);
      used += it->len;
      off[++m] = used;
    }
    if (m < n)
      cc__add_retry(p, j, start + m, n - m, fin);
    if (m == 0)
      return false;
    n = m;
  }
  if (j->kind != KIND_REC)
    s->src = NULL, s->dst = NULL;
  s->kind = (uint32_t)j->kind;
  s->n = (uint32_t)n;
  s->base = start;
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
        if (j->finished || !cc__job_has_work(j)) {
          cc__job_dequeue(p, j);
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
          if (!cc__job_has_work(j))
            cc__job_dequeue(p, j);
          break;
        }
        if (!cc__job_has_work(j))
          cc__job_dequeue(p, j);
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
 * pool held: the queue's and the one cc__job_finish() took for this list. */
void cc__complete_futures(cc_pool_t *p, job_t *fin) {
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
    cc__job_unref(j);
    cc__job_unref(j);
  }
  cc__pool_notify(p);
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

void *cc__pool_manager_main(void *arg) {
  cc_pool_t *p = arg;
  pthread_mutex_lock(&p->mu);
  int err = 0;
  for (int wi = 0; wi < p->nworkers && err == 0; wi++)
    err = spawn_worker(p, wi);
  p->start_err = err;
  p->started = true;
  pthread_cond_broadcast(&p->start_cv);
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
      cc__complete_futures(p, fin);
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
      cc__complete_futures(p, fin);
      pthread_mutex_lock(&p->mu);
    }
  }
  stop_workers(p);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

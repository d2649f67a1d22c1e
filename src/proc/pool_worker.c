/* The process pool: the worker. Runs in a worker PROCESS, forked by the
 * manager thread (pool_manager.c), from cc__pool_worker_main() until it
 * _exit()s: it takes chunks from its two slots in the shared arena, runs
 * them, and tells the manager (see pool_int.h for the protocol). Nothing
 * here may touch the parent's heap state beyond reading the pool's options
 * and the work functions' context (a copy as of the fork). */
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "concur/error.h"
#include "core/trace.h"
#include "proc/pool_int.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, (uint32_t *)a, FUTEX_WAIT, v, NULL, NULL, 0);
}

/* ---- the worker ----------------------------------------------------------------- */

/* Maps the pages of [p, p+len) into this worker in one call. A shared
 * mapping inherited through fork() starts with no page tables in the child,
 * so a chunk in place would otherwise take a page fault per page. */
static void populate(const void *p, size_t len, size_t page, int advice) {
  uintptr_t pg = page, a = (uintptr_t)p & ~(pg - 1);
  madvise((void *)a, (uintptr_t)p + len - a, advice);
}

static void run_records(char *base, slot_t *s, size_t page) {
  const char *in = s->src ? s->src : base + s->in_off;
  char *out = s->dst ? s->dst : base + s->out_off;
#ifdef MADV_POPULATE_WRITE
  if (s->src)
    populate(s->src, (size_t)s->n * s->in_size, page, MADV_POPULATE_READ);
  if (s->dst)
    populate(s->dst, (size_t)s->n * s->out_size, page, MADV_POPULATE_WRITE);
#else
  (void)page;
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

/* `max` is opts.max_result: no result may be longer, whatever room the
 * chunk has left. */
static void run_bytes(char *base, slot_t *s, size_t data_cap, size_t max) {
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
    if (room > max)
      room = max;
    ssize_t r = f(idata + ioff[i], ioff[i + 1] - ioff[i], odata + ooff[i], room, s->ctx);
    if (r == -CC_ETOOBIG && i > 0 && room < max)
      break; /* run it again at the start of a fresh chunk, with room `max` */
    if (r >= 0 && (size_t)r > room)
      r = -CC_ETOOBIG; /* wrote past out_cap, or longer than max_result */
    st[i] = r < 0 ? (int32_t)r : 0;
    ooff[i + 1] = ooff[i] + (r > 0 ? (uint64_t)r : 0);
  }
  s->stop_at = i;
}

_Noreturn void cc__pool_worker_main(cc_pool_t *p, int wi) {
  wshared_t *ws = &p->ws[wi];
  if (p->o.initializer) {
    int r = p->o.initializer(p->o.initargs);
    if (r < 0) {
      /* The manager breaks the pool with this error when it reaps us. */
      atomic_store(&ws->init_err, r < INT32_MIN ? INT32_MIN : (int32_t)r);
      _exit(1);
    }
  }
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
        CC__CPU_RELAX();
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
      run_records(p->arena, s, p->page);
    else
      run_bytes(p->arena, s, data_cap, p->o.max_result);
    s->elapsed_ns = (uint64_t)(now_ns() - t0);
    CC__TRACE(cc__trace_chunk(wi, t0, (int64_t)s->elapsed_ns, s->base, s->n));
    items += s->n;
    ws->items_done = items;
    atomic_store(&s->state, SLOT_DONE);
    if (atomic_exchange(&p->hdr->mgr_sleeping, 0) == 1)
      cc__efd_post(p->mgr_efd);
    k ^= 1;
    if (p->o.maxtasksperchild && items >= p->o.maxtasksperchild)
      _exit(0);
  }
}

/* Coroutine stacks: chunked mmap, guard pages, a per-loop free pool.
 *
 * Costs, measured on the 2-core VM this project is developed on: the first
 * touch of a fresh stack page ~1.45 us, MADV_GUARD_INSTALL ~0.3 us per
 * stack. Both are paid once per slot; a recycled stack costs neither, so a
 * spawn in the steady state makes no system call at all.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coro/coro.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && defined(CONCUR_VALGRIND)
#include <valgrind/valgrind.h>
#define CC__VALGRIND 1
#endif
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The guard region below each stack, in pages. With MADV_GUARD_INSTALL a
 * deeper guard costs the same single call and no memory (measured here:
 * installing 1, 4 or 16 guard pages takes the same ~0.5-1 us per stack,
 * within noise; the machine was loaded); only address space grows, by
 * 12 KiB a stack for 4 pages. Four pages catch a frame that skips up to
 * 16 KiB past the stack's end (a char buf[8192] and then some) even in
 * code built without -fstack-clash-protection; with it, any frame is
 * caught, since it probes every page on the way down. */
#define GUARD_PAGES 4

/* Chunks of at least this many slots are prepared in bulk (see bulk_prepare). */
#define BULK_SLOTS 256
/* The largest chunk; growth in chunks of this size is prepared ahead. */
#define PREP_SLOTS 1024
/* How many such chunks the helper keeps prepared ahead of the loop. With
 * one, the helper sat idle whenever the loop was using up a chunk it had
 * prepared itself (the hand-over waited for the loop's next take); with a
 * few, it works for as long as the loop keeps taking, and both cores
 * prepare stacks. Costs at most PREP_AHEAD chunks' first pages (4 MiB
 * each) prepared and never used after a burst. */
#define PREP_AHEAD 3

struct cc__stack_chunk {
  void *base;
  size_t len;
  size_t desc_len; /* this structure's own mapping in a reserve; 0: malloc()ed */
  size_t nslots;
  struct cc__stack_chunk *next;
  cc__stack_t slots[];
};

static void prep_stop(cc__stack_pool_t *p);
static void resv_release(struct cc__stack_resv *r);

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };
static atomic_int guard_mode = GUARD_UNKNOWN;
/* Guards made with mprotect() split a mapping each: they are capped well
 * below vm.max_map_count so that the process can still mmap, and stacks
 * past the cap run without a guard (reported once on stderr). */
static atomic_long mprotect_guards;
static long mprotect_cap = -1;
static atomic_flag warned_unguarded = ATOMIC_FLAG_INIT;

size_t cc__page_size(void) {
  static size_t page;
  if (!page)
    page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

static long read_max_map_count(void) {
  long v = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    if (fscanf(f, "%ld", &v) != 1)
      v = 65530;
    fclose(f);
  }
  return v;
}

/* True if reading `page` faults, checked without touching it: the kernel
 * refuses to copy from a guard page (EFAULT). Some environments accept
 * MADV_GUARD_INSTALL and ignore it (qemu-user, for one); this catches them. */
static bool page_is_guarded(void *page) {
  int p[2];
  if (pipe(p) != 0)
    return true; /* cannot tell; trust the kernel's answer */
  ssize_t n = write(p[1], page, 1);
  int e = errno;
  close(p[0]);
  close(p[1]);
  return n < 0 && e == EFAULT;
}

size_t cc__stack_guard_size(void) {
  return GUARD_PAGES * cc__page_size();
}

static bool install_guard(void *page) {
  size_t gs = cc__stack_guard_size();
  int mode = atomic_load_explicit(&guard_mode, memory_order_relaxed);
  if (mode != GUARD_MPROTECT) {
    if (madvise(page, gs, MADV_GUARD_INSTALL) == 0) {
      if (mode == GUARD_MADVISE)
        return true;
      if (page_is_guarded(page)) {
        atomic_store(&guard_mode, GUARD_MADVISE);
        return true;
      }
    } else if (errno != EINVAL) {
      return false;
    }
    atomic_store(&guard_mode, GUARD_MPROTECT);
  }
  if (mprotect_cap < 0)
    mprotect_cap = (read_max_map_count() - 4096) / 2;
  if (atomic_fetch_add(&mprotect_guards, 1) >= mprotect_cap) {
    atomic_fetch_sub(&mprotect_guards, 1);
    if (!atomic_flag_test_and_set(&warned_unguarded))
      fprintf(stderr, "concur: kernel lacks MADV_GUARD_INSTALL and vm.max_map_count is "
                      "near; further coroutine stacks have no guard page\n");
    return false;
  }
  if (mprotect(page, gs, PROT_NONE) != 0) {
    atomic_fetch_sub(&mprotect_guards, 1);
    return false;
  }
  return true;
}

/* When the pool grows by whole chunks of hundreds of stacks, the program
 * is spawning coroutines in bulk and will touch every one of them. Then the
 * guard pages are installed with one process_madvise() call per 128 stacks
 * instead of one madvise() per stack (measured here: 0.12 us instead of
 * 0.25 us per guard), and each stack's first page is committed at once, by
 * whichever thread prepares the chunk (the helper, usually). The first pages
 * were committed with MADV_POPULATE_WRITE through process_madvise() too;
 * writing a byte to each is ~10% cheaper now (W3's start phase at 200,000,
 * 8 interleaved runs: 0.505 s of CPU against 0.56 s; a microbenchmark of
 * guard + first page, 3.6 against 3.9 us a stack): get_user_pages walks the
 * page table twice a page and drains the LRU batch once per vector entry,
 * and a fault takes only its VMA's lock, not the mmap lock. Returns true if
 * the guards were installed (the caller then skips them). */
static bool bulk_prepare(char *base, size_t n, size_t slot_size) {
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
  if (atomic_load_explicit(&guard_mode, memory_order_relaxed) != GUARD_MADVISE)
    return false; /* learn the kernel's answer on a small chunk first */
  /* This runs on the stack of whichever coroutine is switching away, which
   * may be small: the vector goes on the heap. A call holds the mmap lock
   * (for reading) across its whole vector, and a brk() or mmap() of the
   * other thread (malloc growing the heap for a chunk's descriptors) waits
   * for it, and then every reader waits behind that writer: 128 stacks a
   * call (~0.1-0.4 ms here) instead of 1024 bound that wait. */
  enum { BATCH = 128 };
  struct iovec *iov = malloc(BATCH * sizeof *iov);
  if (!iov)
    return false;
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd < 0) {
    free(iov);
    return false;
  }
  size_t gs = cc__stack_guard_size();
  bool ok = true;
  for (size_t i = 0; i < n && ok; i += BATCH) {
    size_t k = n - i < BATCH ? n - i : BATCH;
    for (size_t j = 0; j < k; j++) {
      iov[j].iov_base = base + (i + j) * slot_size;
      iov[j].iov_len = gs;
    }
    ok = syscall(SYS_process_madvise, pidfd, iov, k, MADV_GUARD_INSTALL, 0) ==
         (long)(k * gs);
  }
  /* The first pages: a byte written at the top of each stack, i.e. a
   * plain page fault each, here on the thread that prepares the chunk. */
  if (ok)
    for (size_t i = 0; i < n; i++)
      *(volatile char *)(base + (i + 1) * slot_size - 1) = 0;
  close(pidfd);
  free(iov);
  return ok;
#else
  (void)base;
  (void)n;
  (void)slot_size;
  return false;
#endif
}

static void slot_init(cc__stack_t *s, char *slot, size_t stack_size,
                      struct cc__stack_chunk *chunk, bool guarded) {
  s->lo = slot + cc__stack_guard_size();
  s->size = stack_size;
  s->next = NULL;
  s->chunk = chunk;
  s->dirty = false;
  s->guarded = guarded || install_guard(slot);
#ifdef CC__VALGRIND
  s->vg_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s->lo + stack_size);
#else
  s->vg_id = 0;
#endif
}

static void slot_fini(cc__stack_t *s) {
#ifdef CC__VALGRIND
  VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
  if (s->guarded && atomic_load(&guard_mode) == GUARD_MPROTECT)
    atomic_fetch_sub(&mprotect_guards, 1);
}

void cc__stack_pool_init(cc__stack_pool_t *p, size_t stack_size, size_t cache) {
  size_t ps = cc__page_size();
  if (stack_size == 0)
    stack_size = CC__STACK_DEFAULT;
  stack_size = (stack_size + ps - 1) & ~(ps - 1);
  if (stack_size < 4 * ps)
    stack_size = 4 * ps;
  memset(p, 0, sizeof *p);
  p->stack_size = stack_size;
  p->slot_size = stack_size + cc__stack_guard_size();
  p->cache = cache ? cache : 1024;
  p->next_chunk_slots = 16;
}

void cc__stack_pool_destroy(cc__stack_pool_t *p) {
  prep_stop(p);
  struct cc__stack_chunk *c = p->chunks, *next;
  for (; c; c = next) {
    next = c->next;
    for (size_t i = 0; i < c->nslots; i++)
      slot_fini(&c->slots[i]);
    munmap(c->base, c->len);
    if (c->desc_len)
      munmap(c, c->desc_len);
    else
      free(c);
  }
  resv_release(&p->resv);
  p->chunks = NULL;
  p->free = p->dirty = p->dirty_tail = NULL;
  p->nfree = p->ndirty = 0;
}

/* ---- preparing chunks ahead, on another core ---------------------------------
 *
 * Once a loop grows its pool by whole 1024-stack chunks it is spawning
 * coroutines in bulk, and mapping, guarding and committing the next chunk
 * (~0.6 us a stack) is most of the cost of starting each one. A helper
 * thread, started at that point and owned by the pool, prepares the next
 * chunk while the loop runs tasks from the current one, so that on a
 * machine with a spare core the work overlaps. The loop never waits for
 * it: if the prepared chunk is not ready when needed, the loop prepares
 * one itself. The helper blocks every signal.
 *
 * The hand-over takes no lock, so the loop thread never blocks on the
 * helper: it used to take a mutex to post each request, and on a loaded
 * machine the helper could be preempted while holding it (perf sched
 * showed the loop thread asleep in __lll_lock_wait from cc__prepare_slow).
 * Now the loop stores `want` and posts `sem` (a system call only when the
 * helper sleeps); it takes a prepared chunk from a small ring (`head`,
 * `tail`). The helper prepares while the ring has room, so at most
 * PREP_AHEAD chunks wait, and every take is followed by a request.
 */
struct cc__stack_prep {
  pthread_t thread;
  sem_t sem; /* posted for each request and for stop */
  size_t slot_size;
  _Atomic size_t want; /* slots a chunk has (set by the first request) */
  /* Prepared chunks, a single-producer single-consumer ring: the helper
   * fills ring[tail % PREP_AHEAD] and then publishes tail (release); the
   * loop reads ring[head % PREP_AHEAD] and then publishes head (release). */
  struct cc__stack_prepared {
    void *base;
    size_t slots;
    bool guarded;
    void *desc; /* room for its descriptor, or NULL */
  } ring[PREP_AHEAD];
  _Atomic size_t head, tail;
  atomic_bool stop;
  pid_t pid; /* after fork() the child has the memory but not the thread */
  struct cc__stack_resv resv; /* the helper's own reserve (its thread only) */
};

static void *map_chunk(size_t len) {
  void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return base == MAP_FAILED ? NULL : base;
}

/* Address space for full-size chunks, mapped RESV_CHUNKS chunks at a time
 * and handed out a chunk at a time, each with room for its descriptor
 * (struct cc__stack_chunk and its slots, ~50 KiB for 1024 stacks) at the
 * front of the reserve. mmap() and brk() take the process's mmap lock for
 * writing, and while a writer waits every other taker of the lock waits
 * behind it: with a chunk mapped, and its descriptor malloc()ed (a brk()
 * every third chunk), per 1024 stacks, the loop thread waited for the
 * helper's process_madvise() (which holds the lock for reading across its
 * vector) and the helper then waited for the loop thread, so the two ran
 * mostly one after the other (perf sched: 15% of the loop thread's
 * switches were in mmap's rwsem_down_write_slowpath, 7% in brk's; CPU time
 * of the start phase ~1.05x its wall time). MAP_NORESERVE: the reserve
 * costs no memory, only address space (~400 MiB for 8 KiB stacks, ~1.3 GiB
 * for the default 64 KiB). Where it cannot be mapped (strict overcommit
 * counts it), chunks are mapped one at a time as before. */
#define RESV_CHUNKS 16

static size_t desc_len(size_t nslots) {
  size_t ps = cc__page_size();
  return (sizeof(struct cc__stack_chunk) + nslots * sizeof(cc__stack_t) + ps - 1) &
         ~(ps - 1);
}

/* A chunk of `len` bytes and, in *desc, room for its descriptor (NULL if
 * the reserve could not be mapped and the chunk was mapped on its own). */
static void *resv_take(struct cc__stack_resv *r, size_t len, size_t dlen, void **desc) {
  *desc = NULL;
  if ((size_t)(r->end - r->next) < len) {
    /* Every chunk taken from a reserve has the same length: nothing is
     * left of the old one. */
    resv_release(r);
    char *b = map_chunk((dlen + len) * RESV_CHUNKS);
    if (!b)
      return map_chunk(len);
    r->dnext = b;
    r->dend = r->next = b + dlen * RESV_CHUNKS;
    r->end = r->next + len * RESV_CHUNKS;
  }
  *desc = r->dnext;
  r->dnext += dlen;
  void *p = r->next;
  r->next += len;
  return p;
}

/* Unmaps what was never handed out. */
static void resv_release(struct cc__stack_resv *r) {
  if (r->next < r->end)
    munmap(r->next, (size_t)(r->end - r->next));
  if (r->dnext < r->dend)
    munmap(r->dnext, (size_t)(r->dend - r->dnext));
  r->next = r->end = r->dnext = r->dend = NULL;
}

static void *prep_main(void *arg) {
  struct cc__stack_prep *pp = arg;
  for (;;) {
    while (sem_wait(&pp->sem) != 0) {
    } /* EINTR only: every signal is blocked, but a debugger may interrupt */
    if (atomic_load(&pp->stop))
      break;
    size_t n = atomic_load(&pp->want), slot = pp->slot_size;
    /* Fill the ring; the loop posts again each time it takes a chunk. */
    for (;;) {
      size_t tail = atomic_load_explicit(&pp->tail, memory_order_relaxed);
      if (!n || atomic_load(&pp->stop) ||
          tail - atomic_load_explicit(&pp->head, memory_order_acquire) >= PREP_AHEAD)
        break;
      size_t dlen = desc_len(n);
      void *desc;
      void *base = resv_take(&pp->resv, n * slot, dlen, &desc);
      if (!base)
        break;
      struct cc__stack_prepared *e = &pp->ring[tail % PREP_AHEAD];
      e->guarded = bulk_prepare(base, n, slot);
      /* The loop thread writes the descriptor next: commit it here. */
      if (desc)
        (void)madvise(desc, dlen, MADV_POPULATE_WRITE);
      e->desc = desc;
      e->slots = n;
      e->base = base;
      atomic_store_explicit(&pp->tail, tail + 1, memory_order_release);
    }
  }
  return NULL;
}

static bool prep_forked(cc__stack_pool_t *p) {
  if (p->prep && p->prep->pid != getpid()) {
    p->prep = NULL; /* the thread is the parent's; leave its memory alone */
    return true;
  }
  return false;
}

static void prep_request(cc__stack_pool_t *p, size_t n) {
  if (prep_forked(p))
    return;
  struct cc__stack_prep *pp = p->prep;
  if (!pp) {
    pp = calloc(1, sizeof *pp);
    if (!pp)
      return;
    if (sem_init(&pp->sem, 0, 0) != 0) {
      free(pp);
      return;
    }
    pp->slot_size = p->slot_size;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&pp->thread, NULL, prep_main, pp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
      sem_destroy(&pp->sem);
      free(pp);
      return;
    }
    pthread_setname_np(pp->thread, "concur-stacks");
    pp->pid = getpid();
    p->prep = pp;
  }
  atomic_store(&pp->want, n);
  sem_post(&pp->sem);
}

static void prep_unmap_ready(struct cc__stack_prep *pp, struct cc__stack_prepared *e) {
  munmap(e->base, e->slots * pp->slot_size);
  if (e->desc)
    munmap(e->desc, desc_len(e->slots));
}

/* Takes the prepared mapping if it is ready now (never waits). */
static void *prep_take(cc__stack_pool_t *p, size_t n, bool *guarded, void **desc) {
  if (prep_forked(p))
    return NULL;
  struct cc__stack_prep *pp = p->prep;
  if (!pp)
    return NULL;
  size_t head = atomic_load_explicit(&pp->head, memory_order_relaxed);
  if (head == atomic_load_explicit(&pp->tail, memory_order_acquire))
    return NULL;
  struct cc__stack_prepared *e = &pp->ring[head % PREP_AHEAD];
  void *base = e->base;
  if (e->slots != n) {
    prep_unmap_ready(pp, e); /* not of this size: never happens */
    base = NULL;
  } else {
    *guarded = e->guarded;
    *desc = e->desc;
  }
  atomic_store_explicit(&pp->head, head + 1, memory_order_release);
  return base;
}

static void prep_stop(cc__stack_pool_t *p) {
  prep_forked(p);
  struct cc__stack_prep *pp = p->prep;
  if (!pp)
    return;
  atomic_store(&pp->stop, true);
  sem_post(&pp->sem);
  pthread_join(pp->thread, NULL);
  for (size_t i = atomic_load(&pp->head), end = atomic_load(&pp->tail); i != end; i++)
    prep_unmap_ready(pp, &pp->ring[i % PREP_AHEAD]);
  resv_release(&pp->resv);
  sem_destroy(&pp->sem);
  free(pp);
  p->prep = NULL;
}

static int add_chunk(cc__stack_pool_t *p) {
  size_t n = p->next_chunk_slots;
  size_t len = n * p->slot_size, dlen = desc_len(n);
  bool guarded = false;
  void *desc = NULL;
  void *base = n == PREP_SLOTS ? prep_take(p, n, &guarded, &desc) : NULL;
  if (!base) {
    base = n == PREP_SLOTS ? resv_take(&p->resv, len, dlen, &desc) : map_chunk(len);
    if (!base)
      return -ENOMEM;
    guarded = n >= BULK_SLOTS && bulk_prepare(base, n, p->slot_size);
  }
  if (n == PREP_SLOTS)
    prep_request(p, n);
  struct cc__stack_chunk *c = desc;
  if (!c) {
    c = malloc(sizeof *c + n * sizeof(cc__stack_t));
    if (!c) {
      munmap(base, len);
      return -ENOMEM;
    }
  }
  c->desc_len = desc ? dlen : 0;
  c->base = base;
  c->len = len;
  c->nslots = n;
  c->next = p->chunks;
  p->chunks = c;
  /* Push the slots so that the lowest address is handed out first. */
  for (size_t i = n; i-- > 0;) {
    cc__stack_t *s = &c->slots[i];
    slot_init(s, (char *)base + i * p->slot_size, p->stack_size, c, guarded);
    s->next = p->free;
    p->free = s;
  }
  p->nfree += n;
  if (p->next_chunk_slots < PREP_SLOTS)
    p->next_chunk_slots *= 2;
  return 0;
}

/* Free stacks live on two lists: `dirty` ones (pages still committed,
 * hottest at the head) are handed out first; `clean` ones (never used, or
 * trimmed) after them. Trimming takes the coldest dirty stacks from the
 * tail, so it is O(1) per stack and never in the spawn path. */
static void dirty_push(cc__stack_pool_t *p, cc__stack_t *s) {
  s->prev = NULL;
  s->next = p->dirty;
  if (p->dirty)
    p->dirty->prev = s;
  else
    p->dirty_tail = s;
  p->dirty = s;
  p->ndirty++;
}

static void dirty_unlink(cc__stack_pool_t *p, cc__stack_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    p->dirty = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    p->dirty_tail = s->prev;
  s->next = s->prev = NULL;
  p->ndirty--;
}

cc__stack_t *cc__stack_get(cc__stack_pool_t *p) {
  cc__stack_t *s = p->dirty;
  if (s) {
    dirty_unlink(p, s);
  } else {
    if (!p->free && add_chunk(p) != 0)
      return NULL;
    s = p->free;
    p->free = s->next;
    p->nfree--;
  }
  s->dirty = true; /* it is about to be touched */
  p->live++;
  return s;
}

void cc__stack_put(cc__stack_pool_t *p, cc__stack_t *s) {
  dirty_push(p, s);
  p->live--;
}

size_t cc__stack_pool_trim(cc__stack_pool_t *p, size_t budget) {
  size_t done = 0;
  while (p->ndirty > p->cache && done < budget) {
    cc__stack_t *s = p->dirty_tail;
    dirty_unlink(p, s);
    madvise(s->lo, s->size, MADV_DONTNEED);
    s->dirty = false;
    s->next = p->free;
    p->free = s;
    p->nfree++;
    done++;
  }
  return done;
}

cc__stack_t *cc__stack_map(size_t size) {
  size_t ps = cc__page_size();
  size = (size + ps - 1) & ~(ps - 1);
  if (size < 4 * ps)
    size = 4 * ps;
  cc__stack_t *s = malloc(sizeof *s);
  if (!s)
    return NULL;
  void *base = mmap(NULL, size + cc__stack_guard_size(), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    free(s);
    return NULL;
  }
  slot_init(s, base, size, NULL, false);
  s->dirty = true;
  return s;
}

void cc__stack_unmap(cc__stack_t *s) {
  slot_fini(s);
  munmap((char *)s->lo - cc__stack_guard_size(), s->size + cc__stack_guard_size());
  free(s);
}

const char *cc__stack_guard_kind(void) {
  switch (atomic_load(&guard_mode)) {
  case GUARD_MADVISE:
    return "madvise";
  case GUARD_MPROTECT:
    return "mprotect";
  default:
    return "unknown";
  }
}

bool cc__stack_in_guard(const cc__stack_t *s, const void *addr) {
  const char *a = addr, *lo = s->lo;
  /* The guard region only. A single frame that skips more than the guard
   * could step over it into the neighbouring slot's top, which is mapped
   * and does not fault: code built with -fstack-clash-protection (exported
   * to users by concur::concur) probes each page and never does. */
  return a < lo && a >= lo - cc__stack_guard_size();
}

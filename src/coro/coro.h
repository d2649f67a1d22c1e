/* Internal: coroutine contexts and stacks.
 *
 * The backend contract is two functions per architecture (the arch/
 * directory CMake selects): cc__ctx_make() lays the first frame on a fresh
 * stack so that the first switch to it enters entry(arg), and
 * cc__ctx_switch() saves the running context into *from and resumes *to.
 *
 * A coroutine stack, as laid out in one slot of a stack chunk:
 *
 *   high addresses
 *   +---------------------------+ <- lo + size (16-byte aligned top)
 *   | zero return address, pad  |    end of the frame chain for unwinders
 *   | first switch frame        |    trampoline, entry, arg (cc__ctx_make)
 *   | ... coroutine frames ...  |    grows down; pages committed on touch
 *   |                           |
 *   +---------------------------+ <- lo
 *   | guard region (4 pages)    |    MADV_GUARD_INSTALL (or PROT_NONE):
 *   +---------------------------+    a touch raises SIGSEGV, reported by
 *   low addresses                    the overflow handler, never corrupts
 *
 * Slots are carved from chunks that are mmap()ed with MAP_NORESERVE, so a
 * stack costs only the pages it touches. Guards installed with
 * MADV_GUARD_INSTALL (Linux 6.13+) do not split the mapping, so a million
 * guarded stacks stay a handful of entries in /proc/self/maps, far below
 * vm.max_map_count; the mprotect() fallback splits one mapping per stack
 * and is therefore capped (see stack.c).
 */
#ifndef CC_CORO_CORO_H
#define CC_CORO_CORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

void cc__ctx_make(cc__ctx_t *c, void *lo, size_t size, void (*entry)(void *), void *arg);
/* Returns, when `from` is resumed, the context that was resumed: `from`
 * itself, handed over in a register by whoever switched back to it, so that a
 * caller can find its own state again without keeping it in a register
 * across the switch. */
cc__ctx_t *cc__ctx_switch(cc__ctx_t *from, cc__ctx_t *to);

/* Architectures whose ctx.h defines CC__PARK_STUB(name, impl) get an
 * assembly stub through which a parking path returns without a
 * mispredicted `ret` once it has been switched away (x86_64: see its
 * ctx.h). The impl is an ordinary hidden function (CC__PARK_IMPL) that the
 * stub calls by name. */
#define CC__PARK_IMPL __attribute__((visibility("hidden"), used, noinline))

/* ---- stacks --------------------------------------------------------------- */

struct cc__stack_chunk;

typedef struct cc__stack {
  void *lo;                      /* lowest usable byte, just above the guard region */
  size_t size;                   /* usable bytes */
  struct cc__stack *next, *prev; /* free lists */
  struct cc__stack_chunk *chunk; /* NULL for a stack mapped on its own */
  unsigned vg_id;                /* valgrind stack id */
  bool guarded;
  bool dirty; /* has touched pages that a trim would release */
} cc__stack_t;

/* Address space reserved for chunks and not yet handed out (stack.c). */
struct cc__stack_resv {
  char *next, *end;   /* chunks */
  char *dnext, *dend; /* their descriptors */
};

typedef struct cc__stack_pool {
  size_t stack_size;               /* usable size of each stack */
  size_t slot_size;                /* stack_size + guard region */
  size_t cache;                    /* free stacks kept committed */
  cc__stack_t *dirty, *dirty_tail; /* free, pages committed; hottest first */
  size_t ndirty;
  cc__stack_t *free; /* free, no committed pages */
  size_t nfree;
  size_t live; /* stacks handed out */
  struct cc__stack_chunk *chunks;
  size_t next_chunk_slots;
  struct cc__stack_prep *prep; /* helper preparing chunks ahead, or NULL */
  struct cc__stack_resv resv;  /* the loop thread's reserve of address space */
} cc__stack_pool_t;

/* Default usable stack size. */
#define CC__STACK_DEFAULT (64 * 1024)

void cc__stack_pool_init(cc__stack_pool_t *p, size_t stack_size, size_t cache);
/* Unmaps every chunk. All stacks must have been returned. */
void cc__stack_pool_destroy(cc__stack_pool_t *p);
/* A stack from the pool (NULL when memory is exhausted). */
cc__stack_t *cc__stack_get(cc__stack_pool_t *p);
void cc__stack_put(cc__stack_pool_t *p, cc__stack_t *s);
/* Releases the pages of up to `budget` free stacks beyond the cache;
 * returns how many. Called by the loop when it is about to sleep. */
size_t cc__stack_pool_trim(cc__stack_pool_t *p, size_t budget);

/* A stack of a non-default size, mapped on its own; freed with
 * cc__stack_unmap(). */
cc__stack_t *cc__stack_map(size_t size);
void cc__stack_unmap(cc__stack_t *s);

/* True if `addr` lies in the guard region below `s`. */
bool cc__stack_in_guard(const cc__stack_t *s, const void *addr);
/* Bytes of the guard region below every stack (a few pages). */
size_t cc__stack_guard_size(void);

size_t cc__page_size(void);

/* How guard pages are made in this process: "madvise" (MADV_GUARD_INSTALL,
 * no mapping split), "mprotect" (fallback), or "unknown" before the first. */
const char *cc__stack_guard_kind(void);

#endif

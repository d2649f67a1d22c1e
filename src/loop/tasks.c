/* The memory of tasks: structures from slabs, stacks from the loop's pool.
 * The loop owns both (it frees a task's stack after switching away from it,
 * and every slab with the loop); the task layer (src/task/) decides when a
 * task is made and when it ends. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "coro/annot.h"
#include "loop/loop_int.h"

/* Slabs grow from 64 tasks to 4096. From the third slab on the loop is
 * spawning in bulk and every task structure will be written at once, so
 * the slab is mapped with MAP_POPULATE: one system call commits it, where
 * touching it would take a page fault per 4 KiB (measured here: ~0.8 us a
 * fault, ~0.25 us a page populated). */
#define SLAB_MIN 64
#define SLAB_MAX 4096

static cc__task_slab_t *slab_new(cc_loop_t *l, size_t *count) {
  size_t n = SLAB_MIN;
  size_t nslabs = 0;
  for (cc__task_slab_t *s = l->slabs; s && n < SLAB_MAX; s = s->next, nslabs++)
    n *= 2;
  size_t bytes = sizeof(cc__task_slab_t) + n * sizeof(cc_task_t);
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (nslabs >= 2 ? MAP_POPULATE : 0);
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  cc__task_slab_t *s = p;
  s->bytes = bytes;
  *count = n;
  return s;
}

cc_task_t *cc__task_alloc(cc_loop_t *l) {
  cc_task_t *t = l->task_free;
  uint64_t token = 0;
  if (t) {
    l->task_free = t->rq_next;
    /* Keep the token: a stale wake-up addressed to this structure's
     * previous incarnation must not match any park of the new one. */
    token = t->token + 1;
  } else {
    /* Never-used structures are handed out from the newest slab in order
     * (fresh memory, so each is touched once, here). */
    if (l->slab_next == l->slab_end) {
      size_t n;
      cc__task_slab_t *s = slab_new(l, &n);
      if (!s)
        return NULL;
      s->next = l->slabs;
      l->slabs = s;
      l->slab_next = s->tasks;
      l->slab_end = s->tasks + n;
    }
    t = l->slab_next++;
  }
  /* Not the remote-wake fields: the node may still be in the inbox. */
  memset(t, 0, offsetof(cc_task_t, rw_node));
  t->token = token;
  return t;
}

void cc__task_slabs_free(cc_loop_t *l) {
  cc__task_slab_t *s = l->slabs, *next;
  for (; s; s = next) {
    next = s->next;
    munmap(s, s->bytes);
  }
  l->slabs = NULL;
  l->task_free = NULL;
  l->slab_next = l->slab_end = NULL;
}

void cc__task_release(cc_loop_t *l, cc_task_t *t) {
  if (t->stack) {
    if (t->stack_size)
      cc__stack_unmap(t->stack);
    else
      cc__stack_put(&l->stacks, t->stack);
    t->stack = NULL;
  }
#ifdef CC__TSAN
  if (t->tsan_fiber) {
    __tsan_destroy_fiber(t->tsan_fiber);
    t->tsan_fiber = NULL;
  }
#endif
  if (t->detached)
    cc__task_free(l, t);
}

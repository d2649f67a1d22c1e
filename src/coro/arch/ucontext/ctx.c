/* The portable context switch on makecontext/swapcontext. */
#include <stdint.h>
#include <stdlib.h>

#include "coro/coro.h"

/* makecontext passes int arguments only, so pointers travel in two 32-bit
 * halves. The shifts are done on uint64_t: on a 32-bit target uintptr_t is
 * 32 bits wide, and shifting it by 32 would be undefined (the high half is
 * then simply 0). */
static uintptr_t join(unsigned hi, unsigned lo) {
  return (uintptr_t)(((uint64_t)hi << 32) | lo);
}

static void uc_entry(unsigned fhi, unsigned flo, unsigned ahi, unsigned alo) {
  void (*entry)(void *) = (void (*)(void *))join(fhi, flo);
  void *arg = (void *)join(ahi, alo);
  entry(arg);
  abort(); /* entries never return */
}

void cc__ctx_make(cc__ctx_t *c, void *lo, size_t size, void (*entry)(void *), void *arg) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = lo;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = NULL;
  uint64_t f = (uintptr_t)entry, a = (uintptr_t)arg;
  makecontext(&c->uc, (void (*)(void))uc_entry, 4, (unsigned)(f >> 32), (unsigned)f,
              (unsigned)(a >> 32), (unsigned)a);
}

cc__ctx_t *cc__ctx_switch(cc__ctx_t *from, cc__ctx_t *to) {
  swapcontext(&from->uc, &to->uc);
  return from;
}

/* Building the first frame of a fresh x86_64 coroutine stack. */
#include <stdint.h>

#include "coro/coro.h"

void cc__ctx_trampoline(void);

void cc__ctx_make(cc__ctx_t *c, void *lo, size_t size, void (*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)top;
  *--sp = 0;                            /* terminating return address */
  *--sp = 0;                            /* padding: keeps rsp % 16 == 0 */
  *--sp = (uint64_t)cc__ctx_trampoline; /* ret of cc__ctx_switch */
  *--sp = 0;                            /* rbp: end of the frame chain */
  *--sp = 0;                            /* rbx */
  *--sp = (uint64_t)(uintptr_t)arg;     /* r12 */
  *--sp = (uint64_t)(uintptr_t)entry;   /* r13 */
  *--sp = 0;                            /* r14 */
  *--sp = 0;                            /* r15 */
  c->sp = sp;
}

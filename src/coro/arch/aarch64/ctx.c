/* Building the first frame of a fresh AArch64 coroutine stack. */
#include <stdint.h>
#include <string.h>

#include "coro/coro.h"

void cc__ctx_trampoline(void);

void cc__ctx_make(cc__ctx_t *c, void *lo, size_t size, void (*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  uint64_t *frame = (uint64_t *)(top - 16 - 160);
  memset(frame, 0, 160 + 16);
  frame[0] = (uint64_t)(uintptr_t)arg;                 /* x19 */
  frame[1] = (uint64_t)(uintptr_t)entry;               /* x20 */
  frame[10] = 0;                                       /* x29 */
  frame[11] = (uint64_t)(uintptr_t)cc__ctx_trampoline; /* x30 */
  c->sp = frame;
}

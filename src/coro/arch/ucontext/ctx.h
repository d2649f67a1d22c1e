/* Portable fallback: ucontext. About 300 ns a switch (it saves the signal
 * mask with a system call), against a few ns for the assembly versions. */
#ifndef CC_CORO_ARCH_CTX_H
#define CC_CORO_ARCH_CTX_H
#include <ucontext.h>
typedef struct cc__ctx {
  ucontext_t uc;
} cc__ctx_t;
#endif

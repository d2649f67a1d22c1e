/* AArch64 AAPCS64: a context is just the saved stack pointer; everything
 * else lives on the suspended coroutine's own stack. */
#ifndef CC_CORO_ARCH_CTX_H
#define CC_CORO_ARCH_CTX_H
typedef struct cc__ctx {
  void *sp;
} cc__ctx_t;
#define CC__CTX_ASM 1
#endif

/* x86_64 System V: a context is just the saved stack pointer; everything
 * else lives on the suspended coroutine's own stack. */
#ifndef CC_CORO_ARCH_CTX_H
#define CC_CORO_ARCH_CTX_H
typedef struct cc__ctx {
  void *sp;
} cc__ctx_t;
#define CC__CTX_ASM 1

/* CC__PARK_STUB(name, impl): defines the hidden function `name` as a stub
 * that calls `impl` (same arguments, same result) and returns to its own
 * caller with an indirect jump instead of `ret`. For the parking half of a
 * primitive, which a fast path enters by a tail call: once a coroutine has
 * been switched away and resumed, the return-stack predictor holds the
 * other coroutine's return addresses, so a `ret` into the caller is
 * mispredicted every time, while the indirect-branch predictor (which keys
 * on the path that led here) learns where a ping-pong of coroutines goes.
 * The call that entered the stub stays on the return-stack predictor,
 * which is stale after a switch anyway. rbp is pushed for frame-pointer
 * unwinders; the CFI keeps gdb and perf exact. See docs/coro.md. */
#define CC__PARK_STUB(name, impl)                                                        \
  __asm__(".pushsection .text\n"                                                         \
          ".globl " #name "\n"                                                           \
          ".hidden " #name "\n"                                                          \
          ".type " #name ", @function\n"                                                 \
          ".p2align 4\n" #name ":\n"                                                     \
          ".cfi_startproc\n"                                                             \
          "pushq %rbp\n"                                                                 \
          ".cfi_def_cfa_offset 16\n"                                                     \
          ".cfi_offset %rbp, -16\n"                                                      \
          "movq %rsp, %rbp\n"                                                            \
          ".cfi_def_cfa_register %rbp\n"                                                 \
          "call " #impl "\n"                                                             \
          "popq %rbp\n"                                                                  \
          ".cfi_def_cfa %rsp, 8\n"                                                       \
          "popq %rcx\n"                                                                  \
          ".cfi_def_cfa_offset 0\n"                                                      \
          ".cfi_register %rip, %rcx\n"                                                   \
          "jmp *%rcx\n"                                                                  \
          ".cfi_endproc\n"                                                               \
          ".size " #name ", .-" #name "\n"                                               \
          ".popsection\n")
#endif

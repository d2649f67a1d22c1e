/* Context switch for x86_64, System V ABI.
 *
 * cc__ctx_t *cc__ctx_switch(cc__ctx_t *from, cc__ctx_t *to)
 *   rdi = from, rsi = to; returns (in the resumed context) `to`, which is
 *   the resumed side's own `from`
 *
 * Saves only the callee-saved integer registers (rbp, rbx, r12-r15) on the
 * current stack, stores rsp in from->sp, loads to->sp and pops the same set.
 * The caller-saved registers are dead across a call by the ABI. The x87
 * control word and MXCSR are deliberately NOT saved: reloading them costs
 * ~85 ns here (fldcw/ldmxcsr), against ~3-13 ns for the whole switch, so
 * coroutines share their thread's floating-point environment (documented in
 * loop.h).
 *
 * Saved frame, from the saved rsp upwards:
 *   [rsp+0]  r15
 *   [rsp+8]  r14
 *   [rsp+16] r13   (entry function, on a fresh stack)
 *   [rsp+24] r12   (entry argument, on a fresh stack)
 *   [rsp+32] rbx
 *   [rsp+40] rbp
 *   [rsp+48] return address (cc__ctx_trampoline, on a fresh stack)
 */
        .text
        .globl  cc__ctx_switch
        .hidden cc__ctx_switch
        .type   cc__ctx_switch, @function
        .p2align 4
cc__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, (%rdi)            /* from->sp = rsp */
        movq    (%rsi), %rsp            /* rsp = to->sp */
        movq    %rsi, %rax              /* returns `to` to the resumed side */
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret                             /* into the resumed coroutine */
        .cfi_endproc
        .size   cc__ctx_switch, .-cc__ctx_switch

/* First instruction of every coroutine: cc__ctx_make() left the entry
 * function in r13 and its argument in r12. rsp is 16-byte aligned here, so
 * the call leaves the callee with the ABI's rsp % 16 == 8. The entry never
 * returns; ud2 traps if it ever did. */
        .globl  cc__ctx_trampoline
        .hidden cc__ctx_trampoline
        .type   cc__ctx_trampoline, @function
        .p2align 4
cc__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip              /* outermost frame for unwinders */
        xorl    %ebp, %ebp
        movq    %r12, %rdi
        callq   *%r13
        ud2
        .cfi_endproc
        .size   cc__ctx_trampoline, .-cc__ctx_trampoline

        .section .note.GNU-stack,"",@progbits

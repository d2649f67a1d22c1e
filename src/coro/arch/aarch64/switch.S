/* Context switch for AArch64, AAPCS64.
 *
 * cc__ctx_t *cc__ctx_switch(cc__ctx_t *from, cc__ctx_t *to): returns `to` in the resumed context
 *   x0 = from, x1 = to
 *
 * Saves the callee-saved registers x19-x28, the frame pointer x29, the link
 * register x30 and the low halves d8-d15 of v8-v15 (the only callee-saved
 * SIMD state in AAPCS64) in a 160-byte frame on the current stack, stores sp
 * in from->sp, loads to->sp and restores the same set. FPCR/FPSR are shared
 * with the thread (see loop.h).
 *
 * Frame layout from the saved sp:
 *   [0]   x19 (entry argument on a fresh stack)   [8]   x20 (entry function)
 *   [16]  x21  [24]  x22  [32]  x23  [40]  x24  [48]  x25  [56]  x26
 *   [64]  x27  [72]  x28  [80]  x29 (fp)  [88]  x30 (lr: trampoline)
 *   [96..159] d8-d15
 */
        .text
        .globl  cc__ctx_switch
        .hidden cc__ctx_switch
        .type   cc__ctx_switch, %function
        .p2align 4
cc__ctx_switch:
        .cfi_startproc
        sub     sp, sp, #160
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x9, sp
        str     x9, [x0]                /* from->sp = sp */
        ldr     x9, [x1]
        mov     sp, x9                  /* sp = to->sp */
        mov     x0, x1                  /* returns `to` to the resumed side */
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #160
        ret                             /* to x30 */
        .cfi_endproc
        .size   cc__ctx_switch, .-cc__ctx_switch

/* First code of every coroutine: entry function in x20, argument in x19. */
        .globl  cc__ctx_trampoline
        .hidden cc__ctx_trampoline
        .type   cc__ctx_trampoline, %function
        .p2align 4
cc__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x29, #0
        mov     x0, x19
        blr     x20
        brk     #0
        .cfi_endproc
        .size   cc__ctx_trampoline, .-cc__ctx_trampoline

        .section .note.GNU-stack,"",%progbits

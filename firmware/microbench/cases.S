/* Cortex-M4 microbenchmarks with documented timings, one region per case (region
 * 0x1000 + the case number listed in tests/estimate/test_microbench.py). Each timed body is
 * straight-line code inside one translation block unless the case is about branches.
 * Built by mcubench.estimate.microbench for QEMU mps2-an386. */
    .syntax unified
    .cpu cortex-m4
    .fpu fpv4-sp-d16
    .thumb

    /* Case n is region 0x1000 + n. The end marker takes its id from r11 (set before the
     * region begins) so that the region holds exactly the case's body. Bodies leave r11
     * and r12 alone. */
    .macro REGION_BEGIN n
    .balign 4
    movw ip, #(0x1000 + \n)
    movw r11, #(0x1000 + \n)
    .inst.w 0xf3af80b1
    ldrb.w ip, [ip, #0]
    .endm

    .macro REGION_END n
    .inst.w 0xf3af80b2
    ldrb.w ip, [r11, #0]
    .endm

    .section .vectors, "a"
    .word mb_stack_top
    .word mb_reset + 1
    .rept 14
    .word mb_fault + 1
    .endr

    .bss
    .align 3
buffer:
    .space 256

    .text
    .thumb_func
    .global mb_fault
mb_fault:
    movs r0, #0x18
    ldr r1, =0x20023          /* ADP_Stopped_RunTimeErrorUnknown */
    bkpt 0xab
    b mb_fault

    .thumb_func
    .global mb_reset
mb_reset:
    /* enable CP10/CP11 for the VFP cases */
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb
    isb
    bl run_cases
    bl run_dynamic_regions   /* C: regions with run-time ids (dynamic.c) */
    movs r0, #0x18
    ldr r1, =0x20026          /* ADP_Stopped_ApplicationExit */
    bkpt 0xab
1:  b 1b

    .thumb_func
    .global run_cases
run_cases:
    push {r4-r11, lr}
    ldr r0, =buffer
    str r0, [r0]              /* buffer[0] points to itself: pointer chasing */
    movs r2, #3
    movs r3, #5
    movs r4, #7
    vmov s1, r3
    vmov s2, r4
    vcvt.f32.s32 s1, s1
    vcvt.f32.s32 s2, s2
    b 1f
    .ltorg
    .align 2
1:
    /* 1: 32 independent LDR from the same base: pipelined after the first */
    REGION_BEGIN 1
    .rept 8
    ldr r1, [r0]
    ldr r2, [r0, #4]
    ldr r3, [r0, #8]
    ldr r4, [r0, #12]
    .endr
    REGION_END 1

    /* 2: 32 dependent LDR (pointer chasing): the address needs the previous load */
    mov r5, r0
    REGION_BEGIN 2
    .rept 32
    ldr r5, [r5]
    .endr
    REGION_END 2

    /* 3: 32 STR with immediate offsets */
    REGION_BEGIN 3
    .rept 4
    str r1, [r0, #4]
    str r2, [r0, #8]
    str r3, [r0, #12]
    str r4, [r0, #16]
    str r1, [r0, #20]
    str r2, [r0, #24]
    str r3, [r0, #28]
    str r4, [r0, #32]
    .endr
    REGION_END 3

    /* 4: 16 x (ALU producing the base; LDR from it): address-dependency stall */
    REGION_BEGIN 4
    .rept 16
    adds r6, r0, #4
    ldr r1, [r6]
    .endr
    REGION_END 4

    /* 5: 32 dependent MLA (accumulator chain) */
    movs r2, #3
    movs r3, #5
    REGION_BEGIN 5
    .rept 32
    mla r1, r2, r3, r1
    .endr
    REGION_END 5

    /* 6: 32 SMULL */
    REGION_BEGIN 6
    .rept 32
    smull r6, r7, r2, r3
    .endr
    REGION_END 6

    /* 7: 32 dependent SMLAL (64-bit accumulator chain) */
    REGION_BEGIN 7
    .rept 32
    smlal r6, r7, r2, r3
    .endr
    REGION_END 7

    /* 8: 32 dependent SMLAD */
    REGION_BEGIN 8
    .rept 32
    smlad r1, r2, r3, r1
    .endr
    REGION_END 8

    /* 9: 16 unconditional taken branches (B.N to the next instruction) */
    REGION_BEGIN 9
    .rept 16
    b.n 2f
2:
    .endr
    nop                       /* the last branch lands on a 16-bit instruction */
    REGION_END 9

    /* 10: CMP then 16 conditional branches, never taken */
    REGION_BEGIN 10
    cmp r0, r0
    .rept 16
    bne.n 8f
    .endr
    REGION_END 10
    b 7f
8:  b 8b                      /* never reached: target of the not-taken branches */
7:

    /* 11: CMP then 16 conditional branches, all taken (each skips a NOP) */
    REGION_BEGIN 11
    cmp r0, r0
    .rept 16
    beq.n 2f
    nop
2:
    .endr
    nop                       /* the last branch lands on a 16-bit instruction */
    REGION_END 11

    /* 12: 8 LDM of 4 registers */
    REGION_BEGIN 12
    .rept 8
    ldmia.w r0, {r1-r4}
    .endr
    REGION_END 12

    /* 13: 8 STM of 8 registers */
    REGION_BEGIN 13
    .rept 8
    stmia.w r0, {r1-r8}
    .endr
    REGION_END 13

    /* 14: 8 x (PUSH 5 registers; POP 5 registers) */
    REGION_BEGIN 14
    .rept 8
    push {r1-r5}
    pop {r1-r5}
    .endr
    REGION_END 14

    /* 15: 8 UDIV with the longest quotient (0xFFFFFFFF / 1) */
    mvn r6, #0
    movs r7, #1
    REGION_BEGIN 15
    .rept 8
    udiv r1, r6, r7
    .endr
    REGION_END 15

    /* 16: 8 UDIV with a zero quotient (7 / 100: early termination) */
    movs r6, #7
    movs r7, #100
    REGION_BEGIN 16
    .rept 8
    udiv r1, r6, r7
    .endr
    REGION_END 16

    /* 17: 32 independent VADD.F32 */
    REGION_BEGIN 17
    .rept 32
    vadd.f32 s0, s1, s2
    .endr
    REGION_END 17

    /* 18: 32 VMUL.F32 */
    REGION_BEGIN 18
    .rept 32
    vmul.f32 s3, s1, s2
    .endr
    REGION_END 18

    /* 19: 8 VDIV.F32 */
    REGION_BEGIN 19
    .rept 8
    vdiv.f32 s4, s1, s2
    .endr
    REGION_END 19

    /* 20: 8 VSQRT.F32 */
    REGION_BEGIN 20
    .rept 8
    vsqrt.f32 s5, s2
    .endr
    REGION_END 20

    /* 21: 8 VMLA.F32 */
    REGION_BEGIN 21
    .rept 8
    vmla.f32 s6, s1, s2
    .endr
    REGION_END 21

    /* 22: 8 VLDR + 8 VSTR */
    REGION_BEGIN 22
    .rept 8
    vldr s7, [r0, #4]
    .endr
    .rept 8
    vstr s7, [r0, #8]
    .endr
    REGION_END 22

    /* 23: a counted loop of 16 iterations (SUBS; BNE back), the last BNE falls through */
    movs r1, #16
    REGION_BEGIN 23
3:  subs r1, #1
    bne 3b
    REGION_END 23

    /* 24: 8 calls of a leaf function (BL; BX LR) */
    REGION_BEGIN 24
    .rept 8
    bl leaf
    .endr
    REGION_END 24

    /* 25: IT blocks folded onto a 16-bit CMP: 8 x (CMP; ITE EQ; MOVEQ; MOVNE) */
    REGION_BEGIN 25
    .rept 8
    cmp r0, r0
    ite eq
    moveq r1, #1
    movne r1, #2
    .endr
    REGION_END 25

    /* 26: 8 VLDM of 4 single-precision registers */
    REGION_BEGIN 26
    .rept 8
    vldmia r0, {s8-s11}
    .endr
    REGION_END 26

    /* 27: two ADDS in a region whose end marker's load is the last instruction before a 1 KB
     * page boundary that a 32-bit instruction crosses: QEMU ends the block at the load and
     * hands the plugin that load with the next instruction's first halfword appended (the
     * plugin must still see the marker). Laid out from the boundary B down; the padding is
     * jumped over. */
    b 27f
    .balign 1024
    .space 1024 - 30
27: movw ip, #(0x1000 + 27)      /* B-30 */
    movw r11, #(0x1000 + 27)     /* B-26 */
    .inst.w 0xf3af80b1           /* B-22 */
    ldrb.w ip, [ip, #0]          /* B-18 */
    adds r0, r0, #0              /* B-14 */
    adds r0, r0, #0              /* B-12 */
    .inst.w 0xf3af80b2           /* B-10 */
    ldrb.w ip, [r11, #0]         /* B-6 */
    movw r0, #0                  /* B-2: crosses the boundary */

    pop {r4-r11, pc}

    .thumb_func
leaf:
    bx lr
    .ltorg

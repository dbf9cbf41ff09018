/* Startup shared by the bare-metal Cortex-M ports: vector table, reset (copy .data, zero
 * .bss, enable the FPU, run constructors, call main) and a fault handler that reports the
 * fault with the protocol instead of hanging silently. A port supplies SysTick_Handler and
 * the interrupt handlers it needs; unused ones fall through to Default_Handler. */
#include <stdint.h>

#include "mcb_port.h"
#include "mcb_protocol.h"
#include "mcb_workload.h"

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern void (*__preinit_array_start[])(void) __attribute__((weak));
extern void (*__preinit_array_end[])(void) __attribute__((weak));
extern void (*__init_array_start[])(void) __attribute__((weak));
extern void (*__init_array_end[])(void) __attribute__((weak));

int main(void);

/* Bare-metal images start the benchmark core directly. */
int main(void) { mcb_main(); }
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

#define IRQ_COUNT 48

__attribute__((section(".isr_vector"), used)) void (*const mcb_vectors[16 + IRQ_COUNT])(void) = {
    (void (*)(void))(&__mcb_stack_top),
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    /* External interrupts: none used by the ports so far. */
    [16 ... 16 + IRQ_COUNT - 1] = Default_Handler,
};

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)

void Reset_Handler(void) {
    uint32_t *src = &__etext;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
#if defined(__ARM_FP)
    /* CP10 and CP11 full access: the image is built for the FPU (hard/softfp ABI). */
    SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n isb");
#endif
    /* Route MemManage, BusFault and UsageFault to their handlers for precise reports. */
    SCB_SHCSR |= (7u << 16);
    for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; f++) (*f)();
    for (void (**f)(void) = __init_array_start; f < __init_array_end; f++) (*f)();
    mcb_port_exit(main());
}

/* Reports the faulting PC (stacked frame) and fault status, then exits with status 3. */
__attribute__((used)) void mcb_fault_report(uint32_t *frame) {
    mcb_rec_begin("err");
    mcb_rec_str("code", "fault");
    mcb_rec_str("msg", "hard fault");
    mcb_rec_u64("pc", frame[6]);
    mcb_rec_u64("lr", frame[5]);
    mcb_rec_u64("cfsr", SCB_CFSR);
    mcb_rec_u64("hfsr", SCB_HFSR);
    mcb_rec_u64("bfar", SCB_BFAR);
    mcb_rec_end();
    mcb_send_done(0);
    mcb_port_exit(3);
}

__attribute__((naked)) void HardFault_Handler(void) {
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b mcb_fault_report\n");
}

void Default_Handler(void) {
    mcb_send_err("fault", "unexpected interrupt");
    mcb_send_done(0);
    mcb_port_exit(4);
}

/* newlib's syscalls, for code that pulls them in (printf through the port's UART). */
int _write(int fd, const char *buf, int len) {
    (void)fd;
    mcb_port_write(buf, (size_t)len);
    return len;
}

/* A 64-bit tick counter from the 24-bit SysTick at the processor clock: the interrupt counts
 * wraps, and a read combines the wrap count with the current value. Used where no DWT cycle
 * counter counts (QEMU reads CYCCNT as 0). */
#include <stdint.h>

#include "cm_systick.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define RELOAD 0x00FFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void) { wraps++; }

void cm_systick_start(void) {
    SYST_RVR = RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

uint64_t cm_systick_ticks(void) {
    for (;;) {
        uint32_t hi = wraps;
        uint32_t v1 = SYST_CVR;
        uint32_t pending = SCB_ICSR & ICSR_PENDSTSET;
        uint32_t v2 = SYST_CVR;
        if (hi != wraps) continue; /* the interrupt ran in between: read again */
        uint32_t v;
        if (pending) {
            hi++; /* wrapped, not yet counted; v2 was read after the wrap */
            v = v2;
        } else if (v2 > v1) {
            continue; /* wrapped between the two reads: read again */
        } else {
            v = v1;
        }
        return (uint64_t)hi * (RELOAD + 1u) + (RELOAD - v);
    }
}

/* DWT cycle counter: exact core cycles on a real Cortex-M3/M4/M7 (reads 0 under QEMU). */
#ifndef CM_DWT_H
#define CM_DWT_H
#include <stdint.h>

#define CM_DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define CM_DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define CM_DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define CM_DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)

static inline void cm_dwt_start(void) {
    CM_DEMCR |= (1u << 24); /* TRCENA */
    CM_DWT_LAR = 0xC5ACCE55u; /* unlock where a lock access register exists */
    CM_DWT_CYCCNT = 0;
    CM_DWT_CTRL |= 1u; /* CYCCNTENA */
}

/* Returns 1 when the cycle counter advances (it does not under QEMU). */
static inline int cm_dwt_counts(void) {
    uint32_t a = CM_DWT_CYCCNT;
    for (volatile int i = 0; i < 16; i++) {
    }
    return CM_DWT_CYCCNT != a;
}
#endif

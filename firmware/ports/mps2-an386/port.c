/* Port layer for Arm MPS2 AN386 (Cortex-M4F) as emulated by QEMU (`-M mps2-an386`):
 * CMSDK APB UART0 for the protocol, SysTick at the 25 MHz processor clock for ticks
 * (with -icount shift=0 one tick is exactly 40 emulated instructions), semihosting exit. */
#include "mcb_port.h"

#include "../cortex-m/cm_semihost.h"
#include "../cortex-m/cm_systick.h"

#define SYSCLK_HZ 25000000u

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10))
#define UART_STATE_TXFULL 1u
#define UART_STATE_RXFULL 2u

void mcb_port_init(void) {
    UART_BAUDDIV = SYSCLK_HZ / 115200u;
    UART_CTRL = 3u; /* TX and RX enable */
    cm_systick_start();
}

uint64_t mcb_port_ticks(void) { return cm_systick_ticks(); }
uint32_t mcb_port_tick_hz(void) { return SYSCLK_HZ; }
const char *mcb_port_tick_unit(void) { return "systick"; }
uint32_t mcb_port_clock_hz(void) { return SYSCLK_HZ; }

/* Code and data sit in zero-wait-state SSRAM: no cache, nothing to report. */
void mcb_port_hello_fields(void) {}

void mcb_port_write(const char *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TXFULL) {
        }
        UART_DATA = (uint8_t)data[i];
    }
}

int mcb_port_read_byte(void) {
    if (!(UART_STATE & UART_STATE_RXFULL)) return -1;
    return (int)(UART_DATA & 0xFFu);
}

void mcb_port_exit(int status) {
    cm_semihost_exit(status);
    for (;;) {
        __asm volatile("wfi");
    }
}

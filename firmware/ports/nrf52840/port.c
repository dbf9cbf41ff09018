/* Port layer for the nRF52840 (Cortex-M4F at 64 MHz), bare metal, as on the Arduino Nano 33 BLE
 * and in Renode's `arduino_nano_33_ble` platform.
 *
 * - UART: UARTE0 with EasyDMA on the pins the Nano 33 BLE labels TX (D1 = P1.03) and RX
 *   (D0 = P1.10) (arduino/ArduinoCore-mbed variants/ARDUINO_NANO33BLE/variant.cpp), 115200 8N1.
 *   EasyDMA reads only RAM, so output goes through a RAM bounce buffer. Input is received one
 *   byte per DMA transfer (RXD.MAXCNT = 1) and polled: the host sends commands only after the
 *   device said `ready` (docs/protocol.md), when the core polls continuously.
 * - Ticks: DWT CYCCNT at the 64 MHz core clock when it counts (a real board; Renode once the
 *   generated script adds Miscellaneous.DWT), else TIMER1 at 16 MHz in 32-bit mode. Both are
 *   extended to 64 bits on read, which holds while reads are less than one wrap apart
 *   (CYCCNT: 67 s, TIMER1: 268 s); the core reads around every timed run.
 * - Exit: nothing to exit to (no semihosting: BKPT without a debugger is a HardFault on a board),
 *   so the core parks; the host stops the emulator.
 */
#include "mcb_port.h"
#include "mcb_protocol.h"
#include "nrf52840_nvmc.h"

#include "../cortex-m/cm_dwt.h"

#define CORE_CLOCK_HZ 64000000u
#define TIMER_HZ 16000000u

#define REG(addr) (*(volatile uint32_t *)(addr))

/* Cortex-M system control block: the vector table address. */
#define SCB_VTOR REG(0xE000ED08u)

/* CLOCK: start the 64 MHz crystal (HFXO) so UART baud rate and TIMER are crystal-accurate. */
#define CLOCK_BASE 0x40000000u
#define CLOCK_TASKS_HFCLKSTART REG(CLOCK_BASE + 0x000)
#define CLOCK_EVENTS_HFCLKSTARTED REG(CLOCK_BASE + 0x100)

/* GPIO port 1 (P1): the idle level of TX before the UARTE takes the pin. */
#define P1_BASE 0x50000300u
#define P1_OUTSET REG(P1_BASE + 0x508)
#define P1_DIRSET REG(P1_BASE + 0x518)
#define P1_PIN_CNF(n) REG(P1_BASE + 0x700 + 4u * (n))

/* UARTE0 (EasyDMA). */
#define UARTE0_BASE 0x40002000u
#define UARTE_TASKS_STARTRX REG(UARTE0_BASE + 0x000)
#define UARTE_TASKS_STARTTX REG(UARTE0_BASE + 0x008)
#define UARTE_EVENTS_ENDRX REG(UARTE0_BASE + 0x110)
#define UARTE_EVENTS_ENDTX REG(UARTE0_BASE + 0x120)
#define UARTE_EVENTS_ERROR REG(UARTE0_BASE + 0x124)
#define UARTE_ERRORSRC REG(UARTE0_BASE + 0x480)
#define UARTE_ENABLE REG(UARTE0_BASE + 0x500)
#define UARTE_PSEL_RTS REG(UARTE0_BASE + 0x508)
#define UARTE_PSEL_TXD REG(UARTE0_BASE + 0x50C)
#define UARTE_PSEL_CTS REG(UARTE0_BASE + 0x510)
#define UARTE_PSEL_RXD REG(UARTE0_BASE + 0x514)
#define UARTE_BAUDRATE REG(UARTE0_BASE + 0x524)
#define UARTE_RXD_PTR REG(UARTE0_BASE + 0x534)
#define UARTE_RXD_MAXCNT REG(UARTE0_BASE + 0x538)
#define UARTE_TXD_PTR REG(UARTE0_BASE + 0x544)
#define UARTE_TXD_MAXCNT REG(UARTE0_BASE + 0x548)
#define UARTE_CONFIG REG(UARTE0_BASE + 0x56C)
#define UARTE_ENABLE_UARTE 8u
#define UARTE_BAUD_115200 0x01D7E000u
#define PSEL_DISCONNECTED 0xFFFFFFFFu
#define PSEL(port, pin) (((uint32_t)(port) << 5) | (uint32_t)(pin)) /* CONNECT bit 31 = 0 */

/* Nano 33 BLE header pins: D1/TX = P1.03, D0/RX = P1.10. */
#define TX_PORT 1u
#define TX_PIN 3u
#define RX_PORT 1u
#define RX_PIN 10u

/* TIMER1: 32-bit free-running at 16 MHz, read through a capture into CC[0]. */
#define TIMER1_BASE 0x40009000u
#define TIMER_TASKS_START REG(TIMER1_BASE + 0x000)
#define TIMER_TASKS_CLEAR REG(TIMER1_BASE + 0x00C)
#define TIMER_TASKS_CAPTURE0 REG(TIMER1_BASE + 0x040)
#define TIMER_MODE REG(TIMER1_BASE + 0x504)
#define TIMER_BITMODE REG(TIMER1_BASE + 0x508)
#define TIMER_PRESCALER REG(TIMER1_BASE + 0x510)
#define TIMER_CC0 REG(TIMER1_BASE + 0x540)
#define TIMER_BITMODE_32 3u

/* Bounded waits: a peripheral that never answers must not hang the image silently. */
#define HFCLK_WAIT_LOOPS 2000000u
#define TX_WAIT_LOOPS 10000000u

#define TX_CHUNK 128u

extern void (*const mcb_vectors[])(void); /* cm_startup.c */

static uint8_t tx_buffer[TX_CHUNK];
static volatile uint8_t rx_byte;
static int use_dwt;
static uint32_t last_low;
static uint32_t high_word;

static void start_hfxo(void) {
    CLOCK_EVENTS_HFCLKSTARTED = 0;
    CLOCK_TASKS_HFCLKSTART = 1;
    for (uint32_t i = 0; i < HFCLK_WAIT_LOOPS && !CLOCK_EVENTS_HFCLKSTARTED; i++) {
    }
    /* Without the crystal the internal 64 MHz RC oscillator keeps running: still usable. */
}

static void uart_init(void) {
    /* TX idles high as an output, RX is a connected input (nRF52840 PS, UARTE pin config). */
    P1_OUTSET = 1u << TX_PIN;
    P1_DIRSET = 1u << TX_PIN;
    P1_PIN_CNF(RX_PIN) = 0u; /* input, input buffer connected, no pull */
    UARTE_ENABLE = 0;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_PSEL_TXD = PSEL(TX_PORT, TX_PIN);
    UARTE_PSEL_RXD = PSEL(RX_PORT, RX_PIN);
    UARTE_BAUDRATE = UARTE_BAUD_115200;
    UARTE_CONFIG = 0; /* 8N1, no flow control */
    UARTE_ENABLE = UARTE_ENABLE_UARTE;
    /* Arm the receiver for one byte; mcb_port_read_byte re-arms it after each. */
    UARTE_EVENTS_ENDRX = 0;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_byte;
    UARTE_RXD_MAXCNT = 1;
    UARTE_TASKS_STARTRX = 1;
}

static void timer1_start(void) {
    TIMER_MODE = 0; /* timer */
    TIMER_BITMODE = TIMER_BITMODE_32;
    TIMER_PRESCALER = 0; /* 16 MHz / 2^0 */
    TIMER_TASKS_CLEAR = 1;
    TIMER_TASKS_START = 1;
}

void mcb_port_init(void) {
    /* The image may be linked elsewhere than 0x0 (behind a bootloader): use its own vectors. */
    SCB_VTOR = (uint32_t)(uintptr_t)mcb_vectors;
    nrf52840_icache_configure();
    start_hfxo();
    uart_init();
    cm_dwt_start();
    use_dwt = cm_dwt_counts();
    if (!use_dwt) timer1_start();
    last_low = 0;
    high_word = 0;
}

static uint32_t read_low(void) {
    if (use_dwt) return CM_DWT_CYCCNT;
    TIMER_TASKS_CAPTURE0 = 1;
    return TIMER_CC0;
}

uint64_t mcb_port_ticks(void) {
    uint32_t low = read_low();
    if (low < last_low) high_word++; /* wrapped since the previous read */
    last_low = low;
    return ((uint64_t)high_word << 32) | low;
}

uint32_t mcb_port_tick_hz(void) { return use_dwt ? CORE_CLOCK_HZ : TIMER_HZ; }
const char *mcb_port_tick_unit(void) { return use_dwt ? "cycles" : "timer"; }
uint32_t mcb_port_clock_hz(void) { return CORE_CLOCK_HZ; }

void mcb_port_hello_fields(void) { mcb_rec_str("icache", nrf52840_icache_state()); }

void mcb_port_write(const char *data, size_t len) {
    while (len > 0) {
        size_t n = len < TX_CHUNK ? len : TX_CHUNK;
        for (size_t i = 0; i < n; i++) tx_buffer[i] = (uint8_t)data[i];
        UARTE_EVENTS_ENDTX = 0;
        UARTE_TXD_PTR = (uint32_t)(uintptr_t)tx_buffer;
        UARTE_TXD_MAXCNT = (uint32_t)n;
        UARTE_TASKS_STARTTX = 1;
        for (uint32_t i = 0; i < TX_WAIT_LOOPS && !UARTE_EVENTS_ENDTX; i++) {
        }
        data += n;
        len -= n;
    }
}

int mcb_port_read_byte(void) {
    if (UARTE_EVENTS_ERROR) {
        /* Overrun, framing or break: clear it; the command's CRC catches a damaged line. */
        UARTE_ERRORSRC = UARTE_ERRORSRC;
        UARTE_EVENTS_ERROR = 0;
    }
    if (!UARTE_EVENTS_ENDRX) return -1;
    UARTE_EVENTS_ENDRX = 0;
    int byte = rx_byte;
    UARTE_TASKS_STARTRX = 1;
    return byte;
}

void mcb_port_exit(int status) {
    (void)status;
    __asm volatile("cpsid i");
    for (;;) {
        __asm volatile("wfi");
    }
}

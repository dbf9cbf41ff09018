/* Port layer for Arduino boards on the Arduino mbed core (Nano 33 BLE: nRF52840, Cortex-M4F at
 * 64 MHz). The protocol runs over `Serial`, which on this board is USB CDC; ticks are DWT
 * CYCCNT core cycles, or micros() (tick_unit=timer, 1 MHz) if the cycle counter does not count.
 *
 * The benchmark core runs in its own RTOS thread on a static stack this file owns, so the
 * `mem` record's stack figures measure exactly that stack (mbed's main-thread stack is not
 * visible to the sketch). setup() starts it; loop() only sleeps. */
#include <Arduino.h>
#include <mbed.h>

#include "../cortex-m/cm_dwt.h"
#include "mcb_port.h"
#include "mcb_protocol.h"
#include "mcb_workload.h"
#if defined(NRF52840_XXAA)
#include "../nrf52840/nrf52840_nvmc.h"
#endif

#ifndef MCB_ARDUINO_STACK_BYTES
#define MCB_ARDUINO_STACK_BYTES 16384
#endif
#ifndef MCB_BAUDRATE
#define MCB_BAUDRATE 115200 /* ignored by USB CDC, kept for UART-bridged boards */
#endif

/* RTX keeps a magic word at the bottom of a thread stack and checks it on every switch:
 * stack painting starts 16 bytes above it. */
#define MCB_XSTR(x) #x
#define MCB_STR(x) MCB_XSTR(x)

extern "C" {
__attribute__((aligned(8))) uint32_t mcb_arduino_stack[MCB_ARDUINO_STACK_BYTES / 4];
}
/* The core's stack symbols, bound to the thread stack above (see mcb_port.h). */
__asm__(
    ".global __mcb_stack_bottom\n"
    ".set __mcb_stack_bottom, mcb_arduino_stack + 16\n"
    ".global __mcb_stack_top\n"
    ".set __mcb_stack_top, mcb_arduino_stack + " MCB_STR(MCB_ARDUINO_STACK_BYTES) "\n");

static bool use_dwt;
static uint32_t last_low;
static uint64_t high_word;

extern "C" void mcb_port_init(void) {
  Serial.begin(MCB_BAUDRATE);
  /* USB CDC: what is written before the host opens the port (DTR) is lost, so wait for it.
   * The board waits as long as it takes: a benchmark without a listener is worth nothing. */
  while (!Serial) {
    rtos::ThisThread::sleep_for(std::chrono::milliseconds(10));
  }
  /* TRCENA, then CYCCNTENA; checked, because a counter that does not advance would report
   * every run as 0 cycles. */
  cm_dwt_start();
  use_dwt = cm_dwt_counts();
  last_low = 0;
  high_word = 0;
#if defined(NRF52840_XXAA)
  nrf52840_icache_configure();
#endif
}

/* Both counters are 32 bits (CYCCNT wraps after 67 s at 64 MHz, micros() after 71 min);
 * widen them. Read at least once per run and per operator, far more often than they wrap. */
extern "C" uint64_t mcb_port_ticks(void) {
  uint32_t now = use_dwt ? CM_DWT_CYCCNT : (uint32_t)micros();
  if (now < last_low) high_word += (uint64_t)1 << 32;
  last_low = now;
  return high_word | now;
}

extern "C" uint32_t mcb_port_tick_hz(void) { return use_dwt ? SystemCoreClock : 1000000u; }
extern "C" const char *mcb_port_tick_unit(void) { return use_dwt ? "cycles" : "timer"; }
extern "C" uint32_t mcb_port_clock_hz(void) { return SystemCoreClock; }

extern "C" void mcb_port_hello_fields(void) {
#if defined(NRF52840_XXAA)
  mcb_rec_str("icache", nrf52840_icache_state());
#endif
}

extern "C" void mcb_port_write(const char *data, size_t len) {
  Serial.write(reinterpret_cast<const uint8_t *>(data), len);
}

extern "C" int mcb_port_read_byte(void) {
  if (Serial.available() <= 0) {
    /* Let the USB stack and idle thread run while the core polls for commands. */
    rtos::ThisThread::yield();
    return -1;
  }
  return Serial.read();
}

extern "C" void mcb_port_exit(int status) {
  (void)status;
  Serial.flush();
  for (;;) rtos::ThisThread::sleep_for(std::chrono::milliseconds(1000)); /* park; USB stays up */
}

static void run_core(void) { mcb_main(); }

static rtos::Thread core_thread(osPriorityNormal, sizeof mcb_arduino_stack,
                                reinterpret_cast<unsigned char *>(mcb_arduino_stack), "mcubench");

void setup() { core_thread.start(mbed::callback(run_core)); }

void loop() { rtos::ThisThread::sleep_for(std::chrono::milliseconds(1000)); }

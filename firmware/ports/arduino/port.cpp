/* Port layer for Arduino boards on the Arduino mbed core (Nano 33 BLE: nRF52840, Cortex-M4F at
 * 64 MHz). The protocol runs over `Serial`, which on this board is USB CDC; ticks are DWT
 * CYCCNT core cycles.
 *
 * The benchmark core runs in its own RTOS thread on a static stack this file owns, so the
 * `mem` record's stack figures measure exactly that stack (mbed's main-thread stack is not
 * visible to the sketch). setup() starts it; loop() only sleeps. */
#include <Arduino.h>
#include <mbed.h>

#include "../cortex-m/cm_dwt.h"
#include "mcb_port.h"
#include "mcb_workload.h"

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

static uint32_t last_cycles;
static uint64_t high_cycles;

extern "C" void mcb_port_init(void) {
  Serial.begin(MCB_BAUDRATE);
  /* USB CDC: what is written before the host opens the port (DTR) is lost, so wait for it.
   * The board waits as long as it takes: a benchmark without a listener is worth nothing. */
  while (!Serial) {
    rtos::ThisThread::sleep_for(std::chrono::milliseconds(10));
  }
  cm_dwt_start();
}

/* CYCCNT is 32 bits (67 s at 64 MHz); widen it. Called at least once per run and per
 * operator, far more often than it wraps. */
extern "C" uint64_t mcb_port_ticks(void) {
  uint32_t now = CM_DWT_CYCCNT;
  if (now < last_cycles) high_cycles += (uint64_t)1 << 32;
  last_cycles = now;
  return high_cycles | now;
}

extern "C" uint32_t mcb_port_tick_hz(void) { return SystemCoreClock; }
extern "C" const char *mcb_port_tick_unit(void) { return "cycles"; }
extern "C" uint32_t mcb_port_clock_hz(void) { return SystemCoreClock; }

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

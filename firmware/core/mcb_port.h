/* The whole porting surface of the benchmark core: a board provides these few functions
 * (firmware/ports/<board>/port.c) and a startup + linker script. Nothing else in the core
 * touches hardware. */
#ifndef MCB_PORT_H
#define MCB_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, UART and the tick source; called once from main() before anything else. */
void mcb_port_init(void);

/* Monotonic tick counter, never wrapping in practice (64 bits). */
uint64_t mcb_port_ticks(void);

/* What one tick is: its frequency and the unit the host should report it in.
 * unit is one of "cycles" (DWT CYCCNT at the core clock), "systick" (SysTick at the
 * processor clock), "timer" (a peripheral timer at tick_hz). */
uint32_t mcb_port_tick_hz(void);
const char *mcb_port_tick_unit(void);

/* Core clock in Hz as the port configured it. */
uint32_t mcb_port_clock_hz(void);

/* Blocking byte output and non-blocking input (-1 when nothing is waiting). */
void mcb_port_write(const char *data, size_t len);
int mcb_port_read_byte(void);

/* Board state that changes what a measurement means, appended to the `hello` record with
 * mcb_rec_str/mcb_rec_u64 (docs/protocol.md), e.g. `icache=off`. May append nothing. */
void mcb_port_hello_fields(void);

/* Ends the program: under an emulator this exits it with `status`; on a board it parks. */
void mcb_port_exit(int status) __attribute__((noreturn));

/* Stack region from the linker script, for stack painting. */
extern uint32_t __mcb_stack_bottom; /* lowest address */
extern uint32_t __mcb_stack_top;    /* initial SP */

#ifdef __cplusplus
}
#endif
#endif

/* Region markers for the cycle-estimate plugin (docs/cycle-estimate.md, "Regions").
 *
 * A marker is two instructions: a reserved Thumb-2 hint (0xF3AF 0x80B1 = begin,
 * 0xF3AF 0x80B2 = end), which every Cortex-M executes as a NOP, followed by
 * `LDRB.W IP, [Rn, #0]` whose address is the region id (0..65535, so it reads a harmless
 * byte of the vector table / code at the bottom of the address space). The plugin sees the
 * hint at translation and reads the id from the load's address at execution, so ids may
 * be computed at run time (e.g. an operator index). Both instructions are costed 0 cycles
 * by the estimate. Regions nest; begin/end must pair.
 *
 * Conventional ids used by the benchmark core: 1 = setup, 2 = timed loop (all runs),
 * 0x100 + i = operator i of the timed run. */
#ifndef MCB_REGION_H
#define MCB_REGION_H

#include <stdint.h>

#define MCB_REGION_SETUP 1u
#define MCB_REGION_TIMED 2u
#define MCB_REGION_OP_BASE 0x100u

#if defined(__thumb2__)
static inline void mcb_region_begin(uint32_t id)
{
    __asm volatile(".inst.w 0xf3af80b1\n\tldrb.w ip, [%0, #0]" : : "r"(id & 0xffffu) : "ip", "memory");
}

static inline void mcb_region_end(uint32_t id)
{
    __asm volatile(".inst.w 0xf3af80b2\n\tldrb.w ip, [%0, #0]" : : "r"(id & 0xffffu) : "ip", "memory");
}
#else
/* Host builds (kernel tests): no plugin watches, markers vanish. */
static inline void mcb_region_begin(uint32_t id) { (void)id; }
static inline void mcb_region_end(uint32_t id) { (void)id; }
#endif

#endif

/* Regions with ids computed at run time, nested in a parent region: what the benchmark
 * core does for "timed loop" and per-operator figures. */
#include <stdint.h>

#include "mcb_region.h"

volatile uint32_t mb_sink;

__attribute__((noinline)) static void op_body(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        mb_sink += i;
}

/* heavy.c, only in the `loadtest` image */
extern void mb_heavy(void) __attribute__((weak));

void run_dynamic_regions(void)
{
    mcb_region_begin(MCB_REGION_TIMED);
    for (uint32_t op = 0; op < 3; op++) {
        mcb_region_begin(MCB_REGION_OP_BASE + op);
        op_body(10 * (op + 1));
        mcb_region_end(MCB_REGION_OP_BASE + op);
    }
    mcb_region_end(MCB_REGION_TIMED);
    if (mb_heavy)
        mb_heavy();
}

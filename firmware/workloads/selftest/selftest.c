/* Built-in workload that misbehaves on purpose, to check that the harness reports a hang or a
 * fault clearly and cleans up: MCB_SELFTEST_MODE 0 = a short busy loop (behaves), 1 = never
 * returns from run(), 2 = faults (load from an unmapped address), 3 = setup fails. */
#include <stdint.h>

#include "mcb_workload.h"

#ifndef MCB_SELFTEST_MODE
#define MCB_SELFTEST_MODE 0
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

static volatile uint32_t sink;

static int selftest_setup(void) { return MCB_SELFTEST_MODE == 3 ? -1 : 0; }

static int selftest_run(void) {
    if (MCB_SELFTEST_MODE == 1) {
        for (;;) sink++;
    }
    if (MCB_SELFTEST_MODE == 2) {
        /* Nothing is mapped at the top of the address space on the boards we support. */
        sink = *(volatile uint32_t *)0xFFFFFFF0u;
    }
    for (int i = 0; i < 100; i++) sink += (uint32_t)i;
    return 0;
}

const mcb_workload_t mcb_workload = {
    .name = "selftest",
    .runtime = "builtin",
    .setup = selftest_setup,
    .run = selftest_run,
    .params = "mode=" STR(MCB_SELFTEST_MODE),
};

/* Built-in workload: an int8 dot product of MCB_DOT_N elements (int32 accumulate), the
 * inner loop of every quantized layer. Its cost is linear in N, which the end-to-end tests
 * use to check that the harness measures what runs. */
#include <stdint.h>

#include "mcb_workload.h"

#ifndef MCB_DOT_N
#define MCB_DOT_N 1024
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

static int8_t vec_a[MCB_DOT_N];
static int8_t vec_b[MCB_DOT_N];
static int32_t result;

static int dot_setup(void) {
    /* A fixed linear congruential sequence: the same inputs on every board and every run. */
    uint32_t state = 12345u;
    for (int i = 0; i < MCB_DOT_N; i++) {
        state = state * 1664525u + 1013904223u;
        vec_a[i] = (int8_t)(state >> 24);
        state = state * 1664525u + 1013904223u;
        vec_b[i] = (int8_t)(state >> 24);
    }
    return 0;
}

static int dot_run(void) {
    int32_t acc = 0;
    for (int i = 0; i < MCB_DOT_N; i++) acc += (int32_t)vec_a[i] * (int32_t)vec_b[i];
    result = acc;
    return 0;
}

static uint8_t *dot_input(size_t *len) {
    *len = sizeof vec_a;
    return (uint8_t *)vec_a;
}

static const uint8_t *dot_output(size_t *len) {
    *len = sizeof result;
    return (const uint8_t *)&result;
}

const mcb_workload_t mcb_workload = {
    .name = "dot_int8",
    .runtime = "builtin",
    .setup = dot_setup,
    .run = dot_run,
    .input = dot_input,
    .output = dot_output,
    .params = "n=" STR(MCB_DOT_N),
};

/* A longer, loop-heavy workload for measuring the plugin's wall-time cost (not for cycle
 * checks): an int8 matrix-vector product with requantisation, like a small dense layer,
 * repeated. Linked only into the `loadtest` image. */
#include <stdint.h>

#include "mcb_region.h"

#define ROWS 64
#define COLS 256
#define REPEATS 3000

static int8_t weights[ROWS][COLS];
static int8_t input[COLS];
static int32_t acc_out[ROWS];
volatile int32_t mb_heavy_sink;

void mb_heavy(void)
{
    uint32_t seed = 12345u;
    mcb_region_begin(MCB_REGION_SETUP);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            seed = seed * 1664525u + 1013904223u;
            weights[r][c] = (int8_t)(seed >> 24);
        }
    for (int c = 0; c < COLS; c++)
        input[c] = (int8_t)(c * 7);
    mcb_region_end(MCB_REGION_SETUP);

    mcb_region_begin(3);
    for (int rep = 0; rep < REPEATS; rep++) {
        for (int r = 0; r < ROWS; r++) {
            int32_t acc = 0;
            for (int c = 0; c < COLS; c++)
                acc += weights[r][c] * input[c];
            acc_out[r] = (acc * 1717) >> 16;
        }
        input[rep & (COLS - 1)] ^= (int8_t)acc_out[rep & (ROWS - 1)];
    }
    mcb_region_end(3);
    mb_heavy_sink = acc_out[0];
}

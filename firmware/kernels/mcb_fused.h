/* Row-by-row fused residual blocks of the AOT runtime: out = ADD(x, conv2(conv1(x))).
 *
 * The compiler (host/mcubench/runtimes/aot/fuse.py) works the row schedule out and emits it
 * as two tables of windows (first input row, rows inside the input, rows of padding above).
 * Per output row r: the rows of y = conv1(x) that conv2's window for row r needs and that are
 * not yet in the slab are computed into it (rows no window needs any more are dropped from its
 * front first), conv2's row r goes to a row buffer, and out[r] = ADD(x[r], z[r]). `out` may be
 * `x` itself when the compiler found that no later row of y reads x row r. */
#ifndef MCB_FUSED_H
#define MCB_FUSED_H

#include <stdint.h>

#include "mcb_kernels.h"
#include "mcb_sparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One output row of a convolution (the parameters of the whole-tensor call) from a window of
 * `rows` input rows starting at `in`, `pad_top` rows of padding above it. */
typedef void (*mcbk_rows_fn)(const void *params, int32_t rows, int32_t pad_top, const int8_t *in, int8_t *out,
                             int8_t *scratch);
void mcbk_conv2d_rows(const void *params, int32_t rows, int32_t pad_top, const int8_t *in, int8_t *out,
                      int8_t *scratch);
void mcbk_sparse_conv_rows(const void *params, int32_t rows, int32_t pad_top, const int8_t *in, int8_t *out,
                           int8_t *scratch);

typedef struct mcbk_residual {
    const void *conv1, *conv2;       /* parameter structs of the whole-tensor calls */
    mcbk_rows_fn conv1_rows, conv2_rows;
    const mcbk_binary_t *add;        /* the ADD of equal shapes (flat), run on one row at a time */
    int32_t x_first;                 /* 1: ADD(x, z); 0: ADD(z, x) */
    int32_t rows;                    /* rows of x, z and out */
    int32_t x_row, y_row;            /* bytes per row of x (= z = out) and of y */
    int32_t slab_rows;               /* rows of y held at once */
    const int16_t *y_windows;        /* per row of y: x rows conv1 reads (first, rows, pad_top) */
    const int16_t *out_windows;      /* per output row: y rows conv2 reads (first, rows, pad_top) */
} mcbk_residual_t;

/* work: slab_rows * y_row bytes of slab, then x_row bytes for conv2's row; scratch: the
 * convolutions' border windows. */
void mcbk_residual(const mcbk_residual_t *p, const int8_t *x, int8_t *out, int8_t *work, int8_t *scratch);

#ifdef __cplusplus
}
#endif
#endif

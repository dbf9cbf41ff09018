/* Block-sparse int8 kernel of the AOT runtime: CONV_2D (no horizontal dilation) and
 * FULLY_CONNECTED whose weights hold whole zero blocks of 4 input bytes x 4 output channels.
 *
 * The compiler cuts the dense layout of mcb_kernels.h (groups of 4 output channels, each kernel
 * row's input bytes interleaved 4 at a time: one 16-byte block per 4 bytes of a kernel row)
 * into the blocks that hold a non-zero weight and drops the rest. Per output group: `nnz[g]`
 * blocks, each with its 16 weight bytes and the byte offset of its 4 input bytes from the
 * window's origin: `offsets` for a pixel whose window lies inside the input (read in place),
 * `border_offsets` for one whose window is gathered into `scratch` (k_h * row_pad bytes, the
 * input zero point where the window leaves the input). The input offset is folded into the
 * bias with the full weight sums (a dropped block's weights are zero and add nothing), so the
 * outputs equal the dense kernel's and TFLM's bit for bit. */
#ifndef MCB_SPARSE_H
#define MCB_SPARSE_H

#include <stdint.h>

#include "mcb_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcbk_sparse {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, pad_top, pad_left;
    int32_t row_pad;            /* bytes per kernel row of the gathered window */
    int32_t in_zp, out_offset, act_min, act_max;
    int32_t fast_rq;            /* 1: the short requantization is exact (checked at compile time) */
    const uint16_t *nnz;        /* non-zero blocks per group of 4 output channels */
    const uint16_t *offsets;    /* per block: byte offset of its 4 input bytes, window read in place */
    const uint16_t *border_offsets; /* the same in the gathered window */
    const int8_t *weights;      /* per block: 16 bytes, 4 channels x 4 inputs interleaved */
    const int32_t *bias;        /* folded; one per channel of the padded groups */
    const mcbk_rq_t *rq;        /* one per channel of the padded groups */
} mcbk_sparse_t;

void mcbk_sparse_conv(const mcbk_sparse_t *p, const int8_t *in, int8_t *out, int8_t *scratch);

#ifdef __cplusplus
}
#endif

#endif

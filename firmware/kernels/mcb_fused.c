/* Row-by-row fused residual blocks (see mcb_fused.h). */
#include "mcb_fused.h"

#include <string.h>

void mcbk_conv2d_rows(const void *params, int32_t rows, int32_t pad_top, const int8_t *in, int8_t *out,
                      int8_t *scratch) {
    mcbk_conv_t p = *(const mcbk_conv_t *)params;
    p.in_h = rows;
    p.pad_top = pad_top;
    p.out_h = 1;
    mcbk_conv2d(&p, in, out, scratch);
}

void mcbk_sparse_conv_rows(const void *params, int32_t rows, int32_t pad_top, const int8_t *in, int8_t *out,
                           int8_t *scratch) {
    mcbk_sparse_t p = *(const mcbk_sparse_t *)params;
    p.in_h = rows;
    p.pad_top = pad_top;
    p.out_h = 1;
    mcbk_sparse_conv(&p, in, out, scratch);
}

void mcbk_residual(const mcbk_residual_t *p, const int8_t *x, int8_t *out, int8_t *work, int8_t *scratch) {
    const int32_t x_row = p->x_row, y_row = p->y_row;
    int8_t *slab = work, *z = work + (size_t)p->slab_rows * y_row;
    mcbk_binary_t add = *p->add;
    add.size = x_row;
    int32_t first = 0, next = 0; /* the slab holds rows [first, next) of y */
    for (int32_t r = 0; r < p->rows; ++r, out += x_row) {
        const int16_t *w = p->out_windows + 3 * r;
        const int32_t lo = w[0], hi = w[0] + w[1];
        if (lo > first) {
            if (next > lo) memmove(slab, slab + (size_t)(lo - first) * y_row, (size_t)(next - lo) * y_row);
            else next = lo;
            first = lo;
        }
        for (; next < hi; ++next) {
            const int16_t *v = p->y_windows + 3 * next;
            p->conv1_rows(p->conv1, v[1], v[2], x + (size_t)v[0] * x_row, slab + (size_t)(next - first) * y_row,
                          scratch);
        }
        p->conv2_rows(p->conv2, w[1], w[2], slab, z, scratch);
        const int8_t *xr = x + (size_t)r * x_row;
        if (p->x_first) mcbk_add(&add, xr, z, out);
        else mcbk_add(&add, z, xr, out);
    }
}

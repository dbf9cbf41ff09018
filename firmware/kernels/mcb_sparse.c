/* Block-sparse CONV_2D / FULLY_CONNECTED. See mcb_sparse.h for the contract.
 *
 * Requantization and the clamped stores are the dense kernels' own (mcb_fixedpoint.h). */
#include "mcb_sparse.h"
#include "mcb_fixedpoint.h"

#include <string.h>

#if MCBK_USE_DSP
#include <arm_acle.h>
#endif

static inline int8_t sp_clamp(int32_t v, int32_t lo, int32_t hi) {
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* acc[j] += the n blocks of one group: input word at x + offsets[i], 16 weight bytes. */
#if MCBK_USE_DSP
#define MCBK_SP_STEP(A, W)                            \
    "sxtb16 %[t], %[" W "]\n\t"                      \
    "sxtb16 %[" W "], %[" W "], ror #8\n\t"          \
    "smlad %[" A "], %[xa], %[t], %[" A "]\n\t"      \
    "smlad %[" A "], %[xb], %[" W "], %[" A "]\n\t"

/* One kept block: its offset, then single loads back to back. A load pipelines after a load
 * unless its address register was written by it (post-increment writes the base: docs/
 * cycle-estimate.md), so the weight pointer moves on the second load and the input load
 * (whose offset came two loads earlier) follows. 26 cycles a block. */
#define MCBK_SP_BLOCK                                \
    "ldrh %[t], [%[off]], #2\n\t"                 \
    "ldr %[w1], [%[w], #4]\n\t"                   \
    "ldr %[w0], [%[w]], #16\n\t"                  \
    "ldr %[xb], [%[x], %[t]]\n\t"                 \
    "sxtb16 %[xa], %[xb]\n\t"                     \
    "sxtb16 %[xb], %[xb], ror #8\n\t"             \
    MCBK_SP_STEP("c0", "w0")                         \
    MCBK_SP_STEP("c1", "w1")                         \
    "ldr %[w0], [%[w], #-8]\n\t"                  \
    "ldr %[w1], [%[w], #-4]\n\t"                  \
    MCBK_SP_STEP("c2", "w0")                         \
    MCBK_SP_STEP("c3", "w1")

static inline void sparse_group(const int8_t *x, const uint16_t **op, const int8_t **wp, int32_t n,
                                int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    int32_t c0 = *a0, c1 = *a1, c2 = *a2, c3 = *a3;
    const int8_t *w = *wp;
    const uint16_t *off = *op;
    uint32_t xa, xb, w0, w1, t;
    /* Two blocks per iteration (n > 0); an odd count enters at the second. */
    __asm__ volatile(
        MCBK_TWO_STEP_LOOP(MCBK_SP_BLOCK)
        : [c0] "+r"(c0), [c1] "+r"(c1), [c2] "+r"(c2), [c3] "+r"(c3), [off] "+r"(off), [w] "+r"(w),
          [n] "+r"(n), [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1), [t] "=&r"(t)
        : [x] "r"(x)
        : "cc", "memory");
    *wp = w;
    *op = off;
    *a0 = c0; *a1 = c1; *a2 = c2; *a3 = c3;
}
#else
static inline void sparse_group(const int8_t *x, const uint16_t **op, const int8_t **wp, int32_t n,
                                int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    int32_t c0 = *a0, c1 = *a1, c2 = *a2, c3 = *a3;
    const int8_t *w = *wp;
    const uint16_t *off = *op;
    while (n--) {
        const int8_t *xi = x + *off++;
        const int32_t x0 = xi[0], x1 = xi[1], x2 = xi[2], x3 = xi[3];
        c0 += w[0] * x0 + w[1] * x1 + w[2] * x2 + w[3] * x3;
        c1 += w[4] * x0 + w[5] * x1 + w[6] * x2 + w[7] * x3;
        c2 += w[8] * x0 + w[9] * x1 + w[10] * x2 + w[11] * x3;
        c3 += w[12] * x0 + w[13] * x1 + w[14] * x2 + w[15] * x3;
        w += 16;
    }
    *wp = w;
    *op = off;
    *a0 = c0; *a1 = c1; *a2 = c2; *a3 = c3;
}
#endif

/* A border pixel's window gathered row by row into scratch (k_h rows of row_pad bytes), the
 * input zero point where it leaves the input: gather_window() of mcb_kernels.c without
 * horizontal dilation (the sparse kernel is not chosen for it). */
static void sp_gather(const mcbk_sparse_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0, int8_t *scratch) {
    const int32_t C = p->in_c, W = p->in_w, rp = p->row_pad;
    const int8_t zp = (int8_t)p->in_zp;
    const int32_t kx0 = ix0 < 0 ? -ix0 : 0;
    int32_t kx1 = ix0 + p->k_w > W ? W - ix0 : p->k_w;
    if (kx1 < kx0) kx1 = kx0;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        int8_t *dst = scratch + (size_t)ky * rp;
        const int32_t iy = iy0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h || kx0 >= kx1) {
            memset(dst, zp, (size_t)rp);
            continue;
        }
        if (kx0 > 0) memset(dst, zp, (size_t)kx0 * C);
        memcpy(dst + (size_t)kx0 * C, in_b + ((size_t)iy * W + (ix0 + kx0)) * C, (size_t)(kx1 - kx0) * C);
        memset(dst + (size_t)kx1 * C, zp, (size_t)(rp - kx1 * C));
    }
}

/* All groups of one output pixel. Inlined twice, with `fast` a constant, so each copy's group
 * loop carries no requantization test; the full groups run without the tail test, the last
 * partial group (out_c not a multiple of 4) after them. */
static inline __attribute__((always_inline)) void sp_pixel_groups(const mcbk_sparse_t *p, const int8_t *x,
                                                                  const uint16_t *off, int8_t *out, int fast,
                                                                  uint32_t lo4, uint32_t hi4) {
    const int32_t OC = p->out_c, full_groups = OC >> 2, zp = p->out_offset, lo = p->act_min, hi = p->act_max;
    const int8_t *w = p->weights;
    const uint16_t *nnz = p->nnz, *nnz_end = p->nnz + full_groups;
    const int32_t *bias = p->bias;
    const mcbk_rq_t *rq = p->rq;
    int8_t *og = out;
    for (; nnz < nnz_end; ++nnz, bias += 4, rq += 4, og += 4) {
        int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
        const int32_t n = *nnz;
        if (n) sparse_group(x, &off, &w, n, &a0, &a1, &a2, &a3);
        store4(og, requant(a0, &rq[0], fast, zp), requant(a1, &rq[1], fast, zp),
                  requant(a2, &rq[2], fast, zp), requant(a3, &rq[3], fast, zp), lo4, hi4, lo, hi);
    }
    if (OC & 3) {
        int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
        const int32_t n = *nnz;
        if (n) sparse_group(x, &off, &w, n, &a0, &a1, &a2, &a3);
        const int32_t acc[4] = {a0, a1, a2, a3};
        for (int32_t j = 0; j < (OC & 3); ++j) og[j] = sp_clamp(requant(acc[j], &rq[j], fast, zp), lo, hi);
    }
}

void mcbk_sparse_conv(const mcbk_sparse_t *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t C = p->in_c, H = p->in_h, W = p->in_w, OC = p->out_c;
    const int32_t fast = p->fast_rq;
    const uint32_t lo4 = splat4(p->act_min), hi4 = splat4(p->act_max);
    const int32_t span_h = (p->k_h - 1) * p->dil_h, span_w = p->k_w - 1;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + (size_t)b * H * W * C;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_inside = iy0 >= 0 && iy0 + span_h < H;
            for (int32_t ox = 0; ox < p->out_w; ++ox, out += OC) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int8_t *x;
                const uint16_t *off;
                if (rows_inside && ix0 >= 0 && ix0 + span_w < W) {
                    x = in_b + ((size_t)iy0 * W + ix0) * C;
                    off = p->offsets;
                } else {
                    sp_gather(p, in_b, iy0, ix0, scratch);
                    x = scratch;
                    off = p->border_offsets;
                }
                if (fast) {
                    sp_pixel_groups(p, x, off, out, 1, lo4, hi4);
                } else {
                    sp_pixel_groups(p, x, off, out, 0, lo4, hi4);
                }
            }
        }
    }
}

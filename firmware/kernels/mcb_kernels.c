/* Int8 kernels of the AOT runtime. See mcb_kernels.h for the contract.
 *
 * Requantization uses TFLite's double-rounding scheme: a saturating rounding doubling high
 * multiply followed by a rounding right shift (ties away from zero), which is what TFLM's
 * reference kernels compute. Softmax and logistic use the same Q-format fixed-point
 * exp/reciprocal steps (gemmlowp's algorithms), re-implemented here in C99. */
#include "mcb_kernels.h"
#include "mcb_fixedpoint.h"

#include <math.h>
#include <string.h>

#if MCBK_USE_DSP
#include <arm_acle.h>
#endif

const char *mcbk_path(void) { return MCBK_USE_DSP ? "dsp" : "portable"; }

/* ---- fixed-point helpers ------------------------------------------------------------- */


static inline int32_t mbqm(int32_t x, int32_t mult, int32_t shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return rounding_divide_by_pot(sat_rounding_doubling_high_mul(shl_wrap(x, left), mult), right);
}

int32_t mcbk_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift) {
    return mbqm(x, mult, shift);
}

/* x * 2^exponent with saturation (exponent > 0) or rounding (exponent < 0). */
static inline int32_t sat_rounding_mul_by_pot(int32_t x, int exponent) {
    if (exponent < 0) return rounding_divide_by_pot(x, -exponent);
    if (exponent == 0) return x;
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return shl_wrap(x, exponent);
}

static inline int32_t clamp32(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

static inline int32_t read32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* exp(x) for x in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_on_interval_quarter(int32_t a) {
    const int32_t constant_term = 1895147668;    /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28);              /* expand around -1/8 */
    const int32_t x2 = sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = sat_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = rounding_divide_by_pot(x4, 2);
    const int32_t poly = rounding_divide_by_pot(
        sat_rounding_doubling_high_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + sat_rounding_doubling_high_mul(constant_term, x + poly);
}

/* exp(a) for a <= 0 given in Q(integer_bits).(31-integer_bits); result Q0.31. */
static int32_t exp_on_negative_values(int32_t a, int integer_bits) {
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535, 720401, 242}; /* exp(-2^e), e = -2..4 */
    const int frac_bits = 31 - integer_bits;
    const int32_t one_quarter = 1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_quarter = (a & mask) - one_quarter;
    int32_t result = exp_on_interval_quarter(sat_rounding_mul_by_pot(a_mod_quarter_minus_quarter,
                                                                     integer_bits));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    for (int e = -2; e <= 4; ++e) {
        if (integer_bits > e) {
            const int shift = frac_bits + e;
            if (remainder & (1 << shift)) result = sat_rounding_doubling_high_mul(result, barrel[e + 2]);
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -(1 << (36 - integer_bits));
        if (a < clamp) result = 0;
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson, three steps). */
static int32_t one_over_one_plus_x(int32_t a) {
    const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_17 = 1515870810;   /* 48/17 in Q2.29 */
    const int32_t cm32_17 = -1010580540; /* -32/17 in Q2.29 */
    int32_t x = c48_17 + sat_rounding_doubling_high_mul(half_denominator, cm32_17);
    for (int i = 0; i < 3; ++i) {
        const int32_t hdx = sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = (1 << 29) - hdx;
        x = x + sat_rounding_mul_by_pot(sat_rounding_doubling_high_mul(x, one_minus), 2);
    }
    return sat_rounding_mul_by_pot(x, 1);
}

static int count_leading_zeros(uint32_t x) {
    if (x == 0) return 32;
#if defined(__GNUC__)
    return __builtin_clz(x);
#else
    int n = 0;
    while (!(x & 0x80000000u)) { x <<= 1; ++n; }
    return n;
#endif
}

/* ---- requantization ------------------------------------------------------------------------ */


static inline int8_t store_act(int32_t v, int32_t lo, int32_t hi) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

/* ---- convolution ------------------------------------------------------------------------ */

/* Valid kernel index range [*k0, *k1) for an origin and dilation over an extent. */
static inline void valid_range(int32_t origin, int32_t dil, int32_t k, int32_t extent,
                               int32_t *k0, int32_t *k1) {
    int32_t lo = 0, hi = k;
    if (origin < 0) lo = (-origin + dil - 1) / dil;
    if (origin + (k - 1) * dil >= extent) {
        hi = extent - origin <= 0 ? 0 : (extent - origin + dil - 1) / dil;
    }
    if (hi < lo) hi = lo;
    *k0 = lo;
    *k1 = hi;
}

/* acc[j] += sum over n4*4 bytes of x . w_j (weights of 4 channels interleaved 4 bytes at a
 * time); advances *w. x may be unaligned; the weights are word aligned. */
#if MCBK_USE_DSP
#define MCBK_DOT4_STEP(A, W)                          \
    "sxtb16 %[t], %[" W "]\n\t"                      \
    "sxtb16 %[" W "], %[" W "], ror #8\n\t"          \
    "smlad %[" A "], %[xa], %[t], %[" A "]\n\t"      \
    "smlad %[" A "], %[xb], %[" W "], %[" A "]\n\t"

#define MCBK_DOT4_ROW_STEP                      \
    "ldr %[xb], [%[x]], #4\n\t"                 \
    "ldr %[w1], [%[w], #4]\n\t"                 \
    "ldr %[w0], [%[w]], #16\n\t"                \
    "sxtb16 %[xa], %[xb]\n\t"                   \
    "sxtb16 %[xb], %[xb], ror #8\n\t"           \
    MCBK_DOT4_STEP("c0", "w0")                   \
    MCBK_DOT4_STEP("c1", "w1")                   \
    "ldr %[w0], [%[w], #-8]\n\t"                \
    "ldr %[w1], [%[w], #-4]\n\t"                \
    MCBK_DOT4_STEP("c2", "w0")                   \
    MCBK_DOT4_STEP("c3", "w1")

static inline void dot_row4(const int8_t *x, const int8_t **wp, int32_t n4,
                            int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    int32_t c0 = *a0, c1 = *a1, c2 = *a2, c3 = *a3;
    const int8_t *w = *wp;
    uint32_t xa, xb, w0, w1, t;
    /* Single loads back to back pipeline (1 cycle after the first; LDRD takes 3) unless the
     * address register was written by the previous load (a post-increment writes its base): the
     * weight pointer moves once, on the second load. Two steps per iteration; an odd count
     * enters at the second. */
    __asm__ volatile(
        MCBK_TWO_STEP_LOOP(MCBK_DOT4_ROW_STEP)
        : [c0] "+r"(c0), [c1] "+r"(c1), [c2] "+r"(c2), [c3] "+r"(c3), [x] "+r"(x), [w] "+r"(w),
          [n] "+r"(n4), [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1), [t] "=&r"(t)
        :
        : "cc", "memory");
    *wp = w;
    *a0 = c0; *a1 = c1; *a2 = c2; *a3 = c3;
}
#else
static inline void dot_row4(const int8_t *x, const int8_t **wp, int32_t n4,
                            int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3) {
    int32_t c0 = *a0, c1 = *a1, c2 = *a2, c3 = *a3;
    const int8_t *w = *wp;
    while (n4--) {
        const int32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
        c0 += w[0] * x0 + w[1] * x1 + w[2] * x2 + w[3] * x3;
        c1 += w[4] * x0 + w[5] * x1 + w[6] * x2 + w[7] * x3;
        c2 += w[8] * x0 + w[9] * x1 + w[10] * x2 + w[11] * x3;
        c3 += w[12] * x0 + w[13] * x1 + w[14] * x2 + w[15] * x3;
        x += 4;
        w += 16;
    }
    *wp = w;
    *a0 = c0; *a1 = c1; *a2 = c2; *a3 = c3;
}
#endif

/* One step of mcbk_dot_2px4ch: 4 input bytes of 2 pixels times 2 channels (r0/r1 the pixels,
 * r2 the weights); the loop runs it twice per iteration. */
#define MCBK_2PX_STEP \
    "    ldr r8, [r0], #4\n" \
    "    ldr r9, [r1], #4\n" \
    "    ldr r11, [r2], #4\n" \
    "    sxtb16 r12, r8\n" \
    "    sxtb16 r8, r8, ror #8\n" \
    "    sxtb16 lr, r9\n" \
    "    sxtb16 r9, r9, ror #8\n" \
    "    sxtb16 r10, r11\n" \
    "    sxtb16 r11, r11, ror #8\n" \
    "    smlad r4, r12, r10, r4\n" \
    "    smlad r4, r8, r11, r4\n" \
    "    smlad r6, lr, r10, r6\n" \
    "    smlad r6, r9, r11, r6\n" \
    "    ldr r11, [r2], #12\n" \
    "    sxtb16 r10, r11\n" \
    "    sxtb16 r11, r11, ror #8\n" \
    "    smlad r5, r12, r10, r5\n" \
    "    smlad r5, r8, r11, r5\n" \
    "    smlad r7, lr, r10, r7\n" \
    "    smlad r7, r9, r11, r7\n"

#if MCBK_USE_DSP
/* Two pixels x four output channels of a convolution, all kernel rows and `groups` groups of
 * four channels, in assembly: every register is needed (r0-r12 and lr), which inline assembly
 * cannot have.
 *
 * For group g, acc[8g + 0..3] = bias[4g + 0..3] + pixel 0's sums, acc[8g + 4..7] = the same for
 * pixel 1. Per group two passes, channels (0, 1) then (2, 3); each step of 4 input bytes
 * sign-extends both pixels' bytes once (SXTB16) and each weight word once for both pixels: 16
 * MACs in 8 SMLAD, 8 SXTB16 and 4 loads, two steps per loop iteration. The weights are the
 * groups' stream (group after group, kernel row after kernel row, 16 bytes a step, channel j
 * at byte 4j); x0/x1 point at each pixel's first kernel row and move on by row_pad per row,
 * then by xskip = input row stride - row_pad to the next kernel row. */
typedef struct mcbk_dot_geom {
    int32_t n4, rows, xskip, groups;
} mcbk_dot_geom_t;
void mcbk_dot_2px4ch(const int8_t *x0, const int8_t *x1, const int8_t *w, const mcbk_dot_geom_t *g,
                     int32_t *acc, const int32_t *bias);
__asm__(
    "    .pushsection .text.mcbk_dot_2px4ch, \"ax\", %progbits\n"
    "    .syntax unified\n"
    "    .thumb\n"
    "    .p2align 2\n"
    "    .global mcbk_dot_2px4ch\n"
    "    .type mcbk_dot_2px4ch, %function\n"
    "    .thumb_func\n"
    "mcbk_dot_2px4ch:\n"
    "    push {r4-r11, lr}\n"
    "    sub sp, sp, #40\n"              /* [0] x0 [4] x1 [8] w of the group [12] geom [16] acc
                                            [20] bias [24] pass [28] rows [32] groups left
                                            [36] w of the next group */
    "    strd r0, r1, [sp, #0]\n"
    "    strd r2, r3, [sp, #8]\n"
    "    ldr r4, [sp, #76]\n"            /* acc: the 5th argument */
    "    ldr r5, [sp, #80]\n"            /* bias: the 6th */
    "    strd r4, r5, [sp, #16]\n"
    "    ldr r4, [r3, #12]\n"
    "    str r4, [sp, #32]\n"
    "6:\n"                               /* a group: pass A, channels 0 and 1 */
    "    ldr lr, [sp, #20]\n"
    "    ldrd r4, r5, [lr, #0]\n"
    "    mov r6, r4\n"
    "    mov r7, r5\n"
    "    movs r8, #0\n"
    "    str r8, [sp, #24]\n"
    "1:\n"                               /* a pass */
    "    ldr r8, [r3, #4]\n"
    "    str r8, [sp, #28]\n"
    "2:\n"                               /* a kernel row */
    "    ldr r3, [sp, #12]\n"
    "    ldr r3, [r3, #0]\n"
    "    lsrs r3, r3, #1\n"             /* two steps a loop; an odd count enters at the second */
    "    bcc 3f\n"
    "    adds r3, r3, #1\n"
    "    b 5f\n"
    "    .p2align 2\n"
    "3:\n"                               /* a step: 4 input bytes, 2 pixels, 2 channels */
    MCBK_2PX_STEP
    "5:\n"
    MCBK_2PX_STEP
    "    subs r3, r3, #1\n"
    "    bne 3b\n"
    "    ldr r3, [sp, #12]\n"
    "    ldr r8, [r3, #8]\n"
    "    add r0, r0, r8\n"
    "    add r1, r1, r8\n"
    "    ldr r8, [sp, #28]\n"
    "    subs r8, r8, #1\n"
    "    str r8, [sp, #28]\n"
    "    bne 2b\n"
    "    ldr lr, [sp, #16]\n"
    "    ldr r8, [sp, #24]\n"
    "    cmp r8, #0\n"
    "    bne 4f\n"
    "    strd r4, r5, [lr, #0]\n"        /* pass A done */
    "    strd r6, r7, [lr, #16]\n"
    "    str r2, [sp, #36]\n"            /* pass A ends where the next group starts */
    "    ldr r8, [sp, #20]\n"
    "    ldrd r4, r5, [r8, #8]\n"        /* channels 2 and 3 */
    "    mov r6, r4\n"
    "    mov r7, r5\n"
    "    movs r8, #1\n"
    "    str r8, [sp, #24]\n"
    "    ldrd r0, r1, [sp, #0]\n"
    "    ldrd r2, r3, [sp, #8]\n"
    "    adds r2, r2, #8\n"
    "    b 1b\n"
    "4:\n"                               /* pass B done: the group's 8 sums */
    "    strd r4, r5, [lr, #8]\n"
    "    strd r6, r7, [lr, #24]\n"
    "    adds lr, lr, #32\n"
    "    str lr, [sp, #16]\n"
    "    ldr r8, [sp, #20]\n"
    "    adds r8, r8, #16\n"
    "    str r8, [sp, #20]\n"
    "    ldr r2, [sp, #36]\n"
    "    str r2, [sp, #8]\n"
    "    ldrd r0, r1, [sp, #0]\n"
    "    ldr r3, [sp, #12]\n"
    "    ldr r8, [sp, #32]\n"
    "    subs r8, r8, #1\n"
    "    str r8, [sp, #32]\n"
    "    bne 6b\n"
    "    add sp, sp, #40\n"
    "    pop {r4-r11, pc}\n"
    "    .size mcbk_dot_2px4ch, . - mcbk_dot_2px4ch\n"
    "    .popsection\n");
#endif

/* The window of a border pixel (or any pixel with horizontal dilation), gathered row by row
 * into scratch with the input zero point where the window leaves the input. */
static void gather_window(const mcbk_conv_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0, int8_t *scratch) {
    const int32_t C = p->in_c, W = p->in_w, rp = p->row_pad, row_len = p->k_w * C;
    const int8_t zp = (int8_t)p->in_zp;
    int32_t kx0, kx1;
    valid_range(ix0, p->dil_w, p->k_w, W, &kx0, &kx1);
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        int8_t *dst = scratch + (size_t)ky * rp;
        const int32_t iy = iy0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h || kx0 >= kx1) {
            memset(dst, zp, (size_t)rp);
            continue;
        }
        const int8_t *src = in_b + (size_t)iy * W * C;
        if (kx0 > 0) memset(dst, zp, (size_t)kx0 * C);
        if (p->dil_w == 1) {
            memcpy(dst + (size_t)kx0 * C, src + (size_t)(ix0 + kx0) * C, (size_t)(kx1 - kx0) * C);
        } else {
            for (int32_t kx = kx0; kx < kx1; ++kx)
                memcpy(dst + (size_t)kx * C, src + (size_t)(ix0 + kx * p->dil_w) * C, (size_t)C);
        }
        memset(dst + (size_t)kx1 * C, zp, (size_t)(rp - kx1 * C));
    }
    (void)row_len;
}

#if MCBK_USE_DSP && !(defined(MCBK_EXACT_RQ) && MCBK_EXACT_RQ)
/* the assembly kernels' short requantization, pack and clamp: requant()'s fast form and store4() */
#define MCBK_FAST_OUT_2PX 1
#else
#define MCBK_FAST_OUT_2PX 0
#endif

/* Requantize four accumulators of channels c .. c+3 (n of them real) and store them. */
static inline void conv_out4(int8_t *og, const int32_t *acc, const mcbk_rq_t *rq, int32_t n, int fast, int32_t zp_out,
                             uint32_t lo4, uint32_t hi4, int32_t lo, int32_t hi) {
    if (n >= 4) {
        store4(og, requant(acc[0], &rq[0], fast, zp_out), requant(acc[1], &rq[1], fast, zp_out),
               requant(acc[2], &rq[2], fast, zp_out), requant(acc[3], &rq[3], fast, zp_out), lo4, hi4, lo, hi);
    } else {
        for (int32_t j = 0; j < n; ++j) og[j] = store_act(requant(acc[j], &rq[j], fast, zp_out), lo, hi);
    }
}

#if MCBK_FAST_OUT_2PX
/* One step of mcbk_fc_rows4: 4 input bytes times 4 channels (16 MACs). The five single loads
 * run back to back and all but the first pipeline: the weight pointer moves on the first, and
 * the input load between keeps the next from using a base the load just before wrote. */
#define MCBK_FC_STEP \
    "    ldr r8, [r1], #16\n" \
    "    ldr r12, [r0], #4\n" \
    "    ldr r9, [r1, #-12]\n" \
    "    ldr r10, [r1, #-8]\n" \
    "    ldr r11, [r1, #-4]\n" \
    "    sxtb16 r3, r12\n" \
    "    sxtb16 r12, r12, ror #8\n" \
    "    sxtb16 lr, r8\n" \
    "    sxtb16 r8, r8, ror #8\n" \
    "    smlad r4, r3, lr, r4\n" \
    "    smlad r4, r12, r8, r4\n" \
    "    sxtb16 lr, r9\n" \
    "    sxtb16 r9, r9, ror #8\n" \
    "    smlad r5, r3, lr, r5\n" \
    "    smlad r5, r12, r9, r5\n" \
    "    sxtb16 lr, r10\n" \
    "    sxtb16 r10, r10, ror #8\n" \
    "    smlad r6, r3, lr, r6\n" \
    "    smlad r6, r12, r10, r6\n" \
    "    sxtb16 lr, r11\n" \
    "    sxtb16 r11, r11, ror #8\n" \
    "    smlad r7, r3, lr, r7\n" \
    "    smlad r7, r12, r11, r7\n"

/* The short requantization (requant()'s fast form) of two channels' accumulators A and B, their mcbk_rq_t at
 * byte offsets OFF0 and OFF1 of the rq table (r12): the six loads run back to back. */
#define MCBK_FC_RQ2(A, B, OFF0, OFF1) \
    "    ldr r8, [r12, #" OFF0 "]\n" \
    "    ldr r9, [r12, #" OFF0 "+8]\n" \
    "    ldr r10, [r12, #" OFF0 "+12]\n" \
    "    ldr r11, [r12, #" OFF1 "]\n" \
    "    ldr r2, [r12, #" OFF1 "+8]\n" \
    "    ldr r3, [r12, #" OFF1 "+12]\n" \
    "    lsl " A ", " A ", #1\n" \
    "    smmulr " A ", " A ", r8\n" \
    "    add r10, r10, " A ", asr #31\n" \
    "    add " A ", " A ", r10\n" \
    "    asr " A ", " A ", r9\n" \
    "    ssat " A ", #8, " A "\n" \
    "    lsl " B ", " B ", #1\n" \
    "    smmulr " B ", " B ", r11\n" \
    "    add r3, r3, " B ", asr #31\n" \
    "    add " B ", " B ", r3\n" \
    "    asr " B ", " B ", r2\n" \
    "    ssat " B ", #8, " B "\n"

/* FULLY_CONNECTED with the short requantization, `groups` full groups of four channels over
 * one input vector, in assembly (all 14 registers). The weights are the groups' stream
 * (mcbk_conv_t's layout with one kernel row: 16 bytes a step, channel j at byte 4j). Each step
 * loads and sign-extends 4 input bytes once for the 4 channels; four steps per loop iteration,
 * the loop entered at step `entry` (0..3) so that `iters` iterations make the row's n4 steps:
 * iters = (n4 + 3) / 4, entry = (4 - n4 % 4) % 4. After a group's loop its four sums, still in
 * registers, are requantized (requant()'s fast form), packed, clamped to [lo, hi] (lo4/hi4: splat4) and
 * stored: out[4g + j]. */
typedef struct mcbk_fc_args {
    int32_t iters, entry, groups;
    uint32_t lo4, hi4;
    const int32_t *bias;
    const mcbk_rq_t *rq;
} mcbk_fc_args_t;
void mcbk_fc_rows4(const int8_t *x, const int8_t *w, const mcbk_fc_args_t *a, int8_t *out);
/* The assembly reads these layouts by offset: fail the build if they change. */
typedef char mcbk_fc_layout_check[(sizeof(mcbk_fc_args_t) == 28 && offsetof(mcbk_fc_args_t, rq) == 24 &&
                                   sizeof(mcbk_rq_t) == 16 && offsetof(mcbk_rq_t, mult) == 0 &&
                                   offsetof(mcbk_rq_t, rs) == 8 && offsetof(mcbk_rq_t, rnd) == 12) ? 1 : -1];
__asm__(
    "    .pushsection .text.mcbk_fc_rows4, \"ax\", %progbits\n"
    "    .syntax unified\n"
    "    .thumb\n"
    "    .p2align 2\n"
    "    .global mcbk_fc_rows4\n"
    "    .type mcbk_fc_rows4, %function\n"
    "    .thumb_func\n"
    "mcbk_fc_rows4:\n"
    "    push {r4-r11, lr}\n"
    "    sub sp, sp, #36\n"              /* [0] x [4] loop entry [8] iters [12] groups left
                                            [16] out [20] bias [24] rq [28] lo4 [32] hi4 */
    "    ldm r2, {r4-r10}\n"             /* iters, entry, groups, lo4, hi4, bias, rq */
    "    str r0, [sp, #0]\n"
    "    str r4, [sp, #8]\n"
    "    str r6, [sp, #12]\n"
    "    str r3, [sp, #16]\n"
    "    str r9, [sp, #20]\n"
    "    str r10, [sp, #24]\n"
    "    str r7, [sp, #28]\n"
    "    str r8, [sp, #32]\n"
    "    adr.w r12, 10f\n"              /* the loop entry: step `entry`, 92 bytes a step */
    "    movs r11, #92\n"
    "    mla r12, r5, r11, r12\n"
    "    orr r12, r12, #1\n"             /* a Thumb address for BX */
    "    str r12, [sp, #4]\n"
    "6:\n"                               /* a group: accumulators from the bias */
    "    ldr r12, [sp, #20]\n"
    "    ldr r0, [sp, #0]\n"
    "    ldr r2, [sp, #8]\n"
    "    ldr lr, [sp, #4]\n"
    "    ldmia r12!, {r4-r7}\n"
    "    str r12, [sp, #20]\n"
    "    bx lr\n"
    "    .p2align 2\n"
    "10:\n"
    MCBK_FC_STEP
    "11:\n"
    MCBK_FC_STEP
    "12:\n"
    MCBK_FC_STEP
    "13:\n"
    MCBK_FC_STEP
    "    .if (11b - 10b) != 92 || (13b - 12b) != 92\n"
    "    .error \"mcbk_fc_rows4: a step is not 92 bytes\"\n"
    "    .endif\n"
    "    subs r2, r2, #1\n"
    "    bne 10b\n"
    "    ldr r12, [sp, #24]\n"
    MCBK_FC_RQ2("r4", "r5", "0", "16")
    MCBK_FC_RQ2("r6", "r7", "32", "48")
    "    add r12, r12, #64\n"
    "    str r12, [sp, #24]\n"
    "    pkhbt r4, r4, r6, lsl #16\n"    /* pack: bytes (v0, v1, v2, v3) */
    "    pkhbt r5, r5, r7, lsl #16\n"
    "    uxtb16 r4, r4\n"
    "    uxtb16 r5, r5\n"
    "    orr r4, r4, r5, lsl #8\n"
    "    ldr r8, [sp, #28]\n"
    "    ldr r9, [sp, #32]\n"
    "    ldr r12, [sp, #16]\n"
    "    ssub8 r10, r4, r8\n"            /* max(v, lo), then min(v, hi) */
    "    sel r4, r4, r8\n"
    "    ssub8 r10, r4, r9\n"
    "    sel r4, r9, r4\n"
    "    str r4, [r12], #4\n"
    "    str r12, [sp, #16]\n"
    "    ldr r12, [sp, #12]\n"
    "    subs r12, r12, #1\n"
    "    str r12, [sp, #12]\n"
    "    bne 6b\n"
    "    add sp, sp, #36\n"
    "    pop {r4-r11, pc}\n"
    "    .size mcbk_fc_rows4, . - mcbk_fc_rows4\n"
    "    .popsection\n");

/* FULLY_CONNECTED (and 1x1 convolutions over 1x1 images) with the short requantization, all in
 * the assembly: the full groups straight into the output, a last partial group (out_c % 4
 * channels; the layout pads it with zero weights, zero bias and zero multipliers) into a word
 * of which only its channels are copied. */
static void fc_fast(const mcbk_conv_t *p, const int8_t *in, int8_t *out) {
    const int32_t n4 = p->row_pad >> 2, OC = p->out_c, C = p->in_c, full = OC >> 2;
    const uint32_t lo4 = splat4(p->act_min), hi4 = splat4(p->act_max);
    const int32_t iters = (n4 + 3) >> 2, entry = (4 - (n4 & 3)) & 3;
    const mcbk_fc_args_t args = {iters, entry, full, lo4, hi4, p->bias, p->rq};
    const mcbk_fc_args_t last = {iters, entry, 1, lo4, hi4, p->bias + 4 * full, p->rq + 4 * full};
    const int8_t *w_last = p->weights + (size_t)full * 16 * n4;
    for (int32_t b = 0; b < p->batches; ++b, in += C, out += OC) {
        if (full) mcbk_fc_rows4(in, p->weights, &args, out);
        if (4 * full < OC) {
            int8_t word[4];
            mcbk_fc_rows4(in, w_last, &last, word);
            for (int32_t j = 4 * full; j < OC; ++j) out[j] = word[j - 4 * full];
        }
    }
}

/* One step of mcbk_conv_2px_rq: 4 input bytes of 2 pixels (sign-extended beforehand: 4 words at
 * r0, the pixels' (x0, x2), (x1, x3) halves) times 2 channels (their weight words at r2 and
 * r2 + 4): 16 MACs in 8 SMLAD, 4 SXTB16 and 6 single loads back to back, all but the first
 * pipelined (the load after each post-increment uses the other pointer): 19 cycles. */
#define MCBK_2PXE_STEP \
    "    ldr r8, [r0], #16\n" \
    "    ldr r10, [r2], #16\n" \
    "    ldr r9, [r0, #-12]\n" \
    "    ldr r11, [r2, #-12]\n" \
    "    ldr r12, [r0, #-8]\n" \
    "    ldr.w r1, [r0, #-4]\n" \
    "    sxtb16 lr, r10\n" \
    "    sxtb16 r10, r10, ror #8\n" \
    "    smlad r4, r8, lr, r4\n" \
    "    smlad r4, r9, r10, r4\n" \
    "    smlad r6, r12, lr, r6\n" \
    "    smlad r6, r1, r10, r6\n" \
    "    sxtb16 lr, r11\n" \
    "    sxtb16 r11, r11, ror #8\n" \
    "    smlad r5, r8, lr, r5\n" \
    "    smlad r5, r9, r11, r5\n" \
    "    smlad r7, r12, lr, r7\n" \
    "    smlad r7, r1, r11, r7\n"

/* A pass's loop: eight steps an iteration, entered at any step by the pass start's computed
 * jump (so steps must all be 72 bytes); L and L1 are its local labels (the loop and its second
 * step), distinct for each pass. */
#define MCBK_2PXE_LOOP(L, L1) \
    "    .p2align 2\n" \
    L ":\n" \
    MCBK_2PXE_STEP \
    L1 ":\n" \
    MCBK_2PXE_STEP \
    MCBK_2PXE_STEP \
    MCBK_2PXE_STEP \
    MCBK_2PXE_STEP \
    MCBK_2PXE_STEP \
    MCBK_2PXE_STEP \
    MCBK_2PXE_STEP \
    "    .if (" L1 "b - " L "b) != 72\n" \
    "    .error \"mcbk_conv_2px_rq: a step is not 72 bytes\"\n" \
    "    .endif\n" \
    "    subs r3, r3, #1\n" \
    "    bne " L "b\n"

/* The short requantization of accumulator A with its channel's multiplier M, right shift S
 * and rounding constant R (2^(S-1) + zero point << S): SMMLAR adds R to the rounded high
 * multiply, and the accumulator's sign equals the product's (multipliers are positive; when
 * the product rounds to 0 the sign's -1 changes nothing, S >= 1). r12 is clobbered. */
#define MCBK_2PXE_RQ1(A, M, S, R) \
    "    add r12, " R ", " A ", asr #31\n" \
    "    lsl " A ", " A ", #1\n" \
    "    smmlar " A ", " A ", " M ", r12\n" \
    "    asr " A ", " A ", " S "\n" \
    "    ssat " A ", #8, " A "\n"

/* The end of a pass: the 4 sums (r4/r5 pixel 0's channels, r6/r7 pixel 1's) requantized with
 * the constants of the rq cursor's channels at byte offsets OFF and OFF+16, packed as bytes
 * (p0 c, p0 c+1, p1 c, p1 c+1), clamped to [lo4, hi4] out of line at label CLAMP when the
 * bounds are not int8's own (SSAT has done that), and the halfwords' addresses loaded: pixel
 * 0's at r8, pixel 1's at r8 + r9, pixel 1's halfword in r10. */
#define MCBK_2PXE_RQ_PASS(OFF, CLAMP) \
    "    ldr r12, [sp, #32]\n" \
    "    ldr r0, [sp, #48]\n" \
    "    ldr r8, [r12, #" OFF "]\n" \
    "    ldr r9, [r12, #" OFF "+8]\n" \
    "    ldr r10, [r12, #" OFF "+12]\n" \
    "    ldr r11, [r12, #" OFF "+16]\n" \
    "    ldr r1, [r12, #" OFF "+24]\n" \
    "    ldr lr, [r12, #" OFF "+28]\n" \
    MCBK_2PXE_RQ1("r4", "r8", "r9", "r10") \
    MCBK_2PXE_RQ1("r6", "r8", "r9", "r10") \
    MCBK_2PXE_RQ1("r5", "r11", "r1", "lr") \
    MCBK_2PXE_RQ1("r7", "r11", "r1", "lr") \
    "    pkhbt r4, r4, r6, lsl #16\n" \
    "    pkhbt r5, r5, r7, lsl #16\n" \
    "    uxtb16 r4, r4\n" \
    "    uxtb16 r5, r5\n" \
    "    orr r4, r4, r5, lsl #8\n" \
    "    cmp r0, #0\n" \
    "    bne.w " CLAMP "f\n" \
    CLAMP "1:\n" \
    "    ldr r8, [sp, #20]\n" \
    "    ldr r9, [sp, #24]\n" \
    "    lsr r10, r4, #16\n"

/* The clamp of MCBK_2PXE_RQ_PASS(.., CLAMP), out of line: max(v, lo4), then min(v, hi4). */
#define MCBK_2PXE_CLAMP(CLAMP) \
    CLAMP ":\n" \
    "    ldr r0, [sp, #36]\n" \
    "    ldr r3, [sp, #40]\n" \
    "    ssub8 r8, r4, r0\n" \
    "    sel r4, r4, r0\n" \
    "    ssub8 r8, r4, r3\n" \
    "    sel r4, r3, r4\n" \
    "    b " CLAMP "1b\n"

/* A pass's set-up: the accumulators from the bias cursor's channels at byte offsets OFF and
 * OFF+4 (both pixels), the input from its start, the loop entered at step `entry` (ENTRY: the
 * stack slot of the pass's entry address). */
#define MCBK_2PXE_PASS_START(OFF, ENTRY) \
    "    ldr r12, [sp, #28]\n" \
    "    ldr r0, [sp, #0]\n" \
    "    ldr r3, [sp, #12]\n" \
    "    ldr lr, [sp, #" ENTRY "]\n" \
    "    ldr r5, [r12, #" OFF "+4]\n" \
    "    ldr r4, [r12, #" OFF "]\n" \
    "    mov r6, r4\n" \
    "    mov r7, r5\n"

/* Two pixels x all full groups of a convolution with the short requantization, in assembly
 * (all 14 registers): the sums, requantized while still in registers, packed, clamped and
 * stored, with no round trip of the accumulators through memory. xe holds the two pixels'
 * windows sign-extended (per 4 input bytes of the window, 16 bytes: pixel 0's SXTB16 and SXTB16
 * ROR 8 words, then pixel 1's). w: the groups' weights (mcbk_conv_t's layout: the window as
 * one row of `steps` 16-byte steps, channel j at byte 4j). Per group two passes, channels (0, 1)
 * then (2, 3), each eight steps per loop iteration entered at step `entry` (iters = (steps + 7)
 * / 8, entry = (8 - steps % 8) % 8). Pixel 0's output channel 4g + j goes to o0[4g + j], pixel
 * 1's to o0[o_delta + 4g + j] (stored first: with o_delta 0 pixel 0's wins). */
typedef struct mcbk_conv_rq_args {
    int32_t iters, entry, groups;
    uint32_t lo4, hi4;
    const int32_t *bias;
    const mcbk_rq_t *rq;
    int32_t wback;      /* 16 * steps - 8: from the end of pass 1's weights to the start of pass 2's */
    int32_t o_delta;
    const int8_t *w;
    const uint32_t *xe;
    int32_t clamp;      /* 0: [act_min, act_max] is int8's whole range, nothing to clamp */
} mcbk_conv_rq_args_t;
void mcbk_conv_2px_rq(const mcbk_conv_rq_args_t *a, int8_t *o0);
typedef char mcbk_conv_rq_layout_check[(sizeof(mcbk_conv_rq_args_t) == 48 && offsetof(mcbk_conv_rq_args_t, rq) == 24 &&
                                        offsetof(mcbk_conv_rq_args_t, o_delta) == 32 &&
                                        offsetof(mcbk_conv_rq_args_t, xe) == 40) ? 1 : -1];
__asm__(
    "    .pushsection .text.mcbk_conv_2px_rq, \"ax\", %progbits\n"
    "    .syntax unified\n"
    "    .thumb\n"
    "    .p2align 2\n"
    "    .global mcbk_conv_2px_rq\n"
    "    .type mcbk_conv_2px_rq, %function\n"
    "    .thumb_func\n"
    "mcbk_conv_2px_rq:\n"
    "    push {r4-r11, lr}\n"
    "    sub sp, sp, #52\n"              /* [0] xe [4] entry of pass 1 [8] of pass 2 [12] iters
                                            [16] groups left [20] o0 [24] o_delta [28] bias
                                            [32] rq [36] lo4 [40] hi4 [44] wback [48] clamp */
    "    str r1, [sp, #20]\n"
    "    mov r2, r0\n"
    "    ldm r2!, {r4-r12}\n"            /* iters entry groups lo4 hi4 bias rq wback o_delta */
    "    str r4, [sp, #12]\n"
    "    str r6, [sp, #16]\n"
    "    str r12, [sp, #24]\n"
    "    str r9, [sp, #28]\n"
    "    str r10, [sp, #32]\n"
    "    str r7, [sp, #36]\n"
    "    str r8, [sp, #40]\n"
    "    str r11, [sp, #44]\n"
    "    movs r11, #72\n"                /* 72 bytes a step */
    "    mul r5, r5, r11\n"
    "    adr.w r12, 10f\n"
    "    add r12, r12, r5\n"
    "    orr r12, r12, #1\n"             /* Thumb addresses for BX */
    "    str r12, [sp, #4]\n"
    "    adr.w r12, 20f\n"
    "    add r12, r12, r5\n"
    "    orr r12, r12, #1\n"
    "    str r12, [sp, #8]\n"
    "    ldm r2, {r2, r3, r4}\n"         /* w xe clamp */
    "    str r3, [sp, #0]\n"
    "    str r4, [sp, #48]\n"
    "6:\n"                               /* a group; pass 1: channels 0 and 1 */
    MCBK_2PXE_PASS_START("0", "4")
    "    bx lr\n"
    MCBK_2PXE_LOOP("10", "11")
    MCBK_2PXE_RQ_PASS("0", "30")
    "    strh r10, [r8, r9]\n"           /* pixel 1 first: with o_delta 0 pixel 0 wins */
    "    strh r4, [r8]\n"
    "    ldr r8, [sp, #44]\n"            /* the weights of pass 2 */
    "    sub r2, r2, r8\n"
    MCBK_2PXE_PASS_START("8", "8")
    "    add r12, r12, #16\n"
    "    str r12, [sp, #28]\n"
    "    bx lr\n"
    MCBK_2PXE_LOOP("20", "21")
    MCBK_2PXE_RQ_PASS("32", "32")
    "    adds r12, r8, #2\n"
    "    strh r10, [r12, r9]\n"
    "    strh r4, [r8, #2]\n"
    "    adds r8, r8, #4\n"
    "    str r8, [sp, #20]\n"
    "    ldr r12, [sp, #32]\n"
    "    adds r12, r12, #64\n"
    "    str r12, [sp, #32]\n"
    "    subs r2, r2, #8\n"              /* the next group's weights */
    "    ldr r8, [sp, #16]\n"
    "    subs r8, r8, #1\n"
    "    str r8, [sp, #16]\n"
    "    bne 6b\n"
    "    add sp, sp, #52\n"
    "    pop {r4-r11, pc}\n"
    MCBK_2PXE_CLAMP("30")
    MCBK_2PXE_CLAMP("32")
    "    .size mcbk_conv_2px_rq, . - mcbk_conv_2px_rq\n"
    "    .popsection\n");

static inline uint32_t sxtb16_ror8(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* A window's 4-byte words sign-extended for mcbk_conv_2px_rq: its SXTB16 and SXTB16 ROR 8 words,
 * every 16 bytes of dst (the other pixel's go between); `rows` kernel rows of n4 words, stride
 * bytes apart; two words per iteration. */
static void extend_window(const int8_t *x, int32_t stride, int32_t n4, int32_t rows, uint32_t *dst) {
    for (int32_t r = 0; r < rows; ++r, x += stride) {
        const int8_t *s = x;
        if (n4 & 1) {
            const uint32_t v = (uint32_t)read32(s);
            dst[0] = __sxtb16(v);
            dst[1] = sxtb16_ror8(v);
            s += 4;
            dst += 4;
        }
        for (int32_t i = n4 >> 1; i > 0; --i, s += 8, dst += 8) {
            const uint32_t v0 = (uint32_t)read32(s), v1 = (uint32_t)read32(s + 4);
            dst[0] = __sxtb16(v0);
            dst[1] = sxtb16_ror8(v0);
            dst[4] = __sxtb16(v1);
            dst[5] = sxtb16_ror8(v1);
        }
    }
}

/* CONV_2D with the short requantization: output pixels in raster order, two at a time (across
 * rows): each pixel's window sign-extended once into its half of scratch (a border pixel's
 * gathered with the zero point first, after the extended windows), then every full group of the
 * pair in mcbk_conv_2px_rq and a partial last group (the layout pads it with zero weights, bias
 * and multipliers) into two words of which only its channels are copied. An odd last pixel goes
 * with whatever the other half holds: its partner's results are stored first, to the same
 * place, and overwritten. */
static void conv_fast(const mcbk_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t C = p->in_c, H = p->in_h, W = p->in_w, OC = p->out_c, KH = p->k_h, rp = p->row_pad;
    const int32_t n4 = rp >> 2, steps = n4 * KH, full = OC >> 2, rest = OC & 3;
    const int32_t in_row_stride = p->dil_h * W * C;
    const int32_t span_h = (KH - 1) * p->dil_h, span_w = (p->k_w - 1) * p->dil_w;
    uint32_t *xe = (uint32_t *)(void *)scratch;
    int8_t *win = scratch + 16 * steps;
    const uint32_t lo4 = splat4(p->act_min), hi4 = splat4(p->act_max);
    const int32_t iters = (steps + 7) >> 3, entry = (8 - (steps & 7)) & 7;
    const int32_t clamp = p->act_min > -128 || p->act_max < 127;
    mcbk_conv_rq_args_t args = {iters, entry, full, lo4, hi4, p->bias, p->rq, 16 * steps - 8, OC, p->weights, xe, clamp};
    const mcbk_conv_rq_args_t last = {iters, entry, 1, lo4, hi4, p->bias + 4 * full, p->rq + 4 * full, 16 * steps - 8, 4,
                                      p->weights + (size_t)full * 16 * steps, xe, clamp};
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + (size_t)b * H * W * C;
        int8_t *o0 = out + (size_t)b * p->out_h * p->out_w * OC;
        int32_t half = 0;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_inside = iy0 >= 0 && iy0 + span_h < H && p->dil_w == 1;
            const int8_t *row = rows_inside ? in_b + (size_t)iy0 * W * C : in_b;
            for (int32_t ox = 0, ix0 = -p->pad_left; ox < p->out_w; ++ox, ix0 += p->stride_w) {
                if (rows_inside && ix0 >= 0 && ix0 + span_w < W) {
                    extend_window(row + (size_t)ix0 * C, in_row_stride, n4, KH, xe + 2 * half);
                } else {
                    gather_window(p, in_b, iy0, ix0, win);
                    extend_window(win, rp, steps, 1, xe + 2 * half);
                }
                if (!half) {
                    half = 1;
                    continue;
                }
                half = 0;
                if (full) mcbk_conv_2px_rq(&args, o0);
                if (rest) {
                    int8_t words[8];
                    mcbk_conv_2px_rq(&last, words);
                    for (int32_t j = 0; j < rest; ++j) {
                        o0[4 * full + j] = words[j];
                        o0[OC + 4 * full + j] = words[4 + j];
                    }
                }
                o0 += 2 * OC;
            }
        }
        if (half) { /* an odd last pixel */
            args.o_delta = 0;
            if (full) mcbk_conv_2px_rq(&args, o0);
            args.o_delta = OC;
            if (rest) {
                int8_t words[8];
                mcbk_conv_2px_rq(&last, words);
                for (int32_t j = 0; j < rest; ++j) o0[4 * full + j] = words[j];
            }
        }
    }
}
#endif

#if MCBK_USE_DSP
/* Two pixels (outputs o0, and o1 unless NULL) of a convolution, all channels: the assembly
 * kernel sums 16 groups (64 channels) at a time, then one requantization pass. */
static void conv_2px_groups(const mcbk_conv_t *p, const int8_t *x0, const int8_t *x1, int32_t n4, int32_t rows,
                            int32_t xskip, int8_t *o0, int8_t *o1) {
    const int32_t OC = p->out_c, groups = (OC + 3) >> 2, fast = p->fast_rq, zp_out = p->out_offset;
    const int32_t lo = p->act_min, hi = p->act_max;
    const uint32_t lo4 = splat4(lo), hi4 = splat4(hi);
    const int32_t group_bytes = rows * n4 * 16;
    for (int32_t g0 = 0; g0 < groups; g0 += 16) {
        int32_t acc[8 * 16];
        const mcbk_dot_geom_t geom = {n4, rows, xskip, groups - g0 < 16 ? groups - g0 : 16};
        mcbk_dot_2px4ch(x0, x1, p->weights + (size_t)g0 * group_bytes, &geom, acc, p->bias + 4 * g0);
        for (int32_t k = 0; k < geom.groups; ++k) {
            const int32_t g = g0 + k, n = OC - 4 * g;
            const int32_t *a = acc + 8 * k;
            conv_out4(o0 + 4 * g, a, p->rq + 4 * g, n, fast, zp_out, lo4, hi4, lo, hi);
            if (o1) conv_out4(o1 + 4 * g, a + 4, p->rq + 4 * g, n, fast, zp_out, lo4, hi4, lo, hi);
        }
    }
}
#endif

void mcbk_conv2d(const mcbk_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t C = p->in_c, H = p->in_h, W = p->in_w, OC = p->out_c, KH = p->k_h;
    const int32_t n4 = p->row_pad >> 2;
    const int32_t groups = (OC + 3) >> 2;
    const int32_t in_row_stride = p->dil_h * W * C;
    const int32_t lo = p->act_min, hi = p->act_max, zp_out = p->out_offset, fast = p->fast_rq;
    const uint32_t lo4 = splat4(lo), hi4 = splat4(hi);
    const int32_t span_h = (KH - 1) * p->dil_h, span_w = (p->k_w - 1) * p->dil_w;
#if MCBK_FAST_OUT_2PX
    if (fast && H == 1 && W == 1 && KH == 1 && p->k_w == 1 && p->pad_top == 0 && p->pad_left == 0) {
        fc_fast(p, in, out);
        return;
    }
    if (fast) {
        conv_fast(p, in, out, scratch);
        return;
    }
#endif
#if MCBK_USE_DSP
    if (KH == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
        p->out_h == H && p->out_w == W && H * W > 1) {
        /* pointwise: the pixels are contiguous, so they pair across rows too; an odd last pixel
         * is computed as a pair with itself */
        const int32_t npx = H * W;
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *in_b = in + (size_t)b * npx * C;
            int8_t *o = out + (size_t)b * npx * OC;
            for (int32_t q = 0; q < npx; q += 2, o += 2 * OC) {
                const int8_t *x0 = in_b + (size_t)q * C, *x1 = q + 1 < npx ? x0 + C : x0;
                conv_2px_groups(p, x0, x1, n4, 1, 0, o, q + 1 < npx ? o + OC : NULL);
            }
        }
        return;
    }
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + (size_t)b * H * W * C;
        int8_t *o = out + (size_t)b * p->out_h * p->out_w * OC;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_inside = iy0 >= 0 && iy0 + span_h < H;
            for (int32_t ox = 0; ox < p->out_w; ++ox, o += OC) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
#if MCBK_USE_DSP
                /* two pixels whose windows lie inside the input: one pass for both */
                if (rows_inside && p->dil_w == 1 && ox + 1 < p->out_w && ix0 >= 0 &&
                    ix0 + p->stride_w + span_w < W) {
                    const int8_t *x0 = in_b + ((size_t)iy0 * W + ix0) * C, *x1 = x0 + p->stride_w * C;
                    mcbk_dot_geom_t geom = {n4, KH, in_row_stride - p->row_pad, 0};
                    if (n4 == 1 && KH > 1) {
                        /* kernel rows of one word (e.g. a 10x4 kernel on 1 channel): both windows
                         * gathered into one long row each, so the kernel loops once per pass */
                        for (int32_t ky = 0; ky < KH; ++ky) {
                            memcpy(scratch + 4 * ky, x0 + (size_t)ky * in_row_stride, 4);
                            memcpy(scratch + 4 * (KH + ky), x1 + (size_t)ky * in_row_stride, 4);
                        }
                        x0 = scratch;
                        x1 = scratch + 4 * KH;
                        geom.n4 = KH;
                        geom.rows = 1;
                        geom.xskip = 0;
                    }
                    conv_2px_groups(p, x0, x1, geom.n4, geom.rows, geom.xskip, o, o + OC);
                    ++ox;
                    o += OC;
                    continue;
                }
#endif
                const int8_t *base;
                int32_t stride;
                if (rows_inside && p->dil_w == 1 && ix0 >= 0 && ix0 + span_w < W) {
                    base = in_b + ((size_t)iy0 * W + ix0) * C;
                    stride = in_row_stride;
                } else {
                    gather_window(p, in_b, iy0, ix0, scratch);
                    base = scratch;
                    stride = p->row_pad;
                }
                const int8_t *w = p->weights;
                const int32_t *bias = p->bias;
                const mcbk_rq_t *rq = p->rq;
                for (int32_t g = 0; g < groups; ++g, bias += 4, rq += 4) {
                    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
                    const int8_t *x = base;
                    if (stride == p->row_pad) {
                        dot_row4(x, &w, n4 * KH, &a0, &a1, &a2, &a3); /* a gathered window: one row */
                    } else {
                        for (int32_t ky = 0; ky < KH; ++ky, x += stride) dot_row4(x, &w, n4, &a0, &a1, &a2, &a3);
                    }
                    const int32_t acc[4] = {a0, a1, a2, a3};
                    conv_out4(o + 4 * g, acc, rq, OC - 4 * g, fast, zp_out, lo4, hi4, lo, hi);
                }
            }
        }
    }
}

/* ---- depthwise convolution ----------------------------------------------------------------- */

#if MCBK_USE_DSP
static inline uint32_t sxtab16_ror8(uint32_t a, uint32_t x) {
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
/* one tap of 4 channels: x at xp (4 bytes), int16 weights (c0,c2),(c1,c3) at wp */
#define MCBK_DW_TAP(xp, wp)                                                    \
    do {                                                                       \
        const uint32_t xv_ = (uint32_t)read32(xp);                             \
        uint32_t wa_, wb_;                                                     \
        memcpy(&wa_, (wp), 4);                                                 \
        memcpy(&wb_, (wp) + 2, 4);                                             \
        const int32_t xa_ = (int32_t)__sxtab16(offp, xv_);                    \
        const int32_t xb_ = (int32_t)sxtab16_ror8(offp, xv_);                 \
        a0 = __smlabb(xa_, (int32_t)wa_, a0);                                  \
        a2 = __smlatt(xa_, (int32_t)wa_, a2);                                  \
        a1 = __smlabb(xb_, (int32_t)wb_, a1);                                  \
        a3 = __smlatt(xb_, (int32_t)wb_, a3);                                  \
    } while (0)
/* three taps of a kernel row (x, x + xstep, x + 2*xstep), 4 channels; advances w by 3 taps */
#define MCBK_DW_ASM_TAP(XOFF)                                        \
    "ldr %[xb], [%[x]" XOFF "]\n\t"                                  \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t"                              \
    "sxtab16 %[xa], %[offp], %[xb]\n\t"                              \
    "sxtab16 %[xb], %[offp], %[xb], ror #8\n\t"                      \
    "smlabb %[a0], %[xa], %[wa], %[a0]\n\t"                          \
    "smlatt %[a2], %[xa], %[wa], %[a2]\n\t"                          \
    "smlabb %[a1], %[xb], %[wb], %[a1]\n\t"                          \
    "smlatt %[a3], %[xb], %[wb], %[a3]\n\t"
#define MCBK_DW_ROW3(xp, wp)                                                                   \
    do {                                                                                       \
        uint32_t xa_, xb_, wa_, wb_;                                                           \
        __asm__ volatile(MCBK_DW_ASM_TAP("") MCBK_DW_ASM_TAP(", %[xs]") MCBK_DW_ASM_TAP(", %[xs], lsl #1") \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(wp), \
                           [xa] "=&r"(xa_), [xb] "=&r"(xb_), [wa] "=&r"(wa_), [wb] "=&r"(wb_)       \
                         : [x] "r"(xp), [xs] "r"(xs), [offp] "r"(offp)                              \
                         : "memory");                                                          \
    } while (0)
#else
#define MCBK_DW_ROW3(xp, wp)                                                                   \
    do {                                                                                       \
        MCBK_DW_TAP(xp, wp);                                                                   \
        MCBK_DW_TAP((xp) + xs, (wp) + 4);                                                      \
        MCBK_DW_TAP((xp) + 2 * xs, (wp) + 8);                                                  \
        wp += 12;                                                                              \
    } while (0)
#endif
#if !MCBK_USE_DSP
#define MCBK_DW_TAP(xp, wp)                                                    \
    do {                                                                       \
        const int8_t *x_ = (xp);                                               \
        const int16_t *w_ = (wp);                                              \
        a0 += w_[0] * (x_[0] + off);                                           \
        a2 += w_[1] * (x_[2] + off);                                           \
        a1 += w_[2] * (x_[1] + off);                                           \
        a3 += w_[3] * (x_[3] + off);                                           \
    } while (0)
#endif

#if MCBK_USE_DSP
/* Output pixels of a 3x3 depthwise convolution (depth multiplier 1, no dilation, the short
 * requantization), every 4-channel group, in assembly (all 14 registers): per pixel and group
 * the folded bias (the input offset is in it, so the taps multiply the raw input bytes) plus
 * the 9 taps, requantized (requant()'s fast form), packed, clamped to [lo, hi] (lo4/hi4: splat4) and stored
 * as 4 bytes at out, without a round trip of the accumulators through memory. The input is
 * the padded row band (dw_band_row): a group's 4 bytes of consecutive columns are 4 bytes
 * apart, so the column step is an immediate. x is the first pixel's window origin for group
 * 0 (the groups gs bytes apart, the second row ys after the first, the third ys2 after the
 * second), w the groups' int16 weights (9 taps x (c0,c2),(c1,c3)), rq the groups'
 * requantization constants; `pixels` pixels (pixel pairs for mcbk_dw3x3_pairs_s*), their
 * window origins x_step apart, their outputs out_step. */
typedef struct mcbk_dw_geom {
    int32_t groups, gs, ys;
    const mcbk_rq_t *rq;
    uint32_t lo4, hi4;
    int32_t ys2, pixels, x_step, out_step;
} mcbk_dw_geom_t;
void mcbk_dw3x3_pixels(const int8_t *x, const int16_t *w, const int32_t *bias, int8_t *out, const mcbk_dw_geom_t *g);
void mcbk_dw3x3_pairs_s1(const int8_t *x, const int16_t *w, const int32_t *bias, int8_t *out, const mcbk_dw_geom_t *g);
void mcbk_dw3x3_pairs_s2(const int8_t *x, const int16_t *w, const int32_t *bias, int8_t *out, const mcbk_dw_geom_t *g);
/* The assembly reads these layouts by offset: fail the build if they change. */
typedef char mcbk_dw_layout_check[(sizeof(mcbk_dw_geom_t) == 40 && offsetof(mcbk_dw_geom_t, rq) == 12 &&
                                   offsetof(mcbk_dw_geom_t, lo4) == 16 && offsetof(mcbk_dw_geom_t, ys2) == 24 &&
                                   offsetof(mcbk_dw_geom_t, x_step) == 32 && sizeof(mcbk_rq_t) == 16 &&
                                   offsetof(mcbk_rq_t, mult) == 0 && offsetof(mcbk_rq_t, rs) == 8 &&
                                   offsetof(mcbk_rq_t, rnd) == 12) ? 1 : -1];
/* the weights load first (the row pointer, lr, may have just been computed), at immediate
 * offsets from a pointer that moves once per group: no load's base is written by the load
 * before, so the second and third pipeline (2+1+1) */
#define MCBK_DW_PX_TAP(WOFF, XADDR)           \
    "    ldr r10, [r1, #" WOFF "]\n"          \
    "    ldr r11, [r1, #" WOFF "+4]\n"        \
    "    ldr r8, " XADDR "\n"                 \
    "    sxtb16 r9, r8, ror #8\n"             \
    "    sxtb16 r8, r8\n"                     \
    "    smlabb r4, r8, r10, r4\n"            \
    "    smlatt r6, r8, r10, r6\n"            \
    "    smlabb r5, r9, r11, r5\n"            \
    "    smlatt r7, r9, r11, r7\n"
/* kernel row KY's three taps (weights at 24*KY bytes from r1) */
#define MCBK_DW_PX_ROW(KY)                          \
    MCBK_DW_PX_TAP("24*" KY, "[lr]")                \
    MCBK_DW_PX_TAP("24*" KY "+8", "[lr, #4]")       \
    MCBK_DW_PX_TAP("24*" KY "+16", "[lr, #8]")
/* requant()'s fast form of accumulator A with the constants of channel OFF/16 of the group at lr */
#define MCBK_DW_PX_RQ(A, OFF)                 \
    "    ldr r8, [lr, #" OFF "]\n"            \
    "    ldr r9, [lr, #" OFF "+8]\n"          \
    "    ldr r10, [lr, #" OFF "+12]\n"        \
    "    lsl " A ", " A ", #1\n"              \
    "    smmulr " A ", " A ", r8\n"           \
    "    add r10, r10, " A ", asr #31\n"      \
    "    add " A ", " A ", r10\n"             \
    "    asr " A ", " A ", r9\n"              \
    "    ssat " A ", #8, " A "\n"
__asm__(
    "    .pushsection .text.mcbk_dw3x3_pixels, \"ax\", %progbits\n"
    "    .syntax unified\n"
    "    .thumb\n"
    "    .p2align 2\n"
    "    .global mcbk_dw3x3_pixels\n"
    "    .type mcbk_dw3x3_pixels, %function\n"
    "    .thumb_func\n"
    "mcbk_dw3x3_pixels:\n"
    "    push {r4-r11, lr}\n"
    "    ldr r12, [sp, #36]\n"           /* geom: the 5th argument */
    "    sub sp, sp, #48\n"              /* [0] ys [4] end of the pixel's out [8] rq [12] ys2 [16] lo4 [20] hi4 */
    "    ldr r4, [r12, #8]\n"            /* [24] geom [28] the pixel's x [32] its out [36] pixels left */
    "    ldr r6, [r12, #24]\n"           /* [40] w [44] bias */
    "    ldr r7, [r12, #16]\n"
    "    ldr r8, [r12, #20]\n"
    "    ldr r9, [r12, #28]\n"
    "    str r4, [sp, #0]\n"
    "    str r6, [sp, #12]\n"
    "    strd r7, r8, [sp, #16]\n"
    "    str r12, [sp, #24]\n"
    "    str r9, [sp, #36]\n"
    "    strd r1, r2, [sp, #40]\n"
    "2:\n"                               /* per pixel */
    "    ldr r4, [r12, #12]\n"
    "    ldr r5, [r12, #0]\n"
    "    add r5, r3, r5, lsl #2\n"
    "    str r4, [sp, #8]\n"
    "    str r5, [sp, #4]\n"
    "    strd r0, r3, [sp, #28]\n"
    "    ldr r12, [r12, #4]\n"           /* the group step for the whole pixel */
    "1:\n"
    "    ldm r2!, {r4-r7}\n"             /* folded bias of 4 channels */
    "    mov lr, r0\n"
    MCBK_DW_PX_ROW("0")
    "    ldr r8, [sp, #0]\n"
    "    add lr, lr, r8\n"
    MCBK_DW_PX_ROW("1")
    "    ldr r8, [sp, #12]\n"
    "    add lr, lr, r8\n"
    MCBK_DW_PX_ROW("2")
    "    adds r1, r1, #72\n"             /* the next group's weights */
    "    ldr lr, [sp, #8]\n"             /* the group's requantization constants */
    MCBK_DW_PX_RQ("r4", "0")
    MCBK_DW_PX_RQ("r5", "16")
    MCBK_DW_PX_RQ("r6", "32")
    MCBK_DW_PX_RQ("r7", "48")
    "    add lr, lr, #64\n"
    "    str lr, [sp, #8]\n"
    "    pkhbt r4, r4, r6, lsl #16\n"    /* packed: bytes c0 c1 c2 c3 */
    "    pkhbt r5, r5, r7, lsl #16\n"
    "    uxtb16 r4, r4\n"
    "    uxtb16 r5, r5\n"
    "    orr r4, r4, r5, lsl #8\n"
    "    ldrd r8, r9, [sp, #16]\n"       /* clamped to [lo4, hi4] (as store4) */
    "    ssub8 r10, r4, r8\n"
    "    sel r4, r4, r8\n"
    "    ssub8 r10, r4, r9\n"
    "    sel r4, r9, r4\n"
    "    str r4, [r3], #4\n"
    "    add r0, r0, r12\n"
    "    ldr r8, [sp, #4]\n"
    "    cmp r3, r8\n"
    "    bne 1b\n"
    "    ldr r12, [sp, #24]\n"           /* the next pixel */
    "    ldr r0, [sp, #28]\n"
    "    ldr r3, [sp, #32]\n"
    "    ldr r8, [r12, #32]\n"
    "    ldr r9, [r12, #36]\n"
    "    add r0, r0, r8\n"
    "    add r3, r3, r9\n"
    "    ldrd r1, r2, [sp, #40]\n"
    "    ldr r8, [sp, #36]\n"
    "    subs r8, r8, #1\n"
    "    str r8, [sp, #36]\n"
    "    bne 2b\n"
    "    add sp, sp, #48\n"
    "    pop {r4-r11, pc}\n"
    "    .size mcbk_dw3x3_pixels, . - mcbk_dw3x3_pixels\n"
    "    .popsection\n");

/* Two pixels (A, B) per pass sharing each weight load: accumulators A r4-r7, B r8-r11 (c0..c3),
 * weights r0/r2, one input word sign-extended into r3/r12, row pointer lr, weights r1; the
 * rest lives on the stack. */
#define MCBK_DW2_MAC(XOFF, A0, A1, A2, A3)    \
    "    ldr r3, [lr, #" XOFF "]\n"           \
    "    sxtb16 r12, r3, ror #8\n"            \
    "    sxtb16 r3, r3\n"                     \
    "    smlabb " A0 ", r3, r0, " A0 "\n"     \
    "    smlatt " A2 ", r3, r0, " A2 "\n"     \
    "    smlabb " A1 ", r12, r2, " A1 "\n"    \
    "    smlatt " A3 ", r12, r2, " A3 "\n"
#define MCBK_DW2_W(WOFF)                      \
    "    ldr r0, [r1, #" WOFF "]\n"           \
    "    ldr r2, [r1, #" WOFF "+4]\n"
/* stride 1: B's window starts one column after A's, so each of the row's 4 input columns is
 * loaded and sign-extended once (column c: A's tap c, B's tap c - 1): 48 cycles per row */
#define MCBK_DW2_ROW_S1(KY)                                                         \
    MCBK_DW2_W("24*" KY) MCBK_DW2_MAC("0", "r4", "r5", "r6", "r7")                  \
    "    ldr r3, [lr, #4]\n"                                                        \
    "    sxtb16 r12, r3, ror #8\n"                                                  \
    "    sxtb16 r3, r3\n"                                                           \
    MCBK_DW2_SAME("r8", "r9", "r10", "r11")                                         \
    MCBK_DW2_W("24*" KY "+8") MCBK_DW2_SAME("r4", "r5", "r6", "r7")                 \
    "    ldr r3, [lr, #8]\n"                                                        \
    "    sxtb16 r12, r3, ror #8\n"                                                  \
    "    sxtb16 r3, r3\n"                                                           \
    MCBK_DW2_SAME("r8", "r9", "r10", "r11")                                         \
    MCBK_DW2_W("24*" KY "+16") MCBK_DW2_SAME("r4", "r5", "r6", "r7")                \
    MCBK_DW2_MAC("12", "r8", "r9", "r10", "r11")
/* the multiplies of the input word already in r3/r12 */
#define MCBK_DW2_SAME(A0, A1, A2, A3)         \
    "    smlabb " A0 ", r3, r0, " A0 "\n"     \
    "    smlatt " A2 ", r3, r0, " A2 "\n"     \
    "    smlabb " A1 ", r12, r2, " A1 "\n"    \
    "    smlatt " A3 ", r12, r2, " A3 "\n"
/* stride 2: tap by tap, the weights loaded once for both pixels: 54 cycles per row */
#define MCBK_DW2_ROW_S2(KY)                                                                               \
    MCBK_DW2_W("24*" KY) MCBK_DW2_MAC("0", "r4", "r5", "r6", "r7") MCBK_DW2_MAC("8", "r8", "r9", "r10", "r11")   \
    MCBK_DW2_W("24*" KY "+8") MCBK_DW2_MAC("4", "r4", "r5", "r6", "r7") MCBK_DW2_MAC("12", "r8", "r9", "r10", "r11") \
    MCBK_DW2_W("24*" KY "+16") MCBK_DW2_MAC("8", "r4", "r5", "r6", "r7") MCBK_DW2_MAC("16", "r8", "r9", "r10", "r11")
/* requant()'s fast form of A's and B's accumulators of channel OFF/16 with the constants of the group at lr */
#define MCBK_DW2_RQ(A, B, OFF)                \
    "    ldr r0, [lr, #" OFF "]\n"            \
    "    ldr r2, [lr, #" OFF "+8]\n"          \
    "    ldr r3, [lr, #" OFF "+12]\n"         \
    "    lsl " A ", " A ", #1\n"              \
    "    smmulr " A ", " A ", r0\n"           \
    "    add r12, r3, " A ", asr #31\n"       \
    "    add " A ", " A ", r12\n"             \
    "    asr " A ", " A ", r2\n"              \
    "    ssat " A ", #8, " A "\n"             \
    "    lsl " B ", " B ", #1\n"              \
    "    smmulr " B ", " B ", r0\n"           \
    "    add r12, r3, " B ", asr #31\n"       \
    "    add " B ", " B ", r12\n"             \
    "    asr " B ", " B ", r2\n"              \
    "    ssat " B ", #8, " B "\n"
/* stack: [0] ys [4] ys2 [8] gs [12] rq [16] lo4 [20] hi4 [24] out of A (running) [28] out_step
 * [32] group origin (running) [36] bias (running) [40] groups left [44] pairs left [48] w
 * [52] bias [64] the pair's x [68] its out [72] geom */
#define MCBK_DW2_FUNC(NAME, ROW)                                                  \
    "    .pushsection .text." NAME ", \"ax\", %progbits\n"                        \
    "    .syntax unified\n"                                                       \
    "    .thumb\n"                                                                \
    "    .p2align 2\n"                                                            \
    "    .global " NAME "\n"                                                      \
    "    .type " NAME ", %function\n"                                             \
    "    .thumb_func\n"                                                           \
    NAME ":\n"                                                                    \
    "    push {r4-r11, lr}\n"                                                     \
    "    ldr r12, [sp, #36]\n"                                                    \
    "    sub sp, sp, #80\n"                                                       \
    "    ldr r4, [r12, #8]\n"                                                     \
    "    ldr r5, [r12, #24]\n"                                                    \
    "    ldr r6, [r12, #4]\n"                                                     \
    "    ldr r7, [r12, #16]\n"                                                    \
    "    ldr r8, [r12, #20]\n"                                                    \
    "    ldr r9, [r12, #36]\n"                                                    \
    "    ldr r10, [r12, #28]\n"                                                   \
    "    strd r4, r5, [sp, #0]\n"                                                 \
    "    str r6, [sp, #8]\n"                                                      \
    "    strd r7, r8, [sp, #16]\n"                                                \
    "    str r9, [sp, #28]\n"                                                     \
    "    str r10, [sp, #44]\n"                                                    \
    "    strd r1, r2, [sp, #48]\n"                                                \
    "    str r12, [sp, #72]\n"                                                    \
    "3:\n"                                                                        \
    "    strd r0, r3, [sp, #64]\n"                                                \
    "    str r0, [sp, #32]\n"                                                     \
    "    str r3, [sp, #24]\n"                                                     \
    "    ldr r4, [r12, #12]\n"                                                    \
    "    ldr r5, [r12, #0]\n"                                                     \
    "    ldr r1, [sp, #48]\n"                                                     \
    "    ldr r6, [sp, #52]\n"                                                     \
    "    str r4, [sp, #12]\n"                                                     \
    "    str r5, [sp, #40]\n"                                                     \
    "    str r6, [sp, #36]\n"                                                     \
    "1:\n"                                                                        \
    "    ldr r0, [sp, #36]\n"                                                     \
    "    ldm r0!, {r4-r7}\n"                                                      \
    "    str r0, [sp, #36]\n"                                                     \
    "    mov r8, r4\n"                                                            \
    "    mov r9, r5\n"                                                            \
    "    mov r10, r6\n"                                                           \
    "    mov r11, r7\n"                                                           \
    "    ldr lr, [sp, #32]\n"                                                     \
    ROW("0")                                                                      \
    "    ldr r0, [sp, #0]\n"                                                      \
    "    add lr, lr, r0\n"                                                        \
    ROW("1")                                                                      \
    "    ldr r0, [sp, #4]\n"                                                      \
    "    add lr, lr, r0\n"                                                        \
    ROW("2")                                                                      \
    "    adds r1, r1, #72\n"                                                      \
    "    ldr r0, [sp, #32]\n"                                                     \
    "    ldr r2, [sp, #8]\n"                                                      \
    "    add r0, r0, r2\n"                                                        \
    "    str r0, [sp, #32]\n"                                                     \
    "    ldr lr, [sp, #12]\n"                                                     \
    MCBK_DW2_RQ("r4", "r8", "0")                                                  \
    MCBK_DW2_RQ("r5", "r9", "16")                                                 \
    MCBK_DW2_RQ("r6", "r10", "32")                                                \
    MCBK_DW2_RQ("r7", "r11", "48")                                                \
    "    add lr, lr, #64\n"                                                       \
    "    str lr, [sp, #12]\n"                                                     \
    "    pkhbt r4, r4, r6, lsl #16\n"                                             \
    "    pkhbt r5, r5, r7, lsl #16\n"                                             \
    "    uxtb16 r4, r4\n"                                                         \
    "    uxtb16 r5, r5\n"                                                         \
    "    orr r4, r4, r5, lsl #8\n"                                                \
    "    pkhbt r8, r8, r10, lsl #16\n"                                            \
    "    pkhbt r9, r9, r11, lsl #16\n"                                            \
    "    uxtb16 r8, r8\n"                                                         \
    "    uxtb16 r9, r9\n"                                                         \
    "    orr r8, r8, r9, lsl #8\n"                                                \
    "    ldrd r0, r2, [sp, #16]\n"                                                \
    "    ssub8 r3, r4, r0\n"                                                      \
    "    sel r4, r4, r0\n"                                                        \
    "    ssub8 r3, r4, r2\n"                                                      \
    "    sel r4, r2, r4\n"                                                        \
    "    ssub8 r3, r8, r0\n"                                                      \
    "    sel r8, r8, r0\n"                                                        \
    "    ssub8 r3, r8, r2\n"                                                      \
    "    sel r8, r2, r8\n"                                                        \
    "    ldr r3, [sp, #24]\n"                                                     \
    "    ldr r0, [sp, #28]\n"                                                     \
    "    str r4, [r3]\n"                                                          \
    "    str r8, [r3, r0]\n"                                                      \
    "    adds r3, r3, #4\n"                                                       \
    "    str r3, [sp, #24]\n"                                                     \
    "    ldr r0, [sp, #40]\n"                                                     \
    "    subs r0, r0, #1\n"                                                       \
    "    str r0, [sp, #40]\n"                                                     \
    "    bne 1b\n"                                                                \
    "    ldrd r0, r3, [sp, #64]\n"                                                \
    "    ldr r12, [sp, #72]\n"                                                    \
    "    ldr r4, [r12, #32]\n"                                                    \
    "    ldr r5, [r12, #36]\n"                                                    \
    "    add r0, r0, r4\n"                                                        \
    "    add r3, r3, r5, lsl #1\n"                                                \
    "    ldr r6, [sp, #44]\n"                                                     \
    "    subs r6, r6, #1\n"                                                       \
    "    str r6, [sp, #44]\n"                                                     \
    "    bne 3b\n"                                                                \
    "    add sp, sp, #80\n"                                                       \
    "    pop {r4-r11, pc}\n"                                                      \
    "    .size " NAME ", . - " NAME "\n"                                          \
    "    .popsection\n"
__asm__(MCBK_DW2_FUNC("mcbk_dw3x3_pairs_s1", MCBK_DW2_ROW_S1));
__asm__(MCBK_DW2_FUNC("mcbk_dw3x3_pairs_s2", MCBK_DW2_ROW_S2));
#endif

/* A 3x3 dilated window that leaves the input, gathered as [3][3][C] with the input zero point
 * where it leaves (those taps then add (zp - zp) * w = 0, as TFLM's skipped taps do). */
static void dw_gather3x3(const mcbk_dwconv_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0, int8_t *scratch) {
    const int32_t C = p->in_c;
    const int8_t zp = (int8_t)(-p->in_offset);
    for (int32_t ky = 0; ky < 3; ++ky) {
        const int32_t iy = iy0 + ky * p->dil_h;
        for (int32_t kx = 0; kx < 3; ++kx, scratch += C) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) memset(scratch, zp, (size_t)C);
            else memcpy(scratch, in_b + ((size_t)iy * p->in_w + ix) * C, (size_t)C);
        }
    }
}

/* Undilated 3x3 kernels read every window of their 4-channel groups from a band of three padded
 * input rows in the scratch, group by group: a slot holds, per group, dw_band_cols columns of
 * that group's 4 bytes (so a group's columns are 4 bytes apart, an immediate for the assembly);
 * band column j is input column j - pad_left, the input zero point outside the input, and a
 * whole row of it above or below the input. Input row iy lives in slot iy mod 3 and is copied
 * once, when an output row first needs it: each input byte is copied once (stride 1) instead
 * of once per border window, and no window needs bounds. */
static int dw_uses_band(const mcbk_dwconv_t *p) {
    return p->k_h == 3 && p->k_w == 3 && p->dil_h == 1 && p->dil_w == 1 && p->rest_c0 > 0;
}
static int32_t dw_band_cols(const mcbk_dwconv_t *p) { return (p->out_w - 1) * p->stride_w + 3; }
/* The band's columns of input column ix < 0 or >= in_w: the input zero point in every slot, once
 * per batch (rows copied later write only the other columns). */
static void dw_band_pads(const mcbk_dwconv_t *p, int8_t *band) {
    const int32_t cols = dw_band_cols(p), groups = p->rest_c0 >> 2;
    const uint32_t zp4 = splat4(-p->in_offset);
    for (int32_t r = 0; r < 3 * groups; ++r, band += (size_t)cols * 4) {
        for (int32_t j = 0; j < cols; ++j) {
            if (j < p->pad_left || j - p->pad_left >= p->in_w) memcpy(band + 4 * j, &zp4, 4);
        }
    }
}
__attribute__((noinline)) static void dw_band_row(const mcbk_dwconv_t *p, const int8_t *in_b, int32_t iy, int8_t *row) {
    const int32_t C = p->in_c, cols = dw_band_cols(p), groups = p->rest_c0 >> 2;
    const size_t gs = (size_t)cols * 4;
    if (iy < 0 || iy >= p->in_h) {
        const uint32_t zp4 = splat4(-p->in_offset);
        for (int32_t j = 0; j < groups * cols; ++j) memcpy(row + 4 * j, &zp4, 4);
        return;
    }
    const int32_t left = p->pad_left < cols ? p->pad_left : cols;
    const int32_t n = cols - left < p->in_w ? cols - left : p->in_w;   /* input columns */
    const int8_t *src = in_b + (size_t)iy * p->in_w * C;
    if (groups < n) {
        /* long rows of few groups: group by group, four columns per step (the loads pipeline) */
        for (int32_t g = 0; g < groups; ++g) {
            const int8_t *x = src + 4 * g;
            int8_t *d = row + (size_t)g * gs + (size_t)left * 4;
            int32_t k = 0;
            for (; k + 4 <= n; k += 4, x += 4 * C, d += 16) {
                uint32_t v0, v1, v2, v3;
                memcpy(&v0, x, 4);
                memcpy(&v1, x + C, 4);
                memcpy(&v2, x + 2 * C, 4);
                memcpy(&v3, x + 3 * C, 4);
                memcpy(d, &v0, 4);
                memcpy(d + 4, &v1, 4);
                memcpy(d + 8, &v2, 4);
                memcpy(d + 12, &v3, 4);
            }
            for (; k < n; ++k, x += C, d += 4) memcpy(d, x, 4);
        }
        return;
    }
    for (int32_t k = 0; k < n; ++k, src += C) {
        /* few columns of many groups: column by column, four groups per step */
        const int8_t *x = src;
        int8_t *d = row + (size_t)(left + k) * 4;
        int32_t g = 0;
        for (; g + 4 <= groups; g += 4, x += 16, d += 4 * gs) {
            uint32_t v0, v1, v2, v3;
            memcpy(&v0, x, 4);
            memcpy(&v1, x + 4, 4);
            memcpy(&v2, x + 8, 4);
            memcpy(&v3, x + 12, 4);
            memcpy(d, &v0, 4);
            memcpy(d + gs, &v1, 4);
            memcpy(d + 2 * gs, &v2, 4);
            memcpy(d + 3 * gs, &v3, 4);
        }
        for (; g < groups; ++g, x += 4, d += gs) memcpy(d, x, 4);
    }
}

void mcbk_dwconv2d(const mcbk_dwconv_t *p, const int8_t *in, int8_t *out, int8_t *scratch) {
    const int32_t C = p->in_c, H = p->in_h, W = p->in_w, OC = p->out_c, DM = p->depth_mult;
    const int32_t KH = p->k_h, KW = p->k_w, off = p->in_offset, fast = p->fast_rq;
    const int32_t lo = p->act_min, hi = p->act_max, zp_out = p->out_offset;
    const uint32_t lo4 = splat4(lo), hi4 = splat4(hi);
    const int32_t groups = p->rest_c0 >> 2, rest_w = OC - p->rest_c0;
    const int32_t xstep = p->dil_w * C, ystep = p->dil_h * W * C;
    const int full = KH == 3 && KW == 3 && groups > 0;
    const int band = dw_uses_band(p);
    const int32_t cols = dw_band_cols(p);
    const size_t band_row = (size_t)cols * p->rest_c0;
    /* bias_folded: undilated 3x3 with 4-channel groups, so read from the band */
    const int row_asm = MCBK_FAST_OUT_2PX && full && p->bias_folded && fast;
#if MCBK_USE_DSP
    const uint32_t offp = ((uint32_t)off & 0xFFFFu) | ((uint32_t)off << 16);
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in_b = in + (size_t)b * H * W * C;
        int32_t slot_row[3] = {INT32_MIN, INT32_MIN, INT32_MIN};   /* the input row in each band slot */
        if (band) dw_band_pads(p, scratch);
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            valid_range(iy0, p->dil_h, KH, H, &ky0, &ky1);
            const int8_t *rows[3] = {NULL, NULL, NULL};
            if (band) {
                for (int32_t ky = 0; ky < 3; ++ky) {
                    const int32_t iy = iy0 + ky, slot = ((iy % 3) + 3) % 3;
                    int8_t *row = scratch + slot * band_row;
                    if (slot_row[slot] != iy) {
                        dw_band_row(p, in_b, iy, row);
                        slot_row[slot] = iy;
                    }
                    rows[ky] = row;
                }
            }
            /* row_asm: only the channels past the last group here, the groups below */
            for (int32_t ox = 0; ox < p->out_w && (!row_asm || p->rest_c0 < OC); ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                valid_range(ix0, p->dil_w, KW, W, &kx0, &kx1);
                int8_t *o = out + (((size_t)b * p->out_h + oy) * p->out_w + ox) * OC;
                /* origin of the window (may lie outside the input; only valid taps are read) */
                const int8_t *x0 = in_b + ((ptrdiff_t)iy0 * W + ix0) * C;
                const int inside = ky0 == 0 && ky1 == KH && kx0 == 0 && kx1 == KW;
                const int8_t *xw = x0;          /* the window's origin, its column and row steps */
                int32_t xs = xstep, ys = ystep, ys2 = ystep, gs = 4;   /* gs: from a group's origin to the next's */
                if (band) {
                    xw = rows[0] + (size_t)ox * p->stride_w * 4;
                    xs = 4;
                    gs = cols * 4;
                    ys = (int32_t)(rows[1] - rows[0]);
                    ys2 = (int32_t)(rows[2] - rows[1]);
                } else if (full && !inside) {
                    dw_gather3x3(p, in_b, iy0, ix0, scratch);
                    xw = scratch;
                    xs = C;
                    ys = ys2 = 3 * C;
                }
                const int32_t g0 = row_asm ? groups : 0;
                const int16_t *wg = p->wext + (size_t)g0 * KH * KW * 4;
                for (int32_t g = g0; g < groups; ++g, wg += KH * KW * 4) {
                    const int32_t c = 4 * g;
                    int32_t a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
                    if (full) {
                        /* interior of a 3x3 window: no bounds, all nine taps unrolled */
                        const int8_t *r = xw + g * gs;
                        const int16_t *wt = wg;
                        MCBK_DW_ROW3(r, wt);
                        r += ys;
                        MCBK_DW_ROW3(r, wt);
                        r += ys2;
                        MCBK_DW_ROW3(r, wt);
                    } else {
                        const int8_t *xr = x0 + c + (ptrdiff_t)ky0 * ystep + (ptrdiff_t)kx0 * xstep;
                        const int16_t *wr = wg + ((size_t)ky0 * KW + kx0) * 4;
                        for (int32_t ky = ky0; ky < ky1; ++ky, xr += ystep, wr += 4 * KW) {
                            const int8_t *x = xr;
                            const int16_t *w = wr;
                            for (int32_t kx = kx0; kx < kx1; ++kx, x += xstep, w += 4) MCBK_DW_TAP(x, w);
                        }
                    }
                    store4(o + c, requant(a0, &p->rq[c], fast, zp_out), requant(a1, &p->rq[c + 1], fast, zp_out),
                           requant(a2, &p->rq[c + 2], fast, zp_out), requant(a3, &p->rq[c + 3], fast, zp_out),
                           lo4, hi4, lo, hi);
                }
                for (int32_t oc = p->rest_c0; oc < OC; ++oc) {
                    const int32_t c = oc / DM;
                    int32_t acc = p->bias[oc];
                    for (int32_t ky = ky0; ky < ky1; ++ky) {
                        for (int32_t kx = kx0; kx < kx1; ++kx) {
                            const int32_t iy = iy0 + ky * p->dil_h, ix = ix0 + kx * p->dil_w;
                            acc += p->wrest[(size_t)(ky * KW + kx) * rest_w + (oc - p->rest_c0)] *
                                   (in_b[((size_t)iy * W + ix) * C + c] + off);
                        }
                    }
                    o[oc] = store_act(requant(acc, &p->rq[oc], fast, zp_out), lo, hi);
                }
            }
#if MCBK_FAST_OUT_2PX
            if (row_asm) {
                /* every group of the row's pixels, requantized and stored, in the assembly kernels:
                 * pixel pairs sharing the weight loads (strides 1 and 2), then single pixels; after
                 * the channels past the last group (the loop above), which read the input itself:
                 * an output streamed over its input may overwrite input bytes of this row's
                 * windows, and the planner's margin allows that only pixel by pixel */
                const int32_t ys = (int32_t)(rows[1] - rows[0]), ys2 = (int32_t)(rows[2] - rows[1]);
                int8_t *o = out + ((size_t)b * p->out_h + oy) * p->out_w * OC;
                const int32_t pairs = p->stride_w <= 2 ? p->out_w / 2 : 0, done = 2 * pairs;
                if (pairs) {
                    const mcbk_dw_geom_t geom = {groups, cols * 4, ys, p->rq, lo4, hi4, ys2, pairs, 8 * p->stride_w, OC};
                    (p->stride_w == 1 ? mcbk_dw3x3_pairs_s1 : mcbk_dw3x3_pairs_s2)(rows[0], p->wext, p->bias_folded, o, &geom);
                }
                if (done < p->out_w) {
                    const mcbk_dw_geom_t geom = {groups, cols * 4, ys, p->rq, lo4, hi4, ys2, p->out_w - done,
                                                 4 * p->stride_w, OC};
                    mcbk_dw3x3_pixels(rows[0] + (size_t)done * p->stride_w * 4, p->wext, p->bias_folded,
                                      o + (size_t)done * OC, &geom);
                }
            }
#endif
        }
    }
}

/* ---- pooling -------------------------------------------------------------------------------- */

#if MCBK_USE_DSP
/* The sums of four neighbouring channels over a window of rows x cols pixels, two 16-bit lanes
 * a register (SXTAB16 adds without saturating): exact while the window has at most
 * MCBK_SUM4_MAX_PIXELS pixels, since |sum| <= 255 * 128 < 2^15. */
#define MCBK_SUM4_MAX_PIXELS 255
static inline void sum4_window(const int8_t *x, int32_t row_stride, int32_t col_stride, int32_t rows,
                               int32_t cols, int32_t sums[4]) {
    uint32_t s02 = 0, s13 = 0;
    for (int32_t r = 0; r < rows; ++r, x += row_stride) {
        const int8_t *xc = x;
        for (int32_t c = 0; c < cols; ++c, xc += col_stride) {
            const uint32_t v = (uint32_t)read32(xc);
            s02 = __sxtab16(s02, v);
            s13 = sxtab16_ror8(s13, v);
        }
    }
    sums[0] = (int16_t)s02;
    sums[1] = (int16_t)s13;
    sums[2] = (int32_t)s02 >> 16;
    sums[3] = (int32_t)s13 >> 16;
}

/* The maxima of four neighbouring channels over a window (SSUB8 sets GE where v >= m). */
static inline uint32_t max4_window(const int8_t *x, int32_t row_stride, int32_t col_stride, int32_t rows,
                                   int32_t cols) {
    uint32_t m = 0x80808080u;
    for (int32_t r = 0; r < rows; ++r, x += row_stride) {
        const int8_t *xc = x;
        for (int32_t c = 0; c < cols; ++c, xc += col_stride) {
            const uint32_t v = (uint32_t)read32(xc);
            (void)__ssub8(v, m);
            m = __sel(v, m);
        }
    }
    return m;
}
#endif

static inline int32_t avg_round(int32_t sum, int32_t count) {
    if (count == 0) return 0;
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

static void pool(const mcbk_pool_t *p, const int8_t *in, int8_t *out, int is_max) {
    const int32_t C = p->channels, H = p->in_h, W = p->in_w;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t fy0, fy1;
            valid_range(iy0, 1, p->f_h, H, &fy0, &fy1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t fx0, fx1;
                valid_range(ix0, 1, p->f_w, W, &fx0, &fx1);
                const int32_t count = (fy1 - fy0) * (fx1 - fx0);
                int8_t *o = out + (((size_t)b * p->out_h + oy) * p->out_w + ox) * C;
                int32_t c = 0;
#if MCBK_USE_DSP
                /* four channels at a time (the window's pixels are C bytes apart) */
                const int8_t *x0 = in + (((size_t)b * H + iy0 + fy0) * W + ix0 + fx0) * C;
                const int32_t rows = fy1 - fy0, cols = fx1 - fx0;
                if (is_max || count <= MCBK_SUM4_MAX_PIXELS) {
                    for (; c + 4 <= C; c += 4) {
                        int32_t v[4];
                        if (is_max) {
                            const uint32_t m = max4_window(x0 + c, W * C, C, rows, cols);
                            for (int j = 0; j < 4; ++j) v[j] = (int8_t)(m >> (8 * j));
                        } else {
                            sum4_window(x0 + c, W * C, C, rows, cols, v);
                            for (int j = 0; j < 4; ++j) v[j] = avg_round(v[j], count);
                        }
                        for (int j = 0; j < 4; ++j) o[c + j] = (int8_t)clamp32(v[j], p->act_min, p->act_max);
                    }
                }
#endif
                for (; c < C; ++c) {
                    int32_t acc = is_max ? -128 : 0;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = in + (((size_t)b * H + iy0 + fy) * W + ix0) * C + c;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int32_t v = x[(size_t)fx * C];
                            if (is_max) { if (v > acc) acc = v; } else acc += v;
                        }
                    }
                    if (!is_max) acc = avg_round(acc, count);
                    o[c] = (int8_t)clamp32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void mcbk_avg_pool(const mcbk_pool_t *p, const int8_t *in, int8_t *out) { pool(p, in, out, 0); }
void mcbk_max_pool(const mcbk_pool_t *p, const int8_t *in, int8_t *out) { pool(p, in, out, 1); }

/* ---- element-wise ----------------------------------------------------------------------- */

static inline int8_t add_one(const mcbk_binary_t *p, int32_t a, int32_t b) {
    const int32_t sa = shl_wrap(a + p->in1_offset, p->left_shift);
    const int32_t sb = shl_wrap(b + p->in2_offset, p->left_shift);
    const int32_t ra = rounding_divide_by_pot(sat_rounding_doubling_high_mul(sa, p->in1_mult), -p->in1_shift);
    const int32_t rb = rounding_divide_by_pot(sat_rounding_doubling_high_mul(sb, p->in2_mult), -p->in2_shift);
    const int32_t raw = rounding_divide_by_pot(sat_rounding_doubling_high_mul(ra + rb, p->out_mult), -p->out_shift)
                        + p->out_offset;
    return (int8_t)clamp32(raw, p->act_min, p->act_max);
}

static inline int8_t mul_one(const mcbk_binary_t *p, int32_t a, int32_t b) {
    const int32_t prod = (a + p->in1_offset) * (b + p->in2_offset);
    const int32_t raw = mbqm(prod, p->out_mult, p->out_shift) + p->out_offset;
    return (int8_t)clamp32(raw, p->act_min, p->act_max);
}

#define MCBK_BINARY_LOOP(FN)                                                                   \
    if (p->flat) {                                                                             \
        for (int32_t i = 0; i < p->size; ++i) out[i] = FN(p, in1[i], in2[i]);                  \
        return;                                                                                \
    }                                                                                          \
    size_t k = 0;                                                                              \
    for (int32_t d0 = 0; d0 < p->out_dims[0]; ++d0)                                            \
        for (int32_t d1 = 0; d1 < p->out_dims[1]; ++d1)                                        \
            for (int32_t d2 = 0; d2 < p->out_dims[2]; ++d2)                                    \
                for (int32_t d3 = 0; d3 < p->out_dims[3]; ++d3) {                              \
                    const size_t i1 = (size_t)d0 * p->in1_stride[0] + (size_t)d1 * p->in1_stride[1] + \
                                      (size_t)d2 * p->in1_stride[2] + (size_t)d3 * p->in1_stride[3]; \
                    const size_t i2 = (size_t)d0 * p->in2_stride[0] + (size_t)d1 * p->in2_stride[1] + \
                                      (size_t)d2 * p->in2_stride[2] + (size_t)d3 * p->in2_stride[3]; \
                    out[k++] = FN(p, in1[i1], in2[i2]);                                        \
                }

#if !(defined(MCBK_EXACT_RQ) && MCBK_EXACT_RQ)
/* ADD of equal shapes in the short form: each rounding right shift by e is
 * (x + 2^(e-1) + (x < 0 ? -1 : 0)) >> e (halves away from zero, as TFLite's), the output zero
 * point folded into the last one's rounding constant. Each input's rescaling depends on its
 * byte alone, so the compiler tabulates it, doubled for the output's SMMULR (p->table: 256
 * values for input 1, then 256 for input 2, indexed by byte + 128), and only the output's
 * rescaling is computed here. */
static __attribute__((noinline)) void add_fast(const mcbk_binary_t *p, const int8_t *in1, const int8_t *in2,
                                               int8_t *out) {
    const int32_t *t1 = p->table + 128, *t2 = p->table + 256 + 128;
    const int32_t n = p->size, mo = p->out_mult, eo = -p->out_shift;
    const int32_t ro = (1 << (eo - 1)) + shl_wrap(p->out_offset, eo);
    const int32_t lo = p->act_min, hi = p->act_max;
#if MCBK_USE_DSP
    /* the compiler keeps constants on the stack and reloads them every element: 20 cycles an
     * element here against its 36 */
    if (n <= 0) return;
    const int8_t *end = in1 + n;
    int32_t a, b;
    __asm__ volatile(
        "1:\n\t"
        "ldrsb %[a], [%[x1]], #1\n\t"
        "ldrsb %[b], [%[x2]], #1\n\t"
        "ldr %[a], [%[t1], %[a], lsl #2]\n\t"
        "ldr %[b], [%[t2], %[b], lsl #2]\n\t"
        "add %[a], %[a], %[b]\n\t"
        "smmulr %[a], %[a], %[mo]\n\t"
        "add %[b], %[ro], %[a], asr #31\n\t"
        "add %[a], %[a], %[b]\n\t"
        "asr %[a], %[a], %[eo]\n\t"
        "cmp %[a], %[lo]\n\t"
        "it lt\n\t"
        "movlt %[a], %[lo]\n\t"
        "cmp %[a], %[hi]\n\t"
        "it gt\n\t"
        "movgt %[a], %[hi]\n\t"
        "strb %[a], [%[o]], #1\n\t"
        "cmp %[x1], %[end]\n\t"
        "bne 1b\n\t"
        : [a] "=&r"(a), [b] "=&r"(b), [x1] "+r"(in1), [x2] "+r"(in2), [o] "+r"(out)
        : [t1] "r"(t1), [t2] "r"(t2), [mo] "r"(mo), [ro] "r"(ro), [eo] "r"(eo), [lo] "r"(lo), [hi] "r"(hi),
          [end] "r"(end)
        : "cc", "memory");
#else
    for (int32_t i = 0; i < n; ++i) {
        const int32_t ho = smmulr(t1[in1[i]] + t2[in2[i]], mo);
        out[i] = (int8_t)clamp32((ho + ro + (ho >> 31)) >> eo, lo, hi);
    }
#endif
}
#endif

void mcbk_add(const mcbk_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
#if !(defined(MCBK_EXACT_RQ) && MCBK_EXACT_RQ)
    if (p->fast && p->flat && p->table) {
        add_fast(p, in1, in2, out);
        return;
    }
#endif
    MCBK_BINARY_LOOP(add_one)
}

void mcbk_mul(const mcbk_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    MCBK_BINARY_LOOP(mul_one)
}

/* ---- softmax / logistic ------------------------------------------------------------------ */

static inline int32_t mul_by_quantized_multiplier_gt_one(int32_t x, int32_t mult, int32_t left_shift) {
    return sat_rounding_doubling_high_mul(shl_wrap(x, left_shift), mult);
}

void mcbk_softmax(const mcbk_softmax_t *p, const int8_t *in, int8_t *out) {
    const int acc_bits = 12;
    for (int32_t i = 0; i < p->outer; ++i) {
        const int8_t *x = in + (size_t)i * p->depth;
        int8_t *y = out + (size_t)i * p->depth;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < p->depth; ++c) if (x[c] > max_in_row) max_in_row = x[c];
        int32_t sum_of_exps = 0;
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = mul_by_quantized_multiplier_gt_one(diff, p->input_mult, p->input_left_shift);
                sum_of_exps += rounding_divide_by_pot(exp_on_negative_values(scaled, 5), acc_bits);
            }
        }
        const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        const int num_bits_over_unit = acc_bits - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31));
        const int32_t shifted_scale = one_over_one_plus_x(shifted_sum_minus_one);
        const int exponent = num_bits_over_unit + 31 - 8;
        /* the second pass may overwrite x in place: read before write, element by element */
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = x[c] - max_in_row;
            int32_t v = -128;
            if (diff >= p->diff_min) {
                const int32_t scaled = mul_by_quantized_multiplier_gt_one(diff, p->input_mult, p->input_left_shift);
                const int32_t e = exp_on_negative_values(scaled, 5);
                const int32_t unsat = rounding_divide_by_pot(sat_rounding_doubling_high_mul(shifted_scale, e), exponent);
                v = clamp32(unsat - 128, -128, 127);
            }
            y[c] = (int8_t)v;
        }
    }
}

static int32_t logistic_q4(int32_t a) {
    if (a == 0) return 1 << 30;
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t pos = one_over_one_plus_x(exp_on_negative_values(-abs_a, 4));
    return a > 0 ? pos : INT32_MAX - pos;
}

void mcbk_logistic(const mcbk_logistic_t *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = in[i] - p->in_zero_point;
        int32_t v;
        if (x <= -p->range_radius) v = -128;
        else if (x >= p->range_radius) v = 127;
        else {
            const int32_t q4 = mbqm(x, p->input_mult, p->input_left_shift);
            v = clamp32(rounding_divide_by_pot(logistic_q4(q4), 23) - 128, -128, 127);
        }
        out[i] = (int8_t)v;
    }
}

/* ---- mean, pad, concat, (de)quantize, copy ------------------------------------------------ */

void mcbk_mean(const mcbk_mean_t *p, const int8_t *in, int8_t *out) {
    int32_t od[4], rd[4], st[4];
    st[3] = 1;
    for (int d = 2; d >= 0; --d) st[d] = st[d + 1] * p->in_dims[d + 1];
    for (int d = 0; d < 4; ++d) {
        od[d] = p->reduce[d] ? 1 : p->in_dims[d];
        rd[d] = p->reduce[d] ? p->in_dims[d] : 1;
    }
#if MCBK_USE_DSP
    /* the global average pool (NHWC, height and width reduced): four channels at a time */
    if (!p->reduce[0] && p->reduce[1] && p->reduce[2] && !p->reduce[3] && p->count <= MCBK_SUM4_MAX_PIXELS &&
        p->in_dims[3] % 4 == 0) {
        const int32_t C = p->in_dims[3];
        for (int32_t a = 0; a < od[0]; ++a) {
            for (int32_t c = 0; c < C; c += 4) {
                int32_t sums[4];
                sum4_window(in + (size_t)a * st[0] + c, st[1], st[2], p->in_dims[1], p->in_dims[2], sums);
                for (int j = 0; j < 4; ++j) {
                    const int32_t v = mbqm(sums[j] - p->in_zero_point * p->count, p->mult, p->shift) + p->out_zero_point;
                    out[(size_t)a * C + c + j] = (int8_t)clamp32(v, -128, 127);
                }
            }
        }
        return;
    }
#endif
    size_t k = 0;
    for (int32_t a = 0; a < od[0]; ++a)
        for (int32_t b = 0; b < od[1]; ++b)
            for (int32_t c = 0; c < od[2]; ++c)
                for (int32_t d = 0; d < od[3]; ++d) {
                    int32_t sum = 0;
                    for (int32_t ra = 0; ra < rd[0]; ++ra)
                        for (int32_t rb = 0; rb < rd[1]; ++rb)
                            for (int32_t rc = 0; rc < rd[2]; ++rc)
                                for (int32_t rdd = 0; rdd < rd[3]; ++rdd)
                                    sum += in[(size_t)(a + ra) * st[0] + (size_t)(b + rb) * st[1] +
                                              (size_t)(c + rc) * st[2] + (size_t)(d + rdd) * st[3]];
                    const int32_t shifted = sum - p->in_zero_point * p->count;
                    const int32_t v = mbqm(shifted, p->mult, p->shift) + p->out_zero_point;
                    out[k++] = (int8_t)clamp32(v, -128, 127);
                }
}

void mcbk_pad(const mcbk_pad_t *p, const int8_t *in, int8_t *out) {
    int32_t od[4];
    for (int d = 0; d < 4; ++d) od[d] = p->before[d] + p->in_dims[d] + p->after[d];
    const size_t es = (size_t)p->elem_size;
    const size_t row = (size_t)od[3] * es;
    const size_t in_row = (size_t)p->in_dims[3] * es;
    for (int32_t a = 0; a < od[0]; ++a)
        for (int32_t b = 0; b < od[1]; ++b)
            for (int32_t c = 0; c < od[2]; ++c) {
                int8_t *o = out + ((((size_t)a * od[1] + b) * od[2] + c) * row);
                const int32_t ia = a - p->before[0], ib = b - p->before[1], ic = c - p->before[2];
                if (ia < 0 || ia >= p->in_dims[0] || ib < 0 || ib >= p->in_dims[1] || ic < 0 ||
                    ic >= p->in_dims[2]) {
                    memset(o, (int8_t)p->value, row);
                    continue;
                }
                const int8_t *x = in + (((size_t)ia * p->in_dims[1] + ib) * p->in_dims[2] + ic) * in_row;
                memset(o, (int8_t)p->value, (size_t)p->before[3] * es);
                memcpy(o + (size_t)p->before[3] * es, x, in_row);
                memset(o + (size_t)p->before[3] * es + in_row, (int8_t)p->value, (size_t)p->after[3] * es);
            }
}

void mcbk_concat(int32_t outer, int32_t n_inputs, const int8_t *const *inputs, const int32_t *bytes,
                 int8_t *out) {
    for (int32_t r = 0; r < outer; ++r) {
        for (int32_t i = 0; i < n_inputs; ++i) {
            memcpy(out, inputs[i] + (size_t)r * bytes[i], (size_t)bytes[i]);
            out += bytes[i];
        }
    }
}

void mcbk_quantize_f32(int32_t size, float scale, int32_t zero_point, const float *in, int8_t *out) {
    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = (int32_t)roundf(in[i] / scale) + zero_point;
        out[i] = (int8_t)clamp32(v, -128, 127);
    }
}

void mcbk_requantize(int32_t size, int32_t in_zero_point, int32_t out_zero_point, int32_t mult,
                     int32_t shift, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = mbqm(in[i] - in_zero_point, mult, shift) + out_zero_point;
        out[i] = (int8_t)clamp32(v, -128, 127);
    }
}

void mcbk_dequantize(int32_t size, double scale, int32_t zero_point, const int8_t *in, float *out) {
    /* walk backwards so the float output may overlay the int8 input */
    for (int32_t i = size - 1; i >= 0; --i) out[i] = (float)(scale * (double)(in[i] - zero_point));
}

void mcbk_copy(int32_t bytes, const void *in, void *out) {
    if (in != out) memmove(out, in, (size_t)bytes);
}

/* ---- TRANSPOSE (kept apart from the arithmetic kernels above) ---- */

void mcbk_transpose(const mcbk_transpose_t *p, const int8_t *in, int8_t *out) {
    const int32_t *d = p->out_dims, *st = p->in_strides;
    for (int32_t a = 0; a < d[0]; ++a)
        for (int32_t b = 0; b < d[1]; ++b)
            for (int32_t c = 0; c < d[2]; ++c) {
                const int8_t *x = in + (size_t)a * st[0] + (size_t)b * st[1] + (size_t)c * st[2];
                for (int32_t e = 0; e < d[3]; ++e) *out++ = x[(size_t)e * st[3]];
            }
}

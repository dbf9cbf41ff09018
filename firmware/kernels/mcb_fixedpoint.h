/* Fixed-point requantization shared by the dense (mcb_kernels.c) and block-sparse
 * (mcb_sparse.c) kernels: TFLite's double rounding, its short form where the compiler proved
 * it exact, and the clamped four-output store. Internal to the kernels (static inline). */
#ifndef MCB_FIXEDPOINT_H
#define MCB_FIXEDPOINT_H

#include <stdint.h>
#include <string.h>

#include "mcb_kernels.h"

#if MCBK_USE_DSP
#include <arm_acle.h>
#endif

static inline int32_t sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) return INT32_MAX;
    /* TFLite adds a nudge of 2^30 (1 - 2^30 when negative) and divides by 2^31 truncating
     * toward zero; for every product that equals floor((ab + 2^30) / 2^31). */
    const int64_t ab = (int64_t)a * (int64_t)b;
    return (int32_t)((ab + (1LL << 30)) >> 31);
}

static inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
    if (exponent <= 0) return x;
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t shl_wrap(int32_t x, int n) { return (int32_t)((uint32_t)x << n); }

/* (a * b + 2^31) >> 32. With a = 2x and |x| < 2^30 this equals TFLite's
 * SaturatingRoundingDoublingHighMul(x, b) = floor((x*b + 2^30) / 2^31). */
static inline int32_t smmulr(int32_t a, int32_t b) {
#if MCBK_USE_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

static inline int32_t ssat8(int32_t v) {
#if MCBK_USE_DSP
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* acc -> output value (zero point added, saturated to int8, not yet clamped to the fused
 * activation). The fast form is used when the compiler proved |acc| < 2^30, ls == 0 and
 * 1 <= rs <= 22 for every channel: the rounding right shift (halves away from zero) then
 * takes the output zero point in its rounding constant rnd = 2^(rs-1) + (zp << rs). */
static inline int32_t requant(int32_t acc, const mcbk_rq_t *q, int fast, int32_t zp) {
#if defined(MCBK_EXACT_RQ) && MCBK_EXACT_RQ
    fast = 0; /* tests: force the long form everywhere */
#endif
    if (fast) {
        const int32_t h = smmulr(acc << 1, q->mult);
        return ssat8((h + q->rnd + (h >> 31)) >> q->rs);
    }
    const int32_t h = rounding_divide_by_pot(sat_rounding_doubling_high_mul(shl_wrap(acc, q->ls), q->mult), q->rs);
    return ssat8(h + zp);
}

/* Four int8 outputs (already saturated) clamped to [lo, hi] and stored as one word. */
static inline void store4(int8_t *o, int32_t v0, int32_t v1, int32_t v2, int32_t v3, uint32_t lo4, uint32_t hi4,
                          int32_t lo, int32_t hi) {
#if MCBK_USE_DSP
    uint32_t w = ((uint32_t)v0 & 0xFFu) | (((uint32_t)v1 & 0xFFu) << 8) | (((uint32_t)v2 & 0xFFu) << 16) |
                 ((uint32_t)v3 << 24);
    (void)__ssub8(w, lo4);
    w = __sel(w, lo4);
    (void)__ssub8(w, hi4);
    w = __sel(hi4, w);
    memcpy(o, &w, 4);
    (void)lo; (void)hi;
#else
    (void)lo4; (void)hi4;
    o[0] = (int8_t)(v0 < lo ? lo : (v0 > hi ? hi : v0));
    o[1] = (int8_t)(v1 < lo ? lo : (v1 > hi ? hi : v1));
    o[2] = (int8_t)(v2 < lo ? lo : (v2 > hi ? hi : v2));
    o[3] = (int8_t)(v3 < lo ? lo : (v3 > hi ? hi : v3));
#endif
}

static inline uint32_t splat4(int32_t v) { return ((uint32_t)v & 0xFFu) * 0x01010101u; }

/* The loop skeleton of the two-step assembly loops (dense dot_row4, sparse_group): STEP twice per
 * iteration over %[n] steps (n > 0); an odd count enters at the second. The loop head is
 * word-aligned: a 32-bit branch target at a halfword address costs a cycle more. */
#define MCBK_TWO_STEP_LOOP(STEP)       \
    "lsrs %[n], %[n], #1\n\t"          \
    "bcc 1f\n\t"                       \
    "adds %[n], %[n], #1\n\t"          \
    "b 2f\n\t"                         \
    ".p2align 2\n\t"                   \
    "1:\n\t"                           \
    STEP                               \
    "2:\n\t"                           \
    STEP                               \
    "subs %[n], %[n], #1\n\t"          \
    "bne 1b\n\t"

#endif /* MCB_FIXEDPOINT_H */

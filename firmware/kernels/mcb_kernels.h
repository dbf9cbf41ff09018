/* Int8 kernels for the ahead-of-time (AOT) runtime.
 *
 * Arithmetic follows TFLite's int8 quantization spec and matches TFLM's reference kernels bit
 * for bit (same fixed-point requantization and rounding). The generated model code fills the
 * parameter structs at compile time; kernels only loop.
 *
 * Build-time choice: with __ARM_FEATURE_DSP (Cortex-M4/M7/M33 with DSP) the convolution,
 * depthwise and fully-connected inner loops use the SIMD MAC instructions via <arm_acle.h>;
 * define MCBK_PORTABLE=1 to force the portable C path. Both give identical results.
 *
 * Convolution weights use a compile-time layout (see mcbk_conv_t): output channels in groups
 * of four, each kernel row's contiguous input bytes interleaved four at a time, so one pass
 * reads a single weight stream and one input stream per kernel row. */
#ifndef MCB_KERNELS_H
#define MCB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !(defined(MCBK_PORTABLE) && MCBK_PORTABLE)
#define MCBK_USE_DSP 1
#else
#define MCBK_USE_DSP 0
#endif

/* Which path this build uses: "dsp" or "portable". */
const char *mcbk_path(void);

/* Per-output-channel requantization, precomputed at compile time from TFLite's (multiplier,
 * shift): ls = max(shift, 0), rs = max(-shift, 0), and the rounding constant of the short form
 * rnd = 2^(rs-1) + (output zero point << rs) (see requant() in mcb_kernels.c). */
typedef struct mcbk_rq {
    int32_t mult, ls, rs, rnd;
} mcbk_rq_t;

/* CONV_2D (NHWC input) and FULLY_CONNECTED (a 1x1 convolution over `batches` 1x1 images).
 *
 * Weight layout (made by the compiler): output channels in groups of 4 (the last group padded
 * with zero channels); within a group, kernel row by kernel row, the row's k_w*in_c bytes
 * (contiguous in the NHWC input) padded with zero weights to row_pad (a multiple of 4), the 4
 * channels interleaved 4 bytes at a time. The input offset is folded into the bias
 * (bias + (-in_zp) * sum of the channel's weights), so padding must read the input zero point:
 * border pixels gather their window into `scratch` (k_h * row_pad bytes) filled with in_zp. */
typedef struct mcbk_conv {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t row_pad;      /* bytes per kernel row in the weight layout */
    int32_t in_zp;        /* input zero point: the value padding reads */
    int32_t out_offset;   /* output zero point */
    int32_t act_min, act_max;
    int32_t fast_rq;      /* 1: the short requantization is exact (checked at compile time) */
    const int8_t *weights;   /* grouped layout */
    const int32_t *bias;     /* folded; one per channel of the padded groups */
    const mcbk_rq_t *rq;     /* one per channel of the padded groups */
} mcbk_conv_t;
void mcbk_conv2d(const mcbk_conv_t *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* DEPTHWISE_CONV_2D. With depth_mult 1, channels in groups of 4 use `wext`: int16 weights,
 * per group and tap the words (c0, c2) and (c1, c3), the layout of the SIMD multiplies.
 * Output channels from rest_c0 on use `wrest`, int8 [k_h*k_w][out_c - rest_c0]. */
typedef struct mcbk_dwconv {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c, depth_mult;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t in_offset, out_offset, act_min, act_max;
    int32_t fast_rq, rest_c0;
    const int16_t *wext;
    const int8_t *wrest;
    const int32_t *bias;     /* out_c entries */
    const mcbk_rq_t *rq;     /* out_c entries */
    /* rest_c0 entries: bias + in_offset * sum of the channel's 9 weights, for 3x3 kernels without
     * dilation (NULL otherwise): the DSP kernel then multiplies the raw input bytes */
    const int32_t *bias_folded;
} mcbk_dwconv_t;
/* scratch, for 3x3 kernels with 4-channel groups: without dilation a band of three padded input
 * rows, 3 * ((out_w - 1) * stride_w + 3) * in_c bytes; with dilation 9 * in_c bytes for
 * the windows that leave the input (lower._dw_scratch states the same) */
void mcbk_dwconv2d(const mcbk_dwconv_t *p, const int8_t *in, int8_t *out, int8_t *scratch);

/* AVERAGE_POOL_2D / MAX_POOL_2D. */
typedef struct mcbk_pool {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t f_h, f_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} mcbk_pool_t;
void mcbk_avg_pool(const mcbk_pool_t *p, const int8_t *in, int8_t *out);
void mcbk_max_pool(const mcbk_pool_t *p, const int8_t *in, int8_t *out);

/* ADD / MUL with broadcasting over up to 4 dimensions: in*_stride are element strides of each
 * input per output dimension (0 where that input is broadcast). flat=1: same shapes. */
typedef struct mcbk_binary {
    int32_t flat, size;
    int32_t out_dims[4];
    int32_t in1_stride[4], in2_stride[4];
    int32_t in1_offset, in2_offset, out_offset;
    int32_t left_shift;                     /* ADD only */
    int32_t in1_mult, in1_shift, in2_mult, in2_shift; /* ADD only */
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
    /* ADD: 1 when the short form is exact (checked at compile time): left shift <= 20 bounds
     * every rescaled input below 2^29 (so SMMULR computes the doubling high multiply), the
     * inputs' right shifts lie in 0..22 and the output's in 1..22 (the output zero point fits in
     * the rounding constant) */
    int32_t fast;
    /* ADD, fast and flat: twice each input's rescaled value by byte (256 for input 1, then 256 for
     * input 2, index byte + 128), ((x + off) << (left_shift + 1)) * mult rounded high, then
     * rounding-shifted right by -shift; NULL otherwise */
    const int32_t *table;
} mcbk_binary_t;
void mcbk_add(const mcbk_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void mcbk_mul(const mcbk_binary_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* SOFTMAX over the last dimension, int8 in, int8 out (zero point -128, scale 1/256). */
typedef struct mcbk_softmax {
    int32_t outer, depth;
    int32_t input_mult, input_left_shift, diff_min;
} mcbk_softmax_t;
void mcbk_softmax(const mcbk_softmax_t *p, const int8_t *in, int8_t *out);

/* LOGISTIC, int8 in, int8 out (zero point -128, scale 1/256). */
typedef struct mcbk_logistic {
    int32_t size, in_zero_point, range_radius, input_mult, input_left_shift;
} mcbk_logistic_t;
void mcbk_logistic(const mcbk_logistic_t *p, const int8_t *in, int8_t *out);

/* MEAN over any set of axes of a (up to) 4-D tensor: in_dims extended to 4, reduce[d] != 0
 * for reduced axes. mult/shift already include 1/count (as TFLM folds it). */
typedef struct mcbk_mean {
    int32_t in_dims[4];
    int32_t reduce[4];
    int32_t count;
    int32_t in_zero_point, out_zero_point, mult, shift;
} mcbk_mean_t;
void mcbk_mean(const mcbk_mean_t *p, const int8_t *in, int8_t *out);

/* PAD of a (up to) 4-D tensor of elem_size-byte elements with a constant value. */
typedef struct mcbk_pad {
    int32_t in_dims[4];
    int32_t before[4], after[4];
    int32_t elem_size;
    int32_t value; /* int8 pad value (the output zero point unless given) */
} mcbk_pad_t;
void mcbk_pad(const mcbk_pad_t *p, const int8_t *in, int8_t *out);

/* CONCATENATION: outer rows; each input contributes `bytes[i]` contiguous bytes per row. */
void mcbk_concat(int32_t outer, int32_t n_inputs, const int8_t *const *inputs,
                 const int32_t *bytes, int8_t *out);

/* QUANTIZE float32 -> int8, QUANTIZE int8 -> int8 (requantize), DEQUANTIZE int8 -> float32. */
void mcbk_quantize_f32(int32_t size, float scale, int32_t zero_point, const float *in, int8_t *out);
void mcbk_requantize(int32_t size, int32_t in_zero_point, int32_t out_zero_point, int32_t mult,
                     int32_t shift, const int8_t *in, int8_t *out);
void mcbk_dequantize(int32_t size, double scale, int32_t zero_point, const int8_t *in, float *out);

/* RESHAPE when the planner could not alias input and output. */
void mcbk_copy(int32_t bytes, const void *in, void *out);

/* TRANSPOSE of a (up to) 4-D tensor of bytes: out[i0][i1][i2][i3] = in[...] with output axis d
 * taken from input axis perm[d]. Converters emit it before a flatten of a channels-first
 * model (PyTorch, ONNX), whose NCHW flatten order differs from the NHWC tensors on the device. */
typedef struct mcbk_transpose {
    int32_t out_dims[4];
    int32_t in_strides[4]; /* bytes to step in the input per output index, axis by axis */
} mcbk_transpose_t;
void mcbk_transpose(const mcbk_transpose_t *p, const int8_t *in, int8_t *out);

/* Fixed-point helpers, exposed for tests. */
int32_t mcbk_multiply_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift);

#ifdef __cplusplus
}
#endif
#endif

"""Fixed-point parameters computed at compile time exactly as TFLM computes them in Prepare.

Every function here mirrors one TFLM/TFLite quantization utility in arithmetic (double
precision from float32 inputs, round half away from zero), so the generated kernels start from
the same integers as the interpreter.
"""

from __future__ import annotations

import math

import numpy as np

from mcubench.core.errors import UserError


def _round_away(x: float) -> float:
    """std::round: halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier Q31, shift) with real ~= multiplier * 2^(shift-31) (TFLite QuantizeMultiplier)."""
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    q = int(_round_away(frac * (1 << 31)))
    assert q <= (1 << 31)
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        shift, q = 0, 0
    return q, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    assert 0.0 < real < 1.0, real
    q, shift = quantize_multiplier(real)
    assert shift <= 0
    return q, shift


def f32(x) -> float:
    return float(np.float32(x))


def activation_range(activation: int, scale: float, zero_point: int, qmin=-128, qmax=127) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: fused activation bounds in the output's integers."""

    def quantize(v: float) -> int:
        # TFLM: zero_point + round(float(v) / float(scale)), in float32
        return zero_point + int(_round_away(f32(np.float32(v) / np.float32(scale))))

    if activation == 1:    # RELU
        return max(qmin, quantize(0.0)), qmax
    if activation == 3:    # RELU6
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == 2:    # RELU_N1_TO_1
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    return qmin, qmax


def per_channel_multipliers(input_scale: float, filter_scales, output_scale: float, channels: int):
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel."""
    mults, shifts = [], []
    fs = [f32(s) for s in filter_scales]
    for c in range(channels):
        s = fs[c] if len(fs) > 1 else fs[0]
        eff = f32(input_scale) * s / f32(output_scale)
        m, sh = quantize_multiplier(eff)
        mults.append(m)
        shifts.append(sh)
    return mults, shifts


def fc_per_tensor_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: note the input*filter product is taken in float32."""
    product = f32(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / f32(output_scale))


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) for int8 softmax (5 integer bits)."""
    integer_bits = 5
    max_real = float((1 << 31) - 1)
    real = min(f32(beta) * f32(input_scale) * float(1 << (31 - integer_bits)), max_real)
    mult, left = quantize_multiplier(real)
    assert left >= 0
    radius = input_radius(integer_bits, left, 31)
    return mult, left, -radius


def input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    max_rescaled = 1.0 * ((1 << integer_bits) - 1) * float(1 << (total_bits - integer_bits)) / float(1 << left_shift)
    return int(math.floor(max_rescaled))


def logistic_params(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) for int8 logistic (4 integer bits)."""
    real = f32(input_scale) * float(1 << (31 - 4))
    frac, left = math.frexp(real)
    if left < 0:  # the kernel shifts the input left; TFLM has no right-shift path either
        raise UserError(f"LOGISTIC input scale {input_scale:g} is too small for the int8 kernel (left shift {left})",
                        "re-quantize the model with a representative dataset that covers the input range")
    mult = int(_round_away(frac * (1 << 31)))
    return mult, left, input_radius(4, left, 31)


def add_params(s1: float, s2: float, so: float):
    """Prepare for int8 ADD: left shift 20, both inputs rescaled to twice the larger scale."""
    left_shift = 20
    twice_max = 2.0 * max(f32(s1), f32(s2))
    m1 = quantize_multiplier_smaller_than_one_exp(f32(s1) / twice_max)
    m2 = quantize_multiplier_smaller_than_one_exp(f32(s2) / twice_max)
    mo = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * f32(so)))
    return left_shift, m1, m2, mo


def mean_params(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum: the 1/count factor folded into the multiplier, as TFLM does at Eval."""
    mult, shift = quantize_multiplier(f32(input_scale) / f32(output_scale))
    s = int(count).bit_length() - 1  # 63 - clz64(count)
    s = min(s, 32, 31 + shift)
    mult = int((mult << s) // count) if s >= 0 else int(mult // count)
    # int64 -> int32 static_cast wraps; the values stay within int32 by construction
    return mult, shift - s

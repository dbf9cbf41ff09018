"""Issue 3 acceptance on the digits CNN: PTQ variants, deployability, arena."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_int8_accuracy_within_two_points_of_float(digits_variants):
    f32 = digits_variants["float32"][1].metric["value"]
    int8 = digits_variants["int8"][1]
    assert f32 > 0.9
    assert int8.metric["value"] >= f32 - 0.02
    assert int8.metric["micro"] >= f32 - 0.02  # the real TFLM interpreter agrees
    assert int8.inputs[0]["dtype"] == "INT8" and int8.outputs[0]["dtype"] == "INT8"
    assert int8.inputs[0]["scale"] > 0


def test_float16_is_about_half_of_float32(digits_variants):
    f32 = digits_variants["float32"][1].size_bytes
    f16 = digits_variants["float16"][1].size_bytes
    assert 0.45 * f32 < f16 < 0.6 * f32


@pytest.mark.parametrize("name, words", [("float16", "float16"), ("dynamic", "hybrid")])
def test_float16_and_dynamic_are_not_tflm_deployable(digits_variants, name, words):
    analysis = digits_variants[name][1]
    assert analysis.deployable_tflm is False
    assert analysis.problems, "a non-deployable variant must say why"
    assert any(words in p.reason for p in analysis.problems)
    assert all(p.fix_recipe == "int8" for p in analysis.problems)
    assert analysis.tflm_log  # TFLM itself refused it, not just our static rules


def test_float32_and_int8_are_deployable_with_exact_arena(digits_variants):
    from mcubench.models import tflm_host

    for name in ("float32", "int8"):
        variant, analysis = digits_variants[name]
        assert analysis.deployable_tflm and not analysis.problems
        rerun = tflm_host.exact_arena(variant.tflite_bytes)
        assert rerun.exact_bytes == analysis.arena["exact_bytes"]
    assert digits_variants["int8"][1].arena["exact_bytes"] < digits_variants["float32"][1].arena["exact_bytes"]


def test_analysis_reports_ops_macs_and_serialises(digits_variants):
    import json

    analysis = digits_variants["int8"][1]
    names = [op["name"] for op in analysis.ops]
    assert "CONV_2D" in names and "FULLY_CONNECTED" in names
    # conv1: 8x8x16 outputs x 3x3x1; conv2: 4x4x32 x 3x3x16; fc1: 64 x 128; probs: 10 x 64
    assert analysis.total_macs == 8 * 8 * 16 * 9 + 4 * 4 * 32 * 9 * 16 + 64 * 128 + 10 * 64
    assert analysis.gzip_bytes < analysis.size_bytes
    assert analysis.lite_vs_micro["argmax_disagreements"] <= 2
    json.dumps(analysis.to_dict())

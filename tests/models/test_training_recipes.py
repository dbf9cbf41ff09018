"""Issue 3 acceptance: pruning, QAT and distillation on the digits CNN (seconds each)."""

from __future__ import annotations

import pytest

from mcubench.models.analysis import analyze
from mcubench.recipes import get_recipe
from mcubench.recipes.prune import last_update_step, polynomial_sparsity

pytestmark = pytest.mark.slow


def test_constant_pruning_reaches_75_percent_and_shrinks_gzip(digits, digits_variants):
    variant = get_recipe("prune_constant").apply(digits.model, digits.dataset, {"sparsity": 0.75, "epochs": 2, "frequency": 5})
    per_layer = variant.metrics["sparsity_per_layer"]
    assert set(per_layer) == {"conv1", "conv2", "fc1", "probs"}
    for layer, sparsity in per_layer.items():
        assert abs(sparsity - 0.75) <= 0.01, (layer, sparsity)
    analysis = analyze(variant.tflite_bytes, digits.dataset, source="pruned.tflite", run_micro=False)
    assert analysis.gzip_bytes < 0.7 * digits_variants["float32"][1].gzip_bytes
    assert analysis.metric["value"] > 0.85


def test_polynomial_schedule_matches_formula(digits):
    params = {"sparsity": 0.8, "initial_sparsity": 0.1, "start_epoch": 0, "end_epoch": 3, "epochs": 4, "frequency": 7}
    variant = get_recipe("prune_polynomial").apply(digits.model, digits.dataset, params)
    sched = variant.metrics["schedule"]
    assert len(variant.metrics["sparsity_log"]) == 4
    for entry in variant.metrics["sparsity_log"]:
        s = last_update_step(entry["step"], sched["begin_step"], sched["end_step"], sched["frequency"])
        expected = polynomial_sparsity(s, 0.1, 0.8, sched["begin_step"], sched["end_step"])
        for layer, measured in entry["sparsity"].items():
            assert abs(measured - expected) <= 0.01, (entry, layer, expected)
    assert polynomial_sparsity(sched["end_step"], 0.1, 0.8, sched["begin_step"], sched["end_step"]) == pytest.approx(0.8)


def test_pruning_combined_with_int8_is_deployable(digits):
    variant = get_recipe("prune_constant").apply(digits.model, digits.dataset, {"sparsity": 0.5, "epochs": 1, "quantize": "int8"})
    analysis = analyze(variant.tflite_bytes, digits.dataset, source="pruned_int8.tflite", run_micro=False)
    assert variant.name == "prune_constant_50_int8"
    assert analysis.deployable_tflm and analysis.inputs[0]["dtype"] == "INT8"


def test_qat_int8_at_least_ptq_minus_one_point(digits, digits_variants):
    variant = get_recipe("qat_int8").apply(digits.model, digits.dataset, {"epochs": 2})
    analysis = analyze(variant.tflite_bytes, digits.dataset, source="qat.tflite", run_micro=False)
    assert analysis.deployable_tflm
    assert analysis.metric["value"] >= digits_variants["int8"][1].metric["value"] - 0.01


def test_distilled_student_is_smaller_and_reported_next_to_teacher(digits):
    variant = get_recipe("distill").apply(digits.model, digits.dataset, {"epochs": 8, "quantize": "int8"})
    m = variant.metrics
    assert m["student_params"] < m["teacher_params"]
    assert m["teacher_metric"]["value"] > 0.9 and m["student_metric"]["value"] > 0.8
    assert analyze(variant.tflite_bytes, digits.dataset, source="student.tflite", run_micro=False).deployable_tflm

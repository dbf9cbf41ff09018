"""Issue #19: pruning that pays on the device — channel pruning (filters removed for real),
block pruning in the AOT sparse kernel's shape, and the `mcubench prune --structure` contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import mcubench, require_tool
from mcubench.models import tf as tfmod
from mcubench.models.analysis import analyze
from mcubench.recipes import get_recipe
from mcubench.recipes.channel_prune import plan_channels, prune_channels
from mcubench.recipes.prune import block_mask


def _residual_model():
    keras = tfmod.keras3()
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(16, 3, padding="same", name="stem")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU()(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = layers.Conv2D(16, 1, name="pw")(y)
    x = layers.Add(name="residual")([x, y])
    x = layers.Conv2D(12, 1, activation="relu", name="head")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(5, name="out")(x)
    return keras.Model(inputs, outputs)


def test_channel_plan_keeps_residual_channels_shared_and_outputs_fixed():
    model = _residual_model()
    plan = plan_channels(model)
    assert plan.root(plan.producers["stem"]) == plan.root(plan.producers["pw"])  # the ADD joins them
    assert plan.channelwise["dw"] == plan.producers["stem"] and "stem_bn" in plan.channelwise
    assert not plan.prunable(plan.producers["out"])  # a model output keeps its channels
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    same, _ = prune_channels(model, 0.0)
    np.testing.assert_allclose(same.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    pruned, report = prune_channels(model, 0.5)
    assert report["stem"]["channels"] == report["pw"]["channels"] == 8
    assert report["head"]["channels"] == 8 and report["out"]["channels"] == 5
    assert pruned.get_layer("dw").get_weights()[0].shape[2] == 8
    assert pruned.predict(x, verbose=0).shape == (4, 5)


def test_channel_pruning_digits_cuts_macs_and_reports_the_accuracy_cost(digits, digits_variants):
    variant = get_recipe("prune_channels").apply(digits.model, digits.dataset, {"sparsity": 0.5, "epochs": 4, "quantize": "int8"})
    analysis = analyze(variant.tflite_bytes, digits.dataset, source="ch.tflite")
    _, dense = digits_variants["int8"]
    assert analysis.total_macs <= 0.55 * dense.total_macs
    assert analysis.size_bytes < dense.size_bytes
    assert analysis.lite_vs_micro["argmax_disagreements"] == 0  # runs under the TFLM host interpreter
    cost = dense.metric["value"] - analysis.metric["value"]
    print(f"digits int8: dense {dense.metric['value']:.4f}, 50 % channels pruned + fine-tuned "
          f"{analysis.metric['value']:.4f} (cost {cost * 100:.2f} points)")
    assert cost <= 0.02
    assert variant.metrics["channels_per_layer"]["conv1"] == {"channels": 8, "was": 16}


def test_block_mask_zeroes_whole_4x4_blocks():
    w = np.random.default_rng(1).normal(size=(1, 1, 24, 10)).astype(np.float32)
    mask = block_mask(w, (4, 4), 0.5)
    m2 = mask.reshape(24, 10)
    # every block is all kept or all masked (edge blocks over the columns they hold)
    for r in range(6):
        for c in range(3):
            block = m2[4 * r:4 * r + 4, 4 * c:min(4 * c + 4, 10)]
            assert block.min() == block.max()
    assert round(0.5 * 18) == sum(m2[4 * r, 4 * c] == 0 for r in range(6) for c in range(3))


@pytest.mark.slow
@pytest.mark.parametrize("structure,sparsity", [("block", "0.75"), ("channels", "0.5")])
def test_prune_structure_cli_contract_runs_bit_exact_on_the_aot_runtime(structure, sparsity, tmp_path):
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    out = tmp_path / "out"
    proc = mcubench("prune", "--example", "kws_dscnn", "--structure", structure, "--sparsity", sparsity,
                    "--quantize", "int8", "--epochs", "2", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    variants = json.loads(proc.stdout)["variants"]
    pruned = [v for v in variants if v["recipe"] != "float32"]
    assert len(pruned) == 1 and pruned[0]["file"].endswith("_int8.tflite")
    baseline = next(v for v in variants if v["recipe"] == "float32")
    if structure == "channels":
        assert pruned[0]["macs"] <= 0.55 * baseline["macs"]
    else:
        assert pruned[0]["macs"] == baseline["macs"]  # zeros are still MACs to the interpreter
        from mcubench.runtimes.aot import compile_model

        compile_model((out / pruned[0]["file"]).read_bytes(), tmp_path / "c")
        assert (tmp_path / "c" / "model.c").read_text().count("mcbk_sparse_conv(") >= 5  # conv0 and the pointwise layers
    bench = mcubench("bench", str(out / pruned[0]["file"]), "--runtime", "aot", "--estimate", "mps2-an386", "--json",
                     "--warmup", "0", "--runs", "1", "--out", str(tmp_path / "bench.json"))
    assert bench.returncode == 0, bench.stderr[-3000:]
    result = json.loads(bench.stdout)
    assert result["outputs_match"] is True
    assert result["estimate"]["estimated_cycles"] > 0


@pytest.mark.slow
def test_prune_study_reports_device_columns_and_plots(tmp_path):
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    out = tmp_path / "study"
    proc = mcubench("prune", "--example", "kws_dscnn", "--study", "--structure", "channels", "--sparsity", "0.5",
                    "--epochs", "1", "--workers", "1", "--out", str(out), "--json",
                    env={"MCUBENCH_RESULTS": str(tmp_path / "results")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout)["rows"]
    assert [r["structure"] for r in rows] == ["dense", "channels"]
    dense, pruned = rows
    for r in rows:
        assert r["outputs_match"] is True
        assert r["flash_bytes"] > 0 and r["arena_bytes"] > 0 and r["instructions"] > 0
        assert r["estimated_cycles"] > 0 and r["estimate_board"] == "nano33ble"
    assert pruned["float32_gzip_bytes"] > 0 and pruned["dynamic_gzip_bytes"] > 0
    assert pruned["macs"] <= 0.55 * dense["macs"] and pruned["x_dense"] < 0.6
    # kws_dscnn's data is synthetic (no accuracy claim): no accuracy-vs-latency plot, the size plot stays
    assert dense["metric"] is None and not (out / "plots" / "metric_latency.png").exists()
    assert (out / "plots" / "size_sparsity.png").is_file()
    assert "Pruning study" in (out / "report.md").read_text()


def test_m_by_n_makes_one_job_per_schedule_named_by_the_sparsity_it_reaches():
    """tfmot's M:N ignores the schedule's target sparsity: asking for three sparsities must not
    train three identical models labelled 50, 75 and 87.5 %."""
    from mcubench import cli
    from mcubench.commands.prune import recipe_grid

    args = cli.build_parser().parse_args(["prune", "--example", "digits", "--out", "x", "--structure", "block,none",
                                          "--block", "2:4", "--sparsity", "0.5,0.75,0.875"])
    grid = recipe_grid(args, ("int8",), ("constant",), [(0, 3)])
    m_by_n = [params for _, params in grid if params.get("m_by_n")]
    assert [p["sparsity"] for p in m_by_n] == [0.5]
    assert sorted(p["sparsity"] for _, p in grid if not p.get("m_by_n")) == [0.5, 0.75, 0.875]

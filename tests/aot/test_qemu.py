"""The AOT runtime end to end on the emulated Cortex-M4: quantize → compile → PlatformIO build
→ QEMU → result, for every example model, checked bit for bit against the host TFLM interpreter.

Models come from `mcubench.recipes.reference_models` (the examples quantized with the
int8 recipe, cached in the work dir); images are cached by content, so a re-run only runs QEMU.
"""

from __future__ import annotations

import json
import re

import aot_modelgen as modelgen
import pytest
from helpers import mcubench, require_tool, validate_random_int8_inputs

pytestmark = pytest.mark.slow

EXAMPLES = ("digits", "sine", "kws_dscnn")


@pytest.fixture(scope="module", autouse=True)
def _tools():
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")


@pytest.fixture(scope="module")
def example_paths():
    pytest.importorskip("tensorflow")
    from mcubench.recipes.reference_models import model_path

    return {name: model_path(name) for name in EXAMPLES}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_on_qemu_and_matches_host_tflm(name, example_paths):
    # The CLI contract: `mcubench bench MODEL.tflite --runtime aot --json`.
    proc = mcubench("bench", str(example_paths[name]), "--runtime", "aot", "--json", "--warmup", "0", "--runs", "2")
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(proc.stdout)
    assert result["identity"]["runtime"] == "aot"
    assert result["identity"]["target"] == "qemu"
    assert result["outputs_match"] is True, result["correctness"]
    assert result["correctness"]["compared_with"] == "tflm-host"
    assert result["correctness"]["max_abs_diff"] == 0
    assert result["latency"]["unit"] == "instructions"
    assert result["instructions"] > 0
    # Per-operator figures cover the model's operators and add up to (about) the whole run.
    ops = result["ops"]
    assert ops and all(o["unit"] == "instructions" for o in ops)
    total = sum(o["value"] for o in ops)
    assert total <= result["instructions"] * 1.02 + 200
    assert total >= result["instructions"] * 0.9 - 200
    assert result["memory"]["arena_allocated_bytes"] > 0


def test_dsp_and_portable_kernels_agree_bit_for_bit_on_qemu(example_paths):
    from mcubench.bench.pipeline import run_bench
    from mcubench.bench.request import BenchRequest
    from mcubench.bench.workloads import workload_for_model
    from mcubench.runtimes.aot.runtime import AotOptions

    results = {}
    for dsp in (True, False):
        workload, runtime, extras = workload_for_model(example_paths["kws_dscnn"], "aot")
        workload.warmup, workload.runs = 0, 1
        workload.options = AotOptions(dsp=dsp)
        outcome = run_bench(BenchRequest(workload=workload, runtime=runtime, target="qemu", **extras))
        results[dsp] = outcome.result
    dsp, portable = results[True], results[False]
    assert dsp["identity"]["workload"]["params"]["kernels"] == "dsp"
    assert portable["identity"]["workload"]["params"]["kernels"] == "portable"
    assert dsp["outputs_match"] is True and portable["outputs_match"] is True
    assert dsp["correctness"]["output_hex"] == portable["correctness"]["output_hex"]
    # Two really different builds: the SIMD path does the same work in far fewer instructions.
    assert dsp["instructions"] < 0.8 * portable["instructions"]


def test_bench_estimate_contract(example_paths):
    # `mcubench bench MODEL.tflite --runtime aot --estimate mps2-an386 --json` (issue 17)
    proc = mcubench("bench", str(example_paths["sine"]), "--runtime", "aot", "--estimate", "mps2-an386", "--json",
                    "--warmup", "0", "--runs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert isinstance(result["estimate"]["estimated_cycles"], int) and result["estimate"]["estimated_cycles"] > 0
    assert result["estimate"]["model_version"]
    assert result["outputs_match"] is True
    assert result["memory"]["arena_used_bytes"] > 0


def test_aot_bench_reports_estimated_cycles_per_mac(example_paths):
    proc = mcubench("aot-bench", "--models", "sine", "--estimate", "mps2-an386,nano33ble", "--json",
                    env={"MCUBENCH_TFLM_DIR": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(proc.stdout)
    assert set(row["estimated_cycles"]) == {"mps2-an386", "nano33ble"}
    # flash wait states only add cycles; the per-MAC figure is the zero-wait-state one
    assert row["estimated_cycles"]["nano33ble"] > row["estimated_cycles"]["mps2-an386"] > row["instructions"] * 0.9
    assert row["cycles_per_mac"] == pytest.approx(row["estimated_cycles"]["mps2-an386"] / row["macs"])
    assert row["outputs_match"] is True and row["tflm"] is None and row["model_version"]


def _assembly_chain_is_bit_exact(name: str, fast_call: str, assembly_layers: int, tmp_path, seed: int) -> None:
    """Compiles modelgen's chain `name` for the DSP path, checks that each of its
    `assembly_layers` layers takes the assembly kernel (`fast_call` matches the kernel call in
    model.c, its first group the fast-requantization flag), then runs 30 random inputs under
    QEMU: TFLM's bytes every time."""
    pytest.importorskip("tensorflow")
    from mcubench.models.evaluate import io_quantization
    from mcubench.runtimes.aot import compile_model

    spec = modelgen.MULTI_OP[name]
    model = modelgen.models({name: spec})[name]
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    compile_model(model, tmp_path / "c", dsp=True, profile_ops=False)
    assert re.findall(fast_call, (tmp_path / "c" / "model.c").read_text()) == ["1"] * assembly_layers
    (_, scale, zero_point), _ = io_quantization(model)
    validate_random_int8_inputs(path, spec["inputs"][0], scale, zero_point, tmp_path, seed=seed)


def test_fully_connected_tails_are_bit_exact_on_qemu(tmp_path):
    # The DSP FULLY_CONNECTED kernel (mcbk_fc_rows4, assembly) enters its four-step loop at
    # each remainder of the row length and leaves a partial last group of channels to C: a
    # chain of Dense layers covering them all; every layer takes the short requantization,
    # the assembly kernel's condition.
    layers = len(modelgen.MULTI_OP["fc_chain_tails"]["layers"])
    _assembly_chain_is_bit_exact("fc_chain_tails", r"(\d), op\d+_w, op\d+_bias", layers, tmp_path, seed=5)


@pytest.mark.parametrize("name, seed", [("dw_chain_edges", 6), ("dw_chain_even_s2", 7)])
def test_depthwise_edges_are_bit_exact_on_qemu(name, seed, tmp_path):
    # The DSP depthwise 3x3 kernels (mcbk_dw3x3_pairs_s1/_s2 and mcbk_dw3x3_pixels, assembly,
    # requantizing in place, reading the padded row band) on partial channel groups, border
    # windows on every side, odd widths, strides 1 and 2 and valid padding; every depthwise
    # layer takes the assembly kernels: short requantization and folded bias.
    layers = sum(layer["op"] == "dw" for layer in modelgen.MULTI_OP[name]["layers"])
    _assembly_chain_is_bit_exact(name, r"(\d), \d+, op\d+_wext, op\d+_wrest, op\d+_bias, op\d+_rq, op\d+_biasf",
                                 layers, tmp_path, seed=seed)


def test_pooling_edges_are_bit_exact_on_qemu(tmp_path):
    # The DSP pooling kernels sum (SXTAB16) or compare (SSUB8 and SEL) four channels a word,
    # and so does the global average pool's MEAN: modelgen's pool chain covers clipped windows,
    # a channel remainder and both strides, with 30 random inputs over the whole int8 range.
    pytest.importorskip("tensorflow")
    from mcubench.models.evaluate import io_quantization

    spec = modelgen.MULTI_OP["pool_chain_edges"]
    model = modelgen.models({"pool_chain_edges": spec})["pool_chain_edges"]
    path = tmp_path / "pool_chain_edges.tflite"
    path.write_bytes(model)
    (_, scale, zero_point), _ = io_quantization(model)
    validate_random_int8_inputs(path, spec["inputs"][0], scale, zero_point, tmp_path, seed=7)


def test_convolution_edges_are_bit_exact_on_qemu(tmp_path):
    # The DSP convolution kernel with the short requantization (mcbk_conv_2px_rq, assembly,
    # requantizing in registers) on five of its eight loop entries, partial channel groups,
    # odd pixel counts (the last pixel's results stored over its partner's), border windows and
    # strides; every layer takes it: dense (not sparse) and the short requantization.
    layers = len(modelgen.MULTI_OP["conv_chain_edges"]["layers"])
    _assembly_chain_is_bit_exact("conv_chain_edges", r"(\d), op\d+_w, op\d+_bias", layers, tmp_path, seed=7)


def test_convolution_clamps_narrower_than_int8_are_bit_exact_on_qemu(tmp_path):
    # mcbk_conv_2px_rq skips its clamp when the bounds are int8's own; here the first
    # convolution's ReLU clamps at its zero point (-53), so the clamp runs.
    _assembly_chain_is_bit_exact("conv_clamped", r"(\d), op\d+_w, op\d+_bias", 2, tmp_path, seed=8)


@pytest.mark.parametrize("name", ["dw_streamed_c10", "dw_streamed_c5"])
def test_depthwise_streamed_over_its_input_is_bit_exact_on_qemu(name, tmp_path):
    # The depthwise output starts a few bytes further below its input than the planner's margin
    # (checked here), and the layer's channels leave a remainder past the last group of 4: the
    # assembly stores a whole row's groups at once, so the remainder, read from the input
    # itself, must be computed first.
    pytest.importorskip("tensorflow")
    from mcubench.models.evaluate import io_quantization
    from mcubench.runtimes.aot import compile_model

    spec = modelgen.MULTI_OP[name]
    model = modelgen.models({name: spec})[name]
    project = compile_model(model, tmp_path / "c", dsp=True, profile_ops=False, keep_inputs=False)
    call = next(line for line in (tmp_path / "c" / "model.c").read_text().splitlines() if "mcbk_dwconv2d(" in line)
    x, y = (int(v) for v in re.findall(r"mcb_arena \+ (\d+)", call)[:2])
    margin = next(m for (i, o), m in project.plan.overlaps.items() if project.plan.offsets[o] == y)
    assert x - y > margin, (x - y, margin)  # streamed, further than the margin
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    (_, scale, zero_point), _ = io_quantization(model)
    validate_random_int8_inputs(path, spec["inputs"][0], scale, zero_point, tmp_path, seed=9)

"""Issue 18: PyTorch and ONNX models in, int8 on the board.

The CLI contracts on digits (the PyTorch example; a small user CNN with BatchNorm and adaptive
average pooling given as ``.pt2`` and as ``.onnx`` with channels-first data): int8 within 2
points of float32, the source model scored beside LiteRT and TFLM, and each int8 ``.tflite``
run by the AOT runtime on the emulated board bit-exact against the host TFLM interpreter.
Then PyTorch channel pruning really removes channels (MACs fall).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import mcubench, require_tool

pytestmark = pytest.mark.slow

EXTRA = "the torch extra is not installed (pip install -e '.[torch]'; bash host/dev.sh installs it)"


def _require_extra() -> None:
    for module in ("torch", "litert_torch", "onnx", "onnxruntime", "onnx2tf", "torch_pruning"):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"{EXTRA}: no {module}")


def _quantize(*source: str, out: Path) -> dict:
    proc = mcubench("quantize", *source, "--recipes", "int8", "--out", str(out), "--json", "--eval-samples", "360",
                    check=True, timeout=900)
    return json.loads(proc.stdout)


def _check_int8_close_to_float(summary: dict, out: Path) -> Path:
    variants = {v["recipe"]: v for v in summary["variants"]}
    assert set(variants) == {"float32", "int8"}
    f32, int8 = variants["float32"], variants["int8"]
    assert f32["accuracy"] > 0.85
    assert int8["accuracy"] >= f32["accuracy"] - 0.02
    assert int8["metric"]["micro"] >= f32["accuracy"] - 0.02
    # The source model itself (torch / onnxruntime) is scored on the same samples.
    assert f32["metric"]["source"] is not None and abs(f32["metric"]["source"] - f32["accuracy"]) <= 0.01
    assert int8["deployable_tflm"] is True
    path = out / int8["file"]
    assert path.is_file()
    return path


def _bench_aot_matches_tflm(path: Path) -> dict:
    require_tool("qemu-system-arm")
    result = json.loads(mcubench("bench", str(path), "--runtime", "aot", "--json", check=True, timeout=900).stdout)
    assert result["outputs_match"] is True
    assert result["correctness"]["compared_with"] == "tflm-host"
    assert result["correctness"]["max_abs_diff"] == 0
    return result


def user_cnn():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )


@pytest.fixture(scope="module")
def user_model_files(tmp_path_factory):
    """A user's CNN trained in PyTorch (seconds), saved as .pt2 and .onnx, with its NCHW data."""
    _require_extra()
    import torch

    from mcubench.models.torch_examples import digits_dataset_nchw, train_classifier

    folder = tmp_path_factory.mktemp("user_cnn")
    data = digits_dataset_nchw(0)
    np.savez(folder / "digits_nchw.npz", x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    torch.manual_seed(0)
    module = train_classifier(user_cnn(), data, epochs=10, batch_size=32, learning_rate=1e-2, seed=0)
    example = (torch.from_numpy(data.x_train[:1]),)
    torch.export.save(torch.export.export(module, example), folder / "cnn.pt2")
    torch.onnx.export(module, example, str(folder / "cnn.onnx"), dynamo=False, input_names=["image"], output_names=["logits"])
    return folder


def test_torch_example_int8_close_to_float_and_bit_exact_on_the_board(tmp_path):
    """Issue 18: `quantize --example digits --framework torch`; its flatten of NCHW becomes a
    TRANSPOSE the AOT runtime runs."""
    _require_extra()
    out = tmp_path / "torch_example"
    summary = _quantize("--example", "digits", "--framework", "torch", out=out)
    assert summary["dataset"]["name"] == "digits-nchw"
    path = _check_int8_close_to_float(summary, out)
    from mcubench.models.tflite_file import parse_tflite

    model = parse_tflite(path.read_bytes())
    assert "TRANSPOSE" in [op.name for op in model.ops]
    assert model.tensor(model.inputs[0]).shape == (1, 8, 8, 1)  # channels last on the device
    _bench_aot_matches_tflm(path)


def test_torch_kws_example_runs_bit_exact_on_the_board(tmp_path):
    """Issue 18: `--example kws_dscnn --framework torch` (the DS-CNN's twin in PyTorch, NCHW,
    synthetic data: latency only, so no accuracy) quantizes to int8 with int8 I/O, and the AOT
    runtime runs it bit-exact. Its 1-channel first convolution becomes a DEPTHWISE_CONV_2D."""
    _require_extra()
    out = tmp_path / "kws_torch"
    summary = _quantize("--example", "kws_dscnn", "--framework", "torch", out=out)
    assert summary["dataset"]["name"] == "kws-synthetic-nchw"
    int8 = next(v for v in summary["variants"] if v["recipe"] == "int8")
    assert int8["deployable_tflm"] is True
    ops = [o["name"] for o in json.loads((out / "int8.analysis.json").read_text())["ops"]]
    assert ops[0] == "DEPTHWISE_CONV_2D" and ops[-2:] == ["MEAN", "FULLY_CONNECTED"]
    _bench_aot_matches_tflm(out / int8["file"])


@pytest.mark.parametrize("suffix", ["pt2", "onnx"])
def test_user_cnn_file_int8_close_to_float_and_bit_exact_on_the_board(user_model_files, tmp_path, suffix):
    """Issue 18: `quantize --model M.pt2|M.onnx --data D.npz` with NCHW data."""
    out = tmp_path / suffix
    summary = _quantize("--model", str(user_model_files / f"cnn.{suffix}"), "--data", str(user_model_files / "digits_nchw.npz"), out=out)
    path = _check_int8_close_to_float(summary, out)
    ops = [o["name"] for o in json.loads((out / "int8.analysis.json").read_text())["ops"]]
    assert "MEAN" in ops and not {"QUANTIZE", "DEQUANTIZE"} & set(ops[:1] + ops[-1:])  # int8 at the edges
    _bench_aot_matches_tflm(path)


def test_torch_channel_pruning_removes_channels(tmp_path):
    """Issue 18: ln_structured channel pruning, then torch-pruning removes the channels: MACs fall."""
    _require_extra()
    from mcubench.models.analysis import analyze
    from mcubench.models.torch_examples import load_torch_example
    from mcubench.recipes import get_recipe

    source, data, _ = load_torch_example("digits")
    params = {"ratio": 0.5, "steps": 1, "epochs": 1, "final_epochs": 1, "quantize": "int8"}
    variant = get_recipe("torch_prune_channels").apply(source, data, params)
    dense = get_recipe("int8").apply(source, data, {})
    pruned_analysis, dense_analysis = analyze(variant.tflite_bytes, data), analyze(dense.tflite_bytes, data)
    assert variant.metrics["channels_after"] == [c // 2 for c in variant.metrics["channels_before"]]
    assert pruned_analysis.total_macs < 0.5 * dense_analysis.total_macs
    assert pruned_analysis.metric["value"] >= dense_analysis.metric["value"] - 0.05
    assert variant.name == "torch_prune_channels_50_int8"


def test_torch_global_l1_pruning_reaches_its_sparsity_and_keeps_accuracy():
    """Issue 18: global unstructured L1 (torch.nn.utils.prune), pruned then fine-tuned step by
    step, the masks made permanent: the int8 file carries the zeros."""
    _require_extra()
    from mcubench.models.analysis import analyze
    from mcubench.models.torch_examples import load_torch_example
    from mcubench.recipes import get_recipe

    source, data, _ = load_torch_example("digits")
    params = {"sparsity": 0.75, "steps": 2, "epochs": 1, "quantize": "int8"}
    variant = get_recipe("torch_prune_l1").apply(source, data, params)
    dense = get_recipe("int8").apply(source, data, {})
    assert abs(variant.metrics["sparsity_overall"] - 0.75) <= 0.01
    pruned_analysis, dense_analysis = analyze(variant.tflite_bytes, data), analyze(dense.tflite_bytes, data)
    assert pruned_analysis.gzip_bytes < dense_analysis.gzip_bytes  # the zeros are in the file
    assert pruned_analysis.metric["value"] >= dense_analysis.metric["value"] - 0.05


@pytest.mark.tflm
@pytest.mark.parametrize("suffix", ["pt2", "onnx"])
def test_torch_and_onnx_int8_files_are_bit_exact_on_tflm_too(user_model_files, tmp_path, tflm_dir, suffix):
    """Issue 18: where TFLM's sources are configured, the converted int8 files also run on the
    tflm runtime bit-exact against the host interpreter (reference and CMSIS-NN kernels), on
    the fixed input and on 30 test images. Their global average pool is an int8 MEAN with
    equal input and output scales, which the Arduino library's TFLM averages by truncating
    division: the workload registers mcubench's MEAN (firmware/runtimes/tflm/mcb_mean.cc)."""
    require_tool("qemu-system-arm")
    out = tmp_path / suffix
    data = user_model_files / "digits_nchw.npz"
    summary = _quantize("--model", str(user_model_files / f"cnn.{suffix}"), "--data", str(data), out=out)
    path = out / next(v["file"] for v in summary["variants"] if v["recipe"] == "int8")
    env = {"MCUBENCH_TFLM_DIR": str(tflm_dir)}
    for kernels in ("off", "on"):
        proc = mcubench("bench", str(path), "--runtime", "tflm", "--json", "--cmsis-nn", kernels, timeout=1800, env=env)
        assert proc.stdout, proc.stderr
        result = json.loads(proc.stdout)
        assert result["correctness"]["compared_with"] == "tflm-host"
        assert result["correctness"]["max_abs_diff"] == 0, kernels
    proc = mcubench("validate", str(path), "--data", str(data), "--runtime", "tflm", "--samples", "30", "--json",
                    timeout=1800, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["samples"] == 30 and doc["bit_exact"] == 30, [s for s in doc["per_sample"] if not s["bit_exact"]]


def _brightest_channel_data(seed: int = 0):
    """3-channel NCHW images labelled by their brightest channel: a wrong layout scrambles them."""
    from mcubench.models.data import Dataset

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=600)
    x = rng.uniform(0, 1, size=(600, 3, 6, 6)).astype(np.float32)
    x[np.arange(600), y] += 0.5
    return Dataset(x[:480], y[:480], x[480:], y[480:], task="classification", name="rgb-nchw")


@pytest.mark.parametrize("suffix", ["pt2", "onnx"])
def test_three_channel_nchw_data_is_transposed_not_reshaped(tmp_path, suffix):
    """Issue 18: with 3 channels, NCHW data reshaped instead of transposed would be noise; the
    ONNX file has a fixed batch of 1 and 3 channels, the case where onnx2tf downloads sample
    images unless mcubench opens the batch dimension (this runs offline)."""
    _require_extra()
    import torch
    import torch.nn as nn

    from mcubench.models.analysis import analyze
    from mcubench.models.load import load_model
    from mcubench.models.torch_examples import train_classifier
    from mcubench.recipes import get_recipe

    data = _brightest_channel_data()
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    train_classifier(module, data, epochs=5, batch_size=32, learning_rate=1e-2, seed=0)
    example = (torch.from_numpy(data.x_train[:1]),)
    path = tmp_path / f"rgb.{suffix}"
    if suffix == "pt2":
        torch.export.save(torch.export.export(module, example), path)
    else:
        torch.onnx.export(module, example, str(path), dynamo=False)
    source = load_model(path)
    variant = get_recipe("float32").apply(source, data, {})
    analysis = analyze(variant.tflite_bytes, data, reference=source.predict)
    assert analysis.inputs[0]["shape"] == [1, 6, 6, 3]
    assert analysis.metric["source"] > 0.9
    assert abs(analysis.metric["lite"] - analysis.metric["source"]) <= 1 / 120
    assert abs(analysis.metric["micro"] - analysis.metric["source"]) <= 1 / 120


def test_sweep_entry_names_an_onnx_model_with_its_data(user_model_files):
    """Issue 18: a sweep `path:` entry naming an .onnx (with `data:`) makes the recipe's variant
    and benches it like an example's."""
    require_tool("qemu-system-arm")
    from mcubench.sweep import parse_config, run_job

    config = parse_config({"models": [{"path": "cnn.onnx", "data": "digits_nchw.npz"}], "recipes": ["int8"],
                           "runtimes": ["aot"], "warmup": 0, "runs": 1}, "s.yaml", user_model_files)
    (job,) = config.jobs
    assert job.recipe == "int8" and job.data_sha256
    outcome = run_job(job)
    assert "record" in outcome, outcome
    record = outcome["record"]
    assert record["outputs_match"] is True
    assert record["host"]["accuracy"] > 0.85


def test_module_function_specs_load_or_fail_in_one_line(tmp_path, monkeypatch):
    """`--model package.module:function` returning (nn.Module, example_input); bad specs and a
    failing function are one UserError line each."""
    _require_extra()
    from mcubench.core.errors import UserError
    from mcubench.models.torch_onnx import load_torch_callable

    (tmp_path / "user_models.py").write_text(
        "import torch\n"
        "def tiny():\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)), torch.zeros(1, 1, 2, 2)\n"
        "def broken():\n    raise RuntimeError('no weights file')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module, example = load_torch_callable("user_models:tiny")
    assert example.shape == (1, 1, 2, 2) and not module.training
    for spec, needle in ((":tiny", "cannot be imported"), ("user_models:nope", "cannot be imported"),
                         ("user_models:broken", "failed: RuntimeError: no weights file")):
        with pytest.raises(UserError, match=needle):
            load_torch_callable(spec)

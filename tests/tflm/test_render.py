"""Rendering the TFLM firmware: always runs (no TFLM sources, no compiler needed)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLES, RECIPES

from mcubench.bench.render import render_project
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.runtimes.tflm import TFLM_DIR_ENV, model_facts, preflight_fit, resolver_method, resolver_methods_for, tflm_workload


def c_array_bytes(text: str, symbol: str) -> bytes:
    body = re.search(symbol + r"\[[^\]]*\] = \{(.*?)\n\};", text, re.S).group(1)
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))


def render(model_bytes: bytes, name: str, board_id: str, out: Path, monkeypatch, **kw):
    monkeypatch.delenv(TFLM_DIR_ENV, raising=False)
    board = load_board(board_id)
    return render_project("tflm", tflm_workload(model_bytes, name, **kw), board.for_target(board.default_target), out_dir=out)


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("recipe", RECIPES)
def test_renders_every_deployable_example_variant(example, recipe, example_variants, tmp_path, monkeypatch):
    from mcubench.models import tflm_host

    model, _, deployable = example_variants[(example, recipe)]
    if not deployable:
        pytest.skip(f"{example}/{recipe} is not deployable on TFLM per the analysis")
    project = render(model, f"{example}_{recipe}", "nano33ble", tmp_path / "p", monkeypatch)
    workload = (project.dir / "workload" / "workload.cc").read_text()
    model_c = (project.dir / "workload" / "model_data.cc").read_text()
    facts = model_facts(model)

    # the resolver holds exactly the model's op set, and is sized for it
    registered = re.findall(r"resolver->(Add\w+)\(", workload)
    assert sorted(registered) == sorted({resolver_method(op) for op in facts.op_set})
    assert len(registered) == len(set(registered))
    assert f"#define MCB_TFLM_RESOLVER_OPS {len(registered)}" in workload
    assert "AllOpsResolver" not in workload and "all_ops_resolver" not in workload
    # dense weights quantized per channel get mcubench's kernel (the library reads one scale),
    # and so does an integer MEAN (the library truncates or rescales in float)
    assert ("resolver->AddFullyConnected(tflite::Register_MCB_FULLY_CONNECTED_PER_CHANNEL())" in workload) == facts.fc_per_channel
    assert ("Override(tflite::BuiltinOperator_MEAN, tflite::Register_MCB_MEAN())" in workload) == facts.integer_mean
    assert ("MicroInterpreter(model, ops," in workload)
    if example == "kws_dscnn" and recipe == "int8":
        assert facts.integer_mean  # its global average pool

    # the C array round-trips to the model's bytes, aligned, with its hash
    assert c_array_bytes(model_c, "mcb_model_data") == model
    assert "alignas(16)" in model_c
    assert hashlib.sha256(model).hexdigest() in model_c

    # the arena is the exact TFLM figure plus the stated margin
    info = tflm_host.exact_arena(model)
    margin, budget = tflm_host.budget_32bit(info.exact_bytes)
    assert f"#define MCB_TFLM_ARENA_BYTES {budget}\n" in workload
    assert f"({info.exact_bytes} B," in workload and f"margin of {margin} B" in workload
    assert budget == info.exact_bytes + margin

    # the baked-in input is the bench's fixed test vector; one profiler slot per executed op
    from mcubench.models.bench_input import test_input

    assert c_array_bytes(workload, "input_buffer") == test_input(model)[1]
    assert f"#define MCB_TFLM_NODES {len(facts.op_names)}" in workload


def test_cli_render_writes_a_project_pio_accepts(example_variants, tmp_path, monkeypatch):
    """The CLI contract: render --example digits --runtime tflm --board nano33ble --out DIR."""
    from mcubench.cli import main
    from mcubench.core.pio_offline import pio_executable

    monkeypatch.delenv(TFLM_DIR_ENV, raising=False)
    out = tmp_path / "proj"
    assert main(["render", "--example", "digits", "--runtime", "tflm", "--board", "nano33ble", "--out", str(out)]) == 0
    ini = (out / "platformio.ini").read_text()
    assert "platform = nordicnrf52" in ini and "framework = arduino" in ini
    assert "tflite-micro-arduino-examples.git#" in ini  # pinned library
    assert not (out / ".pio").exists()  # rendered, not built
    proc = subprocess.run([pio_executable(), "project", "config", "-d", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "env:nano33ble" in proc.stdout


def test_rerender_rewrites_nothing(example_variants, tmp_path, monkeypatch):
    model = example_variants[("digits", "int8")][0]
    p = render(model, "digits_int8", "nano33ble", tmp_path / "p", monkeypatch)
    stamp = {f: f.stat().st_mtime_ns for f in (p.dir / "workload").iterdir()}
    p2 = render(model, "digits_int8", "nano33ble", tmp_path / "p", monkeypatch)
    assert p2.build_id == p.build_id
    assert {f: f.stat().st_mtime_ns for f in (p.dir / "workload").iterdir()} == stamp


def test_bare_metal_without_sources_names_the_variable(example_variants, tmp_path, monkeypatch):
    model = example_variants[("digits", "int8")][0]
    with pytest.raises(UserError) as err:
        render(model, "digits_int8", "mps2-an386", tmp_path / "p", monkeypatch)
    assert TFLM_DIR_ENV in err.value.message


def test_bad_tflm_dir_is_refused(example_variants, tmp_path, monkeypatch):
    model = example_variants[("digits", "int8")][0]
    with pytest.raises(UserError) as err:
        render(model, "digits_int8", "mps2-an386", tmp_path / "p", monkeypatch, tflm_dir=tmp_path)
    assert "Arduino-library layout" in err.value.message


def test_unknown_op_is_refused_before_building():
    from mcubench.runtimes.tflm import ModelFacts

    facts = ModelFacts(("CONV_2D", "STABLEHLO_ADD"), ("CONV_2D", "STABLEHLO_ADD"), (), 4, 4, "INT8", "INT8", 1)
    with pytest.raises(UserError) as err:
        resolver_methods_for(facts)
    assert "STABLEHLO_ADD" in err.value.message
    custom = dataclasses.replace(facts, op_set=("CONV_2D",), custom_ops=("TFLite_Detection_PostProcess",))
    with pytest.raises(UserError):
        resolver_methods_for(custom)


def test_resolver_method_names():
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"
    assert resolver_method("PADV2") == "AddPadV2"
    assert resolver_method("STABLEHLO_ADD") is None


def test_model_too_big_is_refused_with_figures(example_variants):
    model = example_variants[("digits", "int8")][0]
    tiny = dataclasses.replace(load_board("nano33ble"), flash_bytes=100_000, ram_bytes=20_000)
    with pytest.raises(UserError) as err:
        preflight_fit(model, tiny, "digits_int8")
    assert "cannot fit nano33ble" in err.value.message
    assert "> 100,000 B" in err.value.message and "> 20,000 B" in err.value.message
    est = preflight_fit(model, load_board("nano33ble"), "digits_int8")
    assert est.flash_bytes == len(model) + est.overhead["flash"]

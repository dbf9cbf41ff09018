"""No third-party log line in the default output of the model commands and bench (issue #16):
TensorFlow's C++ logs, absl's start-up lines, the converter's "Saved artifact" pages and the
interpreter's delegate notes are shown only with -v."""

from __future__ import annotations

import re

import pytest

from helpers import mcubench, require_tool, run_on_a_terminal

pytestmark = pytest.mark.slow

THIRD_PARTY = re.compile(
    r"^[IWEF]\d{4} |absl::InitializeLog|Saved artifact at|TensorSpec\(|XNNPACK|fully_quantize|oneDNN|cuda|"
    r"WARNING:tensorflow|Instructions for updating|tf\.lite\.Interpreter is deprecated|Processing \w+ \(platform",
    re.IGNORECASE | re.MULTILINE,
)


def third_party_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if THIRD_PARTY.search(line)]


@pytest.mark.parametrize("args", [
    ["quantize", "--example", "digits", "--recipes", "int8"],
    ["prune", "--example", "digits", "--sparsity", "0.5", "--epochs", "1", "--end-epoch", "1", "--quantize", "int8"],
    ["qat", "--example", "digits", "--epochs", "1"],
    ["distill", "--example", "digits", "--epochs", "1"],
], ids=lambda a: a[0])
def test_model_commands_print_no_third_party_lines(args, tmp_path):
    proc = mcubench(*args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert third_party_lines(proc.stdout + proc.stderr) == []


def test_verbose_shows_what_is_otherwise_hidden(tmp_path):
    """-v lets the same lines through: the filter above can see them."""
    proc = mcubench("quantize", "--example", "digits", "--recipes", "int8", "--out", str(tmp_path / "out"), "-v")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Saved artifact at" in proc.stderr
    assert third_party_lines(proc.stderr)


def test_bench_prints_no_third_party_lines(tmp_path):
    require_tool("qemu-system-arm")
    quantized = tmp_path / "q"
    mcubench("quantize", "--example", "digits", "--recipes", "int8", "--out", str(quantized), check=True)
    # The main job in a fresh work folder: its first run trains and quantizes the example.
    fresh = {"MCUBENCH_WORK": str(tmp_path / "work"), "MCUBENCH_RESULTS": str(tmp_path / "results")}
    for args, env in (([], fresh), ([str(quantized / "int8.tflite"), "--runtime", "aot"], None)):
        proc = mcubench("bench", *args, env=env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert third_party_lines(proc.stdout + proc.stderr) == []


def test_a_terminal_sees_progress_and_no_third_party_lines(tmp_path):
    """On a terminal the steps are shown (rich), and what TensorFlow prints stays captured."""
    shown = run_on_a_terminal("quantize", "--example", "sine", "--recipes", "int8", "--out", str(tmp_path / "out"), env={})
    assert "✓ recipe int8" in shown and "✓ evaluating int8" in shown
    assert third_party_lines(shown) == []


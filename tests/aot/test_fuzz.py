"""Issue 15: bounded, seeded fuzzing of the .tflite reader and the AOT compiler on damaged real
int8 models (bit flips, byte overwrites, truncations).

Every damaged file is either refused with a UserError or compiles; a bounded number of those
that compile and that the host TFLM interpreter also runs are built for the host and must
give TFLM's output bytes exactly. ``MCUBENCH_FUZZ_SCALE=10`` runs ten times the cases."""

from __future__ import annotations

import os
import random

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import build_host
from mcubench.core.errors import UserError
from mcubench.models.tflite_file import parse_tflite
from mcubench.runtimes.aot import compile_model

SCALE = int(os.environ.get("MCUBENCH_FUZZ_SCALE", "1"))
# small single-input models covering the operator families (the host TFLM run takes one input)
MODELS = ["tiny_cnn", "tiny_dscnn", "fc_relu", "dw_3x3_relu", "conv_s2_same_relu", "softmax_10", "logistic",
          "mean_gap", "pad", "avgpool_3_s2_same", "maxpool_3_s2_same", "float_io_conv"]
BITEXACT_CASES = 300 * SCALE  # damaged files tried for the TFLM comparison
BITEXACT_CHECKED = 24 * SCALE  # compiled survivors built and compared (the slow part)


def _constant_ranges(model: bytes) -> list[tuple[int, int]]:
    """Where the weight bytes lie in the file, so flips can aim at the structure around them."""
    ranges = []
    for t in parse_tflite(model).tensors:
        if t.data and len(t.data) >= 8:
            at = model.find(t.data)
            if at >= 0:
                ranges.append((at, at + len(t.data)))
    return ranges


def _damage(model: bytes, rng: random.Random, structure_only: bool) -> tuple[bytes, str]:
    data = bytearray(model)
    kind = rng.choice(["bit", "bit", "bytes", "truncate"])
    if kind == "truncate":
        cut = rng.randrange(len(data))
        return bytes(data[:cut]), f"truncated at {cut}"
    ranges = _constant_ranges(model) if structure_only else []

    def position() -> int:
        while True:
            p = rng.randrange(len(data))
            if not any(a <= p < b for a, b in ranges):
                return p

    if kind == "bit":
        p, bit = position(), rng.randrange(8)
        data[p] ^= 1 << bit
        return bytes(data), f"bit {bit} of byte {p} flipped"
    where = []
    for _ in range(rng.randint(2, 6)):
        p = position()
        data[p] = rng.randrange(256)
        where.append(p)
    return bytes(data), f"bytes {where} overwritten"


def _compile_or_refuse(model: bytes, out_dir):
    """The contract: a UserError or a project; anything else propagates as a failure."""
    try:
        return compile_model(model, out_dir, dsp=False, keep_inputs=False)
    except UserError:
        return None


@settings(max_examples=150 * SCALE, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(MODELS), seed=st.integers(0, 2**32 - 1), structure_only=st.booleans())
def test_damaged_models_are_refused_or_compile(name, seed, structure_only, all_models, tmp_path):
    damaged, how = _damage(all_models[name], random.Random(seed), structure_only)
    try:
        model = parse_tflite(damaged)
    except UserError:
        model = None
    project = _compile_or_refuse(damaged, tmp_path / "aot")
    if project is not None:
        assert model is not None, f"{name}, {how}: compiled what the reader refused"
        assert project.ops, f"{name}, {how}: compiled to a graph without operators"


def _tflm(model: bytes, x: np.ndarray) -> np.ndarray | None:
    from mcubench.models import tflm_host

    try:
        return tflm_host.invoke(model, x)
    except UserError:  # TFLM refuses the damaged model: nothing to compare with
        return None
    except RuntimeError:  # the interpreter crashed on it (it runs in a child process)
        return None


def test_compiled_survivors_are_bit_exact_with_tflm(all_models, tmp_path):
    rng = random.Random(20261129)
    checked = compiled = 0
    for case in range(BITEXACT_CASES):
        if checked >= BITEXACT_CHECKED:
            break
        name = MODELS[case % len(MODELS)]
        damaged, how = _damage(all_models[name], rng, structure_only=case % 2 == 0)
        out_dir = tmp_path / f"c{case}"
        project = _compile_or_refuse(damaged, out_dir)
        if project is None:
            continue
        compiled += 1
        io = project.inputs[0]
        x = (np.random.default_rng(case).uniform(-2, 4, io.shape).astype(np.float32) if io.dtype == "float32"
             else np.random.default_rng(case).integers(-128, 128, io.shape).astype(np.int8))
        want = _tflm(damaged, x)
        if want is None:
            continue
        got = build_host(project, out_dir).run([x])[0]
        assert got.tobytes() == np.ascontiguousarray(want).astype(got.dtype).tobytes(), \
            f"{name}, {how}: the AOT output differs from TFLM's"
        checked += 1
    assert checked >= min(BITEXACT_CHECKED, 8), f"only {checked} of {compiled} compiled survivors ran under TFLM"

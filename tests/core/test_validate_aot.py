"""On-device validation without TFLM sources: the AOT runtime under QEMU takes uploaded inputs
(`input` + `invoke` commands) and its outputs equal the host TFLM interpreter's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mcubench.models.examples import digits_dataset
from mcubench.recipes.variants import prepare_example_variant

from helpers import mcubench, require_tool

pytestmark = pytest.mark.slow


def test_validate_digits_on_the_emulated_board_with_aot(tmp_path):
    require_tool("qemu-system-arm")
    out = tmp_path / "validation.json"
    proc = mcubench("validate", "--example", "digits", "--runtime", "aot", "--samples", "12", "--json", "--out", str(out), check=True)
    doc = json.loads(proc.stdout)
    assert doc == json.loads(out.read_text())
    assert doc["runtime"] == "aot" and doc["samples"] == 12
    assert doc["bit_exact"] == 12, "every uploaded sample must give the host interpreter's output"
    assert doc["on_device_accuracy"] == pytest.approx(doc["host_accuracy"])


def test_validate_with_a_test_set_alone(tmp_path):
    """`--data` holding only x_test/y_test is enough to validate (issue #16: it was refused
    with a message that named the arrays it found as missing)."""
    require_tool("qemu-system-arm")
    data = digits_dataset(0)
    npz = tmp_path / "test.npz"
    np.savez(npz, x_test=data.x_test[:6], y_test=data.y_test[:6])
    model = prepare_example_variant("digits", "int8").path
    proc = mcubench("validate", str(model), "--data", str(npz), "--runtime", "aot", "--samples", "6", "--json", check=True)
    doc = json.loads(proc.stdout)
    assert doc["samples"] == 6 and doc["bit_exact"] == 6
    assert doc["on_device_accuracy"] is not None

"""On-device validation without TFLM sources: the AOT runtime under QEMU takes uploaded inputs
(`input` + `invoke` commands) and its outputs equal the host TFLM interpreter's."""

from __future__ import annotations

import json

import pytest
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

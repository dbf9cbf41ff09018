"""A model through the whole pipeline on the emulated board: per-operator estimate regions and
the flash split by owner."""

from __future__ import annotations

import json

import pytest
from helpers import mcubench, require_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_int8():
    from mcubench.recipes.variants import prepare_example_variant

    return prepare_example_variant("digits", "int8").path


def test_aot_bench_with_estimate_has_per_op_estimates_and_flash_split(digits_int8):
    require_tool("qemu-system-arm")
    result = json.loads(mcubench("bench", str(digits_int8), "--runtime", "aot", "--estimate", "nano33ble", "--json", check=True).stdout)
    assert result["outputs_match"] is True
    ops = result["ops"]
    est_ops = result["estimate"]["ops"]
    assert [o["index"] for o in est_ops] == [o["index"] for o in ops]
    assert all(o["estimated_cycles"] > 0 for o in est_ops if o["name"] != "RESHAPE")
    # Operators run inside the timed region: their estimates add up to at most the whole run.
    assert sum(o["estimated_cycles"] for o in est_ops) <= result["estimated_cycles"]
    assert sum(o["estimated_cycles"] for o in est_ops) >= 0.9 * result["estimated_cycles"]
    split = result["memory"]["flash_split"]
    assert split["model"] > 0 and split["runtime"] > 0
    assert split["model"] + split["runtime"] + split["rest"] == result["memory"]["flash_bytes"]

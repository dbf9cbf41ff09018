"""Issue 14: the layered restructure changed no figure. `mcubench bench … --json` for the
built-in dot product and two fixed-weight int8 models on the AOT runtime (one with the cycle
estimate) gives the instructions, outputs, arena, flash, static RAM, sections, flash split and
estimated cycles recorded before the move (tests/data/bench_baseline.json: on main b25ff9e,
the old structure; first on ad30bbb).

The models are committed (tests/data/baseline/*.tflite, written by tests/aot/aot_modelgen.py
from fixed weights), so no training run's nondeterminism (issue 15) can enter.

A change that is meant to move these figures (firmware, compiler flags, the cost model)
re-records them on its own commit, saying so: `python tests/core/test_bench_baseline.py --record`.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import pytest

from mcubench import cli
from mcubench.bench import build

ROOT = Path(__file__).resolve().parents[2]
BASELINE = json.loads((ROOT / "tests" / "data" / "bench_baseline.json").read_text())
CASES = BASELINE["cases"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def same_length_work_dir():
    """A work dir whose path is as long as the one the baseline was built under."""
    want = len(BASELINE["conditions"]["work_dir"])
    prefix = "m" * (want - len("/tmp/") - 8)  # mkdtemp adds 8 random characters
    with tempfile.TemporaryDirectory(prefix=prefix, dir="/tmp") as directory:
        assert len(directory) == want, directory
        yield directory


def _figures(record: dict) -> dict:
    memory = record["memory"]
    return {
        "instructions": record["instructions"],
        "latency_runs": record["latency"]["runs"],
        "ops": [{k: op[k] for k in ("index", "name", "value")} for op in record["ops"]],
        "output_checksum": record["correctness"]["output_checksum"],
        "output_hex": record["correctness"]["output_hex"],
        "outputs_match": record["outputs_match"],
        "arena_used_bytes": memory["arena_used_bytes"],
        "arena_allocated_bytes": memory["arena_allocated_bytes"],
        "flash_bytes": memory["flash_bytes"],
        "static_ram_bytes": memory["static_ram_bytes"],
        "stack_size_bytes": memory["stack_size_bytes"],
        "flash_split": memory["flash_split"],
        "sections": memory["sections"],
        "estimated_cycles": record.get("estimated_cycles"),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_bench_figures_equal_the_recorded_baseline(case, same_length_work_dir, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MCUBENCH_WORK", same_length_work_dir)
    # The image embeds the checkout's git hash; its length (not its value) moves the flash figure.
    monkeypatch.setattr(build, "git_hash", lambda: "0" * BASELINE["conditions"]["git_hash_length"])
    if cli.main(CASES[case]["argv"]) != 0:
        logs = [f"{log}:\n{log.read_text()[-3000:]}" for log in Path(same_length_work_dir).glob("*/build.log")]
        pytest.fail(f"bench failed: {capsys.readouterr().err}\n" + "\n".join(logs))
    record = json.loads(capsys.readouterr().out)
    got, want = _figures(record), dict(CASES[case]["figures"])
    # Single runs and per-op means are read off a SysTick of 40 instructions whose phase moves
    # with what the image prints at boot (its build id and git hash differ from the baseline's):
    # they may differ by one tick, and so may the median of runs that straddle a tick (a model
    # whose run lasts a fraction of a tick more than a whole number of them). Outputs and sizes may not.
    tick = record["latency"]["resolution"]
    runs, ops = want.pop("latency_runs"), want.pop("ops")
    assert abs(got["instructions"] - want.pop("instructions")) <= tick
    assert len(got["latency_runs"]) == len(runs) and all(abs(a - b) <= tick for a, b in zip(got["latency_runs"], runs))
    assert [(o["index"], o["name"]) for o in got["ops"]] == [(o["index"], o["name"]) for o in ops]
    assert all(abs(a["value"] - b["value"]) <= tick for a, b in zip(got["ops"], ops))
    assert {k: got[k] for k in want} == want


def record(note: str) -> None:
    """Runs every case on this checkout and writes its figures as the new baseline."""
    import os

    want = len(BASELINE["conditions"]["work_dir"])
    with tempfile.TemporaryDirectory(prefix="m" * (want - len("/tmp/") - 8), dir="/tmp") as work:
        os.environ["MCUBENCH_WORK"] = work
        build.git_hash = lambda: "0" * BASELINE["conditions"]["git_hash_length"]
        for name, case in CASES.items():
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert cli.main(case["argv"]) == 0, name
            case["figures"] = _figures(json.loads(out.getvalue()))
    BASELINE["recorded_on"] = note
    (ROOT / "tests" / "data" / "bench_baseline.json").write_text(json.dumps(BASELINE, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"]:
        sys.exit("usage: python tests/core/test_bench_baseline.py --record [NOTE]")
    record(" ".join(sys.argv[2:]) or "re-recorded")

"""Issue 7: what `mcubench bench` really writes validates, is stored in the history, and
compares exactly against itself (emulated counts are deterministic)."""

from __future__ import annotations

import json
import shutil

import pytest

from mcubench.cli import main
from mcubench.results import validation_errors
from mcubench.results.history import History, job_key


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc (Debian packages qemu-system-arm, gcc-arm-none-eabi)")
def test_bench_result_validates_is_stored_and_compares_exactly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCUBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MCUBENCH_WORK", str(tmp_path / "work"))
    paths = []
    for i in range(2):
        out = tmp_path / f"run{i}.json"
        assert main(["bench", "--param", "n=256", "--runs", "3", "--out", str(out)]) == 0
        paths.append(out)
    capsys.readouterr()
    records = [json.loads(p.read_text()) for p in paths]
    for record in records:
        assert validation_errors(record) == []
        assert record["latency"]["unit"] == "instructions" and record["instructions"] > 0
    stored = History().query()
    assert {r["id"] for r in stored} == {r["id"] for r in records}
    assert job_key(records[0]) == job_key(records[1])  # the same job, run twice
    assert main(["compare", str(paths[0]), str(paths[1]), "--fail-if", "instructions>+0,flash>+0,ram>+0"]) == 0
    capsys.readouterr()
    assert main(["compare", records[0]["id"][:8], records[1]["id"][:8], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert next(f for f in out["figures"] if f["name"] == "instructions")["delta"] == 0

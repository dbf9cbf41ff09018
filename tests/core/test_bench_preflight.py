"""bench refuses, before anything is built and leaving nothing behind, what would lose a
finished measurement (issue #15): an unwritable --out, a damaged history, a bad timeout, a
folder where a model belongs."""

from __future__ import annotations

import json
import os

import pytest

from helpers import mcubench, require_tool


def files_under(path) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs}


@pytest.mark.parametrize("args, needle", [
    (["--out", "/proc/mcubench.json"], "does not take new files"),
    (["--out", "{tmp}"], "is a directory"),
    (["--out", "{tmp}/file.txt/result.json"], "is not a directory"),
    (["--timeout", "0"], "--timeout 0 is not a positive number"),
    (["--timeout", "nan"], "--timeout nan is not a positive number"),
    (["--timeout", "-1"], "--timeout -1 is not a positive number"),
])
def test_bench_refuses_before_building(tmp_path, args, needle):
    (tmp_path / "file.txt").write_text("x")
    results = tmp_path / "results"
    work = tmp_path / "work"
    proc = mcubench("bench", *[a.format(tmp=tmp_path) for a in args],
                    env={"MCUBENCH_RESULTS": str(results), "MCUBENCH_WORK": str(work)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not work.exists(), "nothing may be rendered or built"
    assert not (results / "runs").exists()


def test_bench_refuses_a_corrupt_history_before_building(tmp_path):
    results, work = tmp_path / "results", tmp_path / "work"
    results.mkdir()
    (results / "history.sqlite").write_bytes(os.urandom(4096))
    proc = mcubench("bench", env={"MCUBENCH_RESULTS": str(results), "MCUBENCH_WORK": str(work)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not a usable history database" in proc.stderr
    assert files_under(results) == {"history.sqlite"} and not work.exists()


def test_a_directory_given_as_the_model_names_what_it_holds(tmp_path):
    (tmp_path / "int8.tflite").write_bytes(b"")
    proc = mcubench("bench", str(tmp_path))
    assert proc.returncode == 2
    assert f"{tmp_path} is a directory, not a model file" in proc.stderr and "int8.tflite" in proc.stderr


@pytest.mark.slow
def test_bench_out_writes_the_result_and_the_history(tmp_path):
    require_tool("qemu-system-arm")
    results = tmp_path / "results"
    out = tmp_path / "new" / "dir" / "r.json"
    proc = mcubench("bench", "--out", str(out), "--json", env={"MCUBENCH_RESULTS": str(results)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["id"] == json.loads(proc.stdout)["id"]
    assert (results / "history.sqlite").is_file()


def test_estimate_on_a_board_whose_own_target_cannot_is_refused_before_building(tmp_path):
    """`bench --board nano33ble --estimate nano33ble` used to build for a minute and reach for the
    registry before anything said no: the board's default target (hardware) loads no plugin."""
    work = tmp_path / "work"
    proc = mcubench("bench", "--board", "nano33ble", "--estimate", "nano33ble", env={"MCUBENCH_WORK": str(work)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "target `hardware` cannot load the cycle-estimate plugin" in proc.stderr
    assert not work.exists()


def test_analyze_given_a_folder_says_what_it_needs(tmp_path):
    proc = mcubench("analyze", "--model", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has no saved_model.pb" in proc.stderr

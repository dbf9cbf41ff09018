"""Sweeps on Dask distributed: resumable after the client is killed, complete after a worker
is killed, and with the same figures as one process (emulated counts are deterministic)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers import require_tool

from mcubench.core.errors import UserError
from mcubench.sweep import load_config, parse_config, run_job

SWEEP_YAML = """
name: dots
models:
  - builtin: dot_int8
    params: {n: [96, 160, 224, 288, 352, 416, 480, 544]}
boards: [mps2-an386]
warmup: 0
runs: 3
"""


@pytest.fixture()
def sweep_file(tmp_path) -> Path:
    path = tmp_path / "dots.yaml"
    path.write_text(SWEEP_YAML)
    return path


def test_config_expands_the_grid_and_names_bad_input(tmp_path, sweep_file):
    config = load_config(sweep_file)
    assert len(config.jobs) == 8 and len({j.key() for j in config.jobs}) == 8
    assert {dict(j.params)["n"] for j in config.jobs} == {96, 160, 224, 288, 352, 416, 480, 544}
    with pytest.raises(UserError, match="unknown key"):
        parse_config({"models": [{"builtin": "dot_int8"}], "bords": ["x"]}, "s.yaml")
    with pytest.raises(UserError, match="unknown board `nope`"):
        parse_config({"models": [{"builtin": "dot_int8"}], "boards": ["nope"]}, "s.yaml")
    with pytest.raises(UserError, match="does not exist"):
        parse_config({"models": [{"path": "missing.tflite"}], "runtimes": ["tflm"]}, "s.yaml", tmp_path)
    with pytest.raises(UserError, match="no models"):
        parse_config({"models": []}, "s.yaml")
    (tmp_path / "m.onnx").write_bytes(b"onnx")  # a source model needs its data (issue 18)
    with pytest.raises(UserError, match="needs `data:`"):
        parse_config({"models": [{"path": "m.onnx"}]}, "s.yaml", tmp_path)


def _history_rows(results: Path) -> list[tuple[str, str]]:
    db = results / "history.sqlite"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT id, job_key FROM results").fetchall()
    except sqlite3.OperationalError:
        return []


def _start_sweep(sweep_file: Path | None, results: Path) -> subprocess.Popen:
    """`mcubench sweep FILE` (or the built-in example sweep when FILE is None) on 2 workers."""
    env = dict(os.environ, MCUBENCH_RESULTS=str(results))
    which = [str(sweep_file)] if sweep_file else ["--example"]
    return subprocess.Popen(
        [sys.executable, "-m", "mcubench.cli", "sweep", *which, "--workers", "2", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )


def _wait_for_rows(results: Path, proc: subprocess.Popen, count: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(_history_rows(results)) < count:
        if proc.poll() is not None:
            raise AssertionError(f"sweep ended early: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError("sweep made no progress")
        time.sleep(0.2)


def _finish(proc: subprocess.Popen, timeout: float = 400) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out)


def _worker_processes(pid: int) -> list[psutil.Process]:
    """The Dask worker processes (multiprocessing-spawned children) of a sweep client."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.mark.slow
def test_killed_example_sweep_resumes_without_redoing_or_losing(tmp_path):
    """The built-in example sweep (example models × three recipes, AOT on QEMU), killed once."""
    require_tool("qemu-system-arm")
    results = tmp_path / "results"
    proc = _start_sweep(None, results)
    _wait_for_rows(results, proc, 2, timeout=900)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep dies: client, workers, emulators
    proc.wait()
    before = _history_rows(results)
    assert 2 <= len(before) <= 9
    summary = _finish(_start_sweep(None, results), timeout=900)
    assert summary["jobs"] == 9
    assert summary["skipped"] == len(before)
    assert summary["done"] == 9 - len(before) and summary["failed"] == 0, summary["failures"]
    rows = _history_rows(results)
    assert len(rows) == 9 and len({key for _, key in rows}) == 9
    assert set(before) <= set(rows)
    from mcubench.results.history import History

    records = [History(results / "history.sqlite").get(rid) for rid, _ in rows]
    assert {r["identity"]["model"]["name"] for r in records} == {"digits", "sine", "kws_dscnn"}
    assert all(r["outputs_match"] is True for r in records)
    assert summary["report"] and Path(summary["report"]).is_file()


@pytest.mark.slow
def test_lost_worker_loses_nothing_and_figures_match_one_process(tmp_path, sweep_file):
    require_tool("qemu-system-arm")
    results = tmp_path / "results"
    proc = _start_sweep(sweep_file, results)
    try:
        _wait_for_rows(results, proc, 1)
        workers = _worker_processes(proc.pid)
        assert len(workers) == 2, "the local cluster should run two worker processes"
        workers[0].kill()
        summary = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert summary == {**summary, "jobs": 8, "done": 8, "skipped": 0, "failed": 0}
    rows = _history_rows(results)
    assert len(rows) == 8 and len({key for _, key in rows}) == 8
    # The same jobs in this one process give the same figures, job for job.
    from mcubench.results.history import History

    history = History(results / "history.sqlite")
    stored = {r["identity"]["workload"]["params"]["n"]: r for r in (history.get(rid) for rid, _ in rows)}
    for spec in load_config(sweep_file).jobs:
        record = run_job(spec)["record"]
        n = dict(spec.params)["n"]
        assert record["latency"]["runs"] == stored[n]["latency"]["runs"]
        assert record["instructions"] == stored[n]["instructions"]


def _processes_with_env(key: str, value: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(key) == value:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


@pytest.mark.slow
def test_ctrl_c_ends_every_process_prints_one_line_and_resume_does_the_rest(tmp_path, sweep_file):
    """Ctrl-C to the sweep's process group (issue #15): no tracebacks, no orphaned PlatformIO or
    QEMU, one line saying what is stored; the same command then does exactly the missing jobs."""
    require_tool("qemu-system-arm")
    results = tmp_path / "results"
    work = str(tmp_path / "work")  # marks every process of this sweep (inherited environment)
    env = dict(os.environ, MCUBENCH_RESULTS=str(results), MCUBENCH_WORK=work)
    cmd = [sys.executable, "-m", "mcubench.cli", "sweep", str(sweep_file), "--workers", "2", "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    _wait_for_rows(results, proc, 2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "sweep interrupted" in err and "jobs stored" in err
    deadline = time.monotonic() + 60  # a loaded machine is slow to reap; an orphan outlives this
    while _processes_with_env("MCUBENCH_WORK", work) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_with_env("MCUBENCH_WORK", work) == [], "processes of the interrupted sweep are still running"
    stored = {key for _, key in _history_rows(results)}
    resumed = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == len(stored) and summary["done"] == 8 - len(stored)
    assert len({key for _, key in _history_rows(results)}) == 8


def test_example_job_keys_follow_the_code_that_makes_the_model(monkeypatch):
    """A changed recipe or example changes the job key, so a resumed sweep never takes an old
    model's record for the job (issue #15)."""
    import mcubench.sweep as sweep

    spec = sweep.example_config().jobs[0]
    before = spec.key()
    assert before == sweep.example_config().jobs[0].key()  # stable
    monkeypatch.setattr(sweep, "example_fingerprint", lambda: "changed-code")
    assert spec.key() != before

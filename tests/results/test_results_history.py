"""Issue 7: every result is stored in SQLite; history lists and filters; resumable by job key."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import sqlite3
import time

import pytest

from mcubench.cli import main
from mcubench.core.errors import UserError
from mcubench.results import history as history_mod
from mcubench.results.history import History, JobIdentity, job_identity_of, job_key


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MCUBENCH_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_add_and_get_round_trip(tmp_path, records):
    h = History(tmp_path / "h.sqlite")
    record = records.make("qemu-tflm")
    key = h.add(record)
    assert h.has(key) and not h.has("0" * 32)
    assert h.get(record["id"]) == record
    assert h.get(record["id"][:6]) == record
    assert h.count() == 1
    with sqlite3.connect(tmp_path / "h.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_invalid_record_is_not_stored(tmp_path, records):
    h = History(tmp_path / "h.sqlite")
    bad = records.make()
    bad["latency"]["unit"] = "furlongs"
    with pytest.raises(UserError, match=r"latency\.unit: 'furlongs'"):
        h.add(bad)
    assert h.count() == 0


def test_duplicate_id_is_refused(tmp_path, records):
    h = History(tmp_path / "h.sqlite")
    record = records.make()
    h.add(record)
    with pytest.raises(UserError, match="already in the history"):
        h.add(record)
    assert h.count() == 1


def test_job_key_depends_on_what_defines_the_job(records):
    a = records.make("qemu-tflm")
    same_job_later = records.make("qemu-tflm", created="2026-11-23T10:00:00+00:00")
    assert job_key(a) == job_key(same_job_later)  # id and time do not matter
    for field, value in [("identity.recipe", "qat_int8"), ("identity.board", "other"), ("identity.memory_of", None),
                         ("identity.workload.params", {"inputs": 2}), ("identity.tool_version", "0.2.0"),
                         ("identity.model.sha256", "f" * 64), ("identity.git_hash", "0123456789ab")]:
        changed = records.make("qemu-tflm", changes={field: value})
        assert job_key(changed) != job_key(a), field
    ident = job_identity_of(a)
    assert isinstance(ident, JobIdentity) and ident.key() == job_key(a)


def test_explicit_job_key_for_sweeps(tmp_path, records):
    h = History(tmp_path / "h.sqlite")
    h.add(records.make(), key="sweep-job-1")
    assert h.has("sweep-job-1") and h.keys() == {"sweep-job-1"}


def test_query_filters_and_order(tmp_path, records):
    h = History(tmp_path / "h.sqlite")
    old = records.make("qemu-builtin", created="2026-01-01T00:00:00+00:00")
    ptq = records.make("qemu-tflm", created="2026-11-20T00:00:00Z", recipe="ptq_int8")
    qat = records.make("qemu-tflm", created="2026-11-21T00:00:00+00:00", recipe="qat_int8")
    hw = records.make("hardware", created="2026-11-22T00:00:00+00:00")
    for r in (old, ptq, qat, hw):
        h.add(r)
    ids = lambda rs: [r["id"] for r in rs]  # noqa: E731
    assert ids(h.query()) == [hw["id"], qat["id"], ptq["id"], old["id"]]
    assert ids(h.query(recipe="qat_int8")) == [qat["id"]]
    assert ids(h.query(runtime="builtin")) == [old["id"]]
    assert ids(h.query(board="nano33ble")) == [hw["id"]]
    assert ids(h.query(target="hardware")) == [hw["id"]]
    assert ids(h.query(model="kws_micro", since="2026-11-21")) == [hw["id"], qat["id"]]
    assert ids(h.query(model=ptq["identity"]["model"]["sha256"][:10])) == [hw["id"], qat["id"], ptq["id"]]
    assert ids(h.query(limit=2)) == [hw["id"], qat["id"]]
    assert h.query(git_hash="eb261ba") and not h.query(git_hash="deadbee")
    with pytest.raises(UserError, match="neither a date nor an age"):
        h.query(since="last tuesday")
    assert len(h.query(since="100000d")) == 4


def test_history_command_lists_filters_and_exports(results_dir, records, capsys):
    a, b = records.make("qemu-tflm", recipe="ptq_int8"), records.make("qemu-tflm", recipe="prune50", sparsity=0.5)
    paths = []
    for r in (a, b):
        paths.append(results_dir / f"{r['id']}.json")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        paths[-1].write_text(json.dumps(r))
    assert main(["history", "--add", *map(str, paths)]) == 0
    capsys.readouterr()
    assert main(["history", "--recipe", "prune50", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [b["id"]]
    assert main(["history", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["recipe"] for r in rows} == {"ptq_int8", "prune50"}
    assert rows[0]["latency_unit"] == "instructions" and int(rows[0]["flash_bytes"]) > 0
    assert main(["history"]) == 0
    table = capsys.readouterr().out
    assert "kws_micro/kws_micro-prune50/tflm/mps2-an386@nano33ble" in table and a["id"][:8] in table
    assert main(["history", "--show", a["id"][:8]]) == 0
    assert json.loads(capsys.readouterr().out) == a
    assert main(["history", "--since", "soon"]) == 2
    assert "--since 'soon'" in capsys.readouterr().err


def test_history_add_refuses_invalid_file_and_stores_nothing(results_dir, records, capsys, tmp_path):
    good, bad = records.make(), records.make()
    bad["memory"]["flash_bytes"] = "ten"
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert main(["history", "--add", str(tmp_path / "good.json"), str(tmp_path / "bad.json")]) == 2
    assert "memory.flash_bytes: 'ten' is not of type 'integer'" in capsys.readouterr().err
    assert History().count() == 0


def _writer(path: str, record: dict, ready, n: int) -> None:
    """Adds records in a loop until killed (a sweep worker dying mid-write)."""
    import copy
    import uuid

    h = History(path)
    ready.set()
    for i in range(n):
        r = copy.deepcopy(record)
        r["id"] = str(uuid.uuid4())
        h.add(r, key=f"job-{i}")


def test_killed_writer_loses_nothing_committed_and_leaves_no_partial_record(tmp_path, records):
    path = str(tmp_path / "h.sqlite")
    History(path).count()  # create the file
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_writer, args=(path, records.make("qemu-tflm"), ready, 100_000))
    proc.start()
    assert ready.wait(60)
    deadline = time.monotonic() + 60
    while History(path).count() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    h = History(path)
    stored = h.query()
    assert len(stored) >= 20
    # Every row is a whole, valid record whose key was written with it; keys are 0..n-1 without gaps.
    from mcubench.results import validation_errors

    assert all(validation_errors(r) == [] for r in stored)
    keys = h.keys()
    assert keys == {f"job-{i}" for i in range(len(keys))}


def test_add_result_uses_results_dir(results_dir, records):
    key = history_mod.add_result(records.make())
    assert (results_dir / "history.sqlite").is_file()
    assert history_mod.has(key)

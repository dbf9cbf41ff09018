"""Issue 7: `mcubench compare A B` deltas and the `--fail-if` regression gate."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from mcubench.cli import main
from mcubench.core.errors import UserError
from mcubench.core.paths import project_root
from mcubench.results.compare import check, compare, parse_threshold, parse_thresholds, resolve
from mcubench.results.history import History

from helpers import mcubench
from results_records import make_record


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MCUBENCH_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def _write(tmp_path, name, record):
    path = tmp_path / name
    path.write_text(json.dumps(record))
    return str(path)


def test_cli_contract_regression_exits_nonzero_identical_exits_zero(tmp_path, records):
    """The acceptance contract, run as users run it: the installed `mcubench` entry point."""
    a = records.make("qemu-tflm")
    b = records.slower(a, 1.04)  # doctored: 4 % more instructions
    pa, pb = _write(tmp_path, "A.json", a), _write(tmp_path, "B.json", b)
    cmd = [sys.executable, "-m", "mcubench.cli", "compare"]
    env_run = lambda *args: subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)  # noqa: E731
    regressed = env_run(pa, pb, "--fail-if", "latency>+3%")
    assert regressed.returncode == 1, regressed.stderr
    assert "regression: latency>+3%" in regressed.stderr
    same = env_run(pa, pa, "--fail-if", "latency>+3%", "--fail-if", "instructions>+0,flash>+1KiB,ram>+512B")
    assert same.returncode == 0, same.stderr
    assert main(["compare", pa, pb, "--fail-if", "latency>+5%"]) == 0  # within the threshold


def test_deltas_per_figure_and_per_op(records):
    a = records.make("qemu-tflm")
    b = records.slower(a, 1.10)
    b["memory"]["flash_bytes"] += 2048
    b["host"]["accuracy"] = 0.897
    c = compare(a, b)
    lat = c.figures["latency"]
    assert lat.unit == "instructions" and lat.delta_pct == pytest.approx(10.0, abs=0.01)
    assert c.figures["flash"].delta == 2048 and c.figures["flash"].unit == "B"
    assert c.figures["accuracy"].delta == pytest.approx(-1.5)  # percentage points
    assert c.figures["accuracy"].unit == "%"
    assert "latency_ms" not in c.figures  # neither side has it
    assert [d.name for d in c.ops][:2] == ["0:CONV_2D", "1:DEPTHWISE_CONV_2D"]
    assert all(d.delta_pct == pytest.approx(10.0, abs=0.1) for d in c.ops)
    assert c.notes == []


@pytest.mark.parametrize("text,breach", [
    ("latency>+3%", True), ("latency>+10%", False), ("latency>=+10%", True),
    ("instructions>+0", True), ("flash>+1KiB", True), ("flash>+2KiB", False), ("flash>+2kB", True),
    ("ram>+512B", False), ("accuracy<-1pt", True), ("accuracy<-2pt", False), ("accuracy<-1.5%", True),
    ("ops>+9%", True), ("ops>+11%", False), ("stack>+0", False),
])
def test_thresholds(records, text, breach):
    a = records.make("qemu-tflm")
    b = records.slower(a, 1.10)
    b["memory"]["flash_bytes"] += 2048
    b["host"]["accuracy"] = 0.897
    (verdict,) = check(compare(a, b), parse_thresholds([text]))
    assert verdict.exceeded is breach, verdict.detail


@pytest.mark.parametrize("text,message", [
    ("latency>>3%", "is not FIGURE>AMOUNT"),
    ("latency", "is not FIGURE>AMOUNT"),
    ("latency>+three%", "is not FIGURE>AMOUNT"),
    ("speed>+3%", "unknown figure `speed`"),
    ("flash>+1furlong", "unit `furlong` does not fit `flash`"),
    ("accuracy<-1", "`accuracy` is a fraction"),
    ("latency>+3KiB", "unit `KiB` does not fit `latency`"),
])
def test_malformed_thresholds_are_user_errors(text, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_threshold(text)


def test_comma_separated_and_empty_thresholds():
    assert [t.figure for t in parse_thresholds(["latency>+3%,flash>+1KiB", "ram>+512B"])] == ["latency", "flash", "ram"]
    assert parse_threshold("flash>+1KiB").amount == 1024 and parse_threshold("ram>+512B").amount == 512
    with pytest.raises(UserError, match="empty threshold"):
        parse_thresholds(["latency>+3%,"])


def test_threshold_on_missing_figure_or_different_units_is_an_error(records):
    a = records.make("qemu-builtin")
    with pytest.raises(UserError, match="`accuracy` is not in either result"):
        check(compare(a, a), parse_thresholds(["accuracy<-1pt"]))
    hw = records.make("hardware")
    tflm = records.make("qemu-tflm")
    c = compare(tflm, hw)
    assert any("latency unit differs: instructions vs cycles" in n for n in c.notes)
    with pytest.raises(UserError, match="cannot compare `latency`: units differ"):
        check(c, parse_thresholds(["latency>+3%"]))


def test_compare_json_and_csv_outputs(tmp_path, records, results_dir, capsys):
    a = records.make("qemu-tflm")
    b = records.slower(a, 1.04)
    pa, pb = _write(tmp_path, "a.json", a), _write(tmp_path, "b.json", b)
    assert main(["compare", pa, pb, "--fail-if", "latency>+3%", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["regressed"] is True and out["thresholds"][0]["exceeded"] is True
    assert {f["name"] for f in out["figures"]} >= {"latency", "instructions", "flash", "ram", "accuracy", "size"}
    assert len(out["ops"]) == 7
    assert main(["compare", pa, pb, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    lat = next(r for r in rows if r["name"] == "latency")
    assert float(lat["delta_pct"]) == pytest.approx(4.0, abs=0.01)
    assert sum(r["kind"] == "op" for r in rows) == 7
    assert main(["compare", pa, pb]) == 0
    human = capsys.readouterr().out
    assert "figures (B - A)" in human and "per op (B - A)" in human and "+4.00%" in human


def test_bad_inputs_exit_2(tmp_path, records, results_dir, capsys):
    pa = _write(tmp_path, "a.json", records.make())
    assert main(["compare", pa, str(tmp_path / "missing.json")]) == 2
    assert "no such result file" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["compare", pa, str(tmp_path / "broken.json")]) == 2
    assert "not a readable JSON result" in capsys.readouterr().err
    assert main(["compare", pa, "no-such-thing"]) == 2
    assert "not a result file, a history id or a git revision" in capsys.readouterr().err
    assert main(["compare", pa, pa, "--fail-if", "latency>3 percent"]) == 2


def _git(*args):
    return subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True, check=True).stdout.strip()


def test_history_ids_and_git_revisions(records, results_dir, capsys):
    try:
        _git("rev-parse", "--verify", "HEAD~3^{commit}")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout with at least 4 commits (not a shallow clone)")
    older, newer = _git("rev-parse", "HEAD~2"), _git("rev-parse", "HEAD~1")
    h = History()
    base = records.make("qemu-tflm", changes={"identity.git_hash": older[:12]})
    slow = records.slower(records.make("qemu-tflm", changes={"identity.git_hash": newer[:12]}), 1.05)
    stale = records.slower(records.make("qemu-tflm", created="2026-01-01T00:00:00+00:00",
                                        changes={"identity.git_hash": newer[:12]}), 2.0)
    other_board = records.make("qemu-builtin", created="2027-01-01T00:00:00+00:00",
                               changes={"identity.git_hash": newer[:12] + "+dirty"})
    for r in (base, slow, stale, other_board):
        h.add(r)
    record, where = resolve(base["id"][:8], h)
    assert record["id"] == base["id"] and where.startswith("history")
    # For a revision: the newest *clean* record from that commit.
    record, where = resolve(newer[:12], h)
    assert record["id"] == slow["id"] and "revision" in where
    record, _ = resolve(newer[:12], h, {"runtime": "builtin"})
    assert record["id"] == other_board["id"]  # only a dirty one matches: used, and said so
    assert main(["compare", older[:12], newer[:9], "--model", "kws_micro", "--fail-if", "latency>+3%"]) == 1
    assert main(["compare", older[:12], newer[:9], "--model", "kws_micro", "--fail-if", "latency>+6%"]) == 0
    capsys.readouterr()
    assert main(["compare", "HEAD~3", newer]) == 2
    assert "no stored result was built from revision `HEAD~3`" in capsys.readouterr().err


def test_a_failed_run_is_never_a_baseline(tmp_path):
    failed = make_record("qemu-tflm", changes={"outputs_match": False})
    good = make_record("qemu-tflm")
    (tmp_path / "a.json").write_text(json.dumps(failed))
    (tmp_path / "b.json").write_text(json.dumps(good))
    proc = mcubench("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--fail-if", "latency>+3%")
    assert proc.returncode == 2
    assert "is a failed run: its outputs did not match" in proc.stderr
    # As the candidate it is compared (and its own verdicts stand).
    proc = mcubench("compare", str(tmp_path / "b.json"), str(tmp_path / "a.json"))
    assert proc.returncode == 0, proc.stderr

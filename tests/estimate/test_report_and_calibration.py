"""Report parsing, cost table, plugin arguments and calibration math/storage (no QEMU)."""

from __future__ import annotations

import json

import pytest

from mcubench.cli import main
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.estimate import load_cost_model, parse_report, qemu_args, report_path_from_args
from mcubench.estimate.calibration import compute_correction, correction_path, load_correction, pairs_from_results, save_correction

MODEL = load_cost_model()


def report(board="nano33ble", cycles=6400, instructions=3200, complete=True, **extra):
    data = {
        "format": "mcubench-cycle-estimate/1", "model_version": MODEL.model_version, "board": board,
        "instructions": instructions, "cycles": cycles, "branches_taken": 3, "branches_not_taken": 1,
        "tbs_translated": 9, "marker_errors": 0, "open_regions": [],
        "regions": [{"id": 2, "entries": 4, "cycles": 4000, "instructions": 2000},
                    {"id": 256, "entries": 4, "cycles": 1000, "instructions": 500}],
        "complete": complete,
    }
    data.update(extra)
    return json.dumps(data)


def test_parse_report_text_and_path(tmp_path):
    est = parse_report(report())
    assert est.cycles == 6400 and est.instructions == 3200 and est.cpi == 2.0
    assert est.regions[2].cycles_per_entry == 1000
    assert est.board.clock_hz == 64_000_000
    assert est.estimated_cycles == 6400 and est.estimated_ms == pytest.approx(0.1)
    p = tmp_path / "r.json"
    p.write_text(report())
    assert parse_report(p).cycles == 6400 and parse_report(str(p)).cycles == 6400


@pytest.mark.parametrize("bad", [report(complete=False), "{\"cycles\": 3", report(model_version="cm4f-cost-0")])
def test_incomplete_or_foreign_reports_are_refused(bad):
    with pytest.raises(UserError):
        parse_report(bad)


def test_missing_report_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no cycle-estimate report"):
        parse_report(tmp_path / "none.json")


def test_cost_table_clock_matches_board_files():
    for board_id in ("nano33ble", "mps2-an386"):
        assert MODEL.board(board_id).clock_hz == load_board(board_id).clock_hz
    with pytest.raises(UserError):
        MODEL.board("no-such-board")


def test_flat_costs_carry_every_key_and_the_board():
    lines = dict(line.split(" ", 1) for line in MODEL.flat_costs("nano33ble").splitlines())
    assert lines["board"] == "nano33ble" and lines["model_version"] == MODEL.model_version
    assert lines["flash_wait_states"] == str(MODEL.board("nano33ble").flash_wait_states)
    assert all(k in lines for k in MODEL.costs)


def test_qemu_args_name_the_plugin_and_the_report(tmp_path, need_tools):
    need_tools("gcc")
    args = qemu_args("nano33ble", tmp_path / "est.json")
    assert args[0] == "-plugin" and ".so,costs=" in args[1]
    assert report_path_from_args(args) == (tmp_path / "est.json").resolve()
    assert args == qemu_args("nano33ble", tmp_path / "est.json")  # cached build, same args


def test_correction_math_is_cycle_weighted():
    c = compute_correction("nano33ble", MODEL.model_version,
                           {"op0": (1200.0, 1000.0), "op1": (300.0, 500.0)}, "recorded")
    assert c.factor == pytest.approx(1500 / 1500)
    assert [r.ratio for r in c.regions] == [pytest.approx(1.2), pytest.approx(0.6)]
    # the timed region alone sets the factor when present (ops are nested inside it)
    c = compute_correction("nano33ble", MODEL.model_version,
                           {"timed": (1320.0, 1100.0), "op0": (1200.0, 1000.0)}, "recorded")
    assert c.factor == pytest.approx(1.2)


@pytest.mark.parametrize("pairs", [{}, {"timed": (0, 10)}, {"timed": (10, -1)}, {"timed": (float("nan"), 1)}])
def test_correction_refuses_bad_figures(pairs):
    with pytest.raises(UserError):
        compute_correction("nano33ble", MODEL.model_version, pairs, "x")


def test_stored_correction_is_applied_and_stated():
    c = compute_correction("nano33ble", MODEL.model_version, {"timed": (1250.0, 1000.0)}, "recorded")
    path = save_correction(c)
    assert path == correction_path("nano33ble") and path.exists()
    est = parse_report(report())
    assert est.factor == pytest.approx(1.25)
    assert est.estimated_cycles == 8000 and est.cycles == 6400  # model figure kept beside it
    d = est.to_dict()
    assert d["calibration"]["factor"] == pytest.approx(1.25) and d["model_cycles"] == 6400
    assert est.region_cycles(2) == pytest.approx(1250)
    # another board is unaffected; a stale model version is ignored
    assert parse_report(report(board="mps2-an386")).correction is None
    assert load_correction("nano33ble", "cm4f-cost-0") is None
    assert parse_report(report(), apply_calibration=False).estimated_cycles == 6400


def test_pairs_from_bench_results():
    board = {"cycles": 130000, "ops": [{"name": "CONV_2D", "cycles": 90000}, {"name": "FULLY_CONNECTED", "cycles": 30000}]}
    emu = {"estimate": {"model_cycles_per_run": 100000},
           "ops": [{"name": "CONV_2D", "model_estimated_cycles": 80000}, {"name": "FULLY_CONNECTED", "model_estimated_cycles": 20000}]}
    pairs = pairs_from_results(board, emu)
    assert pairs == {"timed": (130000.0, 100000.0), "op0:CONV_2D": (90000.0, 80000.0),
                     "op1:FULLY_CONNECTED": (30000.0, 20000.0)}
    emu["ops"][1]["name"] = "SOFTMAX"
    with pytest.raises(UserError):
        pairs_from_results(board, emu)


def test_calibrate_command_with_recorded_figures(tmp_path, capsys):
    # figures recorded from a board run: DWT cycles per region beside the plugin's report
    (tmp_path / "est.json").write_text(report())
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps({"board": "nano33ble", "source": "recorded on a Nano 33 BLE",
                                   "estimate_report": "est.json",
                                   "measured": {"region:2": 1100, "region:256": 300}}))
    assert main(["calibrate", "--board", "nano33ble", "--figures", str(figures)]) == 0
    out = capsys.readouterr().out
    assert "region:2" in out and "1.1000" in out
    stored = json.loads(correction_path("nano33ble").read_text())
    # factor over both regions (no `timed` name here): (1100 + 300) / (1000 + 250)
    assert stored["factor"] == pytest.approx(1400 / 1250)
    assert main(["calibrate", "--board", "nano33ble", "--show"]) == 0
    assert "correction factor" in capsys.readouterr().out
    assert main(["calibrate", "--board", "nano33ble", "--clear"]) == 0
    assert not correction_path("nano33ble").exists()


def test_calibrate_rejects_figures_for_another_board(tmp_path, capsys):
    figures = tmp_path / "f.json"
    figures.write_text(json.dumps({"board": "mps2-an386", "regions": {"timed": {"measured_cycles": 1, "estimated_cycles": 1}}}))
    assert main(["calibrate", "--board", "nano33ble", "--figures", str(figures)]) == 2
    assert "not `nano33ble`" in capsys.readouterr().err


def test_calibrate_live_needs_a_board(capsys):
    # Live calibration finds the board by USB ID before building anything for it.
    from serial.tools import list_ports

    if any((p.vid, p.pid) in ((0x2341, 0x805A), (0x2341, 0x005A)) for p in list_ports.comports()):
        pytest.skip("a Nano 33 BLE is attached: live calibration would run it")
    assert main(["calibrate", "--board", "nano33ble"]) == 2
    err = capsys.readouterr().err
    assert "no Arduino Nano 33 BLE (nRF52840, Cortex-M4F) found (USB 2341:805a" in err and "--figures" in err
    assert not correction_path("nano33ble").exists()

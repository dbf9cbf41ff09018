"""`mcubench calibrate`: correct the cycle estimate for a board from cycles measured on it.

Two ways in:
- live (needs the board): runs the same workload on the board (DWT cycles, `hardware`
  target) and on the emulated board under the estimate for `--board`, pairs the figures
  (timed loop, operators) and stores the correction;
- `--figures FILE`: the same from recorded figures (JSON, see docs/cycle-estimate.md).
`--show` prints the stored correction, `--clear` removes it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.core.boards import load_board
from mcubench.core.errors import UserError
from mcubench.core.types import RunOptions, WorkloadSpec
from mcubench.estimate import load_cost_model, parse_report
from mcubench.estimate.calibration import (
    compute_correction,
    correction_path,
    load_correction,
    pairs_from_results,
    read_correction,
    save_correction,
)
from mcubench.targets import get_target


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("calibrate", help="correct the cycle estimate of a board with cycles measured on it")
    p.add_argument("--board", default="nano33ble", help="board whose estimate to correct (default nano33ble)")
    p.add_argument("--figures", type=Path, help="recorded figures (JSON) instead of running the board")
    p.add_argument("--workload", default="dot_int8", help="live: built-in workload to run on both (default dot_int8)")
    p.add_argument("--port", help="live: the board's serial port (default: found by USB ID)")
    p.add_argument("--timeout", type=float, default=300.0, help="live: seconds per run (default 300)")
    p.add_argument("--show", action="store_true", help="print the stored correction and exit")
    p.add_argument("--clear", action="store_true", help="remove the stored correction and exit")
    p.add_argument("--json", action="store_true", help="print the correction as JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    model = load_cost_model()
    model.board(args.board)  # a UserError for boards without estimate assumptions
    path = correction_path(args.board)
    if args.clear:
        if path.exists():
            path.unlink()
            print(f"removed {path}")
        else:
            print(f"no correction stored for {args.board}")
        return 0
    if args.show:
        if not path.exists():
            print(f"no correction stored for {args.board}: estimates use the cost model as is")
            return 0
        correction = read_correction(path)
        _print(correction, args.json, stale=correction.model_version != model.model_version)
        return 0
    if args.figures:
        pairs, source = pairs_from_figures(args.figures, args.board, model.model_version)
    else:
        pairs, source = _live_pairs(args)
    correction = compute_correction(args.board, model.model_version, pairs, source)
    save_correction(correction)
    _print(correction, args.json, stale=False)
    print(f"stored: {correction.path} (later estimates for {args.board} apply factor {correction.factor:.4f} and say so)")
    return 0


def pairs_from_figures(path: Path, board: str, model_version: str) -> tuple[dict[str, tuple[float, float]], str]:
    """Recorded figures: {"board", "source", "regions": {name: {"measured_cycles", "estimated_cycles"}}}
    or, instead of estimated figures, "estimate_report": a plugin report whose regions are
    named "region:<id>" in "measured" ({name: cycles per entry})."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read figures {path}: {exc}", "give a JSON file (docs/cycle-estimate.md)") from None
    if data.get("board") != board:
        raise UserError(f"{path} holds figures for board `{data.get('board')}`, not `{board}`", f"use --board {data.get('board')}")
    source = str(data.get("source", path))
    pairs: dict[str, tuple[float, float]] = {}
    if "estimate_report" in data:
        report_path = Path(data["estimate_report"])
        if not report_path.is_absolute():
            report_path = Path(path).parent / report_path
        est = parse_report(report_path, apply_calibration=False)
        if est.board.board != board:
            raise UserError(f"{report_path} estimates board `{est.board.board}`, not `{board}`", "re-run the estimate for this board")
        for name, measured in data.get("measured", {}).items():
            kind, _, rid = name.partition(":")
            if kind != "region" or not rid.isdigit():
                raise UserError(f"measured figure `{name}` should be named region:<id>", "e.g. region:2")
            region = est.regions.get(int(rid))
            if region is None:
                raise UserError(f"region {rid} is not in {report_path}", "does the image mark it?")
            pairs[name] = (measured, region.cycles_per_entry)
    else:
        try:
            for name, fig in data["regions"].items():
                pairs[name] = (fig["measured_cycles"], fig["estimated_cycles"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"{path}: every region needs measured_cycles and estimated_cycles ({exc})",
                            "see docs/cycle-estimate.md, Calibration") from None
    if data.get("model_version", model_version) != model_version:
        raise UserError(f"{path} was estimated with cost model {data['model_version']}, this is {model_version}",
                        "re-run the estimate")
    return pairs, source


def _live_pairs(args: argparse.Namespace) -> tuple[dict[str, tuple[float, float]], str]:
    """Runs the workload on the board and under the estimate; needs the board attached."""
    board_target = get_target("hardware")
    if args.port is None:  # before two builds: is the board there at all?
        try:
            board_target.find_port(load_board(args.board))
        except UserError as err:
            raise UserError(err.message, "attach the board (or give --port), or calibrate from recorded --figures") from None
    found = [s for s in board_target.status() if not s.found and s.required]
    if found:
        raise UserError(f"cannot run the board: {found[0].name}: {found[0].detail}",
                        found[0].remedy or "attach the board, or give recorded --figures")
    on_board = run_bench(BenchRequest(workload=WorkloadSpec(args.workload, {}), board=args.board, target="hardware",
                                      options=RunOptions(timeout=args.timeout, port=args.port)))
    emulated = run_bench(BenchRequest(workload=WorkloadSpec(args.workload, {}), board="mps2-an386", target="qemu",
                                      estimate=args.board, options=RunOptions(timeout=args.timeout)))
    pairs = pairs_from_results(on_board.result, emulated.result)
    return pairs, f"workload {args.workload}: board build {on_board.image.build_id}, emulated build {emulated.image.build_id}"


def _print(correction, as_json: bool, stale: bool) -> None:
    if as_json:
        print(json.dumps(correction.to_dict(), indent=2))
        return
    print(f"calibration of the cycle estimate for {correction.board} (cost model {correction.model_version}, {correction.created})")
    print(f"  source: {correction.source}")
    print(f"  {'region':<24} {'measured':>14} {'estimated':>14} {'ratio':>8}")
    for r in correction.regions:
        print(f"  {r.name:<24} {r.measured_cycles:>14,.0f} {r.estimated_cycles:>14,.0f} {r.ratio:>8.4f}")
    print(f"  correction factor (cycle-weighted): {correction.factor:.4f}")
    if stale:
        print("  note: made for another cost-model version; estimates ignore it until you calibrate again")


__all__ = ["register", "run", "pairs_from_figures", "load_correction"]

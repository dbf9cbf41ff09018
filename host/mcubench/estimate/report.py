"""Reading the plugin's report into an Estimate (always labelled as an estimate)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.estimate.calibration import load_correction
from mcubench.estimate.model import BoardAssumption, load_cost_model

REPORT_FORMAT = "mcubench-cycle-estimate/1"
UNIT = "estimated cycles (Cortex-M4 cost model, not a measurement)"


@dataclass(frozen=True)
class RegionEstimate:
    id: int
    entries: int
    cycles: int  # model cycles, inclusive of nested regions, summed over entries
    instructions: int

    @property
    def cycles_per_entry(self) -> float:
        return self.cycles / self.entries if self.entries else 0.0


@dataclass
class Estimate:
    """A cycle estimate of one emulated run, for one board assumption."""

    cycles: int  # model cycles before any calibration
    instructions: int  # exact emulated instruction count (as the plugin counted them)
    regions: dict[int, RegionEstimate]
    model_version: str
    board: BoardAssumption
    branches_taken: int = 0
    branches_not_taken: int = 0
    marker_errors: int = 0
    open_regions: list[int] = field(default_factory=list)
    correction: "object | None" = None  # calibration.Correction applied, if any

    @property
    def clock_hz(self) -> int:
        return self.board.clock_hz

    @property
    def factor(self) -> float:
        return self.correction.factor if self.correction is not None else 1.0

    @property
    def estimated_cycles(self) -> int:
        """Model cycles times the board's stored calibration factor (1 when uncalibrated)."""
        return int(round(self.cycles * self.factor))

    @property
    def estimated_ms(self) -> float:
        return cycles_to_ms(self.estimated_cycles, self.clock_hz)

    @property
    def cpi(self) -> float:
        return self.cycles / self.instructions if self.instructions else 0.0

    def region_cycles(self, region_id: int, per_entry: bool = True) -> float:
        r = self.regions.get(region_id)
        if r is None:
            raise KeyError(f"region {region_id} not in the estimate")
        c = r.cycles_per_entry if per_entry else r.cycles
        return c * self.factor

    def to_dict(self) -> dict:
        return {
            "estimated_cycles": self.estimated_cycles,
            "estimated_ms": self.estimated_ms,
            "unit": UNIT,
            "model_cycles": self.cycles,
            "instructions": self.instructions,
            "cpi": round(self.cpi, 4),
            "model_version": self.model_version,
            "board": self.board.board,
            "board_assumption": self.board.to_dict(),
            "calibration": self.correction.summary() if self.correction is not None else None,
            "regions": [
                {"id": r.id, "entries": r.entries, "cycles": r.cycles, "instructions": r.instructions}
                for r in sorted(self.regions.values(), key=lambda r: r.id)
            ],
            "marker_errors": self.marker_errors,
        }


def cycles_to_ms(cycles: float, clock_hz: int) -> float:
    return cycles / clock_hz * 1000.0


def _read(text_or_path: str | Path) -> tuple[str, str]:
    if isinstance(text_or_path, Path) or not str(text_or_path).lstrip().startswith("{"):
        path = Path(text_or_path)
        try:
            return path.read_text(), str(path)
        except FileNotFoundError:
            raise UserError(
                f"no cycle-estimate report at {path}",
                "QEMU did not exit normally (the plugin writes its report at exit); see QEMU's log",
            ) from None
    return str(text_or_path), "report text"


def parse_report(text_or_path: str | Path, *, apply_calibration: bool = True) -> Estimate:
    """An Estimate from the plugin's JSON report (a path or the text itself).

    With `apply_calibration`, a correction stored by `mcubench calibrate` for the report's
    board and cost-model version is applied and stated (Estimate.correction)."""
    text, where = _read(text_or_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where} is not a cycle-estimate report: {exc}", "was QEMU killed while writing it?") from None
    if data.get("format") != REPORT_FORMAT or data.get("complete") is not True:
        raise UserError(f"{where} is not a complete {REPORT_FORMAT} report", "re-run QEMU with the plugin")
    model = load_cost_model()
    if data["model_version"] != model.model_version:
        raise UserError(
            f"{where} was made with cost model {data['model_version']}, this checkout has {model.model_version}",
            "re-run the estimate",
        )
    regions = {
        int(r["id"]): RegionEstimate(int(r["id"]), int(r["entries"]), int(r["cycles"]), int(r["instructions"]))
        for r in data.get("regions", [])
    }
    est = Estimate(
        cycles=int(data["cycles"]),
        instructions=int(data["instructions"]),
        regions=regions,
        model_version=data["model_version"],
        board=model.board(data["board"]),
        branches_taken=int(data.get("branches_taken", 0)),
        branches_not_taken=int(data.get("branches_not_taken", 0)),
        marker_errors=int(data.get("marker_errors", 0)),
        open_regions=[int(x) for x in data.get("open_regions", [])],
    )
    if apply_calibration:
        est.correction = load_correction(est.board.board, est.model_version)
    return est

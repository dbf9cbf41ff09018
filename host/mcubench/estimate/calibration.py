"""Per-board calibration of the cycle estimate against DWT cycles measured on a board.

`mcubench calibrate` runs the same workload on the board and under the estimate, pairs the
figures by region (timed loop, operators) and stores the cycle-weighted ratio
measured / estimated as the board's correction factor. Later estimates for that board and
cost-model version multiply by it and say so (Estimate.correction)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mcubench.core.errors import UserError
from mcubench.core.fileio import write_json_atomic
from mcubench.core.paths import results_dir

CALIBRATION_FORMAT = "mcubench-calibration/1"


@dataclass(frozen=True)
class RegionRatio:
    name: str
    measured_cycles: float  # DWT cycles on the board
    estimated_cycles: float  # model cycles (uncorrected)

    @property
    def ratio(self) -> float:
        return self.measured_cycles / self.estimated_cycles

    def to_dict(self) -> dict:
        return {"name": self.name, "measured_cycles": self.measured_cycles,
                "estimated_cycles": self.estimated_cycles, "ratio": round(self.ratio, 6)}


@dataclass
class Correction:
    board: str
    model_version: str
    factor: float
    regions: list[RegionRatio]
    source: str  # what was run: workload / image id
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    path: Path | None = None

    def summary(self) -> dict:
        """What an estimate states about the correction it applied."""
        return {"factor": round(self.factor, 6), "board": self.board, "model_version": self.model_version,
                "created": self.created, "source": self.source, "regions": len(self.regions),
                "path": str(self.path) if self.path else None}

    def to_dict(self) -> dict:
        return {"format": CALIBRATION_FORMAT, "board": self.board, "model_version": self.model_version,
                "factor": self.factor, "created": self.created, "source": self.source,
                "regions": [r.to_dict() for r in self.regions]}


def compute_correction(board: str, model_version: str, pairs: dict[str, tuple[float, float]],
                       source: str) -> Correction:
    """`pairs` maps a region name to (measured cycles, estimated cycles), both per entry.

    The factor is cycle-weighted (sum measured / sum estimated) so the long regions that
    dominate latency dominate the correction; per-region ratios are kept for the report.
    Nested regions (a timed loop and its operators) would count twice, so when a `timed`
    region is present the factor comes from it alone."""
    if not pairs:
        raise UserError("no region was measured on both the board and the emulator",
                        "does the image mark regions (firmware/core/mcb_region.h)?")
    ratios = []
    for name, (measured, estimated) in pairs.items():
        for what, v in (("measured", measured), ("estimated", estimated)):
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise UserError(f"region `{name}`: {what} cycles must be a positive number, got {v!r}",
                                "check the recorded figures")
        ratios.append(RegionRatio(name, float(measured), float(estimated)))
    basis = [r for r in ratios if r.name == "timed"] or ratios
    factor = sum(r.measured_cycles for r in basis) / sum(r.estimated_cycles for r in basis)
    return Correction(board=board, model_version=model_version, factor=factor, regions=ratios, source=source)


def correction_path(board: str) -> Path:
    return results_dir() / "calibration" / f"{board}.json"


def save_correction(correction: Correction) -> Path:
    path = correction_path(correction.board)
    write_json_atomic(path, correction.to_dict())
    correction.path = path
    return path


def read_correction(path: Path) -> Correction:
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != CALIBRATION_FORMAT:
            raise ValueError(f"format is {data.get('format')!r}")
        c = Correction(
            board=data["board"], model_version=data["model_version"], factor=float(data["factor"]),
            regions=[RegionRatio(r["name"], float(r["measured_cycles"]), float(r["estimated_cycles"]))
                     for r in data["regions"]],
            source=data["source"], created=data["created"], path=Path(path),
        )
        if not math.isfinite(c.factor) or c.factor <= 0:
            raise ValueError("factor must be positive")
        return c
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"calibration file {path} is unreadable: {exc}",
                        "delete it and run `mcubench calibrate` again") from None


def load_correction(board: str, model_version: str) -> Correction | None:
    """The stored correction for a board, or None when there is none or it was made for
    another cost-model version (a stale factor would silently skew estimates)."""
    path = correction_path(board)
    if not path.exists():
        return None
    c = read_correction(path)
    return c if c.model_version == model_version else None


def pairs_from_results(board_result: dict[str, Any], emulated_result: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Pairs a board's bench result (DWT `cycles` per run, per-op `cycles`) with an emulated
    bench result carrying the estimate (`estimate.model_cycles_per_run`, per-op
    `estimated_cycles`). Operators are matched by index and name."""
    pairs: dict[str, tuple[float, float]] = {}
    est = emulated_result.get("estimate") or {}
    measured = board_result.get("cycles")
    estimated = est.get("model_cycles_per_run")
    if measured and estimated:
        pairs["timed"] = (float(measured), float(estimated))
    board_ops = board_result.get("ops") or []
    emu_ops = emulated_result.get("ops") or []
    for i, (b, e) in enumerate(zip(board_ops, emu_ops)):
        if b.get("name") != e.get("name"):
            raise UserError(f"operator {i} is `{b.get('name')}` on the board but `{e.get('name')}` in the emulator",
                            "calibrate with the same model and runtime on both")
        if b.get("cycles") and e.get("model_estimated_cycles"):
            pairs[f"op{i}:{b.get('name')}"] = (float(b["cycles"]), float(e["model_estimated_cycles"]))
    return pairs

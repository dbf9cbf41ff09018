"""Collect stage: the records of one run become measurements with units.

Checks what the device said against itself (run count, output CRC and coverage) and against
what the host built (build id), so a stale image or a garbled stream is never reported as a
result.
"""

from __future__ import annotations

import statistics
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.core.types import Image
from mcubench.link.protocol import ProtocolError
from mcubench.link.runlog import RunLog

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261129


@dataclass
class Latency:
    unit: str
    source: str
    resolution: float  # latency units per timer tick
    warmup: int
    runs: list[float]
    ticks: list[int]

    @property
    def min(self) -> float:
        return min(self.runs)

    @property
    def max(self) -> float:
        return max(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.runs)

    def ci95(self) -> tuple[float, float]:
        """A 95 % bootstrap confidence interval of the median (percentile method, 2,000
        resamples, fixed seed: the same runs always give the same interval). Runs that are all
        equal, as under an emulator, give a zero-width interval."""
        runs = np.asarray(self.runs, dtype=np.float64)
        if np.all(runs == runs[0]):
            return float(runs[0]), float(runs[0])
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        medians = np.median(runs[rng.integers(0, len(runs), size=(BOOTSTRAP_RESAMPLES, len(runs)))], axis=1)
        low, high = np.percentile(medians, [2.5, 97.5])
        return _number(float(low)), _number(float(high))

    def outliers(self) -> list[int]:
        """Indices of runs outside Tukey's fences (1.5 interquartile ranges beyond the quartiles):
        an interrupt, a cache refill or a USB transfer landing in one run."""
        if len(self.runs) < 4:
            return []
        q1, q3 = np.percentile(self.runs, [25, 75])
        # The fences are at least one timer tick wide: runs a tick apart differ by where the
        # tick fell, not by what happened in them (an emulator's runs are otherwise equal).
        spread = max(1.5 * (q3 - q1), self.resolution)
        low, high = q1 - spread, q3 + spread
        return [i for i, value in enumerate(self.runs) if not low <= value <= high]

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit, "source": self.source, "resolution": self.resolution, "warmup": self.warmup,
            "runs": self.runs, "min": self.min, "median": self.median, "max": self.max, "mean": self.mean,
            "ci95": list(self.ci95()), "outliers": self.outliers(),
        }


@dataclass
class Measurements:
    hello: dict[str, str]
    build: dict[str, str]
    params: dict[str, str]
    latency: Latency
    ops: list[dict[str, Any]]
    memory: dict[str, int]
    output: bytes | None
    warnings: list[str] = field(default_factory=list)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def collect(log: RunLog, image: Image | None = None) -> Measurements:
    hello = log.first("hello")
    if hello is None:
        raise ProtocolError(f"{log.port}: no `hello` record arrived", "is this an mcubench image?")
    if image is not None and hello.get("build") not in (image.build_id, "unknown"):
        raise UserError(
            f"{log.port}: the device runs build {hello.get('build')}, but this build is {image.build_id}",
            "the upload did not take: flash the board again (or reset it)",
        )
    cfg = log.first("cfg")
    if cfg is None:
        raise ProtocolError(f"{log.port}: no `cfg` record before the runs", "the benchmark did not start")
    runs = sorted(log.of_type("run"), key=lambda r: r.int("i"))
    expected = cfg.int("runs")
    if [r.int("i") for r in runs] != list(range(expected)):
        raise ProtocolError(
            f"{log.port}: expected {expected} `run` records, got indices {[r.int('i') for r in runs]}",
            "records were lost on the link: check the cable/baud rate and try again",
        )
    ticks = [r.int("ticks") for r in runs]
    scale = log.units_per_tick
    latency = Latency(
        unit=log.latency_unit,
        source=log.latency_source,
        resolution=_number(scale),
        warmup=cfg.int("warmup"),
        runs=[_number(t * scale) for t in ticks],
        ticks=ticks,
    )
    ops = [
        {
            "index": r.int("idx"),
            "name": r.get("name"),
            "value": _number(r.int("ticks") * scale / max(r.int("runs"), 1)),
            "unit": log.latency_unit,
        }
        for r in log.of_type("op")
    ]
    mem_record = log.first("mem")
    memory = {k: int(v) for k, v in (mem_record.fields.items() if mem_record else []) if v.isdigit()}
    output = _assemble_output(log)
    build = log.first("build")
    return Measurements(
        hello=dict(hello.fields),
        build=dict(build.fields) if build else {},
        params={k[2:]: v for k, v in cfg.fields.items() if k.startswith("p_")},
        latency=latency,
        ops=ops,
        memory=memory,
        output=output,
        warnings=list(log.stats.warnings),
    )


def _assemble_output(log: RunLog) -> bytes | None:
    """The last `out` header and the chunks after it, checked for coverage and CRC-32."""
    header_index = max((i for i, r in enumerate(log.records) if r.type == "out"), default=None)
    if header_index is None:
        return None
    header = log.records[header_index]
    length = header.int("len")
    data = bytearray(length)
    covered = 0
    for record in log.records[header_index + 1 :]:
        if record.type != "outd":
            break
        offset = record.int("off")
        chunk = bytes.fromhex(record.get("hex", ""))
        if offset + len(chunk) > length:
            raise ProtocolError(f"{log.port}: output chunk at {offset} runs past the {length}-byte output", "report a firmware bug")
        data[offset : offset + len(chunk)] = chunk
        covered += len(chunk)
    if covered != length:
        raise ProtocolError(f"{log.port}: output chunks cover {covered} of {length} bytes", "records were lost on the link")
    crc = f"{zlib.crc32(bytes(data)) & 0xFFFFFFFF:08X}"
    if crc != header.get("crc32", "").upper():
        raise ProtocolError(f"{log.port}: output CRC-32 {crc} does not match the device's {header.get('crc32')}", "records were garbled on the link")
    return bytes(data)

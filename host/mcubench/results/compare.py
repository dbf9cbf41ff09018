"""Compare two results: deltas per figure and per op, and the ``--fail-if`` regression gate.

    a, b = resolve(REF_A), resolve(REF_B)         # file, history id, or git revision
    cmp = compare(a, b)
    verdicts = check(cmp, parse_thresholds(["latency>+3%", "flash>+1KiB"]))
    any(v.exceeded for v in verdicts)             # -> exit 1

A threshold is ``FIGURE OP AMOUNT[UNIT]`` and names what counts as a regression, measured as
the change from A to B: ``latency>+3%`` fails when B's median latency is more than 3 % above
A's; ``accuracy<-1pt`` when accuracy drops by more than one percentage point. Units: ``%``
(relative to A), ``pt`` (percentage points, fraction figures), ``B``/``kB``/``KiB``/``MB``/
``MiB`` (byte figures), ``ms``/``us`` (ms figures), or none (the figure's own unit). Under an
emulator the counts are deterministic, so ``instructions>+0`` is an exact gate.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcubench.core.errors import UserError
from mcubench.core.paths import project_root
from mcubench.results.history import History
from mcubench.results.record import FIGURES, Figure, Record, label, load_result

# ---------------------------------------------------------------- comparison


@dataclass
class Delta:
    """One figure (or op) in A and B, in display units (fractions as percent)."""

    kind: str  # "figure" or "op"
    name: str
    unit: str
    a: float | None
    b: float | None
    note: str = ""

    @property
    def comparable(self) -> bool:
        return self.a is not None and self.b is not None and not self.note

    @property
    def delta(self) -> float | None:
        return self.b - self.a if self.comparable else None

    @property
    def delta_pct(self) -> float | None:
        if not self.comparable:
            return None
        if self.a == 0:
            return 0.0 if self.b == 0 else math.copysign(math.inf, self.b)
        return 100.0 * (self.b - self.a) / abs(self.a)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "unit": self.unit, "a": self.a, "b": self.b,
                "delta": self.delta, "delta_pct": _finite(self.delta_pct), "note": self.note or None}


def _finite(x: float | None) -> float | str | None:
    if x is not None and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


@dataclass
class Comparison:
    a: Record
    b: Record
    figures: dict[str, Delta]
    ops: list[Delta]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"id": self.a["id"], "label": label(self.a)},
            "b": {"id": self.b["id"], "label": label(self.b)},
            "notes": self.notes,
            "figures": [d.to_dict() for d in self.figures.values()],
            "ops": [d.to_dict() for d in self.ops],
        }


def _display(figure: Figure, record: Record) -> tuple[float | None, str]:
    value = figure.get(record)
    unit = figure.unit(record)
    if value is not None and figure.kind == "fraction":
        value = 100.0 * value
    return value, unit


def compare(a: Record, b: Record) -> Comparison:
    figures: dict[str, Delta] = {}
    for name, figure in FIGURES.items():
        va, unit_a = _display(figure, a)
        vb, unit_b = _display(figure, b)
        if va is None and vb is None:
            continue
        note = ""
        if unit_a != unit_b:
            note = f"units differ: {unit_a} vs {unit_b}"
        figures[name] = Delta("figure", name, unit_a if unit_a == unit_b else f"{unit_a}|{unit_b}", va, vb, note)
    ops = _compare_ops(a, b)
    return Comparison(a, b, figures, ops, identity_notes(a, b))


def _compare_ops(a: Record, b: Record) -> list[Delta]:
    """Ops matched by position and name; an op only one side has is listed, not compared."""
    ops_a = {(op["index"], op["name"]): op for op in a.get("ops", [])}
    ops_b = {(op["index"], op["name"]): op for op in b.get("ops", [])}
    out = []
    for key in sorted(ops_a.keys() | ops_b.keys()):
        oa, ob = ops_a.get(key), ops_b.get(key)
        unit_a, unit_b = (oa or ob)["unit"], (ob or oa)["unit"]
        note = ""
        if oa is None:
            note = "only in B"
        elif ob is None:
            note = "only in A"
        elif unit_a != unit_b:
            note = f"units differ: {unit_a} vs {unit_b}"
        out.append(Delta("op", f"{key[0]}:{key[1]}", unit_a, oa and oa["value"], ob and ob["value"], note))
    return out


_IDENTITY_FIELDS = (
    ("model", lambda r: r["identity"]["model"]["sha256"] or r["identity"]["model"]["name"]),
    ("runtime", lambda r: r["identity"]["runtime"]),
    ("board", lambda r: r["identity"]["board"]),
    ("target", lambda r: r["identity"]["target"]),
    ("workload", lambda r: (r["identity"]["workload"]["name"], sorted(r["identity"]["workload"]["params"].items()))),
    ("latency unit", lambda r: r["latency"]["unit"]),
    ("compiler", lambda r: r["identity"].get("compiler")),
    ("cflags", lambda r: r["identity"].get("cflags")),
)


def identity_notes(a: Record, b: Record) -> list[str]:
    """What differs between the two setups, so a delta is read for what it is."""
    notes = []
    for name, get in _IDENTITY_FIELDS:
        va, vb = get(a), get(b)
        if va != vb:
            notes.append(f"{name} differs: {_short(va)} vs {_short(vb)}")
    return notes


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if re.fullmatch(r"[0-9a-f]{64}", text) else text


# ---------------------------------------------------------------- thresholds

_BYTE_UNITS = {"B": 1, "kB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2}
_THRESHOLD = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|>|<)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([A-Za-z%]*)\s*$")


@dataclass(frozen=True)
class Threshold:
    text: str
    figure: str  # a FIGURES name, or "ops" (every op)
    op: str
    amount: float  # in ``unit``
    unit: str  # "%", "pt", "" (the figure's own unit: bytes, ms, counts...)

    def breached(self, observed: float) -> bool:
        return {">": observed > self.amount, ">=": observed >= self.amount,
                "<": observed < self.amount, "<=": observed <= self.amount}[self.op]


def _allowed_units(kind: str) -> str:
    return {"bytes": "%, B, kB, KiB, MB, MiB or none (bytes)", "fraction": "pt (percentage points) or % (relative)",
            "ms": "%, ms, us or none (ms)"}.get(kind, "% or none (the figure's own unit)")


def parse_threshold(text: str) -> Threshold:
    m = _THRESHOLD.match(text)
    if not m:
        raise UserError(f"--fail-if {text!r} is not FIGURE>AMOUNT or FIGURE<AMOUNT",
                        "e.g. latency>+3%, flash>+1KiB, ram>+512B, accuracy<-1pt, instructions>+0")
    name, op, amount_text, unit = m.groups()
    name = name.lower()
    amount = float(amount_text)
    if name in ("op", "ops"):
        kind = "latency"
        name = "ops"
    elif name in FIGURES:
        kind = FIGURES[name].kind
    else:
        raise UserError(f"--fail-if {text!r}: unknown figure `{name}`",
                        f"choose one of: {', '.join([*FIGURES, 'ops'])}")
    if unit in ("pts", "pp"):
        unit = "pt"
    if unit == "%":
        return Threshold(text, name, op, amount, "%")
    if kind == "fraction":
        if unit != "pt":
            raise UserError(f"--fail-if {text!r}: `{name}` is a fraction; give the amount in {_allowed_units(kind)}",
                            f"e.g. {name}<-1pt")
        return Threshold(text, name, op, amount, "pt")
    if kind == "bytes":
        if unit and unit not in _BYTE_UNITS:
            raise UserError(f"--fail-if {text!r}: unit `{unit}` does not fit `{name}` (bytes)", f"use {_allowed_units(kind)}")
        return Threshold(text, name, op, amount * _BYTE_UNITS.get(unit or "B", 1), "")
    if kind == "ms":
        scale = {"": 1.0, "ms": 1.0, "us": 1e-3}.get(unit)
        if scale is None:
            raise UserError(f"--fail-if {text!r}: unit `{unit}` does not fit `{name}` (ms)", f"use {_allowed_units(kind)}")
        return Threshold(text, name, op, amount * scale, "")
    if unit:
        raise UserError(f"--fail-if {text!r}: unit `{unit}` does not fit `{name}`", f"use {_allowed_units(kind)}")
    return Threshold(text, name, op, amount, "")


def parse_thresholds(texts: list[str]) -> list[Threshold]:
    """Each text may hold several thresholds separated by commas."""
    out = []
    for text in texts:
        parts = [p.strip() for p in text.split(",")]
        if any(not p for p in parts):
            raise UserError(f"--fail-if {text!r} has an empty threshold", "separate thresholds with single commas")
        out += [parse_threshold(p) for p in parts]
    return out


@dataclass
class Verdict:
    threshold: Threshold
    exceeded: bool
    observed: list[tuple[str, float]]  # (what, change in the threshold's unit)
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold.text, "exceeded": self.exceeded, "detail": self.detail,
                "observed": [{"name": n, "change": _finite(v)} for n, v in self.observed]}


def _change(delta: Delta, threshold: Threshold) -> float:
    if threshold.unit == "%":
        return delta.delta_pct
    return delta.delta  # fractions are in percent already, so a delta is in points


def _fmt(value: float, unit: str) -> str:
    if math.isinf(value):
        return "+inf%" if value > 0 else "-inf%"
    return f"{value:+.4g}{unit}"


# Figures that are the median run: a change in them is significant only outside A's interval.
MEDIAN_FIGURES = ("latency", "cycles", "latency_ms")


def outside_interval(comparison: Comparison) -> tuple[bool | None, str]:
    """Whether B's median lies outside A's 95 % interval of the median (None: A has none)."""
    interval = comparison.a["latency"].get("ci95")
    if not interval:
        return None, "A has no confidence interval (recorded before mcubench 0.2)"
    low, high = interval
    median = comparison.b["latency"]["median"]
    inside = low <= median <= high
    return not inside, f"B's median {median:,.6g} is {'inside' if inside else 'outside'} A's 95 % interval [{low:,.6g}, {high:,.6g}]"


def check(comparison: Comparison, thresholds: list[Threshold], significant: bool = False) -> list[Verdict]:
    """The verdict of each threshold. With ``significant``, a median-latency threshold is breached
    only when B's median also lies outside A's 95 % confidence interval: run-to-run noise on a
    real board is not a regression."""
    verdicts = []
    for t in thresholds:
        if t.figure == "ops":
            deltas = [d for d in comparison.ops if d.comparable]
            if not deltas:
                raise UserError(f"--fail-if {t.text!r}: A and B have no ops in common",
                                "per-op thresholds need per-op profiles (model runtimes) in both results")
        else:
            d = comparison.figures.get(t.figure)
            if d is None or d.a is None or d.b is None:
                side = "either result" if d is None else ("A" if d.a is None else "B")
                raise UserError(f"--fail-if {t.text!r}: `{t.figure}` is not in {side}",
                                "compare results that both have this figure, or drop the threshold")
            if d.note:
                raise UserError(f"--fail-if {t.text!r}: cannot compare `{t.figure}`: {d.note}",
                                "compare runs measured the same way (same target/emulator)")
            deltas = [d]
        observed = [(d.name, _change(d, t)) for d in deltas]
        breached = [(n, v) for n, v in observed if t.breached(v)]
        unit = "pt" if t.unit == "pt" else ("%" if t.unit == "%" else f" {deltas[0].unit}".rstrip())
        shown = breached or observed[:1]
        detail = ", ".join(f"{n} {_fmt(v, unit)}" for n, v in shown)
        if t.figure != "ops":
            d = deltas[0]
            detail += f" ({d.a:,.6g} -> {d.b:,.6g} {d.unit})".replace("  ", " ")
        if significant and breached and t.figure in MEDIAN_FIGURES:
            outside, why = outside_interval(comparison)
            if outside is None:
                raise UserError(f"--fail-if {t.text!r} --significant: {why}", "run A again, or drop --significant")
            detail += f"; {why}"
            breached = breached if outside else []
        verdicts.append(Verdict(t, bool(breached), observed, detail))
    return verdicts


# ---------------------------------------------------------------- what A and B name

def resolve_baseline(ref: str, history: History | None = None, filters: dict[str, str | None] | None = None) -> tuple[Record, str]:
    """A, the baseline of a comparison: as ``resolve``, and refused when its outputs did not
    match the host interpreter (the run is kept in the history, marked by ``outputs_match``)."""
    record, where = resolve(ref, history, filters)
    if record.get("outputs_match") is False:
        raise UserError(f"A ({where}) is a failed run: its outputs did not match the host interpreter's",
                        "compare against a run whose outputs matched (mcubench history lists them)")
    return record, where


def resolve(ref: str, history: History | None = None, filters: dict[str, str | None] | None = None) -> tuple[Record, str]:
    """A result from a file path, a history id (or unique prefix), or a git revision (the
    newest history record built from that commit, narrowed by ``filters``). Returns the record
    and a description of where it came from."""
    history = history or History()
    path = Path(ref)
    if path.is_file() or ref.endswith(".json"):
        return load_result(path), str(path)
    if re.fullmatch(r"[0-9a-fA-F-]{4,36}", ref) and history.path.is_file():
        record = history.find(ref)
        if record is not None:
            return record, f"history {record['id'][:8]}"
    commit = _git_commit(ref)
    if commit is None:
        raise UserError(f"`{ref}` is not a result file, a history id or a git revision",
                        "give a result JSON, an id from `mcubench history`, or a commit such as HEAD~1")
    if not history.path.is_file():
        raise UserError(f"no history at {history.path} to look up revision `{ref}`", "run `mcubench bench` at that revision first")
    # A run whose outputs differed from the host interpreter's measured a broken image: never a baseline.
    candidates = [r for r in history.query(**(filters or {})) if _built_from(r, commit) and r.get("outputs_match") is not False]
    clean = [r for r in candidates if not r["identity"]["git_hash"].endswith("+dirty")]
    chosen = (clean or candidates)[:1]
    if not chosen:
        narrowed = ", ".join(f"{k}={v}" for k, v in (filters or {}).items() if v)
        raise UserError(f"no stored result was built from revision `{ref}` ({commit[:12]})" + (f" with {narrowed}" if narrowed else ""),
                        "run `mcubench bench` at that revision, or narrow with --model/--board/--runtime")
    record = chosen[0]
    dirty = " (+dirty: local changes)" if not clean else ""
    return record, f"revision {ref} ({commit[:12]}{dirty}), history {record['id'][:8]}"


def _built_from(record: Record, commit: str) -> bool:
    stored = (record["identity"].get("git_hash") or "").split("+")[0]
    return bool(stored) and commit.startswith(stored)


def _git_commit(ref: str) -> str | None:
    if ref.startswith("-"):
        return None
    try:
        done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=project_root(),
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None

"""`mcubench compare A B`: deltas per figure and per op; `--fail-if` makes it a regression gate.

Exit status: 0 when no threshold is exceeded, 1 when one is (each is printed), 2 for bad input.
"""

from __future__ import annotations

import argparse
import math
import sys

from mcubench.commands.history import add_filter_options, filters_of
from mcubench.results.compare import Comparison, Verdict, check, compare, parse_thresholds, resolve, resolve_baseline
from mcubench.results.formats import add_format_options, console, human, print_table, write_csv, write_json
from mcubench.results.history import History
from mcubench.results.record import label

CSV_COLUMNS = ["kind", "name", "unit", "a", "b", "delta", "delta_pct", "note", "exceeded"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("compare", help="compare two results (files, history ids or git revisions); regression gate")
    p.add_argument("a", metavar="A", help="baseline: result JSON, history id, or git revision")
    p.add_argument("b", metavar="B", help="candidate: result JSON, history id, or git revision")
    p.add_argument("--fail-if", action="append", default=[], metavar="THRESHOLD",
                   help="exit 1 when B regresses past it, e.g. 'latency>+3%%', 'flash>+1KiB', 'ram>+512B', "
                        "'accuracy<-1pt', 'instructions>+0' (comma-separated or repeated)")
    p.add_argument("--significant", action="store_true",
                   help="a median-latency threshold fails only when B's median is also outside A's 95 %% confidence interval")
    add_filter_options(p)
    add_format_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    thresholds = parse_thresholds(args.fail_if)  # a malformed threshold fails before any lookup
    history = History(args.db)
    filters = filters_of(args)
    a, where_a = resolve_baseline(args.a, history, filters)
    b, where_b = resolve(args.b, history, filters)
    comparison = compare(a, b)
    verdicts = check(comparison, thresholds, significant=args.significant)
    exceeded = [v for v in verdicts if v.exceeded]
    if args.format == "json":
        write_json(comparison.to_dict() | {"a_source": where_a, "b_source": where_b,
                                           "thresholds": [v.to_dict() for v in verdicts], "regressed": bool(exceeded)})
    elif args.format == "csv":
        rows = [d.to_dict() for d in [*comparison.figures.values(), *comparison.ops]]
        rows += [{"kind": "threshold", "name": v.threshold.text, "note": v.detail, "exceeded": v.exceeded} for v in verdicts]
        write_csv(rows, CSV_COLUMNS)
    else:
        print_comparison(comparison, where_a, where_b, verdicts)
    for v in exceeded:
        print(f"mcubench compare: regression: {v.threshold.text}: {v.detail}", file=sys.stderr)
    return 1 if exceeded else 0


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "new" if value > 0 else "-inf"
    return f"{value:+.2f}%"


def _signed(value: float | None) -> str:
    if value is None:
        return "-"
    text = human(value)
    return text if text.startswith("-") else "+" + text


def print_comparison(c: Comparison, where_a: str, where_b: str, verdicts: list[Verdict]) -> None:
    out = console()
    out.print(f"A: {label(c.a)}  [{where_a}]", markup=False, highlight=False)
    out.print(f"B: {label(c.b)}  [{where_b}]", markup=False, highlight=False)
    for note in c.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    rows = [{"figure": d.name, "unit": d.unit, "A": human(d.a), "B": human(d.b), "delta": _signed(d.delta),
             "delta %": _pct(d.delta_pct) if not d.note else d.note} for d in c.figures.values()]
    styles = {i: "dim" for i, d in enumerate(c.figures.values()) if d.note}
    print_table(rows, ["figure", "unit", "A", "B", "delta", "delta %"], title="figures (B - A)",
                right=("A", "B", "delta", "delta %"), styles=styles)
    if c.ops:
        rows = [{"op": d.name, "unit": d.unit, "A": human(d.a), "B": human(d.b), "delta": _signed(d.delta),
                 "delta %": _pct(d.delta_pct) if not d.note else d.note} for d in c.ops]
        print_table(rows, ["op", "unit", "A", "B", "delta", "delta %"], title="per op (B - A)",
                    right=("A", "B", "delta", "delta %"), styles={i: "dim" for i, d in enumerate(c.ops) if d.note})
    if verdicts:
        rows = [{"threshold": v.threshold.text, "result": "EXCEEDED" if v.exceeded else "ok", "observed": v.detail}
                for v in verdicts]
        print_table(rows, ["threshold", "result", "observed"], title="--fail-if",
                    styles={i: ("bold red" if v.exceeded else "green") for i, v in enumerate(verdicts)})


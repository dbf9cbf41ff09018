"""`mcubench history`: list, filter, show and import stored results."""

from __future__ import annotations

import argparse

from mcubench.core.errors import UserError
from mcubench.results.formats import add_format_options, human, print_table, write_csv, write_json
from mcubench.results.history import History
from mcubench.results.record import SUMMARY_COLUMNS, figure_value, label, load_result, summary_row

LIST_COLUMNS = ["id", "created", "variant", "target", "latency", "flash_bytes", "ram_bytes", "accuracy", "git_hash"]


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """Filters shared by history, compare (for ids/revisions) and report."""
    p.add_argument("--model", help="model name or sha256 prefix")
    p.add_argument("--runtime", help="builtin, tflm or aot")
    p.add_argument("--board", help="board id")
    p.add_argument("--recipe", help="recipe name")
    p.add_argument("--target", help="qemu, renode, hardware, labgrid")
    p.add_argument("--since", help="only results since a date (2026-01-31) or an age (7d, 12h)")
    p.add_argument("--db", help="history database (default: <results dir>/history.sqlite)")


def filters_of(args: argparse.Namespace) -> dict[str, str | None]:
    return {k: getattr(args, k, None) for k in ("model", "runtime", "board", "recipe", "target", "since")}


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("history", help="list and filter stored results")
    add_filter_options(p)
    p.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default 50; 0 = all)")
    p.add_argument("--show", metavar="ID", help="print one stored record (full JSON)")
    p.add_argument("--add", nargs="+", metavar="RESULT.json", help="store result files in the history")
    add_format_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    history = History(args.db)
    if args.limit < 0:
        raise UserError("--limit must be 0 (all) or more", "e.g. --limit 20")
    if args.add:
        records = [load_result(path) for path in args.add]  # check them all before storing any
        for record in records:
            history.add(record)
        print(f"stored {len(records)} result(s) in {history.path}")
        return 0
    if args.show:
        write_json(history.get(args.show))
        return 0
    records = history.query(**filters_of(args), limit=args.limit or None)
    if args.format == "json":
        write_json(records)
    elif args.format == "csv":
        rows = [summary_row(r) for r in records]
        write_csv(rows, SUMMARY_COLUMNS)
    else:
        if not records:
            print(f"no results in {history.path}" + (" matching the filters" if any(filters_of(args).values()) else ""))
            return 0
        rows = [_list_row(r) for r in records]
        print_table(rows, LIST_COLUMNS, title=f"{len(rows)} result(s), newest first",
                    headers={"variant": "model/variant/runtime/board", "flash_bytes": "flash B", "ram_bytes": "RAM B"},
                    right=("latency", "flash_bytes", "ram_bytes", "accuracy"))
    return 0



def _list_row(record: dict) -> dict:
    lat = record["latency"]
    host = record.get("host") or {}
    return {
        "id": record["id"][:8],
        "created": record["created"][:16].replace("T", " "),
        "variant": label(record),
        "target": record["identity"]["target"],
        "latency": f"{human(lat['median'])} {lat['unit']}",
        "flash_bytes": record["memory"]["flash_bytes"],
        "ram_bytes": figure_value(record, "ram"),
        "accuracy": None if host.get("accuracy") is None else f"{100 * host['accuracy']:.2f}%",
        "git_hash": record["identity"].get("git_hash"),
    }

"""One way to print rows: a rich table for people, JSON or CSV for scripts."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any, Iterable, TextIO


def add_format_options(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="format", action="store_const", const="json", help="print JSON for scripts")
    group.add_argument("--csv", dest="format", action="store_const", const="csv", help="print CSV for scripts")
    parser.set_defaults(format="table")


def human(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def write_csv(rows: Iterable[dict[str, Any]], columns: list[str], out: TextIO | None = None) -> None:
    writer = csv.DictWriter(out or sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def write_json(obj: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    json.dump(obj, out, indent=2)
    out.write("\n")


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None,
                headers: dict[str, str] | None = None, right: Iterable[str] = (), styles: dict[int, str] | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    right = set(right)
    for column in columns:
        table.add_column(escape((headers or {}).get(column, column)), justify="right" if column in right else "left")
    for i, row in enumerate(rows):
        table.add_row(*(escape(human(row.get(c))) for c in columns), style=(styles or {}).get(i))
    console().print(table)


def console():
    """A rich console; wide when piped so tables are not squeezed to 80 columns."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)

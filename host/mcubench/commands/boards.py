"""`mcubench boards`: the boards mcubench knows, with their limits and targets."""

from __future__ import annotations

import argparse
import json

from mcubench.core.boards import all_boards


def register(sub):
    p = sub.add_parser("boards", help="list known boards")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    boards = all_boards()
    if args.json:
        print(json.dumps([
            {"id": b.id, "name": b.name, "mcu": b.mcu, "clock_hz": b.clock_hz, "flash_bytes": b.flash_bytes,
             "ram_bytes": b.ram_bytes, "targets": list(b.targets), "default_target": b.default_target}
            for b in boards
        ], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for col in ("board", "name", "clock", "flash", "RAM", "targets"):
        table.add_column(col)
    for b in boards:
        targets = ", ".join(f"{t}*" if t == b.default_target else t for t in b.targets)
        table.add_row(b.id, b.name, f"{b.clock_hz / 1e6:g} MHz", f"{b.flash_bytes // 1024:,} KiB", f"{b.ram_bytes // 1024:,} KiB", targets)
    Console().print(table)
    print("* default target")
    return 0

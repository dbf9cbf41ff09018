"""`mcubench report`: Markdown and a self-contained HTML page with plots, from results.

With result files: those. Without: the history, narrowed by the filters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mcubench.commands.history import add_filter_options, filters_of
from mcubench.core.errors import UserError
from mcubench.results.formats import add_format_options, print_table, write_csv, write_json
from mcubench.results.history import History
from mcubench.results.record import load_result
from mcubench.results.report import build_report, default_out_dir, summary_rows, write_report


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help="write a Markdown and HTML report with plots from results")
    p.add_argument("results", nargs="*", metavar="RESULT.json", help="result files (default: the history)")
    add_filter_options(p)
    p.add_argument("--limit", type=int, default=200, help="at most this many history results, newest first (default 200)")
    p.add_argument("--out", type=Path, help="output directory (default <results dir>/reports/<time>)")
    p.add_argument("--title", default="mcubench report", help="report title")
    add_format_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UserError("--limit must be at least 1", "e.g. --limit 50")
    if args.results:
        records = [load_result(path) for path in args.results]
    else:
        history = History(args.db)
        if not history.path.is_file():
            raise UserError(f"no history at {history.path}", "run `mcubench bench` first, or give result files")
        records = history.query(**filters_of(args), limit=args.limit)
    report = build_report(records, title=args.title)
    files = write_report(report, args.out or default_out_dir())
    if args.format == "json":
        write_json({"markdown": str(files.markdown), "html": str(files.html), "plots": [str(p) for p in files.plots],
                    "results": [r["id"] for r in report.variants], "summary": summary_rows(report)})
    elif args.format == "csv":
        rows = summary_rows(report)
        write_csv(rows, list(rows[0]))
    else:
        rows = summary_rows(report)
        columns = ["variant", "target", "latency (median)", "unit (source)", "flash B", "static RAM B", "accuracy", "fits"]
        print_table(rows, columns, title=report.title, right=("latency (median)", "flash B", "static RAM B", "accuracy"))
        print(f"plots: {', '.join(p.id for p in report.plots)}")
        print(f"markdown: {files.markdown}")
        print(f"html: {files.html}")
    return 0

"""`mcubench sweep CONFIG | --example`: a grid of benchmark jobs on Dask distributed.

Resumable: jobs already in the history are skipped. Prints a progress bar (stderr), then the
comparison table; `--json` prints a summary with the counts of jobs done, skipped and failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.results.history import History
from mcubench.sweep import SweepInterrupted, SweepSummary, example_config, load_config, run_sweep, write_sweep_report


def register(sub):
    p = sub.add_parser("sweep", help="run a grid of models × recipes × runtimes × boards (resumable, parallel)")
    p.add_argument("config", nargs="?", type=Path, help="YAML sweep file (see docs/sweeps.md)")
    p.add_argument("--example", action="store_true", help="the built-in example sweep (example models × three recipes)")
    p.add_argument("--workers", type=int, default=None, help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing Dask cluster instead of a local one")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--dry-run", action="store_true", help="list the jobs and whether each is already done")
    p.add_argument("--report", type=Path, metavar="DIR", help="where to write the report (default results/reports/<name>)")
    p.add_argument("--no-report", action="store_true", help="skip the Markdown/HTML report at the end")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.example == bool(args.config):
        raise UserError("give either a sweep file or --example", "e.g. mcubench sweep --example --workers 2")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1", "e.g. --workers 2")
    config = example_config() if args.example else load_config(args.config)
    if args.dry_run:
        done = History().keys()
        for spec in config.jobs:
            print(f"{'done' if spec.key() in done else 'todo'}  {spec.key()[:12]}  {spec.label()}")
        return 0
    try:
        summary = _run_with_progress(config, args)
    except SweepInterrupted as stop:
        s = stop.summary
        print(f"mcubench: sweep interrupted: {s.done + s.skipped} of {s.jobs} jobs stored; "
              "run the same command to do exactly the missing ones", file=sys.stderr)
        return 130
    if not args.no_report:
        write_sweep_report(config, summary, args.report)
    if args.json:
        json.dump(summary.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_summary(summary)
    return 1 if summary.failed else 0


def _run_with_progress(config, args) -> SweepSummary:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    ) as progress:
        task = progress.add_task(f"sweep {config.name}", total=len(config.jobs))

        def on_progress(state, spec, record):
            progress.advance(task)
            if state == "failed":
                progress.console.print(f"[red]failed[/red] {spec.label()}")

        return run_sweep(config, workers=args.workers, scheduler=args.scheduler, on_progress=on_progress)


def _print_summary(summary: SweepSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if summary.results:
        history = History(summary.history)
        table = Table(title=f"sweep {summary.name}", header_style="bold")
        for col in ("model", "variant", "runtime", "board", "latency", "flash B", "RAM B", "outputs match"):
            table.add_column(col)
        for rid in summary.results:
            r = history.get(rid)
            ident, lat = r["identity"], r["latency"]
            table.add_row(
                ident["model"]["name"], ident.get("variant") or "-", ident["runtime"], ident["board"],
                f"{lat['median']:,.0f} {lat['unit']}", f"{r['memory']['flash_bytes']:,}", f"{r['memory']['static_ram_bytes']:,}",
                {True: "yes", False: "NO", None: "-"}[r.get("outputs_match")],
            )
        console.print(table)
    for failure in summary.failures:
        console.print(f"[red]failed[/red] {failure['job']}: {failure['error'].splitlines()[0]}")
    console.print(f"{summary.jobs} jobs: {summary.done} done, {summary.skipped} skipped (already in the history), {summary.failed} failed")
    console.print(f"history: {summary.history}")
    if summary.report:
        console.print(f"report: {summary.report}")

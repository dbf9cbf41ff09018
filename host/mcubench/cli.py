"""Every command: parse options, call stages, print. Thin on purpose.

Each command lives in ``mcubench.commands.<name>`` and exposes
``register(subparsers) -> argparse.ArgumentParser`` which sets ``func=run(args) -> int``.
The registry below is explicit: adding a command means adding one line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mcubench import __version__
from mcubench.core import progress
from mcubench.core.errors import UserError

# name -> module under mcubench.commands (explicit registry, no discovery by scanning).
COMMANDS: dict[str, str] = {
    "bench": "mcubench.commands.bench",
    "build": "mcubench.commands.build",
    "render": "mcubench.commands.render",
    "monitor": "mcubench.commands.monitor",
    "flash-and-benchmark": "mcubench.commands.flash_and_benchmark",
    "validate": "mcubench.commands.validate",
    "calibrate": "mcubench.commands.calibrate",
    "doctor": "mcubench.commands.doctor",
    "boards": "mcubench.commands.boards",
    "sweep": "mcubench.commands.sweep",
    "emulate": "mcubench.commands.emulate",
    "quantize": "mcubench.commands.quantize",
    "prune": "mcubench.commands.prune",
    "qat": "mcubench.commands.qat",
    "distill": "mcubench.commands.distill",
    "analyze": "mcubench.commands.analyze",
    "history": "mcubench.commands.history",
    "compare": "mcubench.commands.compare",
    "report": "mcubench.commands.report",
    "aot-bench": "mcubench.commands.aot_bench",
    "estimate-bench": "mcubench.commands.estimate_bench",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcubench",
        description="Take a trained model to numbers measured on a microcontroller or an emulated Cortex-M4.",
    )
    parser.add_argument("--version", action="version", version=f"mcubench {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = importlib.import_module(module).register(sub)
        # Every command takes -v: third-party output (TensorFlow, PlatformIO) is hidden without it.
        if "--verbose" not in command._option_string_actions:
            command.add_argument("-v", "--verbose", action="store_true", help="show third-party output and the commands run")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # With no arguments the main job runs: the keyword-spotting model on the emulated board.
        args = parser.parse_args(["bench", *argv])
    if args.verbose:
        os.environ["MCUBENCH_VERBOSE"] = "1"  # read where third-party output is captured
    elif not (getattr(args, "json", False) or getattr(args, "csv", False)):
        progress.enable()  # a terminal only; never in machine-read output
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        if args.traceback:
            raise
        print(f"mcubench: error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  hint: {err.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mcubench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

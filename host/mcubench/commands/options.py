"""Options shared by the commands that run an image, and the flags derived from the runtimes'
and targets' own typed options (each declared once, as a dataclass field with CLI help in
its metadata), so a new runtime or target brings its flags without a command being edited."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from mcubench.core.boards import DEFAULT_BOARD
from mcubench.core.types import RuntimeOptions, TargetOptions
from mcubench.runtimes import RUNTIMES
from mcubench.targets import all_targets, get_target, target_names


def _cli_fields(options_type: type) -> list[dataclasses.Field]:
    """The fields that are command-line options: those with a `help` in their metadata."""
    return [f for f in dataclasses.fields(options_type) if "help" in f.metadata]


def _add_fields(parser: Any, options_type: type, seen: set[str]) -> None:
    for f in _cli_fields(options_type):
        if f.name in seen:  # two plugins sharing a flag share its value
            continue
        seen.add(f.name)
        kwargs = {k: v for k, v in f.metadata.items() if k in ("help", "metavar", "choices", "type", "action")}
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, **kwargs)


def _values(options_type: type, args: argparse.Namespace) -> dict[str, Any]:
    return {f.name: getattr(args, f.name, None) for f in _cli_fields(options_type)}


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """Every runtime's own flags (e.g. --cmsis-nn, --tflm-dir)."""
    seen: set[str] = set()
    for cls in RUNTIMES.values():
        _add_fields(parser, cls.options_type, seen)


def runtime_options(runtime: str, args: argparse.Namespace) -> RuntimeOptions | None:
    """The chosen runtime's typed options from the parsed flags (None: it has none)."""
    options_type = RUNTIMES[runtime].options_type
    if not _cli_fields(options_type):
        return None
    return options_type.from_cli(_values(options_type, args))


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """Every target's own flags, one group per target (e.g. labgrid's --place, --tags)."""
    seen: set[str] = set()
    for target in all_targets():
        if _cli_fields(target.options_type):
            group = parser.add_argument_group(f"{target.name} (--target {target.name})")
            _add_fields(group, target.options_type, seen)


def target_options(target: str, args: argparse.Namespace) -> TargetOptions | None:
    options_type = get_target(target).options_type
    if not _cli_fields(options_type):
        return None
    return options_type.from_cli(_values(options_type, args))


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options every command that runs an image shares."""
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board id (mcubench boards); default: {DEFAULT_BOARD} (emulated)")
    p.add_argument("--target", "--emulator", dest="target", default=None,
                   help=f"{', '.join(target_names())} or auto (default: the board's own target)")
    p.add_argument("--memory-of", metavar="BOARD", help="enforce this board's flash/RAM limits (e.g. nano33ble)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before timing (default 1)")
    p.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the run (default 120)")
    p.add_argument("--port", help="hardware: serial port or URL (default: find the board by USB ID)")
    p.add_argument("--estimate", metavar="ASSUMPTION",
                   help="also estimate Cortex-M4 cycles and ms under a board assumption of the cost model (nano33ble, "
                        "nano33ble-icache, mps2-an386; docs/cycle-estimate.md); needs a target that loads an "
                        "instruction plugin (QEMU)")
    p.add_argument("--verbose", "-v", action="store_true", help="show the commands run")
    add_target_options(p)

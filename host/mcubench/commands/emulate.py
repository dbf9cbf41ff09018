"""`mcubench emulate`: build the benchmark image for an emulated board and run it, or write the
emulator's scripts for CI (`--robot` generates the Renode Robot suite; `--dry-run` only writes).

    mcubench emulate --emulator renode --robot --dry-run --out DIR   # .resc + .robot + .elf, no Renode needed
    mcubench emulate --emulator renode --robot --out DIR             # ... and runs renode-test on them
    mcubench emulate --emulator qemu                                 # runs the session over QEMU's UART

Exit status: 0 when the image reported its results and `done status=ok`; non-zero on an `err`
record, a timeout, a failed Robot test or an image that does not fit the board.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mcubench.bench.build import build
from mcubench.bench.render import project_dir_for, render_project
from mcubench.core.boards import Board, all_boards, check_fit, load_board
from mcubench.core.elf import elf_sizes
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic
from mcubench.core.params import parse_params
from mcubench.core.paths import work_dir
from mcubench.core.types import Image, RunOptions, WorkloadSpec
from mcubench.targets.emulator import Emulator, EmulatorTarget
from mcubench.targets.emulators import EMULATORS, get_emulator
from mcubench.targets.renode import Renode, RenodeOptions, board_for_target
from mcubench.targets.renode_scripts import RenodeMachine, write_scripts


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "emulate",
        help="run the benchmark image in an emulator, or write Renode's .resc/.robot for CI",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--emulator", default="auto", choices=[*EMULATORS, "auto"],
                        help="emulator to use; auto: the first one on PATH that can emulate the board")
    parser.add_argument("--board", help="board id (default: the first board the emulator can emulate)")
    parser.add_argument("--workload", default="dot_int8", help="built-in workload (default: dot_int8)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="workload parameter, e.g. n=2048")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before the timed ones (default: 1)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (default: 5)")
    parser.add_argument("--robot", action="store_true", help="generate a Robot Framework suite and run it with renode-test (Renode only)")
    parser.add_argument("--dry-run", action="store_true", help="build and write the scripts and the ELF, run nothing")
    parser.add_argument("--out", type=Path, help="directory for the ELF, scripts and logs (default: under the work dir)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds for the session (host wall clock); the Robot suite waits this many virtual seconds per record")
    parser.add_argument("--verbose", action="store_true", help="show the build and emulator command lines")
    parser.set_defaults(func=run)
    return parser


def _boards_for(emulator_name: str) -> list[Board]:
    return [b for b in all_boards() if emulator_name in b.targets]


def choose(emulator_arg: str, board_arg: str | None, need_present: bool) -> tuple[Emulator, Board]:
    """Picks the emulator and board. `auto` takes the first registered emulator that is on
    PATH (any, for a dry run) and can emulate the board."""
    if emulator_arg != "auto":
        emulator = get_emulator(emulator_arg)
        candidates = [load_board(board_arg)] if board_arg else _boards_for(emulator.name)
        if not candidates:
            raise UserError(f"no board can run on {emulator.name}", "add a target entry to a board file (docs/renode.md)")
        board = candidates[0]
        reason = emulator.supports(board)
        if reason:
            raise UserError(reason, f"boards {emulator.name} emulates: {', '.join(b.id for b in _boards_for(emulator.name)) or 'none'}")
        return emulator, board
    tried = []
    for name in EMULATORS:
        emulator = get_emulator(name)
        if need_present and not emulator.executable():
            tried.append(f"{name} (not on PATH)")
            continue
        boards = [load_board(board_arg)] if board_arg else _boards_for(name)
        for board in boards:
            if emulator.supports(board) is None:
                return emulator, board
        tried.append(f"{name} (cannot emulate {board_arg or 'any board'})")
    raise UserError("no emulator available: " + ", ".join(tried), Renode.install_hint + "; or sudo apt-get install qemu-system-arm")


@dataclass
class EmulationImage:
    image: Image  # the image, its ELF copied into the output directory
    board: Board  # the board as built for this emulator
    sizes: object


def build_for_emulator(emulator: Emulator, board: Board, workload_name: str, params: dict, warmup: int, runs: int,
                       out_dir: Path, verbose: bool = False) -> EmulationImage:
    """Renders and builds the benchmark image for ``board`` under ``emulator`` and copies the
    ELF into ``out_dir`` as `<board>-<port>.elf`; refuses an image that does not fit."""

    image_board = board_for_target(board, emulator.name)
    workload = WorkloadSpec(workload_name, params=dict(params), warmup=warmup, runs=runs)
    # One project per (board, port): the board's own image (e.g. the Arduino core) stays apart.
    default_dir = project_dir_for("builtin", workload, image_board)
    project_dir = default_dir.with_name(f"{default_dir.name}-{image_board.port}")
    project = render_project("builtin", workload, image_board, out_dir=project_dir)
    built = build(project, verbose=verbose)
    sizes = elf_sizes(built.elf)
    fit = check_fit(board, sizes.flash, sizes.ram_reserved)
    if not fit.fits:
        raise UserError(fit.problem() or "image does not fit", "use a smaller workload or a board with more memory")
    elf = write_bytes_atomic(out_dir / f"{board.id}-{image_board.port}.elf", built.elf.read_bytes())
    image = Image(elf.resolve(), image_board, built.build_id, built.project_dir, built.env)
    return EmulationImage(image, image_board, sizes)


def run_robot(renode: Renode, robot: Path, elf: Path, out_dir: Path) -> int:
    exe = renode.test_executable()
    if not exe:
        raise UserError("renode-test is not on PATH", renode.install_hint + " (or use --dry-run to only write the suite)")
    results = out_dir / "robot-results"
    cmd = [exe, "--variable", f"ELF:{elf}", "--results-dir", str(results), str(robot)]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        print(f"mcubench: renode-test failed (exit {proc.returncode}); results in {results}", flush=True)
        return 1
    print(f"renode-test passed; results in {results}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.warmup < 0:
        raise UserError("--runs must be at least 1 and --warmup at least 0", "e.g. --warmup 1 --runs 5")
    if args.timeout <= 0:
        raise UserError("--timeout must be positive", "e.g. --timeout 120")
    emulator, board = choose(args.emulator, args.board, need_present=not args.dry_run)
    if args.robot and not isinstance(emulator, Renode):
        raise UserError(f"--robot generates a Renode suite; {emulator.name} has none", "use --emulator renode, or drop --robot")
    out_dir = (args.out or work_dir() / "emulate" / f"{board.id}-{emulator.name}").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if shutil.which("arm-none-eabi-gcc") is None:
        raise UserError("arm-none-eabi-gcc is not on PATH", "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")

    built = build_for_emulator(emulator, board, args.workload, parse_params(args.param), args.warmup, args.runs,
                               out_dir, verbose=args.verbose)
    print(f"image: {built.image.elf} (flash {built.sizes.flash:,} B, RAM {built.sizes.ram_reserved:,} B; "
          f"board {board.id}, port {built.board.port})")

    scripts = None
    if isinstance(emulator, Renode):
        machine = RenodeMachine.from_board(board)
        scripts = write_scripts(machine, built.image.elf, out_dir, robot=args.robot, workload=args.workload,
                                virtual_timeout=args.timeout)
        print(f"renode script: {scripts.resc}")
        if scripts.robot:
            print(f"robot suite:   {scripts.robot}")
    if args.dry_run:
        print("dry run: nothing started")
        return 0

    if scripts is not None and scripts.robot is not None:
        return run_robot(emulator, scripts.robot, built.image.elf, out_dir)

    emulator.require()
    options = RunOptions(timeout=args.timeout, transcript=out_dir / "transcript.log", target=RenodeOptions(workload=args.workload))
    log = EmulatorTarget(emulator).run(built.image, options)
    if args.verbose:
        print("$ " + " ".join(map(str, log.extra.get("command", []))))
    ticks = [r.int("ticks") for r in log.of_type("run")]
    done = [r for r in log.records if r.type == "done"]
    if not ticks or not done or done[0].get("status") != "ok":
        raise UserError(f"{emulator.name}: the image did not report its runs and `done status=ok`",
                        f"see the transcript {options.transcript}")
    values = [t * log.units_per_tick for t in ticks]
    print(f"{args.workload} on {board.id} ({emulator.name}): median {statistics.median(values):,.0f} "
          f"{log.latency_unit} ({log.latency_source}) over {len(values)} runs")
    return 0

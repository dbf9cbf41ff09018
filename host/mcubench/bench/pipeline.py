"""The staged pipeline behind `mcubench bench`: render → build → fit check → run → collect → result.

Each stage is a function of the previous one's output (see docs/architecture.md). Stages raise
``UserError`` for what the user can fix; the CLI turns those into one-line messages.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from mcubench.bench.build import build
from mcubench.bench.collect import Measurements, collect
from mcubench.bench.render import Project, project_lock, render_project
from mcubench.bench.request import BenchRequest
from mcubench.bench.result import make_result
from mcubench.core import progress
from mcubench.core.boards import Board, check_fit, load_board
from mcubench.core.elf import ElfSizes, elf_sizes
from mcubench.core.errors import UserError
from mcubench.core.types import Image, RunOptions
from mcubench.estimate.model import load_cost_model
from mcubench.estimate.plugin import estimate_plugin
from mcubench.estimate.report import Estimate, parse_report
from mcubench.link.runlog import RunLog
from mcubench.runtimes import get_runtime
from mcubench.runtimes.base import FlashSplit
from mcubench.targets import get_target
from mcubench.targets.base import Capability, Target


@dataclass
class BenchOutcome:
    project: Project
    image: Image
    sizes: ElfSizes
    log: RunLog
    measurements: Measurements
    result: dict[str, Any]
    estimate: Estimate | None = None


def resolve_target(request: BenchRequest, board: Board) -> str:
    return request.target or board.default_target


def fit_limits(sizes: ElfSizes, limits_board: Board) -> dict[str, Any]:
    """The image's footprint against ``limits_board``: the ``memory.limits`` of a record."""
    fit = check_fit(limits_board, sizes.flash, sizes.ram_reserved)
    return {"board": limits_board.id, "flash_bytes": limits_board.flash_bytes, "ram_bytes": limits_board.ram_bytes, "fits": fit.fits}


def fit_problem(sizes: ElfSizes, limits_board: Board) -> str | None:
    """What does not fit, in words, or None."""
    problem = check_fit(limits_board, sizes.flash, sizes.ram_reserved).problem()
    if problem is None:
        return None
    return f"the image {problem} (static RAM {sizes.static_ram:,} B + heap {sizes.heap:,} B + stack {sizes.stack:,} B)"


def fit_stage(sizes: ElfSizes, limits_board: Board) -> dict[str, Any]:
    """Refuses an image that does not fit: running it would measure nothing real."""
    problem = fit_problem(sizes, limits_board)
    if problem:
        raise UserError(problem, "choose a smaller model or recipe, or a board with more memory")
    return fit_limits(sizes, limits_board)


@dataclass
class BuiltImage:
    """What the build half of the pipeline gives: the image, its sizes and its fit."""

    board: Board
    limits_board: Board
    project: Project
    image: Image
    sizes: ElfSizes
    limits: dict[str, Any]
    flash_split: FlashSplit | None  # by owner, where the runtime can tell


def build_stage(request: BenchRequest, target_name: str) -> BuiltImage:
    """Preflight, render, build and size the image for ``request`` as ``target_name`` runs it.

    The fit is reported, not enforced: `mcubench build` shows a misfit, `run_bench` refuses it.
    """
    board = load_board(request.board)
    limits_board = load_board(request.memory_of) if request.memory_of else board
    runtime = get_runtime(request.runtime)
    runtime.preflight(request.workload, limits_board)
    # The image is built for the board as this target runs it (e.g. the nRF52840 bare-metal
    # port under Renode); its limits stay the real board's.
    project = render_project(request.runtime, request.workload, board.for_target(target_name))
    # One build at a time per project dir: parallel sweep jobs may share an image.
    with project_lock(project.dir):
        image = build(project, verbose=request.verbose)
    sizes = elf_sizes(image.elf)
    split = runtime.flash_split(image.elf, sizes.flash)
    return BuiltImage(board, limits_board, project, image, sizes, fit_limits(sizes, limits_board), split)


def run_bench(request: BenchRequest) -> BenchOutcome:
    board = load_board(request.board)
    target = get_target(resolve_target(request, board))
    reason = target.supports(board)
    if reason:
        raise UserError(reason, "pick another --target/--emulator or --board (mcubench boards lists them)")
    if request.estimate:
        # An assumption of the cost model (nano33ble, nano33ble-icache...), checked before building.
        load_cost_model().board(request.estimate)
        target.require(Capability.INSTRUCTION_PLUGIN, "load the cycle-estimate plugin (--estimate)")
    built = build_stage(request, target.name)
    limits = fit_stage(built.sizes, built.limits_board)
    project, image, sizes = built.project, built.image, built.sizes
    log, estimate = run_stage(target, image, request.options, request.estimate)
    measurements = collect(log, image)
    result = make_result(request, board, project, image, sizes, limits, log, measurements,
                         flash_split=built.flash_split, estimate=estimate)
    return BenchOutcome(project, image, sizes, log, measurements, result, estimate)


def run_stage(target: Target, image: Image, options: RunOptions, estimate_board: str | None) -> tuple[RunLog, Estimate | None]:
    """Runs the image; with ``estimate_board``, under the cycle-estimate plugin, whose report
    (written when the emulator exits) is read back."""
    if estimate_board is None:
        with progress.step(f"running on {target.name}"):
            return target.run(image, options), None
    # One report per run: parallel runs may share an image.
    report = image.elf.parent / f"estimate-{uuid.uuid4().hex[:12]}.json"
    report.unlink(missing_ok=True)
    with progress.step(f"running on {target.name} with the cycle-estimate plugin ({estimate_board})"):
        log = target.run(image, dataclasses.replace(options, plugin=estimate_plugin(estimate_board, report)))
    if not report.is_file():
        raise UserError(
            f"{target.name} exited without writing the cycle-estimate report",
            f"the image must end with the `exit` command for the plugin to report; command: {' '.join(map(str, log.extra.get('command', [])))}",
        )
    estimate = parse_report(report)
    report.unlink()
    return log, estimate

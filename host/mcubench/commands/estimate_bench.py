"""The plugin's own benchmark: instructions, estimated cycles, cycles per instruction and
QEMU's wall time with and without the plugin (target: with <= 2x without).

    mcubench estimate-bench --examples [--board nano33ble]   # the example models (int8, AOT)
    mcubench estimate-bench [ELF ...] [--board nano33ble]      # self-exiting ELFs (default: the loadtest)

For the example models the figures are per inference (the benchmark core's timed region) and
the wall times are whole QEMU sessions (boot, warm-up, 5 timed runs, reporting).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.bench.workloads import workload_for_model
from mcubench.estimate.microbench import build_microbench, run_qemu
from mcubench.models.examples import EXAMPLES
from mcubench.recipes.variants import prepare_example_variant


@dataclass
class PluginCost:
    elf: Path
    instructions: int
    cycles: int
    cpi: float
    wall_plain_s: float
    wall_plugin_s: float

    @property
    def slowdown(self) -> float:
        return self.wall_plugin_s / self.wall_plain_s


def measure(elf: Path, board: str, repeat: int = 3) -> PluginCost:
    """Best-of-`repeat` wall times (the machine is shared; the minimum is the least noisy)."""
    plain = min(run_qemu(elf, None).wall_s for _ in range(repeat))
    runs = [run_qemu(elf, board) for _ in range(repeat)]
    est = runs[0].estimate
    return PluginCost(elf, est.instructions, est.cycles, est.cpi, plain, min(r.wall_s for r in runs))


def measure_examples(board: str, repeat: int) -> list[tuple[str, int, int, float, float, float]]:
    """Per example model (int8 variant, AOT runtime, QEMU): instructions and estimated cycles
    per inference, CPI, and best-of-`repeat` QEMU session wall time without / with the plugin."""

    rows = []
    for name in EXAMPLES:
        variant = prepare_example_variant(name, "int8")
        walls: dict[bool, list[float]] = {False: [], True: []}
        result = None
        for _ in range(repeat):
            for with_plugin in (False, True):
                workload, runtime, extras = workload_for_model(variant.path, "aot")
                request = BenchRequest(workload, runtime=runtime, **extras)
                request.estimate = board if with_plugin else None
                outcome = run_bench(request)
                walls[with_plugin].append(outcome.log.extra["emulator_wall_s"])
                if with_plugin:
                    result = outcome.result
        assert result is not None
        cycles = result["estimated_cycles"]
        rows.append((name, result["instructions"], cycles, cycles / result["instructions"], min(walls[False]), min(walls[True])))
    return rows


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("estimate-bench", help="the cycle-estimate plugin's own benchmark: estimated cycles, CPI, QEMU slowdown")
    p.add_argument("elf", nargs="*", type=Path, help="self-exiting ELFs for mps2-an386 (default: the loadtest image)")
    p.add_argument("--board", default="nano33ble", help="board assumption for the estimate (default nano33ble)")
    p.add_argument("--repeat", type=int, default=3, help="runs per configuration (default 3)")
    p.add_argument("--examples", action="store_true", help="the example models (int8, AOT runtime) instead of ELFs")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.examples:
        print(f"{'model':<12} {'instr/inf':>12} {'est. cycles/inf':>16} {'CPI':>6} {'QEMU s':>8} {'+plugin s':>10} {'x':>6}")
        worst = 0.0
        for name, instr, cycles, cpi, plain, plugin in measure_examples(args.board, args.repeat):
            worst = max(worst, plugin / plain)
            print(f"{name:<12} {instr:>12,} {cycles:>16,} {cpi:>6.3f} {plain:>8.3f} {plugin:>10.3f} {plugin / plain:>6.2f}")
        print(f"estimates for {args.board} (cost-model estimate, not a measurement); worst plugin slowdown {worst:.2f}x (target <= 2x)")
        return 0 if worst <= 2.0 else 1
    elfs = args.elf or [build_microbench(loadtest=True)]
    print(f"{'image':<32} {'instructions':>14} {'est. cycles':>14} {'CPI':>6} {'QEMU s':>8} {'+plugin s':>10} {'x':>6}")
    worst = 0.0
    for elf in elfs:
        m = measure(elf, args.board, args.repeat)
        worst = max(worst, m.slowdown)
        print(f"{elf.name[:32]:<32} {m.instructions:>14,} {m.cycles:>14,} {m.cpi:>6.3f} "
              f"{m.wall_plain_s:>8.3f} {m.wall_plugin_s:>10.3f} {m.slowdown:>6.2f}")
    print(f"estimates for {args.board} (cost-model estimate, not a measurement); worst plugin slowdown {worst:.2f}x (target <= 2x)")
    return 0 if worst <= 2.0 else 1

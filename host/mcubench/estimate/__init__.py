"""Cortex-M4 cycle estimate from a QEMU TCG plugin of our own (docs/cycle-estimate.md).

The emulator counts instructions exactly; this package turns a run into an *estimate* of
Cortex-M4 cycles on a given board: a per-instruction cost table (boards/cores/cortex-m4f.json)
plus the dynamic effects the plugin tracks. Figures are always labelled as estimates.

    args = qemu_args("nano33ble", report_path)   # add to the qemu-system-arm command line
    ... run QEMU ...
    est = parse_report(report_path)              # Estimate: cycles, per-region, ms
"""

from __future__ import annotations

from mcubench.estimate.model import CORE_COSTS_PATH, BoardAssumption, CostModel, load_cost_model
from mcubench.estimate.plugin import build_plugin, costs_file, plugin_spec, qemu_args, report_path_from_args
from mcubench.estimate.report import Estimate, RegionEstimate, parse_report

__all__ = [
    "CORE_COSTS_PATH",
    "BoardAssumption",
    "CostModel",
    "Estimate",
    "RegionEstimate",
    "build_plugin",
    "costs_file",
    "load_cost_model",
    "parse_report",
    "plugin_spec",
    "qemu_args",
    "report_path_from_args",
]

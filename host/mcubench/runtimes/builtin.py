"""Built-in workloads compiled from firmware/workloads/: no model, no runtime library.

They exercise the whole harness (build, run, collect) with a cost that is known in advance:
``dot_int8`` is a dot product of ``n`` int8 pairs, linear in ``n``.
"""

from __future__ import annotations

from pathlib import Path

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.core.types import WorkloadSpec
from mcubench.runtimes.base import Runtime, WorkloadSources

# name -> (source dir under firmware/, {param: (C macro, default, min, max)})
BUILTIN_WORKLOADS = {
    "dot_int8": ("workloads/dot_int8", {"n": ("MCB_DOT_N", 1024, 1, 1 << 20)}),
    # Misbehaves on purpose (mode 1 hangs, 2 faults, 3 fails setup) to check error handling.
    "selftest": ("workloads/selftest", {"mode": ("MCB_SELFTEST_MODE", 0, 0, 3)}),
}


class BuiltinRuntime(Runtime):
    name = "builtin"
    takes_model = False

    def check(self, workload: WorkloadSpec, board: Board) -> None:
        if workload.name not in BUILTIN_WORKLOADS:
            raise UserError(
                f"unknown built-in workload `{workload.name}`",
                f"choose one of: {', '.join(BUILTIN_WORKLOADS)}, or give a model file",
            )
        _, params = BUILTIN_WORKLOADS[workload.name]
        for key in workload.params:
            if key not in params:
                raise UserError(
                    f"workload `{workload.name}` has no parameter `{key}`",
                    f"its parameters: {', '.join(params) or 'none'}",
                )

    def render_workload(self, workload: WorkloadSpec, board: Board, project_dir: Path) -> WorkloadSources:
        src_dir, params = BUILTIN_WORKLOADS[workload.name]
        flags = []
        for key, (macro, default, low, high) in params.items():
            value = workload.params.get(key, default)
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise UserError(f"workload parameter {key}={value!r} is not an integer", f"e.g. --param {key}={default}") from None
            if not low <= value <= high:
                raise UserError(f"workload parameter {key}={value} is out of range {low}..{high}", f"e.g. --param {key}={default}")
            workload.params[key] = value
            flags.append(f"-D{macro}={value}")
        return WorkloadSources(src_filters=[f"+<{src_dir}/>"], build_flags=flags)

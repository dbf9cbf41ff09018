"""What to bench: the workload, where to run it, and what the result should carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from mcubench.core.boards import DEFAULT_BOARD
from mcubench.core.types import RunOptions, WorkloadSpec
from mcubench.runtimes import WORKLOAD_RUNTIME


@dataclass
class BenchRequest:
    workload: WorkloadSpec
    runtime: str = WORKLOAD_RUNTIME
    board: str = DEFAULT_BOARD
    target: str | None = None  # None: the board's default target
    memory_of: str | None = None  # enforce another board's flash/RAM limits
    estimate: str | None = None  # a board: add a cycle estimate for it (an instruction-plugin target)
    options: RunOptions = field(default_factory=RunOptions)
    recipe: str | None = None
    variant: str | None = None
    host_metrics: dict[str, Any] | None = None
    verbose: bool = False
    # Compares the device's output with a reference (the host TFLM interpreter) when given.
    reference_output: Callable[[], bytes] | None = None

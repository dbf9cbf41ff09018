"""The runtime axis: what runs inside the benchmark core (built-in workload, TFLM, AOT C).

A runtime renders the workload part of a firmware project; ``render.render_project`` wraps
it with the shared PlatformIO project (core + port layer for the board). Runtimes and targets
never know each other: both speak the protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mcubench.core.boards import Board
from mcubench.core.types import RuntimeOptions, WorkloadSpec, options_as


@dataclass
class WorkloadSources:
    """The runtime's share of a project: source dirs, filters and flags."""

    src_filters: list[str] = field(default_factory=list)  # relative to firmware/
    extra_source_dirs: list[Path] = field(default_factory=list)  # generated code dirs
    build_flags: list[str] = field(default_factory=list)
    lib_deps: list[str] = field(default_factory=list)
    lib_extra_dirs: list[Path] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. planned arena, op list
    arena_bytes: int | None = None  # the working memory the runtime reserves for the model


@dataclass(frozen=True)
class FlashSplit:
    """An image's flash by owner: the model's data, the runtime's code, and the rest."""

    model: int
    runtime: int
    rest: int

    def to_dict(self) -> dict[str, int]:
        return {"model": self.model, "runtime": self.runtime, "rest": self.rest}


class Runtime(ABC):
    """One runtime: its checks, its rendering, and what only it knows (typed options, a fit
    check before a build, which flash is whose). Callers ask; they never compare names."""

    name: ClassVar[str]
    takes_model: ClassVar[bool] = True  # False: runs built-in workloads, not a .tflite
    options_type: ClassVar[type[RuntimeOptions]] = RuntimeOptions

    def options(self, workload: WorkloadSpec) -> Any:
        """The workload's options for this runtime (its defaults when it has none)."""
        return options_as(workload.options, self.options_type)

    def check(self, workload: WorkloadSpec, board: Board) -> None:
        """Raises UserError when this runtime cannot run the workload on the board."""

    def model_support(self, model_bytes: bytes) -> str | None:
        """None when this runtime can run every operator of the model, else why not (one line).
        Only the model counts here: sources, boards and options are `check`'s business."""
        return None

    def preflight(self, workload: WorkloadSpec, limits: Board) -> None:
        """Raises UserError, before anything is built, when the workload cannot fit ``limits``."""

    @abstractmethod
    def render_workload(self, workload: WorkloadSpec, board: Board, project_dir: Path) -> WorkloadSources:
        """Writes generated sources (if any) under ``project_dir`` and says how to build them."""

    def flash_split(self, elf: Path, flash_total: int) -> FlashSplit | None:
        """Flash by owner, from the image's symbols; None when this runtime cannot tell."""
        return None

    def kernels(self, workload: WorkloadSpec) -> str:
        """Which kernels the image runs, for reports (e.g. "cmsis_nn")."""
        return self.name

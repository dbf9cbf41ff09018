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

from ..boards import Board


@dataclass
class WorkloadSpec:
    """What the firmware should run: a built-in workload with parameters, or a model."""

    name: str  # "dot_int8", or the model's name
    params: dict[str, Any] = field(default_factory=dict)
    model_path: Path | None = None  # a .tflite for model runtimes
    model_bytes: bytes | None = None
    model_sha256: str | None = None
    input_bytes: bytes | None = None  # the fixed test input baked into the image (model runtimes)
    warmup: int = 1
    runs: int = 5
    extra: dict[str, Any] = field(default_factory=dict)  # runtime options (e.g. cmsis_nn, dsp)


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


class Runtime(ABC):
    name: ClassVar[str]

    def check(self, workload: WorkloadSpec, board: Board) -> None:
        """Raises UserError when this runtime cannot run the workload on the board."""

    @abstractmethod
    def render_workload(self, workload: WorkloadSpec, board: Board, project_dir: Path) -> WorkloadSources:
        """Writes generated sources (if any) under ``project_dir`` and says how to build them."""

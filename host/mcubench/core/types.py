"""Types the layers hand each other: what to run (WorkloadSpec), what was built (Image), how
to run it (RunOptions), and the bases of a runtime's and a target's own typed options.

An options dataclass declares each option once: a field per option, its CLI help in the
field's metadata (``help``, and optionally ``metavar``, ``choices``, ``type``, ``action``).
The commands derive their flags from the fields; the runtime or target reads the dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mcubench.core.boards import Board


@dataclass(frozen=True)
class RuntimeOptions:
    """Base of a runtime's own options (e.g. ``TflmOptions``); a runtime without any uses it as is."""

    @classmethod
    def from_cli(cls, values: dict[str, Any]):
        """The options from parsed CLI values of this dataclass's fields (None: not given)."""
        return cls(**{k: v for k, v in values.items() if v is not None})


@dataclass(frozen=True)
class TargetOptions:
    """Base of a target's own options (e.g. ``LabgridOptions``); a target without any uses it as is."""

    @classmethod
    def from_cli(cls, values: dict[str, Any]):
        return cls(**{k: v for k, v in values.items() if v is not None})


OptionsT = TypeVar("OptionsT", RuntimeOptions, TargetOptions)


def options_as(options: Any, options_type: type[OptionsT]) -> OptionsT:
    """``options`` when it is of ``options_type``, else that type's defaults (options of another
    runtime or target do not apply)."""
    return options if isinstance(options, options_type) else options_type()


@dataclass(frozen=True)
class EmulatorPlugin:
    """An instrumentation plugin for an emulator that can load one (e.g. QEMU's TCG plugins):
    the shared library and its ``key=value`` arguments, in order."""

    library: Path
    args: tuple[tuple[str, str], ...] = ()


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
    options: RuntimeOptions | None = None  # the runtime's own (e.g. TflmOptions); None: its defaults


@dataclass(frozen=True)
class Image:
    """A built firmware image and what it was built for."""

    elf: Path
    board: Board
    build_id: str
    project_dir: Path
    env: str


@dataclass
class RunOptions:
    timeout: float = 120.0  # seconds for the whole benchmark session
    warmup: int | None = None  # None: what the image was built with
    runs: int | None = None
    transcript: Path | None = None  # where to save the raw serial log
    port: str | None = None  # a board's serial port or URL; None finds the board by USB ID
    plugin: EmulatorPlugin | None = None  # for targets with the instruction-plugin capability
    target: TargetOptions | None = None  # the target's own (e.g. LabgridOptions); None: its defaults

"""Runtimes with an explicit registry (name -> class). Adding one is a module and a line here."""

from __future__ import annotations

from mcubench.core.boards import Board
from mcubench.core.errors import UserError
from mcubench.runtimes.aot.runtime import AotRuntime
from mcubench.runtimes.base import Runtime
from mcubench.runtimes.builtin import BuiltinRuntime
from mcubench.runtimes.tflm import TflmRuntime, tflm_dir

RUNTIMES: dict[str, type[Runtime]] = {
    "builtin": BuiltinRuntime,
    "aot": AotRuntime,
    "tflm": TflmRuntime,
}
WORKLOAD_RUNTIME = "builtin"  # what runs the built-in workloads (no model)


def get_runtime(name: str) -> Runtime:
    try:
        return RUNTIMES[name]()
    except KeyError:
        raise UserError(f"unknown runtime `{name}`", f"choose one of: {', '.join(RUNTIMES)}") from None


def model_runtimes() -> list[str]:
    """The runtimes that run a .tflite model."""
    return [name for name, cls in RUNTIMES.items() if cls.takes_model]


def default_model_runtime(board: Board | None = None) -> str:
    """TFLM when its sources are available (or on an Arduino board, when one is given: the
    library comes with PlatformIO there), else the ahead-of-time compiler (fully offline)."""
    if tflm_dir() is not None or (board is not None and board.port == "arduino"):
        return "tflm"
    return "aot"

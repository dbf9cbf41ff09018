"""Runtimes with an explicit registry (name -> class)."""

from __future__ import annotations

import importlib

from mcubench.core.errors import UserError
from mcubench.runtimes.base import Runtime, WorkloadSources, WorkloadSpec

# name -> "module:Class"; imported on use so a runtime's heavy dependencies load only when chosen.
RUNTIMES: dict[str, str] = {
    "builtin": "mcubench.runtimes.builtin:BuiltinRuntime",
    "aot": "mcubench.runtimes.aot.runtime:AotRuntime",
    "tflm": "mcubench.runtimes.tflm:TflmRuntime",
}


def get_runtime(name: str) -> Runtime:
    try:
        module, cls = RUNTIMES[name].split(":")
    except KeyError:
        raise UserError(f"unknown runtime `{name}`", f"choose one of: {', '.join(RUNTIMES)}") from None
    return getattr(importlib.import_module(module), cls)()


__all__ = ["RUNTIMES", "Runtime", "WorkloadSources", "WorkloadSpec", "get_runtime"]

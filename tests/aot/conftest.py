"""Shared fixtures: generated models, host builds of the generated C, the TFLM reference."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import aot_modelgen as modelgen
import numpy as np
import pytest


@pytest.fixture(scope="session")
def all_models() -> dict[str, bytes]:
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (pip install -e .[ml])")
    return modelgen.models({**modelgen.SINGLE_OP, **modelgen.MULTI_OP, **modelgen.UNSUPPORTED})


class HostModel:
    """The generated C of one model built for the host as a shared library (ctypes)."""

    def __init__(self, project, so_path: Path):
        self.project = project
        self.lib = ctypes.CDLL(str(so_path))
        self.lib.model_input.restype = ctypes.c_void_p
        self.lib.model_input.argtypes = [ctypes.c_int, ctypes.c_void_p]
        self.lib.model_output.restype = ctypes.c_void_p
        self.lib.model_output.argtypes = [ctypes.c_int, ctypes.c_void_p]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for i, x in enumerate(inputs):
            dst = self.lib.model_input(i, None)
            ctypes.memmove(dst, np.ascontiguousarray(x).ctypes.data, x.nbytes)
        self.lib.model_run()
        outs = []
        for i, io in enumerate(self.project.outputs):
            src = self.lib.model_output(i, None)
            buf = (ctypes.c_uint8 * io.nbytes).from_address(src)
            outs.append(np.frombuffer(bytes(buf), dtype=np.dtype(io.dtype)).reshape(io.shape))
        return outs


def build_host(project, out_dir: Path, extra_flags: tuple[str, ...] = ()) -> HostModel:
    gcc = shutil.which("gcc") or pytest.skip("gcc is not installed")
    so = out_dir / "model.so"
    cmd = [gcc, "-std=c99", "-O1", "-shared", "-fPIC", "-Wall", "-Werror", "-Wno-unused-function",
           "-o", str(so), *map(str, project.sources), *project.cflags, *extra_flags, "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"host build failed:\n{r.stderr[-3000:]}"
    return HostModel(project, so)


def tflm_outputs(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    interp.invoke()
    outs, i = [], 0
    while True:
        try:
            outs.append(np.array(interp.get_output(i)))
        except Exception:  # the wrapper signals "no such output" with a generic error
            break
        i += 1
    return outs


def random_inputs(project, rng) -> list[np.ndarray]:
    xs = []
    for io in project.inputs:
        if io.dtype == "float32":
            xs.append(rng.uniform(-2, 4, io.shape).astype(np.float32))
        else:
            xs.append(rng.integers(-128, 128, io.shape, dtype=np.int64).astype(np.int8))
    return xs

"""The kernels and a generated model compile for the Cortex-M4 with the DSP path selected."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mcubench.runtimes.aot import compile_model

M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-std=c99",
      "-Wall", "-Werror"]


@pytest.mark.parametrize("dsp", [True, False])
def test_cortex_m4_build(dsp, all_models, tmp_path):
    gcc = shutil.which("arm-none-eabi-gcc") or pytest.skip("arm-none-eabi-gcc is not installed")
    project = compile_model(all_models["tiny_dscnn"], tmp_path, dsp=dsp, profile_ops=False)
    objs = []
    for src in project.sources:
        obj = tmp_path / (src.stem + ".o")
        r = subprocess.run([gcc, *M4, *project.cflags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
        objs.append(obj)
    dis = subprocess.run([gcc.replace("gcc", "objdump"), "-d", str(objs[1])], capture_output=True, text=True).stdout
    # the DSP build really uses the SIMD MACs; the portable build must not
    assert ("smlad" in dis) == dsp
    assert ("sxtab16" in dis) == dsp

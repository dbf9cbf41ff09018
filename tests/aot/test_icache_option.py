"""Code placement for boards that run code from flash: the AOT runtime's `--icache on` builds the
nRF52840 ports with the NVMC instruction cache enabled at start-up, and says so in its facts."""

from __future__ import annotations

import subprocess

import pytest
from helpers import require_tool

from mcubench.core.boards import load_board
from mcubench.core.paths import firmware_dir
from mcubench.core.types import WorkloadSpec
from mcubench.runtimes.aot.runtime import AotOptions, AotRuntime


@pytest.mark.parametrize("icache", [True, False])
def test_icache_option_reaches_the_build_and_the_facts(icache, tmp_path):
    pytest.importorskip("tensorflow")
    from mcubench.recipes.reference_models import model_bytes

    workload = WorkloadSpec("sine", model_bytes=model_bytes("sine"), options=AotOptions(icache=icache))
    sources = AotRuntime().render_workload(workload, load_board("nano33ble"), tmp_path)
    assert ("-DMCB_ICACHE_ENABLE=1" in sources.build_flags) is icache
    assert sources.facts["icache_enable"] is icache


def test_icache_option_parses_on_and_off():
    assert AotOptions.from_cli({"icache": "on"}).icache is True
    assert AotOptions.from_cli({"icache": "off"}).icache is False
    assert AotOptions.from_cli({}).icache is False


@pytest.mark.parametrize("enable", [True, False])
def test_start_up_writes_icachecnf_only_when_enabled(enable, tmp_path):
    gcc = require_tool("arm-none-eabi-gcc")
    src = tmp_path / "probe.c"
    src.write_text('#include "nrf52840_nvmc.h"\nvoid probe(void) { nrf52840_icache_configure(); }\n')
    obj = tmp_path / "probe.o"
    flags = ["-DMCB_ICACHE_ENABLE=1"] if enable else []
    subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-O2", *flags, f"-I{firmware_dir() / 'ports' / 'nrf52840'}",
                    "-c", str(src), "-o", str(obj)], check=True)
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    # ICACHECNF = 0x4001E540: the NVMC block's address in the literal pool, and a store
    assert ("0x4001e" in dump and "str" in dump) is enable

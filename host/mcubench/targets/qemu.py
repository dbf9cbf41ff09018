"""QEMU as the emulated Cortex-M4F (machine mps2-an386).

Run with ``-icount shift=0``: every emulated instruction advances virtual time by exactly
1 ns, so the 25 MHz SysTick ticks once per 40 instructions and figures are deterministic.
They are instruction counts, not cycles: DWT CYCCNT reads 0 under QEMU.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.core.types import EmulatorPlugin, Image, RunOptions
from mcubench.targets.base import Capability, ToolStatus
from mcubench.targets.emulator import Emulator, RunningEmulator, die_with_parent, free_tcp_port

ICOUNT_SHIFT = 0  # 2**shift ns of virtual time per instruction


def plugin_argument(plugin: EmulatorPlugin) -> str:
    """The value of `-plugin`: the library, then its arguments (QEMU splits on commas)."""
    parts = [str(plugin.library), *(f"{key}={value}" for key, value in plugin.args)]
    bad = [p for p in parts if "," in p]
    if bad:
        raise UserError(f"a QEMU plugin argument may not contain a comma: {bad[0]}", "pick another directory")
    return ",".join(parts)


class Qemu(Emulator):
    name = "qemu"
    executable_name = "qemu-system-arm"
    latency_unit = "instructions"
    latency_source = "qemu-icount"
    install_hint = "sudo apt-get install qemu-system-arm (`bash host/dev.sh setup` does this)"

    # QEMU loads TCG plugins: the bench stage passes the cycle-estimate plugin in.
    capabilities = frozenset({Capability.INPUT_UPLOAD, Capability.INSTRUCTION_PLUGIN})

    def command(self, image: Image, serial_port: int, options: RunOptions) -> list[str]:
        machine = image.board.targets["qemu"]["machine"]
        cmd = [
            self.require(),
            "-M", machine,
            "-nographic",
            "-monitor", "none",
            "-serial", f"tcp:127.0.0.1:{serial_port},server=on,wait=on",
            "-icount", f"shift={ICOUNT_SHIFT}",
            "-semihosting-config", "enable=on,target=native",
            "-kernel", str(image.elf),
        ]
        if options.plugin is not None:
            cmd += ["-plugin", plugin_argument(options.plugin)]
        return cmd

    def start(self, image: Image, workdir: Path, options: RunOptions) -> RunningEmulator:
        port = free_tcp_port()
        # One log per run: parallel runs may share an image.
        log_path = workdir / f"qemu-{port}.log"
        cmd = self.command(image, port, options)
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
                )
            except OSError as exc:
                raise UserError(f"cannot start QEMU: {exc}", self.install_hint) from None
        return RunningEmulator("qemu", proc, f"socket://127.0.0.1:{port}", cmd, log_path)

    def units_per_tick(self, hello_tick_hz: int, tick_unit: str) -> float:
        if tick_unit != "systick" or hello_tick_hz <= 0:
            raise UserError(
                f"this image times with `{tick_unit}` at {hello_tick_hz} Hz, which QEMU does not emulate as a clock",
                "build the image for an emulated board (e.g. --board mps2-an386)",
            )
        # Virtual ns per tick, times instructions per virtual ns.
        return (1e9 / hello_tick_hz) / (2**ICOUNT_SHIFT)

    def status(self) -> list[ToolStatus]:
        exe = self.executable()
        if not exe:
            return [ToolStatus("qemu-system-arm", False, "not on PATH", self.install_hint)]
        try:
            out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            return [ToolStatus("qemu-system-arm", False, f"does not run: {exc}", self.install_hint)]
        version = re.search(r"version ([\d.]+)", out)
        return [ToolStatus("qemu-system-arm", True, f"{version.group(1) if version else '?'} ({exe})")]

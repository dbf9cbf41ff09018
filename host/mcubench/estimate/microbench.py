"""Builds the Thumb-2 microbenchmarks (firmware/microbench/) and runs ELFs under QEMU with
and without the estimate plugin (tests, `mcubench calibrate`, the plugin benchmark)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.core.paths import firmware_dir, work_dir
from mcubench.estimate.plugin import qemu_args
from mcubench.estimate.report import Estimate, parse_report

SOURCES = ("cases.S", "dynamic.c")
LOADTEST_SOURCES = (*SOURCES, "heavy.c")
CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2",
          "-nostdlib", "-nostartfiles", "-ffreestanding"]
QEMU_MACHINE = "mps2-an386"


def microbench_dir() -> Path:
    return firmware_dir() / "microbench"


def build_microbench(loadtest: bool = False) -> Path:
    """The microbenchmark ELF (with `loadtest`, plus a long int8 dense-layer loop for
    timing the plugin), cached by source content."""
    sources = LOADTEST_SOURCES if loadtest else SOURCES
    gcc = shutil.which("arm-none-eabi-gcc")
    if not gcc:
        raise UserError("arm-none-eabi-gcc is not on PATH", "sudo apt-get install gcc-arm-none-eabi")
    src = microbench_dir()
    core = firmware_dir() / "core"  # mcb_region.h, shared with the benchmark core
    files = [*(src / s for s in sources), core / "mcb_region.h", src / "microbench.ld"]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files) + " ".join(CFLAGS).encode()).hexdigest()[:16]
    name = "loadtest" if loadtest else "microbench"
    out = work_dir() / "microbench" / f"{name}-{digest}.elf"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        elf = Path(tmp) / "microbench.elf"
        cmd = [gcc, *CFLAGS, "-I", str(core), "-T", str(src / "microbench.ld"), "-o", str(elf), *(str(src / s) for s in sources)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise UserError(f"building the microbenchmarks failed:\n{proc.stderr[-2000:]}", " ".join(cmd))
        elf.replace(out)
    return out


@dataclass
class QemuRun:
    elf: Path
    wall_s: float
    exit_code: int
    estimate: Estimate | None


def run_qemu(elf: Path, board_id: str | None, timeout: float = 120.0, machine: str = QEMU_MACHINE) -> QemuRun:
    """Runs a self-terminating image (semihosting exit) to the end; with `board_id`, under
    the plugin, returning its estimate. The UART goes nowhere: for images that exit alone."""
    qemu = shutil.which("qemu-system-arm")
    if not qemu:
        raise UserError("qemu-system-arm is not on PATH", "sudo apt-get install qemu-system-arm")
    with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
        report = Path(tmp) / "estimate.json"
        cmd = [qemu, "-M", machine, "-nographic", "-monitor", "none", "-serial", "null",
               "-icount", "shift=0", "-semihosting-config", "enable=on,target=native",
               "-kernel", str(elf)]
        if board_id:
            cmd += qemu_args(board_id, report)
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise UserError(f"QEMU did not finish {elf.name} within {timeout:.0f} s", "does the image exit?") from None
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise UserError(f"QEMU exited with {proc.returncode} running {elf.name}: {proc.stderr.strip()[-500:]}",
                            "command: " + " ".join(cmd))
        est = parse_report(report) if board_id else None
        return QemuRun(elf, wall, proc.returncode, est)


def _scratch() -> Path:
    d = work_dir() / "estimates"
    d.mkdir(parents=True, exist_ok=True)
    return d

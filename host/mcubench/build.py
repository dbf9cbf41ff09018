"""Build stage: PlatformIO turns a rendered project into an ELF; pyelftools sizes it.

An unchanged project (same build id, ELF present) is not built again. The exact command
line is logged before it runs; the whole PlatformIO output goes to the project's build.log.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from .errors import UserError
from .identity import git_hash, tool_version
from .pio_offline import ensure_tool_scons, pio_executable
from .render import Project
from .targets.base import Image

STAMP = "mcubench.build-id"


@dataclass(frozen=True)
class ElfSizes:
    """Where an image's bytes go. flash = text + rodata + initialised data (its load image);
    static RAM = data + bss; heap and stack are reserved RAM regions of their own."""

    text: int
    rodata: int
    data: int
    bss: int
    heap: int
    stack: int

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def static_ram(self) -> int:
        return self.data + self.bss

    @property
    def ram_reserved(self) -> int:
        """Everything the image claims in RAM: static data, heap and stack."""
        return self.static_ram + self.heap + self.stack

    def to_dict(self) -> dict[str, int]:
        return {
            "text": self.text, "rodata": self.rodata, "data": self.data, "bss": self.bss,
            "heap": self.heap, "stack": self.stack, "flash": self.flash, "static_ram": self.static_ram,
        }


def elf_sizes(elf: Path) -> ElfSizes:
    text = rodata = data = bss = heap = stack = 0
    with open(elf, "rb") as f:
        elffile = ELFFile(f)
        # Load address of each section: a writable section that is loaded where it runs
        # (e.g. .init_array in flash) is flash-resident, not RAM data copied at start-up.
        segments = [s for s in elffile.iter_segments() if s["p_type"] == "PT_LOAD"]

        def load_address(section) -> int:
            addr = section["sh_addr"]
            for seg in segments:
                if seg["p_vaddr"] <= addr < seg["p_vaddr"] + max(seg["p_memsz"], 1):
                    return addr - seg["p_vaddr"] + seg["p_paddr"]
            return addr

        for section in elffile.iter_sections():
            flags = section["sh_flags"]
            size = section["sh_size"]
            if not flags & SH_FLAGS.SHF_ALLOC or size == 0:
                continue
            name = section.name
            if name.startswith(".stack") or name == ".stack_dummy":
                stack += size
            elif name.startswith(".heap"):
                heap += size
            elif section["sh_type"] == "SHT_NOBITS":
                bss += size
            elif flags & SH_FLAGS.SHF_WRITE and load_address(section) != section["sh_addr"]:
                data += size
            elif flags & SH_FLAGS.SHF_EXECINSTR:
                text += size
            else:
                rodata += size
    return ElfSizes(text, rodata, data, bss, heap, stack)


def find_elf(project: Project) -> Path | None:
    build_dir = project.dir / ".pio" / "build" / project.env
    elves = sorted(build_dir.glob("*.elf")) if build_dir.is_dir() else []
    return elves[0] if elves else None


def _error_lines(log: str, limit: int = 15) -> str:
    lines = [l for l in log.splitlines() if re.search(r"(error|Error|undefined reference|overflow|not found)", l)]
    return "\n    ".join((lines or log.splitlines())[-limit:])


def build(project: Project, verbose: bool = False, timeout: float = 1800.0) -> Image:
    stamp = project.dir / STAMP
    elf = find_elf(project)
    if elf and stamp.is_file() and stamp.read_text().strip() == project.build_id:
        return Image(elf, project.board, project.build_id, project.dir, project.env)

    ensure_tool_scons()
    cmd = [pio_executable(), "run", "--project-dir", str(project.dir), "--environment", project.env]
    env = dict(os.environ)
    env.update(
        MCUBENCH_BUILD_ID=project.build_id,
        MCUBENCH_TOOL_VERSION=tool_version(),
        MCUBENCH_GIT_HASH=git_hash() or "unknown",
        PLATFORMIO_NO_ANSI="1",
        PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
        PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650",
    )
    if verbose:
        print("$ " + " ".join(cmd), flush=True)
    log_path = project.dir / "build.log"
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UserError(f"PlatformIO build of {project.dir} took longer than {timeout:.0f} s", f"see {log_path}") from None
    log_path.write_text(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    if proc.returncode != 0:
        hint = f"full log: {log_path}"
        text = proc.stdout + proc.stderr
        if "HTTPClientError" in text or "Could not resolve" in text or "registry" in text.lower():
            hint += "; PlatformIO tried to download a package: this environment needs PlatformIO's registry (internet)"
        raise UserError(f"PlatformIO build failed for {project.env}:\n    {_error_lines(text)}", hint)
    elf = find_elf(project)
    if not elf:
        raise UserError(f"PlatformIO reported success but left no ELF under {project.dir}/.pio/build/{project.env}", f"see {log_path}")
    stamp.write_text(project.build_id + "\n")
    if verbose:
        print(f"built {elf} in {time.monotonic() - started:.1f} s", flush=True)
    return Image(elf, project.board, project.build_id, project.dir, project.env)

"""Build stage: PlatformIO turns a rendered project into an ELF; pyelftools sizes it.

An unchanged project (same build id, ELF present) is not built again. The exact command
line is logged before it runs; the whole PlatformIO output goes to the project's build.log.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from mcubench.bench.render import Project
from mcubench.core import progress
from mcubench.core.errors import UserError
from mcubench.core.identity import git_hash, tool_version
from mcubench.core.pio_offline import ensure_tool_scons, pio_executable
from mcubench.core.types import Image

STAMP = "mcubench.build-id"


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
        with progress.step(f"building {project.dir.name} with PlatformIO"):
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

"""Render stage: a complete PlatformIO project for one (runtime, workload, board).

The project lives in its own directory under the work dir (firmware/build/ by default),
named after the job, not the content, so rendering again after a change rewrites only the
files that changed and PlatformIO rebuilds incrementally. The build id is a content hash of
everything the image is made from; the image reports it and the host checks it.

The project's ``src/`` holds links: one to each part of the shared ``firmware/`` tree and one
to each directory of generated code. Everything is then a project source to PlatformIO, so
every builder (ours, and the Arduino one with its library dependency finder) compiles the
generated code with the include paths of the project's libraries.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from mcubench.core.boards import Board
from mcubench.core.identity import tool_version
from mcubench.core.paths import boards_dir, firmware_dir, work_dir
from mcubench.core.templates import template_env, write_if_changed
from mcubench.core.types import WorkloadSpec
from mcubench.runtimes import get_runtime
from mcubench.runtimes.base import WorkloadSources


@dataclass
class Project:
    dir: Path
    env: str
    board: Board
    runtime: str
    workload: WorkloadSpec
    build_id: str
    sources: WorkloadSources
    files: list[Path] = field(default_factory=list)


def job_key(runtime: str, workload: WorkloadSpec, board: Board) -> str:
    ident = {
        "runtime": runtime,
        "workload": workload.name,
        "model": workload.model_sha256,
        "input": hashlib.sha256(workload.input_bytes).hexdigest() if workload.input_bytes else None,
        "params": workload.params,
        "options": dataclasses.asdict(workload.options) if workload.options is not None else {},
        "board": board.id,
        "port": board.port,
        "platformio": board.platformio,
        "warmup": workload.warmup,
        "runs": workload.runs,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:10]


def project_dir_for(runtime: str, workload: WorkloadSpec, board: Board, root: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", workload.name)[:40]
    return (root or work_dir()) / f"{runtime}-{safe}-{board.id}-{job_key(runtime, workload, board)}"


@contextmanager
def project_lock(directory: Path) -> Iterator[None]:
    """One writer per project directory (parallel sweeps may share a job)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def platform_spec(board: Board) -> str:
    """The `platform =` value: our local platform by path, others by registry name."""
    if board.platformio["platform"] == "mcubench":
        return f"symlink://{boards_dir() / 'platform'}"
    return board.platformio["platform"]


def _filter_dirs(filters: list[str]) -> list[Path]:
    return [firmware_dir() / m for f in filters for m in re.findall(r"\+<([^>]*)>", f)]


def content_hash(paths: list[Path], salt: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(salt, sort_keys=True, default=str).encode())
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else ([root] if root.is_file() else [])
        for f in files:
            if ".pio" in f.parts or f.name.startswith("."):
                continue
            digest.update(str(f.relative_to(root.parent) if root.is_dir() else f.name).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def registry_platform_flags(board: Board) -> list[str]:
    """What mcubench's own builder gives every image, for platforms without it.

    Our local platform (boards/platform) puts the core's headers on the include path and writes
    the identity macros into a generated header; on a registry platform (nordicnrf52 + Arduino)
    both come as flags, the build id and versions taken from the environment `mcubench` runs
    PlatformIO with (build.py sets it).
    """
    if board.platformio["platform"] == "mcubench":
        return []
    return [
        f"-I{firmware_dir() / 'core'}",
        f"'-DMCB_BOARD=\"{board.id}\"'",
        f"'-DMCB_PORT=\"{board.port}\"'",
        "'-DMCB_BUILD_ID=\"${sysenv.MCUBENCH_BUILD_ID}\"'",
        "'-DMCB_TOOL_VERSION=\"${sysenv.MCUBENCH_TOOL_VERSION}\"'",
        "'-DMCB_GIT=\"${sysenv.MCUBENCH_GIT_HASH}\"'",
    ]


def link_sources(directory: Path, generated: list[Path]) -> list[str]:
    """Fills ``directory/src`` with links to the shared firmware parts and to the generated
    code dirs; removes links left from an earlier render. Returns the generated dirs' filters."""
    src = directory / "src"
    src.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in sorted(firmware_dir().iterdir()) if p.is_dir() and p.name != "build"}
    filters = []
    for gen in generated:
        if gen.name in wanted:
            raise ValueError(f"generated dir {gen} shadows firmware/{gen.name}")
        wanted[gen.name] = gen
        filters.append(f"+<{gen.name}/>")
    for entry in src.iterdir():
        if entry.name not in wanted or not entry.is_symlink() or entry.resolve() != wanted[entry.name].resolve():
            entry.unlink() if entry.is_symlink() or entry.is_file() else shutil.rmtree(entry)
    for name, target in wanted.items():
        link = src / name
        if not link.is_symlink():
            link.symlink_to(target.resolve(), target_is_directory=True)
    return filters


def render_project(runtime_name: str, workload: WorkloadSpec, board: Board, out_dir: Path | None = None) -> Project:
    runtime = get_runtime(runtime_name)
    runtime.check(workload, board)
    directory = out_dir or project_dir_for(runtime_name, workload, board)
    with project_lock(directory):
        sources = runtime.render_workload(workload, board, directory)
        flags = [
            *registry_platform_flags(board),
            *(f"-I{d}" for d in sources.extra_source_dirs),
            *sources.build_flags,
            f"-DMCB_WARMUP={workload.warmup}",
            f"-DMCB_RUNS={workload.runs}",
        ]
        generated_filters = link_sources(directory, sources.extra_source_dirs)
        context = {
            "tool_version": tool_version(),
            "runtime": runtime_name,
            "workload": workload.name,
            "board": board,
            "env": board.id,
            "platform": platform_spec(board),
            "src_filters": [*sources.src_filters, *generated_filters],
            "build_flags": flags,
            "lib_deps": sources.lib_deps,
            "lib_extra_dirs": [str(d) for d in sources.lib_extra_dirs],
        }
        ini = directory / "platformio.ini"
        write_if_changed(ini, template_env().get_template("project/platformio.ini.j2").render(context))
        inputs = [
            *_filter_dirs(["+<core/>", board.platformio["src_filter"], *sources.src_filters]),
            *sources.extra_source_dirs,
            ini,
        ]
        build_id = content_hash(inputs, {"board": board.id, "flags": flags, "tool": tool_version()})
    return Project(directory, board.id, board, runtime_name, workload, build_id, sources, [ini])

"""Issue 14: the layer map holds — checked by import-linter (contracts in pyproject.toml) and by
what a contract cannot say: imports stay at module top, argparse stays in the CLI layer, and
only a runtime or a target compares against its own name."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "host" / "mcubench"
MAX_FUNCTION_LOCAL_IMPORTS = 15


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(PACKAGE.rglob("*.py"))]


def test_lint_imports_keeps_every_contract():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]' (import-linter)")
    env = {"PYTHONPATH": str(ROOT / "host"), "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_layers_contract_covers_every_package():
    text = (ROOT / "pyproject.toml").read_text()
    assert "exhaustive = true" in text
    layered = set(re.findall(r'^\s+"([a-z_]+(?: \| [a-z_]+)?)",$', text, re.M))
    names = {n for entry in layered for n in entry.split(" | ")}
    children = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert children <= names, f"not in a layer: {sorted(children - names)}"


def test_imports_are_at_module_top():
    local = []
    for path, tree in _modules():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("mcubench")):
                        local.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(local) <= MAX_FUNCTION_LOCAL_IMPORTS, local


def test_argparse_only_in_the_cli_layer():
    outside = []
    for path, tree in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "cli.py" or rel.startswith("commands/"):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) else []
            if "argparse" in names:
                outside.append(rel)
    assert outside == []


def test_no_name_checks_against_runtimes_or_targets_outside_their_packages():
    from mcubench.runtimes import RUNTIMES
    from mcubench.targets import target_names

    names = "|".join(map(re.escape, [*RUNTIMES, *target_names()]))
    compare = re.compile(rf'(==|!=)\s*"({names})"|"({names})"\s*(==|!=)|\bin\s*[(\[{{][^)\]}}]*"({names})"')
    found = []
    for path, _ in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("runtimes/", "targets/")):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if compare.search(line):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []


def test_schema_id_is_defined_once():
    defined = [path for path, tree in _modules() for node in tree.body
               if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SCHEMA_ID" for t in node.targets)]
    assert len(defined) == 1, defined

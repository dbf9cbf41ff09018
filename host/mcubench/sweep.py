"""Sweeps: a grid of (model, recipe, runtime, board, target) jobs on Dask distributed.

A job is a pure function of its spec (``run_job(spec) -> record``): workers keep no state of
their own and never touch the history. The client submits every job whose key is not yet in
the history, and stores each record as its future completes, one at a time, atomically — so
a killed client loses nothing finished, a lost worker's jobs are rescheduled by Dask, and a
resumed sweep skips every stored key. Builds are cached by content hash (see render.py), so
jobs sharing an image build it once.

By default the cluster is a ``LocalCluster`` on loopback with one single-threaded worker
process per core, each offering one ``emulator`` resource; ``--scheduler tcp://HOST:PORT``
uses an existing cluster (``dask scheduler`` + ``dask worker --resources emulator=1``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import signal
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil
import yaml

from mcubench.bench.pipeline import run_bench
from mcubench.bench.request import BenchRequest
from mcubench.bench.workloads import (
    workload_for_example,
    workload_for_model,
    workload_for_variant,
)
from mcubench.core.boards import DEFAULT_BOARD, all_board_ids
from mcubench.core.errors import UserError
from mcubench.core.identity import tool_version
from mcubench.core.paths import results_dir
from mcubench.core.types import WorkloadSpec
from mcubench.estimate.model import load_cost_model
from mcubench.recipes import RECIPES
from mcubench.recipes.variants import example_fingerprint, prepare_model_variant
from mcubench.results.history import History
from mcubench.results.report import build_report, write_report
from mcubench.runtimes import RUNTIMES, WORKLOAD_RUNTIME

# What a `models:` entry of a sweep file is (docs/sweeps.md): a built-in workload (run by the
# workload runtime), an example model, or a model file.
WORKLOAD_ENTRY = "builtin"
MODEL_ENTRY_KINDS = (WORKLOAD_ENTRY, "example", "path")

# The built-in example sweep: the example models × three deployable recipes on the emulated
# board, through the offline ahead-of-time runtime.
EXAMPLE_SWEEP = {
    "name": "example",
    "models": [{"example": "digits"}, {"example": "sine"}, {"example": "kws_dscnn"}],
    "recipes": ["int8", "qat_int8", {"prune_constant": {"quantize": "int8"}}],
    "runtimes": ["aot"],
    "boards": ["mps2-an386"],
    "warmup": 1,
    "runs": 3,
}


@dataclass(frozen=True)
class JobSpec:
    """One cell of the grid. Everything a worker needs, and nothing else."""

    model: str  # "builtin:<workload>", "example:<name>", or a path to a .tflite or a source model file
    recipe: str | None
    runtime: str
    board: str
    target: str | None = None
    memory_of: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    warmup: int = 1
    runs: int = 5
    model_sha256: str | None = None  # for model files: their content, so an edited file is a new job
    recipe_params: tuple[tuple[str, Any], ...] = ()
    estimate: str | None = None  # a board assumption: add the cycle estimate (QEMU's instruction plugin)
    data: str | None = None  # a source model file's dataset (calibration, fine-tuning, metric)
    data_sha256: str | None = None

    def key(self) -> str:
        ident = {**asdict(self), "tool_version": tool_version()}
        if self.estimate is None:
            del ident["estimate"]  # keys of sweeps without estimates stay as they were
        if self.model_sha256:
            ident["model"] = f"sha256:{self.model_sha256}"  # the file's content, not where it lies
        if self.data_sha256:
            ident["data"] = f"sha256:{self.data_sha256}"
        if self.model.startswith("example:") or self.recipe is not None:
            ident["model_code"] = example_fingerprint()  # changed recipe code makes a new variant
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def label(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.params)
        recipe = self.recipe and self.recipe + (f"({','.join(f'{k}={v}' for k, v in self.recipe_params)})" if self.recipe_params else "")
        parts = [self.model + (f"[{params}]" if params else ""), recipe, self.runtime, self.board, self.target]
        return " · ".join(p for p in parts if p)


@dataclass
class SweepConfig:
    name: str
    jobs: list[JobSpec]
    source: str = "<built-in example>"


@dataclass
class SweepSummary:
    name: str
    jobs: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    results: list[str] = field(default_factory=list)  # ids of the records stored by this run
    failures: list[dict[str, str]] = field(default_factory=list)
    history: str = ""
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- configuration -------------------------------------------------------------------------


def _as_list(value: Any, what: str, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    if isinstance(value, list):
        return value
    raise UserError(f"{where}: `{what}` must be a list", f"e.g. {what}: [a, b]")


def _expand_params(params: dict[str, Any], where: str) -> list[tuple[tuple[str, Any], ...]]:
    """{"n": [512, 1024], "m": 3} -> every combination, as sorted key/value tuples."""
    if not isinstance(params, dict):
        raise UserError(f"{where}: `params` must be a mapping", "e.g. params: {n: [512, 1024]}")
    keys = sorted(params)
    values = [v if isinstance(v, list) else [v] for v in (params[k] for k in keys)]
    return [tuple(zip(keys, combo)) for combo in itertools.product(*values)]


def parse_config(data: dict[str, Any], source: str, base_dir: Path | None = None) -> SweepConfig:
    if not isinstance(data, dict):
        raise UserError(f"{source}: a sweep file is a YAML mapping", "see docs/sweeps.md for the format")
    known = {"name", "models", "recipes", "runtimes", "boards", "targets", "memory_of", "warmup", "runs", "estimate"}
    unknown = set(data) - known
    if unknown:
        raise UserError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}", f"known keys: {', '.join(sorted(known))}")
    models = _as_list(data.get("models"), "models", source)
    if not models:
        raise UserError(f"{source}: no models", "add e.g. models: [{example: digits}] or [{builtin: dot_int8}]")
    recipes = _as_list(data.get("recipes"), "recipes", source) or [None]
    runtimes = _as_list(data.get("runtimes"), "runtimes", source) or ["aot"]
    boards = _as_list(data.get("boards"), "boards", source) or [DEFAULT_BOARD]
    targets = _as_list(data.get("targets"), "targets", source) or [None]
    warmup, runs = int(data.get("warmup", 1)), int(data.get("runs", 5))
    if data.get("estimate") is not None:
        load_cost_model().board(str(data["estimate"]))  # refused here, not in every job
    if warmup < 0 or runs < 1:
        raise UserError(f"{source}: runs must be ≥ 1 and warmup ≥ 0", "e.g. warmup: 1, runs: 5")
    model_entries = [m for m in models if not (isinstance(m, dict) and WORKLOAD_ENTRY in m)]
    # Built-in workloads take no recipe and no model runtime: check those only when used.
    _check_names(recipes if model_entries else [None], runtimes if model_entries else [], boards, source)
    jobs: list[JobSpec] = []
    for entry in models:
        entry = {"path": entry} if isinstance(entry, str) else entry
        kinds = [k for k in MODEL_ENTRY_KINDS if k in entry]
        if len(kinds) != 1:
            raise UserError(f"{source}: model entry {entry} needs exactly one of builtin/example/path", "e.g. {example: digits}")
        kind = kinds[0]
        for board, target in itertools.product(boards, targets):
            common = dict(board=board, target=target, memory_of=data.get("memory_of"), warmup=warmup, runs=runs,
                          estimate=data.get("estimate"))
            if kind == WORKLOAD_ENTRY:
                for params in _expand_params(entry.get("params", {}), source):
                    jobs.append(JobSpec(f"{WORKLOAD_ENTRY}:{entry[WORKLOAD_ENTRY]}", None, WORKLOAD_RUNTIME, params=params, **common))
            elif kind == "example":
                for recipe, runtime in itertools.product(recipes, runtimes):
                    name, recipe_params = _recipe_entry(recipe, source)
                    jobs.append(JobSpec(f"example:{entry['example']}", name, runtime, recipe_params=recipe_params, **common))
            else:
                path = Path(entry["path"])
                path = path if path.is_absolute() or base_dir is None else (base_dir / path)
                if not path.is_file():
                    raise UserError(f"{source}: model file {path} does not exist", "fix the path (relative to the sweep file)")
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
                if path.suffix == ".tflite":  # benchmarked as it is
                    for runtime in runtimes:
                        jobs.append(JobSpec(str(path.resolve()), None, runtime, model_sha256=sha, **common))
                    continue
                # A source model (.keras, .h5, .pt2, .onnx): each recipe makes a variant from it and `data`.
                data_entry = entry.get("data")
                if data_entry is None:
                    raise UserError(f"{source}: model {path.name} is not a .tflite and needs `data:` beside `path:`",
                                    "e.g. {path: m.onnx, data: d.npz} (calibration and metric data)")
                data_path = Path(data_entry)
                data_path = data_path if data_path.is_absolute() or base_dir is None else (base_dir / data_path)
                if not data_path.is_file():
                    raise UserError(f"{source}: data file {data_path} does not exist", "fix the path (relative to the sweep file)")
                data_sha = hashlib.sha256(data_path.read_bytes()).hexdigest()
                for recipe, runtime in itertools.product(recipes, runtimes):
                    name, recipe_params = _recipe_entry(recipe, source)
                    jobs.append(JobSpec(str(path.resolve()), name, runtime, model_sha256=sha, recipe_params=recipe_params,
                                        data=str(data_path.resolve()), data_sha256=data_sha, **common))
    unique = list(dict.fromkeys(jobs))
    return SweepConfig(str(data.get("name", Path(source).stem)), unique, source)


def _recipe_entry(entry: Any, source: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """A recipe is a name (`int8`) or a one-key mapping with parameters ({prune_constant: {sparsity: 0.75}})."""
    if entry is None:
        return "int8", ()
    if isinstance(entry, str):
        return entry, ()
    if isinstance(entry, dict) and len(entry) == 1:
        name, params = next(iter(entry.items()))
        if params is None or isinstance(params, dict):
            return str(name), tuple(sorted((params or {}).items()))
    raise UserError(f"{source}: recipe entry {entry!r} is neither a name nor {{name: {{param: value}}}}",
                    "e.g. recipes: [int8, {prune_constant: {sparsity: 0.75, quantize: int8}}]")


def _check_names(recipes: list, runtimes: list, boards: list, source: str) -> None:
    for board in boards:
        if board not in all_board_ids():
            raise UserError(f"{source}: unknown board `{board}`", f"choose from: {', '.join(all_board_ids())}")
    for runtime in runtimes:
        if runtime not in RUNTIMES:
            raise UserError(f"{source}: unknown runtime `{runtime}`", f"choose from: {', '.join(RUNTIMES)}")
    names = [_recipe_entry(r, source)[0] for r in recipes if r is not None]
    if names:
        for recipe in names:
            if recipe not in RECIPES:
                raise UserError(f"{source}: unknown recipe `{recipe}`", f"choose from: {', '.join(RECIPES)}")


def load_config(path: Path) -> SweepConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"sweep file {path} does not exist", "give the path of a YAML sweep file, or --example") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})", "fix the file") from None
    return parse_config(data, str(path), path.parent)


def example_config() -> SweepConfig:
    return parse_config(EXAMPLE_SWEEP, "<built-in example>")


# ---- one job (runs on a worker) --------------------------------------------------------------


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Runs one job start to finish and returns its result record, or a failure description.

    A user error (the model does not fit, an op is unsupported) is an outcome of the job, not a
    crash: it comes back as {"failed": message} so Dask does not retry it.
    """
    try:
        return {"record": _run_job(spec)}
    except UserError as exc:
        return {"failed": str(exc)}
    except Exception:  # noqa: BLE001 - a bug: keep its traceback for the summary
        return {"failed": "internal error:\n" + traceback.format_exc()}


def _run_job(spec: JobSpec) -> dict[str, Any]:
    if spec.model.startswith(f"{WORKLOAD_ENTRY}:"):
        workload = WorkloadSpec(spec.model.split(":", 1)[1], dict(spec.params), warmup=spec.warmup, runs=spec.runs)
        extras: dict[str, Any] = {}
        runtime = WORKLOAD_RUNTIME
    else:
        if spec.model.startswith("example:"):
            example = spec.model.split(":", 1)[1]
            workload, runtime, extras = workload_for_example(example, spec.recipe or "int8", spec.recipe_params, spec.runtime)
            extras["recipe"] = spec.recipe
        elif spec.recipe is not None:  # a source model file: its variant, made once and cached
            variant = prepare_model_variant(Path(spec.model), Path(spec.data) if spec.data else None, spec.recipe,
                                            dict(spec.recipe_params))
            workload, runtime, extras = workload_for_variant(variant, Path(spec.model).stem, spec.recipe, spec.runtime)
        else:
            workload, runtime, extras = workload_for_model(Path(spec.model), spec.runtime)
        workload.warmup, workload.runs = spec.warmup, spec.runs
    request = BenchRequest(workload, runtime=runtime, board=spec.board, target=spec.target, memory_of=spec.memory_of,
                           estimate=spec.estimate, **extras)
    return run_bench(request).result


# ---- the client --------------------------------------------------------------------------------


def _local_cluster(workers: int):
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,  # one emulator per worker process
        processes=True,
        resources={"emulator": 1},
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )


def run_sweep(
    config: SweepConfig,
    workers: int | None = None,
    scheduler: str | None = None,
    history_path: Path | None = None,
    on_progress: Callable[[str, JobSpec, dict[str, Any] | None], None] | None = None,
) -> SweepSummary:
    """Runs every job not yet in the history; returns counts and stored record ids."""

    history = History(history_path)
    summary = SweepSummary(config.name, len(config.jobs), history=str(history.path))
    done_keys = history.keys()
    pending = []
    for spec in config.jobs:
        if spec.key() in done_keys:
            summary.skipped += 1
            if on_progress:
                on_progress("skipped", spec, None)
        else:
            pending.append(spec)
    if not pending:
        return summary
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UserError("sweeps run on Dask distributed, which is not installed", "pip install -e '.[dist]'") from None

    workers = workers or os.cpu_count() or 1
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", "start it with `dask scheduler` or drop --scheduler") from None
        else:
            cluster = _local_cluster(min(workers, len(pending)))
            client = Client(cluster)
        with client:
            # Ctrl-C reaches the whole process group; the client alone answers it (below), so
            # workers print no tracebacks of their own.
            client.run(_ignore_sigint)
            futures = {
                client.submit(run_job, spec, key=f"mcubench-{spec.key()}", resources={"emulator": 1}, pure=False): spec
                for spec in pending
            }
            for future in as_completed(futures):
                spec = futures[future]
                outcome = future.result()
                if "record" in outcome:
                    # Only the client writes the history: one record, one transaction.
                    history.add(outcome["record"], key=spec.key())
                    summary.done += 1
                    summary.results.append(outcome["record"]["id"])
                    if on_progress:
                        on_progress("done", spec, outcome["record"])
                else:
                    summary.failed += 1
                    summary.failures.append({"job": spec.label(), "key": spec.key(), "error": outcome["failed"]})
                    if on_progress:
                        on_progress("failed", spec, None)
    except KeyboardInterrupt:
        # Every process this sweep started goes: workers, PlatformIO, emulators. Stored
        # records stay; running the same sweep again does exactly the missing jobs.
        end_descendants()
        raise SweepInterrupted(summary) from None
    finally:
        if cluster is not None:
            try:
                cluster.close(timeout=10)
            except Exception:  # noqa: BLE001 - its workers are gone already after an interrupt
                pass
    return summary


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, with what it had stored by then."""

    def __init__(self, summary: SweepSummary):
        super().__init__()
        self.summary = summary


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _is_resource_tracker(process: psutil.Process) -> bool:
    try:
        return "resource_tracker" in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def end_descendants(grace: float = 3.0, rounds: int = 5) -> None:
    """Terminates every process below this one, then kills what is left. Repeated: a worker may
    start a new build while the first round is under way. multiprocessing's resource tracker
    stays: it ends with this process, and ending it early only makes it print warnings."""
    for _ in range(rounds):
        children = [c for c in psutil.Process().children(recursive=True) if not _is_resource_tracker(c)]
        if not children:
            return
        for child in children:
            try:
                child.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(children, timeout=grace)
        for child in alive:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=grace)


def sweep_records(config: SweepConfig, history_path: Path | str | None = None) -> list[dict[str, Any]]:
    """The newest stored record of every job of the sweep (done in this run or before)."""

    history = History(history_path)
    records = []
    for spec in config.jobs:
        found = history.query(job_key=spec.key(), limit=1)
        if found:
            records.append(found[0])
    return records


def write_sweep_report(config: SweepConfig, summary: SweepSummary, out_dir: Path | None = None) -> Path | None:
    """Markdown + HTML report over the whole sweep; returns the HTML path (None: nothing to report)."""

    records = sweep_records(config, summary.history)
    if not records:
        return None
    files = write_report(build_report(records, f"sweep {config.name}"), out_dir or results_dir() / "reports" / config.name)
    summary.report = str(files.html)
    return files.html

"""TensorFlow Lite Micro as a runtime: a rendered TFLM application inside the benchmark core.

``render_workload`` writes, from ``templates/tflm/``: the model as a 16-byte-aligned C array
with its sha256, and a workload with a ``MicroMutableOpResolver`` holding exactly the model's
ops, an arena sized from the exact TFLM figure plus a stated margin, the fixed test input,
per-op timing through a profiler (``firmware/runtimes/tflm/``) and the output tensor.

TFLM's sources are never part of mcubench. They come from a local checkout in Arduino-library
layout (``tensorflow/tflite-micro-arduino-examples``) named by ``MCUBENCH_TFLM_DIR`` or
``--tflm-dir``; each needed source file is compiled through a one-line wrapper, so the file set
(CMSIS-NN or reference kernels, no Arduino-only files on bare metal) is ours to choose. Without a
checkout, an Arduino board gets the library pinned in ``lib_deps`` (PlatformIO downloads it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcubench.core.boards import Board
from mcubench.core.elf import flash_symbols
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_text_atomic
from mcubench.core.identity import tool_version
from mcubench.core.paths import firmware_dir
from mcubench.core.templates import template_env, write_if_changed
from mcubench.core.types import RuntimeOptions, WorkloadSpec
from mcubench.models import tflm_host
from mcubench.models.bench_input import test_input
from mcubench.models.tflite_file import parse_tflite
from mcubench.runtimes.base import FlashSplit, Runtime, WorkloadSources

TFLM_DIR_ENV = "MCUBENCH_TFLM_DIR"
# What PlatformIO downloads for an Arduino board when no local checkout is given.
TFLM_ARDUINO_LIB = (
    "https://github.com/tensorflow/tflite-micro-arduino-examples.git#7948b85e020470a30a83bf00e10fc43b486bfcba"
)
# Replaces that `lib_deps` entry: a fork's URL, or the bare library name `Arduino_TensorFlowLite`
# for a copy PlatformIO finds in a library folder (lib_extra_dirs, PLATFORMIO_LIB_EXTRA_DIRS)
# without its registry: a bare name is never downloaded, and neither are the library's
# `depends` (ArduinoBLE, Arduino_LSM9DS1), which the benchmark does not use.
TFLM_LIB_ENV = "MCUBENCH_TFLM_LIB"


def tflm_lib_dep() -> str:
    return os.environ.get(TFLM_LIB_ENV) or TFLM_ARDUINO_LIB
ARENA_ALIGN = 16
BYTES_PER_LINE = 16

# MicroMutableOpResolver's registration methods (this TFLM generation). A model op maps to the
# method whose name, lower-cased without underscores, equals the op's (CONV_2D -> AddConv2D).
RESOLVER_METHODS = (
    "AddAbs AddAdd AddAddN AddArgMax AddArgMin AddAssignVariable AddAveragePool2D AddBatchToSpaceNd "
    "AddBroadcastArgs AddBroadcastTo AddCallOnce AddCast AddCeil AddCircularBuffer AddConcatenation AddConv2D "
    "AddCos AddCumSum AddDepthToSpace AddDepthwiseConv2D AddDequantize AddDiv AddElu AddEqual AddExp "
    "AddExpandDims AddFill AddFloor AddFloorDiv AddFloorMod AddFullyConnected AddGather AddGatherNd AddGreater "
    "AddGreaterEqual AddHardSwish AddIf AddL2Normalization AddL2Pool2D AddLeakyRelu AddLess AddLessEqual AddLog "
    "AddLogicalAnd AddLogicalNot AddLogicalOr AddLogistic AddLogSoftmax AddMaximum AddMaxPool2D AddMirrorPad "
    "AddMean AddMinimum AddMul AddNeg AddNotEqual AddPack AddPad AddPadV2 AddPrelu AddQuantize AddReadVariable "
    "AddReduceMax AddRelu AddRelu6 AddReshape AddResizeBilinear AddResizeNearestNeighbor AddRound AddRsqrt "
    "AddSelectV2 AddShape AddSin AddSlice AddSoftmax AddSpaceToBatchNd AddSpaceToDepth AddSplit AddSplitV "
    "AddSqueeze AddSqrt AddSquare AddSquaredDifference AddStridedSlice AddSub AddSum AddSvdf AddTanh "
    "AddTransposeConv AddTranspose AddUnpack AddUnidirectionalSequenceLSTM AddVarHandle AddWhile AddZerosLike"
).split()
_BY_KEY = {m[3:].lower(): m for m in RESOLVER_METHODS}
# Ops whose kernels exist only as CMSIS-NN wrappers in the Arduino library; the reference build
# gets them from firmware/runtimes/tflm/reference/.
CMSIS_NN_ONLY_OPS = {"ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX", "SVDF"}
REFERENCE_GLUE_OPS = CMSIS_NN_ONLY_OPS - {"SVDF"}


def resolver_method(op_name: str) -> str | None:
    return _BY_KEY.get(op_name.replace("_", "").lower())


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModelFacts:
    """What the templates need to know about a model."""

    op_names: tuple[str, ...]  # subgraph 0 in execution order (one profiler slot each)
    op_set: tuple[str, ...]  # every builtin op of every subgraph, first-use order
    custom_ops: tuple[str, ...]
    input_bytes: int
    output_bytes: int
    input_dtype: str
    output_dtype: str
    subgraphs: int
    fc_per_channel: bool = False  # dense weights quantized per output channel
    integer_mean: bool = False  # a MEAN on int8/int16 tensors


_DTYPE_BYTES = {"FLOAT32": 4, "INT32": 4, "UINT32": 4, "INT8": 1, "UINT8": 1, "INT16": 2, "FLOAT16": 2, "INT64": 8, "BOOL": 1, "FLOAT64": 8}


def model_facts(model_bytes: bytes, source: str = "model") -> ModelFacts:
    parsed = parse_tflite(model_bytes, source)
    if len(parsed.inputs) != 1 or len(parsed.outputs) != 1:
        raise UserError(
            f"{source} has {len(parsed.inputs)} inputs and {len(parsed.outputs)} outputs",
            "the TFLM benchmark supports models with one input and one output tensor",
        )
    op_set: list[str] = []
    custom: list[str] = []
    for code in parsed.op_codes:
        if code.custom:
            custom.append(code.name)
        elif code.name not in op_set:
            op_set.append(code.name)

    def nbytes(index: int) -> tuple[int, str]:
        t = parsed.tensor(index)
        size = _DTYPE_BYTES.get(t.dtype)
        if size is None:
            raise UserError(f"{source}: tensor `{t.name}` has type {t.dtype}", "TFLM benchmarks need int8/int16/float32 tensors")
        return t.elements * size, t.dtype

    in_bytes, in_dtype = nbytes(parsed.inputs[0])
    out_bytes, out_dtype = nbytes(parsed.outputs[0])
    return ModelFacts(
        op_names=tuple(op.name for op in parsed.ops),
        op_set=tuple(op_set),
        custom_ops=tuple(custom),
        input_bytes=in_bytes,
        output_bytes=out_bytes,
        input_dtype=in_dtype,
        output_dtype=out_dtype,
        subgraphs=parsed.subgraphs,
        fc_per_channel=any(
            op.name == "FULLY_CONNECTED" and len(op.inputs) > 1 and op.inputs[1] >= 0
            and len(parsed.tensor(op.inputs[1]).scale) > 1
            for op in parsed.ops
        ),
        integer_mean=any(op.name == "MEAN" and parsed.tensor(op.inputs[0]).dtype in ("INT8", "INT16") for op in parsed.ops),
    )


@dataclass(frozen=True)
class KernelOverride:
    """mcubench's kernel for one op, where the Arduino library's TFLM computes differently from
    today's TFLM (which the host interpreter is)."""

    method: str  # the resolver method, e.g. AddMean
    op: str  # the builtin op, e.g. MEAN
    function: str  # the registration function in firmware/runtimes/tflm/
    # This TFLM's resolver method takes the registration as its argument (AddFullyConnected);
    # otherwise McbOverridingResolver answers for the op.
    as_argument: bool


def kernel_overrides(facts: ModelFacts) -> list[KernelOverride]:
    """Its FULLY_CONNECTED reads one weight scale (mcb_fc_per_channel.cc); its integer MEAN
    truncates or rescales in float (mcb_mean.cc)."""
    overrides = []
    if facts.fc_per_channel:
        overrides.append(KernelOverride("AddFullyConnected", "FULLY_CONNECTED", "Register_MCB_FULLY_CONNECTED_PER_CHANNEL", True))
    if facts.integer_mean:
        overrides.append(KernelOverride("AddMean", "MEAN", "Register_MCB_MEAN", False))
    return overrides


def resolver_methods_for(facts: ModelFacts, source: str = "model") -> list[str]:
    """The resolver's registrations: one per distinct op, refusing what TFLM cannot run."""
    if facts.custom_ops:
        raise UserError(
            f"{source} uses custom ops ({', '.join(facts.custom_ops)}) that TFLM has no kernel for",
            "re-export the model with builtin ops only (or run `mcubench analyze` for the op at fault)",
        )
    methods, missing = [], []
    for op in facts.op_set:
        method = resolver_method(op)
        (methods if method else missing).append(method or op)
    if missing:
        raise UserError(
            f"{source} uses ops TFLM's MicroMutableOpResolver cannot register: {', '.join(missing)}",
            "run `mcubench analyze` on the model for a recipe that avoids them",
        )
    return methods


# ----------------------------------------------------------------------------- the arena


@dataclass(frozen=True)
class ArenaPlan:
    exact_bytes: int  # TFLM's exact figure for the model
    margin_bytes: int
    bytes: int  # what the firmware reserves: exact + margin, 16-byte aligned
    source: str
    margin_rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def arena_plan(model_bytes: bytes, source: str = "model", cache_dir: Path | None = None) -> ArenaPlan:
    """The arena constant: the model pipeline's exact TFLM figure plus its 32-bit margin.

    The exact figure comes from ``mcubench.models.tflm_host.exact_arena`` (the real TFLM
    interpreter, binary search); it is cached by model hash because it takes seconds.
    """

    sha = hashlib.sha256(model_bytes).hexdigest()
    cache = (cache_dir / f"arena-{sha[:20]}.json") if cache_dir else None
    if cache and cache.is_file():
        try:
            return ArenaPlan(**json.loads(cache.read_text()))
        except (ValueError, TypeError):
            pass
    info = tflm_host.exact_arena(model_bytes, source)
    margin, budget = tflm_host.budget_32bit(info.exact_bytes)
    rule = (
        f"max({tflm_host.ARENA_MARGIN_MIN_BYTES} B, {tflm_host.ARENA_MARGIN_FRACTION:.0%} of exact) for 32-bit "
        "layout and CMSIS-NN scratch buffers"
    )
    plan = ArenaPlan(info.exact_bytes, margin, budget, info.host, rule)
    if cache:
        write_text_atomic(cache, json.dumps(plan.to_dict()) + "\n")
    return plan


# ----------------------------------------------------------------------------- TFLM sources


def tflm_dir(explicit: str | Path | None = None) -> Path | None:
    """The local TFLM checkout: ``--tflm-dir``, else ``MCUBENCH_TFLM_DIR``, else None."""
    value = explicit or os.environ.get(TFLM_DIR_ENV)
    return Path(value).expanduser().resolve() if value else None


def check_tflm_dir(path: Path) -> Path:
    """Checks the Arduino-library layout and returns its ``src/`` directory."""
    src = path / "src"
    if not (src / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        raise UserError(
            f"{path} is not a TFLM checkout in Arduino-library layout (no src/tensorflow/lite/micro/micro_interpreter.h)",
            f"point {TFLM_DIR_ENV} (or --tflm-dir) at a checkout of tensorflow/tflite-micro-arduino-examples",
        )
    return src


def tflm_version(path: Path) -> str:
    props = path / "library.properties"
    version = "unknown"
    if props.is_file():
        m = re.search(r"^version=(.+)$", props.read_text(errors="replace"), re.M)
        version = m.group(1).strip() if m else version
    return version


# Sources that need the Arduino core, are test scaffolding, or belong to the audio front end.
_EXCLUDED = re.compile(
    r"(^tensorflow/lite/micro/system_setup\.cpp$|test|mock_micro_graph|fake_micro_context|kernel_runner"
    r"|^tensorflow/lite/experimental/|^third_party/kissfft/|^peripherals/"
    # Never the all-ops resolver; the recording allocator is a host-side tool.
    r"|all_ops_resolver|recording_)"
)
_REGISTER_DEF = re.compile(r"^\s*TfLiteRegistration\*?\s+(?:[\w:]+::)?(Register_[A-Z0-9_]+)\s*\(\s*\)\s*\{", re.M)


def _resolver_registrations(src: Path) -> dict[str, set[str]]:
    """Which Register_* functions each resolver method calls (read from the checkout's header)."""
    header = (src / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text(errors="replace")
    found: dict[str, set[str]] = {}
    for m in re.finditer(r"TfLiteStatus (Add\w+)\((.*?)\n  \}", header, re.S):
        found[m.group(1)] = set(re.findall(r"(Register_[A-Z0-9_]+)\(", m.group(2)))
    return found


# The shared kernel code (kernels/<stem>_common.cpp) that mcubench's reference glue uses.
REFERENCE_GLUE_STEMS = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise_conv", "FULLY_CONNECTED": "fully_connected",
    "AVERAGE_POOL_2D": "pooling", "MAX_POOL_2D": "pooling", "SOFTMAX": "softmax", "ADD": "add", "MUL": "mul",
}


def tflm_sources(src: Path, methods: list[str], cmsis_nn: bool, op_set: tuple[str, ...] = ()) -> list[Path]:
    """The TFLM files one model needs: the framework, the support code shared by kernels,
    and only the kernel files that define the registrations of the model's ops."""
    kernels = src / "tensorflow/lite/micro/kernels"
    files: list[Path] = []
    op_files: list[Path] = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".c", ".cc", ".cpp") or not path.is_file():
            continue
        rel = path.relative_to(src).as_posix()
        if not (rel.startswith("tensorflow/") or rel.startswith("third_party/")) or _EXCLUDED.search(rel):
            continue
        if rel.startswith("third_party/cmsis_nn/") or path.parent == kernels / "cmsis_nn":
            if cmsis_nn:
                (op_files if path.parent == kernels / "cmsis_nn" else files).append(path)
            continue
        if path.parent == kernels and _REGISTER_DEF.search(path.read_text(errors="replace")):
            op_files.append(path)
        else:
            files.append(path)
    wanted = set()
    registrations = _resolver_registrations(src)
    for method in methods:
        wanted |= registrations.get(method, set())
    stems = set() if cmsis_nn else {REFERENCE_GLUE_STEMS[op] for op in op_set if op in REFERENCE_GLUE_STEMS}
    for path in op_files:
        defined = set(_REGISTER_DEF.findall(path.read_text(errors="replace")))
        if defined & wanted:
            files.append(path)
            stems.add(path.stem)
    # Shared kernel code (conv_common.cpp, lstm_eval.cpp...) only for the ops that use it.
    def needed(path: Path) -> bool:
        if path.parent != kernels:
            return True
        if path.stem.endswith("_common"):
            return path.stem[: -len("_common")] in stems
        if path.stem == "lstm_eval":
            return "unidirectional_sequence_lstm" in stems
        return True

    return sorted(p for p in files if needed(p))


def wrapper_name(src: Path, path: Path) -> str:
    rel = path.relative_to(src).as_posix()
    stem = rel.replace("/", "__")
    return stem + (".c" if path.suffix == ".c" else ".cc")


# ----------------------------------------------------------------------------- the runtime


def c_byte_lines(data: bytes, per_line: int = BYTES_PER_LINE) -> list[str]:
    return [", ".join(f"0x{b:02x}" for b in data[i : i + per_line]) + "," for i in range(0, len(data), per_line)]


def _flag_bool(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "1", "true", "yes"):
        return True
    if text in ("off", "0", "false", "no"):
        return False
    raise UserError(f"--cmsis-nn {value!r} is neither on nor off", "use --cmsis-nn on or --cmsis-nn off")


@dataclass(frozen=True)
class TflmOptions(RuntimeOptions):
    cmsis_nn: bool = field(default=True, metadata={
        "help": "CMSIS-NN kernels (on) or TFLM's reference kernels (off)", "choices": ("on", "off")})
    tflm_dir: str | None = field(default=None, metadata={
        "help": f"local TFLM checkout in Arduino-library layout (default: ${TFLM_DIR_ENV})"})

    @classmethod
    def from_cli(cls, values: dict[str, Any]) -> "TflmOptions":
        directory = values.get("tflm_dir")
        return cls(cmsis_nn=_flag_bool(values.get("cmsis_nn")),
                   tflm_dir=str(Path(directory).expanduser().resolve()) if directory else None)


class TflmRuntime(Runtime):
    name = "tflm"
    options_type = TflmOptions

    def model_support(self, model_bytes: bytes) -> str | None:
        try:
            resolver_methods_for(model_facts(model_bytes))
        except UserError as err:
            return err.message
        return None

    def check(self, workload: WorkloadSpec, board: Board) -> None:
        if workload.model_bytes is None:
            raise UserError("the tflm runtime needs a model", "give a .tflite file, e.g. mcubench bench model.tflite --runtime tflm")
        facts = model_facts(workload.model_bytes, workload.name)
        resolver_methods_for(facts, workload.name)
        if workload.input_bytes is not None and len(workload.input_bytes) != facts.input_bytes:
            raise UserError(
                f"test input has {len(workload.input_bytes)} bytes, the model's input tensor {facts.input_bytes}",
                "give an input of the model's input shape and type",
            )
        options = self.options(workload)
        cmsis_nn = _flag_bool(options.cmsis_nn)
        directory = tflm_dir(options.tflm_dir)
        if directory is not None:
            check_tflm_dir(directory)
        elif board.port != "arduino":
            raise UserError(
                f"building TFLM for {board.id} needs TFLM's sources, and {TFLM_DIR_ENV} is not set",
                f"check out tensorflow/tflite-micro-arduino-examples and set {TFLM_DIR_ENV}=<checkout> "
                "(or pass --tflm-dir), or use --runtime aot which needs nothing else",
            )
        elif not cmsis_nn:
            raise UserError(
                "--cmsis-nn off needs a local TFLM checkout (the downloaded Arduino library only has CMSIS-NN kernels)",
                f"set {TFLM_DIR_ENV} to a checkout of tensorflow/tflite-micro-arduino-examples",
            )
        if not cmsis_nn:
            unsupported = [op for op in facts.op_set if op in CMSIS_NN_ONLY_OPS - REFERENCE_GLUE_OPS]
            if unsupported:
                raise UserError(
                    f"reference kernels for {', '.join(unsupported)} are not provided (only CMSIS-NN)",
                    "build with --cmsis-nn on",
                )

    def render_workload(self, workload: WorkloadSpec, board: Board, project_dir: Path) -> WorkloadSources:
        assert workload.model_bytes is not None
        name = workload.name
        facts = model_facts(workload.model_bytes, name)
        methods = resolver_methods_for(facts, name)
        sha = workload.model_sha256 or hashlib.sha256(workload.model_bytes).hexdigest()
        options = self.options(workload)
        cmsis_nn = _flag_bool(options.cmsis_nn)
        plan = arena_plan(workload.model_bytes, name, cache_dir=project_dir / ".mcubench")
        directory = tflm_dir(options.tflm_dir)
        input_data = workload.input_bytes if workload.input_bytes is not None else bytes(facts.input_bytes)
        kernels = "CMSIS-NN" if cmsis_nn else "reference"
        version = tflm_version(directory) if directory else tflm_lib_dep().rsplit("#", 1)[-1][:12]
        params = f"model={sha[:16]} kernels={'cmsis_nn' if cmsis_nn else 'reference'} ops={len(methods)} tflm={version}"
        env = template_env()
        context = {
            "tool_version": tool_version(),
            "model_name": name,
            "workload_name": f"tflm:{name}",
            "model_size": len(workload.model_bytes),
            "model_sha256": sha,
            "model_lines": c_byte_lines(workload.model_bytes),
            "input_lines": c_byte_lines(input_data),
            "input_bytes_len": facts.input_bytes,
            "output_bytes_len": facts.output_bytes,
            "op_names": list(facts.op_names),
            "resolver_methods": methods,
            "overrides": kernel_overrides(facts),
            "arena_bytes": plan.bytes,
            "arena_exact": plan.exact_bytes,
            "arena_margin": plan.margin_bytes,
            "arena_margin_rule": plan.margin_rule,
            "arena_source": plan.source,
            "kernels": kernels,
            "board_id": board.id,
            "params": params,
        }
        gen = project_dir / "workload"
        write_if_changed(gen / "model_data.cc", env.get_template("tflm/model_data.cc.j2").render(context))
        write_if_changed(gen / "workload.cc", env.get_template("tflm/workload.cc.j2").render(context))

        # -g1: line tables for addr2line without -g3's macro tables, which double TFLM's compile time.
        flags = ["-DTF_LITE_STATIC_MEMORY", "-g1", f"-I{firmware_dir() / 'runtimes' / 'tflm'}"]
        src_filters = ["+<runtimes/tflm/>"]
        if cmsis_nn:
            src_filters.append("-<runtimes/tflm/reference/>")
        extra_dirs = [gen]
        lib_deps: list[str] = []
        if directory is not None:
            src = check_tflm_dir(directory)
            flags.append(f"-I{src}")
            if board.port != "arduino":
                # The library's headers pick the CMSIS-NN kernel variants under ARDUINO; the
                # bare-metal build defines it too and leaves the Arduino-only files out.
                flags.append("-DARDUINO=100")
            lib = project_dir / "tflm"
            wanted = {}
            for path in tflm_sources(src, methods, cmsis_nn, facts.op_set):
                wanted[wrapper_name(src, path)] = env.get_template("tflm/source.cc.j2").render(
                    relpath=path.relative_to(src).as_posix(), path=str(path)
                )
            lib.mkdir(parents=True, exist_ok=True)
            for stale in lib.iterdir():
                if stale.name not in wanted:
                    stale.unlink()
            for fname, text in wanted.items():
                write_if_changed(lib / fname, text)
            extra_dirs.append(lib)
        else:
            # Arduino board without a checkout: PlatformIO downloads the pinned library and
            # compiles it whole, including its own DebugLog on Serial.
            lib_deps.append(tflm_lib_dep())
            flags.append("-DMCB_TFLM_LIBRARY_DEBUGLOG")
        facts_out = {
            "ops": list(facts.op_names),
            "op_set": list(facts.op_set),
            "resolver_methods": methods,
            "kernel_overrides": {o.op: o.function for o in kernel_overrides(facts)},
            "arena": plan.to_dict(),
            "kernels": kernels,
            "tflm_dir": str(directory) if directory else None,
            "tflm_version": version,
            "model_symbol": "mcb_model_data",
            "arena_symbol": "tensor_arena",
            "input_bytes": facts.input_bytes,
            "output_bytes": facts.output_bytes,
        }
        write_if_changed(project_dir / "tflm-facts.json", json.dumps(facts_out, indent=2) + "\n")
        return WorkloadSources(
            src_filters=src_filters,
            extra_source_dirs=extra_dirs,
            build_flags=flags,
            lib_deps=lib_deps,
            facts=facts_out,
            arena_bytes=plan.bytes,
        )


    def preflight(self, workload: WorkloadSpec, limits: Board) -> None:
        # A TFLM build takes minutes: refuse a model that cannot fit before it.
        if workload.model_bytes is not None:
            preflight_fit(workload.model_bytes, limits, workload.name)

    def flash_split(self, elf: Path, flash_total: int) -> FlashSplit:
        split = flash_split(elf, flash_total)
        return FlashSplit(split["model"], split["tflm"], max(flash_total - split["model"] - split["tflm"], 0))

    def kernels(self, workload: WorkloadSpec) -> str:
        return "cmsis_nn" if _flag_bool(self.options(workload).cmsis_nn) else "reference"


# ----------------------------------------------------------------------------- workloads


def tflm_workload(
    model_bytes: bytes,
    name: str,
    *,
    input_bytes: bytes | None = None,
    cmsis_nn: bool | str = True,
    tflm_dir: str | Path | None = None,
    model_path: Path | None = None,
) -> WorkloadSpec:
    """A WorkloadSpec for the tflm runtime; the input defaults to the bench's fixed test vector."""
    if input_bytes is None:
        _, input_bytes = test_input(model_bytes)
    return WorkloadSpec(
        name=name,
        model_path=model_path,
        model_bytes=model_bytes,
        model_sha256=hashlib.sha256(model_bytes).hexdigest(),
        input_bytes=input_bytes,
        options=TflmOptions.from_cli({"cmsis_nn": cmsis_nn, "tflm_dir": tflm_dir}),
    )


# ----------------------------------------------------------------------------- fit before build

# What a TFLM image costs besides the model and the arena, per port layer (bytes). Arduino:
# measured with the official nordicnrf52 platform (docs/hardware.md, 2026-11-29): digits int8
# (20.4 KiB model, 5,664 B arena) takes 156-165 KB of flash and 68-70 KB of static RAM, so
# about 144 KB of flash (mbed core, USB CDC, TFLM, benchmark core) and 64 KB of RAM (mbed's
# threads and buffers, the port's 16 KiB benchmark stack). Bare metal: the benchmark core plus
# TFLM's interpreter and a few kernels, measured on mps2-an386.
IMAGE_OVERHEAD = {
    "arduino": {"flash": 144 * 1024, "ram": 64 * 1024},
    "default": {"flash": 100 * 1024, "ram": 8 * 1024},
}


@dataclass(frozen=True)
class FitEstimate:
    flash_bytes: int
    ram_bytes: int
    model_bytes: int
    arena_bytes: int
    overhead: dict[str, int]


def estimate_fit(model_bytes: bytes, board: Board, source: str = "model") -> FitEstimate:
    plan = arena_plan(model_bytes, source)
    overhead = IMAGE_OVERHEAD.get(board.port, IMAGE_OVERHEAD["default"])
    return FitEstimate(
        flash_bytes=len(model_bytes) + overhead["flash"],
        ram_bytes=plan.bytes + overhead["ram"],
        model_bytes=len(model_bytes),
        arena_bytes=plan.bytes,
        overhead=dict(overhead),
    )


def preflight_fit(model_bytes: bytes, board: Board, source: str = "model") -> FitEstimate:
    """Refuses, before anything is built, a model whose flash or RAM cannot fit ``board``:
    model bytes + image overhead against flash, arena (exact + margin) + overhead against RAM."""
    est = estimate_fit(model_bytes, board, source)
    problems = []
    if est.flash_bytes > board.flash_bytes:
        problems.append(
            f"flash ≈ {est.flash_bytes:,} B (model {est.model_bytes:,} + runtime/core ≈ {est.overhead['flash']:,}) "
            f"> {board.flash_bytes:,} B"
        )
    if est.ram_bytes > board.ram_bytes:
        problems.append(
            f"RAM ≈ {est.ram_bytes:,} B (arena {est.arena_bytes:,} + static ≈ {est.overhead['ram']:,}) > {board.ram_bytes:,} B"
        )
    if problems:
        raise UserError(
            f"{source} cannot fit {board.id}: " + "; ".join(problems),
            "quantize to int8, prune, or distill to a smaller model (mcubench quantize/prune/distill), or pick a bigger board",
        )
    return est


# ----------------------------------------------------------------------------- flash split


def flash_split(elf: Path, flash_total: int) -> dict[str, int]:
    """The image's flash by owner, from the ELF's symbols: the model array, TFLM (the
    ``tflite`` namespace, CMSIS-NN's ``arm_*`` kernels, flatbuffers) and the rest (benchmark
    core, port, C library, startup). Sizes of symbols in loaded, read-only or initialised
    sections; ``rest`` is what the symbols leave of ``flash_total``."""
    model = tflm = 0
    for sym in flash_symbols(elf):
        if sym.name == "mcb_model_data":
            model += sym.size
        elif re.match(r"_ZN?K?\d*(6tflite|11flatbuffers)|_ZNK6tflite|_ZN\w*6tflite|arm_|Register_", sym.name) or "tflite" in sym.name:
            tflm += sym.size
    return {"model": model, "tflm": tflm, "rest": max(flash_total - model - tflm, 0)}

"""Emit the C sources of one compiled model: weights, parameters, arena, model_run()."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.core.fileio import write_text_atomic
from mcubench.core.templates import template_env
from mcubench.runtimes.aot.fuse import fuse_residual_blocks
from mcubench.runtimes.aot.graph import Graph, read_graph
from mcubench.runtimes.aot.lower import Step, Unsupported, lower_op
from mcubench.runtimes.aot.planner import MemoryPlan, plan_best_order

KERNELS_DIR = Path(__file__).resolve().parents[4] / "firmware" / "kernels"
KERNEL_FILES = ("mcb_kernels.h", "mcb_fixedpoint.h", "mcb_kernels.c", "mcb_sparse.h", "mcb_sparse.c", "mcb_fused.h",
                "mcb_fused.c")
# No microcontroller target has more RAM than this for one activation tensor; a bigger one
# means a damaged shape, refused before the compiler spends memory on it.
MAX_TENSOR_BYTES = 16 * 1024 * 1024


@dataclass
class OpInfo:
    index: int
    opcode: str
    macs: int
    sources: list[int]  # the model's operator indices it runs (several when fused)


@dataclass
class TensorIO:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int
    nbytes: int
    offset: int


@dataclass
class AotProject:
    """What compile_model produced: sources to build and the figures of the plan."""
    out_dir: Path
    sources: list[Path]            # model.c + kernels (host- and target-buildable)
    headers: list[Path]
    workload_source: Path          # implements firmware/core/mcb_workload.h
    arena_bytes: int               # planned activation RAM
    ops: list[OpInfo]
    inputs: list[TensorIO]
    outputs: list[TensorIO]
    weight_bytes: int              # constant data emitted (weights, biases, multipliers)
    model_sha256: str
    dsp: bool
    profile_ops: bool
    plan: MemoryPlan | None = field(default=None, repr=False)

    @property
    def total_macs(self) -> int:
        return sum(o.macs for o in self.ops)

    @property
    def cflags(self) -> list[str]:
        flags = [f"-I{self.out_dir}"]
        if not self.dsp:
            flags.append("-DMCBK_PORTABLE=1")
        if self.profile_ops:
            flags.append("-DMCB_PROFILE_OPS=1")
        return flags


def _fail(op, reason: str) -> UserError:
    return UserError(f"AOT runtime cannot compile operator #{op.index} {op.opcode} (version {op.version}): {reason}",
                     "use --runtime tflm for this model")


def lower_graph(g: Graph) -> list[Step]:
    if g.subgraph_count != 1:
        raise UserError(f"the model has {g.subgraph_count} subgraphs; the AOT runtime compiles one",
                        "use --runtime tflm for this model")
    for t in g.tensors:
        if not t.is_const and t.nbytes > MAX_TENSOR_BYTES:
            raise UserError(f"tensor {t.index} '{t.name}' of shape {list(t.shape)} needs {t.nbytes:,} bytes of RAM, "
                            f"more than the AOT runtime plans for ({MAX_TENSOR_BYTES:,})",
                            "check the model's shapes (the file may be damaged)")
    steps = []
    for op in g.operators:
        try:
            steps.append(lower_op(g, op))
        except Unsupported as e:
            raise _fail(op, str(e)) from None
    for role, ids in (("input", g.inputs), ("output", g.outputs)):
        for t in ids:
            tt = g.tensors[t]
            if tt.dtype not in ("int8", "float32"):
                raise UserError(f"model {role} '{tt.name}' is {tt.dtype}; the AOT runtime takes int8 or float32",
                                "use --runtime tflm for this model")
    return steps


def check_supported(tflite_bytes: bytes) -> Graph:
    """Raise UserError naming the first operator the AOT runtime cannot compile."""
    g = read_graph(tflite_bytes)
    lower_graph(g)
    return g


def _c_ident(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", s)


@dataclass
class _OpCode:
    """One operator in model.c: its parameter definitions and its kernel call."""
    opcode: str
    params: str
    call: str


def compile_model(tflite_bytes: bytes, out_dir, *, dsp: bool = True, profile_ops: bool = False,
                  name: str = "model", keep_inputs: bool = True, test_input: bytes | None = None) -> AotProject:
    """Compile an int8 .tflite model to C in out_dir (model.h, model.c, kernels, workload)."""
    g = read_graph(tflite_bytes)
    steps = fuse_residual_blocks(g, lower_graph(g))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    const_ids = sorted({t for s in steps for t in s.inputs if g.tensors[t].is_const})
    steps, plan = _plan(g, steps, const_ids, keep_inputs)
    arena = _arena_bytes(plan, steps)
    constants = _constants(g, const_ids)
    ops = [_op_code(s, plan, set(const_ids), plan.scratch.get(k), plan.workspace.get(k)) for k, s in enumerate(steps)]
    weight_bytes = sum(c["size"] for c in constants) + sum(_param_bytes(s.params_c) for s in steps)
    ios_in = [_io(g, t, plan) for t in g.inputs]
    ios_out = [_io(g, t, plan) for t in g.outputs]
    if test_input is not None and len(test_input) != ios_in[0].nbytes:
        raise UserError(f"test input has {len(test_input)} bytes, the model's input tensor {ios_in[0].nbytes}",
                        "give an input of the model's input shape and type")
    digest = hashlib.sha256(tflite_bytes).hexdigest()
    context = {
        "digest": digest, "name": _c_ident(name), "arena_bytes": arena, "ops": ops, "constants": constants,
        "total_macs": sum(s.macs for s in steps), "inputs": ios_in, "outputs": ios_out,
        "inputs_table": _io_table(ios_in), "outputs_table": _io_table(ios_out),
        "keep_inputs": keep_inputs, "dsp": dsp, "fused": any(s.workspace for s in steps),
        "test_input": ",".join(str(b) for b in (test_input if test_input is not None else bytes(ios_in[0].nbytes))),
    }
    env = template_env()
    for template, target in (("model.h.j2", "model.h"), ("model.c.j2", "model.c"), ("aot_workload.c.j2", "aot_workload.c")):
        write_text_atomic(out_dir / target, env.get_template(f"aot/{template}").render(context))
    for f in KERNEL_FILES:
        shutil.copyfile(KERNELS_DIR / f, out_dir / f)
    return AotProject(
        out_dir=out_dir,
        sources=[out_dir / "model.c", *(out_dir / f for f in KERNEL_FILES if f.endswith(".c"))],
        headers=[out_dir / "model.h", *(out_dir / f for f in KERNEL_FILES if f.endswith(".h"))],
        workload_source=out_dir / "aot_workload.c",
        arena_bytes=arena,
        ops=[OpInfo(s.op_index, s.opcode, s.macs, s.source_ops or [s.op_index]) for s in steps],
        inputs=ios_in, outputs=ios_out, weight_bytes=weight_bytes,
        model_sha256=digest, dsp=dsp, profile_ops=profile_ops, plan=plan)


def _plan(g: Graph, steps: list[Step], const_ids: list[int], keep_inputs: bool) -> tuple[list[Step], MemoryPlan]:
    """The execution order and the offsets in the arena of every activation tensor (constants
    live in flash)."""
    consts = set(const_ids)
    act_ids = {t for s in steps for t in s.inputs + s.outputs if t not in consts}
    act_ids |= set(g.inputs) | set(g.outputs)
    sizes = {t: g.tensors[t].nbytes for t in act_ids}
    return plan_best_order(steps, sizes, set(g.inputs), set(g.outputs), keep_inputs=keep_inputs)


def _arena_bytes(plan: MemoryPlan, steps: list[Step]) -> int:
    """The arena: the planned tensors, workspaces and kernel scratch, and a few bytes of slack
    for the word reads past an input whose rows are not a multiple of 4 bytes (their weights
    are zero)."""
    slack = 4 if any(s.overread for s in steps) else 0
    return max((plan.arena_bytes + 3) // 4 * 4 + slack, 4)


def _constants(g: Graph, const_ids: list[int]) -> list[dict]:
    """The constant tensors the kernels read directly (int8 only; the rest is in parameters)."""
    constants = []
    for t in const_ids:
        tt = g.tensors[t]
        if tt.dtype != "int8":
            raise _fail(next(op for op in g.operators if t in op.inputs), f"constant input '{tt.name}' is {tt.dtype}")
        constants.append({"index": t, "size": tt.size, "values": ",".join(str(int(v)) for v in tt.data.ravel())})
    return constants


def _param_bytes(params_c: str) -> int:
    """Flash taken by one operator's parameter arrays (requantization entries are 16 bytes)."""
    arrays = sum(int(m.group(2)) * int(m.group(1)) for m in
                 re.finditer(r"static const u?int(\d+)_t \w+\[(\d+)\]", params_c)) // 8
    return arrays + 16 * sum(int(m.group(1)) for m in re.finditer(r"static const mcbk_rq_t \w+\[(\d+)\]", params_c))


def _op_code(s: Step, plan: MemoryPlan, const_ids: set[int], scratch: int | None, workspace: int | None) -> _OpCode:
    """The step's kernel call with tensor pointers in place of its {T<id>}, {S} and {W} placeholders."""
    def ptr(t: int) -> str:
        if t in const_ids:
            return f"((int8_t *)c{t})"
        return f"((int8_t *)(mcb_arena + {plan.offsets[t]}))"

    if s.alias and plan.offsets[s.inputs[0]] == plan.offsets[s.outputs[0]]:
        call = f"/* {s.opcode}: view of its input, no work */"
    else:
        call = re.sub(r"\{T(\d+)\}", lambda m: ptr(int(m.group(1))), s.call_c)
        # a step that declares no scratch gets a null pointer: its kernel must not use any
        call = call.replace("{S}", f"((int8_t *)(mcb_arena + {scratch}))" if scratch is not None else "((int8_t *)0)")
        if workspace is not None:
            call = call.replace("{W}", f"((int8_t *)(mcb_arena + {workspace}))")
    return _OpCode(s.opcode, s.params_c, call)


def _io_table(ios: list[TensorIO]) -> str:
    return ", ".join(f"{{{io.offset}, {io.nbytes}}}" for io in ios)


def _io(g: Graph, t: int, plan: MemoryPlan) -> TensorIO:
    tt = g.tensors[t]
    return TensorIO(t, tt.name, tuple(tt.shape), tt.dtype, tt.scale, tt.zero_point, tt.nbytes, plan.offsets[t])

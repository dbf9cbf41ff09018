"""Emit the C sources of one compiled model: weights, parameters, arena, model_run()."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mcubench.errors import UserError
from mcubench.fileio import write_text_atomic
from mcubench.runtimes.aot.graph import Graph, read_graph
from mcubench.runtimes.aot.lower import Step, Unsupported, lower_op
from mcubench.runtimes.aot.planner import MemoryPlan, plan_memory

KERNELS_DIR = Path(__file__).resolve().parents[4] / "firmware" / "kernels"
KERNEL_FILES = ("mcb_kernels.h", "mcb_kernels.c")
# No microcontroller target has more RAM than this for one activation tensor; a bigger one
# means a damaged shape, refused before the compiler spends memory on it.
MAX_TENSOR_BYTES = 16 * 1024 * 1024


@dataclass
class OpInfo:
    index: int
    opcode: str
    macs: int


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


def compile_model(tflite_bytes: bytes, out_dir, *, dsp: bool = True, profile_ops: bool = False,
                  name: str = "model", keep_inputs: bool = True, test_input: bytes | None = None) -> AotProject:
    """Compile an int8 .tflite model to C in out_dir (model.h, model.c, kernels, workload)."""
    g = read_graph(tflite_bytes)
    steps = lower_graph(g)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    const_ids = {t for s in steps for t in s.inputs if g.tensors[t].is_const}
    act_ids = {t for s in steps for t in s.inputs + s.outputs if not g.tensors[t].is_const}
    act_ids |= set(g.inputs) | set(g.outputs)
    sizes = {t: g.tensors[t].nbytes for t in act_ids}
    plan = plan_memory(steps, sizes, set(g.inputs), set(g.outputs), keep_inputs=keep_inputs)

    defs: list[str] = []
    weight_bytes = 0
    for t in sorted(const_ids):
        tt = g.tensors[t]
        if tt.dtype != "int8":
            raise _fail(next(op for op in g.operators if t in op.inputs), f"constant input '{tt.name}' is {tt.dtype}")
        vals = ",".join(str(int(v)) for v in tt.data.ravel())
        defs.append(f"static const int8_t c{t}[{tt.size}] __attribute__((aligned(4))) = {{{vals}}};\n")
        weight_bytes += tt.size

    def ptr(t: int) -> str:
        if t in const_ids:
            return f"((int8_t *)c{t})"
        return f"((int8_t *)(mcb_arena + {plan.offsets[t]}))"

    # Working memory of the kernels (border windows of convolutions) follows the planned
    # tensors; a few bytes of slack cover the word reads past an input whose rows are not a
    # multiple of 4 bytes (their weights are zero).
    scratch_offset = (plan.arena_bytes + 3) // 4 * 4
    scratch_bytes = max((s.scratch_bytes for s in steps), default=0)
    slack = 4 if any(s.overread for s in steps) else 0
    arena_total = scratch_offset + scratch_bytes + slack

    body = []
    for k, s in enumerate(steps):
        defs.append(s.params_c)
        weight_bytes += sum(int(m.group(2)) * int(m.group(1)) for m in
                            re.finditer(r"static const u?int(\d+)_t \w+\[(\d+)\]", s.params_c)) // 8
        weight_bytes += 16 * sum(int(m.group(1)) for m in re.finditer(r"static const mcbk_rq_t \w+\[(\d+)\]", s.params_c))
        if s.alias and plan.offsets[s.inputs[0]] == plan.offsets[s.outputs[0]]:
            call = f"/* {s.opcode}: view of its input, no work */"
        else:
            call = re.sub(r"\{T(\d+)\}", lambda m: ptr(int(m.group(1))), s.call_c)
            call = call.replace("{S}", f"((int8_t *)(mcb_arena + {scratch_offset}))")
        body.append(f"    MCB_OP_REGION_BEGIN({k});\n    {call}\n    MCB_OP_REGION_END({k});\n    MCB_OP_END({k});\n")

    names = ", ".join(f'"{s.opcode}"' for s in steps)
    ios_in = [_io(g, t, plan) for t in g.inputs]
    ios_out = [_io(g, t, plan) for t in g.outputs]
    arena = max(arena_total, 4)
    digest = hashlib.sha256(tflite_bytes).hexdigest()

    header = f"""/* Generated by mcubench AOT from a model with sha256 {digest[:16]}. Do not edit. */
#ifndef MCB_AOT_MODEL_H
#define MCB_AOT_MODEL_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {{
#endif
#define MODEL_ARENA_BYTES {arena}
#define MODEL_OP_COUNT {len(steps)}
#define MODEL_INPUT_COUNT {len(ios_in)}
#define MODEL_OUTPUT_COUNT {len(ios_out)}
#define MODEL_INPUT_BYTES {ios_in[0].nbytes}
#define MODEL_OUTPUT_BYTES {ios_out[0].nbytes}
#define MODEL_NAME "{_c_ident(name)}"
/* Runs all operators on the tensors in the arena. */
void model_run(void);
/* Copies input 0 in, runs, copies output 0 out. Returns 0. */
int model_invoke(const void *input, void *output);
uint8_t *model_input(int index, size_t *len);
const uint8_t *model_output(int index, size_t *len);
const char *model_op_name(int index);
uint64_t model_op_ticks(int index);
size_t model_arena_bytes(void);
#ifdef __cplusplus
}}
#endif
#endif
"""
    in_tab = ", ".join(f"{{{io.offset}, {io.nbytes}}}" for io in ios_in)
    out_tab = ", ".join(f"{{{io.offset}, {io.nbytes}}}" for io in ios_out)
    source = f"""/* Generated by mcubench AOT from a model with sha256 {digest[:16]}. Do not edit.
 * {len(steps)} operators, {sum(s.macs for s in steps)} MACs, arena {arena} bytes. */
#include "model.h"
#include "mcb_kernels.h"
#include <string.h>

static uint8_t mcb_arena[{arena}] __attribute__((aligned(16)));
static const char *const op_names[{max(len(steps), 1)}] = {{{names}}};

#if defined(MCB_PROFILE_OPS) && MCB_PROFILE_OPS
uint64_t mcb_ticks(void);
static uint64_t op_ticks[{max(len(steps), 1)}];
#define MCB_OP_BEGIN() uint64_t t_prev_ = mcb_ticks()
#define MCB_OP_END(i) do {{ uint64_t t_now_ = mcb_ticks(); op_ticks[i] = t_now_ - t_prev_; t_prev_ = t_now_; }} while (0)
/* Operator i is region 0x100 + i for the cycle-estimate plugin (no cost on a board). */
#include "mcb_region.h"
#define MCB_OP_REGION_BEGIN(i) mcb_region_begin(MCB_REGION_OP_BASE + (i))
#define MCB_OP_REGION_END(i) mcb_region_end(MCB_REGION_OP_BASE + (i))
#else
#define MCB_OP_BEGIN() do {{ }} while (0)
#define MCB_OP_END(i) do {{ }} while (0)
#define MCB_OP_REGION_BEGIN(i) do {{ }} while (0)
#define MCB_OP_REGION_END(i) do {{ }} while (0)
#endif

{''.join(defs)}
void model_run(void) {{
    MCB_OP_BEGIN();
{''.join(body)}}}

static const struct {{ uint32_t offset, bytes; }} inputs_[] = {{{in_tab}}}, outputs_[] = {{{out_tab}}};

uint8_t *model_input(int index, size_t *len) {{
    if (index < 0 || index >= {len(ios_in)}) return NULL;
    if (len) *len = inputs_[index].bytes;
    return mcb_arena + inputs_[index].offset;
}}

const uint8_t *model_output(int index, size_t *len) {{
    if (index < 0 || index >= {len(ios_out)}) return NULL;
    if (len) *len = outputs_[index].bytes;
    return mcb_arena + outputs_[index].offset;
}}

int model_invoke(const void *input, void *output) {{
    memcpy(mcb_arena + inputs_[0].offset, input, inputs_[0].bytes);
    model_run();
    memcpy(output, mcb_arena + outputs_[0].offset, outputs_[0].bytes);
    return 0;
}}

const char *model_op_name(int index) {{
    return (index >= 0 && index < {len(steps)}) ? op_names[index] : "";
}}

uint64_t model_op_ticks(int index) {{
#if defined(MCB_PROFILE_OPS) && MCB_PROFILE_OPS
    if (index >= 0 && index < {len(steps)}) return op_ticks[index];
#endif
    (void)index;
    return 0;
}}

size_t model_arena_bytes(void) {{ return sizeof(mcb_arena); }}
"""
    if test_input is not None and len(test_input) != ios_in[0].nbytes:
        raise UserError(f"test input has {len(test_input)} bytes, the model's input tensor {ios_in[0].nbytes}",
                        "give an input of the model's input shape and type")
    baked = ",".join(str(b) for b in (test_input if test_input is not None else bytes(ios_in[0].nbytes)))
    if keep_inputs:
        input_part = f"""/* The fixed test input, copied into the arena's input tensor once; the planner keeps that
 * tensor intact across runs, and the host may overwrite it with the `input` command. */
static const uint8_t test_input[MODEL_INPUT_BYTES] = {{{baked}}};

static int aot_setup(void) {{
    size_t len = 0;
    uint8_t *in = model_input(0, &len);
    if (!in || len != sizeof(test_input)) return 1;
    memcpy(in, test_input, len);
    return 0;
}}
static int aot_run(void) {{ model_run(); return 0; }}
static uint8_t *aot_input(size_t *len) {{ return model_input(0, len); }}"""
    else:
        input_part = f"""/* The input the timed runs use: the host's fixed test vector, overwritable with the `input`
 * command. Kept outside the arena because the plan lets later tensors reuse the input
 * tensor's memory; each run copies it in first (part of the timed body, as for TFLM). */
static uint8_t input_stage[MODEL_INPUT_BYTES] __attribute__((aligned(4))) = {{{baked}}};

static int aot_setup(void) {{
    size_t len = 0;
    return (model_input(0, &len) && len == sizeof(input_stage)) ? 0 : 1;
}}
static int aot_run(void) {{
    memcpy(model_input(0, NULL), input_stage, sizeof(input_stage));
    model_run();
    return 0;
}}
static uint8_t *aot_input(size_t *len) {{
    if (len) *len = sizeof(input_stage);
    return input_stage;
}}"""
    workload = f"""/* Generated by mcubench AOT: the benchmark core's view of the compiled model. */
#include <string.h>
#include "mcb_workload.h"
#include "mcb_kernels.h"
#include "model.h"

{input_part}
static const uint8_t *aot_output(size_t *len) {{ return model_output(0, len); }}
static int aot_op_count(void) {{
#if defined(MCB_PROFILE_OPS) && MCB_PROFILE_OPS
    return MODEL_OP_COUNT;
#else
    return 0;
#endif
}}
static size_t aot_arena(void) {{ return model_arena_bytes(); }}

const mcb_workload_t mcb_workload = {{
    "aot:" MODEL_NAME, "aot", aot_setup, aot_run, aot_input, aot_output,
    aot_op_count, model_op_name, model_op_ticks, aot_arena, aot_arena,
    "kernels={'dsp' if dsp else 'portable'} macs={sum(s.macs for s in steps)}",
}};
"""
    write_text_atomic(out_dir / "model.h", header)
    write_text_atomic(out_dir / "model.c", source)
    write_text_atomic(out_dir / "aot_workload.c", workload)
    for f in KERNEL_FILES:
        shutil.copyfile(KERNELS_DIR / f, out_dir / f)
    return AotProject(
        out_dir=out_dir,
        sources=[out_dir / "model.c", out_dir / "mcb_kernels.c"],
        headers=[out_dir / "model.h", out_dir / "mcb_kernels.h"],
        workload_source=out_dir / "aot_workload.c",
        arena_bytes=arena,
        ops=[OpInfo(s.op_index, s.opcode, s.macs) for s in steps],
        inputs=ios_in, outputs=ios_out, weight_bytes=weight_bytes,
        model_sha256=digest, dsp=dsp, profile_ops=profile_ops, plan=plan)


def _io(g: Graph, t: int, plan: MemoryPlan) -> TensorIO:
    tt = g.tensors[t]
    return TensorIO(t, tt.name, tuple(tt.shape), tt.dtype, tt.scale, tt.zero_point, tt.nbytes, plan.offsets[t])

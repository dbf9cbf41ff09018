"""The AOT compiler as a `Runtime`: the generated C is the workload of the benchmark core."""

from __future__ import annotations

import json
from pathlib import Path

from mcubench.boards import Board
from mcubench.errors import UserError
from mcubench.runtimes.base import Runtime, WorkloadSources, WorkloadSpec

DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85")


def board_has_dsp(board: Board) -> bool:
    return any(c in (board.core or "").lower() for c in DSP_CORES)


class AotRuntime(Runtime):
    name = "aot"

    def check(self, workload: WorkloadSpec, board: Board) -> None:
        from mcubench.runtimes.aot import check_supported

        if workload.model_bytes is None:
            raise UserError("the aot runtime needs a model",
                            "give a .tflite file, e.g. mcubench bench model.tflite --runtime aot")
        check_supported(workload.model_bytes)

    def render_workload(self, workload: WorkloadSpec, board: Board, project_dir: Path) -> WorkloadSources:
        from mcubench.runtimes.aot import compile_model

        assert workload.model_bytes is not None
        dsp = bool(workload.extra.get("dsp", board_has_dsp(board)))
        gen = project_dir / "workload"
        # keep_inputs=False: later tensors may reuse the input's memory (as in TFLM's arena);
        # the workload keeps the test input outside the arena and copies it in every run.
        project = compile_model(workload.model_bytes, gen, dsp=dsp, profile_ops=True, keep_inputs=False,
                                name=workload.name, test_input=workload.input_bytes)
        facts = {
            "ops": [o.opcode for o in project.ops],
            "macs": project.total_macs,
            "op_macs": [o.macs for o in project.ops],
            "arena_bytes": project.arena_bytes,
            "weight_bytes": project.weight_bytes,
            "kernels": "dsp" if dsp else "portable",
            "input_bytes": project.inputs[0].nbytes,
            "output_bytes": project.outputs[0].nbytes,
            "arena_symbol": "mcb_arena",
        }
        (project_dir / "aot-facts.json").write_text(json.dumps(facts, indent=2) + "\n")
        flags = [f"-I{gen}", "-DMCB_PROFILE_OPS=1"] + ([] if dsp else ["-DMCBK_PORTABLE=1"])
        return WorkloadSources(extra_source_dirs=[gen], build_flags=flags, facts=facts, arena_bytes=project.arena_bytes)

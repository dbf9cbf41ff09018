"""The AOT compiler as a `Runtime`: the generated C is the workload of the benchmark core."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcubench.core.boards import Board
from mcubench.core.elf import flash_symbols
from mcubench.core.errors import UserError
from mcubench.core.types import RuntimeOptions, WorkloadSpec
from mcubench.runtimes.aot.codegen import KERNEL_FILES, check_supported, compile_model
from mcubench.runtimes.base import FlashSplit, Runtime, WorkloadSources

DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85")


def board_has_dsp(board: Board) -> bool:
    return any(c in (board.core or "").lower() for c in DSP_CORES)


@dataclass(frozen=True)
class AotOptions(RuntimeOptions):
    dsp: bool | None = None  # Cortex-M DSP kernels; None: when the board's core has them
    # Code placement for boards that run code from flash with wait states: the nRF52840 ports
    # enable the NVMC instruction cache at start-up (the result's `device.icache` says "on").
    icache: bool = field(default=False, metadata={
        "help": "aot: enable the nRF52840 instruction cache at start-up (code runs from flash; "
                "compare estimates with --estimate nano33ble-icache)", "choices": ("on", "off")})

    @classmethod
    def from_cli(cls, values: dict[str, Any]) -> "AotOptions":
        value = values.get("icache")
        return cls(icache=str(value).strip().lower() in ("on", "1", "true", "yes") if value is not None else False)


def flash_parts(elf: Path) -> dict[str, int]:
    """Flash bytes of the AOT parts of an image, from the ELF symbol table.

    Local symbols follow the STT_FILE symbol of their source file; globals are told apart by
    prefix (``mcbk_`` kernels, ``model_`` generated code). Weights = objects of model.c."""
    weights = model_code = kernels = 0
    for sym in flash_symbols(elf):
        if sym.source_file == "model.c" or (not sym.source_file and sym.name.startswith("model_")):
            if sym.kind == "STT_OBJECT":
                weights += sym.size
            else:
                model_code += sym.size
        elif sym.source_file in KERNEL_FILES or (not sym.source_file and sym.name.startswith("mcbk_")):
            kernels += sym.size
    return {"weights": weights, "model_code": model_code, "kernels": kernels}


class AotRuntime(Runtime):
    name = "aot"
    options_type = AotOptions

    def check(self, workload: WorkloadSpec, board: Board) -> None:
        if workload.model_bytes is None:
            raise UserError("the aot runtime needs a model",
                            "give a .tflite file, e.g. mcubench bench model.tflite --runtime aot")
        check_supported(workload.model_bytes)

    def model_support(self, model_bytes: bytes) -> str | None:
        try:
            check_supported(model_bytes)
        except UserError as err:
            return err.message
        return None

    def render_workload(self, workload: WorkloadSpec, board: Board, project_dir: Path) -> WorkloadSources:
        assert workload.model_bytes is not None
        options = self.options(workload)
        dsp = board_has_dsp(board) if options.dsp is None else bool(options.dsp)
        gen = project_dir / "workload"
        # keep_inputs=False: later tensors may reuse the input's memory (as in TFLM's arena);
        # the workload keeps the test input outside the arena and copies it in every run.
        project = compile_model(workload.model_bytes, gen, dsp=dsp, profile_ops=True, keep_inputs=False,
                                name=workload.name, test_input=workload.input_bytes)
        facts = {
            "ops": [o.opcode for o in project.ops],
            "macs": project.total_macs,
            "op_macs": [o.macs for o in project.ops],
            "op_sources": [o.sources for o in project.ops],
            "arena_bytes": project.arena_bytes,
            "weight_bytes": project.weight_bytes,
            "kernels": "dsp" if dsp else "portable",
            "input_bytes": project.inputs[0].nbytes,
            "output_bytes": project.outputs[0].nbytes,
            "arena_symbol": "mcb_arena",
            "icache_enable": bool(options.icache),
        }
        (project_dir / "aot-facts.json").write_text(json.dumps(facts, indent=2) + "\n")
        flags = [f"-I{gen}", "-DMCB_PROFILE_OPS=1"] + ([] if dsp else ["-DMCBK_PORTABLE=1"])
        flags += ["-DMCB_ICACHE_ENABLE=1"] if options.icache else []
        return WorkloadSources(extra_source_dirs=[gen], build_flags=flags, facts=facts, arena_bytes=project.arena_bytes)

    def flash_split(self, elf: Path, flash_total: int) -> FlashSplit:
        parts = flash_parts(elf)
        model, runtime = parts["weights"], parts["model_code"] + parts["kernels"]
        return FlashSplit(model, runtime, max(flash_total - model - runtime, 0))

"""Ahead-of-time runtime: compile an int8 .tflite model to plain C (no interpreter).

Public API:
    compile_model(tflite_bytes, out_dir, *, dsp, profile_ops) -> AotProject
    check_supported(tflite_bytes)  # raises mcubench.core.errors.UserError
"""

from mcubench.runtimes.aot.codegen import AotProject, OpInfo, TensorIO, check_supported, compile_model

__all__ = ["AotProject", "OpInfo", "TensorIO", "check_supported", "compile_model"]

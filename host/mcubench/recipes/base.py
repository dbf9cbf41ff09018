"""The recipe interface: :class:`Recipe` (checks, then ``do_apply``) and the :class:`Variant` it makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mcubench.core.errors import UserError
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel, as_source


@dataclass
class Variant:
    """One deployable candidate: the ``.tflite`` bytes and what the recipe measured on the host.

    ``metrics`` holds recipe-side host figures (Keras metric before conversion, per-layer
    sparsity, teacher/student parameters...). The interpreter-side figures come from
    :func:`mcubench.models.analysis.analyze`. ``keras_model`` is the trained Keras model when
    the recipe made one (QAT/pruned/student), for chaining; it is not serialised.
    """

    name: str
    recipe: str
    tflite_bytes: bytes
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    keras_model: Any = field(default=None, repr=False)
    source_model: Any = field(default=None, repr=False)  # a changed SourceModel (pruned PyTorch), for host evaluation

    def to_dict(self) -> dict:
        return {"name": self.name, "recipe": self.recipe, "params": self.params, "metrics": self.metrics,
                "notes": self.notes, "path": str(self.path) if self.path else None, "size_bytes": len(self.tflite_bytes)}


class Recipe:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict] = {}
    needs_keras: ClassVar[bool] = True  # False: also works on SavedModel/.tflite inputs
    needs_representative: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False  # trains: needs y_train
    needs_torch: ClassVar[bool] = False  # trains a PyTorch module (torch_prune_*)

    def merged_params(self, params: dict | None) -> dict:
        merged = dict(self.defaults)
        for key, value in (params or {}).items():
            if key not in self.defaults:
                raise UserError(
                    f"recipe {self.name}: unknown parameter {key!r}",
                    f"parameters of {self.name}: {', '.join(self.defaults) or 'none'}",
                )
            merged[key] = type(self.defaults[key])(value) if self.defaults[key] is not None and value is not None else value
        return merged

    def check_source(self, source: SourceModel) -> None:
        """Refuse (UserError) a source this recipe cannot start from; run before any work (also
        by :func:`mcubench.recipes.variants.run_variants` for every recipe before the first)."""
        if self.needs_keras and source.keras_model is None:
            hint = {"torch": "PyTorch models take float32, int8 and the torch_prune_* recipes",
                    "onnx": "ONNX models take the post-training recipes (float32, int8, int16x8, float16, dynamic)"}.get(
                        source.kind, "give the .keras/.h5 model; a .tflite can only be analyzed")
            raise UserError(f"recipe {self.name} needs a Keras model, got a {source.kind} ({source.path or source.name})", hint)
        if self.needs_torch and source.torch_module is None:
            raise UserError(f"recipe {self.name} prunes a PyTorch model, got a {source.kind} ({source.path or source.name})",
                            "give package.module:function or --example NAME --framework torch")

    def apply(self, model: Any, dataset: Dataset | None, params: dict | None = None) -> Variant:
        source = as_source(model)
        merged = self.merged_params(params)
        self.check_source(source)
        if dataset is not None and (source.keras_model is not None or source.channels_first):
            shape = source.input_shape
            if all(d is not None for d in shape[1:]):  # an ONNX input may leave dimensions open
                dataset.check_input_shape(shape, what=f"model {source.name}")
        if self.needs_representative:
            if dataset is None:
                raise UserError(
                    f"recipe {self.name} needs a representative dataset for calibration",
                    "pass --data data.npz (or --example); integer quantization without one would silently give a hybrid model",
                )
            dataset.representative()  # raises on an empty set
        if self.needs_labels and (dataset is None or dataset.y_train is None or len(dataset.x_train) == 0):
            raise UserError(f"recipe {self.name} trains the model and needs labelled training data", "pass --data with x_train and y_train")
        return self.do_apply(source, dataset, merged)

    def do_apply(self, source: SourceModel, dataset: Dataset | None, params: dict) -> Variant:
        raise NotImplementedError

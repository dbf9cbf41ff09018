"""Quantization-aware training (tensorflow-model-optimization, tf-keras), then int8 conversion."""

from __future__ import annotations

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel
from mcubench.models.tfkeras_bridge import to_tf_keras
from mcubench.recipes.base import Recipe, Variant
from mcubench.recipes.ptq import convert
from mcubench.recipes.training import compile_like, fit_quietly, keras_metric


class QatInt8(Recipe):
    name = "qat_int8"
    description = "quantization-aware fine-tuning (tfmot), then full-integer int8"
    needs_representative = True
    needs_labels = True
    defaults = {"epochs": 3, "learning_rate": 5e-4, "batch_size": 32, "calibration_samples": 200}

    def do_apply(self, source: SourceModel, dataset: Dataset, params: dict) -> Variant:
        mot = tfmod.tfmot()
        base = to_tf_keras(source.keras_model)
        try:
            qat_model = mot.quantization.keras.quantize_model(base)
        except (ValueError, RuntimeError) as err:

            raise UserError(f"QAT cannot wrap model {base.name}: {str(err).splitlines()[0][:300]}", "use layers tfmot supports (Conv2D, DepthwiseConv2D, Dense, pooling, BatchNorm after conv)") from None
        compile_like(qat_model, dataset.task, params["learning_rate"])
        fit_quietly(qat_model, dataset, params["epochs"], params["batch_size"])
        data = convert(qat_model, "int8", dataset.representative(params["calibration_samples"]))
        return Variant(
            name=self.name, recipe=self.name, tflite_bytes=data, params=params,
            metrics={"keras_qat_metric": keras_metric(qat_model, dataset)}, keras_model=qat_model,
        )

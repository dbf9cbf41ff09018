"""Knowledge distillation: train a narrower student from the teacher with soft targets.

The student is the teacher's architecture with every hidden Conv2D/Dense layer ``width``
times as wide (the output layer keeps its size), trained from scratch (Keras 3) on
``alpha * hard_loss + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T))``
(classification; logits are taken as log-probabilities when the model ends in softmax).
For regression the soft term is the MSE to the teacher's outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mcubench.core.errors import UserError
from mcubench.models import tf as tfmod
from mcubench.models.data import Dataset
from mcubench.models.load import SourceModel
from mcubench.recipes.base import Recipe, Variant
from mcubench.recipes.ptq import convert
from mcubench.recipes.training import keras_metric

SCALED_KEYS = {"Conv2D": "filters", "Dense": "units", "SeparableConv2D": "filters", "Conv1D": "filters"}


def build_student(teacher: Any, width: float) -> Any:
    """A fresh Keras 3 model like ``teacher`` but with hidden layers ``width`` times as wide."""
    keras = tfmod.keras3()
    if tfmod.is_tf_keras_model(teacher):
        raise UserError("distill needs a Keras 3 teacher", "save the teacher with Keras 3 (.keras)")
    config = teacher.get_config()
    layers = config.get("layers", [])
    scalable = [i for i, layer in enumerate(layers) if layer["class_name"] in SCALED_KEYS]
    if not scalable:
        raise UserError(f"teacher {teacher.name} has no Conv/Dense layers to narrow", "give a student model instead")
    for i in scalable[:-1]:  # the last one is the output layer: keep the number of classes
        key = SCALED_KEYS[layers[i]["class_name"]]
        layers[i]["config"][key] = max(1, int(round(layers[i]["config"][key] * width)))
    for layer in layers:  # recorded input shapes are the teacher's: let Keras infer the new ones
        layer.pop("build_config", None)
    config["name"] = f"{teacher.name}_student"
    cls = type(teacher)
    try:
        return cls.from_config(config)
    except Exception as err:
        raise UserError(f"cannot build a student from {teacher.name}: {str(err).splitlines()[0][:300]}", "use a Sequential or functional Keras 3 teacher") from None


class Distill(Recipe):
    name = "distill"
    description = "train a narrower student from the teacher (soft targets), then convert"
    needs_labels = True
    defaults = {"width": 0.5, "temperature": 4.0, "alpha": 0.1, "epochs": 20, "learning_rate": 3e-3,
                "batch_size": 32, "seed": 0, "quantize": "float32", "calibration_samples": 200}

    def do_apply(self, source: SourceModel, dataset: Dataset, params: dict) -> Variant:
        if not 0.0 < params["width"] <= 1.0:
            raise UserError(f"recipe distill: width {params['width']} is outside (0, 1]", "e.g. width=0.5 halves every hidden layer")
        if not 0.0 <= params["alpha"] <= 1.0 or params["temperature"] <= 0:
            raise UserError("recipe distill: alpha must be in [0, 1] and temperature > 0", "e.g. alpha=0.1 temperature=4")
        if params["quantize"] not in ("float32", "int8"):
            raise UserError(f"recipe distill: quantize={params['quantize']!r}", "use quantize=float32 or quantize=int8")
        tf = tfmod.tensorflow()
        keras = tfmod.keras3()
        tfmod.set_seed(int(params["seed"]))
        teacher = source.keras_model
        student = build_student(teacher, params["width"])
        x = np.asarray(dataset.x_train, dtype=np.float32)
        teacher_out = np.asarray(teacher.predict(x, verbose=0, batch_size=256), dtype=np.float32)
        classification = dataset.task == "classification"
        y = np.asarray(dataset.y_train, dtype=np.int64 if classification else np.float32)
        temperature, alpha = float(params["temperature"]), float(params["alpha"])
        optimizer = keras.optimizers.Adam(params["learning_rate"])
        ends_in_softmax = classification and np.allclose(teacher_out.sum(axis=1), 1.0, atol=1e-3)

        def logits(out):
            return tf.math.log(tf.clip_by_value(out, 1e-7, 1.0)) if ends_in_softmax else out

        @tf.function
        def train_step(xb, yb, tb):
            with tf.GradientTape() as tape:
                sb = student(xb, training=True)
                if classification:
                    hard = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(yb, sb, from_logits=not ends_in_softmax))
                    soft_t = tf.nn.softmax(logits(tb) / temperature)
                    log_soft_s = tf.nn.log_softmax(logits(sb) / temperature)
                    kl = tf.reduce_mean(tf.reduce_sum(soft_t * (tf.math.log(tf.clip_by_value(soft_t, 1e-7, 1.0)) - log_soft_s), axis=1))
                    loss = alpha * hard + (1 - alpha) * temperature**2 * kl
                else:
                    hard = tf.reduce_mean(tf.square(tf.reshape(sb, tf.shape(yb)) - yb))
                    soft = tf.reduce_mean(tf.square(sb - tb))
                    loss = alpha * hard + (1 - alpha) * soft
            grads = tape.gradient(loss, student.trainable_variables)
            optimizer.apply_gradients(zip(grads, student.trainable_variables))
            return loss

        rng = np.random.default_rng(int(params["seed"]))
        batch = int(params["batch_size"])
        for _ in range(int(params["epochs"])):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch):
                idx = order[start : start + batch]
                train_step(x[idx], y[idx], teacher_out[idx])
        rep = dataset.representative(params["calibration_samples"]) if params["quantize"] == "int8" else None
        data = convert(student, params["quantize"], rep)
        name = "distill_student" + ("_int8" if params["quantize"] == "int8" else "")
        return Variant(
            name=name, recipe=self.name, tflite_bytes=data, params=params,
            metrics={
                "teacher_params": int(teacher.count_params()), "student_params": int(student.count_params()),
                "teacher_metric": keras_metric(teacher, dataset), "student_metric": keras_metric(student, dataset),
            },
            keras_model=student,
        )

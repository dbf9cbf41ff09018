"""Small shared training helpers for the recipes that train (QAT, pruning, distillation)."""

from __future__ import annotations

from typing import Any

from mcubench.models import evaluate
from mcubench.models import tf as tfmod
from mcubench.models.data import Dataset


def compile_like(model: Any, task: str, learning_rate: float) -> None:
    """Compile for the task with the optimizer module of the model's own Keras flavour."""
    keras = __import__(type(model).__module__.split(".")[0])
    opt = keras.optimizers.Adam(learning_rate)
    if task == "classification":
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        model.compile(optimizer=opt, loss="mse", metrics=["mae"])


def fit_quietly(model: Any, dataset: Dataset, epochs: int, batch_size: int, callbacks: list | None = None, seed: int = 0) -> None:
    """Trains reproducibly: the same model, data and seed give the same weights in any process
    (a sweep worker has run other jobs before, which moved the global random state)."""
    if epochs <= 0:
        return
    tfmod.set_seed(seed)
    model.fit(dataset.x_train, dataset.y_train, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks or [], shuffle=True)


def keras_metric(model: Any, dataset: Dataset) -> dict | None:
    if not dataset.has_labels:
        return None
    return evaluate.score(dataset.task, dataset.y_test, evaluate.keras_predict(model, dataset.x_test)).to_dict()

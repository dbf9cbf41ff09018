"""The one place that imports TensorFlow, Keras 3, tf-keras and the optimization toolkit.

``TF_USE_LEGACY_KERAS=1`` is set by ``mcubench.models`` (this package's ``__init__``) before
anything here runs, so ``tf.keras`` is tf-keras (what ``tensorflow-model-optimization``
needs) while ``import keras`` remains Keras 3. Imports are lazy: ``mcubench analyze`` on a
``.tflite`` file never pays for TensorFlow.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from types import ModuleType

from mcubench.core.errors import UserError

os.environ["TF_USE_LEGACY_KERAS"] = "1"


def tensorflow() -> ModuleType:
    """Import TensorFlow quietly and check tf.keras is tf-keras (import order was right)."""
    already = "tensorflow" in sys.modules
    warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
    warnings.filterwarnings("ignore", message=r".*Statistics for quantized inputs.*")
    with third_party_output():  # absl's start-up lines (oneDNN, CUDA probing)
        import tensorflow as tf

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if already and not tf.keras.__name__.startswith("tf_keras"):
        raise UserError(
            "TensorFlow was imported before mcubench.models, so tf.keras is Keras 3 and "
            "tensorflow-model-optimization cannot work",
            "import mcubench.models (or set TF_USE_LEGACY_KERAS=1) before importing tensorflow",
        )
    return tf


def keras3() -> ModuleType:
    """Keras 3, the user's and the examples' Keras."""
    tensorflow()
    import keras

    return keras


def tf_keras() -> ModuleType:
    tensorflow()
    import tf_keras as tfk

    return tfk


def tfmot() -> ModuleType:
    tf_keras()
    import tensorflow_model_optimization as mot

    return mot


def is_tf_keras_model(model: object) -> bool:
    return type(model).__module__.startswith("tf_keras") or any(
        c.__module__.startswith("tf_keras") for c in type(model).__mro__
    )


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (both Keras flavours use TF's RNG), and make TensorFlow's
    ops deterministic, so a seeded training gives the same bytes on every run."""
    keras3().utils.set_random_seed(seed)
    tensorflow().config.experimental.enable_op_determinism()


def stable_input_name(tensor: object, index: int) -> str:
    """An input's own name, or `input_<i>` in place of the automatic ones (Keras 3's
    `keras_tensor_<n>`, tf-keras' `input_<n>`), whose numbers count every tensor the process has
    made: the same model must convert to the same bytes whatever ran before."""
    name = str(getattr(tensor, "name", "") or "").split(":")[0]
    automatic = name.startswith("keras_tensor") or (name.startswith("input_") and name[6:].isdigit())
    return f"input_{index}" if not name or automatic else name


def verbose() -> bool:
    """-v on the command line (the CLI sets MCUBENCH_VERBOSE=1; subprocesses inherit it)."""
    return os.environ.get("MCUBENCH_VERBOSE") == "1"


class third_party_output:
    """TensorFlow, absl, the converters and the interpreters write straight to the process's
    stdout and stderr (C++ log lines, "Saved artifact at ...", pages of TensorSpec). Inside this
    block both go to a temporary file: shown on stderr with -v, or when the block fails, and
    otherwise dropped. A ``--json`` stdout stays pure JSON either way."""

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self._sink = tempfile.TemporaryFile()
        os.dup2(2 if verbose() else self._sink.fileno(), 1)
        if not verbose():
            os.dup2(self._sink.fileno(), 2)
        return self

    def __exit__(self, exc_type, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        if exc_type is not None and exc_type is not KeyboardInterrupt:
            self._sink.seek(0)
            captured = self._sink.read().decode(errors="replace").strip()
            if captured:
                sys.stderr.write(captured[-4000:] + "\n")
        self._sink.close()
        return False

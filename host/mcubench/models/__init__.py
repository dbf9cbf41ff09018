"""The model pipeline: load models and data, built-in examples, analysis, the TFLM host run.

Import order matters: ``tensorflow-model-optimization`` (QAT, pruning) only works with
``tf-keras``, which TensorFlow picks only if ``TF_USE_LEGACY_KERAS=1`` is set *before*
``tensorflow`` is first imported. Importing any ``mcubench.models`` module sets it, and every
module of ours that needs TensorFlow gets it through :mod:`mcubench.models.tf`.
Keras 3 (``import keras``) stays usable side by side for the user's models.
"""

import os as _os

_os.environ["TF_USE_LEGACY_KERAS"] = "1"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

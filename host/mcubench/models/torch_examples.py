"""Built-in examples as PyTorch models (``--example NAME --framework torch``), trained by the tool.

* ``digits``: the Keras digits CNN's twin (conv 16, pool, conv 32, pool, flatten, dense 64,
  dense 10) on the same split of scikit-learn's digits, channels first (N, 1, 8, 8), as the
  workshop notebooks train it in PyTorch.
* ``kws_dscnn``: the Keras DS-CNN's twin on the same synthetic (N, 1, 49, 10) data: latency,
  size and arena only, no accuracy claim.

Trained weights (a ``state_dict``) are cached under ``work_dir()/models/torch-<name>-<key>/``,
the key hashing the builder's code, the seed and the torch version, like the Keras examples.
torch is imported inside the functions (the optional ``torch`` extra).
"""

from __future__ import annotations

import hashlib
import inspect
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mcubench.core import paths, progress
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic
from mcubench.models import torch_onnx
from mcubench.models.data import Dataset
from mcubench.models.examples import digits_dataset, kws_dataset
from mcubench.models.load import SourceModel

CODE_VERSION = "1"


@dataclass(frozen=True)
class TorchExampleSpec:
    name: str
    description: str
    make_dataset: Callable[[int], Dataset]  # channels first
    build: Callable[[Any], Any]  # torch.nn -> untrained module
    epochs: int
    batch_size: int = 32
    learning_rate: float = 3e-3


def _channels_first(nhwc: Dataset, name: str) -> Dataset:
    move = lambda x: np.ascontiguousarray(np.moveaxis(x, -1, 1))  # noqa: E731
    return Dataset(move(nhwc.x_train), nhwc.y_train, move(nhwc.x_test), nhwc.y_test, task=nhwc.task, name=name,
                   synthetic=nhwc.synthetic, notes=list(nhwc.notes))


def digits_dataset_nchw(seed: int) -> Dataset:
    return _channels_first(digits_dataset(seed), "digits-nchw")


def kws_dataset_nchw(seed: int) -> Dataset:
    return _channels_first(kws_dataset(seed), "kws-synthetic-nchw")


def build_digits(nn: Any) -> Any:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def build_kws_dscnn(nn: Any) -> Any:
    """The Keras DS-CNN's twin: a strided conv (Keras "same" padding, made explicit), four
    depthwise-separable blocks with BatchNorm, average pool, dense 12."""
    def block() -> list[Any]:
        return [nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.Conv2d(64, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]

    return nn.Sequential(
        nn.ZeroPad2d((1, 1, 4, 5)), nn.Conv2d(1, 64, (10, 4), stride=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        *block(), *block(), *block(), *block(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 12),
    )


TORCH_EXAMPLES: dict[str, TorchExampleSpec] = {
    "digits": TorchExampleSpec("digits", "small CNN on scikit-learn digits, PyTorch, NCHW (1x8x8, 10 classes)",
                               digits_dataset_nchw, build_digits, epochs=15),
    "kws_dscnn": TorchExampleSpec("kws_dscnn", "DS-CNN keyword-spotting shape, PyTorch, NCHW (1x49x10, 12 classes), "
                                  "synthetic data: latency only", kws_dataset_nchw, build_kws_dscnn, epochs=1),
}


def train_classifier(module: Any, dataset: Dataset, epochs: int, batch_size: int, learning_rate: float, seed: int) -> Any:
    """Adam on cross-entropy, a seeded shuffle per epoch; returns the module in eval mode.
    Shared with the PyTorch pruning recipes (their fine-tuning)."""
    torch = torch_onnx.require("torch", "training a PyTorch model")
    torch.manual_seed(seed)
    x, y = torch.from_numpy(dataset.x_train), torch.from_numpy(np.asarray(dataset.y_train, dtype=np.int64))
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=learning_rate)
    module.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(module(x[idx]), y[idx]).backward()
            optimizer.step()
    return module.eval()


def cache_key(spec: TorchExampleSpec, seed: int) -> str:
    torch = torch_onnx.require("torch", f"the PyTorch example {spec.name}")
    h = hashlib.sha256()
    for part in (CODE_VERSION, str(seed), str(spec.epochs), str(spec.batch_size), str(spec.learning_rate), torch.__version__):
        h.update(part.encode())
    for func in (spec.build, spec.make_dataset, train_classifier):
        h.update(inspect.getsource(func).encode())
    return h.hexdigest()[:16]


def load_torch_example(name: str, seed: int = 0, retrain: bool = False) -> tuple[SourceModel, Dataset, Path]:
    """The trained PyTorch example (a torch SourceModel), its channels-first data and cache path."""
    if name not in TORCH_EXAMPLES:
        raise UserError(f"no PyTorch version of example {name!r}", f"PyTorch examples: {', '.join(TORCH_EXAMPLES)}")
    spec = TORCH_EXAMPLES[name]
    torch = torch_onnx.require("torch", f"the PyTorch example {name}")
    dataset = spec.make_dataset(seed)
    torch.manual_seed(seed)
    module = spec.build(torch.nn)
    path = paths.work_dir() / "models" / f"torch-{name}-{cache_key(spec, seed)}" / "state_dict.pt"
    loaded = False
    if path.is_file() and not retrain:
        try:
            module.load_state_dict(torch.load(path, weights_only=True))
            loaded = True
        except Exception:  # noqa: BLE001 - a damaged cache entry is retrained, never trusted
            loaded = False
    if not loaded:
        with progress.step(f"training PyTorch example {name} ({spec.epochs} epochs, once: the model is cached)"):
            train_classifier(module, dataset, spec.epochs, spec.batch_size, spec.learning_rate, seed)
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        write_bytes_atomic(path, buffer.getvalue())  # a concurrent reader never sees half a file
    module.eval()
    source = SourceModel(None, "torch", torch_module=module, example_input=dataset.x_train[:1].copy(), label=f"{name}_torch")
    return source, dataset, path

"""MNIST-1D from the ``mnist1d`` package's procedural generator: no download, no pickle written.

``tokens: k`` turns each 40-step signal into a sequence for the Transformer: ``40 / k`` tokens of k
consecutive values, after a classification token; a last channel marks that token (1) from the
others (0), so ``[n, 40 / k + 1, k + 1]``.

``mnist1d.data.make_dataset`` reseeds Python's and numpy's global generators; we restore both
afterwards so loading data never changes the randomness of the caller.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from . import Dataset


def as_tokens(x: np.ndarray, k: int) -> np.ndarray:
    n, length = x.shape
    if length % k:
        raise ValueError(f"mnist1d tokens: {k} does not divide the signal length {length}")
    out = np.zeros((n, length // k + 1, k + 1), dtype=np.float32)
    out[:, 1:, :k] = x.reshape(n, length // k, k)
    out[:, 0, k] = 1.0
    return out


def load_mnist1d(num_samples: int = 5000, train_split: float = 0.8, seed: int = 42, tokens: int = 0) -> "Dataset":
    from mnist1d.data import get_dataset_args, make_dataset

    from . import Dataset  # noqa: F811 - the runtime import (the package imports this module lazily)

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    x, x_test = data["x"].astype(np.float32), data["x_test"].astype(np.float32)
    if tokens:
        x, x_test = as_tokens(x, tokens), as_tokens(x_test, tokens)
    return Dataset("mnist1d", x, data["y"].astype(np.int64), x_test, data["y_test"].astype(np.int64))

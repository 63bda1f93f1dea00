"""MNIST-1D from the ``mnist1d`` package's procedural generator: no download, no pickle written.

``mnist1d.data.make_dataset`` reseeds Python's and numpy's global generators; we restore both
afterwards so loading data never changes the randomness of the caller.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from . import Dataset


def load_mnist1d(num_samples: int = 5000, train_split: float = 0.8, seed: int = 42) -> "Dataset":
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
    return Dataset(
        "mnist1d",
        data["x"].astype(np.float32), data["y"].astype(np.int64),
        data["x_test"].astype(np.float32), data["y_test"].astype(np.int64),
    )

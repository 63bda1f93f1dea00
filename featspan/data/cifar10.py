"""CIFAR-10 through torchvision: a configured root, downloaded there when the machine can.

Images become float32 ``[n, 3, 32, 32]`` standardized per channel with the training split's
statistics (augmentation happens later, on tensors on the training device).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import DatasetUnavailable

if TYPE_CHECKING:
    from . import Dataset


def _subset(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int):
    if not limit or limit >= len(y):
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:limit])
    return x[keep], y[keep]


def load_cifar10(root: str, download: bool = True, max_train: int | None = None, max_test: int | None = None,
                 seed: int = 0) -> "Dataset":
    from torchvision.datasets import CIFAR10

    from . import Dataset  # noqa: F811

    root = str(Path(root).expanduser())
    splits = {}
    for train in (True, False):
        try:
            splits[train] = CIFAR10(root, train=train, download=download)
        except Exception as err:  # RuntimeError (missing/corrupt) or URLError/OSError (offline)
            raise DatasetUnavailable(
                f"CIFAR-10 is not available under {root!r} ({type(err).__name__}: {err}). Either let this "
                "machine download it (dataset option download: true, with internet access), or place the "
                "python version of CIFAR-10 there yourself: unpack cifar-10-python.tar.gz from "
                "https://www.cs.toronto.edu/~kriz/cifar.html so that "
                f"{root}/cifar-10-batches-py/data_batch_1 ... test_batch exist, and set the dataset's root "
                "to that folder.") from err
    x_train, y_train = _subset(splits[True].data, np.asarray(splits[True].targets), max_train, seed)
    x_test, y_test = _subset(splits[False].data, np.asarray(splits[False].targets), max_test, seed + 1)
    x_train = x_train.astype(np.float32).transpose(0, 3, 1, 2) / 255.0   # NHWC uint8 -> NCHW float
    x_test = x_test.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True)
    return Dataset("cifar10", (x_train - mean) / std, y_train.astype(np.int64),
                   (x_test - mean) / std, y_test.astype(np.int64))

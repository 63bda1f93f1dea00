"""A model and a dataset defined outside featspan, as a user would write them (tests/test_plugins.py):
the workflow reaches them through `model: {arch: "my_featspan_plugins:two_layer_tanh"}` and
`dataset: {name: "my_featspan_plugins:noisy_blobs"}` with this folder on PYTHONPATH."""

import numpy as np
import torch
from torch import nn

from featspan.data import Dataset


class TwoLayerTanh(nn.Module):
    """A width-scalable model with featspan's interface: n_features, features(), forward()."""

    def __init__(self, in_dim: int, width: int, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh())
        self.head = nn.Linear(width, n_classes)
        self.n_features = width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def two_layer_tanh(alpha, in_shape, n_classes, width=24):
    return TwoLayerTanh(int(np.prod(in_shape)), max(1, round(width * alpha)), n_classes)


def noisy_blobs(num_train=300, num_test=150, dim=10, seed=0):
    """Four Gaussian blobs in ``dim`` dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, dim)) * 2
    y = rng.integers(0, 4, size=num_train + num_test)
    x = (centers[y] + rng.normal(size=(len(y), dim))).astype(np.float32)
    return Dataset("noisy_blobs", x[:num_train], y[:num_train].astype(np.int64), x[num_train:],
                   y[num_train:].astype(np.int64))

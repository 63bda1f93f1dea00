"""The width-scaled multilayer perceptron of the MNIST-1D slice."""

from __future__ import annotations

import torch
from torch import nn

from .scaling import scale_width


class MLP(nn.Module):
    """``in -> [Linear, ReLU] x L -> Linear(classes)``; the features are the last hidden layer's output."""

    def __init__(self, in_dim: int, widths: list[int], n_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for w in widths:
            layers += [nn.Linear(prev, w), nn.ReLU()]
            prev = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, n_classes)
        self.n_features = prev

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_mlp(alpha: float, in_shape: tuple[int, ...], n_classes: int, widths=(256, 256, 256)) -> MLP:
    in_dim = 1
    for s in in_shape:
        in_dim *= s
    return MLP(in_dim, [scale_width(w, alpha) for w in widths], n_classes)

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

    @staticmethod
    def stacked_forward(params: dict[str, torch.Tensor], x: torch.Tensor, shared: bool) -> torch.Tensor:
        """The logits ``[M, B, classes]`` of M stacked MLPs (``params`` from
        ``torch.func.stack_module_state``) as batched matrix products; ``x`` is one batch for all
        (``shared``, ``[B, ...]``) or one per model (``[M, B, ...]``). The same arithmetic as ``forward``
        per model, without vmap's per-operator dispatch, which dominates for tiny models."""
        n_models = params["head.weight"].shape[0]
        h = x.flatten(1).expand(n_models, -1, -1) if shared else x.flatten(2)
        i = 0
        while f"body.{i}.weight" in params:
            w, b = params[f"body.{i}.weight"], params[f"body.{i}.bias"]
            h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
            i += 2  # body = [Linear, ReLU] * L
        return torch.baddbmm(params["head.bias"].unsqueeze(1), h, params["head.weight"].transpose(1, 2))


def build_mlp(alpha: float, in_shape: tuple[int, ...], n_classes: int, widths=(256, 256, 256)) -> MLP:
    in_dim = 1
    for s in in_shape:
        in_dim *= s
    return MLP(in_dim, [scale_width(w, alpha) for w in widths], n_classes)

"""Every width-scalable architecture featspan knows, one entry each, and the interface a model must have.

The schema's ``model.arch`` enum, the command line's ``--arch`` choices, ``featspan models``, the config
checks and ``featspan estimate`` all read :data:`ARCHITECTURES` (a test holds the schema to it). A config
may also name a model of its own, ``model: {arch: "package.module:function", ...options}``: the function
is called as ``function(alpha, in_shape, n_classes, **options)`` and returns a module with the
:class:`WidthScaledModel` interface; it then trains, dumps features and enters every figure like a
built-in family (docs/models.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

from ..importing import import_function, is_function_name

if TYPE_CHECKING:
    import torch


@runtime_checkable
class WidthScaledModel(Protocol):
    """What featspan needs of a model M_α.

    ``forward(x)`` gives class logits; ``features(x)`` the penultimate representation (n x
    ``n_features``), the input of its last linear layer. Optionally ``stacked_forward(params, x, shared)``,
    a static method that runs a cohort's stacked parameters as batched products (see models/mlp.py)."""

    n_features: int

    def features(self, x: "torch.Tensor") -> "torch.Tensor": ...

    def forward(self, x: "torch.Tensor") -> "torch.Tensor": ...


@dataclass(frozen=True)
class Architecture:
    """One family: how to build M_α, which base widths scaling shrinks, and the paper's setting."""

    name: str
    builder: str                      # "module:function", imported on first use (torch stays unimported)
    description: str
    widths: Callable[[dict], list[int]] = field(default=lambda model: [])  # base widths from a config's model:
    paper: dict | None = None        # in_shape, n_classes and options of the paper's setting
    vision: bool = False             # Appendix D.4 (the shuffled regression) studies vision models only

    def build(self, alpha: float, in_shape, n_classes: int, **options) -> "torch.nn.Module":
        model = import_function(self.builder)(alpha, tuple(in_shape), n_classes, **options)
        if not isinstance(model, WidthScaledModel):
            raise TypeError(f"model.arch {self.name!r}: {self.builder} returned a {type(model).__name__} without "
                            "n_features, features() and forward() (featspan.models.registry.WidthScaledModel)")
        return model


ARCHITECTURES = {a.name: a for a in (
    Architecture("mlp", "featspan.models.mlp:build_mlp",
                 "multilayer perceptron with ReLU hidden layers",
                 widths=lambda m: list(m["widths"]),
                 paper={"in_shape": (40,), "n_classes": 10, "options": {"widths": [256, 256, 256]}}),
    Architecture("resnet18", "featspan.models.resnet:build_resnet18",
                 "the CIFAR ResNet-18 with BatchNorm (stages base_width x 1, 2, 4, 8)",
                 widths=lambda m: [m["base_width"]],  # the first stage; later stages are 2, 4 and 8 times it
                 paper={"in_shape": (3, 32, 32), "n_classes": 10, "options": {"base_width": 64}}, vision=True),
    Architecture("vgg16", "featspan.models.vgg:build_vgg16",
                 "the CIFAR VGG-16 with BatchNorm (widths base_width x 1 ... 8)",
                 widths=lambda m: [m["base_width"]],
                 paper={"in_shape": (3, 32, 32), "n_classes": 10, "options": {"base_width": 64}}, vision=True),
    Architecture("transformer", "featspan.models.transformer:build_transformer",
                 "the MNLI model: a TransformerEncoder on a sequence of input vectors",
                 widths=lambda m: [m["hidden"], m["mlp"]],
                 paper={"in_shape": (128, 128), "n_classes": 3, "options": {"hidden": 128, "mlp": 1024}}),
)}


def architecture(arch: str) -> Architecture:
    """The registered family ``arch``, or the user's ``package.module:function``."""
    if arch in ARCHITECTURES:
        return ARCHITECTURES[arch]
    if is_function_name(arch):
        return Architecture(arch, arch, f"a model of the user's own ({arch})")
    raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)} or a "
                     "'package.module:function' of your own")

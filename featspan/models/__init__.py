"""Width-scaled model families. ``build_model(arch, alpha, ...)`` is the one entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .registry import ARCHITECTURES, architecture
from .scaling import alpha_token, m_feat, m_param, scale_width  # noqa: F401 - re-exported

if TYPE_CHECKING:  # torch is imported by the builders only, keeping the Snakefile's imports light
    import torch

ARCHS = tuple(ARCHITECTURES)
__all__ = ["ARCHS", "ARCHITECTURES", "architecture", "ScaledFamily", "alpha_token", "build_model", "count_params", "m_feat", "m_param",
           "scale_width", "scaled_family", "build_from_config", "PAPER_SETTINGS"]


def build_model(arch: str, alpha: float, in_shape: tuple[int, ...], n_classes: int, **options) -> "torch.nn.Module":
    """The model ``arch`` (a registered family or a ``package.module:function`` of the user's) with every
    hidden width multiplied by ``alpha``; ``options`` are the family's base-width settings (MLP:
    ``widths``; resnet18, vgg16: ``base_width``; transformer: ``hidden``, ``mlp``, ``n_layers``, ``n_heads``,
    ``positional``)."""
    return architecture(arch).build(alpha, in_shape, n_classes, **options)


def build_from_config(model_cfg: dict, alpha: float, in_shape, n_classes: int) -> "torch.nn.Module":
    """``build_model`` from a config's ``model:`` mapping (``arch`` plus the family's base-width options)."""
    options = {k: v for k, v in model_cfg.items() if k != "arch"}
    return build_model(model_cfg["arch"], alpha, tuple(in_shape), n_classes, **options)


def count_params(model: "torch.nn.Module") -> int:
    """Trainable parameters (a frozen encoder in front of a model does not count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# The paper's settings (docs/method.md section 1): input shape, classes and base-width options per family.
PAPER_SETTINGS = {name: a.paper for name, a in ARCHITECTURES.items() if a.paper}


@dataclass(frozen=True)
class ScaledFamily:
    """Sizes of M_alpha against M_1, from the real modules."""

    arch: str
    alpha: float
    n_params: int
    n_features: int
    m_feat: int
    m_param: int
    n_params_base: int

    @property
    def cohort_size(self) -> int:
        """Models trained per replicate at this alpha: the larger concatenation plus one held-out
        target (the reverse direction's M_alpha); at alpha = 1 the base model and another base seed."""
        return 2 if self.alpha == 1 else max(self.m_feat, self.m_param) + 1


def scaled_family(arch: str, alpha: float, in_shape, n_classes: int, **options) -> ScaledFamily:
    base = build_model(arch, 1.0, tuple(in_shape), n_classes, **options)
    model = build_model(arch, alpha, tuple(in_shape), n_classes, **options)
    pb, pa = count_params(base), count_params(model)
    return ScaledFamily(arch, alpha, pa, model.n_features, m_feat(base.n_features, model.n_features), m_param(pb, pa),
                        pb)

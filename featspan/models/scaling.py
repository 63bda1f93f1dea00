"""Width scaling and the concatenation sizes M_feat and M_param (docs/method.md sections 1 and 3)."""

from __future__ import annotations

import math
from fractions import Fraction


def scale_width(width: int, alpha: float) -> int:
    """A hidden width of the scaled model M_alpha: ``width * alpha`` rounded, at least 1."""
    return max(1, int(round(width * alpha)))


def m_feat(n_features_base: int, n_features_alpha: int) -> int:
    """Smallest M with ``M * d(M_alpha) >= d(M_1)`` (features matched)."""
    return max(1, math.ceil(n_features_base / n_features_alpha))


def m_param(n_params_base: int, n_params_alpha: int) -> int:
    """Smallest M with ``M * params(M_alpha) >= params(M_1)`` (parameters matched)."""
    return max(1, math.ceil(n_params_base / n_params_alpha))


def alpha_token(alpha: float) -> str:
    """A file-name token for alpha: 1 -> '1', 0.5 -> '1_2', 0.0625 -> '1_16', 0.3 -> '3_10'."""
    frac = Fraction(alpha).limit_denominator(10_000)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}_{frac.denominator}"


def alpha_from_token(token: str) -> float:
    num, _, den = token.partition("_")
    return int(num) / int(den or 1)


def smallest_widths(model: dict) -> list[int]:
    """The base model's hidden widths that scaling shrinks (from a config's ``model:``, defaults filled):
    every one must keep at least one unit at every alpha. None known for a model of the user's own."""
    from .registry import architecture

    return architecture(model["arch"]).widths(model)


def alpha_label(alpha: float) -> str:
    """How alpha is written in figures and tables: 1, 1/2, 1/16, 3/10."""
    return alpha_token(alpha).replace("_", "/")

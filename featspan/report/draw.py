"""Every figure by its catalog name, the paper's (from summary tables) and the toy's (from toy runs): the
one entry point of the figure jobs, so a new figure is a catalog entry plus one drawer here."""

from __future__ import annotations

from typing import Callable, Sequence

from ..catalog import FIGURES, TOY_FIGURES
from . import plotting


def _paper_figure(name: str, inputs: Sequence[str], outputs: Sequence[str], experiments: Sequence[str],
                  about: dict | None = None) -> None:
    from .figures import draw_figure

    draw_figure(name, inputs, outputs, experiments, about)


def _toy_figure(name: str, inputs: Sequence[str], outputs: Sequence[str]) -> None:
    from . import toy

    with plotting.style():
        toy.FIGURES[name](toy.load_runs(inputs), outputs)


DRAWERS: dict[str, Callable] = {**{name: _paper_figure for name in FIGURES},
                                **{name: _toy_figure for name in TOY_FIGURES}}


def draw(name: str, inputs: Sequence[str], outputs: Sequence[str], **options) -> None:
    """Figure ``name`` from its rule's ``inputs`` into ``outputs`` (pdf, png); ``options`` are the rule's
    (the paper's figures: the experiments shown and what the captions say about them)."""
    if name not in DRAWERS:
        raise ValueError(f"unknown figure {name!r}; the catalog has {', '.join(DRAWERS)}")
    DRAWERS[name](name, list(inputs), list(outputs), **options)

"""What every featspan figure shares: pyplot on a file-only backend, a page-sized style, atomic saving,
and how experiments, models and widths are named on a figure.

Figures are drawn at the size they are read at: PAGE_WIDTH inches wide (a paper's text width), so the
fonts below are their printed sizes in points."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from ..io import atomic_path

PAGE_WIDTH = 7.0    # inches: a paper's text width
PANEL_HEIGHT = 2.3  # inches of axes per grid row, before its legend
STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "figure.titlesize": 10,
         "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 200,
         "pdf.fonttype": 42}  # TrueType in PDFs: editable text, accepted by publishers

ARCH_NAMES = {"resnet18": "ResNet-18", "vgg16": "VGG-16", "transformer": "Transformer", "mlp": "MLP"}
DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist1d": "MNIST-1D", "shapes10": "shapes10",
                 "digits": "digits", "cifar10": "CIFAR-10", "mnli": "MNLI"}
# plain names in the summaries and catalog -> mathtext on a figure
MATH_NAMES = {"M_param": r"$M_{\mathrm{param}}$", "M_feat": r"$M_{\mathrm{feat}}$", "M_1'": r"$M_1'$",
              "M_1": r"$M_1$", "M_α": r"$M_\alpha$", "R_over": r"$R_{\mathrm{over}}$", "R_low": r"$R_{\mathrm{low}}$"}


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (imported only when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def style():
    with pyplot().rc_context(STYLE):
        yield


def save(fig, outputs: Sequence[str | Path]) -> None:
    """Write ``fig`` to every output (format from the suffix, PNG without one), each atomically, then close it."""
    for out in outputs:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=Path(out).suffix[1:] or "png", bbox_inches="tight")
    pyplot().close(fig)


def math_text(text: str) -> str:
    """``text`` with featspan's plain model names (M_param, M_1, R_over, ...) as mathtext."""
    names = "|".join(re.escape(n) for n in sorted(MATH_NAMES, key=len, reverse=True))  # M_1' before M_1
    return re.sub(names, lambda m: MATH_NAMES[m.group(0)], text)


def experiment_label(experiment: str, about: dict | None) -> str:
    """An experiment's name on a figure: its config ``label``, else architecture · dataset."""
    about = about or {}
    if about.get("label"):
        return about["label"]
    if "arch" not in about:
        return experiment
    return f"{ARCH_NAMES.get(about['arch'], about['arch'])} · {DATASET_NAMES.get(about['dataset'], about['dataset'])}"


def experiment_labels(about: dict[str, dict]) -> dict[str, str]:
    """Labels of several experiments; where two would read the same, the config key follows in brackets."""
    labels = {exp: experiment_label(exp, info) for exp, info in about.items()}
    counts = Counter(labels.values())
    return {exp: (label if counts[label] == 1 else f"{label} ({exp})") for exp, label in labels.items()}


def grid(n_panels: int, rows_per_panel: int = 1, legend_rows: int = 2):
    """A figure PAGE_WIDTH wide with panels on a grid of at most two columns (2 x 2 for four experiments),
    ``rows_per_panel`` rows of axes for each, and room under every row for a legend of ``legend_rows``
    lines. Returns (figure, [[axes of panel i for each of its rows] for i in panels]); unused cells are
    hidden."""
    plt = pyplot()
    cols = 1 if n_panels == 1 else 2
    blocks = math.ceil(n_panels / cols)  # rows of panels
    grid_rows = blocks * rows_per_panel
    legend = 0.15 * legend_rows + 0.5  # inches under each row: tick labels, x label, legend lines
    fig, axes = plt.subplots(grid_rows, cols, squeeze=False, layout="constrained",
                             figsize=(PAGE_WIDTH if cols == 2 else PAGE_WIDTH / 2 + 0.4,
                                      grid_rows * (PANEL_HEIGHT + legend) + 0.5))
    cells = [[axes[block * rows_per_panel + r][col] for r in range(rows_per_panel)]
             for block in range(blocks) for col in range(cols)]
    for cell in cells[n_panels:]:
        for ax in cell:
            ax.set_visible(False)
    return fig, cells[:n_panels]


def legend_below(ax, ncol: int = 1) -> None:
    """The panel's legend under its axes, where it hides no data point."""
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=ncol,
              handlelength=2.2, borderaxespad=0)


def alpha_axis(ax, alphas: Sequence[float]) -> dict[float, float]:
    """α on a log2 axis, widest on the left; the same positions on every panel given the same ``alphas``."""
    from ..models.scaling import alpha_label

    alphas = sorted(set(alphas), reverse=True)
    xs = [math.log2(1 / a) for a in alphas]
    ax.set_xticks(xs, [alpha_label(a) for a in alphas])
    if xs:
        ax.set_xlim(xs[0] - 0.3, xs[-1] + 0.3)
    ax.set_xlabel("width multiplier α")
    return dict(zip(alphas, xs))


def figure_number(name: str) -> str:
    """``fig12`` -> ``Figure 12``."""
    return "Figure " + name.removeprefix("fig")

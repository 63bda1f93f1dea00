"""Figures of the paper from the summary tables: one panel per experiment, mean and spread over replicates."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

from ..catalog import FIGURES  # noqa: E402
from ..models.scaling import alpha_label  # noqa: E402
from ..io import atomic_path  # noqa: E402
from .spread import Spread  # noqa: E402
from .summary import read_table  # noqa: E402

STYLE = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 8,
         "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 150}
M_STYLE = {"param": ("tab:red", "-", "M_param"), "feat": ("tab:blue", "--", "M_feat")}


def _grouped(rows, key, value):
    """{key(row): [value(row) over replicates]}"""
    out = defaultdict(list)
    for row in rows:
        out[key(row)].append(value(row))
    return out


def _alpha_axis(ax, alphas):
    xs = [np.log2(1 / a) for a in alphas]
    ax.set_xticks(xs, [alpha_label(a) for a in alphas])
    ax.set_xlabel("width multiplier α")
    return dict(zip(alphas, xs))


def _panels(tables: dict[str, list[dict]], n_rows: int = 1):
    n = len(tables)
    fig, axes = plt.subplots(n_rows, n, figsize=(4.2 * n, 3.4 * n_rows), squeeze=False)
    return fig, [list(zip(axes[r], tables.items())) for r in range(n_rows)]


def _series(rows, alphas, x, value):
    """(x, mean, error bar, n) per alpha of ``rows``, a :class:`Spread` over the rows of each alpha."""
    grouped = _grouped(rows, lambda r: r["alpha"], value)
    spreads = {a: Spread.of(grouped[a]) for a in alphas if a in grouped}
    return [(x[a], s.mean, s.error_bar, s.n) for a, s in spreads.items()]


def _n_label(ns) -> str:
    low, high = min(ns), max(ns)
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def gap_figure(tables, direction: str, state: str, eval: str, title: str, rows=("live",)):
    """One panel per experiment and target selection (``rows``: ``live``, ``below_outlier_threshold``)."""
    fig, panel_rows = _panels(tables, len(rows))
    for targets, panels in zip(rows, panel_rows):
        for ax, (exp, table) in panels:
            sel = [r for r in table if r["direction"] == direction and r["state"] == state and r["eval"] == eval
                   and r.get("targets", "live") == targets]
            alphas = sorted({r["alpha"] for r in sel}, reverse=True)
            x = _alpha_axis(ax, alphas)
            for m_choice, (color, ls, label) in M_STYLE.items():
                mine = [r for r in sel if r["m_choice"] == m_choice]
                pts = _series(mine, alphas, x, lambda r: r["fsg"])
                if not pts:
                    continue
                xs, mean, err, n = map(np.array, zip(*pts))
                extra = ""
                if targets != "live":
                    extra = f", {sum(r['n_outlier_targets'] for r in mine)} targets left out in all"
                ax.errorbar(xs, mean, yerr=err, color=color, ls=ls, marker="o", capsize=3,
                            label=f"M = {label} ({_n_label(n)}{extra})")
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set_title(exp if targets == "live" else f"{exp}: outlier rule applied")
            ax.set_ylabel("feature span gap")
            _legend_below(ax)
    _finish(fig, title)
    return fig


def _legend_below(ax):
    """Each panel's legend under its axes: inside, it hid data points wherever the curves went."""
    # Offset in inches, not axes fractions: the tick labels and x label below the axes keep their size
    # in inches when tight_layout shrinks the axes.
    below_labels = ax.transAxes + ScaledTranslation(0, -0.5, ax.figure.dpi_scale_trans)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below_labels,
              fontsize="small")


def _finish(fig, title):
    width_chars = int(fig.get_figwidth() * 13)
    fig.suptitle(textwrap.fill(title, max(40, width_chars)))
    fig.tight_layout()


FP_LINES = {  # feature set in the probe summary -> (color, line style, legend label)
    "concat_param": ("tab:red", "-", "concat. M_param"),
    "concat_feat": ("tab:blue", "--", "concat. M_feat"),
    "single": ("tab:gray", ":", "one M_α"),
    "concat_param+over": ("tab:green", "-", "[concat. M_param, R_over]"),
    "base+low_param": ("tab:purple", "-.", "[M_1, R_low]"),
}


def fp_figure(tables, state: str, title: str, lines=("concat_param", "concat_feat", "single")):
    """Probe accuracy against alpha for the feature sets ``lines``; M_1 as a horizontal band."""
    fig, (panels,) = _panels(tables)
    for ax, (exp, rows) in panels:
        rows = [r for r in rows if r["state"] == state]
        alphas = sorted({r["alpha"] for r in rows if r["alpha"] < 1}, reverse=True)
        x = _alpha_axis(ax, alphas)
        base = Spread.of(100 * r["accuracy"] for r in rows if r["features"] == "base")
        if base.n:
            ax.axhline(base.mean, color="k", lw=1.5, label=f"M_1 (n = {base.n})")
            ax.axhspan(base.mean - base.error_bar, base.mean + base.error_bar, color="k", alpha=0.1, lw=0)
        for name in lines:
            color, ls, label = FP_LINES[name]
            pts = _series([r for r in rows if r["features"] == name], alphas, x, lambda r: 100 * r["accuracy"])
            if pts:
                xs, mean, err, n = map(np.array, zip(*pts))
                ax.errorbar(xs, mean, yerr=err, color=color, ls=ls, marker="o", capsize=3,
                            label=f"{label} ({_n_label(n)})")
        ax.set_title(exp)
        ax.set_ylabel("probe test accuracy (%)")
        _legend_below(ax)
    _finish(fig, title)
    return fig


def draw_figure(name: str, inputs: Sequence[str], outputs: Sequence[str], experiments: Sequence[str]) -> None:
    """Draw figure ``name`` from one summary CSV per experiment (``inputs`` in ``experiments`` order)."""
    spec = FIGURES[name]
    tables = {exp: read_table(path) for exp, path in zip(experiments, inputs)}
    with plt.rc_context(STYLE):
        if spec["kind"] == "gap":
            fig = gap_figure(tables, title=spec["title"], **spec["options"])
        elif spec["kind"] == "fp":
            fig = fp_figure(tables, title=spec["title"], **spec["options"])
        else:
            raise ValueError(f"unknown figure kind {spec['kind']!r}")
        for out in outputs:
            with atomic_path(out) as tmp:
                fig.savefig(tmp, format=Path(out).suffix[1:], bbox_inches="tight")
        plt.close(fig)

"""Figures of the paper from the summary tables: one panel per experiment on a grid of two columns, a
shared α axis, mean and spread over replicates (report/plotting.py: style, names, saving)."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from typing import Sequence

import numpy as np

from ..catalog import FIGURES
from . import plotting
from .plotting import alpha_axis, experiment_labels, legend_below, math_text
from .spread import Spread
from .summary import read_table

M_STYLE = {"param": ("tab:red", "-", "M_param"), "feat": ("tab:blue", "--", "M_feat")}


def _grouped(rows, key, value):
    """{key(row): [value(row) over replicates]}"""
    out = defaultdict(list)
    for row in rows:
        out[key(row)].append(value(row))
    return out


def _series(rows, alphas, x, value):
    """(x, mean, error bar, n) per alpha of ``rows``, a :class:`Spread` over the rows of each alpha."""
    grouped = _grouped(rows, lambda r: r["alpha"], value)
    spreads = {a: Spread.of(grouped[a]) for a in alphas if a in grouped}
    return [(x[a], s.mean, s.error_bar, s.n) for a, s in spreads.items()]


def _n_label(ns) -> str:
    low, high = min(ns), max(ns)
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def _all_alphas(tables, keep=lambda a: True) -> list[float]:
    """Every α any experiment shows: the panels share one α axis."""
    return sorted({r["alpha"] for rows in tables.values() for r in rows if keep(r["alpha"])}, reverse=True)


def gap_figure(tables, direction: str, state: str, eval: str, title: str, rows=("live",), labels=None):
    """One panel per experiment and target selection (``rows``: ``live``, ``below_outlier_threshold``)."""
    labels = labels or {exp: exp for exp in tables}
    fig, panels = plotting.grid(len(tables), len(rows), legend_rows=1 if rows == ("live",) else 2)
    alphas = _all_alphas(tables)
    for axes, (exp, table) in zip(panels, tables.items()):
        for ax, targets in zip(axes, rows):
            sel = [r for r in table if r["direction"] == direction and r["state"] == state and r["eval"] == eval
                   and r.get("targets", "live") == targets]
            x = alpha_axis(ax, alphas)
            for m_choice, (color, ls, label) in M_STYLE.items():
                mine = [r for r in sel if r["m_choice"] == m_choice]
                pts = _series(mine, alphas, x, lambda r: r["fsg"])
                if not pts:
                    continue
                xs, mean, err, n = map(np.array, zip(*pts))
                extra = ""
                if targets != "live":
                    extra = f", {sum(r['n_outlier_targets'] for r in mine)} targets left out in all"
                ax.errorbar(xs, mean, yerr=err, color=color, ls=ls, marker="o", ms=4, capsize=2.5,
                            label=math_text(f"M = {label} ({_n_label(n)}{extra})"))
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set_title(labels[exp] if targets == "live" else f"{labels[exp]}: outlier rule applied")
            ax.set_ylabel("feature span gap")
            legend_below(ax, ncol=2 if targets == "live" else 1)
    _finish(fig, title)
    return fig


def _finish(fig, title: str) -> None:
    fig.suptitle(textwrap.fill(math_text(title), 105))


FP_LINES = {  # feature set in the probe summary -> (color, line style, legend label)
    "concat_param": ("tab:red", "-", "concat. M_param"),
    "concat_feat": ("tab:blue", "--", "concat. M_feat"),
    "single": ("tab:gray", ":", "one M_α"),
    "concat_param+over": ("tab:green", "-", "[concat. M_param, R_over]"),
    "base+low_param": ("tab:purple", "-.", "[M_1, R_low]"),
}


def fp_figure(tables, state: str, title: str, lines=("concat_param", "concat_feat", "single"), labels=None):
    """Probe accuracy against alpha for the feature sets ``lines``; M_1 as a horizontal band."""
    labels = labels or {exp: exp for exp in tables}
    fig, panels = plotting.grid(len(tables), legend_rows=len(lines) + 1)
    alphas = _all_alphas(tables, keep=lambda a: a < 1)
    for (ax,), (exp, rows) in zip(panels, tables.items()):
        rows = [r for r in rows if r["state"] == state]
        x = alpha_axis(ax, alphas)
        base = Spread.of(100 * r["accuracy"] for r in rows if r["features"] == "base")
        if base.n:
            ax.axhline(base.mean, color="k", lw=1.5, label=math_text(f"M_1 (n = {base.n})"))
            ax.axhspan(base.mean - base.error_bar, base.mean + base.error_bar, color="k", alpha=0.1, lw=0)
        for name in lines:
            color, ls, label = FP_LINES[name]
            pts = _series([r for r in rows if r["features"] == name], alphas, x, lambda r: 100 * r["accuracy"])
            if pts:
                xs, mean, err, n = map(np.array, zip(*pts))
                ax.errorbar(xs, mean, yerr=err, color=color, ls=ls, marker="o", ms=4, capsize=2.5,
                            label=math_text(f"{label} ({_n_label(n)})"))
        ax.set_title(labels[exp])
        ax.set_ylabel("probe test accuracy (%)")
        legend_below(ax)
    _finish(fig, title)
    return fig


def draw_figure(name: str, inputs: Sequence[str], outputs: Sequence[str], experiments: Sequence[str],
                about: dict | None = None) -> None:
    """Draw figure ``name`` from one summary CSV per experiment (``inputs`` in ``experiments`` order);
    ``about`` (experiment -> arch, dataset, label) names the panels."""
    spec = FIGURES[name]
    tables = {exp: read_table(path) for exp, path in zip(experiments, inputs)}
    labels = experiment_labels({exp: (about or {}).get(exp, {}) for exp in experiments})
    title = f"{plotting.figure_number(name)}. {spec['title']}"
    with plotting.style():
        if spec["kind"] == "gap":
            fig = gap_figure(tables, title=title, labels=labels, **spec["options"])
        elif spec["kind"] == "fp":
            fig = fp_figure(tables, title=title, labels=labels, **spec["options"])
        else:
            raise ValueError(f"unknown figure kind {spec['kind']!r}")
        plotting.save(fig, outputs)

"""Outputs of the toy setting: learned_signals.json, Table 1, Figures 5, 6 and 9 (docs/method.md section 7)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from ..catalog import TABLES
from ..io import atomic_path, write_rows_csv, write_text
from . import plotting
from .spread import Spread


def load_runs(paths: Sequence[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]


def learned_records(runs: list[dict]) -> list[dict]:
    """One record per run: the fractions of addition and multiplication vectors it learned
    (for a concatenation: learned by any of its models), plus how many models learned each."""
    out = []
    for run in sorted(runs, key=lambda r: (r["seed"], r["width"])):
        n_add = run["config"]["n_add"]
        table = np.asarray(run["learned"], dtype=bool)
        any_model = table.any(axis=0)
        out.append({"kind": "wide" if run["n_models"] == 1 else "concat", "width": run["width"],
                    "n_models": run["n_models"], "seed": run["seed"],
                    "addition_learned": float(any_model[:n_add].mean()),
                    "multiplication_learned": float(any_model[n_add:].mean()),
                    "models_learning_each_signal": table.sum(axis=0).tolist()})
    return out


def write_learned_signals(runs: list[dict], path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(learned_records(runs), indent=2))


TABLE1_COLUMNS = ("train_accuracy", "test_accuracy", "probe_train_accuracy", "probe_test_accuracy")


def table1_spreads(runs: list[dict]) -> dict[tuple[int, int], dict[str, Spread]]:
    """Per (width m, number of models M): the average train and test accuracy of the M single models
    (the paper's Table 1), a Spread over seeds; beside it, labelled apart, a linear probe's accuracy on
    the concatenation of their first-layer features (none for M = 1)."""
    groups = defaultdict(list)
    for run in runs:
        groups[(run["width"], run["n_models"])].append(run)
    return {key: {column: Spread.of(r[column] for r in group) for column in TABLE1_COLUMNS}
            for key, group in sorted(groups.items())}


def table1_rows(runs: list[dict]) -> list[dict]:
    rows = []
    for (width, n_models), spreads in table1_spreads(runs).items():
        row = {"width": width, "n_models": n_models}
        for column, spread in spreads.items():
            row[column], row[column.replace("accuracy", "std")] = spread.mean, spread.sd
        row["seeds"] = spreads["train_accuracy"].n
        rows.append(row)
    return rows


def write_table1(runs: list[dict], csv_path, md_path) -> None:
    write_rows_csv(table1_rows(runs), csv_path)
    lines = [TABLES["table1"]["caption"], "",
             "| m | M | train accuracy (%) | test accuracy (%) | probe on the concatenation: train (%) | test (%) |",
             "|---|---|---|---|---|---|"]
    for (width, n_models), spreads in table1_spreads(runs).items():
        cells = " | ".join(spreads[c].format(".1f", 100) for c in TABLE1_COLUMNS)
        lines.append(f"| {width} | {n_models} | {cells} |")
    write_text("\n".join(lines) + "\n", md_path)


# A model "fits the product" when it classifies at least this share of the test inputs whose addition
# signs cancel (there the label is the product of the multiplication signs; chance is 0.5, a fit 1.0).
PRODUCT_FIT = 0.75


def _vector_names(indices, n_add: int) -> str:
    return ",".join(f"v{j + 1}" for j in indices) or "none"


def finding41_rows(runs: list[dict]) -> list[dict]:
    """Finding 4.1 per seed and narrow width m (docs/method.md section 7): the wide model (M = 1) learns
    every signal vector, and the concatenation of the M models of width m learns every addition vector and
    no multiplication vector, a concatenation learning v_j when any of its models does. ``holds`` needs
    both halves. Beside it, per multiplication vector, how many of the M models learned it, and the
    models that learned one by the cosine criterion while fitting no product (product accuracy below
    PRODUCT_FIT): how often the criterion credits a lone aligned neuron, with its cosine."""
    by_seed = defaultdict(dict)
    for run in runs:
        by_seed[run["seed"]][run["n_models"]] = run
    rows = []
    for seed, group in sorted(by_seed.items()):
        wide = group.get(1)
        wide_missed = None if wide is None else np.flatnonzero(~np.asarray(wide["learned"], bool).any(0))
        for n_models, run in sorted(group.items(), reverse=True):
            if n_models == 1:
                continue
            n_add = run["config"]["n_add"]
            table = np.asarray(run["learned"], dtype=bool)
            counts = table.sum(axis=0)
            add_missed = np.flatnonzero(counts[:n_add] == 0)
            product_acc = np.asarray([np.nan if a is None else a for a in run.get("model_product_accuracy", [])])
            best_cos = np.asarray(run.get("model_best_cos", []), dtype=float)
            lone = []  # (model, vector, cosine, product accuracy) of credits without a product fit
            if product_acc.size:
                for i, j in zip(*np.nonzero(table[:, n_add:])):
                    if not product_acc[i] >= PRODUCT_FIT:
                        lone.append((int(i), int(j) + n_add, float(best_cos[i, j + n_add]), float(product_acc[i])))
            narrow_half = add_missed.size == 0 and not counts[n_add:].any()
            rows.append({
                "seed": seed, "width": run["width"], "n_models": n_models,
                "wide_width": None if wide is None else wide["width"],
                "wide_missed": None if wide is None else _vector_names(wide_missed, n_add),
                "concat_addition_missed": _vector_names(add_missed, n_add),
                "models_learning_each_multiplication": counts[n_add:].tolist(),
                "holds": None if wide is None else bool(wide_missed.size == 0 and narrow_half),
                "credited_without_product_fit": len(lone) if product_acc.size else None,
                "their_cosines": [round(c, 3) for _, _, c, _ in lone],
                "their_product_accuracy": [round(a, 3) for _, _, _, a in lone],
                "models_fitting_product": int((product_acc >= PRODUCT_FIT).sum()) if product_acc.size else None,
            })
    return rows


def finding41_summary(rows: list[dict]) -> list[tuple[int, int, int, int]]:
    """Per narrow width: (width, M, seeds where Finding 4.1 held, seeds with both runs)."""
    out = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["holds"] is not None:
            out[(row["width"], row["n_models"])][0] += row["holds"]
            out[(row["width"], row["n_models"])][1] += 1
    return [(w, m, held, n) for (w, m), (held, n) in sorted(out.items())]


def write_finding41(runs: list[dict], csv_path, md_path) -> None:
    rows = finding41_rows(runs)
    write_rows_csv(rows, csv_path)
    cfg = runs[0]["config"] if runs else {}
    lines = [TABLES["finding41"]["caption"], "",
             f"Normalization `{cfg.get('normalize', 'tensor')}`; a model fits the product at product accuracy "
             f">= {PRODUCT_FIT}.", "",
             "| seed | m | M | wide model missed | concatenation missed (addition) | models learning each "
             "multiplication vector | holds | credited without fitting the product: cosines | models fitting the product |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        holds = "–" if r["holds"] is None else ("yes" if r["holds"] else "no")
        lone = ("–" if r["credited_without_product_fit"] is None else
                f"{r['credited_without_product_fit']}" + (f": {', '.join(f'{c:.3f}' for c in r['their_cosines'])}"
                                                          if r["their_cosines"] else ""))
        fitting = "–" if r["models_fitting_product"] is None else r["models_fitting_product"]
        lines.append(f"| {r['seed']} | {r['width']} | {r['n_models']} | {r['wide_missed'] or '–'} | "
                     f"{r['concat_addition_missed']} | {r['models_learning_each_multiplication']} | {holds} | "
                     f"{lone} | {fitting} |")
    lines += ["", "| m | M | seeds where Finding 4.1 held |", "|---|---|---|"]
    lines += [f"| {w} | {m} | {held} of {n} |" for w, m, held, n in finding41_summary(rows)]
    write_text("\n".join(lines) + "\n", md_path)


def figure5(runs: list[dict], outputs) -> None:
    """Best correlation with the addition (left) and multiplication (right) vectors during training,
    one line per first-layer width m (over all M models of that width), mean over seeds (thin: seeds).
    Runs of different widths may train for different numbers of epochs (as in the paper)."""
    plt = plotting.pyplot()

    widths = sorted({r["width"] for r in runs})
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(widths)))
    fig, axes = plt.subplots(1, 2, figsize=(plotting.PAGE_WIDTH, 2.8), layout="constrained", sharey=True)
    for ax, (label, sl) in zip(axes, (("addition", "add"), ("multiplication", "mul"))):
        for width, color in zip(widths, colors):
            group = [r for r in runs if r["width"] == width]
            curves = []
            for r in group:
                n_add = r["config"]["n_add"]
                cos = np.asarray(r["max_cos"])
                curves.append(cos[:, :n_add].mean(1) if sl == "add" else cos[:, n_add:].mean(1))
                ax.plot(r["epochs"], curves[-1], color=color, lw=0.6, alpha=0.35)
            n_models = group[0]["n_models"]
            length = min(len(c) for c in curves)
            ax.plot(group[0]["epochs"][:length], np.mean([c[:length] for c in curves], axis=0), color=color, lw=2,
                    label=f"m = {width}, M = {n_models} (n = {len(group)} seeds)")
        ax.set_title(f"{label} vectors")
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("best cos(w_r, v_j) over activated neurons")
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle("Figure 5. Correlation with the signal vectors during training (mean over vectors and seeds)")
    plotting.save(fig, outputs)


def figure6(runs: list[dict], outputs) -> None:
    """One neuron of a narrow model, activated by a signal vector at init: <w, v_j> over training against
    the thresholds ±b, and the change of <w, v_j> by each force as applied per step (the normalized
    gradient step and weight decay, :class:`featspan.toy.NeuronTrace`), cumulated."""
    plt = plotting.pyplot()

    narrow = sorted((r for r in runs if r.get("neuron_trace")), key=lambda r: (r["width"], r["seed"]))
    if not narrow:
        raise ValueError("no run traced a neuron (no neuron was activated by a signal vector at init)")
    mult = [r for r in narrow if r["neuron_trace"]["kind"] == "multiplication"]
    run = (mult or narrow)[0]
    tr, cfg = run["neuron_trace"], run["config"]
    steps = np.arange(len(tr["dot"]))
    b = cfg["threshold"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(plotting.PAGE_WIDTH, 2.8), layout="constrained")
    a1.plot(steps, tr["dot"], color="k", label="⟨w, v_j⟩")
    a1.plot(steps, tr["norm"], color="0.5", ls="--", label="‖w‖")
    for level in (b, -b):
        a1.axhline(level, color="tab:orange", lw=0.8, label="thresholds ±b" if level > 0 else None)
    a1.set_xlabel("step")
    a1.set_title(f"neuron {tr['neuron']} of model {tr['model']} (m = {run['width']}), {tr['kind']} vector",
                 fontsize=9)
    a1.legend(frameon=False, fontsize=8)
    normalizer = "per neuron" if cfg.get("normalize") == "neuron" else "per tensor"
    a2.plot(steps, np.concatenate([[0.0], np.cumsum(tr["gradient_pull"])]), color="tab:green",
            label=f"normalized gradient step ({normalizer})")
    a2.plot(steps, np.concatenate([[0.0], np.cumsum(tr["decay_pull"])]), color="tab:red",
            label=f"weight decay ({cfg.get('decay_mode', 'decoupled')})")
    a2.axhline(0, color="0.5", lw=0.8)
    a2.set_xlabel("step")
    a2.set_title("cumulative change of ⟨w, v_j⟩ by each force", fontsize=9)
    a2.legend(frameon=False, fontsize=8)
    fig.suptitle("Figure 6. A neuron pulled between weight decay and the gradient")
    plotting.save(fig, outputs)


def activation_probability(sigma0: float, threshold: float) -> float:
    """P(|<w_r, v_j>| > b) for ``w_r ~ N(0, sigma0^2 I)`` and a unit vector v_j: ``<w_r, v_j> ~ N(0, sigma0^2)``,
    two-sided because a neuron fires on a signal patch ``a_j v_j`` of either sign (docs/method.md section 7)."""
    return math.erfc(threshold / (sigma0 * math.sqrt(2)))


def figure9(runs: list[dict], outputs) -> None:
    """Neurons per model activated by each signal vector at initialization (|<w_r, v_j>| > b) against
    width, on log-log axes where the expectation m P(|N(0, σ0²)| > b) is a straight line: per width, the
    mean ± sample std over (seed, vector) pairs of the count per model, n pairs; addition and
    multiplication vectors with their own markers, side by side."""
    plt = plotting.pyplot()

    cfg = runs[0]["config"]
    n_add = cfg["n_add"]
    by_width = defaultdict(lambda: {"add": [], "mul": []})
    for r in runs:
        per_model = np.asarray(r["active_at_init"], dtype=float) / r["n_models"]
        by_width[r["width"]]["add"].extend(per_model[:n_add])
        by_width[r["width"]]["mul"].extend(per_model[n_add:])
    widths = np.array(sorted(by_width))
    tail = activation_probability(cfg["sigma0"], cfg["threshold"])
    fig, ax = plt.subplots(figsize=(plotting.PAGE_WIDTH / 2 + 0.4, 2.9), layout="constrained")
    grid = np.geomspace(widths.min() / 1.5, widths.max() * 1.5, 50)
    ax.plot(grid, grid * tail, color="k", lw=1, label=f"expected m·P(|N(0,σ0²)| > b) = {tail:.3g}·m")
    for key, color, marker, shift, label in (("add", "tab:blue", "o", 0.9, "addition vectors"),
                                              ("mul", "tab:red", "s", 1.1, "multiplication vectors")):
        spreads = [Spread.of(by_width[w][key]) for w in widths]
        means = np.array([s.mean for s in spreads])
        shown = means > 0  # a mean of 0 has no place on a log axis: said in the legend instead
        n = spreads[0].n
        ax.errorbar(widths[shown] * shift, means[shown], yerr=[s.error_bar for s, k in zip(spreads, shown) if k],
                    fmt=marker, color=color, ms=5, capsize=2, label=f"{label} (n = {n} seed × vector pairs)"
                    + (f"; mean 0 at m = {', '.join(str(w) for w in widths[~shown])}" if (~shown).any() else ""))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("first-layer width m")
    ax.set_ylabel("activated neurons per model, per vector")
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    ax.set_title("Figure 9. Neurons activated by a signal vector at init", fontsize=10)
    plotting.save(fig, outputs)


FIGURES = {"fig5": figure5, "fig6": figure6, "fig9": figure9}  # the toy's figures by catalog name

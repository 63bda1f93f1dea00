"""Tables of the paper built from the workflow's artifacts (Tables 2-5; Table 1 is the toy's)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from .cohort import Cohort
from .figures import SHUFFLED_TABLES
from .io import atomic_path, write_rows_csv


def _accuracies(checkpoint_dir) -> dict[int, tuple[float, float]]:
    rows = csv.DictReader(io.StringIO((Path(checkpoint_dir) / "accuracy.tsv").read_text()), delimiter="\t")
    return {int(r["model"]): (float(r["train"]), float(r["test"])) for r in rows}


def table2_rows(checkpoint_dirs: Sequence[str]) -> list[dict]:
    """Per (experiment, alpha): train and test accuracy of single models M_alpha (mean and std over every
    model of that width, all replicates: the base models at alpha = 1, every narrow model below),
    their parameter and feature counts, and M_feat, M_param."""
    groups = defaultdict(list)
    info = {}
    for folder in checkpoint_dirs:
        cohort = Cohort.load(folder)
        acc = _accuracies(folder)
        models = cohort.group("base") + cohort.group("base_other") if cohort.is_base else cohort.indices
        groups[(cohort.experiment, cohort.alpha)] += [acc[i] for i in models]
        info[(cohort.experiment, cohort.alpha)] = cohort
    rows = []
    for key in sorted(groups, key=lambda k: (k[0], -k[1])):
        values = np.asarray(groups[key])
        c = info[key]
        rows.append({"experiment": key[0], "arch": c.arch, "alpha": key[1], "n_params": c.n_params,
                     "n_features": c.n_features, "m_feat": c.m_feat, "m_param": c.m_param,
                     "train_accuracy": values[:, 0].mean(), "train_std": values[:, 0].std(),
                     "test_accuracy": values[:, 1].mean(), "test_std": values[:, 1].std(), "n_models": len(values)})
    return rows


def write_table2(checkpoint_dirs: Sequence[str], csv_path, md_path) -> None:
    rows = table2_rows(checkpoint_dirs)
    write_rows_csv(rows, csv_path)
    lines = ["Table 2. Accuracy (%) of single models M_alpha (mean ± std over every model of that width and all "
             "replicates) and the concatenation sizes M_feat and M_param from the real parameter counts.", "",
             "| experiment | α | parameters | features | M_feat | M_param | train accuracy (%) | test accuracy (%) | models |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['experiment']} | {r['alpha']:g} | {r['n_params']:,} | {r['n_features']} | {r['m_feat']} | "
              f"{r['m_param']} | {100 * r['train_accuracy']:.1f} ± {100 * r['train_std']:.1f} | "
              f"{100 * r['test_accuracy']:.1f} ± {100 * r['test_std']:.1f} | {r['n_models']} |" for r in rows]
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


TABLE3_ROWS = (  # (label, state, which alpha, feature set) as in the paper's Table 3
    ("FP of the random-init M_1", "init", "base", "base"),
    ("FP(R_over): residuals of M_1 the trained concatenation misses", "trained", "smallest", "over_param"),
    ("FP of the random-init concatenation (M_param)", "init", "smallest", "concat_param"),
    ("FP(R_low): residuals of the concatenation M_1 misses", "trained", "smallest", "low_param"),
)


def table3_rows(probe_tables: dict[str, list[dict]]) -> list[dict]:
    """Residual-only probes at each experiment's smallest alpha against random-init baselines
    (method.md section 6, Table 3): mean and std over replicates, in percent."""
    rows = []
    for label, state, which, features in TABLE3_ROWS:
        row = {"row": label}
        for exp, records in probe_tables.items():
            smallest = min(r["alpha"] for r in records)
            alpha = 1.0 if which == "base" else smallest
            values = [100 * r["accuracy"] for r in records
                      if r["state"] == state and r["alpha"] == alpha and r["features"] == features]
            row[exp] = (float(np.mean(values)), float(np.std(values)), len(values), alpha) if values else None
        rows.append(row)
    return rows


def write_table3(probe_tables: dict[str, list[dict]], csv_path, md_path) -> None:
    rows = table3_rows(probe_tables)
    exps = list(probe_tables)
    write_rows_csv([{"row": r["row"], "experiment": e, "alpha": r[e][3], "accuracy": r[e][0], "std": r[e][1],
                     "replicates": r[e][2]} for r in rows for e in exps if r[e]], csv_path)
    smallest = {e: min(rec["alpha"] for rec in probe_tables[e]) for e in exps}
    head = " | ".join(f"{e} (α = {smallest[e]:g})" for e in exps)
    md = ["Table 3. Probe test accuracy (%) on residual features alone at each experiment's smallest α, against "
          "random-init baselines; mean ± std over replicates.", "",
          f"| feature set | {head} |", "|---|" + "---|" * len(exps)]
    cell = lambda v: "–" if v is None else f"{v[0]:.1f} ± {v[1]:.1f}"  # noqa: E731
    md += [f"| {r['row']} | " + " | ".join(cell(r[e]) for e in exps) + " |" for r in rows]
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(md) + "\n")


ROW_ORDER = (("regular", "validation"), ("regular", "test"), ("shuffled", "validation"), ("shuffled", "test"))


def shuffled_rows(span_results: Sequence[dict], m_choice: str = "param") -> list[dict]:
    """Forward FSE per (experiment, regression, eval set, alpha): alpha = 1 is FSE(M_1' -> M_1), a smaller
    alpha FSE(concatenation of M_<m_choice> narrow models -> M_1); mean and std over replicates.

    Each narrow cohort's span result carries FSE(M_1' -> M_1) of its replicate; it is counted once per
    replicate (the same regression, repeated in every cohort of the replicate)."""
    values = defaultdict(dict)  # (experiment, regression, eval, alpha) -> {replicate: fse}
    for result in span_results:
        for r in result.get("forward_fse", []):
            if r["regressors"] == "M_1'":
                alpha = 1.0
            elif r["regressors"] == f"concat_{m_choice}":
                alpha = result["alpha"]
            else:
                continue
            values[(result["experiment"], r["regression"], r["eval"], alpha)][result["replicate"]] = r["fse"]
    rows = []
    for key in sorted(values, key=lambda k: (k[0], ROW_ORDER.index(k[1:3]), -k[3])):
        v = np.asarray(list(values[key].values()), dtype=float)
        rows.append({"experiment": key[0], "regression": key[1], "eval": key[2], "alpha": key[3],
                     "m_choice": m_choice, "fse": float(v.mean()), "std": float(v.std()), "replicates": len(v)})
    return rows


def write_shuffled_table(name: str, span_results: Sequence[dict], csv_path, md_path) -> None:
    rows = shuffled_rows(span_results)
    if not any(r["regression"] == "shuffled" for r in rows):
        raise ValueError(f"{name}: the span results hold no shuffled regression; set span.shuffled: true")
    write_rows_csv(rows, csv_path)
    arch = SHUFFLED_TABLES.get(name, "")
    md = [f"Table {name.removeprefix('table')}. Forward FSE of {arch} experiments, regular vs shuffled regression "
          "(Appendix D.4): α = 1 is FSE(M_1' → M_1), smaller α FSE(concatenation of M_param narrow models → M_1); "
          "mean ± std over replicates. Lower is better; the shuffled regression fits and evaluates on one mix "
          "of training and test inputs, so its validation and test errors should agree.", ""]
    for exp in dict.fromkeys(r["experiment"] for r in rows):
        mine = [r for r in rows if r["experiment"] == exp]
        alphas = sorted({r["alpha"] for r in mine}, reverse=True)
        cells = {(r["regression"], r["eval"], r["alpha"]): r for r in mine}
        md += [f"**{exp}**", "", "| regression | error | " + " | ".join(f"α = {_fraction(a)}" for a in alphas) + " |",
               "|---|---|" + "---|" * len(alphas)]
        for regression, eval_set in ROW_ORDER:
            row = [cells.get((regression, eval_set, a)) for a in alphas]
            md.append(f"| {regression} | {eval_set} | " + " | ".join(
                "–" if c is None else f"{c['fse']:.4f} ± {c['std']:.4f}" for c in row) + " |")
        md.append("")
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(md))


def _fraction(alpha: float) -> str:
    return "1" if alpha == 1 else f"1/{round(1 / alpha)}"

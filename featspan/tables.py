"""Tables of the paper built from the workflow's artifacts (Table 2: accuracies and M values)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from .cohort import Cohort
from .h5 import atomic_path, write_rows_csv


def _accuracies(checkpoint_dir) -> dict[int, tuple[float, float]]:
    rows = csv.DictReader(io.StringIO((Path(checkpoint_dir) / "accuracy.tsv").read_text()), delimiter="\t")
    return {int(r["seed"]): (float(r["train"]), float(r["test"])) for r in rows}


def table2_rows(checkpoint_dirs: Sequence[str]) -> list[dict]:
    """Per (experiment, alpha): train and test accuracy of single models M_alpha (mean and std over every
    model of that width, all replicates: the base models at alpha = 1, every narrow model below),
    their parameter and feature counts, and M_feat, M_param."""
    groups = defaultdict(list)
    info = {}
    for folder in checkpoint_dirs:
        cohort = Cohort.load(folder)
        acc = _accuracies(folder)
        seeds = cohort.group("base") + cohort.group("base_other") if cohort.is_base else cohort.seeds
        groups[(cohort.experiment, cohort.alpha)] += [acc[s] for s in seeds]
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
    with atomic_path(csv_path) as tmp:
        lines = ["row,experiment,alpha,accuracy,std,replicates"]
        lines += [f"\"{r['row']}\",{e},{r[e][3]},{r[e][0]},{r[e][1]},{r[e][2]}" for r in rows for e in exps if r[e]]
        tmp.write_text("\n".join(lines) + "\n")
    smallest = {e: min(rec["alpha"] for rec in probe_tables[e]) for e in exps}
    head = " | ".join(f"{e} (α = {smallest[e]:g})" for e in exps)
    md = ["Table 3. Probe test accuracy (%) on residual features alone at each experiment's smallest α, against "
          "random-init baselines; mean ± std over replicates.", "",
          f"| feature set | {head} |", "|---|" + "---|" * len(exps)]
    cell = lambda v: "–" if v is None else f"{v[0]:.1f} ± {v[1]:.1f}"  # noqa: E731
    md += [f"| {r['row']} | " + " | ".join(cell(r[e]) for e in exps) + " |" for r in rows]
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(md) + "\n")

"""Tables of the paper built from the workflow's artifacts (Table 2: accuracies and M values)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from .cohort import Cohort
from .h5 import atomic_path


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
    header = list(rows[0])
    with atomic_path(csv_path) as tmp:
        tmp.write_text(",".join(header) + "\n" + "".join(",".join(str(r[h]) for h in header) + "\n" for r in rows))
    lines = ["Table 2. Accuracy (%) of single models M_alpha (mean ± std over every model of that width and all "
             "replicates) and the concatenation sizes M_feat and M_param from the real parameter counts.", "",
             "| experiment | α | parameters | features | M_feat | M_param | train accuracy (%) | test accuracy (%) | models |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['experiment']} | {r['alpha']:g} | {r['n_params']:,} | {r['n_features']} | {r['m_feat']} | "
              f"{r['m_param']} | {100 * r['train_accuracy']:.1f} ± {100 * r['train_std']:.1f} | "
              f"{100 * r['test_accuracy']:.1f} ± {100 * r['test_std']:.1f} | {r['n_models']} |" for r in rows]
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")

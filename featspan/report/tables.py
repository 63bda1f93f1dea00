"""Tables of the paper built from the workflow's artifacts (Tables 2-5; Table 1 is the toy's).

Every cell is a mean with its sample standard deviation and count (:class:`featspan.spread.Spread`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from ..catalog import TABLES
from ..cohort import Cohort
from ..io import write_rows_csv, write_text
from ..models.scaling import alpha_label
from .spread import Spread


def _accuracies(checkpoint_dir) -> dict[int, tuple[float, float]]:
    rows = csv.DictReader(io.StringIO((Path(checkpoint_dir) / "accuracy.tsv").read_text()), delimiter="\t")
    return {int(r["model"]): (float(r["train"]), float(r["test"])) for r in rows}


def table2_rows(checkpoint_dirs: Sequence[str]) -> list[dict]:
    """Per (experiment, alpha): train and test accuracy of single models M_alpha (mean, sample std and
    count over every model of that width in all replicates: the base models at alpha = 1, every narrow
    model below), their parameter and feature counts, and M_feat, M_param. Experiments keep the order of
    their first cohort in ``checkpoint_dirs`` (the workflow passes them in config order); α descends."""
    groups = defaultdict(list)
    info = {}
    for folder in checkpoint_dirs:
        cohort = Cohort.load(folder)
        acc = _accuracies(folder)
        models = cohort.group("base") + cohort.group("base_other") if cohort.is_base else cohort.indices
        groups[(cohort.experiment, cohort.alpha)] += [acc[i] for i in models]
        info[(cohort.experiment, cohort.alpha)] = cohort
    order = list(dict.fromkeys(experiment for experiment, _ in groups))
    rows = []
    for key in sorted(groups, key=lambda k: (order.index(k[0]), -k[1])):
        train, test = Spread.of(a for a, _ in groups[key]), Spread.of(b for _, b in groups[key])
        c = info[key]
        rows.append({"experiment": key[0], "arch": c.arch, "alpha": key[1], "n_params": c.n_params,
                     "n_features": c.n_features, "m_feat": c.m_feat, "m_param": c.m_param,
                     "train_accuracy": train.mean, "train_std": train.sd, "test_accuracy": test.mean,
                     "test_std": test.sd, "n_models": train.n})
    return rows


def write_table2(checkpoint_dirs: Sequence[str], csv_path, md_path) -> None:
    rows = table2_rows(checkpoint_dirs)
    write_rows_csv(rows, csv_path)
    lines = [TABLES["table2"]["caption"], "",
             "| experiment | α | parameters | features | M_feat | M_param | train accuracy (%) | test accuracy (%) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        train = Spread(r["train_accuracy"], r["train_std"], r["n_models"]).format(".1f", 100)
        test = Spread(r["test_accuracy"], r["test_std"], r["n_models"]).format(".1f", 100)
        lines.append(f"| {r['experiment']} | {alpha_label(r['alpha'])} | {r['n_params']:,} | {r['n_features']} | "
                     f"{r['m_feat']} | {r['m_param']} | {train} | {test} |")
    lines += ["", "Regime (the paper's: α = 1 models that fit their training data):", "",
              "| experiment | α = 1 train accuracy (%) | train − test at α = 1 (points) | "
              "test at α = 1 − test at the smallest α (points) | in the paper's regime |", "|---|---|---|---|---|"]
    for e in regime_rows(rows):
        lines.append(f"| {e['experiment']} | {100 * e['base_train']:.1f} | {100 * e['base_gap']:.1f} | "
                     f"{100 * e['narrow_drop']:.1f} (α = {alpha_label(e['alpha_min'])}) | "
                     f"{'yes' if e['in_regime'] else 'no'} |")
    write_text("\n".join(lines) + "\n", md_path)


def regime_rows(table2: Sequence[dict]) -> list[dict]:
    """Per experiment of Table 2's rows (in their order): the α = 1 models' mean train accuracy, their
    train − test gap, the test accuracy lost at the smallest α, and whether the α = 1 models fit their
    training data (:data:`featspan.report.findings.REGIME_TRAIN_ACCURACY`)."""
    from .findings import in_regime

    out = []
    for exp in dict.fromkeys(r["experiment"] for r in table2):
        mine = {float(r["alpha"]): r for r in table2 if r["experiment"] == exp}
        if 1.0 not in mine:
            continue
        base, narrow = mine[1.0], mine[min(mine)]
        out.append({"experiment": exp, "base_train": float(base["train_accuracy"]),
                    "base_gap": float(base["train_accuracy"]) - float(base["test_accuracy"]),
                    "narrow_drop": float(base["test_accuracy"]) - float(narrow["test_accuracy"]),
                    "alpha_min": min(mine), "in_regime": in_regime(float(base["train_accuracy"]))})
    return out


TABLE3_ROWS = (  # (label, state, which alpha, feature set) as in the paper's Table 3
    ("FP of the random-init M_1", "init", "base", "base"),
    ("FP(R_over): residuals of M_1 the trained concatenation misses", "trained", "smallest", "over_param"),
    ("FP of the random-init concatenation (M_param)", "init", "smallest", "concat_param"),
    ("FP(R_low): residuals of the concatenation M_1 misses", "trained", "smallest", "low_param"),
)


def table3_rows(probe_tables: dict[str, list[dict]]) -> list[dict]:
    """Residual-only probes at each experiment's smallest alpha against random-init baselines
    (docs/method.md section 6, Table 3): a Spread over replicates, in percent, and the alpha."""
    rows = []
    for label, state, which, features in TABLE3_ROWS:
        row = {"row": label}
        for exp, records in probe_tables.items():
            smallest = min(r["alpha"] for r in records)
            alpha = 1.0 if which == "base" else smallest
            values = [100 * r["accuracy"] for r in records
                      if r["state"] == state and r["alpha"] == alpha and r["features"] == features]
            row[exp] = (Spread.of(values), alpha) if values else None
        rows.append(row)
    return rows


def write_table3(probe_tables: dict[str, list[dict]], csv_path, md_path) -> None:
    rows = table3_rows(probe_tables)
    exps = list(probe_tables)
    write_rows_csv([{"row": r["row"], "experiment": e, "alpha": r[e][1], "accuracy": r[e][0].mean,
                     "std": r[e][0].sd, "replicates": r[e][0].n} for r in rows for e in exps if r[e]], csv_path)
    smallest = {e: min(rec["alpha"] for rec in probe_tables[e]) for e in exps}
    head = " | ".join(f"{e} (α = {alpha_label(smallest[e])})" for e in exps)
    md = [TABLES["table3"]["caption"], "",
          f"| feature set | {head} |", "|---|" + "---|" * len(exps)]
    md += [f"| {r['row']} | " + " | ".join("–" if r[e] is None else r[e][0].format(".1f") for e in exps) + " |"
           for r in rows]
    write_text("\n".join(md) + "\n", md_path)


REGRESSIONS = ("regular", "regular_subsampled", "shuffled")
ROW_ORDER = tuple((reg, ev) for reg in REGRESSIONS for ev in ("validation", "test"))


def shuffled_rows(span_results: Sequence[dict], m_choice: str = "param") -> list[dict]:
    """Forward FSE per (experiment, regression, eval set, alpha): alpha = 1 is FSE(M_1' -> M_1), a smaller
    alpha FSE(concatenation of M_<m_choice> narrow models -> M_1); mean, sample std and count over
    replicates, with the fit and evaluation row counts of the regressions.

    Each narrow cohort's span result carries FSE(M_1' -> M_1) of its replicate; it is counted once per
    replicate (the same regression, repeated in every cohort of the replicate)."""
    values = defaultdict(dict)  # (experiment, regression, eval, alpha) -> {replicate: record}
    for result in span_results:
        for r in result.get("forward_fse", []):
            if r["regressors"] == "M_1'":
                alpha = 1.0
            elif r["regressors"] == f"concat_{m_choice}":
                alpha = result["alpha"]
            else:
                continue
            values[(result["experiment"], r["regression"], r["eval"], alpha)][result["replicate"]] = r
    rows = []
    for key in sorted(values, key=lambda k: (k[0], ROW_ORDER.index(k[1:3]), -k[3])):
        records = list(values[key].values())
        spread = Spread.of(r["fse"] for r in records)
        rows.append({"experiment": key[0], "regression": key[1], "eval": key[2], "alpha": key[3],
                     "m_choice": m_choice, "fse": spread.mean, "std": spread.sd, "replicates": spread.n,
                     "n_fit_rows": records[0].get("n_fit_rows"), "n_eval_rows": records[0].get("n_eval_rows")})
    return rows


def write_shuffled_table(name: str, span_results: Sequence[dict], csv_path, md_path) -> None:
    rows = shuffled_rows(span_results)
    if not any(r["regression"] == "shuffled" for r in rows):
        raise ValueError(f"{name}: the span results hold no shuffled regression; set span.shuffled: true")
    write_rows_csv(rows, csv_path)
    md = [TABLES[name]["caption"], ""]
    for exp in dict.fromkeys(r["experiment"] for r in rows):
        mine = [r for r in rows if r["experiment"] == exp]
        alphas = sorted({r["alpha"] for r in mine}, reverse=True)
        cells = {(r["regression"], r["eval"], r["alpha"]): r for r in mine}
        md += [f"**{exp}**", "", "| regression | error | rows | " + " | ".join(f"α = {alpha_label(a)}" for a in alphas)
               + " |", "|---|---|---|" + "---|" * len(alphas)]
        for regression, eval_set in ROW_ORDER:
            row = [cells.get((regression, eval_set, a)) for a in alphas]
            if not any(row):
                continue
            first = next(c for c in row if c)
            counts = f"{first['n_fit_rows']} / {first['n_eval_rows']}"
            md.append(f"| {regression.replace('_', ' ')} | {eval_set} | {counts} | "
                      + " | ".join("–" if c is None else Spread(c["fse"], c["std"], c["replicates"]).format(".4f")
                                   for c in row) + " |")
        md.append("")
    write_text("\n".join(md), md_path)

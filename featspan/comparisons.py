"""The paper's comparisons for one (experiment, state, alpha, replicate): FSE, FSG and FP.

Forward (docs/method.md section 5): ``FSG(alpha) = FSE(M_alpha^[M] -> M_1) - FSE(M_1' -> M_1)``.
Reverse: ``FSG_rev(alpha) = FSE(M_1 -> M_alpha) - FSE(M_alpha^[M] -> M_alpha)`` with a held-out M_alpha.
Both are computed for both M choices (features- and parameters-matched) and both evaluation sets.
The two FSEs of one gap are averaged over the same targets: those live on the fit part in both
regressions (``targets: live``). Appendix D.3's outlier rule (leave out targets whose test error
exceeds ``span.outlier_threshold`` in either regression) gives extra test-split records
(``targets: below_outlier_threshold``), which only Figure 12's second row shows; no validation number
ever depends on the test split.

All regressions of a cohort share one pass of fit-part statistics over every model involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .cohort import Cohort
from .h5 import FeatureBank
from .probe import feature_performance
from .span.similarity import debiased_linear_cka, linear_cka, row_norm_products
from .span import LambdaGrid, RidgeSpan, RowPlan, SpanResult, SpanStatistics

EVAL_SETS = ("validation", "test")


def feature_paths(directory: str | Path, cohort: Cohort, indices: Sequence[int]) -> list[Path]:
    return [Path(directory) / cohort.filename(i, ".h5") for i in indices]


def span_cohort(base_dir: str | Path, narrow_dir: str | Path, span_cfg: dict, residual_dir: str | Path | None = None,
                residual_m_choices: Sequence[str] = ("param",)) -> dict:
    """Every FSE and FSG of one narrow cohort against its replicate's base cohort.

    With ``residual_dir``, also writes the residual features of Definition 2.6 for each M choice:
    ``over_<m>.h5`` = R(M_alpha^[M] -> M_1) (what the concatenation misses of the base model) and
    ``low_<m>.h5`` = R(M_1 -> M_alpha^[M]) (what the base model misses of the concatenation).
    """
    base, narrow = Cohort.load(base_dir), Cohort.load(narrow_dir)
    if base.replicate != narrow.replicate:
        raise ValueError(f"cohorts of different replicates: {base.replicate} and {narrow.replicate}")
    named = {"M_1": feature_paths(base_dir, base, base.group("base")),
             "M_1'": feature_paths(base_dir, base, base.group("base_other"))}
    narrow_models = narrow.group("concat_param") if narrow.m_param >= narrow.m_feat else narrow.group("concat_feat")
    narrow_paths = feature_paths(narrow_dir, narrow, narrow_models)
    target_path = feature_paths(narrow_dir, narrow, narrow.group("target"))
    paths = named["M_1"] + named["M_1'"] + narrow_paths + target_path
    index = {"M_1": [0], "M_1'": [1], "concat_feat": list(range(2, 2 + narrow.m_feat)),
             "concat_param": list(range(2, 2 + narrow.m_param)), "M_alpha": [len(paths) - 1]}
    grid = LambdaGrid.of(span_cfg["lambdas"])
    threshold = span_cfg["outlier_threshold"]
    records = []
    with FeatureBank(paths) as bank:
        stats = _statistics(bank, RowPlan.regular, span_cfg)
        regression = _regressions(stats, index, span_cfg, grid)

        def fse(regressors: str, targets: str):
            return regression(regressors, targets)[0]

        for m_choice in ("feat", "param"):
            concat = f"concat_{m_choice}"
            pairs = {"forward": (fse(concat, "M_1"), fse("M_1'", "M_1")),
                     "reverse": (fse("M_1", "M_alpha"), fse(concat, "M_alpha"))}
            for direction, (first, second) in pairs.items():
                head = {"direction": direction, "m_choice": m_choice,
                        "m": narrow.m_feat if m_choice == "feat" else narrow.m_param}
                records += gap_records(first, second, head, threshold)
        forward_fse = _forward_fse(regression, "regular")
        # CKA beside the FSE, from the same statistics (fit rows)
        products = row_norm_products(stats)
        pairs = [("concat_param", "M_1"), ("concat_feat", "M_1"), ("M_1'", "M_1"),
                 ("M_1", "M_alpha"), ("concat_feat", "M_alpha"), ("concat_param", "M_alpha")]
        similarity = [{"first": a, "second": b, "cka": linear_cka(stats, index[a], index[b]),
                       "cka_debiased": debiased_linear_cka(stats, index[a], index[b], products)} for a, b in pairs]
        if residual_dir is not None:
            Path(residual_dir).mkdir(parents=True, exist_ok=True)
            attrs = {"experiment": narrow.experiment, "arch": narrow.arch, "alpha": narrow.alpha,
                     "replicate": narrow.replicate}
            for m_choice in residual_m_choices:
                concat = f"concat_{m_choice}"
                for kind, (regressors, targets) in {"over": (concat, "M_1"), "low": ("M_1", concat)}.items():
                    _, span, coef = regression(regressors, targets)
                    span.write_residuals(coef, Path(residual_dir) / f"{kind}_{m_choice}.h5",
                                         {**attrs, "state": f"residual_{kind}", "regressors": regressors,
                                          "targets": targets, "m_choice": m_choice})
    if span_cfg["shuffled"]:
        for plan in (RowPlan.shuffled, RowPlan.regular_subsampled):
            forward_fse += _forward_fse_with_plan(paths[:-1], index, span_cfg, grid, plan)
    return {"experiment": narrow.experiment, "arch": narrow.arch, "alpha": narrow.alpha,
            "replicate": narrow.replicate, "data_order": narrow.data_order, "m_feat": narrow.m_feat,
            "m_param": narrow.m_param,
            "lambda_grid": {**span_cfg["lambdas"]}, "per_target_lambda": span_cfg["per_target_lambda"],
            "validation_fraction": span_cfg["validation_fraction"], "outlier_threshold": threshold,
            "outlier_rule": "test-split records with targets: below_outlier_threshold only (Appendix D.3)",
            "backend": stats.backend.describe(), "similarity": similarity, "forward_fse": forward_fse,
            "records": records}


def _statistics(bank: FeatureBank, make_plan, span_cfg: dict) -> SpanStatistics:
    """One pass of statistics over the bank's rows as the plan (``RowPlan.regular`` or ``.shuffled``) splits them."""
    plan = make_plan(bank.n_rows("train"), bank.n_rows("test"), span_cfg["validation_fraction"], span_cfg["split_seed"])
    return SpanStatistics.compute(bank, plan, span_cfg["chunk_rows"], span_cfg["backend"])


def _regressions(stats: SpanStatistics, index: dict, span_cfg: dict, grid: LambdaGrid):
    """``regression(regressors, targets) -> (result, span, coef)`` between named file groups, each solved once."""
    solved = {}

    def regression(regressors: str, targets: str):
        key = (regressors, targets)
        if key not in solved:
            span = RidgeSpan(stats, index[regressors], index[targets])
            result, coef = span.run(grid, span_cfg["per_target_lambda"], EVAL_SETS)
            solved[key] = (result, span, coef)
        return solved[key]

    return regression


def gap_records(first: SpanResult, second: SpanResult, head: dict, threshold: float | None) -> list[dict]:
    """FSG = FSE(first) - FSE(second) on each evaluation set, both FSEs averaged over the same targets.

    ``targets: live`` averages over the targets live in both regressions (every set); with a
    ``threshold``, ``targets: below_outlier_threshold`` (test split only) also leaves out the targets
    whose test error exceeds it in either regression (Appendix D.3). Each record lists the targets it
    left out and why."""
    dead = first.dead | second.dead
    variants = [("live", ~dead, EVAL_SETS, np.zeros_like(dead))]
    if threshold is not None:
        outliers = first.outliers(threshold) | second.outliers(threshold)
        variants.append(("below_outlier_threshold", ~dead & ~outliers, ("test",), outliers))
    records = []
    for targets, keep, eval_sets, left_out in variants:
        for eval_set in eval_sets:
            a, b = first.fse(eval_set, keep), second.fse(eval_set, keep)
            records.append({
                **head, "eval": eval_set, "targets": targets, "fse_first": a, "fse_second": b, "fsg": a - b,
                "n_targets": first.n_targets, "n_used_targets": int(keep.sum()),
                "n_dead_targets": int(dead.sum()), "dead_targets": np.flatnonzero(dead).tolist(),
                "n_outlier_targets": int(left_out.sum()), "outlier_targets": np.flatnonzero(left_out).tolist(),
                "outlier_threshold": threshold if targets != "live" else None,
                "lambda_first": first.summary()["lambda"], "lambda_second": second.summary()["lambda"],
            })
    return records


FORWARD_REGRESSORS = ("M_1'", "concat_feat", "concat_param")


def _forward_fse(regression, row_plan: str) -> list[dict]:
    """FSE(R -> M_1) for R = another base model and both concatenations (Tables 4 and 5), each over its
    own live targets, on both evaluation sets, with the row counts it used."""
    records = []
    for regressors in FORWARD_REGRESSORS:
        result = regression(regressors, "M_1")[0]
        keep = result.keep("validation")
        records += [{"regression": row_plan, "regressors": regressors, "eval": eval_set,
                     "fse": result.fse(eval_set, keep), "n_used_targets": int(keep.sum()),
                     "n_fit_rows": result.n_fit, "n_eval_rows": result.n_eval[eval_set]}
                    for eval_set in EVAL_SETS]
    return records


def _forward_fse_with_plan(paths, index, span_cfg: dict, grid: LambdaGrid, plan) -> list[dict]:
    """The forward FSEs again under another row plan: Appendix D.4's shuffled regression (fit, validation
    and test rows drawn from one pool of half training, half test inputs) or the regular regression
    subsampled to the shuffled pool's sizes (so Tables 4 and 5 compare equal sample sizes)."""
    with FeatureBank(paths) as bank:
        stats = _statistics(bank, plan, span_cfg)
        return _forward_fse(_regressions(stats, index, span_cfg, grid), stats.plan.kind)


def probe_sets(cohort_dir, base_dir=None, residual_dir=None, residual_m_choices=("param",)) -> dict[str, list[Path]]:
    """The feature sets probed for one cohort, by name, as lists of files to concatenate.

    alpha = 1: ``base`` (M_1). alpha < 1: ``single`` (one M_alpha), ``concat_feat``, ``concat_param``,
    and with residuals, for each M choice m (Figure 4, Table 3): ``concat_<m>+over`` = [F(M_alpha^[M]),
    R_over], ``base+low_<m>`` = [F(M_1), R_low], ``over_<m>`` = R_over and ``low_<m>`` = R_low alone.
    """
    cohort = Cohort.load(cohort_dir)
    if cohort.is_base:
        return {"base": feature_paths(cohort_dir, cohort, cohort.group("base"))}
    sets = {name: feature_paths(cohort_dir, cohort, cohort.group(name))
            for name in ("single", "concat_feat", "concat_param")}
    if residual_dir is not None:
        base = Cohort.load(base_dir)
        base_paths = feature_paths(base_dir, base, base.group("base"))
        for m in residual_m_choices:
            over, low = Path(residual_dir) / f"over_{m}.h5", Path(residual_dir) / f"low_{m}.h5"
            sets[f"concat_{m}+over"] = sets[f"concat_{m}"] + [over]
            sets[f"base+low_{m}"] = base_paths + [low]
            sets[f"over_{m}"] = [over]
            sets[f"low_{m}"] = [low]
    return sets


class ProbeNotConverged(RuntimeError):
    """A probe's fit stopped before meeting its tolerance: its accuracy is not the probe's."""


def probe_cohort(cohort_dir: str | Path, probe_cfg: dict, base_dir=None, residual_dir=None,
                 residual_m_choices: Sequence[str] = ("param",)) -> dict:
    """FP (test accuracy of a linear probe) of every feature set of :func:`probe_sets`; every fit must
    converge, else the job fails naming the feature set."""
    cohort = Cohort.load(cohort_dir)
    records = []
    for name, paths in probe_sets(cohort_dir, base_dir, residual_dir, residual_m_choices).items():
        with FeatureBank(paths) as bank:
            result = feature_performance(bank.read("train"), bank.labels("train"), bank.read("test"),
                                         bank.labels("test"), C=probe_cfg.get("C"), C_grid=probe_cfg["C_grid"],
                                         validation_fraction=probe_cfg["validation_fraction"],
                                         split_seed=probe_cfg["split_seed"], max_iter=probe_cfg["max_iter"],
                                         tol=probe_cfg["tol"])
        if not result.converged:
            cap = ("the solver's iteration cap" if probe_cfg["max_iter"] is None
                   else f"probe.max_iter = {probe_cfg['max_iter']} iterations")
            raise ProbeNotConverged(
                f"the probe on feature set {name!r} of {cohort.experiment} alpha={cohort.alpha:g} "
                f"replicate={cohort.replicate} ({', '.join(str(p) for p in paths)}) did not reach the gradient "
                f"tolerance {probe_cfg['tol']:g} within {cap}; raise probe.max_iter")
        records.append({"features": name, "n_files": len(paths), **result.summary()})
    return {"experiment": cohort.experiment, "arch": cohort.arch, "alpha": cohort.alpha,
            "replicate": cohort.replicate, "data_order": cohort.data_order, "m_feat": cohort.m_feat,
            "m_param": cohort.m_param, "records": records}

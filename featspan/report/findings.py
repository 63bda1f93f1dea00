"""The paper's findings, one per row, tested on every experiment (the "findings" table and report section).

Each finding is a per-replicate statistic ``d`` with a side the paper predicts (docs/method.md section 9
gives every definition, the paper's claim it tests and the span identity behind the residual rows). A
cell holds the mean ± sample std of ``d`` over replicates with its n, a 95 % t interval, the p of the
test and a verdict:

* ``greater`` / ``less`` rows: a two-sided one-sample t-test of mean(d) = 0; *agrees* (*disagrees*) at
  p < 0.05 with the mean on the paper's (the other) side, *no evidence either way* otherwise;
* ``equivalent`` rows (the paper says "barely"): two one-sided tests (TOST) against the stated margin;
  *agrees* when both reject (p < 0.05: d lies within ±margin), *disagrees* when a one-sided test puts
  d beyond the margin, *no evidence either way* otherwise;
* one replicate: the value and *n = 1, no test*; an experiment whose α = 1 models fit less than
  :data:`REGIME_TRAIN_ACCURACY` of their training data: *not in the paper's regime*, no verdict.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

from scipy import stats as scipy_stats

from ..catalog import TABLES
from ..io import write_rows_csv, write_text
from ..models.registry import ARCHITECTURES
from ..models.scaling import alpha_label
from .spread import Spread

LEVEL = 0.05                  # the test's size: a verdict needs p < LEVEL
REGIME_TRAIN_ACCURACY = 0.95  # the paper's regime: α = 1 models that fit their training data (docs/method.md 9)
# Appendix D.4 (the shuffled regression) studies the vision families only
VISION_ARCHS = tuple(name for name, a in ARCHITECTURES.items() if a.vision)


@dataclass(frozen=True)
class Finding:
    key: str
    label: str
    claim: str        # what the paper reports, in its words where it has them
    statistic: str    # d, in the notation of docs/method.md
    unit: str         # "" (an FSE difference) or "points" (probe accuracy, percentage points)
    side: str = "greater"      # the paper's side: "greater" (d > 0), "less" (d < 0), "equivalent" (|d| < margin)
    margin: float | None = None  # the equivalence margin of an "equivalent" row, in d's unit
    vision_only: bool = False


FINDINGS = (
    Finding("forward_positive", "Forward FSG above zero at the smallest α (Fig. 1, Finding 3.1)",
            "low-width models cannot capture the features of the overparameterized one",
            "FSG_fwd(α_min), trained, M_param, validation", ""),
    Finding("forward_growth", "Forward FSG grows as α shrinks (Fig. 1, Finding 3.1)",
            "for trained networks, as α decreases FSG(α) increases",
            "FSG_fwd(α_min) − FSG_fwd(1/2), trained, M_param, validation", ""),
    Finding("forward_init_trend", "No growth of the forward FSG at random init (Fig. 7)",
            "random low-width features capture the random overparameterized ones (no growth as α shrinks)",
            "FSG_fwd(α_min) − FSG_fwd(1/2), random init, M_param, validation (the paper's side: ≤ 0)", "",
            side="less"),
    Finding("reverse_growth", "Reverse FSG large at small α, near zero at mild α (Fig. 2)",
            "the FSG is large for sufficiently low-width models and close to zero for mildly low-width ones",
            "FSG_rev(α_min) − FSG_rev(1/2), trained, M_feat, validation", ""),
    Finding("reverse_trained_vs_init", "Reverse FSG, trained vs random init (Figs. 2 and 8)",
            "at random init the reverse FSE is almost negligible",
            "FSG_rev(α_min) trained − FSG_rev(α_min) random init, M_feat, validation", ""),
    Finding("fp_gap", "FP gap: M_1 out-probes the concatenation (Fig. 3, Finding 3.2)",
            "FP(M_1) is significantly higher than FP of the concatenation, more so as α decreases",
            "FP(M_1) − FP(concat. M_param at α_min), test accuracy", "points"),
    Finding("r_over_gain", "Appended R_over raises the concatenation's accuracy (Fig. 4)",
            "the residuals R_over significantly improve performance",
            "FP([concat., R_over]) − FP(concat.), M_param at α_min", "points"),
    Finding("r_low_gain", "Appended R_low barely changes M_1's accuracy (Fig. 4)",
            "contrary to the residuals R_low (which barely improve performance)",
            "FP([M_1, R_low]) − FP(M_1), M_param at α_min (the paper's side: within ±1 point)", "points",
            side="equivalent", margin=1.0),
    Finding("r_over_alone", "R_over alone beats random-init M_1 (Table 3)",
            "R_over performs better than or similar to the random overparameterized features (only 'better' is "
            "tested)",
            "FP(R_over) − FP(random-init M_1), at α_min", "points"),
    Finding("r_low_alone", "R_low alone vs random-init concatenation (Table 3)",
            "R_low underperforms its baseline, the random low-width concatenation",
            "FP(random-init concat. M_param) − FP(R_low), at α_min", "points"),
    Finding("shuffled_base", "Shuffled regression narrows the validation-test gap at α = 1 (Tables 4 and 5)",
            "a significant reduction of the gap between validation and test FSE for the shuffled regression",
            "|FSE_test − FSE_val| regular on equal rows − the same, shuffled; M_1' → M_1", "",
            vision_only=True),
    Finding("shuffled_across", "Shuffled regression narrows the validation-test gap across α (Tables 4 and 5)",
            "a significant reduction of the gap between validation and test FSE for the shuffled regression",
            "mean over α < 1 of |FSE_test − FSE_val| regular on equal rows − the same, shuffled; "
            "concat. M_param → M_1", "", vision_only=True),
)


@dataclass(frozen=True)
class Test:
    """The test behind one cell: d's spread, its 95 % t interval, p and the verdict."""

    spread: Spread
    ci: tuple[float, float] | None
    p: float | None
    verdict: str


def _p(values: list[float], popmean: float = 0.0, alternative: str = "two-sided") -> float:
    """scipy's one-sample t-test p of H0: mean = popmean against ``alternative``; values without spread
    (where scipy returns NaN) are decided by their mean alone."""
    if max(values) == min(values):
        mean = values[0]
        hit = {"two-sided": mean != popmean, "greater": mean > popmean, "less": mean < popmean}[alternative]
        return 0.0 if hit else 1.0
    return float(scipy_stats.ttest_1samp(values, popmean, alternative=alternative).pvalue)


def judge(values: Sequence[float], side: str = "greater", margin: float | None = None, level: float = LEVEL) -> Test:
    """The verdict on one cell from its per-replicate values (module docstring; docs/method.md section 9).

    ``greater`` / ``less``: the two-sided one-sample t-test of mean = 0 (scipy's ``ttest_1samp``).
    ``equivalent``: TOST with bounds ±``margin``; its p is the larger of the two one-sided p."""
    values = [float(v) for v in values]
    spread = Spread.of(values)
    if spread.n == 0 or math.isnan(spread.mean):
        return Test(spread, None, None, "no data")
    if spread.n == 1:
        return Test(spread, None, None, "n = 1, no test")
    half = float(scipy_stats.t.ppf(1 - level / 2, spread.n - 1)) * spread.sd / math.sqrt(spread.n)
    ci = (spread.mean - half, spread.mean + half)
    if side == "equivalent":
        p = max(_p(values, -margin, "greater"), _p(values, margin, "less"))
        beyond = min(_p(values, margin, "greater"), _p(values, -margin, "less"))
        verdict = "agrees" if p < level else "disagrees" if beyond < level else "no evidence either way"
        return Test(spread, ci, p, verdict)
    p = _p(values)
    if p >= level:
        return Test(spread, ci, p, "no evidence either way")
    on_paper_side = spread.mean > 0 if side == "greater" else spread.mean < 0
    return Test(spread, ci, p, "agrees" if on_paper_side else "disagrees")


def _by_replicate(rows, value: Callable[[dict], float]) -> dict[int, float]:
    return {int(r["replicate"]): value(r) for r in rows}


def _gaps(span_rows, direction: str, state: str, m_choice: str) -> dict[float, dict[int, float]]:
    """{alpha: {replicate: FSG}} of the figure's selection (validation part, every live target)."""
    sel = [r for r in span_rows if r["direction"] == direction and r["state"] == state and r["m_choice"] == m_choice
           and r["eval"] == "validation" and r.get("targets", "live") == "live"]
    by_alpha = defaultdict(list)
    for r in sel:
        by_alpha[float(r["alpha"])].append(r)
    return {a: _by_replicate(rows, lambda r: float(r["fsg"])) for a, rows in by_alpha.items()}


def _accuracies(probe_rows, state: str, features: str) -> dict[float, dict[int, float]]:
    """{alpha: {replicate: test accuracy in percent}} of one feature set."""
    by_alpha = defaultdict(list)
    for r in probe_rows:
        if r["state"] == state and r["features"] == features:
            by_alpha[float(r["alpha"])].append(r)
    return {a: _by_replicate(rows, lambda r: 100 * float(r["accuracy"])) for a, rows in by_alpha.items()}


def _combine(fn, *series: dict[int, float]) -> dict[int, float]:
    """fn(values...) per replicate present in every series."""
    common = set.intersection(*(set(s) for s in series)) if series else set()
    return {r: fn(*(s[r] for s in series)) for r in sorted(common)}


def _forward_fse(result: dict, regressors: str) -> dict[tuple[str, str], float]:
    """{(regression, eval set): FSE} of one span result's forward records with these regressors."""
    return {(r["regression"], r["eval"]): r["fse"] for r in result.get("forward_fse", [])
            if r["regressors"] == regressors}


def _shuffle_gain(fse: dict[tuple[str, str], float]) -> float | None:
    """|test − validation| of the regular regression on the shuffled pool's row counts minus that of the
    shuffled regression (equal fit and evaluation rows: docs/method.md section 8); None if one is missing."""
    keys = [(reg, ev) for reg in ("regular_subsampled", "shuffled") for ev in ("validation", "test")]
    if not set(keys) <= set(fse):
        return None
    return (abs(fse["regular_subsampled", "test"] - fse["regular_subsampled", "validation"])
            - abs(fse["shuffled", "test"] - fse["shuffled", "validation"]))


def _shuffled_statistics(span_results: Sequence[dict]) -> tuple[dict, dict, dict]:
    """Per replicate: the shuffle gain at α = 1 (M_1' → M_1), its mean over the narrow α (concat. M_param
    → M_1), and that mean's parts {α label: {replicate: gain}}."""
    base, by_alpha = {}, defaultdict(dict)
    for result in span_results:
        rep = int(result["replicate"])
        gain = _shuffle_gain(_forward_fse(result, "M_1'"))
        if gain is not None:
            base[rep] = gain  # every narrow cohort repeats its replicate's M_1' → M_1 regression
        gain = _shuffle_gain(_forward_fse(result, "concat_param"))
        if gain is not None:
            by_alpha[float(result["alpha"])][rep] = gain
    alphas = sorted(by_alpha, reverse=True)
    across = _combine(lambda *g: sum(g) / len(g), *(by_alpha[a] for a in alphas)) if alphas else {}
    return base, across, {f"α = {alpha_label(a)}": by_alpha[a] for a in alphas}


def experiment_statistics(span_rows: list[dict], probe_rows: list[dict],
                          span_results: Sequence[dict] = ()) -> tuple[float, dict[str, dict]]:
    """(α_min, {finding key: {"d": {replicate: d}, "parts": {name: {replicate: value}}}}) of one experiment.

    ``span_results`` are the trained narrow cohorts' span JSON files (the shuffled rows read them)."""
    alphas = sorted({float(r["alpha"]) for r in span_rows if float(r["alpha"]) < 1})
    # a trend needs two narrow widths: with one, the growth rows have no data (never d = 0 by construction)
    a_min, a_mild = alphas[0], (alphas[-1] if len(alphas) > 1 else None)
    out = {}

    fwd_tr, fwd_init = _gaps(span_rows, "forward", "trained", "param"), _gaps(span_rows, "forward", "init", "param")
    rev_tr, rev_init = _gaps(span_rows, "reverse", "trained", "feat"), _gaps(span_rows, "reverse", "init", "feat")

    def get(table, alpha):
        return table.get(alpha, {})

    def difference(a, b):
        return _combine(lambda x, y: x - y, a, b)

    out["forward_positive"] = {"d": dict(get(fwd_tr, a_min)), "parts": {}}
    out["forward_growth"] = {"d": difference(get(fwd_tr, a_min), get(fwd_tr, a_mild)),
                             "parts": {"FSG(α_min)": get(fwd_tr, a_min), "FSG(mild α)": get(fwd_tr, a_mild)}}
    out["forward_init_trend"] = {"d": difference(get(fwd_init, a_min), get(fwd_init, a_mild)),
                                 "parts": {"FSG_init(α_min)": get(fwd_init, a_min),
                                           "FSG_init(mild α)": get(fwd_init, a_mild)}}
    out["reverse_growth"] = {"d": difference(get(rev_tr, a_min), get(rev_tr, a_mild)),
                             "parts": {"FSG(α_min)": get(rev_tr, a_min), "FSG(mild α)": get(rev_tr, a_mild)}}
    out["reverse_trained_vs_init"] = {"d": difference(get(rev_tr, a_min), get(rev_init, a_min)),
                                      "parts": {"trained": get(rev_tr, a_min), "random init": get(rev_init, a_min)}}

    def acc(state, features, alpha):
        return _accuracies(probe_rows, state, features).get(alpha, {})

    base, base_init = acc("trained", "base", 1.0), acc("init", "base", 1.0)
    concat = acc("trained", "concat_param", a_min)
    out["fp_gap"] = {"d": difference(base, concat), "parts": {"M_1": base, "concat.": concat}}
    with_over, with_low = acc("trained", "concat_param+over", a_min), acc("trained", "base+low_param", a_min)
    out["r_over_gain"] = {"d": difference(with_over, concat), "parts": {"[concat., R_over]": with_over,
                                                                       "concat.": concat}}
    out["r_low_gain"] = {"d": difference(with_low, base), "parts": {"[M_1, R_low]": with_low, "M_1": base}}
    over, low = acc("trained", "over_param", a_min), acc("trained", "low_param", a_min)
    concat_init = acc("init", "concat_param", a_min)
    out["r_over_alone"] = {"d": difference(over, base_init), "parts": {"R_over": over, "random-init M_1": base_init}}
    out["r_low_alone"] = {"d": difference(concat_init, low), "parts": {"R_low": low, "random-init concat.": concat_init}}
    shuffled_base, shuffled_across, per_alpha = _shuffled_statistics(span_results)
    out["shuffled_base"] = {"d": shuffled_base, "parts": {}}
    out["shuffled_across"] = {"d": shuffled_across, "parts": per_alpha}
    return a_min, out


def in_regime(train_accuracy: float | None) -> bool:
    """The paper's regime: the α = 1 models fit their training data (mean train accuracy ≥ 95 %).
    Unknown (no Table 2 row) counts as in the regime, so a verdict is never hidden for lack of a file."""
    return train_accuracy is None or train_accuracy >= REGIME_TRAIN_ACCURACY


def findings_rows(experiments: dict[str, tuple[list[dict], list[dict], Sequence[dict]]],
                  archs: dict[str, str] | None = None,
                  base_train_accuracy: dict[str, float] | None = None) -> list[dict]:
    """One record per (finding, experiment): d's Spread, 95 % interval, p, verdict and each part's mean.

    ``archs`` (experiment → architecture) limits the vision-only rows; ``base_train_accuracy``
    (experiment → mean train accuracy of its α = 1 models, Table 2) marks experiments outside the regime."""
    archs, base_train_accuracy = archs or {}, base_train_accuracy or {}
    rows = []
    for exp, (span_rows, probe_rows, span_results) in experiments.items():
        a_min, stats = experiment_statistics(span_rows, probe_rows, span_results)
        fits = base_train_accuracy.get(exp)
        for f in FINDINGS:
            values = list(stats[f.key]["d"].values())
            result = judge(values, f.side, f.margin)
            verdict = result.verdict
            if f.vision_only and archs.get(exp, VISION_ARCHS[0]) not in VISION_ARCHS:
                verdict = "vision only (Appendix D.4)"
            elif not in_regime(fits) and verdict != "no data":
                verdict = "not in the paper's regime"
            parts = {name: Spread.of(v.values()) for name, v in stats[f.key]["parts"].items()}
            rows.append({"finding": f.key, "label": f.label, "experiment": exp, "alpha_min": a_min,
                         "d": result.spread.mean, "std": result.spread.sd, "replicates": result.spread.n,
                         "ci_low": result.ci[0] if result.ci else None, "ci_high": result.ci[1] if result.ci else None,
                         "p": result.p, "test": _test_name(f), "verdict": verdict,
                         "base_train_accuracy": fits,
                         "parts": {name: s.mean for name, s in parts.items()},
                         "parts_std": {name: s.sd for name, s in parts.items()}})
    return rows


def _test_name(f: Finding) -> str:
    if f.side == "equivalent":
        return f"TOST, margin ±{f.margin:g}" + (" points" if f.unit == "points" else "")
    return "two-sided one-sample t-test"


def _cell(row: dict, unit: str) -> str:
    fmt = ".1f" if unit == "points" else ".4f"
    d = Spread(row["d"], row["std"], row["replicates"])
    if row["verdict"].startswith("vision only"):
        return row["verdict"]
    parts = "; ".join(f"{name} {Spread(v, row['parts_std'][name], row['replicates']).format(fmt, with_n=False)}"
                      for name, v in row["parts"].items())
    text = f"d = {d.format(fmt)}"
    if row["p"] is not None:
        text += f", 95 % CI [{row['ci_low']:{fmt}}, {row['ci_high']:{fmt}}], p = {_format_p(row['p'])}"
    return f"{text} ({parts}): **{row['verdict']}**" if parts else f"{text}: **{row['verdict']}**"


def _format_p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else "< 0.001"


def write_findings(experiments: dict[str, tuple[list[dict], list[dict], Sequence[dict]]], csv_path, md_path,
                   html_path, archs: dict[str, str] | None = None,
                   base_train_accuracy: dict[str, float] | None = None) -> None:
    """The findings table as CSV (one record per finding and experiment), Markdown and HTML."""
    rows = findings_rows(experiments, archs, base_train_accuracy)
    write_rows_csv([{**{k: v for k, v in r.items() if k not in ("parts", "parts_std")},
                     **{f"part: {n}": v for n, v in r["parts"].items()}} for r in rows], csv_path)
    exps = list(experiments)
    cells = {(r["finding"], r["experiment"]): r for r in rows}
    a_min = {r["experiment"]: r["alpha_min"] for r in rows}
    fits = {r["experiment"]: r["base_train_accuracy"] for r in rows}
    head = [f"{e} (α_min = {alpha_label(a_min[e])}" + (f"; α = 1 train {100 * fits[e]:.1f} %" if fits[e] is not None
                                                        else "") + ")" for e in exps]
    md = [TABLES["findings"]["caption"], "", "| finding | d | test | " + " | ".join(head) + " |",
          "|---|---|---|" + "---|" * len(exps)]
    for f in FINDINGS:
        row = [f.label, f.statistic, _test_name(f)] + [_cell(cells[f.key, e], f.unit) for e in exps]
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")  # |x| inside a cell
    write_text("\n".join(md) + "\n", md_path)
    write_text(_html(rows, exps, head), html_path)


VERDICT_COLOR = {"agrees": "#d9f2d9", "disagrees": "#f8d7d7", "no evidence either way": "#ffffff",
                 "n = 1, no test": "#e6e6e6", "not in the paper's regime": "#e6e6e6",
                 "vision only (Appendix D.4)": "#e6e6e6", "no data": "#ffffff"}
GREYED = {"n = 1, no test", "not in the paper's regime", "vision only (Appendix D.4)"}


def _html(rows, exps, head) -> str:
    cells = {(r["finding"], r["experiment"]): r for r in rows}
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><style>",
           "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse}",
           "td,th{border:1px solid #bbb;padding:4px 6px;vertical-align:top} small{color:#555}",
           "td.greyed{color:#888}",
           "</style></head><body>", f"<p>{html.escape(TABLES['findings']['caption'])}</p>",
           "<table><tr><th>finding</th>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for f in FINDINGS:
        out.append(f"<tr><td><b>{html.escape(f.label)}</b><br><small>paper: {html.escape(f.claim)}<br>"
                   f"d = {html.escape(f.statistic)}<br>test: {html.escape(_test_name(f))}</small></td>")
        for e in exps:
            r = cells[f.key, e]
            text = _cell(r, f.unit).replace("**", "")
            grey = " class='greyed'" if r["verdict"] in GREYED else ""
            out.append(f"<td{grey} style='background:{VERDICT_COLOR[r['verdict']]}'>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"

"""The paper's findings, one per row, tested on every experiment (the "findings" table and report section).

Each finding is a per-replicate statistic ``d`` whose sign the paper predicts (docs/method.md section 9
gives every definition and the paper's claim it tests); a cell is the mean ± sample std of ``d`` over
the replicates with its n, the values ``d`` is made of, and a verdict:

* ``agrees``: the mean of ``d`` lies beyond one sample std on the paper's side of zero;
* ``disagrees``: beyond one sample std on the other side;
* ``within noise``: closer to zero than one sample std (or a single replicate: its sign alone is shown).

Verdicts test direction only; the magnitudes are in the figures and tables the rows point at.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

from ..catalog import TABLES
from ..io import write_rows_csv, write_text
from ..models.scaling import alpha_label
from .spread import Spread


@dataclass(frozen=True)
class Finding:
    key: str
    label: str
    claim: str        # what the paper reports, in its words where it has them
    statistic: str    # d, in the notation of docs/method.md
    unit: str         # "" (an FSE difference) or "points" (probe accuracy, percentage points)


FINDINGS = (
    Finding("forward_growth", "Forward FSG grows as α shrinks (Fig. 1, Finding 3.1)",
            "for trained networks, as α decreases FSG(α) increases",
            "FSG_fwd(α_min) − FSG_fwd(1/2), trained, M_param, validation", ""),
    Finding("forward_trained_vs_init", "Forward FSG, trained vs random init (Figs. 1 and 7)",
            "random low-width features capture the random overparameterized ones; trained ones do not",
            "FSG_fwd(α_min) trained − FSG_fwd(α_min) random init, M_param, validation", ""),
    Finding("reverse_growth", "Reverse FSG large at small α, near zero at mild α (Fig. 2)",
            "the FSG is large for sufficiently low-width models and close to zero for mildly low-width ones",
            "FSG_rev(α_min) − FSG_rev(1/2), trained, M_feat, validation", ""),
    Finding("reverse_trained_vs_init", "Reverse FSG, trained vs random init (Figs. 2 and 8)",
            "at random init the reverse FSE is almost negligible",
            "FSG_rev(α_min) trained − FSG_rev(α_min) random init, M_feat, validation", ""),
    Finding("fp_gap", "FP gap: M_1 out-probes the concatenation (Fig. 3, Finding 3.2)",
            "FP(M_1) is significantly higher than FP of the concatenation, more so as α decreases",
            "FP(M_1) − FP(concat. M_param at α_min), test accuracy", "points"),
    Finding("residuals_appended", "Appended residuals: R_over helps, R_low barely (Fig. 4)",
            "the residuals R_over significantly improve performance, contrary to the residuals R_low",
            "[FP(concat., R_over) − FP(concat.)] − [FP(M_1, R_low) − FP(M_1)], M_param at α_min", "points"),
    Finding("r_over_alone", "R_over alone vs random-init M_1 (Table 3)",
            "R_over performs better than or similar to the random overparameterized features",
            "FP(R_over) − FP(random-init M_1), at α_min", "points"),
    Finding("r_low_alone", "R_low alone vs random-init concatenation (Table 3)",
            "R_low underperforms its baseline, the random low-width concatenation",
            "FP(random-init concat. M_param) − FP(R_low), at α_min", "points"),
    Finding("shuffled", "Shuffled regression narrows the validation-test gap (Tables 4 and 5)",
            "a significant reduction of the gap between validation and test FSE for the shuffled regression",
            "|FSE_test − FSE_val| regular − |FSE_test − FSE_val| shuffled, concat. M_param → M_1 at α_min", ""),
)
SIMILAR_AGREES = {"r_over_alone"}  # the paper's claim there is "better or similar"


def verdict(spread: Spread, similar_agrees: bool = False) -> str:
    """``agrees`` / ``disagrees`` / ``within noise`` for a Spread of d (paper's side: d > 0)."""
    if spread.n == 0 or math.isnan(spread.mean):
        return "no data"
    noise = spread.sd if spread.sd is not None else 0.0
    if spread.mean > noise:
        return "agrees"
    if spread.mean < -noise:
        return "disagrees"
    return "agrees (similar)" if similar_agrees else "within noise"


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


NEEDED_FSE = [(regression, eval_set) for regression in ("regular", "shuffled") for eval_set in ("validation", "test")]


def _shuffled_gaps(span_results: Sequence[dict], alpha: float) -> dict[int, float]:
    """Per replicate at ``alpha``: |test − validation| of the regular minus that of the shuffled regression."""
    out = {}
    for result in span_results:
        if float(result["alpha"]) != alpha:
            continue
        fse = {(r["regression"], r["eval"]): r["fse"] for r in result.get("forward_fse", [])
               if r["regressors"] == "concat_param"}
        if set(NEEDED_FSE) <= set(fse):
            out[int(result["replicate"])] = (abs(fse["regular", "test"] - fse["regular", "validation"])
                                             - abs(fse["shuffled", "test"] - fse["shuffled", "validation"]))
    return out


def experiment_statistics(span_rows: list[dict], probe_rows: list[dict],
                          span_results: Sequence[dict] = ()) -> tuple[float, dict[str, dict]]:
    """(α_min, {finding key: {"d": {replicate: d}, "parts": {name: {replicate: value}}}}) of one experiment."""
    alphas = sorted({float(r["alpha"]) for r in span_rows if float(r["alpha"]) < 1})
    a_min, a_mild = alphas[0], alphas[-1]
    out = {}

    fwd_tr, fwd_init = _gaps(span_rows, "forward", "trained", "param"), _gaps(span_rows, "forward", "init", "param")
    rev_tr, rev_init = _gaps(span_rows, "reverse", "trained", "feat"), _gaps(span_rows, "reverse", "init", "feat")

    def get(table, alpha):
        return table.get(alpha, {})

    out["forward_growth"] = {"d": _combine(lambda s, m: s - m, get(fwd_tr, a_min), get(fwd_tr, a_mild)),
                             "parts": {"FSG(α_min)": get(fwd_tr, a_min), "FSG(mild α)": get(fwd_tr, a_mild)}}
    out["forward_trained_vs_init"] = {"d": _combine(lambda t, i: t - i, get(fwd_tr, a_min), get(fwd_init, a_min)),
                                      "parts": {"trained": get(fwd_tr, a_min), "random init": get(fwd_init, a_min)}}
    out["reverse_growth"] = {"d": _combine(lambda s, m: s - m, get(rev_tr, a_min), get(rev_tr, a_mild)),
                             "parts": {"FSG(α_min)": get(rev_tr, a_min), "FSG(mild α)": get(rev_tr, a_mild)}}
    out["reverse_trained_vs_init"] = {"d": _combine(lambda t, i: t - i, get(rev_tr, a_min), get(rev_init, a_min)),
                                      "parts": {"trained": get(rev_tr, a_min), "random init": get(rev_init, a_min)}}

    def acc(state, features, alpha):
        return _accuracies(probe_rows, state, features).get(alpha, {})

    base, base_init = acc("trained", "base", 1.0), acc("init", "base", 1.0)
    concat = acc("trained", "concat_param", a_min)
    out["fp_gap"] = {"d": _combine(lambda b, c: b - c, base, concat), "parts": {"M_1": base, "concat.": concat}}
    with_over, with_low = acc("trained", "concat_param+over", a_min), acc("trained", "base+low_param", a_min)
    out["residuals_appended"] = {
        "d": _combine(lambda wo, c, wl, b: (wo - c) - (wl - b), with_over, concat, with_low, base),
        "parts": {"gain of R_over": _combine(lambda wo, c: wo - c, with_over, concat),
                  "gain of R_low": _combine(lambda wl, b: wl - b, with_low, base)}}
    over, low = acc("trained", "over_param", a_min), acc("trained", "low_param", a_min)
    concat_init = acc("init", "concat_param", a_min)
    out["r_over_alone"] = {"d": _combine(lambda o, b: o - b, over, base_init),
                           "parts": {"R_over": over, "random-init M_1": base_init}}
    out["r_low_alone"] = {"d": _combine(lambda c, lo: c - lo, concat_init, low),
                          "parts": {"R_low": low, "random-init concat.": concat_init}}
    out["shuffled"] = {"d": _shuffled_gaps(span_results, a_min), "parts": {}}
    return a_min, out


def findings_rows(experiments: dict[str, tuple[list[dict], list[dict], Sequence[dict]]]) -> list[dict]:
    """One record per (finding, experiment): d's Spread, its verdict and the mean of each part."""
    rows = []
    for exp, (span_rows, probe_rows, span_results) in experiments.items():
        a_min, stats = experiment_statistics(span_rows, probe_rows, span_results)
        for f in FINDINGS:
            d = Spread.of(stats[f.key]["d"].values())
            parts = {name: Spread.of(values.values()) for name, values in stats[f.key]["parts"].items()}
            rows.append({"finding": f.key, "label": f.label, "experiment": exp, "alpha_min": a_min,
                         "d": d.mean, "std": d.sd, "replicates": d.n,
                         "verdict": verdict(d, f.key in SIMILAR_AGREES),
                         "parts": {name: s.mean for name, s in parts.items()},
                         "parts_std": {name: s.sd for name, s in parts.items()}})
    return rows


def _cell(row: dict, unit: str) -> str:
    fmt = ".1f" if unit == "points" else ".4f"
    d = Spread(row["d"], row["std"], row["replicates"])
    parts = "; ".join(f"{name} {Spread(v, row['parts_std'][name], row['replicates']).format(fmt, with_n=False)}"
                      for name, v in row["parts"].items())
    text = f"d = {d.format(fmt)}"
    return f"{text} ({parts}): **{row['verdict']}**" if parts else f"{text}: **{row['verdict']}**"


def write_findings(experiments: dict[str, tuple[list[dict], list[dict], Sequence[dict]]], csv_path, md_path,
                   html_path) -> None:
    """The findings table as CSV (one record per finding and experiment), Markdown and HTML."""
    rows = findings_rows(experiments)
    write_rows_csv([{**{k: v for k, v in r.items() if k not in ("parts", "parts_std")},
                     **{f"part: {n}": v for n, v in r["parts"].items()}} for r in rows], csv_path)
    exps = list(experiments)
    cells = {(r["finding"], r["experiment"]): r for r in rows}
    a_min = {r["experiment"]: r["alpha_min"] for r in rows}
    head = [f"{e} (α_min = {alpha_label(a_min[e])})" for e in exps]
    md = [TABLES["findings"]["caption"], "", "| finding | d | " + " | ".join(head) + " |",
          "|---|---|" + "---|" * len(exps)]
    for f in FINDINGS:
        md.append(f"| {f.label} | {f.statistic} | " + " | ".join(_cell(cells[f.key, e], f.unit) for e in exps) + " |")
    write_text("\n".join(md) + "\n", md_path)
    write_text(_html(rows, exps, head), html_path)


VERDICT_COLOR = {"agrees": "#d9f2d9", "agrees (similar)": "#d9f2d9", "disagrees": "#f8d7d7",
                 "within noise": "#f2f2f2", "no data": "#ffffff"}


def _html(rows, exps, head) -> str:
    cells = {(r["finding"], r["experiment"]): r for r in rows}
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><style>",
           "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse}",
           "td,th{border:1px solid #bbb;padding:4px 6px;vertical-align:top} small{color:#555}",
           "</style></head><body>", f"<p>{html.escape(TABLES['findings']['caption'])}</p>",
           "<table><tr><th>finding</th>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for f in FINDINGS:
        out.append(f"<tr><td><b>{html.escape(f.label)}</b><br><small>paper: {html.escape(f.claim)}<br>"
                   f"d = {html.escape(f.statistic)}</small></td>")
        for e in exps:
            r = cells[f.key, e]
            text = _cell(r, f.unit).replace("**", "")
            out.append(f"<td style='background:{VERDICT_COLOR[r['verdict']]}'>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"

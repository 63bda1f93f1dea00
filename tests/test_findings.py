"""The findings table: per-replicate statistics from summary rows, their spread and the verdict rule."""

import re

import numpy as np
import pytest

from scipy import stats

from featspan.report.findings import FINDINGS, experiment_statistics, findings_rows, judge, write_findings

ALPHAS = (0.5, 0.25)


def _span_rows(fsg):
    """Span summary rows; fsg(direction, state, m_choice, alpha, replicate) gives each gap."""
    rows = []
    for direction in ("forward", "reverse"):
        for state in ("trained", "init"):
            for m_choice in ("feat", "param"):
                for alpha in ALPHAS:
                    for rep in range(3):
                        for ev in ("validation", "test"):  # the test split's gaps must not be read
                            gap = fsg(direction, state, m_choice, alpha, rep) + (9.0 if ev == "test" else 0)
                            rows.append({"direction": direction, "state": state, "m_choice": m_choice,
                                         "alpha": alpha, "replicate": rep, "eval": ev, "targets": "live", "fsg": gap})
    return rows


def _probe_rows(acc):
    """Probe summary rows; acc(state, features, alpha, replicate) gives each accuracy (a fraction)."""
    sets = {1.0: ["base"], **{a: ["concat_param", "concat_param+over", "base+low_param", "over_param", "low_param"]
                              for a in ALPHAS}}
    return [{"state": state, "features": f, "alpha": a, "replicate": rep, "accuracy": acc(state, f, a, rep)}
            for state in ("trained", "init") for a, fs in sets.items() for f in fs for rep in range(3)]


def _span_results(gap):
    """Trained narrow span results: gap(alpha, rep) is the regular-on-equal-rows |test − val| at alpha;
    the shuffled regression's is 0.01 everywhere; the regular regression (5x the rows) must not be read."""
    out = []
    for alpha in ALPHAS:
        for rep in range(3):
            records = []
            for regressors, g in (("concat_param", gap(alpha, rep)), ("M_1'", gap(1.0, rep))):
                fse = {("regular", "validation"): 0.1, ("regular", "test"): 7.0,
                       ("regular_subsampled", "validation"): 0.1, ("regular_subsampled", "test"): 0.1 + g,
                       ("shuffled", "validation"): 0.2, ("shuffled", "test"): 0.2 + 0.01}
                records += [{"regression": reg, "regressors": regressors, "eval": ev, "fse": v}
                            for (reg, ev), v in fse.items()]
            records.append({"regression": "regular", "regressors": "concat_feat", "eval": "test", "fse": 5.0})
            out.append({"experiment": "e", "alpha": alpha, "replicate": rep, "forward_fse": records})
    return out


def test_statistics_follow_their_definitions():
    def fsg(direction, state, m_choice, alpha, rep):
        if direction == "forward" and m_choice == "param":
            return {"trained": {0.5: 0.01, 0.25: 0.05 + 0.01 * rep}, "init": {0.5: 0.02, 0.25: 0.0}}[state][alpha]
        if direction == "reverse" and m_choice == "feat":
            return {"trained": {0.5: 0.0, 0.25: 0.1}, "init": {0.5: 0.0, 0.25: 0.03 * rep}}[state][alpha]
        return 99.0  # selections a finding must not read

    def acc(state, f, a, rep):
        table = {("trained", "base"): 0.9, ("init", "base"): 0.3, ("trained", "concat_param"): 0.7 + 0.01 * rep,
                 ("trained", "concat_param+over"): 0.85, ("trained", "base+low_param"): 0.91,
                 ("trained", "over_param"): 0.4, ("trained", "low_param"): 0.2, ("init", "concat_param"): 0.5}
        return table.get((state, f), 0.0)

    def gap(alpha, rep):
        return {1.0: 0.03, 0.5: 0.05 * rep, 0.25: 0.02}[alpha]

    a_min, stats = experiment_statistics(_span_rows(fsg), _probe_rows(acc), _span_results(gap))
    assert a_min == 0.25
    assert {f.key for f in FINDINGS} == set(stats)
    d = {k: [v["d"][r] for r in range(3)] for k, v in stats.items()}
    assert d["forward_positive"] == pytest.approx([0.05, 0.06, 0.07])
    assert d["forward_growth"] == pytest.approx([0.04, 0.05, 0.06])
    assert d["forward_init_trend"] == pytest.approx([-0.02] * 3)
    assert d["reverse_growth"] == pytest.approx([0.1] * 3)
    assert d["reverse_trained_vs_init"] == pytest.approx([0.1, 0.07, 0.04])
    assert d["fp_gap"] == pytest.approx([20.0, 19.0, 18.0])  # points
    assert d["r_over_gain"] == pytest.approx([85 - 70 - r for r in range(3)])
    assert d["r_low_gain"] == pytest.approx([1.0] * 3)
    assert d["r_over_alone"] == pytest.approx([10.0] * 3)
    assert d["r_low_alone"] == pytest.approx([30.0] * 3)
    assert d["shuffled_base"] == pytest.approx([0.02] * 3)  # 0.03 − 0.01: equal rows, not the 5x regression
    assert d["shuffled_across"] == pytest.approx([(0.05 * r - 0.01 + 0.01) / 2 for r in range(3)])


def test_one_narrow_width_leaves_the_growth_rows_without_data():
    one = [r for r in _span_rows(lambda *args: 0.1) if r["alpha"] == 0.25]
    a_min, stats = experiment_statistics(one, _probe_rows(lambda *args: 0.5), [])
    assert a_min == 0.25
    for key in ("forward_growth", "forward_init_trend", "reverse_growth"):
        assert stats[key]["d"] == {}, key
    assert stats["forward_positive"]["d"] == pytest.approx({0: 0.1, 1: 0.1, 2: 0.1})
    assert judge(list(stats["forward_growth"]["d"].values()), "greater", None).verdict == "no data"


def test_the_t_test_matches_scipy_on_known_values():
    values = [0.12, 0.15, 0.09]
    result = judge(values)
    reference = stats.ttest_1samp(values, 0.0)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-12)
    low, high = reference.confidence_interval(0.95)
    assert result.ci == pytest.approx((low, high), rel=1e-12)
    assert result.verdict == "agrees"
    assert judge([-v for v in values]).verdict == "disagrees"
    assert judge([-v for v in values], side="less").verdict == "agrees"
    # the old rule's "agrees" (mean beyond one sd) is no evidence at n = 3: t = 2.5, p = 0.13
    weak = [0.5, 1.5, 1.7]
    assert stats.ttest_1samp(weak, 0).pvalue == pytest.approx(judge(weak).p) and judge(weak).p > 0.05
    assert judge(weak).verdict == "no evidence either way"
    # the Transformer's FP gap of docs/cpu-findings.md (4.5 ± 3.6 over 3 replicates): p of about 0.16
    assert judge([4.5 - 3.6, 4.5, 4.5 + 3.6]).p == pytest.approx(0.16, abs=0.01)


def test_one_replicate_gets_no_verdict():
    assert judge([0.2]).verdict == "n = 1, no test" and judge([0.2]).p is None
    assert judge([]).verdict == "no data"


def test_equivalence_needs_both_one_sided_tests():
    margin = 1.0
    tight = [0.1, -0.1, 0.05, 0.0]
    result = judge(tight, side="equivalent", margin=margin)
    se = np.std(tight, ddof=1) / np.sqrt(len(tight))
    p_lower = stats.t.sf((np.mean(tight) + margin) / se, len(tight) - 1)
    p_upper = stats.t.cdf((np.mean(tight) - margin) / se, len(tight) - 1)
    assert result.p == pytest.approx(max(p_lower, p_upper), rel=1e-10) and result.verdict == "agrees"
    assert judge([0.1, -0.8, 0.9], side="equivalent", margin=margin).verdict == "no evidence either way"
    assert judge([5.0, 5.2, 4.9], side="equivalent", margin=margin).verdict == "disagrees"


def test_table_has_a_row_per_finding_and_a_column_per_experiment(tmp_path):
    rng = np.random.default_rng(0)
    span = _span_rows(lambda *k: float(rng.normal(0.1, 0.01)))
    probe = _probe_rows(lambda *k: float(rng.uniform(0.2, 0.9)))
    results = _span_results(lambda alpha, rep: 0.1 + 0.001 * rep)
    experiments = {"e": (span, probe, results), "f": (span, probe, []), "g": (span, probe, results),
                   "h": (span, probe, results)}
    archs = {"e": "resnet18", "f": "vgg16", "g": "mlp", "h": "vgg16"}
    fits = {"e": 0.99, "f": 1.0, "g": 1.0, "h": 0.6}
    rows = findings_rows(experiments, archs, fits)
    assert len(rows) == 4 * len(FINDINGS)
    shuffled = {r["experiment"]: r for r in rows if r["finding"] == "shuffled_base"}
    assert shuffled["e"]["verdict"] == "agrees" and shuffled["f"]["verdict"] == "no data"
    assert shuffled["g"]["verdict"] == "vision only (Appendix D.4)"
    assert {r["verdict"] for r in rows if r["experiment"] == "h"} == {"not in the paper's regime"}
    assert all(r["p"] is not None for r in rows if r["verdict"] in ("agrees", "disagrees"))
    write_findings(experiments, tmp_path / "f.csv", tmp_path / "f.md", tmp_path / "f.html", archs, fits)
    md = (tmp_path / "f.md").read_text()
    lines = md.splitlines()
    assert lines[2].startswith("| finding | d | test | e (α_min = 1/4; α = 1 train 99.0 %) |")
    assert sum(line.startswith("| ") for line in lines) == 1 + len(FINDINGS)
    cells = [len(re.findall(r"(?<!\\)\|", line)) for line in lines if line.startswith("|")]
    assert set(cells) == {len(archs) + 4}, "a |x| in a cell splits the Markdown row"
    assert "d = 0.0900 ± 0.0000 (n = 3)" not in md and "95 % CI [" in md and "p = " in md
    assert (tmp_path / "f.html").read_text().count("<tr>") == 1 + len(FINDINGS)
    header = (tmp_path / "f.csv").read_text().splitlines()[0].split(",")
    assert {"d", "std", "replicates", "ci_low", "ci_high", "p", "test", "verdict"} <= set(header)


def test_one_replicate_experiments_say_so(tmp_path):
    span = [r for r in _span_rows(lambda *k: 0.1) if r["replicate"] == 0]
    probe = [r for r in _probe_rows(lambda *k: 0.5) if r["replicate"] == 0]
    rows = findings_rows({"e": (span, probe, [])}, {"e": "mlp"})
    assert {r["verdict"] for r in rows if not r["finding"].startswith("shuffled")} == {"n = 1, no test"}

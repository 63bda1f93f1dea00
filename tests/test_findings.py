"""The findings table: per-replicate statistics from summary rows, their spread and the verdict rule."""

import numpy as np
import pytest

from featspan.report.findings import FINDINGS, experiment_statistics, findings_rows, verdict, write_findings
from featspan.report.spread import Spread

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
    out = []
    for rep in range(3):
        fse = {("regular", "validation"): 0.1, ("regular", "test"): 0.1 + gap(rep),
               ("shuffled", "validation"): 0.2, ("shuffled", "test"): 0.2 + 0.01}
        out.append({"experiment": "e", "alpha": 0.25, "replicate": rep, "forward_fse": [
            {"regression": reg, "regressors": "concat_param", "eval": ev, "fse": v} for (reg, ev), v in fse.items()]
            + [{"regression": "regular", "regressors": "M_1'", "eval": "test", "fse": 5.0}]})
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

    a_min, stats = experiment_statistics(_span_rows(fsg), _probe_rows(acc), _span_results(lambda rep: 0.05 * rep))
    assert a_min == 0.25
    d = {k: [v["d"][r] for r in range(3)] for k, v in stats.items()}
    assert d["forward_growth"] == pytest.approx([0.04, 0.05, 0.06])
    assert d["forward_trained_vs_init"] == pytest.approx([0.05, 0.06, 0.07])
    assert d["reverse_growth"] == pytest.approx([0.1] * 3)
    assert d["reverse_trained_vs_init"] == pytest.approx([0.1, 0.07, 0.04])
    assert d["fp_gap"] == pytest.approx([20.0, 19.0, 18.0])  # points
    assert d["residuals_appended"] == pytest.approx([(85 - 70 - r) - (91 - 90) for r in range(3)])
    assert d["r_over_alone"] == pytest.approx([10.0] * 3)
    assert d["r_low_alone"] == pytest.approx([30.0] * 3)
    assert d["shuffled"] == pytest.approx([0.05 * r - 0.01 for r in range(3)])


def test_verdict_compares_the_mean_with_one_sample_std():
    assert verdict(Spread.of([1.0, 1.2, 0.9])) == "agrees"
    assert verdict(Spread.of([-1.0, -1.2, -0.9])) == "disagrees"
    assert verdict(Spread.of([0.1, -0.3, 0.4])) == "within noise"
    assert verdict(Spread.of([0.1, -0.3, 0.4]), similar_agrees=True) == "agrees (similar)"
    assert verdict(Spread.of([0.2])) == "agrees"  # one replicate: its sign alone
    assert verdict(Spread.of([])) == "no data"


def test_table_has_a_row_per_finding_and_a_column_per_experiment(tmp_path):
    rng = np.random.default_rng(0)
    span = _span_rows(lambda *k: float(rng.normal(0.1, 0.01)))
    probe = _probe_rows(lambda *k: float(rng.uniform(0.2, 0.9)))
    experiments = {"e": (span, probe, _span_results(lambda rep: 0.1)), "f": (span, probe, [])}
    rows = findings_rows(experiments)
    assert len(rows) == 2 * len(FINDINGS)
    shuffled = {r["experiment"]: r for r in rows if r["finding"] == "shuffled"}
    assert shuffled["e"]["verdict"] == "agrees" and shuffled["f"]["verdict"] == "no data"
    write_findings(experiments, tmp_path / "f.csv", tmp_path / "f.md", tmp_path / "f.html")
    md = (tmp_path / "f.md").read_text().splitlines()
    assert md[2].startswith("| finding | d | e (α_min = 1/4) | f (α_min = 1/4) |")
    assert sum(line.startswith("| ") for line in md) == 1 + len(FINDINGS)
    assert "d = 0.0900 ± 0.0000 (n = 3)" in (tmp_path / "f.md").read_text()
    assert (tmp_path / "f.html").read_text().count("<tr>") == 1 + len(FINDINGS)

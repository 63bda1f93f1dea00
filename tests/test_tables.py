"""Tables 2-5 from workflow artifacts: the right models are averaged, M values come from the manifests."""
import json

import numpy as np
import pytest

from featspan.report.tables import shuffled_rows, table2_rows, write_shuffled_table, write_table2


def _cohort(folder, alpha, replicate, seeds, accs, m_feat=1, m_param=1, experiment="e"):
    folder.mkdir(parents=True)
    (folder / "cohort.json").write_text(json.dumps({
        "experiment": experiment, "arch": "mlp", "alpha": alpha, "replicate": replicate, "seeds": seeds,
        "data_seeds": seeds, "data_order": "own",
        "m_feat": m_feat, "m_param": m_param, "n_params": 100, "n_features": 8, "n_params_base": 400}))
    (folder / "accuracy.tsv").write_text("model\ttrain\ttest\n" + "".join(f"{i}\t{a}\t{b}\n" for i, (a, b) in enumerate(accs)))
    return str(folder)


def test_table2_averages_base_models_and_every_narrow_model(tmp_path):
    dirs = [_cohort(tmp_path / "b0", 1.0, 0, [0, 1], [(1.0, 0.8), (0.9, 0.6)]),
            _cohort(tmp_path / "n0", 0.5, 0, [0, 1, 2], [(0.5, 0.4), (0.7, 0.6), (0.6, 0.5)], m_feat=2, m_param=2)]
    base, narrow = table2_rows(dirs)
    assert (base["alpha"], base["n_models"]) == (1.0, 2)
    # the sample standard deviation (ddof = 1), as in every figure
    assert base["test_accuracy"] == pytest.approx(0.7) and base["train_std"] == pytest.approx(0.1 / np.sqrt(2))
    assert (narrow["m_feat"], narrow["n_models"]) == (2, 3)
    assert narrow["train_accuracy"] == pytest.approx(0.6)
    write_table2(dirs, tmp_path / "t.csv", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert "| e | 1/2 | 100 | 8 | 2 | 2 | 60.0 ± 10.0 (n = 3) | 50.0 ± 10.0 (n = 3) |" in md
    # the regime line: α = 1 train 95.0 %, train − test 25.0 points, 20.0 points lost at α = 1/2
    assert "| e | 95.0 | 25.0 | 20.0 (α = 1/2) | yes |" in md


def test_table2_keeps_the_config_order_of_experiments(tmp_path):
    base, narrow = ([0, 1], [(1.0, 0.8)] * 2), ([0, 1, 2], [(0.5, 0.4)] * 3)
    dirs = [_cohort(tmp_path / "z1", 1.0, 0, *base, experiment="zeta"),
            _cohort(tmp_path / "a5", 0.5, 0, *narrow, m_feat=2, m_param=2, experiment="alpha"),
            _cohort(tmp_path / "z5", 0.5, 0, *narrow, m_feat=2, m_param=2, experiment="zeta"),
            _cohort(tmp_path / "a1", 1.0, 0, *base, experiment="alpha")]
    assert [(r["experiment"], r["alpha"]) for r in table2_rows(dirs)] == [
        ("zeta", 1.0), ("zeta", 0.5), ("alpha", 1.0), ("alpha", 0.5)]


def test_regime_needs_the_base_models_to_fit_their_training_data():
    from featspan.report.tables import regime_rows

    rows = [{"experiment": "a", "alpha": 1.0, "train_accuracy": 0.949, "test_accuracy": 0.8},
            {"experiment": "a", "alpha": 0.25, "train_accuracy": 0.7, "test_accuracy": 0.6},
            {"experiment": "b", "alpha": 1.0, "train_accuracy": 1.0, "test_accuracy": 0.9},
            {"experiment": "b", "alpha": 0.5, "train_accuracy": 0.9, "test_accuracy": 0.85}]
    a, b = regime_rows(rows)
    assert (a["in_regime"], b["in_regime"]) == (False, True)
    assert a["narrow_drop"] == pytest.approx(0.2) and a["alpha_min"] == 0.25 and b["base_gap"] == pytest.approx(0.1)


def test_table3_reads_the_smallest_alpha_and_the_init_baselines():
    from featspan.report.tables import table3_rows

    def rec(state, alpha, features, acc):
        return {"state": state, "alpha": alpha, "features": features, "accuracy": acc}
    records = [rec("init", 1.0, "base", 0.30), rec("init", 1.0, "base", 0.40),
               rec("trained", 0.25, "over_param", 0.55), rec("trained", 0.5, "over_param", 0.9),
               rec("init", 0.25, "concat_param", 0.5), rec("trained", 0.25, "low_param", 0.2)]
    rows = table3_rows({"e": records})
    assert [r["e"][0].mean for r in rows] == pytest.approx([35.0, 55.0, 50.0, 20.0])
    assert rows[0]["e"][0].sd == pytest.approx(np.std([30.0, 40.0], ddof=1)) and rows[1]["e"][0].sd is None
    assert rows[1]["e"][1] == 0.25 and rows[0]["e"][1] == 1.0


def test_shuffled_table_counts_the_base_pair_once_per_replicate(tmp_path):
    def result(alpha, replicate, base, concat):
        records = [{"regression": reg, "regressors": name, "eval": ev,
                    "fse": value + (0.5 if reg == "shuffled" else 0) + (0.25 if ev == "test" else 0),
                    "n_fit_rows": 90, "n_eval_rows": 10 if ev == "validation" else 100}
                   for reg in ("regular", "shuffled") for ev in ("validation", "test")
                   for name, value in (("M_1'", base), ("concat_param", concat), ("concat_feat", 9.0))]
        return {"experiment": "e", "alpha": alpha, "replicate": replicate, "forward_fse": records}

    results = [result(0.5, 0, 0.1, 0.2), result(0.25, 0, 0.1, 0.4), result(0.5, 1, 0.3, 0.6), result(0.25, 1, 0.3, 0.8)]
    rows = {(r["regression"], r["eval"], r["alpha"]): r for r in shuffled_rows(results)}
    assert len(rows) == 4 * 3
    base = rows[("regular", "validation", 1.0)]
    assert base["replicates"] == 2 and base["fse"] == pytest.approx(0.2) and base["std"] == pytest.approx(0.2 / np.sqrt(2))
    assert rows[("shuffled", "test", 0.25)]["fse"] == pytest.approx(0.6 + 0.75)
    write_shuffled_table("table4", results, tmp_path / "t.csv", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert "| shuffled | test | 90 / 100 | 0.9500 ± 0.1414 (n = 2) | 1.1500 ± 0.2828 (n = 2) | 1.3500 ± 0.2828 (n = 2) |" in md
    assert "α = 1/4" in md
    # two experiments of one architecture (e.g. bf16 and float32 twins): a section each
    twins = results + [{**r, "experiment": "f"} for r in results]
    write_shuffled_table("table4", twins, tmp_path / "w.csv", tmp_path / "w.md")
    md = (tmp_path / "w.md").read_text()
    assert "**e**" in md and "**f**" in md
    assert md.count("| shuffled | test | 90 / 100 | 0.9500 ± 0.1414 (n = 2) |") == 2
    with pytest.raises(ValueError, match="span.shuffled"):
        regular_only = [{**r, "forward_fse": [f for f in r["forward_fse"] if f["regression"] == "regular"]}
                        for r in results]
        write_shuffled_table("table4", regular_only, tmp_path / "u.csv", tmp_path / "u.md")

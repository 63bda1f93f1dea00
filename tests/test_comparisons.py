"""span_cohort on a tiny synthetic cohort, every number recomputed independently with scikit-learn's Ridge.

The cohort: a base cohort (M_1, M_1') and a narrow one of four models (M_feat = 2, M_param = 3, the
fourth the held-out reverse target). M_1 has a dead unit; the held-out target has a unit that is
almost constant on the test split, so its test error is huge in one regression (an outlier).
"""
import json
from dataclasses import asdict

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from featspan.comparisons import span_cohort
from featspan.cohort import Cohort
from featspan.h5 import write_feature_file
from featspan.span import FIT, TEST, VALIDATION, RowPlan

N_TRAIN, N_TEST = 300, 120
SPAN_CFG = {"validation_fraction": 0.2, "split_seed": 3, "per_target_lambda": False, "outlier_threshold": 5.0,
            "lambdas": {"min": 1e-3, "max": 10.0, "num": 5, "relative": True}, "shuffled": False,
            "chunk_rows": 64, "backend": "numpy"}


def _cohort(directory, alpha, n_models, m_feat, m_param, features):
    directory.mkdir(parents=True)
    cohort = Cohort("e", "mlp", alpha, 0, list(range(n_models)), list(range(n_models)), "own", m_feat, m_param,
                    10, features[0].shape[1], 40)
    cohort.save(directory)
    labels = np.arange(N_TRAIN + N_TEST) % 3
    for i, f in enumerate(features):
        write_feature_file(directory / cohort.filename(i, ".h5"),
                           {"train": (f[:N_TRAIN], labels[:N_TRAIN]), "test": (f[N_TRAIN:], labels[N_TRAIN:])},
                           {"experiment": "e", "arch": "mlp", "alpha": alpha, "seed": i, "state": "trained"})
    return cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(N_TRAIN + N_TEST, 5))

    def model(width):
        return np.maximum(latent @ rng.normal(size=(5, width)) + 0.3 * rng.normal(size=(len(latent), width)), 0)

    base, other = model(6), model(6)
    base[:N_TRAIN, 2] = 0.0                                   # dead on the fit part: left out everywhere
    narrow = [model(3) for _ in range(4)]
    target = narrow[3]
    target[N_TRAIN:, 1] = target[:N_TRAIN, 1].mean() + 1e-3 * rng.normal(size=N_TEST)  # constant-ish on test
    _cohort(root / "base", 1.0, 2, 1, 1, [base.astype(np.float32), other.astype(np.float32)])
    _cohort(root / "narrow", 0.5, 4, 2, 3, [f.astype(np.float32) for f in narrow])
    result = span_cohort(root / "base", root / "narrow", SPAN_CFG)
    json.dumps(result, allow_nan=False)                      # strict JSON
    return {"result": result, "base": [base, other], "narrow": narrow}


def _rows():
    plan = RowPlan.regular(N_TRAIN, N_TEST, SPAN_CFG["validation_fraction"], SPAN_CFG["split_seed"])
    train, test = plan.roles["train"], plan.roles["test"]
    fit = np.flatnonzero(train == FIT)
    return fit, {"validation": np.flatnonzero(train == VALIDATION), "test": N_TRAIN + np.flatnonzero(test == TEST)}


def _errors(x, y, lam):
    """Per-target normalized errors on validation and test, scikit-learn's Ridge fit on the fit rows."""
    fit, evals = _rows()
    x, y = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    ridge = Ridge(alpha=lam, fit_intercept=True, solver="svd").fit(x[fit], y[fit])
    mean = y[fit].mean(0)
    with np.errstate(invalid="ignore"):  # 0 / 0 for a dead target (left out)
        return {name: ((y[r] - ridge.predict(x[r])) ** 2).sum(0) / ((y[r] - mean) ** 2).sum(0)
                for name, r in evals.items()}


def _records(result, **match):
    return [r for r in result["records"] if all(r[k] == v for k, v in match.items())]


@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize("m_choice, m", [("feat", 2), ("param", 3)])
def test_every_gap_is_the_difference_of_two_independently_recomputed_fses(cohort, direction, m_choice, m):
    base, other = cohort["base"]
    narrow = cohort["narrow"]
    concat = np.hstack(narrow[:m])
    if direction == "forward":   # FSE(concat -> M_1) - FSE(M_1' -> M_1)
        pairs = ((concat, base), (other, base))
    else:                        # FSE(M_1 -> M_alpha) - FSE(concat -> M_alpha), M_alpha held out
        pairs = ((base, narrow[3]), (concat, narrow[3]))
    for record in _records(cohort["result"], direction=direction, m_choice=m_choice, targets="live"):
        first = _errors(*pairs[0], record["lambda_first"])[record["eval"]]
        second = _errors(*pairs[1], record["lambda_second"])[record["eval"]]
        keep = np.ones(first.size, bool)
        keep[record["dead_targets"]] = False
        assert record["n_used_targets"] == keep.sum()
        assert record["fse_first"] == pytest.approx(first[keep].mean(), rel=1e-8)
        assert record["fse_second"] == pytest.approx(second[keep].mean(), rel=1e-8)
        assert record["fsg"] == pytest.approx(first[keep].mean() - second[keep].mean(), rel=1e-7, abs=1e-10)
        assert record["m"] == m


def test_reference_and_target_are_other_models(cohort):
    """M_1' is not M_1 (its FSE onto M_1 is far from 0), and the reverse target is not in the concatenation
    (were it, the concatenation would span it exactly)."""
    forward = _records(cohort["result"], direction="forward", m_choice="param", eval="validation", targets="live")[0]
    reverse = _records(cohort["result"], direction="reverse", m_choice="param", eval="validation", targets="live")[0]
    assert forward["fse_second"] > 0.01
    assert reverse["fse_second"] > 0.01
    with_target = _errors(np.hstack(cohort["narrow"]), cohort["narrow"][3], reverse["lambda_second"])["validation"]
    assert with_target.mean() < 0.1 * reverse["fse_second"]


def test_dead_units_and_the_outlier_rule(cohort):
    result = cohort["result"]
    forward = _records(result, direction="forward", m_choice="param", targets="live")
    assert all(r["dead_targets"] == [2] and r["n_used_targets"] == 5 for r in forward)
    # the outlier rule leaves the validation records alone: no validation number depends on the test split
    assert {r["eval"] for r in _records(result, targets="below_outlier_threshold")} == {"test"}
    assert all(r["n_outlier_targets"] == 0 and r["outlier_targets"] == [] for r in _records(result, targets="live"))
    reverse_live = _records(result, direction="reverse", m_choice="param", eval="test", targets="live")[0]
    reverse_cut = _records(result, direction="reverse", m_choice="param", eval="test",
                           targets="below_outlier_threshold")[0]
    assert reverse_cut["outlier_targets"] == [1] and reverse_cut["n_used_targets"] == 2
    assert reverse_cut["outlier_threshold"] == 5.0
    # both FSEs of the gap average over the same two targets
    base, narrow = cohort["base"][0], cohort["narrow"]
    first = _errors(base, narrow[3], reverse_cut["lambda_first"])["test"]
    second = _errors(np.hstack(narrow[:3]), narrow[3], reverse_cut["lambda_second"])["test"]
    assert max(first[1], second[1]) > 5
    keep = [0, 2]
    assert reverse_cut["fsg"] == pytest.approx(first[keep].mean() - second[keep].mean(), rel=1e-7)
    assert reverse_live["fsg"] == pytest.approx(first.mean() - second.mean(), rel=1e-7)


def test_the_cohort_manifest_round_trips(tmp_path):
    from featspan.models import scaled_family
    planned = Cohort.plan("e", "mlp", 0.5, 1, scaled_family("mlp", 0.5, (12,), 3, widths=[8]))
    planned.save(tmp_path)
    assert asdict(Cohort.load(tmp_path)) == asdict(planned)

"""featspan.probe against scikit-learn's LogisticRegression at the same C."""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from featspan import probe as probe_module
from featspan.probe import (LogisticProbe, Prepared, ProbeConvergenceWarning, Standardizer, feature_performance,
                            varying_columns)


def _problem(seed=0, n=3000, d=40, k=4, noise=1.5, correlated=False, n_test=None):
    """Train on the first 4/5 of n rows, test on the rest (or on n_test more rows)."""
    rng = np.random.default_rng(seed)
    n_train = n * 4 // 5
    n = n if n_test is None else n_train + n_test
    x = rng.normal(size=(n, d))
    if correlated:  # like a concatenation of many narrow models: strongly correlated columns
        x = x @ (np.eye(d) + 0.9 * rng.normal(size=(d, d)) / np.sqrt(d))
    x = (x * rng.uniform(0.1, 10, size=d) + rng.normal(size=d)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(d, k)) / np.sqrt(d) + noise * rng.gumbel(size=(n, k)), axis=1)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@pytest.mark.parametrize("C", [0.01, 1.0])
@pytest.mark.parametrize("correlated", [False, True])
@pytest.mark.parametrize("n, d", [(3000, 40), (750, 240)])  # tall: weights rotated; wide: rows rotated
def test_matches_sklearn_logistic_regression(C, correlated, n, d):
    x, y, xt, yt = _problem(n=n, d=d, correlated=correlated, n_test=600)
    assert Prepared.of(x).rotate_data() == (d == 240)
    probe = LogisticProbe(C=C, tol=1e-6).fit(x, y)
    assert probe.converged_ and probe.gradient_norm_ <= 1e-6
    scaler = StandardScaler().fit(x)
    ref = LogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(scaler.transform(x), y)
    assert abs(probe.score(xt, yt) - ref.score(scaler.transform(xt), yt)) <= 0.005
    np.testing.assert_allclose(probe.coef_, ref.coef_, atol=2e-3 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(probe.intercept_, ref.intercept_, atol=2e-3 * max(1.0, np.abs(ref.intercept_).max()))


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "torch"])
def test_a_c_grid_standardizes_the_fit_part_once(monkeypatch, solver):
    """Every C of the grid reuses one standardized copy of the fit part (and the final probe one of
    the whole training split), whichever solver runs."""
    if solver == "torch":
        pytest.importorskip("torch")
    x, y, xt, yt = _problem(seed=8, n=600, d=10)
    calls = []
    fit = Standardizer.fit.__func__
    monkeypatch.setattr(Standardizer, "fit", classmethod(lambda cls, a: calls.append(len(a)) or fit(cls, a)))
    feature_performance(x, y, xt, yt, C_grid=(0.01, 0.1, 1.0), solver=solver, device="cpu")
    assert calls == [432, 480]  # the fit part (90 % of 480 rows), then every training row


def test_solver_choice_is_checked():
    with pytest.raises(ValueError, match="unknown solver 'sag'"):
        LogisticProbe(solver="sag")
    for solver in ("newton", "lbfgs"):
        with pytest.raises(ValueError, match=f"{solver} solver runs on the CPU"):
            LogisticProbe(solver=solver, device="cuda").fit(np.zeros((4, 2), np.float32), [0, 1, 0, 1])


def _objective(probe, prepared, y):
    """scikit-learn's ``C sum CE + |W|^2 / 2`` of a fitted probe, in float64 on the standardized rows."""
    z = prepared.xs.astype(np.float64) @ probe.coef_.T + probe.intercept_
    z -= z.max(axis=1, keepdims=True)
    codes = np.unique(y, return_inverse=True)[1]
    ce = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), codes]
    return probe.C * ce.sum() + 0.5 * (probe.coef_ ** 2).sum()


@pytest.mark.parametrize("n, d", [(3000, 40), (750, 240)])
def test_newton_and_scipys_lbfgs_reach_the_same_probe(n, d):
    """The default CPU solver (truncated Newton) and scipy's L-BFGS-B on the same objective: the same
    minimum, Newton in fewer iterations, both converged to the gradient tolerance."""
    x, y, xt, yt = _problem(seed=11, n=n, d=d, correlated=True, n_test=600)
    prepared = Prepared.of(x)
    ours = LogisticProbe(C=0.1, solver="newton").fit(x, y, prepared=prepared)
    ref = LogisticProbe(C=0.1, solver="lbfgs").fit(x, y, prepared=prepared)
    assert ours.converged_ and ref.converged_
    # both stop at gradient norm 1e-4: the objectives agree to 1e-6, the coefficients to 0.5 %
    assert _objective(ours, prepared, y) == pytest.approx(_objective(ref, prepared, y), rel=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=5e-3 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=5e-3 * max(1.0, np.abs(ref.intercept_).max()))
    assert ours.score(xt, yt) == pytest.approx(ref.score(xt, yt), abs=0.002)
    assert ours.n_iter_ < ref.n_iter_


def test_the_gradient_tolerance_is_checked_in_the_original_coordinates():
    """A converged probe's gradient of scikit-learn's objective (divided by C n), recomputed in float64
    from its coefficients, has norm at most tol: the tolerance holds for the returned W and b."""
    x, y, _, _ = _problem(seed=15, n=1500, d=80, correlated=True)
    prepared = Prepared.of(x)
    probe = LogisticProbe(C=1.0, tol=1e-4).fit(x, y, prepared=prepared)
    xs = prepared.xs.astype(np.float64)
    z = xs @ probe.coef_.T + probe.intercept_
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    n = len(y)
    grad_w = xs.T @ p / n + probe.coef_.T / (probe.C * n)
    grad_b = p.sum(axis=0) / n
    assert np.sqrt((grad_w ** 2).sum() + (grad_b ** 2).sum()) <= 1.05e-4


def test_both_layouts_reach_the_same_probe(monkeypatch):
    x, y, _, _ = _problem(seed=3, n=1000, d=120, correlated=True)
    fits = {}
    for rotate in (False, True):
        monkeypatch.setattr(Prepared, "rotate_data", lambda self, rotate=rotate: rotate)
        fits[rotate] = LogisticProbe(C=0.1, tol=1e-6).fit(x, y)
    scale = np.abs(fits[False].coef_).max()
    np.testing.assert_allclose(fits[True].coef_, fits[False].coef_, atol=1e-3 * scale)
    np.testing.assert_allclose(fits[True].intercept_, fits[False].intercept_, atol=1e-3 * max(1.0, scale))


def test_a_basis_from_a_subset_of_rows_reaches_the_same_probe(monkeypatch):
    """Tall data builds the preconditioner from evenly spaced rows only: same minimizer as all rows."""
    x, y, _, _ = _problem(seed=4, n=2000, d=30, correlated=True)
    fits = {}
    for rows in (10**6, 200):  # every row; 200 of the 1,600 rows
        monkeypatch.setattr(Prepared, "MIN_GRAM_ROWS", rows)
        monkeypatch.setattr(Prepared, "GRAM_ROWS_PER_FEATURE", 1)
        fits[rows] = LogisticProbe(C=0.1, tol=1e-6).fit(x, y)
    full, subset = fits[10**6], fits[200]
    np.testing.assert_allclose(subset.coef_, full.coef_, atol=1e-3 * np.abs(full.coef_).max())
    np.testing.assert_allclose(subset.intercept_, full.intercept_, atol=1e-3 * max(1.0, np.abs(full.intercept_).max()))


def test_constant_features_and_label_values_are_handled():
    x, y, xt, yt = _problem(seed=1, k=3)
    x = np.hstack([x, np.full((len(x), 2), 3.0, np.float32)])
    xt = np.hstack([xt, np.full((len(xt), 2), 3.0, np.float32)])
    labels = np.array([7, 11, 42])
    probe = LogisticProbe(C=1.0).fit(x, labels[y])
    assert set(probe.predict(xt)) <= set(labels)
    assert probe.score(xt, labels[yt]) > 0.5


def test_c_is_chosen_on_the_validation_part():
    x, y, xt, yt = _problem(seed=2, n=1500, d=200, noise=3.0)
    result = feature_performance(x, y, xt, yt, C_grid=[1e-4, 1e-2, 1.0])
    assert set(result.validation_accuracy) == {1e-4, 1e-2, 1.0}
    assert result.C == max(result.validation_accuracy, key=lambda c: (result.validation_accuracy[c], -c))
    fixed = feature_performance(x, y, xt, yt, C=0.5)
    assert fixed.C == 0.5 and fixed.validation_accuracy == {}
    assert 0 <= result.accuracy <= 1


def test_columns_constant_in_training_leave_the_probe_unchanged(monkeypatch):
    """Dead units (constant on every training row, whatever they do on test rows) get zero weight at
    the optimum, so leaving them out of the solve gives the probe of the live columns alone."""
    x, y, xt, yt = _problem(seed=4, n=1500, d=60, correlated=True)
    rng = np.random.default_rng(4)
    order = rng.permutation(90)  # the 30 dead columns spread among the live ones
    wide = np.hstack([x, np.full((len(x), 30), 0.5, np.float32)])[:, order]
    wide_t = np.hstack([xt, rng.normal(size=(len(xt), 30)).astype(np.float32)])[:, order]
    grid = [0.01, 1.0]
    live = feature_performance(x, y, xt, yt, C_grid=grid)
    dropped = feature_performance(wide, y, wide_t, yt, C_grid=grid)
    monkeypatch.setattr(probe_module, "varying_columns", lambda a: np.ones(a.shape[1], dtype=bool))
    kept = feature_performance(wide, y, wide_t, yt, C_grid=grid)  # every column in the solve
    assert dropped.n_features == kept.n_features == 90 and live.n_features == 60
    for other in (live, kept):
        assert dropped.C == other.C
        assert dropped.validation_accuracy == pytest.approx(other.validation_accuracy, abs=1.5 / 300)
        assert abs(dropped.accuracy - other.accuracy) <= 2 / len(yt)


def test_varying_columns_matches_a_direct_check():
    x = np.random.default_rng(5).normal(size=(11, 6)).astype(np.float32)
    x[:, 1] = 2.0
    x[:, 4] = 0.0
    x[7, 4] = 1.0  # varies in a later row block only
    expected = x.max(axis=0) != x.min(axis=0)
    for block in (1, 3, 4096):
        np.testing.assert_array_equal(varying_columns(x, block=block), expected)


def test_rejects_nonpositive_c():
    with pytest.raises(ValueError, match="C must be positive"):
        LogisticProbe(C=0)


def test_standardizer_statistics_and_feature_major_layout():
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(9000, 7)) * [1, 5, 0.1, 3, 2, 1, 0] + [0, 1e3, -4, 0, 7, 2, 3]).astype(np.float32)
    scaler = Standardizer.fit(x)
    np.testing.assert_allclose(scaler.mean, x.astype(np.float64).mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaler.scale[:6], x[:, :6].astype(np.float64).std(0), rtol=1e-6)
    assert scaler.scale[6] == 1.0  # a constant column: scale 1, standardized to zero
    np.testing.assert_array_equal(scaler.transform_features_major(x), scaler.transform(x).T)
    assert scaler.transform_features_major(x).flags.c_contiguous


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "torch"])
def test_a_probe_stopped_by_its_iteration_cap_says_so(solver):
    if solver == "torch":
        pytest.importorskip("torch")
    x, y, xt, yt = _problem(seed=12, n=600, d=30, correlated=True)
    with pytest.warns(ProbeConvergenceWarning, match="stopped at max_iter=2"):
        capped = LogisticProbe(C=1.0, max_iter=2, solver=solver, device="cpu").fit(x, y)
    assert capped.n_iter_ <= 2 and not capped.converged_ and capped.gradient_norm_ > 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbeConvergenceWarning)
        done = LogisticProbe(C=1.0, solver=solver, device="cpu").fit(x, y)
    assert done.converged_ and 2 < done.n_iter_ < 5000


def test_the_result_records_iterations_and_convergence():
    x, y, xt, yt = _problem(seed=13, n=600, d=30)
    result = feature_performance(x, y, xt, yt, C_grid=(0.01, 1.0))
    assert result.converged and result.summary()["converged"] is True
    assert result.summary()["n_iter"] == result.n_iter > 0
    with pytest.warns(ProbeConvergenceWarning):
        capped = feature_performance(x, y, xt, yt, C_grid=(0.01, 1.0), max_iter=1)
    assert not capped.converged and capped.n_iter == 1


def test_both_eigendecompositions_of_the_preconditioner_agree(monkeypatch):
    """numpy's eigh up to NUMPY_EIGH_MAX_DIM, scipy's above: the same basis up to float32 rounding."""
    x, *_ = _problem(seed=14, n=800, d=60, correlated=True)
    xs = Standardizer.fit(x).transform(x)
    gram = xs.T @ xs
    results = {}
    for limit in (10_000, 0):  # numpy's, then scipy's
        monkeypatch.setattr(probe_module, "NUMPY_EIGH_MAX_DIM", limit)
        vals, vecs = probe_module._eigh_float32(gram)
        assert vals.dtype == np.float32 and vecs.dtype == np.float32
        np.testing.assert_allclose((vecs * vals) @ vecs.T, gram, rtol=0, atol=2e-5 * np.abs(gram).max())
        results[limit] = vals
    np.testing.assert_allclose(results[0], results[10_000], rtol=0, atol=1e-5 * results[0].max())

"""featspan.span against scikit-learn Ridge, a brute-force lambda search and the definitions of method.md."""
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from featspan.h5 import FeatureBank, FeatureFile
from featspan.span.backend import get_backend
from featspan.span import (FIT, TEST, VALIDATION, LambdaGrid, RidgeSpan, RoleMoments, RowPlan,
                           SpanStatistics, SymmetricForm, feature_span_error)


def _data(rng, n, p, q, noise=0.5, scale=3.0, shift=2.0):
    x = rng.normal(size=(n, p)) * scale + shift
    y = x @ rng.normal(size=(p, q)) / np.sqrt(p) + noise * rng.normal(size=(n, q))
    return x.astype(np.float32), y.astype(np.float32)


def _span(make_features, x, y, n_train, plan, chunk_rows=37):
    a = make_features("a", x[:n_train], x[n_train:])
    b = make_features("b", y[:n_train], y[n_train:])
    bank = FeatureBank([a, b])
    stats = SpanStatistics.compute(bank, plan, chunk_rows=chunk_rows)
    return RidgeSpan(stats, [0], [1]), bank


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_role_moments_match_numpy_per_role(backend):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(503, 7)) * 5 + 100.0  # a large mean tests the shifted accumulation
    roles = rng.choice([FIT, FIT, FIT, VALIDATION, TEST], size=503).astype(np.int8)
    roles[:64] = FIT  # a chunk of one role only
    acc = RoleMoments(7, get_backend(backend))
    for start in range(0, 503, 64):
        acc.update(z[start:start + 64].copy(), roles[start:start + 64])
    for role in (FIT, VALIDATION, TEST):
        rows = z[roles == role]
        m = acc.moments(role)
        assert m.n == len(rows)
        np.testing.assert_allclose(m.mean, rows.mean(0), rtol=1e-13)
        np.testing.assert_array_equal(m.low, rows.min(0))
        np.testing.assert_array_equal(m.high, rows.max(0))
        point = rng.normal(size=7) + 100
        np.testing.assert_allclose(m.about(point), (rows - point).T @ (rows - point), rtol=1e-10)


@pytest.mark.parametrize("n,p,q", [(300, 20, 5), (40, 80, 6)])  # n > p and n < p
@pytest.mark.parametrize("lam", [1e-3, 1.0, 50.0])
def test_coefficients_match_sklearn_ridge(make_features, n, p, q, lam):
    rng = np.random.default_rng(1)
    x, y = _data(rng, n + 30, p, q)
    span, _ = _span(make_features, x, y, n, RowPlan.regular(n, 30, 0.0))
    coef = span.coef(lam)
    ref = Ridge(alpha=lam, solver="svd").fit(x[:n].astype(np.float64), y[:n].astype(np.float64))
    np.testing.assert_allclose(coef, ref.coef_.T, rtol=1e-8, atol=1e-8 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(span.intercept(coef), ref.intercept_, rtol=1e-8, atol=1e-8 * np.abs(ref.intercept_).max())


def test_duplicate_dead_and_rank_deficient_regressors_match_sklearn(make_features):
    rng = np.random.default_rng(2)
    x, y = _data(rng, 230, 10, 4)
    x = np.hstack([x, x[:, :3], np.zeros((230, 2), np.float32), x[:, :2] @ np.ones((2, 1), np.float32)])
    span, _ = _span(make_features, x, y, 200, RowPlan.regular(200, 30, 0.0))
    for lam in (1e-2, 3.0):
        ref = Ridge(alpha=lam, solver="svd").fit(x[:200].astype(np.float64), y[:200].astype(np.float64))
        np.testing.assert_allclose(span.coef(lam), ref.coef_.T, rtol=1e-8, atol=1e-9)


def test_per_target_lambda_is_broadcast_per_column(make_features):
    rng = np.random.default_rng(3)
    x, y = _data(rng, 130, 8, 3)
    span, _ = _span(make_features, x, y, 100, RowPlan.regular(100, 30, 0.0))
    lams = np.array([0.1, 10.0, 1000.0])
    coef = span.coef(lams)
    for t, lam in enumerate(lams):
        ref = Ridge(alpha=lam).fit(x[:100].astype(np.float64), y[:100, t].astype(np.float64))
        np.testing.assert_allclose(coef[:, t], ref.coef_, rtol=1e-8, atol=1e-10)


def _brute_force(x, y, fit, val, test, grid, per_target):
    """Ridge per lambda with scikit-learn, errors on validation rows by the method.md formula."""
    xf, yf = x[fit].astype(np.float64), y[fit].astype(np.float64)
    mean_fit = yf.mean(0)

    def err(rows, model):
        resid = y[rows] - model.predict(x[rows].astype(np.float64))
        return (resid ** 2).sum(0) / ((y[rows] - mean_fit) ** 2).sum(0)

    models = [Ridge(alpha=lam).fit(xf, yf) for lam in grid]
    val_err = np.array([err(val, m) for m in models])
    if per_target:
        pick = val_err.argmin(0)
    else:
        pick = np.full(y.shape[1], val_err.mean(1).argmin())
    test_err = np.array([err(test, models[k])[t] for t, k in enumerate(pick)])
    return grid[pick], val_err[pick, np.arange(y.shape[1])], test_err


@pytest.mark.parametrize("per_target", [False, True])
def test_lambda_selection_and_errors_match_brute_force(make_features, per_target):
    rng = np.random.default_rng(4)
    n_train, n_test = 400, 120
    x, y = _data(rng, n_train + n_test, 30, 6, noise=1.0)
    y[:, 2] *= 10  # targets of different scales
    plan = RowPlan.regular(n_train, n_test, 0.2, seed=7)
    span, _ = _span(make_features, x, y, n_train, plan)
    grid = np.logspace(-2, 4, 9)
    result, _ = span.run(LambdaGrid(tuple(grid), relative=False), per_target=per_target)
    roles = plan.roles["train"]
    fit, val = np.flatnonzero(roles == FIT), np.flatnonzero(roles == VALIDATION)
    test = n_train + np.arange(n_test)
    lam, val_err, test_err = _brute_force(x, y, fit, val, test, grid, per_target)
    np.testing.assert_allclose(result.lambdas, lam)
    np.testing.assert_allclose(result.errors["validation"], val_err, rtol=1e-8)
    np.testing.assert_allclose(result.errors["test"], test_err, rtol=1e-8)
    assert result.fse("validation") == pytest.approx(val_err.mean(), rel=1e-10)


def test_dead_targets_are_left_out_and_counted(make_features):
    rng = np.random.default_rng(5)
    x, y = _data(rng, 260, 12, 5)
    y[:, 1] = 0.0    # a dead ReLU unit
    y[:, 3] = 0.25   # constant, not zero
    result = feature_span_error([make_features("a", x[:200], x[200:])], [make_features("b", y[:200], y[200:])])
    assert result.n_dead == 2
    assert np.isnan(result.errors["test"][[1, 3]]).all()
    live = [0, 2, 4]
    assert result.fse("test") == pytest.approx(result.errors["test"][live].mean())
    assert result.summary()["n_dead_targets"] == 2


def test_a_target_constant_on_the_fit_rows_is_dead_whatever_the_validation_rows_hold(make_features):
    """Dead means constant on the fit part (method.md section 4). A unit that fires on one validation
    row only must not leak that row's variance into the fit statistics (it once did, by round-off,
    when the fit part's products were the chunk's minus the validation rows')."""
    rng = np.random.default_rng(8)
    x, y = _data(rng, 260, 12, 4)
    plan = RowPlan.regular(200, 60, 0.1, seed=0)
    val_rows = np.flatnonzero(plan.roles["train"] == VALIDATION)
    y[:, 2] = 0.0
    y[val_rows[3], 2] = 7.5  # fires on one validation row, silent on every fit row
    # one chunk: its mean, the shift of the accumulation, includes the validation row's value
    span, _ = _span(make_features, x, y, 200, plan, chunk_rows=1000)
    assert span.dead.tolist() == [False, False, True, False]
    result, _ = span.run(LambdaGrid.logspace(1e-3, 1e3, 7))
    assert result.n_dead == 1 and np.isnan(result.errors["validation"][2])


def test_outlier_rule_drops_targets_with_large_test_error(make_features):
    rng = np.random.default_rng(6)
    x, y = _data(rng, 300, 10, 4)
    y[200:, 0] = y[:200, 0].mean() + 1e-3 * rng.normal(size=100)  # nearly constant on test: huge error
    y[200:, 0] += 0.5
    kwargs = dict(lambdas=LambdaGrid((1.0,), relative=False), validation_fraction=0.0, eval_sets=("test",))
    a, b = make_features("a", x[:200], x[200:]), make_features("b", y[:200], y[200:])
    kept = feature_span_error([a], [b], outlier_threshold=5.0, **kwargs)
    everything = feature_span_error([a], [b], **kwargs)
    assert everything.errors["test"][0] > 5
    assert kept.outliers().tolist() == [True, False, False, False]
    assert kept.fse("test") == pytest.approx(everything.errors["test"][1:].mean())


def test_chunk_size_does_not_change_results(make_features):
    rng = np.random.default_rng(7)
    x, y = _data(rng, 350, 15, 4)
    plan = RowPlan.regular(300, 50, 0.1, seed=3)
    results = []
    for chunk in (7, 64, 10_000):
        span, _ = _span(make_features, x, y, 300, plan, chunk_rows=chunk)
        results.append(span.run(LambdaGrid.logspace(1e-4, 1e2, 7))[0])
    for other in results[1:]:
        for s in ("validation", "test"):
            np.testing.assert_allclose(other.errors[s], results[0].errors[s], rtol=1e-10)


def test_several_regressor_files_equal_their_concatenation(make_features):
    rng = np.random.default_rng(8)
    x, y = _data(rng, 240, 12, 3)
    a1, a2 = make_features("a1", x[:200, :5], x[200:, :5]), make_features("a2", x[:200, 5:], x[200:, 5:])
    whole = make_features("a", x[:200], x[200:])
    b = make_features("b", y[:200], y[200:])
    split = feature_span_error([a1, a2], [b])
    joint = feature_span_error([whole], [b])
    np.testing.assert_allclose(split.errors["test"], joint.errors["test"], rtol=1e-10)


def test_residuals_are_targets_minus_sklearn_predictions(make_features, tmp_path):
    rng = np.random.default_rng(9)
    x, y = _data(rng, 250, 9, 4)
    span, bank = _span(make_features, x, y, 200, RowPlan.regular(200, 50, 0.0))
    coef = span.coef(2.0)
    span.write_residuals(coef, tmp_path / "r.h5", {"state": "residual"})
    ref = Ridge(alpha=2.0).fit(x[:200].astype(np.float64), y[:200].astype(np.float64))
    with FeatureFile(tmp_path / "r.h5") as r:
        np.testing.assert_allclose(r.features("train"), y[:200] - ref.predict(x[:200].astype(np.float64)), atol=1e-5)
        np.testing.assert_allclose(r.features("test"), y[200:] - ref.predict(x[200:].astype(np.float64)), atol=1e-5)
        np.testing.assert_array_equal(r.labels("test"), bank.labels("test"))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("regressors,target", [([0, 1], 2), ([0, 2], 1)])  # contiguous columns or not
def test_regressor_rows_only_give_the_full_statistics_results(make_features, backend, regressors, target):
    """X'[X Y] plus the diagonal (one regression's needs) gives what the whole cross-product gives."""
    rng = np.random.default_rng(12)
    x, y = _data(rng, 400, 9, 5)
    a = make_features("a", x[:300, :4], x[300:, :4])
    b = make_features("b", x[:300, 4:], x[300:, 4:])
    c = make_features("c", y[:300], y[300:])
    plan = RowPlan.regular(300, 100, 0.2, seed=1)
    grid = LambdaGrid.logspace(1e-4, 10, 6)
    with FeatureBank([a, b, c]) as bank:
        full = SpanStatistics.compute(bank, plan, 64, backend)
        part = SpanStatistics.compute(bank, plan, 64, backend, regressor_files=regressors)
        r_full, w_full = RidgeSpan(full, regressors, [target]).run(grid, per_target=True)
        r_part, w_part = RidgeSpan(part, regressors, [target]).run(grid, per_target=True)
        np.testing.assert_allclose(w_part, w_full, rtol=1e-10, atol=1e-12)
        for name in ("validation", "test"):
            np.testing.assert_allclose(r_part.errors[name], r_full.errors[name], rtol=1e-10)
        cols = bank.columns(regressors)
        np.testing.assert_allclose(part.gram.block(bank.columns([target]), cols),
                                   full.gram.block(bank.columns([target]), cols), rtol=1e-10)
        with pytest.raises(ValueError, match="only the regressors"):
            RidgeSpan(part, [target], regressors[:1])


def test_shuffled_plan_mixes_train_and_test_half_and_half():
    plan = RowPlan.shuffled(1000, 200, 0.1, seed=0)
    train, test = plan.roles["train"], plan.roles["test"]
    fit_like = lambda r: np.isin(r, (FIT, VALIDATION)).sum()  # noqa: E731
    assert fit_like(train) == fit_like(test) == 100
    assert (train == TEST).sum() == (test == TEST).sum() == 100
    assert plan.count(VALIDATION) == 20
    assert (train != 0).sum() == 200  # only as many training rows as test rows are used


def test_shuffled_regression_closes_the_gap_between_validation_and_test(make_features):
    """Appendix D.4: targets that follow the regressors more closely on the training inputs (as trained
    features do) give a validation error below the test error; mixing both splits removes the gap."""
    rng = np.random.default_rng(11)
    n_train, n_test = 2000, 2000
    x = rng.normal(size=(n_train + n_test, 8))
    noise = np.r_[np.full(n_train, 0.1), np.full(n_test, 0.6)][:, None] * rng.normal(size=(n_train + n_test, 4))
    y = x @ rng.normal(size=(8, 4)) + noise
    a = make_features("a", x[:n_train].astype(np.float32), x[n_train:].astype(np.float32))
    b = make_features("b", y[:n_train].astype(np.float32), y[n_train:].astype(np.float32))
    regular = feature_span_error([a], [b], validation_fraction=0.2)
    shuffled = feature_span_error([a], [b], validation_fraction=0.2, shuffled=True)
    assert regular.fse("test") > 5 * regular.fse("validation")
    assert shuffled.fse("test") == pytest.approx(shuffled.fse("validation"), rel=0.2)
    assert regular.fse("validation") < shuffled.fse("validation") < regular.fse("test")


def test_fse_is_small_for_a_linear_copy_and_about_one_for_noise(make_features):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(700, 10)).astype(np.float32)
    mixed = (x @ rng.normal(size=(10, 10))).astype(np.float32)
    noise = rng.normal(size=(700, 10)).astype(np.float32)
    a = make_features("a", x[:500], x[500:])
    assert feature_span_error([a], [make_features("b", mixed[:500], mixed[500:])]).fse("test") < 1e-4
    assert 0.9 < feature_span_error([a], [make_features("c", noise[:500], noise[500:])]).fse("test") < 1.2


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_mean_validation_error_path_matches_the_per_target_one(make_features, backend):
    """One lambda for all targets is chosen from the mean error over live targets, computed without
    the per-target errors of every lambda: the same curve as averaging those, dead targets left out."""
    rng = np.random.default_rng(12)
    x, y = _data(rng, 520, 35, 6)
    y[:, 1] = 4.0  # a dead target
    y[:, 3] *= 20
    plan = RowPlan.regular(420, 100, 0.2, seed=3)
    a, b = make_features("a", x[:420], x[420:]), make_features("b", y[:420], y[420:])
    span = RidgeSpan(SpanStatistics.compute(FeatureBank([a, b]), plan, chunk_rows=50, backend=backend), [0], [1])
    grid = LambdaGrid.logspace(1e-4, 1e4, 13).resolve(span.xtx_trace, span.p)
    sse, denom, _ = span.validation_errors(grid)
    live = ~span.dead
    assert live.sum() == 5
    expected = (sse[:, live] / denom[live]).mean(axis=1)
    np.testing.assert_allclose(span.validation_mean_errors(grid), expected, rtol=1e-9)
    choice, _, err = span.select_lambdas(grid, per_target=False)
    best = int(np.argmin(expected))
    assert np.all(choice == best)
    np.testing.assert_allclose(err[best, live], sse[best, live] / denom[live], rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("dim, blocks", [(1, 8), (5, 8), (37, 8), (64, 4), (30, 1)])
def test_symmetric_form_gives_the_column_quadratic_forms(backend, dim, blocks):
    rng = np.random.default_rng(dim)
    g = rng.normal(size=(dim + 3, dim))
    a, u = g.T @ g - 2.0 * np.eye(dim), rng.normal(size=(dim, 9))  # symmetric, indefinite
    expected = np.einsum("ij,ik,kj->j", u, a, u)
    be = get_backend(backend)
    got = be.to_numpy(SymmetricForm(be.asarray(a), blocks).columns(be.asarray(u)))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_float64_feature_files_are_not_rounded_to_float32(tmp_path):
    """The statistics pass reads chunks in the stored type; a float64 file keeps its precision."""
    import h5py
    rng = np.random.default_rng(5)
    data = {"train": 1.0 + rng.normal(size=(300, 4)) * 1e-5, "test": rng.normal(size=(50, 4))}
    path = tmp_path / "f64.h5"
    with h5py.File(path, "w") as f:
        for split, x in data.items():
            f.create_dataset(f"{split}/features", data=x)
            f.create_dataset(f"{split}/labels", data=np.zeros(len(x), dtype=np.int64))
    bank = FeatureBank([path])
    plan = RowPlan.regular(300, 50, 0.0)
    stats = SpanStatistics.compute(bank, plan, chunk_rows=64)
    x = data["train"]
    np.testing.assert_allclose(stats.gram.mean, x.mean(0), rtol=1e-12)
    centered = x - x.mean(0)
    np.testing.assert_allclose(stats.gram.block(np.arange(4), np.arange(4)), centered.T @ centered, rtol=1e-9)

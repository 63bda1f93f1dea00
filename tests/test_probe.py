"""featspan.probe against scikit-learn's LogisticRegression at the same C."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from featspan.probe import LogisticProbe, feature_performance


def _problem(seed=0, n=3000, d=40, k=4, noise=1.5, correlated=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if correlated:  # like a concatenation of many narrow models: strongly correlated columns
        x = x @ (np.eye(d) + 0.9 * rng.normal(size=(d, d)) / np.sqrt(d))
    x = (x * rng.uniform(0.1, 10, size=d) + rng.normal(size=d)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(d, k)) / np.sqrt(d) + noise * rng.gumbel(size=(n, k)), axis=1)
    return x[: n * 4 // 5], y[: n * 4 // 5], x[n * 4 // 5:], y[n * 4 // 5:]


@pytest.mark.parametrize("C", [0.01, 1.0])
@pytest.mark.parametrize("correlated", [False, True])
def test_matches_sklearn_logistic_regression(C, correlated):
    x, y, xt, yt = _problem(correlated=correlated)
    probe = LogisticProbe(C=C, max_iter=1000, tol=1e-7, ftol=1e-12).fit(x, y)
    scaler = StandardScaler().fit(x)
    ref = LogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(scaler.transform(x), y)
    assert abs(probe.score(xt, yt) - ref.score(scaler.transform(xt), yt)) <= 0.005
    np.testing.assert_allclose(probe.coef_, ref.coef_, atol=2e-3 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(probe.intercept_, ref.intercept_, atol=2e-3 * max(1.0, np.abs(ref.intercept_).max()))


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


def test_rejects_nonpositive_c():
    with pytest.raises(ValueError, match="C must be positive"):
        LogisticProbe(C=0)

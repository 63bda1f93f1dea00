"""CKA from the cached statistics against the direct formulas on n x n kernel matrices."""
import numpy as np
import pytest

from featspan.h5 import FeatureBank
from featspan.span.similarity import debiased_linear_cka, linear_cka
from featspan.span import RowPlan, SpanStatistics


def _direct_cka(x, y, debiased):
    """Kornblith et al.'s feature-space formula (plain) and Song et al.'s unbiased HSIC on explicit Grams."""
    x, y = x - x.mean(0), y - y.mean(0)
    if not debiased:
        return np.sum((x.T @ y) ** 2) / np.sqrt(np.sum((x.T @ x) ** 2) * np.sum((y.T @ y) ** 2))

    def hsic(k, l):
        n = k.shape[0]
        k, l = k.copy(), l.copy()
        np.fill_diagonal(k, 0)
        np.fill_diagonal(l, 0)
        one = np.ones(n)
        return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))

    k, l = x @ x.T, y @ y.T
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_matches_direct_formula(make_features, debiased):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6)) * 2 + 1
    y = np.hstack([x[:, :3] @ rng.normal(size=(3, 4)), rng.normal(size=(150, 3))]) + 5
    files = [make_features("x1", x[:120, :2], x[120:, :2]), make_features("x2", x[:120, 2:], x[120:, 2:]),
             make_features("y", y[:120], y[120:])]
    stats = SpanStatistics.compute(FeatureBank(files), RowPlan.regular(120, 30, 0.0), chunk_rows=32)
    fn = debiased_linear_cka if debiased else linear_cka
    got = fn(stats, [0, 1], [2])
    want = _direct_cka(x[:120].astype(np.float32).astype(np.float64),
                       y[:120].astype(np.float32).astype(np.float64), debiased)
    assert got == pytest.approx(want, rel=1e-9)
    assert fn(stats, [0, 1], [0, 1]) == pytest.approx(1.0, rel=1e-12)


def test_row_norm_products_from_the_pass_equal_a_second_pass(make_features):
    """The debiased CKA's sum_i a_f(i) a_g(i), gathered in the statistics pass, against the direct pass."""
    from featspan.span.similarity import row_norm_products

    rng = np.random.default_rng(3)
    x = rng.normal(size=(230, 7)) * 3 + 40.0                   # a large mean tests the shifted accumulation
    files = [make_features(f"f{i}", x[:200, c], x[200:, c]) for i, c in enumerate((slice(0, 2), slice(2, 5), slice(5, 7)))]
    plan = RowPlan.regular(200, 30, 0.2, seed=1)
    gathered = SpanStatistics.compute(FeatureBank(files), plan, chunk_rows=64, row_norms=True)
    direct = SpanStatistics.compute(FeatureBank(files), plan, chunk_rows=64)
    assert gathered.norms is not None and direct.norms is None
    np.testing.assert_allclose(row_norm_products(gathered), row_norm_products(direct), rtol=1e-9)

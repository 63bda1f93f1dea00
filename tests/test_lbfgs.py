"""featspan.lbfgs against closed-form minimizers and scipy's L-BFGS-B."""
import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize
from scipy.optimize import rosen, rosen_der

from featspan.lbfgs import _cubic_step, minimize


def _quadratic(dim=60, condition=1e3, seed=0):
    """``f = x'Ax / 2 - b'x`` with A SPD of the given condition number; its minimizer solves Ax = b."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    a = (q * np.logspace(0, np.log10(condition), dim)) @ q.T
    b = rng.normal(size=dim)
    return (lambda x: (0.5 * x @ a @ x - b @ x, a @ x - b)), np.linalg.solve(a, b)


def _softmax_regression(n=400, d=12, k=3, C=0.5, seed=1):
    """scikit-learn's multinomial objective ``C sum CE + |W|^2 / 2`` in (W, b), flattened."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.argmax(x @ rng.normal(size=(d, k)) + rng.gumbel(size=(n, k)), axis=1)
    onehot = np.eye(k)[y]

    def f(theta):
        w, b = theta[: d * k].reshape(d, k), theta[d * k:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        norm = p.sum(axis=1, keepdims=True)
        loss = C * float(np.log(norm).sum() - (z * onehot).sum()) + 0.5 * float((w * w).sum())
        r = C * (p / norm - onehot)
        return loss, np.concatenate([(x.T @ r + w).ravel(), r.sum(axis=0)])

    return f, x, y, d, k


def test_reaches_the_minimizer_of_a_quadratic():
    f, solution = _quadratic()
    result = minimize(f, np.zeros(solution.size), gtol=1e-6, ftol=0.0, max_iter=2000)
    assert result.status == "gtol" and result.converged
    # |x - x*| <= |A^-1| |g| = 1e-6 here (the smallest eigenvalue is 1): no tighter from the gradient
    np.testing.assert_allclose(result.x, solution, rtol=0, atol=1e-6 * np.abs(solution).max())
    assert result.n_fev >= result.n_iter + 1


def test_matches_scipy_on_multinomial_logistic_regression():
    """The same minimum as L-BFGS-B at the same stopping rules, in about as many iterations, and the
    same coefficients as scikit-learn's LogisticRegression."""
    from sklearn.linear_model import LogisticRegression

    f, x, y, d, k = _softmax_regression()
    theta0 = np.zeros(d * k + k)
    ours = minimize(f, theta0, gtol=1e-9, ftol=0.0, max_iter=1000)
    ref = scipy_minimize(f, theta0, jac=True, method="L-BFGS-B",
                         options={"gtol": 1e-9, "ftol": 0.0, "maxiter": 1000, "maxcor": 20})
    assert ours.converged
    assert ours.fun == pytest.approx(ref.fun, rel=1e-12)
    np.testing.assert_allclose(ours.x, ref.x, rtol=0, atol=1e-7)
    assert ours.n_iter <= 1.3 * ref.nit + 5
    sk = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(ours.x[: d * k].reshape(d, k).T, sk.coef_, rtol=0, atol=1e-6)


def test_stops_on_the_relative_decrease_like_l_bfgs_b():
    f, solution = _quadratic(condition=1e4, seed=2)
    result = minimize(f, np.zeros(solution.size), gtol=0.0, ftol=1e-6)
    assert result.status == "ftol"
    ref = scipy_minimize(f, np.zeros(solution.size), jac=True, method="L-BFGS-B",
                         options={"gtol": 0.0, "ftol": 1e-6, "maxcor": 20})
    # both stop near the minimum, short of full precision, after about as many iterations
    optimum = f(solution)[0]
    assert 1e-9 * abs(optimum) < result.fun - optimum <= 1e-4 * abs(optimum)
    assert 1e-9 * abs(optimum) < ref.fun - optimum <= 1e-4 * abs(optimum)
    assert 0.7 * ref.nit <= result.n_iter <= 1.3 * ref.nit


def test_nonconvex_rosenbrock():
    """Not what the probe needs, but the method stays a descent method: pairs without positive
    curvature are skipped and the line search still finds decrease."""
    result = minimize(lambda v: (rosen(v), rosen_der(v)), np.full(6, -1.2), gtol=1e-8, ftol=0.0, max_iter=5000)
    assert result.converged
    np.testing.assert_allclose(result.x, np.ones(6), atol=1e-6)


def test_iteration_cap_and_a_start_at_the_minimum():
    f, solution = _quadratic(condition=1e4, seed=3)
    capped = minimize(f, np.zeros(solution.size), max_iter=3, gtol=0.0, ftol=0.0)
    assert (capped.status, capped.n_iter, capped.converged) == ("max_iter", 3, False)
    assert capped.fun < f(np.zeros(solution.size))[0]  # every iteration decreased the objective
    at_min = minimize(f, solution, gtol=1e-6)
    assert (at_min.status, at_min.n_iter, at_min.n_fev) == ("gtol", 0, 1)


def test_steps_back_from_overflow():
    """A trial step where the objective overflows is halved, not taken."""
    def f(x):
        with np.errstate(over="ignore"):
            e = np.exp(x)
        return float(e.sum() - 2.0 * x.sum()), e - 2.0  # minimum at x = log 2

    result = minimize(f, np.full(3, -40.0), gtol=1e-10, ftol=0.0)
    assert result.converged
    np.testing.assert_allclose(result.x, np.log(2.0), rtol=1e-8)


def test_stops_at_the_noise_floor():
    """An objective known only to about 1e-9 (like the probe's float32 products): near the minimum
    no decrease is left to find, and the search ends there instead of looping."""
    f, solution = _quadratic(condition=1e2, seed=4)
    noise = np.random.default_rng(5)

    def noisy(x):
        value, grad = f(x)
        return value * (1.0 + 1e-9 * noise.normal()), grad * (1.0 + 1e-9 * noise.normal(size=grad.size))

    result = minimize(noisy, np.zeros(solution.size), gtol=0.0, ftol=0.0, max_iter=10_000)
    assert result.status == "line_search" and not result.converged
    assert result.n_iter < 1000
    np.testing.assert_allclose(result.x, solution, atol=1e-2 * np.abs(solution).max())


def test_a_non_finite_start_is_an_error():
    with pytest.raises(FloatingPointError, match="not finite at the starting point"):
        minimize(lambda x: (np.nan, x), np.zeros(2))


def test_the_backtracking_step_is_the_interpolating_cubics_minimizer():
    # phi(a) = 1 - 2a + 4a^2: exact minimizer 1/4, from the values and slopes at 0 and 1
    assert _cubic_step(1.0, 1.0, -2.0, 3.0, 6.0) == pytest.approx(0.25, rel=1e-14)
    # phi(a) = 1 - a + a^3: minimizer 1/sqrt(3), from 0 and 2
    assert _cubic_step(2.0, 1.0, -1.0, 7.0, 11.0) == pytest.approx(3 ** -0.5, rel=1e-14)
    # kept within [0.1, 0.5] of the step: phi(a) = 1 - a + a^2 / 2 from 0 and 1.5 (minimizer 1)
    assert _cubic_step(1.5, 1.0, -1.0, 0.625, 0.5) == 0.75

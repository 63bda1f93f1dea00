"""Feature performance (FP): a linear softmax probe on frozen features (docs/method.md section 6).

``FP(features)`` is the test accuracy of a multinomial logistic regression trained on the training
split's features, standardized with training statistics. The L2 strength follows scikit-learn's
``C`` convention: the solver minimizes ``C * sum_i CE_i + ||W||^2 / 2`` (intercept unpenalized),
the same minimizer as ``LogisticRegression(C=C)``, in the form divided by ``C n`` that scikit-learn's
lbfgs solver uses. When C is not fixed it is chosen on a validation part of the training split over a
grid, each fit warm-started from the previous (more regularized) one, and the final probe is refit on
the whole training split at the chosen C.

Every fit must converge: the gradient's Euclidean norm at most ``tol`` (1e-4 by default, scikit-learn's
tolerance applied to the gradient's norm instead of its largest entry: as tight or tighter). Solvers:

* ``newton`` (the CPU default): truncated Newton in the eigenbasis of the features' Gram matrix
  (:mod:`featspan.softmax_newton`); float32 products with the data (float64 once float32's
  resolution stops it short of ``tol``), float64 everything else;
* ``lbfgs``: scipy's L-BFGS-B on the same objective and coordinates (a reference; many more
  iterations on correlated features);
* ``torch`` (the GPU default): torch's L-BFGS with a strong-Wolfe line search, stopped when the
  gradient's largest entry is at most ``tol`` (scikit-learn's own criterion).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .schema import default
from .softmax_newton import SoftmaxObjective, minimize_softmax

DEFAULT_C_GRID = tuple(float(c) for c in default("properties/probe", "C_grid"))  # the config schema's


class ProbeConvergenceWarning(UserWarning):
    """A probe's solver stopped at its iteration cap before meeting its tolerances."""


@dataclass
class Prepared:
    """A training matrix standardized, with (for the CPU solver) the eigendecomposition of its Gram
    matrix: the C-independent part of the solver's preconditioner, shared by every C of a grid.

    The standardized matrix is kept feature-major (d x n, contiguous): the solver's two products per
    iteration are then wide ones (k << n), the fast layout, and standardizing writes it in one pass
    over the rows (no row-major copy beside it). ``xs`` is its n x d view."""

    x: np.ndarray
    scaler: "Standardizer | None"
    xt: np.ndarray                       # d x n standardized features, float32
    eigvals: np.ndarray | None = None    # of X'X, scaled to n rows
    eigvecs: np.ndarray | None = None

    _eig_t: np.ndarray | None = field(default=None, init=False, repr=False)  # eigen_major(), once
    _sample: tuple | None = field(default=None, init=False, repr=False)       # curvature_sample(), once

    @property
    def xs(self) -> np.ndarray:
        """The standardized rows, n x d (a view)."""
        return self.xt.T

    def eigen_major(self) -> np.ndarray:
        """The rows in the eigenbasis, ``V' xs'`` (d x n, float32; once)."""
        if self._eig_t is None:
            self._eig_t = self.eigvecs.T.astype(np.float32) @ self.xt
        return self._eig_t

    # Rows behind the Newton preconditioner's diagonal when the data stay unrotated: per feature, 4 rows
    # (at least 4,096) estimate sum_i a_ij^2 p_ik (1 - p_ik) well enough to precondition.
    CURVATURE_ROWS_PER_FEATURE = 4
    MIN_CURVATURE_ROWS = 4096

    def curvature_sample(self) -> tuple[np.ndarray | None, np.ndarray]:
        """Rows (None: all) and their squared coordinates in the eigenbasis (d x m, float32), from which
        the Newton solver estimates the Hessian's diagonal at every step."""
        if self._sample is None:
            if self.rotate_data():
                self._sample = (None, np.square(self.eigen_major()))
            else:
                d, n = self.xt.shape
                m = max(self.CURVATURE_ROWS_PER_FEATURE * d, self.MIN_CURVATURE_ROWS)
                index = None if n <= m else np.linspace(0, n - 1, m).astype(np.intp)
                rows = self.xt if index is None else np.take(self.xt, index, axis=1)
                self._sample = (index, np.square(self.eigvecs.T.astype(np.float32) @ rows))
        return self._sample

    def rotate_data(self) -> bool:
        """Whether the solver should rotate the rows into the eigenbasis once (n d^2, shared by every
        fit of this matrix) instead of rotating each iterate's weights (two float64 d x d products per
        iteration, read from memory). The weights' way costs 2 d / n of an iteration's data traffic: rotate
        once that passes one half (d >= n / 4), as for a concatenation of many narrow models on a
        small task; keep the weights' way for tall data (n = 30,000, d = 1,024: 7 %)."""
        n, d = self.xs.shape
        return 4 * d >= n

    # Rows of the Gram matrix behind the preconditioner: a basis from 8 d rows (at least 16384) serves
    # as well as one from all of them, at a fraction of the cost.
    GRAM_ROWS_PER_FEATURE = 8
    MIN_GRAM_ROWS = 16384

    @classmethod
    def of(cls, x: np.ndarray, standardize: bool = True, precondition: bool = True,
           basis: "Prepared | None" = None) -> "Prepared":
        """``basis``: reuse another matrix's eigenbasis (rescaled to this row count) instead of a new
        eigendecomposition (the fit part of the same training rows serves the whole of them)."""
        scaler = Standardizer.fit(x) if standardize else None
        xt = (scaler or Standardizer.identity(x.shape[1])).transform_features_major(x)
        d, n = xt.shape
        if not precondition:
            return cls(x, scaler, xt)
        if basis is not None and basis.eigvecs is not None and basis.eigvecs.shape[0] == d:
            return cls(x, scaler, xt, basis.eigvals * (n / basis.xt.shape[1]), basis.eigvecs)
        # The basis only preconditions (the objective is exact in any coordinates), so a float32 Gram
        # matrix of evenly spaced rows serves, and so does its float32 eigendecomposition (orthonormal
        # to ~1e-6, below the solver's float32 products).
        rows = max(cls.GRAM_ROWS_PER_FEATURE * d, cls.MIN_GRAM_ROWS)
        # evenly spaced rows, gathered (a strided view would make the product pack them, slower)
        cols = xt if n <= rows else np.take(xt, np.linspace(0, n - 1, rows).astype(np.intp), axis=1)
        eigvals, eigvecs = _eigh_float32(cols @ cols.T)
        eigvals = np.clip(eigvals.astype(np.float64), 0.0, None) * (n / cols.shape[1])
        return cls(x, scaler, xt, eigvals, eigvecs.astype(np.float64))


# Up to this size numpy's eigh is as fast as scipy's divide-and-conquer driver; above it numpy's takes
# up to twice as long, which repays importing scipy.linalg.
NUMPY_EIGH_MAX_DIM = 1024


def _eigh_float32(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if gram.shape[0] <= NUMPY_EIGH_MAX_DIM:
        return np.linalg.eigh(gram)
    from scipy.linalg import eigh

    return eigh(gram, driver="evd", check_finite=False)


@dataclass
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

    BLOCK_ROWS = 32  # rows per block: a block and its transposed copy stay in the fast caches

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        """Mean and standard deviation per column (float64 statistics, centered in float32 blocks)."""
        mean = x.mean(axis=0, dtype=np.float64)
        mean32 = mean.astype(np.float32)
        sq = np.zeros(x.shape[1])
        for start in range(0, x.shape[0], 4096):
            centered = np.asarray(x[start:start + 4096], dtype=np.float32) - mean32
            sq += np.einsum("ij,ij->j", centered, centered, dtype=np.float64)
        std = np.sqrt(sq / max(len(x), 1))
        return cls(mean, np.where(std > 0, std, 1.0))  # constant features stay constant (zero)

    @classmethod
    def identity(cls, d: int) -> "Standardizer":
        return cls(np.zeros(d), np.ones(d))

    def transform(self, x: np.ndarray, dtype=np.float32) -> np.ndarray:
        """(x - mean) / scale, in float32 arithmetic (statistics kept in float64)."""
        out = np.asarray(x, dtype=np.float32) - self.mean.astype(np.float32)
        out *= (1.0 / self.scale).astype(np.float32)
        return out.astype(dtype, copy=False)

    def transform_features_major(self, x: np.ndarray) -> np.ndarray:
        """``transform(x).T`` as a contiguous d x n float32 array, written by row blocks in one pass
        (the same numbers: the same float32 operations on each entry)."""
        n, d = x.shape
        out = np.empty((d, n), dtype=np.float32)
        mean, inv = self.mean.astype(np.float32), (1.0 / self.scale).astype(np.float32)
        for start in range(0, n, self.BLOCK_ROWS):
            block = np.asarray(x[start:start + self.BLOCK_ROWS], dtype=np.float32) - mean
            block *= inv
            out[:, start:start + self.BLOCK_ROWS] = block.T
        return out


class LogisticProbe:
    """Multinomial logistic regression in scikit-learn's C convention.

    Follows scikit-learn's estimator conventions: ``fit(X, y)``, ``predict``, ``score``, learned
    attributes with a trailing underscore (``coef_``, ``intercept_``, ``n_iter_``, ``converged_``).
    Inputs are standardized inside ``fit``. ``max_iter`` caps Newton steps (``newton``) or L-BFGS
    iterations (``lbfgs``, ``torch``); ``None`` takes the solver's default.
    """

    SOLVERS = ("auto", "newton", "lbfgs", "torch")
    CPU_SOLVERS = ("newton", "lbfgs")   # numpy objectives in the eigenbasis of the features
    DEFAULT_MAX_ITER = {"newton": 100, "lbfgs": 5000, "torch": 5000}
    LBFGS_MEMORY = 20  # (s, y) pairs the L-BFGS solvers keep

    def __init__(self, C: float = 1.0, max_iter: int | None = None, tol: float = 1e-4, device: str | None = None,
                 dtype: str = "float32", standardize: bool = True, solver: str = "auto"):
        if not C > 0:
            raise ValueError(f"C must be positive, got {C}")
        if solver not in self.SOLVERS:
            raise ValueError(f"unknown solver {solver!r} (one of {', '.join(self.SOLVERS)})")
        if max_iter is not None and max_iter < 1:
            raise ValueError(f"max_iter must be at least 1, got {max_iter}")
        if not tol > 0:
            raise ValueError(f"tol must be positive, got {tol}")
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.dtype = dtype
        self.standardize = standardize
        self.solver = solver

    def _device(self) -> str:
        """The device to solve on: as given, else a GPU when torch sees one, else the CPU."""
        if self.device is not None:
            return str(self.device)
        from .device import cuda_available
        return "cuda" if cuda_available() else "cpu"

    def _solver(self) -> str:
        """The solver that runs: ``auto`` is newton on the CPU and torch elsewhere."""
        on_cpu = self._device().split(":")[0] == "cpu"
        if self.solver in self.CPU_SOLVERS and not on_cpu:
            raise ValueError(f"the {self.solver} solver runs on the CPU, not on {self._device()!r}")
        if self.solver == "auto":
            return "newton" if on_cpu else "torch"
        return self.solver

    def _preconditioned(self) -> bool:
        """Whether the solver works in the eigenbasis of the features (the CPU solvers)."""
        return self._solver() in self.CPU_SOLVERS

    def fit(self, x: np.ndarray, y: np.ndarray, warm_start: tuple[np.ndarray, np.ndarray] | None = None,
            prepared: Prepared | None = None):
        """Fit on ``x``; ``prepared`` (from ``Prepared.of(x)``) reuses standardization and eigenbasis
        across several fits of the same matrix, e.g. a grid of C."""
        y = np.asarray(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        solver = self._solver()
        max_iter = self.max_iter or self.DEFAULT_MAX_ITER[solver]
        if prepared is None or prepared.x is not x:
            prepared = Prepared.of(x, self.standardize, precondition=self._preconditioned())
        self.scaler_ = prepared.scaler
        d, k = x.shape[1], len(self.classes_)
        if warm_start is not None and warm_start[0].shape == (d, k):
            w0, b0 = warm_start
        else:
            w0, b0 = np.zeros((d, k)), np.zeros(k)
        if solver == "torch":
            weight, bias = self._fit_torch(prepared.xs, codes, self._device(), w0, b0, max_iter)
        else:
            weight, bias = self._fit_eigenbasis(prepared, codes, k, w0, b0, solver, max_iter)
        self.coef_ = weight.T  # (k, d) like scikit-learn
        # softmax ignores a shift of every intercept and the intercept is unpenalized: report the
        # centered minimizer, as scikit-learn does
        self.intercept_ = bias - bias.mean()
        if not self.converged_:  # a number from an unconverged solve is not the probe's: say so
            warnings.warn(f"the probe (C={self.C:g}) stopped at max_iter={max_iter} (or at float64 resolution) "
                          f"with gradient norm {self.gradient_norm_:.2g} > tol={self.tol:g}",
                          ProbeConvergenceWarning, stacklevel=2)
        return self

    def _objective(self, prepared: Prepared, codes, k) -> SoftmaxObjective:
        if prepared.eigvecs is None:
            raise ValueError("the CPU solvers need the eigenbasis: Prepared.of(x, precondition=True)")
        penalty = 1.0 / (2.0 * self.C * prepared.xt.shape[1])
        sample = prepared.curvature_sample()
        if prepared.rotate_data():
            return SoftmaxObjective(prepared.eigen_major(), codes, k, penalty, sample=sample)
        return SoftmaxObjective(prepared.xt, codes, k, penalty, rotation=prepared.eigvecs, sample=sample)

    def _fit_eigenbasis(self, prepared: Prepared, codes, k, w0, b0, solver: str, max_iter: int):
        """Newton or scipy's L-BFGS-B on the objective in the eigenbasis ``U = V' W``."""
        objective = self._objective(prepared, codes, k)
        basis = prepared.eigvecs
        u0 = basis.T @ np.asarray(w0, dtype=np.float64)
        if solver == "newton":
            result = minimize_softmax(objective, u0, np.asarray(b0, dtype=np.float64), tol=self.tol, max_iter=max_iter)
            u, b = result.weight, result.bias
            self.n_iter_, self.converged_, self.gradient_norm_ = result.n_iter, result.converged, result.gradient_norm
        else:
            u, b = self._lbfgs(objective, u0, np.asarray(b0, dtype=np.float64), max_iter)
        return basis @ u, b

    def _lbfgs(self, objective: SoftmaxObjective, u0, b0, max_iter: int):
        from scipy.optimize import minimize

        shape = u0.shape
        last = {}

        def fun(theta):
            loss, gu, gb, _ = objective.value_gradient(theta[:u0.size].reshape(shape), theta[u0.size:])
            last["norm"] = float(np.sqrt((gu * gu).sum() + (gb * gb).sum()))
            return loss, np.concatenate([gu.ravel(), gb])

        def stop_at_tolerance(intermediate_result):
            if last["norm"] <= self.tol:
                raise StopIteration

        result = minimize(fun, np.concatenate([u0.ravel(), b0]), jac=True, method="L-BFGS-B",
                          callback=stop_at_tolerance,
                          options={"maxiter": max_iter, "gtol": 0.0, "ftol": 0.0, "maxcor": self.LBFGS_MEMORY})
        fun(result.x)  # the gradient at the returned point
        self.n_iter_, self.gradient_norm_ = int(result.nit), last["norm"]
        self.converged_ = self.gradient_norm_ <= self.tol
        return result.x[:u0.size].reshape(shape), result.x[u0.size:]

    def _fit_torch(self, xs, codes, device, w0, b0, max_iter: int):
        import torch

        dtype = getattr(torch, self.dtype)
        xt = torch.as_tensor(xs, device=device, dtype=dtype)
        yt = torch.as_tensor(codes, device=device, dtype=torch.long)
        weight = torch.tensor(w0, device=device, dtype=dtype, requires_grad=True)
        bias = torch.tensor(b0, device=device, dtype=dtype, requires_grad=True)
        n = xt.shape[0]
        penalty = 1.0 / (2.0 * self.C * n)  # C * sum CE + |W|^2/2, divided by C n
        optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=self.tol,
                                      tolerance_change=0.0, history_size=self.LBFGS_MEMORY,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            logits = torch.addmm(bias, xt, weight)
            loss = torch.nn.functional.cross_entropy(logits, yt) + penalty * weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        closure()  # the gradient at the returned point
        grad = torch.cat([weight.grad.flatten(), bias.grad.flatten()])
        state = optimizer.state[optimizer._params[0]]
        self.n_iter_ = state.get("n_iter", 0)
        self.gradient_norm_ = float(grad.norm())
        self.converged_ = float(grad.abs().max()) <= self.tol  # scikit-learn's criterion, in torch's stop
        return (weight.detach().cpu().numpy().astype(np.float64),
                bias.detach().cpu().numpy().astype(np.float64))

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        xs = self.scaler_.transform(x) if self.standardize else np.asarray(x, dtype=np.float32)
        return self._scores(xs)

    def _scores(self, xs: np.ndarray) -> np.ndarray:
        # float32 products, like the solver's: the scores only rank classes
        return (xs @ self.coef_.T.astype(np.float32)).astype(np.float64) + self.intercept_

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(x), axis=1)]

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def _score_prepared(self, prepared: Prepared, y: np.ndarray) -> float:
        """Accuracy on the rows ``prepared`` already standardized (no second standardization)."""
        return float(np.mean(self.classes_[np.argmax(self._scores(prepared.xs), axis=1)] == np.asarray(y)))

    def _warm(self):
        return self.coef_.T, self.intercept_


@dataclass
class ProbeResult:
    accuracy: float           # test accuracy of the final probe (the FP)
    train_accuracy: float
    C: float
    validation_accuracy: dict[float, float]  # per candidate C (empty when C was fixed)
    n_features: int
    n_iter: int = 0           # the final probe's solver iterations (Newton steps with the newton solver)
    converged: bool = True    # every fit (each candidate C's and the final one) met the tolerance
    solver: str = ""

    def summary(self) -> dict:
        return {"accuracy": self.accuracy, "train_accuracy": self.train_accuracy, "C": self.C,
                "validation_accuracy": {str(k): v for k, v in self.validation_accuracy.items()},
                "n_features": self.n_features, "n_iter": self.n_iter, "converged": self.converged,
                "solver": self.solver}


def feature_performance(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                        C: float | None = None, C_grid: Sequence[float] = DEFAULT_C_GRID,
                        validation_fraction: float = 0.1, split_seed: int = 0, max_iter: int | None = None,
                        tol: float = 1e-4, device: str | None = None, solver: str = "auto",
                        progress=None) -> ProbeResult:
    """FP: test accuracy of a softmax probe; C fixed, or chosen on a validation part of the training split.

    Features constant over the training split are left out of the solve: standardized they are zero on
    every training row, so their optimal weights are exactly zero whatever C (the same probe, exactly),
    and a concatenation of narrow ReLU models carries many dead units (the toy's 200 width-10 models:
    three in four of their 2,000 features). ``progress(stage, done, total)``, if given, hears of each C of
    the grid fitted (done of total)."""
    n_features = x_train.shape[1]
    _check_probe_input(x_train, y_train, x_test, y_test, C, validation_fraction)
    varying = varying_columns(x_train)
    if varying.any() and not varying.all():
        x_train, x_test = x_train[:, varying], x_test[:, varying]
    scores: dict[float, float] = {}
    prepared, start, converged = None, None, True
    if C is None:
        grid = sorted(float(c) for c in C_grid)
        if not grid:
            raise ValueError("the C grid is empty")
        val = validation_rows(y_train, validation_fraction, split_seed)
        warm = None
        solutions = {}
        x_fit, y_fit = x_train[~val], y_train[~val]
        for k, c in enumerate(grid, 1):  # strong to weak regularization, each warm-started from the previous one
            probe = LogisticProbe(C=c, max_iter=max_iter, tol=tol, device=device, solver=solver)
            if prepared is None:  # one standardization (and, for the CPU solvers, eigenbasis) for the whole grid
                prepared = Prepared.of(x_fit, precondition=probe._preconditioned())
            probe.fit(x_fit, y_fit, warm, prepared=prepared)
            converged &= probe.converged_
            if progress:
                progress(f"C = {c:g}: {probe.n_iter_} iterations", k, len(grid))
            scores[c] = probe.score(x_train[val], y_train[val])
            warm = solutions[c] = probe._warm()
        C = max(grid, key=lambda c: (scores[c], -c))  # best accuracy; ties go to the stronger penalty
        start = solutions[C]
    # The final probe on every training row, started from the chosen C's solution, preconditioned
    # with the fit part's eigenbasis (the same minimizer without a second eigendecomposition).
    final = LogisticProbe(C=C, max_iter=max_iter, tol=tol, device=device, solver=solver)
    full = Prepared.of(x_train, basis=prepared, precondition=final._preconditioned())
    probe = final.fit(x_train, y_train, start, prepared=full)
    train_accuracy = probe._score_prepared(full, y_train)
    return ProbeResult(probe.score(x_test, y_test), train_accuracy, float(C), scores, n_features, probe.n_iter_,
                       converged and probe.converged_, final._solver())


def _check_probe_input(x_train, y_train, x_test, y_test, C, validation_fraction) -> None:
    """Refuse what no probe can be trained or scored on, naming what is wrong."""
    if x_train.shape[1] == 0:
        raise ValueError("the features have no columns")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"training and test features differ in width ({x_train.shape[1]} vs {x_test.shape[1]})")
    for name, labels in (("training", y_train), ("test", y_test)):
        if not np.issubdtype(np.asarray(labels).dtype, np.integer):
            raise ValueError(f"the {name} labels are not integers (dtype {np.asarray(labels).dtype})")
    if len(np.unique(y_train)) < 2:
        raise ValueError(f"the training labels hold a single class ({np.unique(y_train).tolist()}); a probe needs two")
    if C is None and not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction (--validation-fraction) must be in (0, 1), got {validation_fraction}")


def validation_rows(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The validation part of the training rows (a boolean mask, fixed seed) that chooses C. Every
    class must keep rows on both sides, or the choice of C is made on a part that cannot see it."""
    n_val = int(round(fraction * len(y)))
    if not 0 < n_val < len(y):
        raise ValueError(f"validation_fraction (--validation-fraction) = {fraction} gives {n_val} of {len(y)} "
                         "training rows to the validation part; it needs at least one row and must leave some to fit")
    val = np.zeros(len(y), dtype=bool)
    val[np.random.default_rng(seed).choice(len(y), size=n_val, replace=False)] = True
    for part, mask in (("validation", val), ("fit", ~val)):
        missing = np.setdiff1d(np.unique(y), np.unique(y[mask]))
        if missing.size:
            raise ValueError(f"validation_fraction (--validation-fraction) = {fraction} leaves class "
                             f"{missing[0]} without {part} rows; choose another fraction or fix C with --C")
    return val


def varying_columns(x: np.ndarray, block: int = 4096) -> np.ndarray:
    """Which columns of ``x`` take more than one value (row blocks: no n x d temporary)."""
    varying = np.zeros(x.shape[1], dtype=bool)
    first = x[:1]
    for start in range(0, x.shape[0], block):
        varying |= (x[start:start + block] != first).any(axis=0)
    return varying

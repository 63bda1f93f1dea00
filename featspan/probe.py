"""Feature performance (FP): a linear softmax probe on frozen features (method.md section 6).

``FP(features)`` is the test accuracy of a multinomial logistic regression trained on the training
split's features, standardized with training statistics. The L2 strength follows scikit-learn's
``C`` convention: the solver minimizes ``C * sum_i CE_i + ||W||^2 / 2`` (intercept unpenalized),
the same minimizer as ``LogisticRegression(C=C)``. When C is not fixed it is chosen on a validation
part of the training split over a grid, each fit warm-started from the previous (more regularized) one,
and the final probe is refit on the whole training split at the chosen C.

The solver is full-batch L-BFGS on the exact objective with float32 matrix products. On a GPU it
runs in torch (``torch.optim.LBFGS`` with a strong-Wolfe line search). On the CPU it runs in numpy,
preconditioned, with :mod:`featspan.lbfgs`: this machine's torch CPU build multiplies the skinny
``n x d`` by ``d x k`` matrices of a probe 3-8x slower than numpy's BLAS (measured; see
benchmarks/probe.py), and importing scipy.optimize alone takes 0.6-0.9 s. ``solver="scipy"`` minimizes
the same preconditioned objective with scipy's L-BFGS-B (a reference); ``solver="torch"`` runs torch's
solver on the CPU as well: what a GPU runs, checkable without one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

DEFAULT_C_GRID = tuple(float(c) for c in np.logspace(-4, 1, 6))


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

    @property
    def xs(self) -> np.ndarray:
        """The standardized rows, n x d (a view)."""
        return self.xt.T

    def eigen_major(self) -> np.ndarray:
        """The rows in the eigenbasis, ``V' xs'`` (d x n, float32; once)."""
        if self._eig_t is None:
            self._eig_t = self.eigvecs.T.astype(np.float32) @ self.xt
        return self._eig_t

    def rotate_data(self) -> bool:
        """Whether the solver should rotate the rows into the eigenbasis once (n d^2, shared by every
        fit of this matrix) instead of rotating each iterate's weights (two float64 d x d products per
        iteration, read from memory). The weights' way costs 2 d / n of an iteration's data traffic: rotate
        once that passes one half (d >= n / 4), as for a concatenation of many narrow models on a
        small task; keep the weights' way for tall data (n = 30,000, d = 1,024: 7 %)."""
        n, d = self.xs.shape
        return 4 * d >= n

    # Rows of the Gram matrix behind the preconditioner: a basis from 8 d rows (at least 16384) serves
    # as well as one from all of them, at a fraction (benchmarks/probe.py, n = 30,000: 30 L-BFGS
    # iterations from 16,384 rows, 33 from every row; preparing 1.03 s instead of 1.19 s).
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


# Up to this size numpy's eigh is as fast as scipy's (LAPACK's divide and conquer, float32: 0.25 s at
# d = 1,024); above it numpy's takes up to twice as long (1.36 s vs 0.74 s at d = 1,952, the MLP's widest
# concatenations), which repays scipy.linalg's 0.3 s import.
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
    """Multinomial logistic regression in scikit-learn's C convention, solved in torch.

    Follows scikit-learn's estimator conventions: ``fit(X, y)``, ``predict``, ``score``, learned
    attributes with a trailing underscore. Inputs are standardized inside ``fit``.
    """

    SOLVERS = ("auto", "numpy", "scipy", "torch")
    CPU_SOLVERS = ("numpy", "scipy")  # the preconditioned numpy objective, minimized by featspan.lbfgs or scipy
    LBFGS_MEMORY = 20  # (s, y) pairs every solver's L-BFGS keeps

    def __init__(self, C: float = 1.0, max_iter: int = 500, tol: float = 1e-5, ftol: float = 1e-8,
                 device: str | None = None, dtype: str = "float32", standardize: bool = True,
                 solver: str = "auto"):
        if not C > 0:
            raise ValueError(f"C must be positive, got {C}")
        if solver not in self.SOLVERS:
            raise ValueError(f"unknown solver {solver!r} (one of {', '.join(self.SOLVERS)})")
        self.C = C
        self.max_iter = max_iter
        self.tol = tol      # stop when the largest gradient entry is below this
        self.ftol = ftol    # or when the objective's relative decrease is below this (CPU solvers)
        self.device = device
        self.dtype = dtype
        self.standardize = standardize
        self.solver = solver  # auto: numpy (featspan.lbfgs) on the CPU, torch's L-BFGS on a GPU

    def _device(self) -> str:
        """The device to solve on: as given, else a GPU when torch sees one, else the CPU."""
        if self.device is not None:
            return str(self.device)
        from .device import cuda_available
        return "cuda" if cuda_available() else "cpu"

    def _preconditioned(self) -> bool:
        """Whether the preconditioned numpy objective is minimized (the CPU solvers), else torch's
        L-BFGS runs on ``_device()``."""
        on_cpu = self._device().split(":")[0] == "cpu"
        if self.solver in self.CPU_SOLVERS and not on_cpu:
            raise ValueError(f"the {self.solver} solver runs on the CPU, not on {self._device()!r}")
        return self.solver in self.CPU_SOLVERS or (self.solver == "auto" and on_cpu)

    def fit(self, x: np.ndarray, y: np.ndarray, warm_start: tuple[np.ndarray, np.ndarray] | None = None,
            prepared: Prepared | None = None):
        """Fit on ``x``; ``prepared`` (from ``Prepared.of(x)``) reuses standardization and eigenbasis
        across several fits of the same matrix, e.g. a grid of C."""
        y = np.asarray(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        preconditioned = self._preconditioned()
        if prepared is None or prepared.x is not x:
            prepared = Prepared.of(x, self.standardize, precondition=preconditioned)
        self.scaler_ = prepared.scaler
        d, k = x.shape[1], len(self.classes_)
        if warm_start is not None and warm_start[0].shape == (d, k):
            w0, b0 = warm_start
        else:
            w0, b0 = np.zeros((d, k)), np.zeros(k)
        if preconditioned:
            weight, bias = self._fit_numpy(prepared, codes, k, w0, b0)
        else:
            weight, bias = self._fit_torch(prepared.xs, codes, self._device(), w0, b0)
        self.coef_ = weight.T  # (k, d) like scikit-learn
        self.intercept_ = bias
        if not self.converged_:  # a number from a capped solve is not the probe's: say so (sklearn does too)
            warnings.warn(f"the probe (C={self.C:g}) stopped at max_iter={self.max_iter} before meeting its "
                          "tolerances; its accuracy may be off: raise max_iter", ProbeConvergenceWarning, stacklevel=2)
        return self

    def _fit_numpy(self, prepared: Prepared, codes, k, w0, b0):
        """L-BFGS (:mod:`featspan.lbfgs`, or scipy's L-BFGS-B) on the exact objective in preconditioned
        coordinates ``W = P U``.

        ``P = V diag(1 / sqrt(s / (4 n) + 2 pen))`` from the eigendecomposition ``X'X = V diag(s) V'``
        makes the Hessian of the objective in U close to the identity, so L-BFGS needs a few tens of
        iterations where it needs hundreds in W on correlated features (a concatenation of many
        narrow models). The objective and the minimizer in W are unchanged whatever P is: only the
        coordinates differ. For tall data ``V`` acts on the d x k weights each iteration (cheap next to
        the n x d data); where d is large next to n the rows are rotated into the eigenbasis once
        instead (:meth:`Prepared.rotate_data`). Same objective either way, to float32 rounding.
        """
        if prepared.eigvecs is None:
            prepared = Prepared.of(prepared.x, self.standardize)
        basis = prepared.eigvecs
        rotated = prepared.rotate_data()
        data_t = prepared.eigen_major() if rotated else prepared.xt   # d x n
        d, n = data_t.shape
        rows = np.arange(n)
        penalty = 1.0 / (2.0 * self.C * n)
        scale = 1.0 / np.sqrt(prepared.eigvals / (4.0 * n) + 2.0 * penalty)[:, None]

        def objective(theta):
            w_eig = scale * theta[: d * k].reshape(d, k)                 # V' W: the weights in the eigenbasis
            b = theta[d * k:]
            w = w_eig if rotated else basis @ w_eig                      # in the data's coordinates, d x k
            logits = w.T.astype(np.float32) @ data_t                     # k x n
            logits += b.astype(np.float32)[:, None]
            logits -= logits.max(axis=0, keepdims=True)
            expl = np.exp(logits)
            norm = expl.sum(axis=0, keepdims=True)
            loss = float(np.log(norm).sum() - logits[codes, rows].sum()) / n + penalty * float((w * w).sum())
            resid = expl / norm
            resid[codes, rows] -= 1.0
            resid /= n
            grad_w = (resid @ data_t.T).T.astype(np.float64) + 2.0 * penalty * w   # X'R + 2 pen W, d x k
            grad_u = scale * (grad_w if rotated else basis.T @ grad_w)
            return loss, np.concatenate([grad_u.ravel(), resid.sum(axis=1, dtype=np.float64)])

        u0 = (basis.T @ np.asarray(w0, dtype=np.float64)) / scale     # U = P^-1 W; V is orthogonal
        theta0 = np.concatenate([u0.ravel(), np.asarray(b0, dtype=np.float64)])
        theta, self.n_iter_, self.converged_ = self._minimize(objective, theta0)
        return basis @ (scale * theta[: d * k].reshape(d, k)), theta[d * k:]

    def _minimize(self, objective, theta0) -> tuple[np.ndarray, int, bool]:
        """The CPU solvers' minimizer: featspan's L-BFGS, or scipy's L-BFGS-B with the same stopping
        rules and memory. Returns the minimizer, the iteration count and whether it stopped before
        the iteration cap."""
        if self.solver != "scipy":
            from .lbfgs import minimize

            result = minimize(objective, theta0, max_iter=self.max_iter, gtol=self.tol, ftol=self.ftol,
                              memory=self.LBFGS_MEMORY)
            return result.x, result.n_iter, result.status != "max_iter"
        from scipy.optimize import minimize

        with _scipy_blas_single_threaded():
            result = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                              options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": self.ftol,
                                       "maxcor": self.LBFGS_MEMORY})
        return result.x, int(result.nit), result.status != 1  # 1: the iteration or evaluation cap

    def _fit_torch(self, xs, codes, device, w0, b0):
        import torch

        dtype = getattr(torch, self.dtype)
        xt = torch.as_tensor(xs, device=device, dtype=dtype)
        yt = torch.as_tensor(codes, device=device, dtype=torch.long)
        weight = torch.tensor(w0, device=device, dtype=dtype, requires_grad=True)
        bias = torch.tensor(b0, device=device, dtype=dtype, requires_grad=True)
        n = xt.shape[0]
        penalty = 1.0 / (2.0 * self.C * n)  # C * sum CE + |W|^2/2, divided by C n
        optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=self.max_iter, tolerance_grad=self.tol,
                                      tolerance_change=1e-12, history_size=self.LBFGS_MEMORY,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            logits = torch.addmm(bias, xt, weight)
            loss = torch.nn.functional.cross_entropy(logits, yt) + penalty * weight.square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        state = optimizer.state[optimizer._params[0]]
        self.n_iter_ = state.get("n_iter", 0)
        # torch's caps: max_iter iterations, and max_eval (1.25 max_iter) function evaluations
        self.converged_ = self.n_iter_ < self.max_iter and state.get("func_evals", 0) < optimizer.param_groups[0]["max_eval"]
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


def _scipy_blas_single_threaded():
    """One thread for scipy's own BLAS while L-BFGS-B iterates, numpy's keeps its threads.

    pip wheels of numpy and scipy each bundle an OpenBLAS with its own thread pool; the pools' spinning
    workers steal each other's cores, so the products over the data (numpy) slowed 3x whenever the
    solver's vector updates (scipy) ran threaded. With scipy's pool at one thread the products keep
    every core: 2.1x faster than one thread for both (benchmarks/probe.py). Where both share one BLAS
    (conda), there is no second pool and nothing is limited."""
    import contextlib

    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    own = [lib.filepath for lib in controller.lib_controllers
           if lib.user_api == "blas" and "scipy" in Path(lib.filepath).parent.name]
    return controller.select(filepath=own).limit(limits=1) if own else contextlib.nullcontext()


@dataclass
class ProbeResult:
    accuracy: float           # test accuracy of the final probe (the FP)
    train_accuracy: float
    C: float
    validation_accuracy: dict[float, float]  # per candidate C (empty when C was fixed)
    n_features: int
    n_iter: int = 0           # the final probe's L-BFGS iterations
    converged: bool = True    # False when any fit (a candidate C's or the final one) hit max_iter

    def summary(self) -> dict:
        return {"accuracy": self.accuracy, "train_accuracy": self.train_accuracy, "C": self.C,
                "validation_accuracy": {str(k): v for k, v in self.validation_accuracy.items()},
                "n_features": self.n_features, "n_iter": self.n_iter, "converged": self.converged}


def feature_performance(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                        C: float | None = None, C_grid: Sequence[float] = DEFAULT_C_GRID,
                        validation_fraction: float = 0.1, split_seed: int = 0, max_iter: int = 500,
                        device: str | None = None, solver: str = "auto") -> ProbeResult:
    """FP: test accuracy of a softmax probe; C fixed, or chosen on a validation part of the training split.

    Features constant over the training split are left out of the solve: standardized they are zero on
    every training row, so their optimal weights are exactly zero whatever C (the same probe, exactly),
    and a concatenation of narrow ReLU models carries many dead units (the toy's 200 width-10 models:
    three in four of their 2,000 features)."""
    n_features = x_train.shape[1]
    varying = varying_columns(x_train)
    if varying.any() and not varying.all():
        x_train, x_test = x_train[:, varying], x_test[:, varying]
    scores: dict[float, float] = {}
    prepared, start, converged = None, None, True
    if C is None:
        grid = sorted(float(c) for c in C_grid)
        if not grid:
            raise ValueError("the C grid is empty")
        rng = np.random.default_rng(split_seed)
        val = np.zeros(len(y_train), dtype=bool)
        val[rng.choice(len(y_train), size=max(1, int(round(validation_fraction * len(y_train)))), replace=False)] = True
        warm = None
        solutions = {}
        x_fit, y_fit = x_train[~val], y_train[~val]
        for c in grid:  # strong to weak regularization, each warm-started from the previous solution
            probe = LogisticProbe(C=c, max_iter=max_iter, device=device, solver=solver)
            if prepared is None:  # one standardization (and, for the CPU solvers, eigenbasis) for the whole grid
                prepared = Prepared.of(x_fit, precondition=probe._preconditioned())
            probe.fit(x_fit, y_fit, warm, prepared=prepared)
            converged &= probe.converged_
            scores[c] = probe.score(x_train[val], y_train[val])
            warm = solutions[c] = probe._warm()
        C = max(grid, key=lambda c: (scores[c], -c))  # best accuracy; ties go to the stronger penalty
        start = solutions[C]
    # The final probe on every training row, started from the chosen C's solution, preconditioned
    # with the fit part's eigenbasis (the same minimizer without a second eigendecomposition).
    final = LogisticProbe(C=C, max_iter=max_iter, device=device, solver=solver)
    full = Prepared.of(x_train, basis=prepared, precondition=final._preconditioned())
    probe = final.fit(x_train, y_train, start, prepared=full)
    train_accuracy = probe._score_prepared(full, y_train)
    return ProbeResult(probe.score(x_test, y_test), train_accuracy, float(C), scores, n_features, probe.n_iter_,
                       converged and probe.converged_)


def varying_columns(x: np.ndarray, block: int = 4096) -> np.ndarray:
    """Which columns of ``x`` take more than one value (row blocks: no n x d temporary)."""
    varying = np.zeros(x.shape[1], dtype=bool)
    first = x[:1]
    for start in range(0, x.shape[0], block):
        varying |= (x[start:start + block] != first).any(axis=0)
    return varying

"""Feature span error (FSE) by ridge regression from sufficient statistics (docs/method.md sections 4-6).

Definitions:

* regressors ``X = F(A)`` (n x p) and targets ``Y = F(B)`` (n x q) hold the same inputs in the same order;
* the task's training rows split into a *fit* part and a *validation* part (default 90/10, fixed seed);
* X and Y are centered with fit-part means (an unpenalized intercept); targets are not scaled;
* for every target ``w_t = argmin ||Y_t - X w||^2 + lambda ||w||^2`` on the fit part (sums of squares,
  scikit-learn ``Ridge(alpha=lambda)``), in closed form ``W = (X'X + lambda I)^-1 X'Y``;
* lambda comes from a log grid, chosen by validation error (one for all targets, or one per target);
* the per-target error on an evaluation set S is
  ``e_t(S) = sum_S (Y_t - Yhat_t)^2 / sum_S (Y_t - mean_fit(Y_t))^2``;
* ``FSE = mean_t e_t(S)`` over targets that are not constant on the fit part (dead units); on the test
  split optionally leaving out targets whose test error exceeds a threshold (Appendix D.3);
* residuals ``R = Y - Yhat`` on every split (Definition 2.6).

``X'X`` is eigendecomposed once per regressor set and reused for every lambda and every target.
Evaluation rows (validation part, test split) enter through their moments, so memory holds the
statistics plus one chunk, never an ``n x q x n_lambda`` array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from ..h5 import FeatureBank, FeatureFileWriter
from ..schema import section
from .rows import EVAL_ROLES, FIT, VALIDATION, RowPlan
from .statistics import SpanStatistics, SymmetricForm


@dataclass(frozen=True)
class LambdaGrid:
    """Candidate ridge penalties. ``relative=True`` multiplies them by the mean eigenvalue of the
    centered ``X'X`` (its trace / p), which makes one grid fit features of any scale (our choice,
    docs/method.md section 4 leaves the grid open)."""

    values: tuple[float, ...]
    relative: bool = True

    @classmethod
    def of(cls, lambdas: dict) -> "LambdaGrid":
        """The grid a config's ``span.lambdas`` mapping (min, max, num, relative) describes."""
        return cls.logspace(lambdas["min"], lambdas["max"], lambdas["num"], lambdas["relative"])

    @classmethod
    def logspace(cls, low: float, high: float, num: int, relative: bool = True) -> "LambdaGrid":
        if num < 1:
            raise ValueError("the lambda grid is empty (num must be at least 1)")
        return cls(tuple(np.logspace(np.log10(low), np.log10(high), num)), relative)

    def resolve(self, xtx_trace: float, p: int) -> np.ndarray:
        values = np.asarray(self.values, dtype=np.float64)
        if values.size == 0:
            raise ValueError("the lambda grid is empty")
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise ValueError(f"lambdas must be finite and non-negative, got {values}")
        scale = (xtx_trace / p if p else 1.0) if self.relative else 1.0
        return values * (scale if scale > 0 else 1.0)


@dataclass
class SpanResult:
    """Per-target errors of one regression ``regressors -> targets`` and their summaries."""

    lambdas: np.ndarray                 # chosen lambda per target (absolute), NaN for dead targets
    lambda_grid: np.ndarray             # the absolute grid that was searched
    dead: np.ndarray                    # bool per target: constant on the fit part
    errors: dict[str, np.ndarray]       # eval set -> e_t (NaN for dead targets)
    outlier_threshold: float | None = None
    n_fit: int = 0
    n_eval: dict[str, int] = field(default_factory=dict)
    similarity: dict[str, float] = field(default_factory=dict)  # optional CKA of the same two sets
    per_target: bool = False            # lambda chosen per target: summaries list one per target column

    @property
    def n_targets(self) -> int:
        return int(self.dead.size)

    @property
    def n_dead(self) -> int:
        return int(self.dead.sum())

    def outliers(self, threshold: float | None = None) -> np.ndarray:
        """Live targets the D.3 rule leaves out: test error above ``threshold`` (default: the result's
        own; none when it is None). The rule is defined by the test split's errors, so it only ever
        applies to test-split FSEs (docs/method.md section 4)."""
        threshold = self.outlier_threshold if threshold is None else threshold
        if threshold is None or "test" not in self.errors:
            return np.zeros_like(self.dead)
        with np.errstate(invalid="ignore"):
            return ~self.dead & ~(self.errors["test"] <= threshold)

    def keep(self, eval_set: str = "validation") -> np.ndarray:
        """The targets an FSE on ``eval_set`` averages: the live ones, and on the test split, when the
        result has an outlier threshold, those at or below it."""
        keep = ~self.dead
        return keep & ~self.outliers() if eval_set == "test" else keep

    def fse(self, eval_set: str, keep: np.ndarray | None = None) -> float:
        keep = self.keep(eval_set) if keep is None else keep
        values = self.errors[eval_set][keep]
        return float(values.mean()) if values.size else float("nan")

    def summary(self) -> dict:
        live = ~self.dead
        unique = np.unique(self.lambdas[live]) if live.any() else np.array([])
        return {
            "fse": {name: self.fse(name) for name in self.errors},
            # one value for all targets, or one per target column (None for a dead target)
            "lambda": float(unique[0]) if unique.size == 1 and not self.per_target else
            [None if d else float(v) for v, d in zip(self.lambdas, self.dead)],
            "n_targets": self.n_targets,
            "n_dead_targets": self.n_dead,
            "n_outlier_targets": int(self.outliers().sum()),
            "outlier_threshold": self.outlier_threshold,
            "outlier_rule_applies_to": "test",
            "n_fit_rows": self.n_fit,
            "n_eval_rows": dict(self.n_eval),
            **self.similarity,
        }


def is_dead(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Constant on the fit part (docs/method.md section 4), up to float32 resolution of the stored
    features, from each column's smallest and largest value there: exact, where a variance from the
    accumulated moments would carry round-off (a unit silent on every fit row but firing on a
    validation row got a variance of ~1e-16 of that row's square and passed for live)."""
    return (high - low) <= 1e-7 * np.maximum(np.abs(low), np.abs(high))


class RidgeSpan:
    """Ridge regression of the columns of some bank files on the columns of others.

    ``stats.gram`` supplies ``X'X`` and ``X'Y`` as sub-blocks, ``stats.moments`` the validation and
    test rows' cross-products; the eigendecomposition of ``X'X`` is computed once here and serves
    every lambda and every target. Only :meth:`write_residuals` reads the data again. ``basis``: another
    RidgeSpan on the same regressors whose eigendecomposition (and validation block) this one reuses, so
    one regressor set against many target sets costs one eigendecomposition.
    """

    def __init__(self, stats: SpanStatistics, regressors: Sequence[int], targets: Sequence[int],
                 basis: "RidgeSpan | None" = None):
        self.stats = stats
        self.regressor_files = list(regressors)
        self.target_files = list(targets)
        bank, gram = stats.bank, stats.gram
        self.rx = rx = bank.columns(self.regressor_files)
        self.ry = ry = bank.columns(self.target_files)
        if rx.size == 0 or ry.size == 0:
            raise ValueError("a regression needs at least one regressor and one target column")
        self.mean_x, self.mean_y = gram.mean[rx], gram.mean[ry]
        if basis is not None and basis.stats is stats and basis.regressor_files == self.regressor_files:
            self.xtx_trace, self.eigvals, self.eigvecs = basis.xtx_trace, basis.eigvals, basis.eigvecs
            self._regressor_cache = basis._regressor_cache
        else:
            xtx = gram.block(rx, rx)
            self.xtx_trace = float(np.trace(xtx))
            eigvals, self.eigvecs = stats.backend.eigh(xtx)
            self.eigvals = np.clip(eigvals, 0.0, None)  # X'X is PSD; clip round-off negatives
            self._regressor_cache = {}  # what depends on the regressors alone, shared with spans built on this one
        self.z = self.eigvecs.T @ gram.block(rx, ry)  # V' X'Y
        self.dead = is_dead(gram.low[ry], gram.high[ry])

    @property
    def p(self) -> int:
        return self.mean_x.size

    @property
    def q(self) -> int:
        return self.mean_y.size

    def coef(self, lambdas: float | np.ndarray) -> np.ndarray:
        """``W = (X'X + lambda I)^-1 X'Y`` (p x q); ``lambdas`` is one value or one per target."""
        lam = np.broadcast_to(np.asarray(lambdas, dtype=np.float64), (self.q,))
        return self.eigvecs @ (self.z / (self.eigvals[:, None] + lam[None, :]))

    def _check_solvable(self, lam: float) -> None:
        """Refuse a lambda at which X'X + lambda I is singular to working precision (lambda = 0 on
        linearly dependent regressors): its coefficients, and every error from them, are undefined."""
        top = float(self.eigvals.max()) if self.eigvals.size else 0.0
        if float(self.eigvals.min()) + lam <= 1e-12 * max(top, 1e-300):
            raise ValueError(f"X'X + lambda I is singular at lambda = {lam:g}: the regressors are linearly "
                             "dependent (a file given twice, or more features than fit rows); choose lambda > 0")

    def intercept(self, coef: np.ndarray) -> np.ndarray:
        return self.mean_y - self.mean_x @ coef

    # -- evaluation sets, from their moments ------------------------------------------------------
    def _eval_blocks(self, role: int):
        """Cross-products of the rows with this role about the fit means: C_xx, C_xy, diag C_yy, n."""
        m = self.stats.moments.get(role)
        if m is None:
            return None
        mu = self.stats.gram.mean
        return m.about(mu, self.rx, self.rx), m.about(mu, self.rx, self.ry), m.diag_about(mu, self.ry), m.n

    @cached_property
    def _validation_in_eigenbasis(self):
        """The validation rows' blocks in the eigenbasis of X'X, once: ``A = V' C_xx V`` (p x p),
        ``B = V' C_xy``, ``diag C_yy`` and the row count (None without validation rows)."""
        m = self.stats.moments.get(VALIDATION)
        if m is None:
            return None
        mu = self.stats.gram.mean
        be = self.stats.backend
        v = be.asarray(self.eigvecs)
        if "validation_a" not in self._regressor_cache:
            self._regressor_cache["validation_a"] = v.T @ be.asarray(m.about(mu, self.rx, self.rx)) @ v
        cxy, cyy = m.about(mu, self.rx, self.ry), m.diag_about(mu, self.ry)
        return self._regressor_cache["validation_a"], v.T @ be.asarray(cxy), cyy, m.n

    def validation_errors(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Sum of squared errors on the validation rows for every (lambda, target), and the
        denominators ``sum (Y_t - mean_fit)^2``.

        In the eigenbasis of X'X, with ``U = Z / (s + lambda)``, ``A = V' C_xx V`` and ``B = V' C_xy``
        of the validation rows: ``SSE = C_yy - 2 colsum(U * B) + diag(U' A U)``, so each lambda
        costs about half a p x p by p x q product (:class:`SymmetricForm`) and no pass over the data.
        """
        blocks = self._validation_in_eigenbasis
        if blocks is None:
            return np.zeros((grid.size, self.q)), np.zeros(self.q), 0
        a, b, cyy, n = blocks
        form = SymmetricForm(a)
        be = self.stats.backend
        z, s = be.asarray(self.z), be.asarray(self.eigvals)
        c = be.asarray(cyy)
        sse = be.asarray(np.zeros((grid.size, self.q)))
        for k, lam in enumerate(grid):
            u = z / (s + float(lam))[:, None]
            sse[k] = c - 2.0 * (u * b).sum(0) + form.columns(u)
        return np.maximum(be.to_numpy(sse), 0.0), cyy, n  # clip round-off below zero

    def validation_mean_errors(self, grid: np.ndarray) -> np.ndarray | None:
        """The FSE on the validation part (the mean over live targets of ``SSE_t / denom_t``) for
        every lambda, without the per-target errors: with weights ``w_t = 1 / denom_t``,

            sum_t w_t SSE_t = sum_t w_t C_yy,t - 2 sum_i r_i / (s_i + l) + d' (A o Z W Z') d,

        ``r = (B o Z) w`` and ``d = 1 / (s + l)``: one p x p by p x q product in all, then p^2 per
        lambda, where :meth:`validation_errors` costs p^2 q per lambda. None when some live target
        has no variation on the validation rows (its error is infinite: the per-target way handles it).
        """
        blocks = self._validation_in_eigenbasis
        if blocks is None:
            return None
        a, b, cyy, _ = blocks
        live = ~self.dead
        if np.any(live & ~(cyy > 0)):
            return None
        be = self.stats.backend
        w = np.where(live, 1.0 / np.where(cyy > 0, cyy, 1.0), 0.0)
        z, wb = be.asarray(self.z), be.asarray(w)
        r = be.to_numpy(((b * z) @ wb))
        m = be.to_numpy(a * ((z * wb[None, :]) @ z.T))
        const = float(w @ cyy)
        out = np.empty(grid.size)
        for k, lam in enumerate(grid):
            d = 1.0 / (self.eigvals + float(lam))
            out[k] = const - 2.0 * float(r @ d) + float(d @ m @ d)
        return out / max(1, int(live.sum()))

    def errors_at(self, coef: np.ndarray, role: int) -> tuple[np.ndarray, int]:
        """Per-target normalized error ``e_t`` on the rows with this role, for coefficients ``coef``."""
        blocks = self._eval_blocks(role)
        if blocks is None:
            return np.full(self.q, np.nan), 0
        cxx, cxy, cyy, n = blocks
        sse = cyy - 2.0 * (coef * cxy).sum(0) + SymmetricForm(cxx).columns(coef)
        return _normalized(np.maximum(sse, 0.0), cyy), n

    # -- the analysis -----------------------------------------------------------------------------
    def select_lambdas(self, grid: LambdaGrid | Sequence[float] | float, per_target: bool = False):
        """Choose lambda on the validation part.

        Returns the index into the grid chosen for every target, the absolute grid, and the
        normalized validation errors of every (lambda, target) (None for a one-value grid; with one
        lambda for all targets, only the chosen lambda's row is filled, the others are NaN)."""
        if not isinstance(grid, LambdaGrid):
            grid = LambdaGrid(tuple(np.atleast_1d(np.asarray(grid, dtype=np.float64))), relative=False)
        values = grid.resolve(self.xtx_trace, self.p)
        live = ~self.dead
        if values.size == 1:
            return np.zeros(self.q, dtype=int), values, None
        if self._validation_in_eigenbasis is None:
            raise ValueError("choosing lambda needs a validation part: give one lambda or a validation fraction > 0")
        mean_err = None if per_target else self.validation_mean_errors(values)
        if mean_err is not None:
            # the FSE on the validation part picks the one lambda; per-target errors at that one only
            best = int(np.argmin(mean_err))
            sse, denom, _ = self.validation_errors(values[best:best + 1])
            err = np.full((values.size, self.q), np.nan)
            err[best] = _normalized(sse[0], denom)
            return np.full(self.q, best), values, err
        sse, denom, _ = self.validation_errors(values)
        err = _normalized(sse, denom[None, :])
        if per_target:
            choice = np.argmin(np.where(np.isfinite(err), err, np.inf), axis=0)
        else:  # a live target constant on the validation rows (infinite error): the mean of all errors
            mean_err = np.where(live[None, :], err, 0.0).sum(axis=1) / max(1, live.sum())
            choice = np.full(self.q, int(np.argmin(mean_err)))
        return choice, values, err

    def run(self, grid, per_target: bool = False, eval_sets: Sequence[str] = ("validation", "test"),
            outlier_threshold: float | None = None) -> tuple[SpanResult, np.ndarray]:
        if outlier_threshold is not None and not outlier_threshold > 0:
            raise ValueError(f"the outlier threshold must be positive (a test error above it is an outlier), "
                             f"got {outlier_threshold}")
        choice, values, val_err = self.select_lambdas(grid, per_target)
        chosen = values[choice]
        self._check_solvable(float(chosen[~self.dead].min()) if (~self.dead).any() else float(chosen.min()))
        coef = self.coef(chosen)
        errors, n_eval = {}, {}
        for name in eval_sets:
            role = EVAL_ROLES[name]
            if name == "validation" and val_err is not None:
                # errors at the chosen lambda were already computed in the selection pass
                err = val_err[choice, np.arange(self.q)]
                n = self.stats.plan.count(VALIDATION)
            else:
                err, n = self.errors_at(coef, role)
            if n == 0:
                raise ValueError(f"no rows to evaluate on the {name} set")
            err = np.where(self.dead, np.nan, err)
            errors[name], n_eval[name] = err, n
        lambdas = np.where(self.dead, np.nan, chosen)
        result = SpanResult(lambdas, values, self.dead.copy(), errors, outlier_threshold, self.stats.gram.n, n_eval,
                            per_target=per_target)
        return result, coef

    def write_residuals(self, coef: np.ndarray, path, attrs: dict) -> None:
        """Residual features ``R = Y - Yhat`` on every row of both splits, in the contract layout."""
        bank = self.stats.bank
        files = self.regressor_files + self.target_files
        dims = {split: (bank.n_rows(split), self.q) for split in ("train", "test")}
        with FeatureFileWriter(path, dims, attrs) as writer:
            for split in ("train", "test"):
                writer.write_labels(split, bank.labels(split))
                for start, block in bank.iter_chunks(split, self.stats.chunk_rows, files):
                    xc = block[:, :self.p] - self.mean_x
                    yc = block[:, self.p:] - self.mean_y
                    writer.write(split, start, (yc - xc @ coef).astype(np.float32))


def _normalized(sse: np.ndarray, denom: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, sse / np.where(denom > 0, denom, 1.0), np.where(sse > 0, np.inf, 0.0))


def feature_span_error(regressor_paths: Sequence, target_paths: Sequence, *, lambdas=None,
                       per_target: bool = False, validation_fraction: float = 0.1, split_seed: int = 0,
                       eval_sets: Sequence[str] = ("validation", "test"), shuffled: bool = False,
                       outlier_threshold: float | None = None, chunk_rows: int | None = None,
                       backend: str = "numpy", cka: bool = False, progress=None) -> SpanResult:
    """FSE(regressors -> targets) of feature files in the contract layout (the ``featspan fse`` engine).

    With ``cka``, ``result.similarity`` holds the plain and debiased linear CKA of the two sets.
    ``progress(stage)`` is called after each stage (reading, statistics, eigendecomposition, lambda)."""
    progress = progress or (lambda stage: None)
    paths = list(regressor_paths) + list(target_paths)
    with FeatureBank(paths) as bank:
        make_plan = RowPlan.shuffled if shuffled else RowPlan.regular
        plan = make_plan(bank.n_rows("train"), bank.n_rows("test"), validation_fraction, split_seed)
        n_reg = len(regressor_paths)
        # one regression: only X'[X Y] (CKA needs Y'Y too)
        stats = SpanStatistics.compute(bank, plan, chunk_rows, backend, None if cka else range(n_reg))
        progress(f"statistics of {bank.dim} columns over {plan.count(FIT)} fit rows")
        span = RidgeSpan(stats, range(n_reg), range(n_reg, len(paths)))
        progress(f"eigendecomposition of X'X ({span.p} regressors)")
        grid = default_lambda_grid() if lambdas is None else lambdas
        result, _ = span.run(grid, per_target, eval_sets, outlier_threshold)
        progress("lambda chosen, errors evaluated")
        if cka:
            from .similarity import debiased_linear_cka, linear_cka
            result.similarity = {"cka": linear_cka(stats, span.regressor_files, span.target_files),
                                 "cka_debiased": debiased_linear_cka(stats, span.regressor_files, span.target_files)}
        return result


def default_lambda_grid() -> LambdaGrid:
    """The config schema's default grid (``span.lambdas``): 20 values from 1e-6 to 1e2 times the mean
    eigenvalue of X'X."""
    grid = section("properties/span")["lambdas"]["properties"]
    return LambdaGrid.of({key: spec["default"] for key, spec in grid.items()})

"""Feature span error (FSE) by ridge regression from sufficient statistics.

Definitions follow docs/method.md, sections 4-6:

* regressors ``X = F(A)`` (n x p) and targets ``Y = F(B)`` (n x q) hold the same inputs in the same order;
* the task's training rows split into a *fit* part and a *validation* part (default 90/10, fixed seed);
* X and Y are centered with fit-part means (an unpenalized intercept); targets are not scaled;
* for every target ``w_t = argmin ||Y_t - X w||^2 + lambda ||w||^2`` on the fit part (sums of squares,
  scikit-learn ``Ridge(alpha=lambda)``), in closed form ``W = (X'X + lambda I)^-1 X'Y``;
* lambda comes from a log grid, chosen by validation error (one for all targets, or one per target);
* the per-target error on an evaluation set S is
  ``e_t(S) = sum_S (Y_t - Yhat_t)^2 / sum_S (Y_t - mean_fit(Y_t))^2``;
* ``FSE = mean_t e_t(S)`` over targets that are not constant on the fit part (dead units),
  optionally leaving out targets whose test error exceeds a threshold (Appendix D.3);
* residuals ``R = Y - Yhat`` on every split (Definition 2.6).

How it is computed: one pass over the fit rows accumulates, in float64 and in row chunks, the means
and the centered cross-product matrix of *all* columns of a :class:`~featspan.h5.FeatureBank` (every
model involved). Every regression between any two groups of files then reads ``X'X`` and ``X'Y`` as
sub-blocks of that one matrix; ``X'X`` is eigendecomposed once and reused for every lambda and every
target. Evaluation rows (validation part, test split) are streamed once per regression in chunks, so
memory holds the statistics plus one chunk, never an ``n x q x n_lambda`` array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from .h5 import FeatureBank, FeatureFileWriter

NONE, FIT, VALIDATION, TEST = 0, 1, 2, 3
EVAL_ROLES = {"validation": VALIDATION, "test": TEST}
DEFAULT_CHUNK_ROWS = 4096


class Backend:
    """Where the float64 heavy lifting runs: numpy on the CPU, or torch (a GPU when there is one).

    Only the three hot spots go through it: accumulating the cross-product matrix, the
    eigendecomposition of X'X, and the per-lambda validation predictions. Everything else is numpy.
    """

    NAMES = ("auto", "numpy", "torch")  # auto: torch where it sees a GPU, else numpy

    def __init__(self, name: str = "auto", device: str | None = None):
        if name not in self.NAMES:
            raise ValueError(f"unknown backend {name!r} (numpy, torch or auto)")
        if name == "auto":
            name = "torch" if _cuda_available() else "numpy"
        self.name = name
        if name == "torch":
            import torch
            self.torch = torch
            self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def asarray(self, array: np.ndarray):
        if self.name == "numpy":
            return np.asarray(array, dtype=np.float64)
        return self.torch.as_tensor(np.ascontiguousarray(array), dtype=self.torch.float64, device=self.device)

    def to_numpy(self, array) -> np.ndarray:
        return array if self.name == "numpy" else array.cpu().numpy()

    def asarray_index(self, mask: np.ndarray):
        return mask if self.name == "numpy" else self.torch.as_tensor(mask, device=self.device)

    def eigh(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.name == "numpy":
            return np.linalg.eigh(matrix)
        vals, vecs = self.torch.linalg.eigh(self.asarray(matrix))
        return self.to_numpy(vals), self.to_numpy(vecs)

    def __repr__(self) -> str:
        return self.name if self.name == "numpy" else f"torch:{self.device}"


def _cuda_available() -> bool:
    from .device import cuda_available
    return cuda_available()


# --------------------------------------------------------------------------------------------- rows
@dataclass
class RowPlan:
    """Which rows of each split are fit, validation or test rows of the regression.

    ``roles[split][i]`` is one of FIT, VALIDATION, TEST or NONE.
    """

    roles: dict[str, np.ndarray]
    kind: str = "regular"

    def count(self, role: int) -> int:
        return int(sum(np.count_nonzero(r == role) for r in self.roles.values()))

    @classmethod
    def regular(cls, n_train: int, n_test: int, validation_fraction: float = 0.1, seed: int = 0) -> "RowPlan":
        """Training rows split into fit and validation parts (fixed seed); the test split evaluates."""
        _check_fraction(validation_fraction)
        train = np.full(n_train, FIT, dtype=np.int8)
        n_val = int(round(validation_fraction * n_train))
        if n_val:
            rng = np.random.default_rng(seed)
            train[rng.choice(n_train, size=n_val, replace=False)] = VALIDATION
        return cls({"train": train, "test": np.full(n_test, TEST, dtype=np.int8)}, "regular")

    @classmethod
    def shuffled(cls, n_train: int, n_test: int, validation_fraction: float = 0.1, seed: int = 0) -> "RowPlan":
        """Appendix D.4: fit and evaluation rows drawn from a pool half training, half test inputs.

        The pool is all test rows plus as many randomly chosen training rows. Each origin is split in
        halves: the first halves form the regression's training set (itself split into fit and
        validation parts), the second halves its test set, so both come from the same mixture.
        """
        _check_fraction(validation_fraction)
        rng = np.random.default_rng(seed)
        m = min(n_train, n_test)
        train = np.full(n_train, NONE, dtype=np.int8)
        test = np.full(n_test, NONE, dtype=np.int8)
        train_pick = rng.choice(n_train, size=m, replace=False)
        test_pick = rng.choice(n_test, size=m, replace=False)
        half = m // 2
        train[train_pick[:half]] = FIT
        test[test_pick[:half]] = FIT
        train[train_pick[half:]] = TEST
        test[test_pick[half:]] = TEST
        fit_rows = [("train", i) for i in train_pick[:half]] + [("test", i) for i in test_pick[:half]]
        n_val = int(round(validation_fraction * len(fit_rows)))
        for j in rng.choice(len(fit_rows), size=n_val, replace=False):
            split, i = fit_rows[j]
            (train if split == "train" else test)[i] = VALIDATION
        return cls({"train": train, "test": test}, "shuffled")


    @classmethod
    def regular_subsampled(cls, n_train: int, n_test: int, validation_fraction: float = 0.1,
                           seed: int = 0) -> "RowPlan":
        """The regular regression on as many rows as :meth:`shuffled` uses: its fit and validation rows
        drawn from the training split only, its test rows from the test split only, in the shuffled
        plan's counts. Beside the shuffled regression it separates the effect of mixing the splits
        from the effect of fewer rows (Tables 4 and 5)."""
        _check_fraction(validation_fraction)
        m = min(n_train, n_test)
        n_fit_part, n_eval = 2 * (m // 2), min(n_test, 2 * (m - m // 2))
        rng = np.random.default_rng([seed, 1])
        train = np.full(n_train, NONE, dtype=np.int8)
        test = np.full(n_test, NONE, dtype=np.int8)
        picked = rng.choice(n_train, size=n_fit_part, replace=False)
        n_val = int(round(validation_fraction * n_fit_part))
        train[picked[n_val:]] = FIT
        train[picked[:n_val]] = VALIDATION
        test[rng.choice(n_test, size=n_eval, replace=False)] = TEST
        return cls({"train": train, "test": test}, "regular_subsampled")


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")


# ---------------------------------------------------------------------------------------- statistics
@dataclass
class Moments:
    """Row count, sum and cross-product of rows shifted by a common point ``shift``:
    ``s = sum_i (z_i - shift)`` and ``S = sum_i (z_i - shift)(z_i - shift)'``.

    ``S`` may hold only some rows of the cross-product (``rows``: the columns whose products with every
    column were accumulated; None: all); ``sq`` always holds its whole diagonal. ``low`` and ``high``
    are each column's smallest and largest stored value (exact: taken before any arithmetic)."""

    n: int
    s: np.ndarray
    S: np.ndarray
    shift: np.ndarray
    sq: np.ndarray
    rows: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        return self.shift + self.s / max(self.n, 1)

    def block(self, rows, cols) -> np.ndarray:
        """``S[rows, cols]`` from the stored rows, or by symmetry from the stored columns (a view
        where the indices are contiguous runs: read it, do not write to it)."""
        rows, cols = np.asarray(rows), np.asarray(cols)
        if self.rows is None:
            return _submatrix(self.S, rows, cols)
        # stored rows: the columns in self.rows; stored columns: those first, then the others in order
        dim = self.s.size
        local_row = np.full(dim, -1)
        local_row[self.rows] = np.arange(self.rows.size)
        local_col = np.empty(dim, dtype=int)
        local_col[column_order(self.rows, dim)] = np.arange(dim)
        if np.all(local_row[rows] >= 0):
            return _submatrix(self.S, local_row[rows], local_col[cols])
        if np.all(local_row[cols] >= 0):
            return _submatrix(self.S, local_row[cols], local_col[rows]).T
        raise ValueError("these statistics hold only the regressors' cross-products; "
                         "compute them for every column to read this block")

    def about(self, point: np.ndarray, rows=None, cols=None) -> np.ndarray:
        """``sum_i (z_i - point)[rows] (z_i - point)[cols]'``, from the shifted sums (no data pass)."""
        every = np.arange(self.s.size)
        rows = every if rows is None else np.asarray(rows)
        cols = every if cols is None else np.asarray(cols)
        d = point - self.shift
        # S - s d' - d s' + n d d' = S - s d' - d (s - n d)', by row blocks: temporaries of a block only
        block = self.block(rows, cols)
        s_rows, d_rows, d_cols = self.s[rows], d[rows], d[cols]
        t_cols = self.s[cols] - self.n * d_cols
        out = np.empty(block.shape)
        for start in range(0, block.shape[0], 256):
            stop = start + 256
            np.subtract(block[start:stop], np.outer(s_rows[start:stop], d_cols), out=out[start:stop])
            out[start:stop] -= np.outer(d_rows[start:stop], t_cols)
        return out

    def diag_about(self, point: np.ndarray, cols: np.ndarray) -> np.ndarray:
        d = (point - self.shift)[cols]
        return self.sq[cols] - 2 * self.s[cols] * d + self.n * d * d


def column_order(rows: np.ndarray, dim: int) -> np.ndarray:
    """Columns of a partial cross-product: the stored rows' columns first, then the rest in order."""
    rest = np.ones(dim, dtype=bool)
    rest[rows] = False
    return np.concatenate([rows, np.flatnonzero(rest)])


def _as_slice(indices: np.ndarray) -> slice | None:
    """The slice selecting these indices when they are one contiguous run (a file's columns), else None."""
    if indices.size and indices[-1] - indices[0] == indices.size - 1 and np.all(np.diff(indices) == 1):
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return None


def _submatrix(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows][:, cols]``: a view for contiguous runs of indices, else a copy."""
    r, c = _as_slice(rows), _as_slice(cols)
    if r is None and c is None:
        return matrix[np.ix_(rows, cols)]
    return matrix[rows if r is None else r, cols if c is None else c]


def _diagonal(matrix):
    """The diagonal as a new array (numpy or torch)."""
    return matrix.diagonal().copy() if isinstance(matrix, np.ndarray) else matrix.diagonal().clone()


def _column_squares(w):
    """``sum_i w_ij^2`` for every column j."""
    return np.einsum("ij,ij->j", w, w) if isinstance(w, np.ndarray) else (w * w).sum(0)


class SymmetricForm:
    """Column quadratic forms ``u_j' A u_j`` of a symmetric matrix at about half the work of ``A @ U``.

    ``u' A u = sum_k u_k' (A_kk u_k + 2 A_k,>k u_>k)`` over row blocks k of A: only the block upper
    triangle is multiplied (with ``blocks`` blocks, ``(blocks + 1) / (2 blocks)`` of the full
    product's flops), read through views of A (no copy). Works on numpy arrays and torch tensors.
    """

    def __init__(self, a, blocks: int = 8):
        self.a = a
        dim = a.shape[0]
        size = max(1, -(-dim // blocks))
        self._bounds = [(start, min(start + size, dim)) for start in range(0, dim, size)]

    def columns(self, u):
        """``diag(U' A U)``: one value per column of ``u``."""
        total = None
        for start, stop in self._bounds:
            head = u[start:stop]
            inner = self.a[start:stop, start:stop] @ head
            if stop < u.shape[0]:
                inner = inner + 2.0 * (self.a[start:stop, stop:] @ u[stop:])
            part = (head * inner).sum(0)
            total = part if total is None else total + part
        return total


def _selector(columns: np.ndarray, backend: "Backend"):
    """A slice for a contiguous run of columns (a view, no copy), else the backend's index array."""
    run = _as_slice(columns)
    return backend.asarray_index(columns) if run is None else run


class RoleMoments:
    """One pass over a bank's rows accumulating :class:`Moments` for each row role (fit, validation,
    test) at once.

    Chunks arrive as stored (float32) and are widened to float64 and shifted by the first chunk's mean
    in one pass into a reused buffer, so the cross-products carry no catastrophic cancellation. Within
    a chunk the rows are grouped by role on the way (a gather of the stored float32 rows), so each
    role's products run over one contiguous block and the chunk costs one product in all. With ``rows``
    only those rows of the cross-product are accumulated (``Z[:, rows]' Z``, plus the diagonal): a
    single regression needs ``X'[X Y]`` and not ``Y'Y``.
    """

    def __init__(self, dim: int, backend: Backend, rows: np.ndarray | None = None):
        self.backend = backend
        self.dim = dim
        self.rows = None if rows is None else np.asarray(rows)
        self._rows = self._rest = None
        if rows is not None:
            rest = column_order(self.rows, dim)[self.rows.size:]
            self._rows, self._rest = _selector(self.rows, backend), _selector(rest, backend)
        self.shift = None
        self._buffer = None
        self.n, self.s, self.S, self.sq = {}, {}, {}, {}
        self.low, self.high = {}, {}

    def _add(self, role: int, n: int, s, S, sq) -> None:
        if role not in self.n:
            self.n[role] = 0
            self.s[role] = self.backend.asarray(np.zeros(self.dim))
            # one matrix [X'X, X'Z] (or Z'Z) per role, its blocks side by side: Moments takes it as is
            self.S[role] = self.backend.asarray(np.zeros((S[0].shape[0], self.dim)))
            self.sq[role] = self.backend.asarray(np.zeros(self.dim))
        self.n[role] += n
        self.s[role] += s
        col = 0
        for part in S:
            self.S[role][:, col:col + part.shape[1]] += part
            col += part.shape[1]
        self.sq[role] += sq

    def _products(self, w):
        """Cross-product blocks (all rows, or the chosen ones), column sums and squared column sums.

        The chosen rows' part is ``[X'X, X'Z]`` (X: the chosen columns, Z: the others): a symmetric
        product for X'X and one GEMM, cheaper than the whole symmetric product when Z'Z is not needed.
        The squared sums of the chosen columns are that symmetric product's diagonal."""
        if self._rows is None:
            gram = w.T @ w
            return (gram,), w.sum(0), _diagonal(gram)
        x, rest = w[:, self._rows], w[:, self._rest]
        xtx = x.T @ x
        sq = self.backend.asarray(np.zeros(self.dim))
        sq[self._rows] = _diagonal(xtx)
        sq[self._rest] = _column_squares(rest)
        return (xtx, x.T @ rest), w.sum(0), sq

    def _widen(self, block: np.ndarray):
        """The chunk in float64 minus the shift, in the reused buffer (one pass, no float64 copy)."""
        m = block.shape[0]
        if self.backend.name == "numpy":
            if self._buffer is None or self._buffer.shape[0] < m:
                self._buffer = np.empty((m, self.dim))
            return np.subtract(block, self.shift, out=self._buffer[:m])
        # out of place: on the CPU a float64 chunk converts without a copy, and the stored rows stay unshifted
        return self.backend.torch.as_tensor(block).to(self.backend.device, self.backend.torch.float64) - self._shift

    def update(self, block: np.ndarray, roles: np.ndarray) -> None:
        present, counts = np.unique(roles, return_counts=True)
        if self.shift is None:
            self.shift = block.mean(axis=0, dtype=np.float64)
            self._shift = self.backend.asarray(self.shift)
        if len(present) > 1:  # each role's rows one contiguous run of the buffer (a gather of the stored rows)
            order = np.argsort(roles, kind="stable")
            block = block[order]
        w = self._widen(block)
        start = 0
        for role, count in zip(present, counts):
            S, col_sum, sq = self._products(w[start:start + count])
            self._add(int(role), int(count), col_sum, S, sq)
            self._extremes(int(role), block[start:start + count])
            start += count

    def _extremes(self, role: int, rows: np.ndarray) -> None:
        """Each column's smallest and largest value, on the stored rows (exact)."""
        low, high = rows.min(axis=0).astype(np.float64), rows.max(axis=0).astype(np.float64)
        if role in self.low:
            np.minimum(self.low[role], low, out=self.low[role])
            np.maximum(self.high[role], high, out=self.high[role])
        else:
            self.low[role], self.high[role] = low, high

    def moments(self, role: int) -> Moments | None:
        """The role's moments once the pass is over (on numpy they share the accumulators: no copy
        of the p x (p + q) matrix, which at the paper's size is half a gigabyte per role)."""
        if role not in self.n:
            return None
        be = self.backend
        return Moments(self.n[role], be.to_numpy(self.s[role]), be.to_numpy(self.S[role]), self.shift,
                       be.to_numpy(self.sq[role]), self.rows, self.low[role], self.high[role])


class FitGram:
    """The fit part's mean and centered cross-product, the view the regressions and CKA read."""

    def __init__(self, moments: Moments):
        self.n = moments.n
        self.mean = moments.mean
        self.low, self.high = moments.low, moments.high
        every = np.arange(self.mean.size)
        stored, layout = (every, every) if moments.rows is None else \
            (moments.rows, column_order(moments.rows, self.mean.size))  # Moments' own column layout
        self._centered = Moments(self.n, np.zeros_like(self.mean), moments.about(self.mean, stored, layout),
                                 self.mean, moments.diag_about(self.mean, every), moments.rows)

    def block(self, rows, cols) -> np.ndarray:
        """The centered cross-product's block ``C[rows, cols]``."""
        return self._centered.block(rows, cols)

    def diag(self) -> np.ndarray:
        return self._centered.sq


@dataclass
class SpanStatistics:
    """Statistics of every column of a feature bank on each row role, from one pass over the data.

    ``gram`` holds the fit part (mean, centered cross-product); ``moments[role]`` the validation and
    test rows, so that every regression between any files of the bank, and its errors on every
    evaluation set, come from sub-blocks without touching the data again.
    """

    bank: FeatureBank
    plan: RowPlan
    gram: FitGram
    moments: dict[int, Moments]
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    backend: Backend = field(default_factory=Backend)

    @classmethod
    def compute(cls, bank: FeatureBank, plan: RowPlan, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                backend: Backend | str = "numpy", regressor_files: Sequence[int] | None = None) -> "SpanStatistics":
        """One pass over the rows the plan uses. With ``regressor_files`` only the cross-products of
        their columns with every column are kept: enough for regressions on those files (the one-GEMM
        ``X'[X Y]`` of a single regression), not for CKA or for regressions on the other files."""
        backend = backend if isinstance(backend, Backend) else Backend(backend)
        rows = None if regressor_files is None else bank.columns(list(regressor_files))
        acc = RoleMoments(bank.dim, backend, rows)
        for split, roles in plan.roles.items():
            if not np.any(roles != NONE):
                continue
            for start, block in bank.iter_chunks(split, chunk_rows, dtype=bank.stored_dtype()):
                chunk_roles = roles[start:start + block.shape[0]]
                keep = chunk_roles != NONE
                if keep.all():
                    acc.update(block, chunk_roles)
                elif keep.any():
                    acc.update(block[keep], chunk_roles[keep])
        fit = acc.moments(FIT)
        if fit is None or fit.n < 2:
            raise ValueError(f"the regression needs at least 2 fit rows, got {0 if fit is None else fit.n}")
        moments = {role: m for role in (VALIDATION, TEST) if (m := acc.moments(role)) is not None}
        return cls(bank, plan, FitGram(fit), moments, chunk_rows, backend)


# ------------------------------------------------------------------------------------------- lambdas
@dataclass(frozen=True)
class LambdaGrid:
    """Candidate ridge penalties. ``relative=True`` multiplies them by the mean eigenvalue of the
    centered ``X'X`` (its trace / p), which makes one grid fit features of any scale (our choice,
    docs/method.md section 4 leaves the grid open)."""

    values: tuple[float, ...]
    relative: bool = True

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


# ------------------------------------------------------------------------------------------ results
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


# -------------------------------------------------------------------------------------------- solver
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
    every lambda and every target. Only :meth:`write_residuals` reads the data again.
    """

    def __init__(self, stats: SpanStatistics, regressors: Sequence[int], targets: Sequence[int]):
        self.stats = stats
        self.regressor_files = list(regressors)
        self.target_files = list(targets)
        bank, gram = stats.bank, stats.gram
        self.rx = rx = bank.columns(self.regressor_files)
        self.ry = ry = bank.columns(self.target_files)
        if rx.size == 0 or ry.size == 0:
            raise ValueError("a regression needs at least one regressor and one target column")
        self.mean_x, self.mean_y = gram.mean[rx], gram.mean[ry]
        xtx = gram.block(rx, rx)
        self.xtx_trace = float(np.trace(xtx))
        eigvals, self.eigvecs = stats.backend.eigh(xtx)
        self.eigvals = np.clip(eigvals, 0.0, None)  # X'X is PSD; clip round-off negatives
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
        blocks = self._eval_blocks(VALIDATION)
        if blocks is None:
            return None
        cxx, cxy, cyy, n = blocks
        be = self.stats.backend
        v = be.asarray(self.eigvecs)
        return v.T @ be.asarray(cxx) @ v, v.T @ be.asarray(cxy), cyy, n

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
                       outlier_threshold: float | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                       backend: str = "numpy", cka: bool = False, progress=None) -> SpanResult:
    """FSE(regressors -> targets) of feature files in the contract layout (the ``featspan fse`` engine).

    With ``cka``, ``result.similarity`` holds the plain and debiased linear CKA of the two sets.
    ``progress(stage)`` is called after each stage (reading, statistics, eigendecomposition, lambda)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows (--chunk-rows) must be a positive integer, got {chunk_rows}")
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
    """20 values from 1e-6 to 1e2 times the mean eigenvalue of X'X."""
    return LambdaGrid.logspace(1e-6, 1e2, 20, relative=True)

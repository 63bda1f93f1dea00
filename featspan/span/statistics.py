"""Sufficient statistics of many feature sets from one chunked pass over the rows (docs/method.md section 4).

One pass accumulates, in float64 and in row chunks, the means and the cross-product matrix of *all*
columns of a :class:`~featspan.h5.FeatureBank` (every model involved) for each row role (fit,
validation, test). Every regression between any two groups of files then reads ``X'X`` and ``X'Y`` as
sub-blocks of the fit rows' centered matrix, and its errors on an evaluation set from that set's moments,
without touching the data again. The heavy products run on the backend chosen once (numpy or torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..h5 import FeatureBank
from ..schema import default
from .backend import get_backend
from .rows import FIT, NONE, TEST, VALIDATION, RowPlan

DEFAULT_CHUNK_ROWS = default("properties/span", "chunk_rows")  # the config schema's


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


def _selector(columns: np.ndarray, backend):
    """A slice for a contiguous run of columns (a view, no copy), else the backend's index array."""
    run = _as_slice(columns)
    return backend.index(columns) if run is None else run


class RoleMoments:
    """One pass over a bank's rows accumulating :class:`Moments` for each row role (fit, validation,
    test) at once.

    Chunks arrive as stored (float32) and are widened to float64 and shifted by the first chunk's mean
    in one pass into a reused buffer, so the cross-products carry no catastrophic cancellation. Within
    a chunk the rows are grouped by role on the way (a gather of the stored float32 rows), so each
    role's products run over one contiguous block and the chunk costs one product in all. With ``rows``
    only those rows of the cross-product are accumulated (``Z[:, rows]' Z``, plus the diagonal): a
    single regression needs ``X'[X Y]`` and not ``Y'Y``. With ``file_blocks`` (each file's columns) the fit
    rows also give the moments of their per-file squared norms (:class:`NormMoments`), from which the
    debiased CKA reads ``sum_i a_f(i) a_g(i)`` without a second pass.
    """

    def __init__(self, dim: int, backend, rows: np.ndarray | None = None, file_blocks=None):
        self.backend = backend
        self.file_blocks = None if file_blocks is None else [_selector(np.asarray(b), backend) for b in file_blocks]
        self.norms = None  # R'R, R'W and the column sums of R over the fit rows, R = per-file squared norms
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
            self.s[role] = self.backend.zeros(self.dim)
            # one matrix [X'X, X'Z] (or Z'Z) per role, its blocks side by side: Moments takes it as is
            self.S[role] = self.backend.zeros((S[0].shape[0], self.dim))
            self.sq[role] = self.backend.zeros(self.dim)
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
            return (gram,), w.sum(0), self.backend.diagonal(gram)
        x, rest = w[:, self._rows], w[:, self._rest]
        xtx = x.T @ x
        sq = self.backend.zeros(self.dim)
        sq[self._rows] = self.backend.diagonal(xtx)
        sq[self._rest] = self.backend.column_squares(rest)
        return (xtx, x.T @ rest), w.sum(0), sq

    def update(self, block: np.ndarray, roles: np.ndarray) -> None:
        present, counts = np.unique(roles, return_counts=True)
        if self.shift is None:
            self.shift = block.mean(axis=0, dtype=np.float64)
            self._shift = self.backend.asarray(self.shift)
        if len(present) > 1:  # each role's rows one contiguous run of the buffer (a gather of the stored rows)
            order = np.argsort(roles, kind="stable")
            block = block[order]
        w, self._buffer = self.backend.widen(block, self._shift, self._buffer)
        start = 0
        for role, count in zip(present, counts):
            S, col_sum, sq = self._products(w[start:start + count])
            self._add(int(role), int(count), col_sum, S, sq)
            if role == FIT and self.file_blocks is not None:
                self._add_norms(w[start:start + count])
            self._extremes(int(role), block[start:start + count])
            start += count

    def _add_norms(self, w) -> None:
        """Accumulate R'R, R'W and 1'R for the shifted fit rows W, R[i, f] = ||W_i restricted to file f||^2."""
        r = self.backend.stack_columns([self.backend.row_squares(w[:, cols]) for cols in self.file_blocks])
        parts = (r.T @ r, r.T @ w, r.sum(0))
        self.norms = parts if self.norms is None else tuple(a + b for a, b in zip(self.norms, parts))

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
    backend: object = None  # the backend module (featspan.span.backend) the statistics were computed on
    norms: tuple | None = None      # (R'R, R'W, 1'R) of the fit rows' per-file squared norms, when gathered
    shift: np.ndarray | None = None  # the point the rows were shifted by during the pass

    @classmethod
    def compute(cls, bank: FeatureBank, plan: RowPlan, chunk_rows: int | None = None,
                backend="numpy", regressor_files: Sequence[int] | None = None,
                row_norms: bool = False) -> "SpanStatistics":
        """One pass over the rows the plan uses. With ``regressor_files`` only the cross-products of
        their columns with every column are kept: enough for regressions on those files (the one-GEMM
        ``X'[X Y]`` of a single regression), not for CKA or for regressions on the other files. With
        ``row_norms`` the pass also gathers what the debiased CKA needs of the rows' norms."""
        chunk_rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else chunk_rows
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows (--chunk-rows) must be a positive integer, got {chunk_rows}")
        backend = get_backend(backend) if isinstance(backend, str) else backend
        rows = None if regressor_files is None else bank.columns(list(regressor_files))
        acc = RoleMoments(bank.dim, backend, rows, bank.blocks if row_norms else None)
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
        norms = None if acc.norms is None else tuple(backend.to_numpy(a) for a in acc.norms)
        return cls(bank, plan, FitGram(fit), moments, chunk_rows, backend, norms, acc.shift)

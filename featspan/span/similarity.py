"""Linear CKA, plain and debiased, from the same fit-part statistics as the FSE.

With features centered on the fit rows (X: n x p, Y: n x q, centered cross-products C_xy = X'Y):

* linear CKA (Kornblith et al., 2019) = ||C_xy||_F^2 / (||C_xx||_F ||C_yy||_F), read from sub-blocks of
  the one cross-product matrix of :class:`featspan.span.SpanStatistics`;
* debiased linear CKA (Song et al., 2012 unbiased HSIC; Nguyen et al., 2020) additionally needs
  ``sum_i a_i b_i`` with ``a_i = ||x_i||^2`` and ``b_i = ||y_i||^2`` the rows' centered squared norms,
  accumulated per file in one extra pass without matrix products (the estimator is written out in
  :func:`_hsic_unbiased`).

Both are computed on the fit rows of the statistics.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .rows import FIT
from .statistics import SpanStatistics


def linear_cka(stats: SpanStatistics, files_a: Sequence[int], files_b: Sequence[int]) -> float:
    bank, gram = stats.bank, stats.gram
    a, b = bank.columns(files_a), bank.columns(files_b)
    cross = np.sum(gram.block(a, b) ** 2)
    return float(cross / np.sqrt(np.sum(gram.block(a, a) ** 2) * np.sum(gram.block(b, b) ** 2)))


def row_norm_products(stats: SpanStatistics) -> np.ndarray:
    """``P[f, g] = sum_i a_f(i) a_g(i)`` over fit rows, with ``a_f(i)`` row i's centered squared norm in file f.

    From the moments the statistics pass gathered (``row_norms=True``) when it did: with ``w_i`` the shifted
    rows, ``d`` = fit mean - shift, ``r_f(i) = ||w_i,f||^2``, ``e_f = ||d_f||^2`` and ``C`` the centered
    cross-product, ``a_f = r_f - 2 w_f.d_f + e_f`` gives
    ``P = R'R - 2 (R'W)_fg d_g - 2 (R'W)_gf d_f + 4 d_f' C_fg d_g + e_g 1'r_f + e_f 1'r_g + n e_f e_g``.
    Otherwise a second pass over the fit rows computes it directly."""
    if stats.norms is not None:
        return _norm_products_from_moments(stats)
    bank = stats.bank
    n_files = len(bank.files)
    out = np.zeros((n_files, n_files))
    for split, roles in stats.plan.roles.items():
        if not np.any(roles == FIT):
            continue
        for start, block in bank.iter_chunks(split, stats.chunk_rows):
            fit = roles[start:start + block.shape[0]] == FIT
            centered = block[fit] - stats.gram.mean  # fit rows about the fit mean
            norms = np.stack([np.einsum("ij,ij->i", centered[:, cols], centered[:, cols]) for cols in bank.blocks], 1)
            out += norms.T @ norms
    return out


def _norm_products_from_moments(stats: SpanStatistics) -> np.ndarray:
    rr, rw, rsum = stats.norms
    blocks = stats.bank.blocks
    d = stats.gram.mean - stats.shift
    n = stats.gram.n
    e = np.array([d[b] @ d[b] for b in blocks])
    rwd = np.stack([rw[:, b] @ d[b] for b in blocks], axis=1)            # [f, g] = sum_i r_f(i) w_i,g . d_g
    dcd = np.array([[d[bf] @ stats.gram.block(bf, bg) @ d[bg] for bg in blocks] for bf in blocks])
    return (rr - 2 * rwd - 2 * rwd.T + 4 * dcd + np.outer(rsum, e) + np.outer(e, rsum) + n * np.outer(e, e))


def _hsic_unbiased(cross_sq: float, trace_a: float, trace_b: float, norm_products: float, n: int) -> float:
    """Unbiased HSIC of linear kernels on centered data.

    With K = XX' and L = YY' with zeroed diagonals (K~, L~), centered columns make 1'K~1 = -tr(C_xx)
    and 1'K~L~1 = sum a_i b_i, so the estimator of Song et al. reads
    [tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)) with tr(K~L~) = ||C_xy||^2 - sum a b.
    """
    return (cross_sq - norm_products + trace_a * trace_b / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * norm_products) / (n * (n - 3))


def debiased_linear_cka(stats: SpanStatistics, files_a: Sequence[int], files_b: Sequence[int],
                        norm_products: np.ndarray | None = None) -> float:
    n = stats.gram.n
    if n < 4:
        raise ValueError("debiased CKA needs at least 4 rows")
    products = row_norm_products(stats) if norm_products is None else norm_products
    bank, gram = stats.bank, stats.gram
    a, b = bank.columns(files_a), bank.columns(files_b)
    fa, fb = list(files_a), list(files_b)
    caa, cbb, cab = gram.block(a, a), gram.block(b, b), gram.block(a, b)
    tr_a, tr_b = float(np.trace(caa)), float(np.trace(cbb))
    xy = _hsic_unbiased(float(np.sum(cab ** 2)), tr_a, tr_b, float(products[np.ix_(fa, fb)].sum()), n)
    xx = _hsic_unbiased(float(np.sum(caa ** 2)), tr_a, tr_a, float(products[np.ix_(fa, fa)].sum()), n)
    yy = _hsic_unbiased(float(np.sum(cbb ** 2)), tr_b, tr_b, float(products[np.ix_(fb, fb)].sum()), n)
    return float(xy / np.sqrt(xx * yy))

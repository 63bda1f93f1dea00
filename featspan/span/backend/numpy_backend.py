"""The span statistics' backend on numpy (float64, the CPU)."""

from __future__ import annotations

import numpy as np


def describe() -> str:
    return "numpy"


def asarray(array):
    return np.asarray(array, dtype=np.float64)


def to_numpy(array) -> np.ndarray:
    return array


def index(columns: np.ndarray):
    return columns


def zeros(shape):
    return np.zeros(shape)


def widen(block: np.ndarray, shift, buffer):
    """``block - shift`` in float64, written into ``buffer`` (reused across chunks, grown when needed):
    one pass, no float64 copy of the stored rows. Returns the result and the buffer to keep."""
    m = block.shape[0]
    if buffer is None or buffer.shape[0] < m:
        buffer = np.empty((m, block.shape[1]))
    return np.subtract(block, shift, out=buffer[:m]), buffer


def diagonal(matrix) -> np.ndarray:
    return matrix.diagonal().copy()


def column_squares(w) -> np.ndarray:
    """``sum_i w_ij^2`` for every column j."""
    return np.einsum("ij,ij->j", w, w)


def eigh(matrix) -> tuple[np.ndarray, np.ndarray]:
    return np.linalg.eigh(matrix)


def row_squares(w) -> np.ndarray:
    """``sum_j w_ij^2`` for every row i."""
    return np.einsum("ij,ij->i", w, w)


def stack_columns(columns) -> np.ndarray:
    return np.stack(columns, axis=1)

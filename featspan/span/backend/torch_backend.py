"""The span statistics' backend on torch (float64 on a GPU when there is one, else the CPU)."""

from __future__ import annotations

import numpy as np
import torch

DEVICE = torch.device("cpu")


def select(device: str | None = None) -> None:
    """Run on ``device`` (default: CUDA when torch sees it, else the CPU)."""
    global DEVICE
    DEVICE = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def describe() -> str:
    return f"torch:{DEVICE}"


def asarray(array):
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float64, device=DEVICE)


def to_numpy(array) -> np.ndarray:
    return array.cpu().numpy()


def index(columns: np.ndarray):
    return torch.as_tensor(columns, device=DEVICE)


def zeros(shape):
    return torch.zeros(shape, dtype=torch.float64, device=DEVICE)


def widen(block: np.ndarray, shift, buffer):
    """``block - shift`` in float64 on the device, out of place (on the CPU a float64 chunk converts
    without a copy, and the stored rows stay unshifted); no buffer is kept."""
    return torch.as_tensor(block).to(DEVICE, torch.float64) - shift, None


def diagonal(matrix):
    return matrix.diagonal().clone()


def column_squares(w):
    return (w * w).sum(0)


def eigh(matrix) -> tuple[np.ndarray, np.ndarray]:
    vals, vecs = torch.linalg.eigh(asarray(matrix))
    return to_numpy(vals), to_numpy(vecs)


def row_squares(w):
    return (w * w).sum(1)


def stack_columns(columns):
    return torch.stack(columns, dim=1)

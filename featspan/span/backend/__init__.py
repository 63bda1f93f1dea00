"""Where the float64 heavy lifting of the span statistics runs, chosen once (as gallantlab/himalaya does).

A backend is a module of plain functions (``numpy_backend``, ``torch_backend``) with one interface:
``asarray``, ``to_numpy``, ``index``, ``zeros``, ``widen``, ``diagonal``, ``column_squares``, ``eigh`` and
``describe``. :func:`get_backend` picks one; the statistics and the ridge path call its functions and never
ask which one they have. Only the hot spots go through it: accumulating the cross-product matrix, the
eigendecomposition of X'X, and the per-lambda validation errors. Everything else is numpy.
"""

from __future__ import annotations

NAMES = ("auto", "numpy", "torch")  # auto: torch where it sees a GPU, else numpy


def get_backend(name: str = "auto", device: str | None = None):
    """The backend module ``name`` (``auto``: torch when a GPU is there, else numpy); torch on ``device``."""
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r} (numpy, torch or auto)")
    if name == "auto":
        from ...device import cuda_available
        name = "torch" if cuda_available() else "numpy"
    if name == "numpy":
        from . import numpy_backend
        return numpy_backend
    from . import torch_backend
    torch_backend.select(device)
    return torch_backend

"""The feature-file contract (docs/design.md, "Contracts").

One HDF5 file per model and state: groups ``/train`` and ``/test``, each holding ``features``
(float32, [n, d]) and ``labels`` (int64, [n]); provenance attributes on the root. Row i of every file
of one dataset is the same input. Files are written under a temporary name and renamed when complete,
so a reader never sees a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import h5py
import numpy as np

from .io import atomic_path

SPLITS = ("train", "test")
REQUIRED_ATTRS = ("experiment", "dataset", "arch", "alpha", "seed", "state")


class FeatureFileError(ValueError):
    """A feature file is missing, malformed or holds values no analysis should consume."""


def write_feature_file(
    path: str | os.PathLike,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    attrs: Mapping[str, object],
) -> None:
    """Write ``{split: (features, labels)}`` atomically in the contract layout."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        for split, (features, labels) in splits.items():
            features = np.asarray(features, dtype=np.float32)
            labels = np.asarray(labels, dtype=np.int64)
            if features.ndim != 2 or labels.shape != (features.shape[0],):
                raise ValueError(f"{split}: features {features.shape} and labels {labels.shape} disagree")
            group = f.create_group(split)
            group.create_dataset("features", data=features, chunks=_row_chunks(features.shape))
            group.create_dataset("labels", data=labels)


class FeatureFileWriter:
    """Write a contract feature file one row block at a time (for residuals of large files)."""

    def __init__(self, path, dims: Mapping[str, tuple[int, int]], attrs: Mapping[str, object]):
        self._atomic = atomic_path(path)
        tmp = self._atomic.__enter__()
        self._file = h5py.File(tmp, "w")
        for key, value in attrs.items():
            self._file.attrs[key] = value
        for split, (n, d) in dims.items():
            group = self._file.create_group(split)
            group.create_dataset("features", shape=(n, d), dtype=np.float32, chunks=_row_chunks((n, d)))
            group.create_dataset("labels", shape=(n,), dtype=np.int64)

    def write(self, split: str, start: int, features: np.ndarray) -> None:
        self._file[split]["features"][start:start + features.shape[0]] = features

    def write_labels(self, split: str, labels: np.ndarray) -> None:
        self._file[split]["labels"][:] = labels

    def close(self, ok: bool = True):
        self._file.close()
        if ok:
            self._atomic.__exit__(None, None, None)
        else:
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(ok=exc_type is None)
        return False


def _row_chunks(shape: tuple[int, int]) -> tuple[int, int] | None:
    n, d = shape
    if n == 0 or d == 0:
        return None
    rows = max(1, min(n, (1 << 20) // max(1, 4 * d)))  # about 1 MiB per chunk, whole rows
    return (rows, d)


class FeatureFile:
    """A validated, read-only view of one contract feature file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise FeatureFileError(f"{self.path}: no such feature file")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise FeatureFileError(f"{self.path}: not a readable HDF5 file ({err})") from None
        self.shapes: dict[str, tuple[int, int]] = {}
        for split in SPLITS:
            if split not in self._file:
                raise FeatureFileError(f"{self.path}: wrong layout, group /{split} is missing")
            group = self._file[split]
            for name in ("features", "labels"):
                if name not in group:
                    raise FeatureFileError(f"{self.path}: wrong layout, /{split}/{name} is missing")
            features, labels = group["features"], group["labels"]
            if features.ndim != 2:
                raise FeatureFileError(f"{self.path}: /{split}/features must be 2-D, got shape {features.shape}")
            if labels.shape != (features.shape[0],):
                raise FeatureFileError(
                    f"{self.path}: /{split}/labels has shape {labels.shape}, expected ({features.shape[0]},)"
                )
            if not np.issubdtype(features.dtype, np.floating):
                raise FeatureFileError(f"{self.path}: /{split}/features has dtype {features.dtype}, expected float")
            self.shapes[split] = features.shape
        dims = {self.shapes[s][1] for s in SPLITS}
        if len(dims) != 1:
            raise FeatureFileError(f"{self.path}: train and test have different feature counts {sorted(dims)}")
        self.dim = dims.pop()
        if self.dim == 0:
            raise FeatureFileError(f"{self.path}: holds no feature columns")
        self.dtype = np.result_type(*(self._file[s]["features"].dtype for s in SPLITS))
        self.attrs = {k: _plain(v) for k, v in self._file.attrs.items()}

    def n_rows(self, split: str) -> int:
        return self.shapes[split][0]

    def features(self, split: str, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        block = self._file[split]["features"][rows]
        self._check_finite(block, split, (rows.start or 0) if isinstance(rows, slice) else 0)
        return block

    def read_into(self, split: str, out: np.ndarray, column: int = 0, rows: slice = slice(None)) -> None:
        """Rows ``rows`` of the split (all by default) into ``out[:, column:column + dim]`` (``out``
        C-contiguous), HDF5 converting the dtype on the way: no intermediate copy of the block."""
        self._file[split]["features"].read_direct(out, source_sel=rows, dest_sel=np.s_[:, column:column + self.dim])
        self._check_finite(out[:, column:column + self.dim], split, rows.start or 0)

    def _check_finite(self, block: np.ndarray, split: str, start: int) -> None:
        if not np.all(np.isfinite(block)):
            bad = np.argwhere(~np.isfinite(block))[0]
            raise FeatureFileError(
                f"{self.path}: /{split}/features holds NaN or inf (first at row {start + bad[0]}, column {bad[1]})"
            )

    def labels(self, split: str) -> np.ndarray:
        """The split's labels as int64; labels that are not whole numbers are refused (never truncated)."""
        labels = self._file[split]["labels"][:]
        if not np.issubdtype(labels.dtype, np.integer):
            whole = np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) \
                and np.all(labels == np.round(labels))
            if not whole:
                raise FeatureFileError(f"{self.path}: /{split}/labels are not integers (dtype {labels.dtype})")
        return labels.astype(np.int64)

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


class FeatureBank:
    """Several feature files of one dataset seen as one wide matrix: file i owns a block of columns.

    Reads come in row chunks straight from HDF5 into one preallocated buffer, so concatenating many
    files never materializes more than one chunk.
    """

    def __init__(self, paths: Sequence[str | os.PathLike]):
        if not paths:
            raise FeatureFileError("no feature files given")
        self.files = [FeatureFile(p) for p in paths]
        first = self.files[0]
        for f in self.files[1:]:
            for split in SPLITS:
                if f.n_rows(split) != first.n_rows(split):
                    raise FeatureFileError(
                        f"{f.path}: /{split} has {f.n_rows(split)} rows but {first.path} has "
                        f"{first.n_rows(split)}; feature files of one analysis must hold the same inputs"
                    )
        self._labels = {s: first.labels(s) for s in SPLITS}
        for f in self.files[1:]:
            for split in SPLITS:
                labels = f.labels(split)
                if not np.array_equal(labels, self._labels[split]):
                    row = int(np.flatnonzero(labels != self._labels[split])[0])
                    raise FeatureFileError(
                        f"{f.path}: /{split}/labels differ from {first.path}'s from row {row} on ({labels[row]} vs "
                        f"{self._labels[split][row]}); feature files of one analysis must hold the same inputs in "
                        "the same order")
        offsets = np.cumsum([0] + [f.dim for f in self.files])
        self.blocks = [np.arange(offsets[i], offsets[i + 1]) for i in range(len(self.files))]
        self.dim = int(offsets[-1])

    def n_rows(self, split: str) -> int:
        return self.files[0].n_rows(split)

    def labels(self, split: str) -> np.ndarray:
        return self._labels[split]

    def columns(self, file_indices: Sequence[int]) -> np.ndarray:
        """Column indices of the concatenation of the given files, in order."""
        return np.concatenate([self.blocks[i] for i in file_indices]) if file_indices else np.arange(0)

    def stored_dtype(self, files: Sequence[int] | None = None) -> np.dtype:
        """The narrowest float type (at least float32) that holds the chosen files' features exactly."""
        files = range(len(self.files)) if files is None else files
        return np.result_type(np.float32, *(self.files[i].dtype for i in files))

    def iter_chunks(self, split: str, chunk_rows: int, files: Sequence[int] | None = None,
                    dtype=np.float64) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, block)`` with ``block`` = rows [start, start+len) of the chosen files, side by side."""
        files = list(range(len(self.files))) if files is None else list(files)
        widths = [self.files[i].dim for i in files]
        n = self.n_rows(split)
        buffer = np.empty((min(chunk_rows, n), sum(widths)), dtype=dtype)
        for start in range(0, n, chunk_rows):
            stop = min(start + chunk_rows, n)
            out = buffer[: stop - start]
            col = 0
            for i, w in zip(files, widths):
                self.files[i].read_into(split, out, col, slice(start, stop))
                col += w
            yield start, out

    def read(self, split: str, files: Sequence[int] | None = None, dtype=np.float32) -> np.ndarray:
        """The whole split of the chosen files as one array (for probes, which need it in memory)."""
        files = list(range(len(self.files))) if files is None else list(files)
        out = np.empty((self.n_rows(split), sum(self.files[i].dim for i in files)), dtype=dtype)
        col = 0
        for i in files:
            self.files[i].read_into(split, out, col)
            col += self.files[i].dim
        return out

    def close(self):
        for f in self.files:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

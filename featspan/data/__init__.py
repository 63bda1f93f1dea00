"""Datasets as in-memory arrays: one module per source, one entry point ``load_dataset``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from ..io import atomic_path

from .registry import DATASET_SOURCES, dataset_source  # noqa: E402 - needs nothing of this module at import

DATASETS = tuple(DATASET_SOURCES)


class DatasetUnavailable(RuntimeError):
    """A dataset is neither on disk nor downloadable; the message says how to supply it."""


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    def save(self, path: str | os.PathLike) -> None:
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["name"] = self.name
            for key in ("x_train", "y_train", "x_test", "y_test"):
                f.create_dataset(key, data=getattr(self, key))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Dataset":
        try:
            with h5py.File(path, "r") as f:
                return cls(str(f.attrs["name"]), *(f[k][:] for k in ("x_train", "y_train", "x_test", "y_test")))
        except (OSError, KeyError) as err:
            reason = f"{type(err).__name__}: {err}".replace("\n", " ")  # h5py's messages span lines
            raise DatasetUnavailable(f"{path}: unreadable dataset file ({reason}). Rebuild it with your usual "
                                     "snakemake command plus --forcerun dataset (deleting it alone reruns "
                                     "nothing once its checkpoints exist)") from None


def load_dataset(name: str, cache_dir: str | None = None, **options) -> Dataset:
    """Build or load the dataset ``name`` (registered, or a ``package.module:function`` of the user's) with
    its options from the config; downloads go to ``cache_dir`` (:mod:`featspan.data.registry`)."""
    return dataset_source(name).load(cache_dir, **options)

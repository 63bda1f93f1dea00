"""Every dataset featspan knows, one entry each: its loader, where its downloads go, and its shape.

The schema's ``dataset.name`` enum, the loading job and ``featspan estimate`` read :data:`DATASET_SOURCES`
(a test holds the schema to it). A config may also name a dataset of its own, ``dataset: {name:
"package.module:function", ...options}``: the function is called with the other keys as options and
returns a :class:`featspan.data.Dataset` (docs/models.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from ..importing import import_function, is_function_name

DIGITS_ROWS = 1797  # scikit-learn's digits


def _mnist1d_shape(o: dict):
    n_train = int(round(o["num_samples"] * o["train_split"]))
    k = o["tokens"]
    return ((40,) if not k else (40 // k + 1, k + 1)), 10, n_train, o["num_samples"] - n_train


def _digits_shape(o: dict):
    n_test = int(round(o["test_fraction"] * DIGITS_ROWS))
    return (1, o["size"], o["size"]), 10, DIGITS_ROWS - n_test, n_test


def _fashion_mnist_shape(o: dict):
    size, p = o["size"], o.get("patch", 0)
    shape = (1, size, size) if not p else ((size // p) ** 2 + 1, p * p + 1)
    return shape, 10, o.get("num_train", 60_000), o.get("num_test", 10_000)


def _mnli_shape(o: dict):
    length = o["max_length"]
    shape = (length, 128) if o["hidden_states"] == "cached" else (2, length)
    return shape, 3, o.get("max_train", 392_702), o.get("max_test", 9_815)


@dataclass(frozen=True)
class DatasetSource:
    """One dataset: its loader, the option that defaults to a folder under the config's cache_dir, and
    (input shape, classes, training rows, test rows) from its options without loading it."""

    name: str
    loader: str                                   # "module:function", imported on first use
    description: str
    cache_option: tuple[str, str] | None = None   # (option, subfolder of cache_dir)
    shape: Callable[[dict], tuple] | None = None  # None: load the data to know

    def load(self, cache_dir: str | None = None, **options):
        from . import Dataset

        if self.cache_option:
            option, folder = self.cache_option
            if cache_dir:
                options.setdefault(option, os.path.join(cache_dir, folder))
            elif option == "root":  # a data folder is needed; a library cache may stay the library's own
                options.setdefault(option, folder)
        data = import_function(self.loader)(**options)
        if not isinstance(data, Dataset):
            raise TypeError(f"dataset.name {self.name!r}: {self.loader} returned a {type(data).__name__}, not a "
                            "featspan.data.Dataset (x_train, y_train, x_test, y_test)")
        return data

    def measure(self, options: dict) -> tuple[tuple[int, ...], int, int, int]:
        if self.shape is not None:
            return self.shape(options)
        data = self.load(**{k: v for k, v in options.items() if k != "name"})
        return data.in_shape, data.n_classes, len(data.y_train), len(data.y_test)


DATASET_SOURCES = {d.name: d for d in (
    DatasetSource("mnist1d", "featspan.data.mnist1d:load_mnist1d",
                  "MNIST-1D from the mnist1d package's generator (no download)", shape=_mnist1d_shape),
    DatasetSource("digits", "featspan.data.digits:load_digits_images",
                  "scikit-learn's handwritten digits as small images", shape=_digits_shape),
    DatasetSource("shapes10", "featspan.data.shapes:load_shapes",
                  "10 classes of generated colour shapes under nuisances (docs/shapes.md)",
                  shape=lambda o: ((3, o["size"], o["size"]), 10, o["num_train"], o["num_test"])),
    DatasetSource("fashion_mnist", "featspan.data.fashion_mnist:load_fashion_mnist",
                  "Fashion-MNIST from root, Debian's dataset-fashion-mnist or a torchvision download",
                  cache_option=("root", "fashion_mnist"), shape=_fashion_mnist_shape),
    DatasetSource("cifar10", "featspan.data.cifar10:load_cifar10", "CIFAR-10 through torchvision",
                  cache_option=("root", "cifar10"),
                  shape=lambda o: ((3, 32, 32), 10, o.get("max_train", 50_000), o.get("max_test", 10_000))),
    DatasetSource("mnli", "featspan.data.mnli:load_mnli",
                  "MNLI through Hugging Face datasets, encoded by a frozen text encoder",
                  cache_option=("cache_dir", "huggingface"), shape=_mnli_shape),
)}


def dataset_source(name: str) -> DatasetSource:
    """The registered dataset ``name``, or the user's ``package.module:function``."""
    if name in DATASET_SOURCES:
        return DATASET_SOURCES[name]
    if is_function_name(name):
        return DatasetSource(name, name, f"a dataset of the user's own ({name})")
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_SOURCES)} or a "
                     "'package.module:function' of your own")

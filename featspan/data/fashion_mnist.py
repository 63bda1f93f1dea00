"""Fashion-MNIST (Xiao et al. 2017): 60,000 + 10,000 greyscale 28x28 images of 10 balanced clothing classes.

The files are looked for in this order (docs/models.md, "Data"):

1. ``root`` in torchvision's layout, ``<root>/FashionMNIST/raw/`` (default root: ``<cache_dir>/fashion_mnist``);
2. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
3. torchvision's ``FashionMNIST`` download into ``root``, when ``download: true`` (needs internet).

Each of the four idx files may be gzipped or not (Debian recompresses them: their ``.gz`` checksums
differ from torchvision's list, the arrays are the same). Images become float32 ``[n, 1, size, size]``
(area-resized when ``size`` < 28), standardized with the training subset's mean and std. ``patch: p``
turns each image into a sequence for the Transformer (:func:`as_patches`).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import DatasetUnavailable

if TYPE_CHECKING:
    from . import Dataset

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
COUNTS = {"x_train": 60_000, "y_train": 60_000, "x_test": 10_000, "y_test": 10_000}
N_CLASSES = 10


def read_idx(path: Path) -> np.ndarray:
    """An idx array (LeCun's format: magic with the type and rank, big-endian sizes, then the data)."""
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DatasetUnavailable(f"{path}: not an idx file of unsigned bytes (bad magic number)")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise DatasetUnavailable(f"{path}: truncated idx file ({data.size} bytes of data for shape {shape})")
    return data.reshape(shape)


def _file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_files(folder: Path) -> dict[str, Path] | None:
    """The four idx files in ``folder`` (gzipped or not), or None if any is missing."""
    files = {key: _file(folder, stem) for key, stem in FILES.items()}
    return None if any(v is None for v in files.values()) else files


def read_folder(folder: Path) -> dict[str, np.ndarray]:
    """The four arrays of a folder holding Fashion-MNIST, checked: counts, 28x28 images, labels 0-9."""
    files = find_files(folder)
    if files is None:
        raise DatasetUnavailable(f"{folder}: no Fashion-MNIST idx files ({', '.join(FILES.values())}, .gz or not)")
    arrays = {key: read_idx(path) for key, path in files.items()}
    for key, array in arrays.items():
        shape_ok = array.shape[1:] == ((28, 28) if key.startswith("x") else ())
        if len(array) != COUNTS[key] or not shape_ok:
            raise DatasetUnavailable(f"{files[key]}: expected {COUNTS[key]:,} {'28x28 images' if key[0] == 'x' else 'labels'}"
                                     f", found shape {array.shape}")
        if key.startswith("y") and array.max() >= N_CLASSES:
            raise DatasetUnavailable(f"{files[key]}: a label {int(array.max())} outside 0-9")
    return arrays


def _download(root: Path) -> Path:
    from torchvision.datasets import FashionMNIST

    for train in (True, False):
        FashionMNIST(str(root), train=train, download=True)
    return root / "FashionMNIST" / "raw"


def locate(root: str | Path | None, download: bool, debian_folder: Path = DEBIAN_FOLDER) -> Path:
    """The first folder of root (torchvision's layout), Debian's package, a download, that has the files."""
    tried = []
    if root is not None:
        folder = Path(root).expanduser() / "FashionMNIST" / "raw"
        if find_files(folder):
            return folder
        tried.append(f"dataset.root: {folder} has no Fashion-MNIST files")
    if find_files(debian_folder):
        return debian_folder
    tried.append(f"Debian's package: {debian_folder} is missing")
    if download and root is not None:
        try:
            return _download(Path(root).expanduser())
        except Exception as err:  # URLError/OSError offline, RuntimeError for a failed checksum
            tried.append(f"download into {root} failed ({type(err).__name__}: {err})")
    else:
        tried.append("download: false")
    raise DatasetUnavailable(
        "Fashion-MNIST was not found (" + "; ".join(tried) + "). Supply it one of three ways: put "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
        "(.gz or not) in <root>/FashionMNIST/raw and set the dataset's root; or install Debian's package "
        "(apt-get install dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist); or set "
        "download: true on a machine with internet access (torchvision's FashionMNIST downloads into root).")


def stratified_subset(y: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a class-balanced random subset of ``size`` rows (all rows if None or too many),
    the same for the same seed (scikit-learn's stratified split)."""
    if size is None or size >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y, random_state=seed)
    return np.sort(keep)


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 1, size, size) in [0, 1], area-averaged (size <= 28: the schema)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.numpy()


def as_patches(x: np.ndarray, p: int) -> np.ndarray:
    """Images (n, 1, s, s) -> sequences (n, 1 + (s/p)^2, p^2 + 1): a classification token, then the p x p
    patches in row-major order; the last channel marks the classification token (1) from the patches (0),
    as MNIST-1D's tokens do (:func:`featspan.data.mnist1d.as_tokens`)."""
    n, _, s, _ = x.shape
    if s % p:
        raise ValueError(f"fashion_mnist: patch {p} does not divide the image size {s}")
    g = s // p
    patches = x.reshape(n, g, p, g, p).transpose(0, 1, 3, 2, 4).reshape(n, g * g, p * p)
    out = np.zeros((n, g * g + 1, p * p + 1), dtype=np.float32)
    out[:, 1:, :p * p] = patches
    out[:, 0, p * p] = 1.0
    return out


def load_fashion_mnist(root: str | None = None, download: bool = False, size: int = 28,
                       num_train: int | None = None, num_test: int | None = None, seed: int = 0, patch: int = 0,
                       debian_folder: str | Path = DEBIAN_FOLDER) -> "Dataset":
    from . import Dataset  # noqa: F811

    arrays = read_folder(locate(root, download, Path(debian_folder)))
    train = stratified_subset(arrays["y_train"], num_train, seed)
    test = stratified_subset(arrays["y_test"], num_test, seed + 1)
    x_train, x_test = _resize(arrays["x_train"][train], size), _resize(arrays["x_test"][test], size)
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    if patch:
        x_train, x_test = as_patches(x_train, patch), as_patches(x_test, patch)
    return Dataset("fashion_mnist", x_train, arrays["y_train"][train].astype(np.int64),
                   x_test, arrays["y_test"][test].astype(np.int64))

"""scikit-learn's handwritten digits (ships with scikit-learn) as small images for small presets and tests.

The 8x8 images are upsampled (bilinear) to ``size`` x ``size`` so the image models' strided stages
have room, standardized with the training split's mean and standard deviation, and split into train
and test with a fixed seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from . import Dataset


def load_digits_images(size: int = 16, test_fraction: float = 0.25, seed: int = 0) -> "Dataset":
    import torch
    from sklearn.datasets import load_digits

    from . import Dataset  # noqa: F811

    raw = load_digits()
    images = torch.from_numpy(raw.images.astype(np.float32) / 16.0).unsqueeze(1)  # [n, 1, 8, 8]
    if size != 8:
        images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    x, y = images.numpy(), raw.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return Dataset("digits", x[train], y[train], x[test], y[test])

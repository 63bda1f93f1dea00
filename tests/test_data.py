"""MNIST-1D comes from the package's generator without touching global state or the working folder."""
import os
import random

import numpy as np

from featspan.data import Dataset, load_dataset


def test_mnist1d_keeps_global_rngs_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    data = load_dataset("mnist1d", num_samples=200, seed=3)
    assert (random.random(), np.random.rand()) == expected
    assert os.listdir(tmp_path) == []
    assert data.x_train.shape == (160, 40) and data.x_test.shape == (40, 40)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    again = load_dataset("mnist1d", num_samples=200, seed=3)
    np.testing.assert_array_equal(again.x_train, data.x_train)


def test_dataset_roundtrip(tmp_path):
    data = load_dataset("mnist1d", num_samples=100)
    data.save(tmp_path / "d.h5")
    back = Dataset.load(tmp_path / "d.h5")
    np.testing.assert_array_equal(back.y_test, data.y_test)
    assert back.in_shape == (40,) and back.n_classes == data.n_classes

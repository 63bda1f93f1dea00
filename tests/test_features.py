"""Feature dumps: a subset of the training rows (features.train_rows) keeps rows and labels aligned."""

import h5py
import numpy as np
import torch

from featspan.checkpoints import load_checkpoint, write_cohort_checkpoints
from featspan.cohort import Cohort
from featspan.data import Dataset
from featspan.features import extract_features, training_rows, write_cohort_features
from featspan.models import build_from_config


def test_training_rows_are_a_fixed_sorted_subset():
    rows = training_rows(100, 30)
    assert len(rows) == 30 and len(set(rows)) == 30 and np.all(np.diff(rows) > 0) and rows.max() < 100
    assert np.array_equal(rows, training_rows(100, 30))
    assert np.array_equal(training_rows(100, None), np.arange(100))
    assert np.array_equal(training_rows(100, 500), np.arange(100))


def test_a_subset_dump_holds_those_rows_features_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    Dataset("d", rng.normal(size=(40, 6)).astype(np.float32), rng.integers(0, 3, 40),
            rng.normal(size=(10, 6)).astype(np.float32), rng.integers(0, 3, 10)).save(tmp_path / "d.h5")
    model = {"arch": "mlp", "widths": [4]}
    train = {"epochs": 1, "batch_size": 16, "optimizer": "adam", "lr": 0.01, "checkpoint_every": 0}
    write_cohort_checkpoints(tmp_path / "d.h5", tmp_path / "ckpt", tmp_path / "resume.pt", experiment="e",
                             alpha=1.0, replicate=0, model=model, train=train)
    write_cohort_features(tmp_path / "d.h5", tmp_path / "ckpt", tmp_path / "out", "trained", experiment="e",
                          dataset="d", train_rows=25)
    data = Dataset.load(tmp_path / "d.h5")
    rows = training_rows(40, 25)
    cohort = Cohort.load(tmp_path / "ckpt")
    ckpt = load_checkpoint(tmp_path / "ckpt" / cohort.filename(0, ".pt"))
    net = build_from_config(ckpt["model"], ckpt["alpha"], ckpt["in_shape"], ckpt["n_classes"])
    net.load_state_dict(ckpt["state_dict"])
    expected = extract_features(net, torch.from_numpy(data.x_train[rows]))
    assert len(list((tmp_path / "out").glob("*.h5"))) == 2  # M_1 and M_1'
    with h5py.File(tmp_path / "out" / cohort.filename(0, ".h5")) as f:
        assert f["train/features"].shape == (25, 4) and f["test/features"].shape == (10, 4)
        assert np.array_equal(f["train/labels"][:], data.y_train[rows])
        assert f.attrs["train_rows_of"] == 40
        np.testing.assert_allclose(f["train/features"][:], expected, rtol=1e-6, atol=1e-6)

"""Feature dumps: a subset of the training rows (features.train_rows) keeps rows and labels aligned."""

import h5py
import pytest
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


def test_batchnorm_statistics_are_those_of_the_sampled_training_rows():
    from featspan.features import estimate_batchnorm_statistics
    from featspan.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet18", 0.5, (3, 8, 8), 10, base_width=8)
    x = torch.randn(300, 3, 8, 8) * 2 + 1
    first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    hook = first.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach().clone()))
    used = estimate_batchnorm_statistics(model, x, seed=3, rows=200, batch_size=200)
    hook.remove()
    assert used == 200 and len(seen) == 1
    sample = np.sort(np.random.default_rng(3).choice(300, size=200, replace=False))
    inputs = seen[0]
    with torch.no_grad():  # the first BatchNorm saw the stem convolution of exactly the sampled rows
        torch.testing.assert_close(inputs, model.body[0](x[sample]))
    flat = inputs.transpose(0, 1).reshape(inputs.shape[1], -1)
    torch.testing.assert_close(first.running_mean, flat.mean(1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(first.running_var, flat.var(1, unbiased=True), rtol=1e-5, atol=1e-6)
    assert not any(m.training for m in model.modules()) and first.momentum == 0.1  # back in eval mode


@pytest.mark.parametrize("arch", ["resnet18", "vgg16"])
def test_random_init_batchnorm_features_are_alive_after_reestimation(tmp_path, arch):
    rng = np.random.default_rng(1)
    Dataset("d", rng.normal(size=(300, 3, 16, 16)).astype(np.float32), rng.integers(0, 10, 300),
            rng.normal(size=(50, 3, 16, 16)).astype(np.float32), rng.integers(0, 10, 50)).save(tmp_path / "d.h5")
    model = {"arch": arch, "base_width": 8}
    train = {"epochs": 1, "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "checkpoint_every": 0}
    write_cohort_checkpoints(tmp_path / "d.h5", tmp_path / "ckpt", tmp_path / "resume.pt", experiment="e",
                             alpha=1.0, replicate=0, model=model, train=train)
    for state in ("init", "trained"):
        write_cohort_features(tmp_path / "d.h5", tmp_path / "ckpt", tmp_path / state, state, experiment="e",
                              dataset="d")
    cohort = Cohort.load(tmp_path / "ckpt")
    name = cohort.filename(0, ".h5")
    with h5py.File(tmp_path / "init" / name) as f, h5py.File(tmp_path / "trained" / name) as g:
        assert f.attrs["batchnorm_reestimated_rows"] == 300 and g.attrs["batchnorm_reestimated_rows"] == 0
        features = f["train/features"][:]
    # eval-mode BatchNorm with the init statistics (0, 1) shrinks activations layer by layer to ~1e-7
    assert (features.std(axis=0) > 0).all(), "a dead column"
    assert 0.05 < np.abs(features).mean() < 5
    ckpt = load_checkpoint(tmp_path / "ckpt" / cohort.filename(0, "_init.pt"))
    raw = build_from_config(ckpt["model"], ckpt["alpha"], ckpt["in_shape"], ckpt["n_classes"])
    raw.load_state_dict(ckpt["state_dict"])
    assert np.abs(extract_features(raw, torch.from_numpy(Dataset.load(tmp_path / "d.h5").x_train))).mean() < 0.05

"""The feature-file contract and its error messages."""
import h5py
import numpy as np
import pytest

from featspan.h5 import FeatureBank, FeatureFile, FeatureFileError, write_feature_file


def test_contract_layout_and_attributes(make_features):
    path = make_features("a", np.ones((5, 3)), np.ones((2, 3)), np.arange(5), np.arange(2))
    with h5py.File(path) as f:
        assert f["train/features"].dtype == np.float32 and f["train/features"].shape == (5, 3)
        assert f["test/labels"].dtype == np.int64
        assert f.attrs["state"] == "trained"
    assert not list(path.parent.glob(".*tmp*"))  # no temporary file left behind


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(ValueError):
        write_feature_file(tmp_path / "x.h5", {"train": (np.ones((3, 2)), np.ones(4))}, {})
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FeatureFileError, match="nope.h5: no such feature file"):
        FeatureFile(tmp_path / "nope.h5")


def test_not_hdf5_is_named(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("hello")
    with pytest.raises(FeatureFileError, match="bad.h5: not a readable HDF5 file"):
        FeatureFile(bad)


def test_wrong_layout_is_named(tmp_path):
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train/features", data=np.ones((3, 2)))
        f.create_dataset("train/labels", data=np.ones(3))
    with pytest.raises(FeatureFileError, match="w.h5: wrong layout, group /test is missing"):
        FeatureFile(path)


def test_nan_features_are_named(make_features):
    train = np.ones((4, 2))
    train[2, 1] = np.nan
    path = make_features("n", train, np.ones((2, 2)))
    with pytest.raises(FeatureFileError, match=r"n.h5: /train/features holds NaN or inf \(first at row 2, column 1\)"):
        FeatureFile(path).features("train")


def test_row_count_mismatch_is_named(make_features):
    a = make_features("a", np.ones((4, 2)), np.ones((2, 2)))
    b = make_features("b", np.ones((5, 2)), np.ones((2, 2)))
    with pytest.raises(FeatureFileError, match="b.h5: /train has 5 rows but .*a.h5 has 4"):
        FeatureBank([a, b])


def test_bank_chunks_concatenate_files(make_features):
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(10, 2)), rng.normal(size=(10, 3))
    bank = FeatureBank([make_features("a", x1, x1[:3]), make_features("b", x2, x2[:3])])
    blocks = np.vstack([b.copy() for _, b in bank.iter_chunks("train", 4)])
    np.testing.assert_allclose(blocks, np.hstack([x1, x2]), rtol=1e-6)
    np.testing.assert_array_equal(bank.columns([1]), [2, 3, 4])
    whole = bank.read("train")  # each file straight into its columns
    np.testing.assert_array_equal(whole, np.hstack([x1, x2]).astype(np.float32))
    np.testing.assert_array_equal(bank.read("test", files=[1], dtype=np.float64), x2[:3].astype(np.float32))


def test_nan_features_are_named_when_read_whole(make_features):
    test = np.ones((3, 2))
    test[1, 0] = np.inf
    bank = FeatureBank([make_features("a", np.ones((4, 3)), np.ones((3, 3))),
                        make_features("b", np.ones((4, 2)), test)])
    with pytest.raises(FeatureFileError, match=r"b.h5: /test/features holds NaN or inf \(first at row 1, column 0\)"):
        bank.read("test")


def test_nan_features_are_named_with_their_row_when_read_in_chunks(make_features):
    train = np.ones((10, 2))
    train[5, 1] = np.nan
    bank = FeatureBank([make_features("a", np.ones((10, 3)), np.ones((2, 3))),
                        make_features("c", train, np.ones((2, 2)))])
    with pytest.raises(FeatureFileError, match=r"c.h5: /train/features holds NaN or inf \(first at row 5, column 1\)"):
        list(bank.iter_chunks("train", 4))

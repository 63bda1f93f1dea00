"""Fashion-MNIST: the real files where Debian's package is installed (CI installs it), the search order
and the messages on small idx files the tests write."""

import gzip

import numpy as np
import pytest

from featspan.data import DatasetUnavailable, load_dataset
from featspan.data.fashion_mnist import DEBIAN_FOLDER, FILES, find_files, load_fashion_mnist, read_idx
from featspan.estimate import dataset_shape

needs_debian = pytest.mark.skipif(find_files(DEBIAN_FOLDER) is None,
                                  reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")


def _write_idx(path, array, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open(path, "wb") if gz else open(path, "wb")).write(data)


def _fake_folder(folder, gz=True, n_train=60_000, n_test=10_000):
    """Fashion-MNIST-shaped files of random pixels (labels balanced), in torchvision's layout."""
    raw = folder / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for key, stem in FILES.items():
        n = n_train if key.endswith("train") else n_test
        array = rng.integers(0, 256, (n, 28, 28)) if key[0] == "x" else np.arange(n) % 10
        _write_idx(raw / (stem + (".gz" if gz else "")), array, gz)
    return raw


def test_idx_reader_round_trips_and_refuses_a_truncated_file(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", a)
    _write_idx(tmp_path / "b", a, gz=False)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a) and np.array_equal(read_idx(tmp_path / "b"), a)
    (tmp_path / "c").write_bytes((tmp_path / "b").read_bytes()[:-5])
    with pytest.raises(DatasetUnavailable, match="c: truncated idx file"):
        read_idx(tmp_path / "c")


@needs_debian
def test_the_real_files_have_the_published_counts_balance_and_pixel_statistics():
    from featspan.data.fashion_mnist import read_folder

    arrays = read_folder(DEBIAN_FOLDER)
    assert arrays["x_train"].shape == (60_000, 28, 28) and arrays["x_test"].shape == (10_000, 28, 28)
    assert np.bincount(arrays["y_train"]).tolist() == [6000] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10
    pixels = arrays["x_train"] / 255.0
    assert pixels.mean() == pytest.approx(0.2860, abs=5e-5) and pixels.std() == pytest.approx(0.3530, abs=5e-5)


@needs_debian
def test_a_resized_balanced_subset_is_deterministic_and_standardized(tmp_path):
    options = {"size": 16, "num_train": 1000, "num_test": 200, "seed": 3}
    d = load_dataset("fashion_mnist", cache_dir=str(tmp_path), **options)
    again = load_dataset("fashion_mnist", cache_dir=str(tmp_path), **options)
    other = load_dataset("fashion_mnist", cache_dir=str(tmp_path), **{**options, "seed": 4})
    assert d.x_train.shape == (1000, 1, 16, 16) and d.x_test.shape == (200, 1, 16, 16) and d.n_classes == 10
    assert np.bincount(d.y_train).tolist() == [100] * 10 and np.bincount(d.y_test).tolist() == [20] * 10
    assert np.array_equal(d.x_train, again.x_train) and np.array_equal(d.y_test, again.y_test)
    assert not np.array_equal(d.x_train, other.x_train)
    assert abs(d.x_train.mean()) < 1e-5 and d.x_train.std() == pytest.approx(1.0, abs=1e-4)
    shape = dataset_shape({"name": "fashion_mnist", **options})
    assert shape == (d.in_shape, 10, 1000, 200)


def test_root_in_torchvision_layout_comes_first(tmp_path):
    _fake_folder(tmp_path / "mine", gz=False, n_train=60_000, n_test=10_000)
    d = load_fashion_mnist(root=str(tmp_path / "mine"), size=8, num_train=50, num_test=20,
                           debian_folder=tmp_path / "no-debian")
    assert d.x_train.shape == (50, 1, 8, 8) and np.bincount(d.y_train).tolist() == [5] * 10


def test_without_any_source_one_message_names_all_three_ways(tmp_path):
    with pytest.raises(DatasetUnavailable) as err:
        load_fashion_mnist(root=str(tmp_path / "typo"), debian_folder=tmp_path / "no-debian")
    message = str(err.value)
    assert str(tmp_path / "typo") in message and "no-debian" in message and "download: false" in message
    assert "apt-get install dataset-fashion-mnist" in message and "download: true" in message


def test_offline_download_failure_is_named(tmp_path, monkeypatch):
    import featspan.data.fashion_mnist as fm

    def offline(root):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(fm, "_download", offline)
    with pytest.raises(DatasetUnavailable, match="download into .* failed .*Network is unreachable"):
        load_fashion_mnist(root=str(tmp_path), download=True, debian_folder=tmp_path / "no-debian")


def test_a_corrupt_file_in_root_is_an_error_not_a_silent_fallback(tmp_path):
    raw = _fake_folder(tmp_path, gz=False)
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(10) % 10, gz=False)
    with pytest.raises(DatasetUnavailable, match="t10k-labels-idx1-ubyte: expected 10,000 labels"):
        load_fashion_mnist(root=str(tmp_path), debian_folder=tmp_path / "no-debian")


def test_patches_are_the_image_in_row_major_order_after_a_classification_token():
    from featspan.data.fashion_mnist import as_patches

    x = np.arange(2 * 16, dtype=np.float32).reshape(2, 1, 4, 4)
    seq = as_patches(x, 2)
    assert seq.shape == (2, 5, 5)
    assert seq[0, 0].tolist() == [0, 0, 0, 0, 1] and (seq[:, 1:, 4] == 0).all()
    assert seq[0, 1, :4].tolist() == [0, 1, 4, 5] and seq[1, 4, :4].tolist() == [26, 27, 30, 31]
    assert dataset_shape({"name": "fashion_mnist", "size": 16, "patch": 4}) == ((17, 17), 10, 60_000, 10_000)

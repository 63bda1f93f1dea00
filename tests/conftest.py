import os
import sys
from pathlib import Path

# No test touches the network: the Hugging Face libraries read these when they are imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from featspan.h5 import write_feature_file  # noqa: E402


@pytest.fixture
def make_features(tmp_path):
    """Write arrays as a contract feature file: make_features(name, train, test, labels=...) -> path."""

    def make(name, train, test, train_labels=None, test_labels=None):
        train, test = np.asarray(train), np.asarray(test)
        train_labels = np.zeros(len(train), dtype=np.int64) if train_labels is None else train_labels
        test_labels = np.zeros(len(test), dtype=np.int64) if test_labels is None else test_labels
        path = tmp_path / f"{name}.h5"
        write_feature_file(path, {"train": (train, train_labels), "test": (test, test_labels)},
                           {"experiment": "test", "arch": "none", "alpha": 1.0, "seed": 0, "state": "trained"})
        return path

    return make

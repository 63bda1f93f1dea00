"""featspan estimate: measured job-hours per experiment and rule family, from a config alone."""
import json
from pathlib import Path

import pytest
import yaml

from featspan.cli import main
from featspan.estimate import dataset_shape

ROOT = Path(__file__).resolve().parents[1]


def test_dataset_shapes_are_known_without_loading():
    assert dataset_shape({"name": "mnist1d", "num_samples": 5000, "train_split": 0.8, "tokens": 0}) == ((40,), 10, 4000, 1000)
    assert dataset_shape({"name": "mnist1d", "num_samples": 100, "train_split": 0.5, "tokens": 8})[0] == (6, 9)
    assert dataset_shape({"name": "digits", "size": 12, "test_fraction": 0.25}) == ((1, 12, 12), 10, 1348, 449)
    assert dataset_shape({"name": "cifar10"}) == ((3, 32, 32), 10, 50_000, 10_000)
    assert dataset_shape({"name": "mnli", "max_length": 128, "hidden_states": "cached"})[:2] == ((128, 128), 3)


def test_estimate_of_the_tiny_config(capsys):
    assert main(["estimate", "--configfile", str(ROOT / "tests" / "config" / "tiny.yaml"), "--cores", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_hours"] > 0 and out["wall_hours"] >= out["total_hours"] / 2 - 1e-12
    rows = {r["experiment"]: r for r in out["experiments"]}
    assert set(rows) == {"tiny_mlp", "toy", "figures and tables"}
    assert rows["tiny_mlp"]["train_hours"] > 0 and rows["tiny_mlp"]["span_hours"] > 0
    assert sum(r["hours"] for r in rows.values()) == pytest.approx(out["total_hours"])


def test_a_bad_config_is_refused_naming_the_key(tmp_path, capsys):
    config = yaml.safe_load((ROOT / "tests" / "config" / "tiny.yaml").read_text())
    config["experiments"]["tiny_mlp"]["alphas"] = [1, 0.001]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["estimate", "--configfile", str(path)]) == 2
    assert "experiments.tiny_mlp.alphas[1]" in capsys.readouterr().err

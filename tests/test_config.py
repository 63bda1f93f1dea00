"""A bad config stops `snakemake -n` before any job, naming the key, without a traceback."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())
EXP = next(iter(DEFAULT["experiments"]))


def _dry_run(config: dict, workdir: Path):
    path = workdir / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
                           "--configfile", str(path)], capture_output=True, text=True, timeout=120)


def _with(path, value):
    config = copy.deepcopy(DEFAULT)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


CASES = {
    "alpha above 1": (["experiments", EXP, "alphas"], [1, 2.5], f"experiments.{EXP}.alphas[1]"),
    "alphas a string": (["experiments", EXP, "alphas"], "half", f"experiments.{EXP}.alphas"),
    "alphas without 1": (["experiments", EXP, "alphas"], [0.5, 0.25], f"experiments.{EXP}.alphas"),
    "seeds a number": (["experiments", EXP, "seeds"], 0, f"experiments.{EXP}.seeds"),
    "seeds empty": (["experiments", EXP, "seeds"], [], f"experiments.{EXP}.seeds"),
    "negative epochs": (["experiments", EXP, "train", "epochs"], -5, f"experiments.{EXP}.train.epochs"),
    "unknown top-level key": (["bogus"], 1, "'bogus' was unexpected"),
    "unknown nested key": (["span", "lamda"], 1, "'lamda' was unexpected"),
    "results_dir empty": (["results_dir"], "", "results_dir"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_names_the_key(case, tmp_path):
    path, value, expected = CASES[case]
    run = _dry_run(_with(path, value), tmp_path)
    assert run.returncode != 0
    assert expected in run.stderr
    assert "Traceback" not in run.stderr and 'File "' not in run.stderr
    assert not (tmp_path / "results").exists()


def test_a_config_with_neither_experiments_nor_toy_says_it_runs_nothing(tmp_path):
    config = {k: v for k, v in DEFAULT.items() if k not in ("experiments", "toy")}
    run = _dry_run(config, tmp_path)
    assert run.returncode != 0 and "invalid config key experiments" in run.stderr and "runs nothing" in run.stderr
    assert "Traceback" not in run.stderr


def test_default_config_is_valid_and_presets_replace_it(tmp_path):
    run = _dry_run(DEFAULT, tmp_path)
    assert run.returncode == 0, run.stderr
    tiny = yaml.safe_load((ROOT / "tests" / "config" / "tiny.yaml").read_text())
    run = _dry_run(tiny, tmp_path)
    assert run.returncode == 0, run.stderr
    assert EXP not in run.stdout  # the preset's experiments only, not merged with config.yaml's

"""Faults and bad input: what must never give a wrong number silently (issue: trustworthy under faults).

Each test is a scenario a user ran into: a snapshot of another config, options a command cannot honour,
numbers that cannot be computed, files that disagree, corrupt artifacts, configs that cannot run.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from featspan.cli import main

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {root!r})
    torch.set_num_threads(1)
    import featspan.train as T
    from featspan.models import build_model
    slow_log = lambda msg: (print(msg, flush=True), time.sleep(float(sys.argv[4])))   # room for the test to kill us
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 12, generator=g), torch.randint(0, 3, (256,), generator=g)
    lr, resume, out = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    spec = T.CohortSpec(lambda: build_model("mlp", 0.5, (12,), 3, widths=[16, 16]), [3, 4], [5, 6], "mlp-16-16")
    cfg = T.TrainConfig(epochs=6, batch_size=32, optimizer="sgd", lr=lr, checkpoint_every=1)
    models = T.train_cohort(spec, x, y, cfg, resume_path=resume or None, log=slow_log)
    torch.save([m.state_dict() for m in models], out)
""").replace("{root!r}", repr(str(ROOT)))


def _train(lr, resume, out, pause="0"):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(lr), str(resume), str(out), pause],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_snapshot_of_another_config_is_discarded_not_resumed(tmp_path):
    """SIGKILL a training at lr 0.003, rerun at lr 0.01 with the same snapshot path: the rerun must
    discard the snapshot and end bit-identical to a fresh run at lr 0.01."""
    resume = tmp_path / "resume.pt"
    killed = _train(0.003, resume, tmp_path / "never.pt", pause="0.5")
    deadline = time.monotonic() + 120
    while not (resume.exists() and torch.load(resume, weights_only=False)["epoch"] >= 2):
        assert killed.poll() is None and time.monotonic() < deadline, "no snapshot to kill the run at"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)

    rerun = _train(0.01, resume, tmp_path / "rerun.pt")
    log = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, log
    assert "discarding the snapshot" in log and "resumed" not in log
    fresh = _train(0.01, "", tmp_path / "fresh.pt")
    assert fresh.wait(timeout=300) == 0
    for a, b in zip(torch.load(tmp_path / "rerun.pt"), torch.load(tmp_path / "fresh.pt")):
        for name in a:
            assert torch.equal(a[name], b[name]), name


def test_a_truncated_snapshot_is_discarded(tmp_path):
    resume = tmp_path / "resume.pt"
    resume.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    run = _train(0.01, resume, tmp_path / "out.pt")
    log = run.communicate(timeout=300)[0]
    assert run.returncode == 0, log
    assert "discarding the unreadable snapshot" in log


# ----------------------------------------------------------------------------------- command line
def _files(make_features, rng, n=200, n_test=80, k=3, d=6):
    x = rng.normal(size=(n + n_test, d)).astype(np.float32)
    y = (np.arange(n + n_test) % k).astype(np.int64)
    a = make_features("a", x[:n], x[n:], y[:n], y[n:])
    b = make_features("b", (x @ rng.normal(size=(d, 4))).astype(np.float32)[:n],
                      (x @ rng.normal(size=(d, 4))).astype(np.float32)[n:], y[:n], y[n:])
    return a, b


def _fails(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def _exits(capsys, argv, *needles):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize("fraction", ["1.0", "0", "-0.2", "1.5", "nan"])
def test_probe_refuses_a_validation_fraction_outside_the_open_interval(make_features, capsys, fraction):
    a, _ = _files(make_features, np.random.default_rng(0))
    _exits(capsys, ["probe", "--features", str(a), "--validation-fraction", fraction], "--validation-fraction")


def test_probe_refuses_a_split_that_leaves_a_class_without_validation_rows(make_features, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = np.zeros(120, dtype=np.int64)
    y[:2] = 1                                              # a rare class: 2 of 100 training rows
    a = make_features("rare", x[:100], x[100:], y[:100], y[100:])
    _fails(capsys, ["probe", "--features", str(a), "--validation-fraction", "0.02"], "--validation-fraction",
           "without")


def test_probe_refuses_one_class_no_columns_and_non_integer_labels(make_features, capsys, tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    one = make_features("one", x[:50], x[50:], np.zeros(50, np.int64), np.zeros(10, np.int64))
    _fails(capsys, ["probe", "--features", str(one)], "single class")
    empty = make_features("empty", np.zeros((50, 0), np.float32), np.zeros((10, 0), np.float32))
    _fails(capsys, ["probe", "--features", str(empty)], str(empty), "no feature columns")
    import h5py
    halves = tmp_path / "halves.h5"
    with h5py.File(halves, "w") as f:
        for split, n in (("train", 50), ("test", 10)):
            f.create_dataset(f"{split}/features", data=x[:n])
            f.create_dataset(f"{split}/labels", data=np.arange(n) % 2 + 0.5)
    _fails(capsys, ["probe", "--features", str(halves)], str(halves), "not integers")


def test_fse_never_prints_nan_with_status_zero(make_features, capsys):
    a, b = _files(make_features, np.random.default_rng(3))
    _fails(capsys, ["fse", "--regressors", str(a), str(a), "--targets", str(b), "--lambda", "0", "--json"],
           "singular", "lambda")
    _exits(capsys, ["fse", "--regressors", str(a), "--targets", str(b), "--outlier-threshold", "-1"],
           "--outlier-threshold")
    _exits(capsys, ["fse", "--regressors", str(a), "--targets", str(b), "--chunk-rows", "0"], "--chunk-rows")
    _fails(capsys, ["fse", "--regressors", str(a), "--targets", str(b), "--lambdas", "abc"], "--lambdas", "'abc'")
    # a tiny threshold drops every target of the test FSE: an error, not NaN
    _fails(capsys, ["fse", "--regressors", str(a), "--targets", str(b), "--outlier-threshold", "1e-9"],
           "undefined", "test")


def test_json_output_is_strict_and_per_target_lambdas_line_up_with_the_targets(make_features, capsys):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = np.hstack([x @ rng.normal(size=(5, 3)), np.ones((300, 1)), x[:, :1]]).astype(np.float32)
    y[:, 4] += rng.normal(size=300).astype(np.float32)
    y[:, 3] = 2.0                                          # a dead target in the middle
    a = make_features("x", x[:240], x[240:])
    b = make_features("y", y[:240], y[240:])
    assert main(["fse", "--regressors", str(a), "--targets", str(b), "--per-target-lambda", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert len(out["lambda"]) == out["n_targets"] == 5
    assert out["lambda"][3] is None and all(v is not None for i, v in enumerate(out["lambda"]) if i != 3)


def test_files_with_different_labels_are_refused(make_features, capsys):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(100, 4)).astype(np.float32)
    y = (np.arange(100) % 2).astype(np.int64)
    shuffled = y.copy()
    shuffled[37], shuffled[38] = 1 - shuffled[37], 1 - shuffled[38]
    a = make_features("a", x[:80], x[80:], y[:80], y[80:])
    b = make_features("b", x[:80], x[80:], shuffled[:80], y[80:])
    for argv in (["probe", "--features", str(a), str(b)], ["fse", "--regressors", str(a), "--targets", str(b)]):
        _fails(capsys, argv, str(a), str(b), "row 37")


# ------------------------------------------------------------------------------ corrupt artifacts
def test_a_truncated_checkpoint_names_the_file_and_how_to_rebuild_it(tmp_path):
    from featspan.cohort import Cohort
    from featspan.data import Dataset
    from featspan.models import scaled_family
    from featspan.checkpoints import ArtifactUnreadable
    from featspan.features import write_cohort_features

    rng = np.random.default_rng(0)
    Dataset("d", rng.normal(size=(20, 6)).astype(np.float32), np.arange(20) % 2,
            rng.normal(size=(8, 6)).astype(np.float32), np.arange(8) % 2).save(tmp_path / "d.h5")
    cohort = Cohort.plan("e", "mlp", 1.0, 0, scaled_family("mlp", 1.0, (6,), 2, widths=[4]))
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    cohort.save(folder)
    path = folder / cohort.filename(0, ".pt")
    path.write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(ArtifactUnreadable, match="unreadable checkpoint") as err:
        write_cohort_features(tmp_path / "d.h5", folder, tmp_path / "out", "trained", experiment="e", dataset="d")
    assert str(path) in str(err.value) and "run snakemake again" in str(err.value)


def test_a_corrupt_dataset_file_names_the_file(tmp_path):
    from featspan.data import Dataset, DatasetUnavailable

    (tmp_path / "d.h5").write_bytes(b"\x89HDF\r\n truncated")
    with pytest.raises(DatasetUnavailable, match="unreadable dataset file") as err:
        Dataset.load(tmp_path / "d.h5")
    assert str(tmp_path / "d.h5") in str(err.value)
    assert "--forcerun dataset" in str(err.value) and "\n" not in str(err.value)  # one line, a rebuild that works


# ---------------------------------------------------------------------------- configs and targets
def _snakemake(workdir, config: dict, *args):
    import yaml
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", *args, "-s", str(ROOT / "Snakefile"), "-d",
                           str(workdir), "--configfile", str(path)], capture_output=True, text=True, timeout=180)


def _small(alphas=(1, 0.5), arch="mlp"):
    model = {"arch": "mlp", "widths": [8]} if arch == "mlp" else {"arch": arch, "base_width": 4}
    dataset = {"name": "mnist1d", "num_samples": 300} if arch == "mlp" else {"name": "digits", "size": 8}
    return {"experiments": {"small": {"dataset": dataset, "model": model, "alphas": list(alphas), "seeds": [0],
                                      "train": {"epochs": 1}}}}


def test_an_alpha_below_one_unit_is_refused_before_any_job(tmp_path):
    run = _snakemake(tmp_path, _small(alphas=(1, 0.001)))
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "experiments.small.alphas[1]" in out and "below one" in out and "Traceback" not in out


def test_an_inverted_lambda_grid_is_refused(tmp_path):
    config = {**_small(), "span": {"lambdas": {"min": 10.0, "max": 1.0}}}
    run = _snakemake(tmp_path, config)
    assert run.returncode != 0 and "span.lambdas" in run.stdout + run.stderr


@pytest.mark.parametrize("alphas, index, needle", [((1, 0.5, 0.50001), 2, "same cohort as alphas[1]"),
                                                    ((1, 0.999999, 0.5), 1, "would be stored as alpha = 1")])
def test_alphas_are_compared_by_the_cohort_they_become(alphas, index, needle):
    from featspan.configcheck import semantic_errors

    errors = semantic_errors(_small(alphas=alphas))
    assert len(errors) == 1 and f"experiments.small.alphas[{index}]" in errors[0] and needle in errors[0]
    assert semantic_errors(_small(alphas=(1, 0.5, 0.25))) == []


def test_the_workflow_refuses_alphas_that_share_a_cohort(tmp_path):
    run = _snakemake(tmp_path, _small(alphas=(1, 0.5, 0.50001)))
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "experiments.small.alphas[2]" in out and "Traceback" not in out


def test_a_key_written_twice_is_refused_naming_it(tmp_path, capsys):
    import yaml

    text = yaml.safe_dump(_small()).replace("alphas:", "alphas: [1, 0.25]\n    alphas:", 1)
    (tmp_path / "twice.yaml").write_text(text)
    assert yaml.safe_load(text)["experiments"]["small"]["alphas"] == [1, 0.5]  # YAML alone keeps the last
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                          "--configfile", str(tmp_path / "twice.yaml")], capture_output=True, text=True, timeout=180)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "'alphas' is written twice" in out and "Traceback" not in out
    _fails(capsys, ["estimate", "--configfile", str(tmp_path / "twice.yaml")], "twice.yaml", "'alphas' is written twice")


def test_merge_keys_are_not_duplicates(tmp_path):
    from featspan.configcheck import read_config_file

    (tmp_path / "c.yaml").write_text("a: &x {p: 1}\nb:\n  <<: *x\n  q: 2\n")
    assert read_config_file(tmp_path / "c.yaml") == {"a": {"p": 1}, "b": {"p": 1, "q": 2}}


@pytest.mark.parametrize("text, needle", [("- a\n- b\n", "the config is a list"), ("", "the config is empty"),
                                          ("experiments:\n\tx: 1\n", "not valid YAML at line 2")])
def test_estimate_refuses_a_config_that_is_no_mapping(tmp_path, capsys, text, needle):
    (tmp_path / "bad.yaml").write_text(text)
    _fails(capsys, ["estimate", "--configfile", str(tmp_path / "bad.yaml")], "bad.yaml", needle)


def test_estimate_runs_the_workflows_config_check(tmp_path, capsys):
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(_small(alphas=(1, 0.5, 0.50001))))
    _fails(capsys, ["estimate", "--configfile", str(tmp_path / "c.yaml")], "experiments.small.alphas[2]")


def test_probe_refuses_zero_test_rows_naming_the_file(make_features, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (np.arange(60) % 3).astype(np.int64)
    path = make_features("empty_test", x, x[:0], y, y[:0])
    _fails(capsys, ["probe", "--features", str(path)], "empty_test", "/test has 0 rows")


@pytest.mark.parametrize("target, needs", [("fig10", "vgg16"), ("table5", "vgg16"), ("table4", "resnet18")])
def test_a_target_the_config_cannot_make_says_what_it_needs(tmp_path, target, needs):
    run = _snakemake(tmp_path, _small(), target)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and f"{target} needs an experiment with model.arch: {needs}" in out
    assert "MissingRuleException" not in out


def test_the_readmes_dry_run_command_works_and_gives_reasons(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert "snakemake -n -r" not in readme and "snakemake -n" in readme
    run = _snakemake(tmp_path, _small())
    assert run.returncode == 0, run.stderr[-2000:]
    assert "reason: Missing output files" in run.stdout + run.stderr


# --------------------------------------------------------------------------------------- progress
def test_training_lines_carry_elapsed_time_and_time_left():
    import featspan.train as T
    from featspan.models import build_model

    lines = []
    x, y = torch.randn(64, 12), torch.randint(0, 3, (64,))
    spec = T.CohortSpec(lambda: build_model("mlp", 0.5, (12,), 3, widths=[8]), [1, 2], [3, 4])
    T.train_cohort(spec, x, y, T.TrainConfig(epochs=3, batch_size=32, checkpoint_every=0), log=lines.append)
    assert len(lines) == 3 and all("elapsed" in line and "left" in line for line in lines)
    assert lines[-1].endswith("about 0m00s left")


def test_the_toy_logs_every_epoch():
    from featspan.toy import ToyConfig, train_toy

    lines = []
    train_toy(ToyConfig(d=8, n_add=2, n_mul=2, n_patches=5, epochs=3, n_train=40, n_test=20, batch_size=20,
                        hidden=4), 4, 2, 0, probe=False, log=lines.append)
    assert [line.split(",")[0] for line in lines] == [f"m=4 M=2 seed=0: epoch {e}/3" for e in (1, 2, 3)]


def test_long_commands_report_stages_on_stderr_and_leave_stdout_alone(make_features, capsys, monkeypatch):
    from featspan.cli import Progress

    a, b = _files(make_features, np.random.default_rng(6))
    argv = ["fse", "--regressors", str(a), "--targets", str(b), "--json"]
    assert main(argv) == 0
    quiet = capsys.readouterr()
    assert quiet.err == ""
    monkeypatch.setattr(Progress, "AFTER", 0.0)  # as if every stage took long
    assert main(argv) == 0
    loud = capsys.readouterr()
    assert loud.out == quiet.out
    assert "statistics of" in loud.err and "eigendecomposition" in loud.err and " s\n" in loud.err
    assert main(["probe", "--features", str(a), "--C-grid", "0.1,1"]) == 0
    assert "C = 0.1:" in capsys.readouterr().err


def test_models_names_alphas_that_are_not_numbers(capsys):
    _fails(capsys, ["models", "--arch", "mlp", "--alphas", "x"], "--alphas", "'x' is not a number")


def test_a_temp_snapshot_left_by_a_kill_is_cleaned_up(tmp_path):
    from featspan.checkpoints import write_cohort_checkpoints
    from featspan.data import Dataset

    rng = np.random.default_rng(0)
    Dataset("d", rng.normal(size=(40, 6)).astype(np.float32), rng.integers(0, 3, 40),
            rng.normal(size=(10, 6)).astype(np.float32), rng.integers(0, 3, 10)).save(tmp_path / "d.h5")
    (tmp_path / "resume").mkdir()
    stale = tmp_path / "resume" / ".a1_r0.pt.tmp-12345"  # a kill in the middle of an atomic write
    stale.write_bytes(b"half a snapshot")
    write_cohort_checkpoints(tmp_path / "d.h5", tmp_path / "ckpt", tmp_path / "resume" / "a1_r0.pt", experiment="e",
                             alpha=1.0, replicate=0, model={"arch": "mlp", "widths": [4]},
                             train={"epochs": 1, "batch_size": 16, "optimizer": "adam", "lr": 0.01,
                                    "checkpoint_every": 1})
    assert list((tmp_path / "resume").iterdir()) == []


def test_a_probe_short_of_its_tolerance_says_so_in_one_line(make_features, capsys):
    a, _ = _files(make_features, np.random.default_rng(0))
    _fails(capsys, ["probe", "--features", str(a), "--max-iter", "1"], "raise --max-iter")


def test_one_training_row_is_refused_naming_the_file(make_features, capsys):
    x = np.random.default_rng(0).normal(size=(21, 4)).astype(np.float32)
    y = (np.arange(21) % 3).astype(np.int64)
    path = str(make_features("one_row", x[:1], x[1:], y[:1], y[1:]))
    _fails(capsys, ["probe", "--features", path], "one_row.h5", "/train has 1 rows")
    _fails(capsys, ["fse", "--regressors", path, "--targets", path], "one_row.h5", "fit rows")


def test_a_library_error_over_several_lines_is_printed_as_one(make_features, capsys, monkeypatch):
    import featspan.span as span

    def two_lines(*args, **kwargs):
        raise OSError("Unable to read dataset\n(truncated file: eof = 100)")

    monkeypatch.setattr(span, "feature_span_error", two_lines)
    a, b = _files(make_features, np.random.default_rng(0))
    _fails(capsys, ["fse", "--regressors", str(a), "--targets", str(b)], "Unable to read dataset (truncated file")


@pytest.mark.parametrize("dataset, key", [
    ({"name": "cifar10", "root": "/nonexistent/cifar", "download": False}, "dataset.root"),
    ({"name": "mnli", "data_files": {"train": "/nonexistent/train.jsonl"}}, "dataset.data_files.train"),
])
def test_missing_local_data_without_download_is_refused_before_any_job(dataset, key):
    from featspan.configcheck import semantic_errors

    config = {"experiments": {"e": {"dataset": dataset, "model": {"arch": "mlp", "widths": [8]}, "alphas": [1, 0.5],
                                    "seeds": [0], "train": {"epochs": 1}}}}
    errors = semantic_errors(config)
    assert len(errors) == 1 and f"experiments.e.{key}" in errors[0] and "/nonexistent/" in errors[0]


def test_the_probe_job_names_the_config_key_not_the_cli_option(monkeypatch):
    from types import SimpleNamespace

    import featspan.comparisons as comparisons
    from featspan import jobs
    from featspan.probe import validation_rows

    def too_few_rows(*args, **kwargs):
        validation_rows(np.array([0, 1, 1, 2, 2, 2]), 0.1, 0)  # rounds to no validation row

    monkeypatch.setattr(comparisons, "probe_cohort", too_few_rows)
    smk = SimpleNamespace(params=SimpleNamespace(probe={"residual_m_choices": []}),
                          input=SimpleNamespace(features="f", get=lambda key: None))
    with pytest.raises(ValueError) as err:
        jobs.probe(smk)
    assert "probe.validation_fraction = 0.1" in str(err.value) and "--validation-fraction" not in str(err.value)

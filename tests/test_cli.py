"""The `featspan` command line: JSON output on any contract files, clear errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from featspan.cli import main
from featspan.span import feature_span_error


def _pair(make_features, seed=0, n=300, nt=80):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + nt, 12)).astype(np.float32)
    y = (x @ rng.normal(size=(12, 5)) + 0.3 * rng.normal(size=(n + nt, 5))).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    return (make_features("a", x[:n], x[n:], labels[:n], labels[n:]),
            make_features("b", y[:n], y[n:], labels[:n], labels[n:]))


def test_fse_json_matches_library(make_features, capsys):
    a, b = _pair(make_features)
    assert main(["fse", "--regressors", str(a), "--targets", str(b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = feature_span_error([a], [b])
    assert out["fse"]["validation"] == pytest.approx(ref.fse("validation"))
    assert out["fse"]["test"] == pytest.approx(ref.fse("test"))
    assert {"lambda", "n_targets", "n_dead_targets"} <= set(out)
    assert out["n_targets"] == 5


def test_fse_fixed_lambda_without_validation(make_features, capsys):
    a, b = _pair(make_features)
    assert main(["fse", "--regressors", str(a), "--targets", str(b), "--lambda", "2.0",
                 "--validation-fraction", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lambda"] == 2.0 and list(out["fse"]) == ["test"]


def test_probe_json(make_features, capsys):
    a, _ = _pair(make_features)
    assert main(["probe", "--features", str(a), "--C", "1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["C"] == 1.0 and 0.5 < out["accuracy"] <= 1.0


def test_probe_torch_solver_agrees_with_the_default(make_features, capsys):
    """``--solver torch`` (what a GPU runs) on the CPU: the same C chosen, accuracy within a point."""
    pytest.importorskip("torch")
    a, _ = _pair(make_features)
    out = {}
    for solver in ("auto", "torch"):
        assert main(["probe", "--features", str(a), "--C-grid", "0.01,1", "--solver", solver, "--json"]) == 0
        out[solver] = json.loads(capsys.readouterr().out)
    assert out["torch"]["C"] == out["auto"]["C"]
    assert abs(out["torch"]["accuracy"] - out["auto"]["accuracy"]) <= 0.01


@pytest.mark.parametrize("problem,expected", [
    ("missing", "no such feature file"),
    ("rows", "rows but"),
    ("nan", "holds NaN or inf"),
    ("grid", "--lambdas: the list is empty"),
])
def test_fse_errors_name_the_problem(make_features, tmp_path, capsys, problem, expected):
    a, b = _pair(make_features)
    args = ["fse", "--regressors", str(a), "--targets", str(b), "--json"]
    if problem == "missing":
        args[2] = str(tmp_path / "missing.h5")
    elif problem == "rows":
        args[4] = str(make_features("short", np.ones((10, 2)), np.ones((80, 2))))
    elif problem == "nan":
        bad = np.ones((300, 2))
        bad[5, 0] = np.inf
        from featspan.h5 import FeatureFile
        with FeatureFile(a) as f:  # the same inputs as the others: only the value is wrong
            labels = f.labels("train"), f.labels("test")
        args[4] = str(make_features("nan", bad, np.ones((80, 2)), *labels))
    elif problem == "grid":
        args += ["--lambdas", " "]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_entry_point_starts_without_torch():
    code = "import sys; from featspan.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_fse_reports_cka_on_request(make_features, capsys):
    a, b = _pair(make_features)
    assert main(["fse", "--regressors", str(a), "--targets", str(b), "--cka", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 < out["cka"] <= 1 and 0 < out["cka_debiased"] <= 1


def test_choice_lists_match_the_library():
    """The parser spells its choices out (building it imports no numpy): they must not drift from
    the library's."""
    from featspan.cli import build_parser
    from featspan.probe import LogisticProbe
    from featspan.span.backend import NAMES

    actions = {sub.prog.split()[-1]: {a.dest: a.choices for a in sub._actions}
               for sub in build_parser()._subparsers._group_actions[0].choices.values()}
    assert tuple(actions["probe"]["solver"]) == LogisticProbe.SOLVERS
    assert tuple(actions["fse"]["backend"]) == NAMES


def test_people_get_rounded_labelled_tables_not_python_reprs(make_features, capsys):
    """Without --json: the numbers of the JSON, rounded, under labels; no dict, list or None repr."""
    a, b = _pair(make_features)
    assert main(["fse", "--regressors", str(a), "--targets", str(b), "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main(["fse", "--regressors", str(a), "--targets", str(b)]) == 0
    text = capsys.readouterr().out
    assert f"validation    {ref['n_eval_rows']['validation']}  {ref['fse']['validation']:.4f}" in text
    assert f"test          {ref['n_eval_rows']['test']}  {ref['fse']['test']:.4f}" in text
    assert main(["probe", "--features", str(a), str(b), "--C-grid", "0.01,1"]) == 0
    text += capsys.readouterr().out
    assert "chosen on the validation part" in text and "17 features from" in text
    assert main(["models", "--arch", "resnet18", "--alphas", "0.5"]) == 0
    text += capsys.readouterr().out
    assert "1/2   2,797,610       256       2        4" in text
    for repr_mark in ("{", "[", "None", "True"):
        assert repr_mark not in text, repr_mark


def test_long_file_lists_are_summarized():
    from featspan.cli_format import files

    assert files(["a.h5", "b.h5"]) == "a.h5, b.h5"
    assert files([f"m{i}.h5" for i in range(60)]) == "m0.h5, m1.h5, … m59.h5 (60 files)"


def test_counted_stages_say_how_many_are_done_and_the_time_left(capsys, monkeypatch):
    from featspan import cli

    clock = iter([0.0, 4.0, 6.0, 8.0, 10.0])
    monkeypatch.setattr(cli.time, "perf_counter", lambda: next(clock))
    progress = cli.Progress("probe")            # starts at 0 s
    progress("read the features")               # 4 s: the counted loop starts here
    progress("C = 0.01", 1, 3)                  # 2 s per item so far
    progress("C = 0.1", 2, 3)
    progress("C = 1", 3, 3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == "featspan probe: C = 0.01 [1/3, about 0m04s left] after 6.0 s"
    assert lines[3] == "featspan probe: C = 1 [3/3, about 0m00s left] after 10.0 s"

"""featspan compare: every entry against featspan fse on that pair and CKA against the textbook kernel formulas."""
import json

import numpy as np
import pytest

from featspan.cli import main
from featspan.compare import compare_feature_sets, feature_sets
from featspan.span import RowPlan, feature_span_error
from test_similarity import _direct_cka

N_TRAIN, N_TEST = 160, 60


@pytest.fixture
def files(make_features):
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(N_TRAIN + N_TEST, 4))
    labels = np.arange(N_TRAIN + N_TEST) % 3
    out = {}
    for name, width in (("a", 5), ("b", 3), ("c", 4), ("d", 2)):
        f = np.maximum(latent @ rng.normal(size=(4, width)) + 0.5 * rng.normal(size=(len(latent), width)), 0) + 1
        out[name] = make_features(name, f[:N_TRAIN].astype(np.float32), f[N_TRAIN:].astype(np.float32),
                                  labels[:N_TRAIN], labels[N_TRAIN:])
    return out


@pytest.mark.parametrize("eval_set", ["validation", "test"])
@pytest.mark.parametrize("per_target", [False, True])
def test_every_fse_equals_featspan_fse_on_that_pair(files, eval_set, per_target):
    sets = feature_sets([files["a"], files["b"]], [f"cd={files['c']},{files['d']}"])
    comparison = compare_feature_sets(sets, per_target=per_target, eval_set=eval_set, validation_fraction=0.2)
    assert comparison.names == ["a", "b", "cd"]
    for i, si in enumerate(sets):
        for j, sj in enumerate(sets):
            if i == j:
                assert np.isnan(comparison.fse[i, j])
                continue
            alone = feature_span_error(si.paths, sj.paths, per_target=per_target, validation_fraction=0.2,
                                       eval_sets=(eval_set,))
            assert comparison.fse[i, j] == pytest.approx(alone.fse(eval_set), rel=1e-10)
    np.testing.assert_allclose(comparison.asymmetry, comparison.fse - comparison.fse.T)


def _kernel_cka(x, y):
    """Kornblith et al. (2019): HSIC of centered linear kernels, from explicit n x n matrices."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return np.sum(k * l) / np.sqrt(np.sum(k * k) * np.sum(l * l))


def _kernel_cka_debiased(x, y):
    """Song et al. (2012)'s unbiased HSIC of linear kernels, as used by Nguyen et al. (2021)."""
    return _direct_cka(x, y, debiased=True)  # explicit n x n kernels with zeroed diagonals


def test_cka_entries_equal_the_textbook_kernel_formulas(files):
    import h5py
    sets = feature_sets([files["a"], files["b"]], [f"cd={files['c']},{files['d']}"])
    comparison = compare_feature_sets(sets, validation_fraction=0.2)
    fit = RowPlan.regular(N_TRAIN, N_TEST, 0.2, 0).roles["train"] == 1   # the fit rows

    def rows(s):
        return np.hstack([h5py.File(p)["train/features"][:].astype(np.float64) for p in s.paths])[fit]

    for i in range(3):
        for j in range(3):
            x, y = rows(sets[i]), rows(sets[j])
            assert comparison.cka[i, j] == pytest.approx(_kernel_cka(x, y), rel=1e-12)
            assert comparison.cka_debiased[i, j] == pytest.approx(_kernel_cka_debiased(x, y), rel=1e-12)


def test_command_line_json_plot_and_bad_input(files, make_features, tmp_path, capsys):
    plot = tmp_path / "m.png"
    argv = ["compare", "--features", str(files["a"]), str(files["b"]), str(files["c"]), "--json", "--plot", str(plot)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    assert out["names"] == ["a", "b", "c"] and out["fse"][1][1] is None and out["cka"][1][1] == pytest.approx(1.0)
    assert out["asymmetry"][0][1] == pytest.approx(out["fse"][0][1] - out["fse"][1][0])
    assert plot.stat().st_size > 10_000
    short = make_features("short", np.ones((10, 2), np.float32), np.ones((N_TEST, 2), np.float32))
    for bad, needle in ((short, "rows"), (tmp_path / "missing.h5", "no such feature file")):
        assert main(["compare", "--features", str(files["a"]), str(bad)]) == 2
        err = capsys.readouterr().err
        assert needle in err and str(bad) in err and len(err.strip().splitlines()) == 1
    assert main(["compare", "--features", str(files["a"])]) == 2
    assert "at least two" in capsys.readouterr().err


def test_cka_only_reads_the_fit_rows_alone_and_gives_the_same_cka(files):
    sets = feature_sets([files["a"], files["b"], files["c"]])
    full = compare_feature_sets(sets, validation_fraction=0.2, eval_set="test")
    only = compare_feature_sets(sets, validation_fraction=0.2, cka_only=True)
    np.testing.assert_allclose(only.cka, full.cka, rtol=1e-12)
    np.testing.assert_allclose(only.cka_debiased, full.cka_debiased, rtol=1e-12)
    assert np.isnan(only.fse).all() and only.meta["n_eval_rows"] == 0 and full.meta["n_eval_rows"] == N_TEST

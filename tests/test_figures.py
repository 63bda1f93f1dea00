"""The figure catalog follows the paper's map (Appendix D.3), and figures plot what their captions say."""
import matplotlib
import numpy as np
import pytest

from featspan.catalog import FIGURES, TABLES
from featspan.report.figures import fp_figure, gap_figure

matplotlib.use("Agg")


def test_test_split_figures_are_appendix_d3s():
    """Figures 11-14 are the test-split versions of Figures 1, 7, 2 and 8; 12 adds the outlier rule."""
    for test_fig, valid_fig in (("fig11", "fig1"), ("fig12", "fig7"), ("fig13", "fig2"), ("fig14", "fig8")):
        test_opts, valid_opts = FIGURES[test_fig]["options"], FIGURES[valid_fig]["options"]
        assert {**valid_opts, "eval": "test", "rows": test_opts["rows"]} == test_opts, test_fig
    assert FIGURES["fig12"]["options"]["rows"] == ["live", "below_outlier_threshold"]
    assert all(FIGURES[f]["options"]["rows"] == ["live"] for f in FIGURES if FIGURES[f]["kind"] == "gap" and f != "fig12")
    assert FIGURES["fig7"]["options"] == {"direction": "forward", "state": "init", "eval": "validation", "rows": ["live"]}
    assert len({s["slug"] for s in FIGURES.values()}) == len(FIGURES)


def test_captions_say_what_is_plotted_not_what_should_come_out():
    for name, spec in {**FIGURES, **TABLES}.items():
        text = spec["caption"].lower()
        for claim in ("raises accuracy", "barely", "should", "stays ahead", "closing the gap", "should agree"):
            assert claim not in text, (name, claim)
    assert "sample standard deviation" in FIGURES["fig1"]["caption"]


def _gap_rows():
    rows = []
    for alpha, values in ((0.5, (0.1, 0.3)), (0.25, (0.4, 0.8))):
        for rep, value in enumerate(values):
            for targets, shift in (("live", 0.0), ("below_outlier_threshold", -1.0)):
                rows.append({"direction": "forward", "state": "init", "eval": "test", "alpha": alpha, "replicate": rep,
                             "m_choice": "param", "targets": targets, "fsg": value + shift,
                             "n_outlier_targets": 0 if targets == "live" else 2})
    return rows


def test_gap_figure_plots_mean_and_sample_std_per_alpha_and_a_row_per_target_selection():
    fig = gap_figure({"e": _gap_rows()}, "forward", "init", "test", "t", rows=("live", "below_outlier_threshold"))
    top, bottom = fig.axes
    for ax, shift in ((top, 0.0), (bottom, -1.0)):
        (container,) = ax.containers
        line, _, (bars,) = container
        np.testing.assert_allclose(line.get_ydata(), [0.2 + shift, 0.6 + shift])
        np.testing.assert_allclose(line.get_xdata(), [1.0, 2.0])  # log2(1 / alpha)
        segments = bars.get_segments()
        np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments],
                                   [2 * np.std([0.1, 0.3], ddof=1), 2 * np.std([0.4, 0.8], ddof=1)])
    assert "n = 2" in top.get_legend().get_texts()[0].get_text()
    assert "8 targets left out" in bottom.get_legend().get_texts()[0].get_text()
    assert "outlier rule" in bottom.get_title()


def test_one_replicate_draws_no_error_bar_and_says_n_1():
    rows = [r for r in _gap_rows() if r["replicate"] == 0 and r["targets"] == "live"]
    fig = gap_figure({"e": rows}, "forward", "init", "test", "t")
    (container,) = fig.axes[0].containers
    segments = container[2][0].get_segments()
    assert all(s[1, 1] == s[0, 1] for s in segments)
    assert "n = 1" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_fp_figure_plots_each_feature_set_and_the_base_band():
    rows = [{"state": "trained", "alpha": 1.0, "features": "base", "accuracy": a} for a in (0.9, 0.8)]
    rows += [{"state": "trained", "alpha": 0.5, "features": "concat_param", "accuracy": a} for a in (0.5, 0.7)]
    fig = fp_figure({"e": rows}, "trained", "t", lines=("concat_param",))
    ax = fig.axes[0]
    assert ax.lines[0].get_ydata()[0] == pytest.approx(85.0)
    line = ax.containers[0][0]
    np.testing.assert_allclose(line.get_ydata(), [60.0])


def test_four_experiments_make_a_page_wide_two_by_two_grid_on_one_alpha_axis():
    """Page-shaped: 2 x 2 panels a page wide, every panel with the union of the experiments' alphas at the
    same positions, panel titles from the experiments' labels, the figure's number in its title."""
    from featspan.report import plotting

    tables = {}
    for i, exp in enumerate(["a", "b", "c", "d"]):
        alphas = (0.5, 0.25) if i else (0.5, 0.25, 0.125)
        rows = [r for r in _gap_rows() if r["targets"] == "live"]
        tables[exp] = [dict(r, alpha=a) for a in alphas for r in rows if r["alpha"] == 0.5]
    with plotting.style():
        fig = gap_figure(tables, "forward", "init", "test", "t", labels={e: f"label {e}" for e in tables})
    assert fig.get_figwidth() == pytest.approx(plotting.PAGE_WIDTH)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4 and [ax.get_title() for ax in visible] == ["label a", "label b", "label c", "label d"]
    for ax in visible:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1/2", "1/4", "1/8"]
        assert "n = " in ax.get_legend().get_texts()[0].get_text()
    assert fig.axes[0].get_position().y0 > fig.axes[2].get_position().y0  # two rows, two columns
    assert fig.axes[0].get_position().x0 < fig.axes[1].get_position().x0


def test_experiment_labels_and_math_names():
    from featspan.report.plotting import experiment_labels, math_text

    about = {"r1": {"arch": "resnet18", "dataset": "fashion_mnist"}, "r2": {"arch": "resnet18", "dataset": "fashion_mnist"},
             "m": {"arch": "mlp", "dataset": "mnist1d", "label": "my MLP"}, "x": {}}
    assert experiment_labels(about) == {"r1": "ResNet-18 · Fashion-MNIST (r1)", "r2": "ResNet-18 · Fashion-MNIST (r2)",
                                        "m": "my MLP", "x": "x"}
    assert math_text("FSE(M_1' → M_1), M_param") == r"FSE($M_1'$ → $M_1$), $M_{\mathrm{param}}$"


def test_one_drawer_per_catalog_figure():
    """report/draw.py: every figure of the catalog, the paper's and the toy's, has its drawer, and nothing else."""
    from featspan.catalog import TOY_FIGURES
    from featspan.report.draw import DRAWERS, draw
    from featspan.report.toy import FIGURES as TOY_DRAWINGS

    assert set(DRAWERS) == set(FIGURES) | set(TOY_FIGURES)
    assert set(TOY_DRAWINGS) == set(TOY_FIGURES)
    with pytest.raises(ValueError, match="unknown figure 'fig99'"):
        draw("fig99", [], [])

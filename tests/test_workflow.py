"""End to end: the tiny config through every stage of the DAG, incremental reruns, and lint."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "config" / "tiny.yaml"
pytestmark = pytest.mark.slow


def snakemake(workdir, *args, config=TINY, timeout=900, env=None):
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config)]  # last: --configfile takes every word after it
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def planned_rules(run) -> dict:
    """{rule: count} from the job-stats table of a dry run."""
    table = run.stdout.split("Job stats:")[1].split("Reasons")[0] if "Job stats:" in run.stdout else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    run = snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


def test_every_stage_runs_and_figures_are_written(tiny_run):
    for name in ("fig1_fsg_forward_trained", "fig3_fp_trained"):
        for ext in ("pdf", "png"):
            out = tiny_run / "results" / "figures" / f"{name}.{ext}"
            assert out.stat().st_size > 5000, out
    spans = sorted((tiny_run / "results" / "tiny_mlp" / "span").glob("*/*.json"))
    assert len(spans) == 2 * 2 * 2  # states x narrow alphas x replicates
    record = json.loads(spans[0].read_text())["records"][0]
    assert {"direction", "m_choice", "eval", "fsg", "n_dead_targets"} <= set(record)
    forward = json.loads(spans[0].read_text())["forward_fse"]
    assert {(r["regression"], r["eval"]) for r in forward} == {
        (reg, ev) for reg in ("regular", "regular_subsampled", "shuffled") for ev in ("validation", "test")}
    rows = {(r["regression"], r["eval"]): (r["n_fit_rows"], r["n_eval_rows"]) for r in forward}
    for ev in ("validation", "test"):  # Tables 4 and 5 compare equal sample sizes
        assert rows[("regular_subsampled", ev)] == rows[("shuffled", ev)] != rows[("regular", ev)]


def test_compare_matrices_of_the_first_replicate(tiny_run):
    for state in ("trained", "init"):
        out = json.loads((tiny_run / "results" / "tiny_mlp" / "compare" / f"{state}.json").read_text())
        assert out["names"] == ["M_1", "M_1'", "M_1/2", "M_1/4"]
        assert out["fse"][0][0] is None and all(v is not None for v in out["fse"][0][1:])
        assert (tiny_run / "results" / "tiny_mlp" / "compare" / f"{state}.png").stat().st_size > 10_000


def test_toy_outputs(tiny_run):
    records = json.loads((tiny_run / "results" / "toy" / "learned_signals.json").read_text())
    assert {(r["kind"], r["width"], r["n_models"]) for r in records} == {("concat", 4, 10), ("wide", 40, 1)}
    for r in records:  # the verdicts follow from the per-model table of the run they summarize
        run = json.loads((tiny_run / "results" / "toy" / "runs" / f"m{r['width']}_s{r['seed']}.json").read_text())
        learned = np.asarray(run["learned"], dtype=bool)
        assert r["models_learning_each_signal"] == learned.sum(axis=0).tolist()
        n_add = run["config"]["n_add"]
        assert r["addition_learned"] == learned.any(axis=0)[:n_add].mean()
        assert r["multiplication_learned"] == learned.any(axis=0)[n_add:].mean()
    table = (tiny_run / "results" / "tables" / "table1_toy_accuracy.md").read_text()
    narrow = json.loads((tiny_run / "results" / "toy" / "runs" / "m4_s0.json").read_text())
    assert f"| 4 | 10 | {100 * narrow['train_accuracy']:.1f} (n = 1) |" in table
    for name in ("fig5_toy_correlation", "fig6_toy_neuron_forces", "fig9_toy_init_activation"):
        assert (tiny_run / "results" / "figures" / f"{name}.png").stat().st_size > 5000
    finding = (tiny_run / "results" / "tables" / "finding41_toy_finding.md").read_text()
    wide = np.asarray(json.loads((tiny_run / "results" / "toy" / "runs" / "m40_s0.json").read_text())["learned"], bool)
    n_add = narrow["config"]["n_add"]
    concat = np.asarray(narrow["learned"], bool).any(axis=0)
    held = wide.any(axis=0).all() and concat[:n_add].all() and not concat[n_add:].any()
    assert f"| 4 | 10 | {1 if held else 0} of 1 |" in finding


def test_toy_only_config_under_its_own_results_dir(tmp_path):
    """No experiments, a toy section and results_dir: every toy output lands under that folder, none in results/."""
    config = yaml.safe_load(TINY.read_text())
    config = {"results_dir": "out/toy-only", "toy": config["toy"]}
    path = tmp_path / "toy-only.yaml"
    path.write_text(yaml.safe_dump(config))
    run = snakemake(tmp_path, "--cores", "2", config=path)
    assert run.returncode == 0, run.stderr[-4000:]
    assert (tmp_path / "out" / "toy-only" / "tables" / "finding41_toy_finding.md").is_file()
    assert (tmp_path / "out" / "toy-only" / "figures" / "fig5_toy_correlation.png").is_file()
    assert (tmp_path / "out" / "toy-only" / "logs" / "toy_run" / "m4_s0.log").is_file()
    assert not (tmp_path / "results").exists()


def test_findings_table_has_a_row_per_finding(tiny_run):
    from featspan.report.findings import FINDINGS

    md = (tiny_run / "results" / "tables" / "findings_paper_findings.md").read_text()
    assert "| finding | d | test | tiny_mlp (α_min = 1/4; α = 1 train " in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "(n = 2)" in line]
    # every finding measured on both replicates, but the shuffled rows (vision experiments only)
    assert len(rows) == len([f for f in FINDINGS if not f.vision_only])
    assert all("p = " in row for row in rows)


def test_no_two_models_of_the_run_share_an_init_tensor_or_a_leading_slice(tiny_run):
    """Every init checkpoint of every cohort: no random tensor equals (a leading block of) another model's."""
    import torch

    from test_seeding import shares_a_leading_slice

    tensors = []
    for path in sorted((tiny_run / "results" / "tiny_mlp" / "checkpoints").glob("*/*_init.pt")):
        state = torch.load(path, weights_only=False)["state_dict"]
        tensors += [(path.name, t) for t in state.values() if t.numel() > 1 and t.std() > 0]
    assert len({name for name, _ in tensors}) > 20
    for i, (name_a, a) in enumerate(tensors):
        for name_b, b in tensors[i + 1:]:
            if name_a != name_b:
                assert not shares_a_leading_slice(a, b), (name_a, name_b)


def test_probes_converged_and_spans_never_drop_validation_targets_for_their_error(tiny_run):
    for path in (tiny_run / "results" / "tiny_mlp" / "probe").glob("*/*.json"):
        assert all(r["converged"] for r in json.loads(path.read_text())["records"]), path
    for path in (tiny_run / "results" / "tiny_mlp" / "span").glob("*/*.json"):
        for r in json.loads(path.read_text())["records"]:
            assert r["n_outlier_targets"] == 0 or (r["eval"] == "test" and r["targets"] == "below_outlier_threshold")


def test_feature_files_follow_the_contract(tiny_run):
    folder = tiny_run / "results" / "tiny_mlp" / "features" / "init" / "a1_4_r1"
    files = sorted(folder.glob("*.h5"))
    manifest = json.loads((folder / "cohort.json").read_text())
    assert len(files) == len(manifest["seeds"]) == max(manifest["m_feat"], manifest["m_param"]) + 1
    with h5py.File(files[0]) as f:
        assert set(f) == {"train", "test"}
        assert f["train/features"].shape == (480, 8) and f["test/labels"].shape == (120,)
        for key in ("experiment", "dataset", "arch", "alpha", "seed", "state", "n_params", "config_hash",
                    "checkpoint_sha256"):
            assert key in f.attrs, key
        assert f.attrs["state"] == "init" and f.attrs["alpha"] == 0.25


def test_second_run_has_nothing_to_do(tiny_run):
    run = snakemake(tiny_run, "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_changing_a_parameter_reruns_only_its_dependents(tiny_run, tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["probe"]["C_grid"] = [0.5]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    run = snakemake(tiny_run, "-n", config=changed)
    assert run.returncode == 0, run.stderr
    assert planned_rules(run) == {"probe": 10, "summarize_probe": 1, "fig3": 1, "fig4": 1, "table3": 1, "findings": 1,
                                  "all": 1}


def test_one_figure_target_builds_only_that_figure(tiny_run):
    (tiny_run / "results" / "figures" / "fig1_fsg_forward_trained.png").unlink()
    run = snakemake(tiny_run, "fig1", "-n")
    assert planned_rules(run) == {"fig1": 1}


def test_lint_is_clean(tmp_path):
    run = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s", str(ROOT / "Snakefile"),
                          "-d", str(ROOT)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Congratulations" in run.stdout + run.stderr, run.stdout + run.stderr


def test_report_holds_every_figure_and_table_with_captions(tiny_run):
    assert snakemake(tiny_run, "--cores", "2").returncode == 0  # another test deletes a figure
    run = snakemake(tiny_run, "--report", str(tiny_run / "report.html"))
    assert run.returncode == 0, run.stderr[-3000:]
    html = (tiny_run / "report.html").read_text()
    for name in ("fig1_fsg_forward_trained.png", "fig4_fp_residuals.png", "fig14_fsg_reverse_init_test.png",
                 "table2_accuracy_and_m.csv", "table3_residual_probes.csv", "findings_paper_findings.html",
                 "fig5_toy_correlation.png", "trained.png"):
        assert name in html, name
    assert "Reverse feature span gap of random-init models on the test split" in html
    assert "2 replicate(s)" in html and "Toy constants" in html
    assert "The paper&#39;s findings, one per row" in html or "The paper's findings, one per row" in html


def test_between_workflow_cache_serves_a_second_folder(tmp_path):
    """`snakemake --cache`: a second workflow folder links the first one's checkpoints and features from
    SNAKEMAKE_OUTPUT_CACHE instead of training again; a changed training setting misses the cache."""
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {"SNAKEMAKE_OUTPUT_CACHE": str(cache)}
    target = "results/tiny_mlp/features/trained/a1_r0"
    first, second = tmp_path / "first", tmp_path / "second"
    run = snakemake(first, target, "--cores", "2", "--cache", env=env)  # --cache takes rule names after it
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train accuracy" in (first / "results/logs/train/tiny_mlp/a1_r0.log").read_text()
    assert not (first / "results/benchmarks/train").exists()  # Snakemake forbids benchmarks on cached rules
    assert len(list(cache.iterdir())) == 3  # one checkpoint folder, two feature folders

    run = snakemake(second, target, "--cores", "2", "--cache", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (second / "results/logs/train/tiny_mlp/a1_r0.log").read_text() == ""  # no training ran: cached
    checkpoints = second / "results/tiny_mlp/checkpoints/a1_r0"
    manifest = checkpoints / "cohort.json"
    assert manifest.is_symlink() and Path(manifest.resolve()).is_relative_to(cache)
    assert (second / target / "cohort.json").exists()

    changed = tmp_path / "changed.yaml"
    settings = yaml.safe_load(TINY.read_text())
    settings["experiments"]["tiny_mlp"]["train"]["epochs"] = 2
    changed.write_text(yaml.safe_dump(settings))
    run = snakemake(tmp_path / "third", target, "-n", "--cache", env=env, config=changed)
    assert run.returncode == 0, run.stderr[-3000:]
    assert planned_rules(run)["train"] == 1

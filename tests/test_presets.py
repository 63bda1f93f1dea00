"""Presets build their DAGs, and the tuning rule feeds training in a real (tiny) run."""
import json
import re

import pytest
import yaml

from test_workflow import ROOT, planned_rules, snakemake

pytestmark = pytest.mark.slow


def test_paper_preset_plans_tuning_and_gpu_training(tmp_path):
    run = snakemake(tmp_path, "-n", config=ROOT / "configs" / "paper.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned_rules(run)
    # 3 experiments: 5 + 5 + 4 alphas tuned once each; 4 seeds per alpha trained
    assert rules["tune"] == 14 and rules["train"] == 56 and rules["features"] == 56
    assert rules["table4"] == rules["table5"] == 1  # shuffled FSE of the two vision architectures
    assert "gpu=1" in run.stdout


def test_quick_preset_plans_one_replicate_of_the_paper_experiments(tmp_path):
    run = snakemake(tmp_path, "-n", config=ROOT / "configs" / "quick.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned_rules(run)
    # one replicate: 4 + 4 + 3 alphas, no tuning; every figure and table
    assert rules["train"] == 11 and "tune" not in rules
    assert all(rules.get(f"fig{n}") == 1 for n in range(1, 15))
    assert all(rules.get(f"table{n}") == 1 for n in range(1, 6))
    quick, default = (yaml.safe_load(p.read_text()) for p in (ROOT / "configs" / "quick.yaml", ROOT / "config.yaml"))
    # the toy at the default CPU scale, kept in step (the default runs fewer seeds for its time budget)
    assert {k: v for k, v in quick["toy"].items() if k != "seeds"} == {k: v for k, v in default["toy"].items()
                                                                      if k != "seeds"}


def test_cpu_preset_plans_the_paper_regime(tmp_path):
    """configs/cpu.yaml: four families, alpha to 1/16 for the MLP and 1/8 for the others, 3 replicates, the
    vision families on Fashion-MNIST, every figure and table, one unit or more in every layer at the
    smallest alpha."""
    from featspan.models.scaling import smallest_widths

    run = snakemake(tmp_path, "-n", config=ROOT / "configs" / "cpu.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned_rules(run)
    assert rules["train"] == 3 * (5 + 4 + 4 + 4) and "tune" not in rules
    assert all(rules.get(f"fig{n}") == 1 for n in range(1, 15))
    assert all(rules.get(f"table{n}") == 1 for n in range(1, 6)) and rules["findings"] == 1
    cpu = yaml.safe_load((ROOT / "configs" / "cpu.yaml").read_text())
    for name, exp in cpu["experiments"].items():
        assert len(exp["seeds"]) == 3, name
        assert min(exp["alphas"]) == (0.0625 if exp["model"]["arch"] == "mlp" else 0.125), name
        assert min(smallest_widths(exp["model"])) * min(exp["alphas"]) >= 1, name
    vision = [e["dataset"] for e in cpu["experiments"].values() if e["model"]["arch"] in ("resnet18", "vgg16")]
    assert len(vision) == 2 and all(d["name"] == "fashion_mnist" for d in vision)


@pytest.mark.parametrize("normalize", ["tensor", "neuron"])
def test_toy_paper_presets_plan_table_1s_widths_under_their_own_results_dir(tmp_path, normalize):
    """configs/toy-paper-*.yaml: the toy alone at Table 1's total width 30,000 (widths 100, 250 and 30,000),
    six seeds, one preset per normalization, each under its own results_dir and otherwise identical."""
    preset = ROOT / "configs" / f"toy-paper-{normalize}.yaml"
    run = snakemake(tmp_path, "-n", config=preset)
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned_rules(run)
    assert rules["toy_run"] == 3 * 6 and rules["finding41"] == 1 and "train" not in rules and "findings" not in rules
    assert f"results/toy-paper-{normalize}/toy/runs/m30000_s20.json" in run.stdout
    # a narrow run's probe peaked at 8.6 GB at this total width: its jobs ask for more than that
    narrow_mem = re.findall(r"wildcards: width=100, seed=\d+\n\s+priority: \d+\n\s+resources: [^\n]*mem_mb=(\d+)",
                            run.stdout)
    assert len(narrow_mem) == 6 and all(int(mb) > 8600 for mb in narrow_mem)
    config = yaml.safe_load(preset.read_text())
    assert config["toy"]["widths"] == [100, 250, 30000] and config["toy"]["total_width"] == 30000
    assert config["toy"]["normalize"] == normalize and len(config["toy"]["seeds"]) == 6
    twin = yaml.safe_load((ROOT / "configs" / f"toy-paper-{({'tensor': 'neuron', 'neuron': 'tensor'})[normalize]}.yaml")
                          .read_text())
    assert {k: v for k, v in twin["toy"].items() if k != "normalize"} == {k: v for k, v in config["toy"].items()
                                                                          if k != "normalize"}


@pytest.mark.parametrize("preset", ["config.yaml", "configs/cpu.yaml", "configs/paper.yaml", "configs/quick.yaml",
                                    "configs/gpu-smoke.yaml", "configs/toy-paper-tensor.yaml",
                                    "tests/config/tiny.yaml"])
def test_estimate_counts_the_jobs_snakemake_plans(tmp_path, preset):
    from featspan.configcheck import check_config, read_config_file
    from featspan.estimate import planned_jobs
    from featspan.schema import SCHEMA

    run = snakemake(tmp_path, "-n", config=ROOT / preset)
    assert run.returncode == 0, run.stderr[-3000:]
    config = read_config_file(ROOT / preset)
    check_config(config, SCHEMA)  # fills the defaults in, as the workflow does
    assert planned_jobs(config) == sum(planned_rules(run).values())


def test_tuning_winner_reaches_training(tmp_path):
    config = {
        "experiments": {"tuned": {
            "dataset": {"name": "digits", "size": 8},
            "model": {"arch": "resnet18", "base_width": 2},
            "alphas": [1, 0.5], "seeds": [0, 1],
            "train": {"epochs": 1, "batch_size": 128, "optimizer": "sgd", "schedule": "step", "crop_padding": 1},
            "tune": {"lr": [1.0e-5, 0.05], "weight_decay": [0.0], "epochs": 2},
        }},
    }
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(config))
    target = "results/tuned/checkpoints/a1_r1"
    run = snakemake(tmp_path, "--cores", "2", target, config=path)
    assert run.returncode == 0, run.stderr[-3000:]
    tuning = json.loads((tmp_path / "results" / "tuned" / "tuning" / "a1.json").read_text())
    from featspan.seeding import model_streams  # the first model of the first replicate's cohort
    assert len(tuning["grid"]) == 2 and tuning["replicate"] == 0
    assert tuning["seed"] == model_streams("tuned", 1.0, 0, 0).init
    best = max(tuning["grid"], key=lambda g: g["val_accuracy"])
    assert tuning["best"] == {"lr": best["lr"], "weight_decay": best["weight_decay"]}
    log = (tmp_path / "results" / "logs" / "train" / "tuned" / "a1_r1.log").read_text()
    assert f"tuned hyperparameters from results/tuned/tuning/a1.json: {tuning['best']}" in log


def test_table4_is_built_from_the_shuffled_regressions(tmp_path):
    config = {
        "experiments": {"small_resnet": {
            "dataset": {"name": "digits", "size": 8},
            "model": {"arch": "resnet18", "base_width": 2},
            "alphas": [1, 0.5], "seeds": [0],
            "train": {"epochs": 1, "batch_size": 128, "optimizer": "sgd", "schedule": "step", "crop_padding": 1},
        }},
        "span": {"lambdas": {"num": 5}},
    }
    path = tmp_path / "resnet.yaml"
    path.write_text(yaml.safe_dump(config))
    run = snakemake(tmp_path, "--cores", "2", "table4", config=path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not list((tmp_path / "results" / "tables").glob("table5*"))  # no VGG-16 experiment, no Table 5
    md = (tmp_path / "results" / "tables" / "table4_shuffled_fse_resnet18.md").read_text()
    for regression in ("regular", "shuffled"):
        for split in ("validation", "test"):
            assert f"| {regression} | {split} | " in md
    assert "α = 1/2" in md and "nan" not in md


def test_gpu_smoke_preset_plans_every_gpu_path(tmp_path):
    """One GPU per tune/train/features job; bf16 and float32 twins of one ResNet-18 experiment; VGG-16
    one by one (channels_last) with tuning; every figure and table."""
    run = snakemake(tmp_path, "-n", config=ROOT / "configs" / "gpu-smoke.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    rules = planned_rules(run)
    assert rules["tune"] == 2 and rules["train"] == 18 and rules["features"] == 18
    assert all(rules.get(f"fig{n}") == 1 for n in range(1, 15))
    assert all(rules.get(f"table{n}") == 1 for n in range(1, 6))
    assert "gpu=1" in run.stdout
    smoke = yaml.safe_load((ROOT / "configs" / "gpu-smoke.yaml").read_text())["experiments"]
    bf16, fp32 = smoke["resnet18_digits_bf16"], smoke["resnet18_digits_fp32"]
    assert bf16["train"]["amp"] == "bf16" and fp32["train"]["amp"] == "none"
    assert {k: v for k, v in bf16["train"].items() if k != "amp"} == {k: v for k, v in fp32["train"].items() if k != "amp"}
    assert bf16["seeds"] == fp32["seeds"] and bf16["dataset"] == fp32["dataset"]
    assert smoke["vgg16_digits"]["train"]["mode"] == "sequential"

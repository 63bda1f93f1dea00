"""A model and a dataset of the user's own (tests/plugins/) run through the workflow from their config
entries alone, and featspan's registries agree with the schema."""
import json
import os

import pytest
import yaml

from test_workflow import ROOT, planned_rules, snakemake

PLUGINS = ROOT / "tests" / "plugins"


def test_registries_and_the_schema_agree():
    from featspan.data.registry import DATASET_SOURCES
    from featspan.models.registry import ARCHITECTURES
    from featspan.schema import SCHEMA

    schema = yaml.safe_load(open(SCHEMA))
    arch = schema["$defs"]["model"]["properties"]["arch"]["anyOf"][0]["enum"]
    name = schema["$defs"]["dataset"]["properties"]["name"]["anyOf"][0]["enum"]
    assert arch == list(ARCHITECTURES)
    assert name == list(DATASET_SOURCES)
    # every registered family has its own block of options in the schema, and vice versa
    covered = set()
    for block in schema["$defs"]["model"]["allOf"]:
        cond = block["if"]["properties"]["arch"]
        covered |= set(cond.get("enum", [cond.get("const")]))
    assert covered == set(ARCHITECTURES)


def test_the_command_line_offers_every_registered_family():
    from featspan.cli import build_parser
    from featspan.models.registry import ARCHITECTURES

    models = build_parser()._subparsers._group_actions[0].choices["models"]
    (arch,) = [a for a in models._actions if a.dest == "arch"]
    assert tuple(arch.choices) == tuple(ARCHITECTURES)


def test_a_model_that_lacks_the_interface_is_named():
    from featspan.models import build_model

    with pytest.raises(TypeError, match="n_features, features"):
        build_model("torch.nn:Identity", 1.0, (4,), 2)
    with pytest.raises(ValueError, match="unknown architecture 'resnet50'"):
        build_model("resnet50", 1.0, (4,), 2)


@pytest.mark.slow
def test_a_user_model_and_dataset_run_through_the_workflow(tmp_path):
    config = {
        "experiments": {"mine": {
            "dataset": {"name": "my_featspan_plugins:noisy_blobs", "num_train": 300, "dim": 10},
            "model": {"arch": "my_featspan_plugins:two_layer_tanh", "width": 16},
            "alphas": [1, 0.5], "seeds": [0, 1],
            "train": {"epochs": 4, "batch_size": 50, "lr": 0.01}}},
        "span": {"lambdas": {"min": 1.0e-4, "max": 10.0, "num": 5, "relative": True}},
        "probe": {"C_grid": [0.1, 1.0]},
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    run = snakemake(tmp_path, "--cores", "2", config=path, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    results = tmp_path / "results"
    cohort = json.loads((results / "mine" / "checkpoints" / "a1_2_r0" / "cohort.json").read_text())
    assert cohort["arch"] == "my_featspan_plugins:two_layer_tanh" and cohort["n_features"] == 8
    table2 = (results / "tables" / "table2_accuracy_and_m.md").read_text()
    assert "| mine | 1/2 |" in table2
    assert (results / "figures" / "fig1_fsg_forward_trained.png").stat().st_size > 5000
    findings = (results / "tables" / "findings_paper_findings.csv").read_text()
    assert "mine" in findings
    # a dry run again plans nothing: the user's code digest is stable
    again = snakemake(tmp_path, "-n", config=path, env=env)
    assert sum(planned_rules(again).values()) == 0, again.stdout[-2000:]

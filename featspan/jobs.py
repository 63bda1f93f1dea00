"""One function per workflow rule: read what Snakemake hands the rule's script, call the library, write
the outputs. ``workflow_scripts/job.py`` (every rule's script) calls :func:`run`.

No Snakemake import: the functions take the ``snakemake`` object a script receives. Heavy modules are
imported inside the jobs that need them (torch takes seconds to import, and a figure job never needs it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

from .catalog import FIGURES, SHUFFLED_TABLES, TOY_FIGURES, TOY_TABLES
from .io import write_json


def start_job(smk) -> None:
    """Send stdout and stderr to the rule's log and limit torch and BLAS to the job's threads."""
    if smk.log:
        log = open(smk.log[0], "a", buffering=1)
        sys.stdout = sys.stderr = log
    threads = max(1, int(smk.threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    if "torch" in sys.modules:  # otherwise OMP_NUM_THREADS applies when (if ever) torch is imported:
        sys.modules["torch"].set_num_threads(threads)  # importing it costs seconds here
    gpus = int(getattr(smk.resources, "gpu", 0) or 0)
    if gpus:  # before any CUDA call: this job's own device(s), not cuda:0 for every job
        from .gpu_slots import claim
        claim(gpus)


def dataset(smk) -> None:
    from .data import load_dataset

    options = dict(smk.params.dataset)
    data = load_dataset(options.pop("name"), cache_dir=smk.params.cache_dir, **options)
    print(f"{data.name}: train {data.x_train.shape}, test {data.x_test.shape}, {data.n_classes} classes")
    data.save(smk.output[0])


def tune(smk) -> None:
    from .tune import tune_job

    result = tune_job(smk.input.dataset, **smk.params.job)
    print(f"winner: {result['best']}")
    write_json(result, smk.output[0])


def train(smk) -> None:
    from .checkpoints import write_cohort_checkpoints

    write_cohort_checkpoints(smk.input.dataset, smk.output[0], smk.params.resume, tuning_path=smk.input.get("tuning"),
                             **smk.params.job)


def features(smk) -> None:
    from .features import write_cohort_features

    for state in ("trained", "init"):  # one job for both states: the dataset and torch load once
        write_cohort_features(smk.input.dataset, smk.input.checkpoints, smk.output[state], state, **smk.params.job)


def span(smk) -> None:
    from .comparisons import span_cohort

    for state in ("trained", "init"):
        result = span_cohort(smk.input[f"base_{state}"], smk.input[f"narrow_{state}"], smk.params.span,
                             residual_dir=smk.output[f"residuals_{state}"],
                             residual_m_choices=smk.params.residual_m_choices)
        result["state"] = state
        for r in result["records"]:
            print(state, {k: r[k] for k in ("direction", "m_choice", "eval", "targets", "fse_first", "fse_second",
                                            "fsg")})
        write_json(result, smk.output[f"json_{state}"])


def probe(smk) -> None:
    from .comparisons import probe_cohort

    cfg = smk.params.probe
    try:
        result = probe_cohort(smk.input.features, cfg, base_dir=smk.input.get("base"),
                              residual_dir=smk.input.get("residuals"), residual_m_choices=cfg["residual_m_choices"])
    except ValueError as err:  # in the workflow the fraction is a config key, not a command-line option
        if "(--validation-fraction)" not in str(err):
            raise
        raise ValueError(str(err).replace("validation_fraction (--validation-fraction)", "probe.validation_fraction")
                         .replace("fix C with --C", "give probe.C_grid one value") + " (config keys; or give the "
                         "experiment more training rows in its dataset section)") from None
    result["state"] = smk.wildcards.state
    for r in result["records"]:
        print(r["features"], r["n_features"], r["accuracy"], r["C"], f"{r['n_iter']} iterations")
    write_json(result, smk.output[0])


def compare(smk) -> None:
    from .cohort import Cohort
    from .compare import FeatureSet, compare_feature_sets, plot_comparison
    from .comparisons import feature_paths
    from .span import LambdaGrid
    from .models.scaling import alpha_label

    sets = []
    for folder in smk.input:
        cohort = Cohort.load(folder)
        if cohort.is_base:
            sets += [FeatureSet("M_1", feature_paths(folder, cohort, cohort.group("base"))),
                     FeatureSet("M_1'", feature_paths(folder, cohort, cohort.group("base_other")))]
        else:
            single = feature_paths(folder, cohort, cohort.group("single"))
            sets.append(FeatureSet(f"M_{alpha_label(cohort.alpha)}", single))
    cfg = smk.params.span
    comparison = compare_feature_sets(sets, lambdas=LambdaGrid.of(cfg["lambdas"]), per_target=cfg["per_target_lambda"],
                                      validation_fraction=cfg["validation_fraction"], split_seed=cfg["split_seed"],
                                      eval_set="validation", chunk_rows=cfg["chunk_rows"], backend=cfg["backend"],
                                      progress=_print_stage)
    write_json({**comparison.summary(), "experiment": smk.wildcards.exp, "state": smk.wildcards.state},
               smk.output.json)
    plot_comparison(comparison, smk.output.png)


def summarize(smk) -> None:
    from .report.summary import summarize as write_summary

    write_summary(list(smk.input), smk.output[0])


def figure(smk) -> None:
    from .report.draw import draw

    draw(smk.rule, list(smk.input), list(smk.output), **smk.params.options)


def table2(smk) -> None:
    from .report.tables import write_table2

    write_table2(list(smk.input), smk.output[0], smk.output[1])


def table3(smk) -> None:
    from .report.summary import read_table
    from .report.tables import write_table3

    tables = {e: read_table(p) for e, p in zip(smk.params.experiments, smk.input)}
    write_table3(tables, smk.output[0], smk.output[1])


def table_shuffled(smk) -> None:
    from .report.tables import write_shuffled_table

    results = [json.loads(Path(p).read_text()) for p in smk.input]
    write_shuffled_table(smk.rule, results, smk.output[0], smk.output[1])


def findings(smk) -> None:
    from .report.findings import write_findings
    from .report.summary import read_table

    span_results = defaultdict(list)
    for path in smk.input.span_results:
        result = json.loads(Path(path).read_text())
        span_results[result["experiment"]].append(result)
    tables = {e: (read_table(s), read_table(p), span_results[e])
              for e, s, p in zip(smk.params.experiments, smk.input.span, smk.input.probe)}
    base_fit = {r["experiment"]: float(r["train_accuracy"]) for r in read_table(smk.input.table2)
                if float(r["alpha"]) == 1.0}
    write_findings(tables, *smk.output, archs=dict(smk.params.archs), base_train_accuracy=base_fit)


def toy_run(smk) -> None:
    from dataclasses import asdict

    from .toy import ToyConfig, train_toy

    p = smk.params
    run = train_toy(ToyConfig.from_dict(p.toy), int(p.width), int(p.n_models), int(p.seed), log=print)
    add, mul = run.fractions(run.config["n_add"])
    print(f"m={run.width} M={run.n_models} seed={run.seed}: addition learned {add:.2f}, multiplication learned "
          f"{mul:.2f}, train acc {run.train_accuracy:.3f}, test acc {run.test_accuracy:.3f}, probe test "
          f"{run.probe_test_accuracy}")
    write_json(asdict(run), smk.output[0])


def toy_report(smk) -> None:
    from .report import toy

    runs = toy.load_runs(smk.input)
    out = list(smk.output)
    if smk.rule == "toy_learned_signals":
        toy.write_learned_signals(runs, out[0])
    elif smk.rule == "table1":
        toy.write_table1(runs, *out)
    elif smk.rule == "finding41":
        toy.write_finding41(runs, *out)
    else:
        raise ValueError(f"{smk.rule} is no toy table")


def _print_stage(stage: str, done: int | None = None, total: int | None = None) -> None:
    """A job's progress callback: the stage, with its count in a counted loop, on the job's log."""
    print(stage if done is None else f"{stage} [{done}/{total}]", flush=True)


JOBS = {"dataset": dataset, "tune": tune, "train": train, "features": features, "span": span, "probe": probe,
        "summarize_span": summarize, "summarize_probe": summarize, "table2": table2, "table3": table3,
        "findings": findings,
        "compare": compare, "toy_run": toy_run, "toy_learned_signals": toy_report,
        **{name: figure for name in (*FIGURES, *TOY_FIGURES)}, **{name: toy_report for name in TOY_TABLES},
        **{name: table_shuffled for name in SHUFFLED_TABLES}}


def run(smk) -> None:
    """The job of the rule ``smk.rule``, its output in the rule's log, with its wall time at the end."""
    start_job(smk)
    t0 = time.perf_counter()
    JOBS[smk.rule](smk)
    print(f"{smk.rule} done in {time.perf_counter() - t0:.1f} s")

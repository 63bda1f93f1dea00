"""What a config costs on this machine's device, from measurements (``featspan estimate``).

For every distinct shape of work a config asks for, a little of it is timed here and scaled:

* training: a cohort (architecture, alpha, cohort size, input shape, batch) trains 1 and then 3 steps on
  random data of the dataset's shape; the difference gives a step's time, scaled by steps per epoch and
  epochs (tuning: one model per grid point);
* features: one model's forward pass over a chunk of rows, scaled by rows, models and both states;
* span: one chunk of the statistics pass over every column a cohort's regressions read, scaled by the
  rows of the regular (and shuffled) passes, plus the eigendecompositions;
* probes: one probe fit on synthetic features of the widest feature set's shape, scaled by the fits a
  cohort's probe job makes;
* the toy: a few normalized-SGD steps of each (width, models) cohort, scaled by its steps;
* every job: the start-up of a Python process that imports torch and featspan.

Job-seconds add up per rule family and experiment; the wall time on ``cores`` cores is the larger of the
job-seconds spread over the cores and the longest chain of jobs. Each shape is timed alone: jobs side by
side share memory bandwidth, and a pilot of ``configs/cpu.yaml`` ran its memory-bound vision cohorts
(hundreds of one-channel models) 1.2-1.3 times slower than estimated, two at a time on 2 cores. Data are
never loaded (a config for CIFAR-10 or MNLI is estimated offline): the datasets' shapes and sizes are known.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np


def dataset_shape(options: dict) -> tuple[tuple[int, ...], int, int, int]:
    """(input shape, classes, training rows, test rows) of a config's dataset: from its options where the
    registry knows how (:mod:`featspan.data.registry`), else by loading it."""
    from .data.registry import dataset_source

    return dataset_source(options["name"]).measure(options)


@dataclass
class Estimate:
    device: str
    cores: int
    job_startup_seconds: float
    experiments: dict = field(default_factory=dict)   # name -> {rule: job-seconds}
    chains: dict = field(default_factory=dict)        # name -> seconds of its longest chain of jobs
    jobs: int = 0

    @property
    def total_seconds(self) -> float:
        return sum(sum(rules.values()) for rules in self.experiments.values())

    @property
    def wall_seconds(self) -> float:
        return max(self.total_seconds / self.cores, max(self.chains.values(), default=0.0))

    def summary(self) -> dict:
        unit = "GPU" if self.device != "cpu" else "CPU"
        rows = [{"experiment": name, "hours": sum(rules.values()) / 3600,
                 **{f"{rule}_hours": s / 3600 for rule, s in rules.items()}}
                for name, rules in self.experiments.items()]
        return {"device": self.device, "unit": f"{unit}-hours (job time)", "cores": self.cores, "jobs": self.jobs,
                "job_startup_seconds": self.job_startup_seconds, "total_hours": self.total_seconds / 3600,
                "wall_hours": self.wall_seconds / 3600, "experiments": rows}


def _startup_seconds() -> float:
    code = "import torch, featspan.jobs, featspan.train, featspan.span, featspan.probe"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def _train_seconds(model: dict, alpha: float, shape, classes: int, n_models: int, train: dict, n_rows: int,
                   epochs: int, device: str) -> float:
    """A cohort's training time: (3 steps - 1 step) / 2 per step, scaled to the epochs."""
    import torch

    from .models import build_from_config
    from .train import CohortSpec, TrainConfig, train_cohort

    options = {k: v for k, v in train.items() if k in TrainConfig.__dataclass_fields__ and k != "epochs"}
    batch = options["batch_size"]  # the validated config's (the schema fills it)
    times = []
    for steps in (1, 3):
        x = torch.randn(steps * batch, *shape)
        y = torch.randint(0, classes, (steps * batch,))
        spec = CohortSpec(lambda: build_from_config(model, alpha, shape, classes), list(range(n_models)),
                          list(range(100, 100 + n_models)))
        cfg = TrainConfig(**{**options, "epochs": 1, "checkpoint_every": 0, "device": device})
        t0 = time.perf_counter()
        train_cohort(spec, x, y, cfg, log=lambda line: None)  # no epoch lines in the timing
        times.append(time.perf_counter() - t0)
    per_step = max((times[1] - times[0]) / 2, 1e-4)
    fixed = max(times[0] - per_step, 0.0)
    return fixed + per_step * math.ceil(n_rows / batch) * epochs


def _features_seconds(model: dict, alpha: float, shape, classes: int, n_models: int, n_rows: int, device: str) -> float:
    import torch

    from .features import extract_features
    from .models import build_from_config

    net = build_from_config(model, alpha, shape, classes)
    x = torch.randn(512, *shape)
    extract_features(net, x[:64], device=device)  # warm up
    t0 = time.perf_counter()
    extract_features(net, x, device=device)
    per_row = (time.perf_counter() - t0) / 512
    return per_row * n_rows * n_models * 2  # trained and random init


def _statistics_seconds(dim: int, rows: int) -> float:
    from .span.backend import get_backend
    from .span.statistics import RoleMoments

    chunk = np.random.default_rng(0).normal(size=(1024, dim)).astype(np.float32)
    roles = np.ones(1024, dtype=np.int8)
    acc = RoleMoments(dim, get_backend("auto"))
    acc.update(chunk, roles)  # warm up: allocation and the shift
    t0 = time.perf_counter()
    acc.update(chunk, roles)
    return (time.perf_counter() - t0) / 1024 * rows


def _eigh_seconds(dim: int) -> float:
    a = np.random.default_rng(0).normal(size=(dim, dim))
    t0 = time.perf_counter()
    np.linalg.eigh(a @ a.T)
    return time.perf_counter() - t0


def _probe_seconds(n: int, d: int, classes: int, fits: int) -> float:
    """One probe on synthetic correlated ReLU features of shape (n, d), times the fits of a job."""
    from .probe import feature_performance

    rng = np.random.default_rng(0)
    latent = rng.normal(size=(n + 200, 16))
    x = np.maximum(latent @ rng.normal(size=(16, d)) + 0.5 * rng.normal(size=(n + 200, d)), 0).astype(np.float32)
    y = np.argmax(latent[:, :classes] + rng.gumbel(size=(n + 200, classes)), axis=1)
    t0 = time.perf_counter()
    feature_performance(x[:n], y[:n], x[n:], y[n:], C=0.1)
    return (time.perf_counter() - t0) * fits


def _toy_seconds(toy: dict, width: int, n_models: int) -> float:
    import torch

    from .toy import ToyCohort, ToyConfig, toy_step

    cfg = ToyConfig.from_dict(toy)
    cohort = ToyCohort.init(cfg, n_models, width, seed=0)
    x = torch.randn(cfg.batch_size, cfg.n_patches, cfg.d)
    y = torch.sign(torch.randn(cfg.batch_size))
    toy_step(cohort, x, y, cfg)
    t0 = time.perf_counter()
    for _ in range(10):
        toy_step(cohort, x, y, cfg)
    return (time.perf_counter() - t0) / 10 * cfg.epochs * math.ceil(cfg.n_train / cfg.batch_size)


def estimate(config: dict, cores: int | None = None, progress=print) -> Estimate:
    """Job-seconds per experiment and rule family of a validated ``config`` on this machine."""
    import torch

    from .models import scaled_family

    torch.set_num_threads(config["threads_per_job"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    startup = _startup_seconds()
    out = Estimate(device, cores or os.cpu_count() or 1, startup)
    probe_fits = len(config["probe"]["C_grid"]) + 1
    for name, exp in config["experiments"].items():
        shape, classes, n_train, n_test = dataset_shape(exp["dataset"])
        n_feature_rows = min(n_train, exp.get("features", {}).get("train_rows") or n_train)  # what span and probes read
        options = {k: v for k, v in exp["model"].items() if k != "arch"}
        replicates = len(exp["seeds"])
        rules = {"train": 0.0, "features": 0.0, "span": 0.0, "probe": 0.0, "tune": 0.0}
        longest = 0.0
        base = scaled_family(exp["model"]["arch"], 1.0, shape, classes, **options)
        for alpha in exp["alphas"]:
            family = scaled_family(exp["model"]["arch"], alpha, shape, classes, **options)
            size = family.cohort_size
            train = _train_seconds(exp["model"], alpha, shape, classes, size, exp["train"], n_train,
                                   exp["train"]["epochs"], device)
            feats = _features_seconds(exp["model"], alpha, shape, classes, size, n_feature_rows + n_test, device)
            chain = train + feats
            if "tune" in exp:
                grid = len(exp["tune"]["lr"]) * len(exp["tune"]["weight_decay"])
                epochs = exp["tune"].get("epochs", exp["train"]["epochs"])
                rules["tune"] += grid * _train_seconds(exp["model"], alpha, shape, classes, 1, exp["train"],
                                                       n_train, epochs, device) + startup
            rules["train"] += replicates * (train + startup)
            rules["features"] += replicates * (feats + startup)
            if alpha == 1:
                probe = _probe_seconds(n_feature_rows, base.n_features, classes, probe_fits) * 2  # trained and init
                rules["probe"] += replicates * (probe + 2 * startup)
                continue
            dim = 2 * base.n_features + size * family.n_features
            shuffled_rows = 4 * min(n_feature_rows, n_test) if config["span"]["shuffled"] else 0
            passes = 2 * (n_feature_rows + n_test) + shuffled_rows
            regressions = 10 * _eigh_seconds(max(family.m_feat, family.m_param) * family.n_features)
            span = _statistics_seconds(dim, passes) + 2 * regressions
            widest = base.n_features + family.m_param * family.n_features
            probe = _probe_seconds(n_feature_rows, widest, classes, 4 * probe_fits)  # the sets as wide as this or less
            rules["span"] += replicates * (span + startup)
            rules["probe"] += replicates * (probe + 2 * startup)
            longest = max(longest, chain + span + probe)
            progress(f"{name} alpha={alpha:g}: {size} models; train {train:.1f} s, features {feats:.1f} s, "
                     f"span {span:.1f} s, probes {probe:.1f} s per replicate")
        out.experiments[name] = rules
        out.chains[name] = longest + 4 * startup
    toy = config.get("toy")
    if toy:
        rules = {"toy_run": 0.0, "toy_probe": 0.0}
        for width in toy["widths"]:
            n_models = toy["total_width"] // width
            run = _toy_seconds(toy, width, n_models)
            probe = _probe_seconds(toy["n_train"], min(width * n_models, 4096), 2, 3) if n_models > 1 else 0.0
            rules["toy_run"] += len(toy["seeds"]) * (run + startup)
            rules["toy_probe"] += len(toy["seeds"]) * probe
            out.chains[f"toy m={width}"] = run + probe + startup
            progress(f"toy m={width} M={n_models}: {run:.1f} s per seed")
        out.experiments["toy"] = rules
    out.jobs = planned_jobs(config)
    out.experiments["figures and tables"] = {"report": (out.jobs - _experiment_jobs(config)) * startup}
    return out


def _experiment_jobs(config: dict) -> int:
    """Jobs of the experiments and the toy (everything but the figures, tables and the final target)."""
    jobs = 0
    for exp in config["experiments"].values():
        alphas, replicates = len(exp["alphas"]), len(exp["seeds"])
        narrow = alphas - 1
        jobs += 1 + (alphas if "tune" in exp else 0)       # dataset, tuning per alpha
        jobs += 2 * replicates * alphas                     # train, features per cohort
        jobs += replicates * narrow                         # span per narrow cohort
        jobs += replicates * (alphas + (2 if narrow else 1))  # probes: trained every cohort; init base, smallest
        jobs += 2 + 2                                       # compare trained and init; two summaries
    toy = config.get("toy")
    if toy:
        jobs += len(toy["widths"]) * len(toy["seeds"])
    return jobs


def planned_jobs(config: dict) -> int:
    """The jobs Snakemake plans for the whole DAG of ``config`` on a fresh clone (rules/*.smk; a test holds
    the two equal on configs of every shape)."""
    from .catalog import FIGURES, SHUFFLED_TABLES, TOY_FIGURES, TOY_TABLES

    report = 1                                              # all
    if config["experiments"]:
        archs = [exp["model"]["arch"] for exp in config["experiments"].values()]
        figures = sum(1 for f in FIGURES.values() if f.get("archs") is None or set(f["archs"]) & set(archs))
        shuffled = sum(1 for arch in SHUFFLED_TABLES.values() if config["span"]["shuffled"] and arch in archs)
        report += figures + 2 + shuffled + 1                # figures, tables 2 and 3, 4 and 5, findings
    if config.get("toy"):
        report += len(TOY_FIGURES) + len(TOY_TABLES) + 1  # figures 5, 6, 9, table 1, Finding 4.1, learned signals
    return _experiment_jobs(config) + report


def format_table(summary: dict) -> str:
    lines = [f"featspan estimate on {summary['device']} ({summary['cores']} cores, {summary['jobs']} jobs, "
             f"job start-up {summary['job_startup_seconds']:.1f} s)", "",
             f"{'experiment':<28}{'hours':>10}  by rule family (hours)"]
    for row in summary["experiments"]:
        parts = ", ".join(f"{k.removesuffix('_hours')} {v:.3f}" for k, v in row.items()
                          if k.endswith("_hours") and v > 0)
        lines.append(f"{row['experiment']:<28}{row['hours']:>10.3f}  {parts}")
    lines += ["", f"total: {summary['total_hours']:.3f} {summary['unit']}; wall on {summary['cores']} cores: "
              f"about {summary['wall_hours'] * 60:.0f} minutes"]
    return "\n".join(lines)

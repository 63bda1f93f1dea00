"""Time one normalized-SGD step of a toy cohort: hand-written gradients vs autograd; print JSON.

The toy's jobs are nearly all training steps (the default run: 14,000 steps per cohort), so the step
is its hot path. Constants from the repository's config.yaml (its ``toy`` block). Both ways take the
same step from the same weights; the obvious alternative is autograd through ``ToyCohort.forward``.
Rounds alternate between the two (this machine's speed drifts),
each round timing ``--steps`` steps; medians over ``--rounds`` rounds, ratios of the medians.
``gradient_max_rel_diff``: the two ways' gradients on the first batch, largest difference over each
tensor's largest entry. (Their weights part after some steps: a summation order flips a pre-activation
at the threshold, and the normalized step magnifies it; the physics is the same.)

    python benchmarks/toy_step.py          # the default config's two cohorts: 200 x width 10, 1 x width 2000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from featspan.toy import ToyCohort, ToyConfig, make_data, signal_vectors, toy_step  # noqa: E402


def autograd_gradients(cohort: ToyCohort, x, y) -> list[torch.Tensor]:
    params = {name: p.requires_grad_(True) for name, p in cohort.params.items()}
    loss = torch.nn.functional.softplus(-y[None, :] * cohort.forward(x)).mean(1).sum()
    grads = torch.autograd.grad(loss, list(params.values()))
    for p in params.values():
        p.requires_grad_(False)
    return list(grads)


def autograd_step(cohort: ToyCohort, x, y, cfg: ToyConfig) -> None:
    """The textbook way: autograd through forward(), then the same normalized, decoupled step."""
    params = cohort.params
    grads = autograd_gradients(cohort, x, y)
    with torch.no_grad():
        for p, g in zip(params.values(), grads):
            p -= cfg.lr * g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (g.dim() - 1))
            p -= cfg.lr * cfg.weight_decay * p


def run(cfg: ToyConfig, n_models: int, width: int, steps: int, rounds: int) -> dict:
    vectors = signal_vectors(cfg, 0)
    x, y, _ = make_data(cfg, vectors, steps * cfg.batch_size, seed=1)
    x, y = torch.from_numpy(x), torch.from_numpy(y).float()
    batches = [(x[i:i + cfg.batch_size], y[i:i + cfg.batch_size]) for i in range(0, len(y), cfg.batch_size)]
    ways = {"hand_written": toy_step, "autograd": autograd_step}
    times = {name: [] for name in ways}
    start = ToyCohort.init(cfg, n_models, width, seed=0)
    expected = autograd_gradients(start, *batches[0])
    got = list(start.gradients(*batches[0]).values())
    rel_diff = max(float((g - e).abs().max() / e.abs().max().clamp_min(1e-30)) for g, e in zip(got, expected))
    for _ in range(rounds):
        for name, step in ways.items():
            cohort = ToyCohort.init(cfg, n_models, width, seed=0)
            t0 = time.perf_counter()
            for xb, yb in batches:
                step(cohort, xb, yb, cfg)
            times[name].append((time.perf_counter() - t0) / steps)
    hand, auto = (statistics.median(times[k]) for k in ("hand_written", "autograd"))
    return {"n_models": n_models, "width": width, "hand_written_ms_per_step": round(1e3 * hand, 3),
            "autograd_ms_per_step": round(1e3 * auto, 3), "speedup": round(auto / hand, 2), "gradient_max_rel_diff": rel_diff}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a workflow job has one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(ROOT / "config.yaml") as f:
        cfg = ToyConfig.from_dict(yaml.safe_load(f)["toy"])
    cfg = dataclasses.replace(cfg, n_train=args.steps * cfg.batch_size)
    report = {"threads": args.threads, "steps": args.steps, "rounds": args.rounds,
              "cohorts": [run(cfg, 200, 10, args.steps, args.rounds), run(cfg, 1, 2000, args.steps, args.rounds)]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

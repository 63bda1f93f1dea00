"""Hyperparameter tuning as in the paper (docs/method.md section 2): a learning rate x weight decay grid for
one seed per (experiment, alpha), scored on a validation split carved from the training split; every
seed's training then reads the winner."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .data import Dataset
from .models import build_from_config
from .seeding import model_streams
from .train import CohortSpec, TrainConfig, TrainingDiverged, accuracy, train_cohort


def carve_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit and validation row indices of the training split."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(fraction * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def tune_job(dataset_path, *, experiment: str, alpha: float, replicate: int, model: dict, train: dict,
             tune: dict) -> dict:
    """Train one model per grid point and return the grid's validation accuracies and the winner.

    The model is the first of the cohort (experiment, alpha, replicate), with its own streams
    (:func:`featspan.seeding.model_streams`), as the paper tunes on one seed.

    A candidate whose loss diverges scores NaN and never wins; if every candidate diverges the job fails.
    """
    data = Dataset.load(dataset_path)
    fit, val = carve_validation(len(data.y_train), tune["validation_fraction"], tune["split_seed"])
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_fit, y_fit, x_val, y_val = x[fit], y[fit], x[val], y[val]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train = dict(train)
    streams = model_streams(experiment, alpha, replicate, 0, train.pop("data_order", "own"))
    grid = []
    for lr, wd in itertools.product(tune["lr"], tune["weight_decay"]):
        cfg = TrainConfig.from_dict({**train, "lr": lr, "weight_decay": wd, "mode": "sequential",
                                     "epochs": tune.get("epochs", train["epochs"]), "checkpoint_every": 0,
                                     "device": device})
        spec = CohortSpec(lambda: build_from_config(model, alpha, data.in_shape, data.n_classes), [streams.init],
                          [streams.data])
        try:
            (trained,) = train_cohort(spec, x_fit, y_fit, cfg)
            score = accuracy(trained, x_val, y_val, device=device)
        except TrainingDiverged as err:
            print(f"lr={lr} weight_decay={wd}: {err}")
            score = math.nan
        print(f"lr={lr} weight_decay={wd}: validation accuracy {score:.4f}", flush=True)
        grid.append({"lr": lr, "weight_decay": wd, "val_accuracy": score})
    finite = [g for g in grid if math.isfinite(g["val_accuracy"])]
    if not finite:
        raise TrainingDiverged(f"tuning alpha={alpha}: every learning rate x weight decay candidate diverged")
    best = max(finite, key=lambda g: g["val_accuracy"])  # the first of equals: grid order breaks ties
    return {"alpha": alpha, "replicate": replicate, "seed": streams.init,
            "best": {"lr": best["lr"], "weight_decay": best["weight_decay"]},
            "grid": grid, "n_fit": int(len(fit)), "n_validation": int(len(val))}

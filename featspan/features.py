"""Features of a cohort's models (docs/method.md section 1): the input of the final linear classifier, in
eval mode, of every model in one state (trained or random init), one contract feature file each."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoints import load_checkpoint
from .cohort import Cohort
from .data import Dataset
from .h5 import write_feature_file
from .models import build_from_config
from .provenance import file_sha256


@torch.no_grad()
def extract_features(model: nn.Module, x: torch.Tensor, batch_size: int = 1024, device: str = "cpu") -> np.ndarray:
    """The input of the final linear classifier, in eval mode (docs/method.md section 1)."""
    model = model.to(device).eval()
    parts = [model.features(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts).numpy()


BN_ROWS = 2048        # training rows of the running-statistics pass of a random-init model with BatchNorm
BN_BATCH_SIZE = 256   # its batch size: the running averages of 8 batch means and variances


@torch.no_grad()
def estimate_batchnorm_statistics(model: nn.Module, x: torch.Tensor, seed: int, rows: int = BN_ROWS,
                                  batch_size: int = BN_BATCH_SIZE, device: str = "cpu") -> int:
    """Re-estimate every BatchNorm layer's running mean and variance on a seeded sample of ``rows`` of
    ``x`` (docs/method.md section 8): a no-gradient pass with only the BatchNorm layers in train mode
    (dropout stays off), cumulative averages over the batches (``momentum=None``). Returns the rows used.

    A random-init model's running statistics are (0, 1), so in eval mode its BatchNorm is the identity
    and activations shrink layer by layer to dead or near-zero features; trained models need none of this."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    model = model.to(device).eval()
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    sample = np.sort(np.random.default_rng(seed).choice(x.shape[0], size=min(rows, x.shape[0]), replace=False))
    for i in range(0, len(sample), batch_size):
        model.features(x[sample[i:i + batch_size]].to(device))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
        m.eval()
    return len(sample)


def training_rows(n: int, train_rows: int | None) -> np.ndarray:
    """The training rows whose features are dumped: all, or a fixed random subset (seed 0) of
    ``train_rows`` in data order, the same for every model and state (docs/method.md section 8)."""
    if train_rows is None or train_rows >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=train_rows, replace=False))


def write_cohort_features(dataset_path, checkpoint_dir, out_dir, state: str, *, experiment: str, dataset: str,
                          train_rows: int | None = None) -> None:
    """Features (input of the final classifier, eval mode) of every model of a cohort in one state, on the
    test split and on all training rows or ``train_rows`` of them (:func:`training_rows`)."""
    data = Dataset.load(dataset_path)
    cohort = Cohort.load(checkpoint_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = training_rows(len(data.y_train), train_rows)
    x, xt = torch.from_numpy(data.x_train[rows]), torch.from_numpy(data.x_test)
    y = data.y_train[rows]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for i in cohort.indices:
        path = Path(checkpoint_dir) / cohort.filename(i, ".pt" if state == "trained" else "_init.pt")
        ckpt = load_checkpoint(path)
        model = build_from_config(ckpt["model"], ckpt["alpha"], ckpt["in_shape"], ckpt["n_classes"])
        model.load_state_dict(ckpt["state_dict"])
        bn_rows = 0  # 0 rows for a model without BatchNorm; seeded by the model's own seed: reproducible
        if state == "init":
            bn_rows = estimate_batchnorm_statistics(model, torch.from_numpy(data.x_train), cohort.seeds[i],
                                                    device=device)
        attrs = {"experiment": experiment, "dataset": dataset, "arch": cohort.arch, "alpha": cohort.alpha,
                 "seed": cohort.seeds[i], "index": i, "data_order": cohort.data_order, "state": state,
                 "n_params": ckpt["n_params"], "config_hash": ckpt["config_hash"],
                 "checkpoint_sha256": file_sha256(path), "replicate": cohort.replicate,
                 "train_rows_of": len(data.y_train),
                 # BatchNorm running statistics re-estimated on this many training rows (0: as checkpointed)
                 "batchnorm_reestimated_rows": bn_rows}
        write_feature_file(out / cohort.filename(i, ".h5"), {
            "train": (extract_features(model, x, device=device), y),
            "test": (extract_features(model, xt, device=device), data.y_test)}, attrs)
    shutil.copy(Path(checkpoint_dir) / "cohort.json", out / "cohort.json")
    print(f"wrote {len(cohort.seeds)} feature files ({state}) to {out}")

"""Training width-scaled models: one-by-one or as one batched cohort, with resumable state.

A *cohort* is the set of models of one (experiment, alpha, replicate): at alpha < 1 the narrow
models of the concatenations plus the held-out reverse-direction target, at alpha = 1 the base model
and another base model (docs/method.md section 3). Model ``i`` is built right after
``torch.manual_seed(init_seeds[i])`` and draws its batch order and augmentation from
``data_seeds[i]`` (both from :mod:`featspan.seeding`), so it is the same model whether it trains
alone or in a cohort; its random-init twin is saved before the first step.

Cohort mode stacks the models' parameters and runs them as one ``torch.func.vmap`` computation
(batched matrix products instead of M small ones), each model on its own batch. Optimizers act
element-wise, so each model's trajectory is the one it would follow alone, up to floating-point
summation order. When every model has the same data stream (the ``data_order: shared`` ablation) one
batch serves all. Both modes run one loop (:func:`_fit`); a strategy (:class:`_OneModel`,
:class:`_Stacked`) says how its models compute and what a snapshot of them holds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .io import atomic_path
from .progress import Clock
from .schema import default


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def _train(key: str):
    return default("$defs/train", key)


@dataclass
class TrainConfig:
    """How models train (docs/method.md section 2); every default is the config schema's (``train:``)."""

    epochs: int
    batch_size: int = _train("batch_size")
    optimizer: str = _train("optimizer")              # adam | adamw | sgd
    lr: float = _train("lr")
    weight_decay: float = _train("weight_decay")
    momentum: float = _train("momentum")
    nesterov: bool = _train("nesterov")               # SGD: Nesterov momentum
    schedule: str = _train("schedule")                # cosine | step | onecycle | constant
    warmup: float = _train("warmup")                  # onecycle: fraction of training spent rising to lr
    milestones: tuple[float, ...] = _train("milestones")  # step schedule: fractions of training
    gamma: float = _train("gamma")
    mode: str = _train("mode")                        # cohort | sequential
    checkpoint_every: int = _train("checkpoint_every")  # epochs between resumable snapshots (0: never)
    crop_padding: int = _train("crop_padding")        # augmentation: random crop of the zero-padded image
    flip: bool = _train("flip")                       # augmentation: random horizontal flip
    amp: str = _train("amp")                          # GPU only: bf16 | fp16 (with a gradient scaler) | none
    channels_last: bool = _train("channels_last")     # GPU only, one-by-one image models: NHWC memory layout
    device: str = "cpu"                               # not a config key: the job picks it

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training options: {sorted(unknown)}")
        d = dict(d)
        if "milestones" in d:
            d["milestones"] = tuple(d["milestones"])
        return cls(**d)


def batch_order(n: int, epoch: int, seed: int) -> np.ndarray:
    """The permutation of training rows in one epoch: a pure function of (seed, epoch), so a resumed
    run replays it exactly without saving generator state."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def augmentation_draws(b: int, crop_padding: int, flip: bool, generator: torch.Generator) -> tuple | None:
    """The random offsets ``(dy, dx)`` of a crop and the mirror flags of ``b`` images, drawn from
    ``generator`` (on the CPU), so a run is reproducible on any device and a resumed run replays them."""
    if not (crop_padding or flip):
        return None
    dy = dx = mirror = None
    if crop_padding:
        dy = torch.randint(0, 2 * crop_padding + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * crop_padding + 1, (b,), generator=generator)
    if flip:
        mirror = torch.rand(b, generator=generator) < 0.5
    return dy, dx, mirror


def apply_augmentation(x: torch.Tensor, crop_padding: int, draws) -> torch.Tensor:
    """Random crop with zero padding and horizontal flip of an image batch ``[B, C, H, W]`` as one
    batched gather on the batch's device, from the draws of :func:`augmentation_draws`."""
    if x.dim() != 4 or draws is None:
        return x
    dy, dx, mirror = draws
    b, c, h, w = x.shape
    if dy is not None:
        p = crop_padding
        rows = (dy.to(x.device)[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (dx.to(x.device)[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        padded = nn.functional.pad(x, (p, p, p, p))
        x = padded[torch.arange(b, device=x.device)[:, None, None, None],
                   torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    if mirror is not None:
        x = torch.where(mirror.to(x.device)[:, None, None, None], x.flip(-1), x)
    return x


def augment(x: torch.Tensor, crop_padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop and flip of an image batch ``[B, C, H, W]``, drawn from ``generator``."""
    if x.dim() != 4:
        return x
    return apply_augmentation(x, crop_padding, augmentation_draws(x.shape[0], crop_padding, flip, generator))


def augmentation_generator(seed: int, epoch: int) -> torch.Generator:
    """The augmentation draws of one epoch: a function of (seed, epoch), like the batch order."""
    return torch.Generator().manual_seed(int(np.random.default_rng([seed, epoch, 1]).integers(2 ** 62)))


class Precision:
    """Mixed precision on a GPU (bf16 autocast, or fp16 with a gradient scaler); plain fp32 on the CPU."""

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp) if device.type == "cuda" else None
        if cfg.amp not in ("bf16", "fp16", "none"):
            raise ValueError(f"unknown amp setting {cfg.amp!r}; use bf16, fp16 or none")
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
        self.device = device

    def autocast(self):
        import contextlib
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def state_dict(self):
        return None if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state) -> None:
        if self.scaler is not None and state is not None:
            self.scaler.load_state_dict(state)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


ONE_CYCLE_START, ONE_CYCLE_END = 1 / 25, 1 / 25e4  # torch's OneCycleLR defaults (div_factor, final_div_factor)


def one_cycle(progress: float, warmup: float) -> float:
    """The one-cycle learning-rate factor at ``progress`` in [0, 1] (Smith and Topin 2019, torch's
    ``OneCycleLR`` shape with a fixed momentum): a cosine rise from 1/25 to 1 over the first ``warmup``
    of training, then a cosine fall to 1/25e4."""
    def cosine(start, end, t):
        return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))
    if progress < warmup:
        return cosine(ONE_CYCLE_START, 1.0, progress / warmup)
    return cosine(1.0, ONE_CYCLE_END, (progress - warmup) / (1 - warmup))


def make_scheduler(optimizer, cfg: TrainConfig, steps_per_epoch: int):
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    if cfg.schedule == "step":
        marks = [int(round(m * total)) for m in cfg.milestones]
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cfg.gamma ** sum(s >= m for m in marks))
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: one_cycle(min(s, total) / total, cfg.warmup))
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def save_atomic(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@dataclass
class CohortSpec:
    """What to train: a builder ``build() -> nn.Module`` and, per model, its init and data streams."""

    build: Callable[[], nn.Module]
    init_seeds: Sequence[int]
    data_seeds: Sequence[int]
    fingerprint: str = ""  # what ``build`` builds (architecture, widths, input shape): part of the snapshot digest

    def __post_init__(self):
        if len(self.init_seeds) != len(self.data_seeds):
            raise ValueError(f"{len(self.init_seeds)} init seeds but {len(self.data_seeds)} data seeds")

    def model(self, i: int) -> nn.Module:
        torch.manual_seed(self.init_seeds[i])
        return self.build()

    @property
    def shared_data(self) -> bool:
        """Every model sees the same batches (the data_order: shared ablation)."""
        return len(set(self.data_seeds)) == 1


def _runtime_state(precision: Precision) -> dict:
    """What a snapshot needs beside weights, optimizer and scheduler: RNG states and the grad scaler."""
    return {"scaler": precision.state_dict(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _restore_runtime(state: dict, precision: Precision) -> None:
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    precision.load_state_dict(state.get("scaler"))


def _print(msg: str) -> None:
    print(msg, file=sys.stdout, flush=True)


def _check_finite(epoch_loss: torch.Tensor, seeds: Sequence[int], epoch: int) -> None:
    """Raise for the models whose summed epoch loss is NaN or inf (checked once an epoch: a diverged
    model's loss stays non-finite, and a check per step would stall a GPU with a host sync each step)."""
    bad = (~torch.isfinite(epoch_loss.detach())).flatten().cpu()
    if bad.any():
        which = ", ".join(str(seeds[j]) for j in torch.nonzero(bad).flatten().tolist())
        raise TrainingDiverged(f"training diverged: loss is NaN or inf for model seed{'s' if bad.sum() > 1 else ''} "
                               f"{which} in epoch {epoch + 1}; lower the learning rate or check the data")


def train_cohort(spec: CohortSpec, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig,
                 resume_path: str | os.PathLike | None = None, on_init: Callable | None = None,
                 log: Callable[[str], None] = _print) -> list[nn.Module]:
    """Train every model of ``spec`` and return them (eval mode, on CPU).

    ``on_init(models)`` is called with the untrained models before the first step (the random-init
    twins). With ``resume_path`` a snapshot is written every ``cfg.checkpoint_every`` epochs and a
    later call resumes from it. ``log(line)`` receives a line per epoch and per resumed or discarded
    snapshot.
    """
    models = [spec.model(i) for i in range(len(spec.init_seeds))]
    if on_init is not None:
        on_init(models)
    x, y = x.to(cfg.device), y.to(cfg.device)  # the whole split lives on the training device, once
    if cfg.mode == "sequential":
        out = []
        for i, model in enumerate(models):
            path = None if resume_path is None else Path(f"{resume_path}.{i}")
            out += _fit(_OneModel(spec, i, model, x, cfg), x, y, cfg, path,
                        snapshot_digest(spec, cfg, x, y, f"one:{i}"), log)
        return out
    if cfg.mode != "cohort":
        raise ValueError(f"unknown training mode {cfg.mode!r}")
    return _fit(_Stacked(spec, models, cfg), x, y, cfg, resume_path, snapshot_digest(spec, cfg, x, y, "cohort"), log)


def snapshot_digest(spec: CohortSpec, cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor, scope: str) -> str:
    """A digest of everything that determines the weights a snapshot holds: the model (``spec.fingerprint``),
    the data (its bytes), the training settings (all but the snapshot interval), every model's streams and
    the training code. A snapshot whose digest differs was written by another run and is never resumed."""
    from .provenance import MODEL_CODE, source_digest

    data = hashlib.sha256()
    for tensor in (x, y):
        data.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
        data.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    settings = {k: v for k, v in cfg.__dict__.items() if k != "checkpoint_every"}
    blob = json.dumps([scope, spec.fingerprint, settings, list(spec.init_seeds), list(spec.data_seeds),
                       data.hexdigest(), source_digest(MODEL_CODE)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _load_resume(path, digest: str, log: Callable[[str], None]):
    """The snapshot at ``path`` if it was written by this very run (same digest), else None: a snapshot
    of other settings, or one that cannot be read, is discarded with a log line."""
    if path is None or not Path(path).exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or corrupt file: start over rather than fail
        log(f"discarding the unreadable snapshot {path} ({type(err).__name__}: {err}); training from the start")
        Path(path).unlink()
        return None
    if not isinstance(state, dict) or state.get("digest") != digest:
        log(f"discarding the snapshot {path}: it was written for other settings, data, seeds or training code "
            "than this run's; training from the start")
        Path(path).unlink()
        return None
    return state


def _fit(strategy, x, y, cfg: TrainConfig, path, digest: str, log: Callable[[str], None]) -> list[nn.Module]:
    """The training loop, one for both strategies: resume, epochs of steps (forward, loss, step, schedule),
    the finite-loss check, a log line per epoch and the snapshots. A strategy says how its models
    compute (one module, or a stack of M as one batched computation) and what a snapshot holds."""
    device = torch.device(cfg.device)
    precision = Precision(cfg, device)
    optimizer = make_optimizer(strategy.parameters(), cfg)
    n = x.shape[0]
    steps = math.ceil(n / cfg.batch_size)
    scheduler = make_scheduler(optimizer, cfg, steps)
    start = 0
    state = _load_resume(path, digest, log)
    if state is not None:
        strategy.load_weights(state["weights"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _restore_runtime(state, precision)
        start = state["epoch"]
        log(f"{strategy.name}: resumed after epoch {start}")
    clock = Clock(start, cfg.epochs)
    for epoch in range(start, cfg.epochs):
        strategy.train()
        t0 = time.perf_counter()
        total_loss = torch.zeros(strategy.n_models, device=device)   # on the device: no host sync per step
        correct = torch.zeros(strategy.n_models, device=device)
        for xb, yb in strategy.batches(x, y, epoch, steps):
            losses, logits, targets = strategy.losses(xb, yb, precision.autocast)  # [M], [M, B, classes], [M, B]
            optimizer.zero_grad(set_to_none=True)
            precision.step(losses.sum(), optimizer)                   # gradients stay per model
            scheduler.step()
            with torch.no_grad():
                total_loss += losses.detach() * targets.shape[1]
                correct += (logits.argmax(-1) == targets).sum(1)
        _check_finite(total_loss, strategy.seeds, epoch)
        rate = n * strategy.n_models / (time.perf_counter() - t0)
        log(f"{strategy.name} epoch {epoch + 1}/{cfg.epochs} loss {total_loss.mean().item() / n:.4f} "
            f"acc {correct.mean().item() / n:.4f} samples/s {rate:.0f}, {clock(epoch + 1)}")
        if path is not None and cfg.checkpoint_every and (epoch + 1) % cfg.checkpoint_every == 0 \
                and epoch + 1 < cfg.epochs:
            save_atomic({"digest": digest, "epoch": epoch + 1, "weights": strategy.weights(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         **_runtime_state(precision)}, path)
    return strategy.models()


class _OneModel:
    """Strategy: model ``i`` of the cohort as one module, on its own batch order and augmentation."""

    n_models = 1

    def __init__(self, spec: CohortSpec, i: int, model: nn.Module, x: torch.Tensor, cfg: TrainConfig):
        device = torch.device(cfg.device)
        self.memory_format = torch.channels_last if cfg.channels_last and device.type == "cuda" and x.dim() == 4 \
            else torch.preserve_format
        self.model = model.to(device).to(memory_format=self.memory_format)
        self.data_seed, self.seeds, self.cfg = spec.data_seeds[i], [spec.init_seeds[i]], cfg
        self.name = f"model seed {spec.init_seeds[i]}"

    def parameters(self):
        return self.model.parameters()

    def train(self):
        self.model.train()

    def batches(self, x, y, epoch, steps):
        cfg = self.cfg
        order = torch.as_tensor(batch_order(x.shape[0], epoch, self.data_seed), device=x.device)
        generator = augmentation_generator(self.data_seed, epoch)
        for b in range(steps):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb = augment(x[idx], cfg.crop_padding, cfg.flip, generator).contiguous(memory_format=self.memory_format)
            yield xb, y[idx]

    def losses(self, xb, yb, autocast):
        with autocast():
            logits = self.model(xb)
            loss = nn.functional.cross_entropy(logits.float(), yb)
        return loss.unsqueeze(0), logits.unsqueeze(0), yb.unsqueeze(0)

    def weights(self):
        return self.model.state_dict()

    def load_weights(self, weights):
        self.model.load_state_dict(weights)

    def models(self):
        return [self.model.cpu().eval()]


class _Stacked:
    """Strategy: the M models' parameters stacked, run as one ``torch.vmap`` computation (or the family's
    own ``stacked_forward``), each model on its own batch unless every model shares one data stream."""

    def __init__(self, spec: CohortSpec, models: list[nn.Module], cfg: TrainConfig):
        from torch.func import functional_call, stack_module_state

        device = torch.device(cfg.device)
        self.modules, self.cfg, self.seeds = models, cfg, spec.init_seeds
        self.n_models = len(models)
        self.name = f"cohort of {self.n_models}"
        self.shared = spec.shared_data
        self.data_seeds = spec.data_seeds
        self.params, self.buffers = stack_module_state([m.to(device) for m in models])
        skeleton = copy.deepcopy(models[0]).to("meta")

        def one(p, b, xb):
            return functional_call(skeleton, (p, b), (xb,))

        stacked = getattr(type(models[0]), "stacked_forward", None)
        if stacked is not None:  # a family that runs its stack as batched matrix products directly
            self.forward = lambda p, b, xb: stacked(p, xb, self.shared)
        else:
            self.forward = torch.vmap(one, in_dims=(0, 0, None if self.shared else 0), randomness="different")

    def parameters(self):
        return list(self.params.values())

    def train(self):
        pass  # the skeleton keeps the mode the models were built in (training)

    def batches(self, x, y, epoch, steps):
        cfg, n = self.cfg, x.shape[0]
        if self.shared:
            orders = torch.as_tensor(batch_order(n, epoch, self.data_seeds[0]), device=x.device)
            generators = [augmentation_generator(self.data_seeds[0], epoch)]
        else:
            orders = torch.stack([torch.as_tensor(batch_order(n, epoch, s)) for s in self.data_seeds]).to(x.device)
            generators = [augmentation_generator(s, epoch) for s in self.data_seeds]
        for b in range(steps):
            sl = slice(b * cfg.batch_size, (b + 1) * cfg.batch_size)
            idx = orders[sl] if self.shared else orders[:, sl]
            xb, yb = x[idx], y[idx]
            if self.shared:
                xb = augment(xb, cfg.crop_padding, cfg.flip, generators[0])
            elif xb.dim() == 5:  # each model's own draws, applied to all models' images in one gather
                draws = [augmentation_draws(xb.shape[1], cfg.crop_padding, cfg.flip, g) for g in generators]
                if draws[0] is not None:
                    merged = tuple(None if parts[0] is None else torch.cat(parts) for parts in zip(*draws))
                    xb = apply_augmentation(xb.flatten(0, 1), cfg.crop_padding, merged).view(xb.shape)
            yield xb, yb

    def losses(self, xb, yb, autocast):
        with autocast():
            logits = self.forward(self.params, self.buffers, xb).float()               # [M, B, classes]
        targets = yb.expand(self.n_models, -1) if self.shared else yb                 # [M, B]
        per_model = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        return per_model.view(self.n_models, -1).mean(1), logits, targets              # each model's own mean

    def weights(self):
        return {"params": {k: v.detach().cpu() for k, v in self.params.items()},
                "buffers": {k: v.cpu() for k, v in self.buffers.items()}}

    def load_weights(self, weights):
        with torch.no_grad():
            for k, v in weights["params"].items():
                self.params[k].copy_(v)
            for k, v in weights["buffers"].items():
                self.buffers[k].copy_(v)

    def models(self):
        out = []
        for i, model in enumerate(self.modules):
            model = model.cpu()
            with torch.no_grad():
                model.load_state_dict({**{k: v[i].detach().cpu() for k, v in self.params.items()},
                                       **{k: v[i].cpu() for k, v in self.buffers.items()}})
            out.append(model.eval())
        return out


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024, device: str = "cpu") -> float:
    model = model.to(device).eval()
    hits = sum((model(x[i:i + batch_size].to(device)).argmax(1).cpu() == y[i:i + batch_size]).sum().item()
               for i in range(0, x.shape[0], batch_size))
    return hits / x.shape[0]

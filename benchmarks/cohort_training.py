"""Train the narrow models of one cohort together (one vmap computation) and one by one; print JSON.

Both ways start from the same seeds and each model sees its own data order (as in the workflow), so
their final weights must agree up to float rounding: ``max_abs_diff`` is the largest weight difference over every model and tensor.
Measured on the current device, in one run: a 16-model MLP cohort (MNIST-1D-shaped data, the default
config's MLP at alpha = 1/16, Adam) and a ResNet-18 cohort at a small base width (digits-shaped
images, SGD with crop augmentation). The top-level ``speedup`` (one-by-one time / cohort time) and
``max_abs_diff`` are the MLP cohort's.

    python benchmarks/cohort_training.py --json
    python benchmarks/cohort_training.py --json --resnet-models 64 --resnet-base-width 64 --image-size 32  # GPU
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featspan.models import build_model  # noqa: E402
from featspan.seeding import model_streams  # noqa: E402
from featspan.train import CohortSpec, TrainConfig, train_cohort  # noqa: E402


def own_streams(n_models: int) -> tuple[list[int], list[int]]:
    """Init and data streams of a cohort: every model its own batches, as in the workflow."""
    streams = [model_streams("benchmark", 1 / 16, 0, i) for i in range(n_models)]
    return [s.init for s in streams], [s.data for s in streams]


def both_ways(spec: CohortSpec, x, y, cfg: TrainConfig, repeats: int) -> dict:
    import featspan.train as T
    quiet, T._log = T._log, lambda msg: None  # no per-epoch lines in the timing
    try:
        times = {}
        models = {}
        for mode in ("cohort", "sequential"):
            run = TrainConfig(**{**cfg.__dict__, "mode": mode})
            best = float("inf")
            for _ in range(repeats):
                if cfg.device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                models[mode] = train_cohort(spec, x, y, run)
                if cfg.device == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
            times[mode] = best
    finally:
        T._log = quiet
    diff = max((a - b).abs().max().item()
               for ma, mb in zip(models["cohort"], models["sequential"])
               for a, b in zip(ma.state_dict().values(), mb.state_dict().values()) if a.is_floating_point())
    return {"n_models": len(spec.init_seeds), "cohort_seconds": round(times["cohort"], 3),
            "one_by_one_seconds": round(times["sequential"], 3),
            "speedup": round(times["sequential"] / times["cohort"], 2), "max_abs_diff": diff}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON line (the default output too)")
    p.add_argument("--mlp-models", type=int, default=16)
    p.add_argument("--mlp-alpha", type=float, default=1 / 16)
    p.add_argument("--mlp-epochs", type=int, default=5)
    p.add_argument("--resnet-models", type=int, default=8)
    p.add_argument("--resnet-alpha", type=float, default=1 / 16)
    p.add_argument("--resnet-base-width", type=int, default=16)
    p.add_argument("--image-size", type=int, default=12)
    p.add_argument("--resnet-epochs", type=int, default=1)
    p.add_argument("--n", type=int, default=4000, help="training rows (MLP); images: n / 4")
    p.add_argument("--repeats", type=int, default=2, help="best of this many runs per way")
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)  # as in the workflow's jobs: one thread per job
    g = torch.Generator().manual_seed(0)
    out = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "threads": torch.get_num_threads()}

    x = torch.randn(args.n, 40, generator=g)
    y = (x[:, :10].argmax(1) + (x[:, 10:20].sum(1) > 0).long()) % 10
    mlp = CohortSpec(lambda: build_model("mlp", args.mlp_alpha, (40,), 10, widths=[256, 256, 256]),
                     *own_streams(args.mlp_models))
    cfg = TrainConfig(epochs=args.mlp_epochs, batch_size=128, optimizer="adam", lr=3e-3, checkpoint_every=0,
                      device=device)
    out["mlp"] = {"alpha": args.mlp_alpha, "epochs": args.mlp_epochs, **both_ways(mlp, x.to(device), y.to(device), cfg, args.repeats)}

    n_img = args.n // 4
    xi = torch.randn(n_img, 3, args.image_size, args.image_size, generator=g)
    yi = (xi.mean(dim=(1, 2, 3)) > 0).long() + 2 * (xi[:, 0].mean(dim=(1, 2)) > 0).long()
    resnet = CohortSpec(lambda: build_model("resnet18", args.resnet_alpha, tuple(xi.shape[1:]), 4,
                                            base_width=args.resnet_base_width), *own_streams(args.resnet_models))
    cfg = TrainConfig(epochs=args.resnet_epochs, batch_size=128, optimizer="sgd", lr=0.05, schedule="step",
                      crop_padding=1, checkpoint_every=0, device=device, amp="none")
    out["resnet18"] = {"alpha": args.resnet_alpha, "base_width": args.resnet_base_width, "image_size": args.image_size,
                       "epochs": args.resnet_epochs, **both_ways(resnet, xi.to(device), yi.to(device), cfg, args.repeats)}
    print(json.dumps({"speedup": out["mlp"]["speedup"], "max_abs_diff": out["mlp"]["max_abs_diff"], **out}))


if __name__ == "__main__":
    main()

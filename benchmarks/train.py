"""Training throughput (samples/s) of featspan's loop against a plain reference loop; print JSON.

featspan: the split lives on the training device as one tensor, batches are index gathers, random crop
and flip are batched tensor ops there, bf16 autocast and channels_last on a GPU. Reference: the
loop most code starts from, a torchvision ``transforms`` pipeline (RandomCrop(padding=4),
RandomHorizontalFlip, ToTensor, Normalize) per PIL image behind a ``DataLoader``, fp32. Same model,
optimizer (SGD momentum 0.9) and batch size; CIFAR-shaped synthetic images (the real set is not
needed to time a loop). Each measurement: median over ``--repeats`` epochs after one warm-up epoch.

    python benchmarks/train.py                                   # CPU: base width 16, 2,048 images
    python benchmarks/train.py --base-width 64 --n 50000         # GPU: the paper's ResNet-18 and CIFAR-10 size
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featspan.models import build_model  # noqa: E402
from featspan.train import CohortSpec, TrainConfig, train_cohort  # noqa: E402


def featspan_epochs(arch, alpha, x, y, args, device):
    cfg = TrainConfig(epochs=args.repeats + 1, batch_size=args.batch_size, optimizer="sgd", lr=0.05,
                      weight_decay=5e-4, schedule="constant", crop_padding=4, flip=True, mode="sequential",
                      checkpoint_every=0, device=device, amp=args.amp)
    spec = CohortSpec(lambda: build_model(arch, alpha, (3, 32, 32), 10, base_width=args.base_width), [0], [1])
    import featspan.train as T
    times = []
    log = T._log
    last = [time.perf_counter()]

    def tick(msg):  # the loop logs once per epoch: time between the lines
        if device == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now
    T._log = tick
    try:
        last[0] = time.perf_counter()
        train_cohort(spec, torch.from_numpy(x), torch.from_numpy(y), cfg)
    finally:
        T._log = log
    return times[1:]  # the first epoch warms up


def reference_epochs(arch, alpha, images, y, args, device):
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.25,) * 3)])

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return tf(Image.fromarray(images[i])), int(y[i])

    loader = torch.utils.data.DataLoader(Images(), batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=device == "cuda")
    torch.manual_seed(0)
    model = build_model(arch, alpha, (3, 32, 32), 10, base_width=args.base_width).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    times = []
    for _ in range(args.repeats + 1):
        t0 = time.perf_counter()
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times[1:]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", nargs="+", default=["resnet18", "vgg16"])
    p.add_argument("--alphas", nargs="+", type=float, default=[1.0, 0.25])
    p.add_argument("--base-width", type=int, default=None, help="default: 64 on a GPU, 16 on the CPU")
    p.add_argument("--n", type=int, default=None, help="images (default: 50,000 on a GPU, 2,048 on the CPU)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--workers", type=int, default=None, help="reference DataLoader workers (default 4 GPU, 0 CPU)")
    p.add_argument("--amp", default="bf16")
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = device == "cuda"
    args.base_width = args.base_width or (64 if gpu else 16)
    args.n = args.n or (50_000 if gpu else 2048)
    args.workers = args.workers if args.workers is not None else (4 if gpu else 0)
    if not gpu:
        torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, args.n).astype(np.int64)
    x = ((images.astype(np.float32) / 255 - 0.5) / 0.25).transpose(0, 3, 1, 2).copy()
    rows = []
    for arch in args.archs:
        for alpha in args.alphas:
            ours = statistics.median(featspan_epochs(arch, alpha, x, y, args, device))
            ref = statistics.median(reference_epochs(arch, alpha, images, y, args, device))
            rows.append({"arch": arch, "alpha": alpha, "featspan_s_per_epoch": round(ours, 3),
                         "featspan_samples_per_s": round(args.n / ours), "reference_s_per_epoch": round(ref, 3),
                         "reference_samples_per_s": round(args.n / ref), "speedup": round(ref / ours, 2)})
    print(json.dumps({"device": torch.cuda.get_device_name() if gpu else "cpu", "n": args.n,
                      "base_width": args.base_width, "batch_size": args.batch_size, "amp": args.amp if gpu else "none",
                      "reference_workers": args.workers, "results": rows}))


if __name__ == "__main__":
    main()

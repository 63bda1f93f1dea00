"""Time `featspan compare` (all-pairs FSE and CKA in one pass) against its peers; print JSON.

Data: N feature sets of w ReLU-like columns each over n rows (a shared latent plus noise, so sets span
each other partly). Peers, in one run:
  * the N(N-1) separate ``featspan fse`` runs from the command line (each a process with its own
    statistics pass), and the same regressions in process (``feature_span_error`` per pair: no process
    starts, the harder peer), against ``featspan compare`` from the command line and in process;
  * a kernel-matrix CKA as representation-similarity packages compute it, at ``--kernel-n`` rows: for every
    pair, linear Gram matrices of both sets, centered, then HSIC (plain and debiased), as in Kornblith et
    al.'s code; against ``featspan compare --cka-only`` on the same rows (and the full compare, with FSE).

    python benchmarks/compare.py                               # N = 16 sets of 256, n = 20,000; kernels at 4,000
    python benchmarks/compare.py --memory-only --sets 32 --n 50000   # peak memory of the command line
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featspan.compare import compare_feature_sets, feature_sets  # noqa: E402
from featspan.h5 import FeatureFileWriter  # noqa: E402
from featspan.span import feature_span_error  # noqa: E402


def make_sets(folder: Path, n_sets: int, width: int, n: int, n_test: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    latent = 32
    mixes = [rng.normal(size=(latent, width)) / np.sqrt(latent) for _ in range(n_sets)]
    paths = [folder / f"set{i:02d}.h5" for i in range(n_sets)]
    writers = [FeatureFileWriter(p, {"train": (n, width), "test": (n_test, width)}, {}) for p in paths]
    for split, rows in (("train", n), ("test", n_test)):
        labels = rng.integers(0, 10, rows)
        for w in writers:
            w.write_labels(split, labels)
        for start in range(0, rows, 5000):
            m = min(5000, rows - start)
            z = rng.normal(size=(m, latent))
            for w, mix in zip(writers, mixes):
                w.write(split, start, np.maximum(z @ mix + 0.5 * rng.normal(size=(m, width)), 0).astype(np.float32))
    for w in writers:
        w.close()
    return paths


def gram_linear(x):
    return x @ x.T


def center_gram(gram, unbiased=False):
    """Kornblith et al.'s centering of a Gram matrix (the debiased form for unbiased HSIC)."""
    gram = gram.copy()
    if unbiased:
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def kernel_cka(gram_x, gram_y, debiased=False):
    gram_x, gram_y = center_gram(gram_x, debiased), center_gram(gram_y, debiased)
    hsic = gram_x.ravel() @ gram_y.ravel()
    return hsic / (np.linalg.norm(gram_x) * np.linalg.norm(gram_y))


def read(path, rows):
    import h5py
    with h5py.File(path) as f:
        return f["train/features"][:rows].astype(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=16)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    ap.add_argument("--kernel-n", type=int, default=4_000, help="rows for the kernel-matrix CKA comparison")
    ap.add_argument("--memory-only", action="store_true", help="only the command line, with its peak memory")
    args = ap.parse_args()
    out = {"sets": args.sets, "width": args.width, "n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_sets(Path(tmp), args.sets, args.width, args.n, args.n_test)
        cmd = [sys.executable, "-m", "featspan.cli", "compare", "--features", *map(str, paths), "--json"]
        t0 = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out["featspan_cli_seconds"] = round(time.perf_counter() - t0, 2)
        out["featspan_cli_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        if args.memory_only:
            print(json.dumps(out))
            return
        matrix = json.loads(run.stdout)["fse"]

        sets = feature_sets(list(map(str, paths)))
        t0 = time.perf_counter()
        comparison = compare_feature_sets(sets)
        out["featspan_compare_seconds"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        pairs = [(i, j) for i in range(args.sets) for j in range(args.sets) if i != j]
        separate = {(i, j): feature_span_error([paths[i]], [paths[j]], eval_sets=("validation",)).fse("validation")
                    for i, j in pairs}
        out["separate_fse_in_process_seconds"] = round(time.perf_counter() - t0, 2)
        out["speedup_in_process"] = round(out["separate_fse_in_process_seconds"] / out["featspan_compare_seconds"], 1)
        t0 = time.perf_counter()
        for i, j in pairs:
            subprocess.run([sys.executable, "-m", "featspan.cli", "fse", "--regressors", str(paths[i]), "--targets",
                            str(paths[j]), "--eval", "validation", "--json"], capture_output=True, check=True)
        out["separate_fse_cli_seconds"] = round(time.perf_counter() - t0, 2)
        out["speedup_cli"] = round(out["separate_fse_cli_seconds"] / out["featspan_cli_seconds"], 1)
        out["max_relative_difference"] = max(abs(comparison.fse[i, j] - v) / abs(v) for (i, j), v in separate.items())
        out["cli_matches"] = bool(np.allclose([[v if v is not None else np.nan for v in r] for r in matrix],
                                              comparison.fse, rtol=1e-10, equal_nan=True))

    with tempfile.TemporaryDirectory() as tmp:  # the kernel comparison at fewer rows
        paths = make_sets(Path(tmp), args.sets, args.width, args.kernel_n, 500)
        t0 = time.perf_counter()
        compare_feature_sets(feature_sets(list(map(str, paths))))
        out["featspan_compare_kernel_n_seconds"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        small = compare_feature_sets(feature_sets(list(map(str, paths))), cka_only=True)
        out["featspan_cka_only_kernel_n_seconds"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        xs = [read(p, args.kernel_n) for p in paths]
        cka = np.eye(args.sets)
        for i in range(args.sets):
            for j in range(i + 1, args.sets):
                gi, gj = gram_linear(xs[i]), gram_linear(xs[j])  # per pair, as a package's cka(X, Y) does
                cka[i, j] = cka[j, i] = kernel_cka(gi, gj)
                kernel_cka(gi, gj, debiased=True)
        out["kernel_cka_seconds"] = round(time.perf_counter() - t0, 2)
        out["kernel_n"] = args.kernel_n
        out["speedup_cka_vs_kernel_cka"] = round(out["kernel_cka_seconds"] / out["featspan_cka_only_kernel_n_seconds"], 1)
        out["speedup_compare_vs_kernel_cka"] = round(out["kernel_cka_seconds"] / out["featspan_compare_kernel_n_seconds"], 1)
        # featspan's CKA is on its fit rows (90 %); the peer's on every row: close, not equal
        out["cka_max_abs_difference_fit_vs_all_rows"] = float(np.abs(cka - small.cka).max())
    print(json.dumps(out))


if __name__ == "__main__":
    main()

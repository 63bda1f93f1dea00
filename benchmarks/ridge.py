"""Time featspan's FSE against scikit-learn and the one-GEMM floor, in one run; print JSON.

Peers, all on the same fit rows and the same lambda grid:
  * featspan from the command line (end to end: process start, HDF5 reads, statistics, lambda path,
    validation and test errors), and the engine alone (statistics + lambda path + errors, in process);
  * scikit-learn RidgeCV(alphas=grid, alpha_per_target=True) (efficient leave-one-out);
  * scikit-learn Ridge refit per lambda with selection on the validation part (the obvious loop);
  * the floor: one float64 GEMM X'[X Y] over the fit rows.

    python benchmarks/ridge.py                      # the issue's target size (n=20000, p=1024, q=512)
    python benchmarks/ridge.py --n 4000 --p 256 --q 128 --repeats 1   # a quick look
    python benchmarks/ridge.py --memory-only --n 50000 --p 8192       # paper size: peak memory of the CLI
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import timed  # noqa: E402

from featspan.h5 import FeatureBank, FeatureFileWriter  # noqa: E402
from featspan.span import LambdaGrid, RidgeSpan, RowPlan, SpanStatistics  # noqa: E402
from featspan.span.backend import get_backend  # noqa: E402


def make_files(folder: Path, n: int, n_test: int, p: int, q: int, n_files: int, seed: int = 0) -> tuple[list, Path]:
    """Regressor files (p columns in n_files files) and a target file with a learnable, noisy relation,
    written chunk by chunk so even paper-size data never sits in memory at once."""
    rng = np.random.default_rng(seed)
    latent = 64
    mix_x = rng.normal(size=(latent, p)) / np.sqrt(latent)
    mix_y = rng.normal(size=(latent, q)) / np.sqrt(latent)
    widths = [p // n_files + (i < p % n_files) for i in range(n_files)]
    paths = [folder / f"x{i}.h5" for i in range(n_files)]
    writers = [FeatureFileWriter(path, {"train": (n, w), "test": (n_test, w)}, {}) for path, w in zip(paths, widths)]
    target = FeatureFileWriter(folder / "y.h5", {"train": (n, q), "test": (n_test, q)}, {})
    for split, rows in (("train", n), ("test", n_test)):
        labels = rng.integers(0, 10, rows)
        for w in writers + [target]:
            w.write_labels(split, labels)
        for start in range(0, rows, 5000):
            m = min(5000, rows - start)
            z = rng.normal(size=(m, latent))
            x = np.maximum(z @ mix_x + 0.5 * rng.normal(size=(m, p)), 0).astype(np.float32)
            y = np.maximum(z @ mix_y + 0.3 * rng.normal(size=(m, q)), 0).astype(np.float32)
            col = 0
            for w, width in zip(writers, widths):
                w.write(split, start, x[:, col:col + width])
                col += width
            target.write(split, start, y)
    for w in writers + [target]:
        w.close()
    return paths, folder / "y.h5"




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="training rows")
    ap.add_argument("--n-test", type=int, default=2_000)
    ap.add_argument("--p", type=int, default=1024, help="regressors (split over --files files)")
    ap.add_argument("--q", type=int, default=512, help="targets")
    ap.add_argument("--files", type=int, default=2)
    ap.add_argument("--lambdas", type=int, default=20, help="grid size")
    ap.add_argument("--validation-fraction", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3, help="runs per fast peer (median reported)")
    ap.add_argument("--skip-loop", action="store_true", help="skip the slow Ridge-per-lambda loop")
    ap.add_argument("--memory-only", action="store_true", help="only the CLI run, with its peak memory")
    ap.add_argument("--backend", choices=("auto", "numpy", "torch"), default="auto",
                    help="featspan's backend, CLI and engine alike (auto: torch on a GPU, else numpy)")
    args = ap.parse_args()

    grid = np.logspace(-2, 5, args.lambdas)
    grid_arg = ",".join(f"{g:.6g}" for g in grid)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        regressors, target = make_files(Path(tmp), args.n, args.n_test, args.p, args.q, args.files)
        report = {"n": args.n, "n_test": args.n_test, "p": args.p, "q": args.q, "files": args.files,
                  "lambdas": args.lambdas, "per_target_lambda": True, "threads": os.cpu_count(),
                  "backend": get_backend(args.backend).describe(),
                  "data_seconds": round(time.perf_counter() - t0, 2)}

        cli = [sys.executable, "-m", "featspan.cli", "fse", "--regressors", *map(str, regressors),
               "--targets", str(target), "--lambdas", grid_arg, "--per-target-lambda", "--json",
               "--validation-fraction", str(args.validation_fraction), "--backend", args.backend]
        wrapped = [sys.executable, "-c", (
            "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"),
            *cli]
        cli_time, run = timed(lambda: subprocess.run(wrapped, capture_output=True, text=True, check=True),
                              1 if args.memory_only else args.repeats)
        report["featspan_cli_seconds"] = round(cli_time, 3)
        report["featspan_cli_peak_rss_mb"] = round(int(run.stderr.strip().splitlines()[-1]) / 1024, 1)
        report["featspan_fse"] = json.loads(run.stdout)["fse"]
        if args.memory_only:
            print(json.dumps(report))
            return

        def engine():
            with FeatureBank([*regressors, target]) as bank:
                plan = RowPlan.regular(bank.n_rows("train"), bank.n_rows("test"), args.validation_fraction, 0)
                stats = SpanStatistics.compute(bank, plan, backend=get_backend(args.backend),
                                               regressor_files=range(len(regressors)))
                span = RidgeSpan(stats, list(range(len(regressors))), [len(regressors)])
                return span.run(LambdaGrid(tuple(grid), relative=False), per_target=True)[0], plan

        engine_time, (result, plan) = timed(engine, args.repeats)
        report["featspan_engine_seconds"] = round(engine_time, 3)

        # the peers see the same fit rows, loaded once in float64 (their loading is not timed)
        with FeatureBank([*regressors, target]) as bank:
            xy = bank.read("train", dtype=np.float64)
            xy_all = np.concatenate([xy, bank.read("test", dtype=np.float64)])  # every row the engine reads
        roles = plan.roles["train"]
        x_fit, y_fit = xy[roles == 1, :args.p], xy[roles == 1, args.p:]
        x_val, y_val = xy[roles == 2, :args.p], xy[roles == 2, args.p:]
        xy_fit = np.hstack([x_fit, y_fit])
        del xy

        def floor():
            return x_fit.T @ xy_fit

        def floor_all_rows():
            return xy_all[:, :args.p].T @ xy_all

        floor_time, _ = timed(floor, args.repeats)
        report["gemm_floor_seconds"] = round(floor_time, 3)
        # This machine's speed drifts between runs: the ratio to the floor is the median of ratios
        # measured back to back (engine, then both floors), not a ratio of medians taken apart.
        ratios, ratios_all = [], []
        for _ in range(args.repeats):
            t_engine = timed(engine, 1)[0]
            ratios.append(t_engine / timed(floor, 1)[0])
            ratios_all.append(t_engine / timed(floor_all_rows, 1)[0])

        from sklearn.linear_model import Ridge, RidgeCV

        ridgecv_time, _ = timed(lambda: RidgeCV(alphas=grid, alpha_per_target=True).fit(x_fit, y_fit), 1)
        report["sklearn_ridgecv_seconds"] = round(ridgecv_time, 3)

        if not args.skip_loop:
            def loop():
                best = np.full(args.q, np.inf)
                for lam in grid:
                    pred = Ridge(alpha=lam).fit(x_fit, y_fit).predict(x_val)
                    best = np.minimum(best, ((y_val - pred) ** 2).sum(0))
                return best

            loop_time, _ = timed(loop, 1)
            report["sklearn_ridge_loop_seconds"] = round(loop_time, 3)
            report["speedup_engine_vs_ridge_loop"] = round(loop_time / engine_time, 2)

        report["speedup_cli_vs_ridgecv"] = round(ridgecv_time / cli_time, 2)
        report["speedup_engine_vs_ridgecv"] = round(ridgecv_time / engine_time, 2)
        report["engine_over_gemm_floor"] = round(statistics.median(ratios), 2)  # floor: X'[X Y] on the fit rows
        report["engine_over_gemm_floor_all_rows"] = round(statistics.median(ratios_all), 2)  # on fit+val+test
        report["featspan_engine_fse"] = {k: result.fse(k) for k in ("validation", "test")}
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""Time featspan's linear probe against scikit-learn's LogisticRegression (lbfgs) at the same C; print JSON.

Data: n rows of d correlated, ReLU-like features and 10 classes, tuned to a hard problem (about 60 %
test accuracy). Peers: ``featspan probe --C C`` from the command line (end to end), the solver alone
(in process), and LogisticRegression(C=C) on the same standardized rows, at its default iteration cap
and converged (``--sklearn-max-iter``); on the CPU also featspan's objective minimized by scipy's L-BFGS-B
instead of featspan's truncated Newton (``--solver lbfgs``). Medians over ``--repeats`` runs.

    python benchmarks/probe.py                                # the issue's size: n=30000, d=1024
    python benchmarks/probe.py --n 5000 --d 256 --repeats 1   # a quick look
    python benchmarks/probe.py --n 10000 --d 2000 --dead-fraction 0.75 --repeats 1 --sklearn-max-iter 100
        # dead units, like the toy's 200 width-10 models: FP with them left out of the solve vs kept in
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import timed  # noqa: E402

from featspan.h5 import write_feature_file  # noqa: E402
from featspan import probe as probe_module  # noqa: E402
from featspan.probe import LogisticProbe, Standardizer, feature_performance  # noqa: E402


def make_problem(n: int, n_test: int, d: int, k: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    latent = 48
    centers = rng.normal(size=(k, latent)) * 0.3
    mix = rng.normal(size=(latent, d)) / np.sqrt(latent)
    labels = rng.integers(0, k, n + n_test)
    z = centers[labels] + rng.normal(size=(n + n_test, latent))
    x = np.maximum(z @ mix + 0.7 * rng.normal(size=(n + n_test, d)), 0) * rng.uniform(0.2, 5, size=d)
    return x[:n].astype(np.float32), labels[:n], x[n:].astype(np.float32), labels[n:]




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30_000)
    ap.add_argument("--n-test", type=int, default=5_000)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--C", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sklearn-max-iter", type=int, default=1000, help="cap for the converged sklearn run")
    ap.add_argument("--device", default=None, help="featspan's device (default: cuda if available, else cpu)")
    ap.add_argument("--dead-fraction", type=float, default=0.0,
                    help="this fraction of the features constant on the training rows (dead units; they still "
                         "vary on test rows); also times FP leaving them out of the solve against keeping them")
    args = ap.parse_args()

    x, y, xt, yt = make_problem(args.n, args.n_test, args.d)
    report = {"n": args.n, "n_test": args.n_test, "d": args.d, "classes": 10, "C": args.C,
              "device": LogisticProbe(device=args.device)._device()}
    if args.dead_fraction > 0:
        dead = np.random.default_rng(1).random(args.d) < args.dead_fraction
        x[:, dead] = 0.0
        report["dead_features"] = int(dead.sum())
        fp_time, fp = timed(lambda: feature_performance(x, y, xt, yt, C=args.C, device=args.device), args.repeats)
        live_only = probe_module.varying_columns
        probe_module.varying_columns = lambda a: np.ones(a.shape[1], dtype=bool)  # the obvious way: solve all
        try:
            all_time, fp_all = timed(lambda: feature_performance(x, y, xt, yt, C=args.C, device=args.device),
                                     args.repeats)
        finally:
            probe_module.varying_columns = live_only
        report.update({"featspan_fp_seconds": round(fp_time, 3), "featspan_fp_accuracy": fp.accuracy,
                       "featspan_fp_all_columns_seconds": round(all_time, 3),
                       "featspan_fp_all_columns_accuracy": fp_all.accuracy,
                       "speedup_dead_left_out": round(all_time / fp_time, 2)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.h5"
        write_feature_file(path, {"train": (x, y), "test": (xt, yt)}, {})
        cmd = [sys.executable, "-m", "featspan.cli", "probe", "--features", str(path), "--C", str(args.C), "--json",
               *(["--device", args.device] if args.device else [])]
        cli_time, run = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, check=True), args.repeats)
    report["featspan_cli_seconds"] = round(cli_time, 3)
    report["featspan_cli_accuracy"] = json.loads(run.stdout)["accuracy"]

    solver_time, probe = timed(lambda: LogisticProbe(C=args.C, device=args.device).fit(x, y), args.repeats)
    report["featspan_solver_seconds"] = round(solver_time, 3)
    report["featspan_solver_iterations"] = probe.n_iter_
    report["featspan_converged"] = bool(probe.converged_)
    report["featspan_accuracy"] = probe.score(xt, yt)
    if report["device"] == "cpu":  # the same objective in the same coordinates, minimized by scipy's L-BFGS-B
        scipy_time, ref = timed(lambda: LogisticProbe(C=args.C, device="cpu", solver="lbfgs").fit(x, y), args.repeats)
        report.update({"featspan_scipy_solver_seconds": round(scipy_time, 3),
                       "featspan_scipy_solver_iterations": ref.n_iter_,
                       "featspan_scipy_solver_accuracy": ref.score(xt, yt)})

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    scaler = Standardizer.fit(x)
    xs, xts = scaler.transform(x, np.float64), scaler.transform(xt, np.float64)
    for label, max_iter in (("sklearn_default", 100), ("sklearn_converged", args.sklearn_max_iter)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t, model = timed(lambda: LogisticRegression(C=args.C, max_iter=max_iter).fit(xs, y), 1)
        report[f"{label}_seconds"] = round(t, 3)
        report[f"{label}_iterations"] = int(np.max(model.n_iter_))
        report[f"{label}_converged"] = bool(np.max(model.n_iter_) < max_iter)
        report[f"{label}_accuracy"] = model.score(xts, yt)
        report[f"speedup_cli_vs_{label}"] = round(t / cli_time, 2)
        report[f"speedup_solver_vs_{label}"] = round(t / solver_time, 2)
        report[f"accuracy_gap_points_vs_{label}"] = round(100 * (report["featspan_accuracy"] - model.score(xts, yt)), 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()

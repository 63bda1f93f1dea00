"""The ``featspan`` command line: FSE and probes on any feature files of the contract layout.

Heavy modules (numpy's linear algebra aside, torch and h5py) are imported inside the commands that
need them, so ``featspan --help`` starts fast.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from .models.registry import ARCHITECTURES
from .progress import format_duration


class Parser(argparse.ArgumentParser):
    """argparse with bad options reported on one line (rc 2), like every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, low=None, high=None, low_open=True, high_open=True):
    """An argparse type: a finite number of ``kind`` within (low, high) (ends open or closed)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not finite")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"{text} must be {'>' if low_open else '>='} {low}")
        if high is not None and (value >= high if high_open else value > high):
            raise argparse.ArgumentTypeError(f"{text} must be {'<' if high_open else '<='} {high}")
        return value
    return parse


def _numbers(text: str, option: str, low: float = 0.0) -> list[float]:
    """A comma- or space-separated list of finite numbers >= low, or an error naming the option."""
    values = []
    for item in text.replace(",", " ").split():
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"{option}: {item!r} is not a number") from None
        if not math.isfinite(value) or value < low:
            raise ValueError(f"{option}: {item} must be a finite number >= {low:g}")
        values.append(value)
    if not values:
        raise ValueError(f"{option}: the list is empty")
    return values


def _lambda_grid(args):
    from .span import LambdaGrid, default_lambda_grid

    if args.lambda_ is not None:
        return LambdaGrid((args.lambda_,), relative=False)
    if args.lambdas is not None:
        return LambdaGrid(tuple(_numbers(args.lambdas, "--lambdas")), relative=args.relative_lambdas)
    return default_lambda_grid()


class Progress:
    """Stage timings on stderr (stdout stays the result), for runs longer than a few seconds. A stage of a
    counted loop (``done`` of ``total``) also says how many are done and about how long the rest takes."""

    AFTER = 3.0  # seconds before the first line

    def __init__(self, command: str):
        self.command, self.start = command, time.perf_counter()
        self.shown = False
        self.last = self.loop_start = self.start

    def __call__(self, stage: str, done: int | None = None, total: int | None = None) -> None:
        now = time.perf_counter()
        elapsed = now - self.start
        if done is not None and total:
            if done == 1:  # the loop began when the stage before it ended
                self.loop_start = self.last
            per_item = (now - self.loop_start) / done
            stage = f"{stage} [{done}/{total}, about {format_duration(per_item * (total - done))} left]"
        self.last = now
        if elapsed >= self.AFTER or self.shown:
            print(f"featspan {self.command}: {stage} after {elapsed:.1f} s", file=sys.stderr, flush=True)
            self.shown = True


def cmd_fse(args) -> dict:
    from .span import feature_span_error

    eval_sets = ("validation", "test") if args.eval == "both" else (args.eval,)
    if args.validation_fraction == 0 and "validation" in eval_sets:
        eval_sets = tuple(e for e in eval_sets if e != "validation")
        if not eval_sets:
            raise ValueError("--eval validation needs --validation-fraction > 0")
    try:
        result = feature_span_error(args.regressors, args.targets, lambdas=_lambda_grid(args),
                                    per_target=args.per_target_lambda, validation_fraction=args.validation_fraction,
                                    split_seed=args.split_seed, eval_sets=eval_sets, shuffled=args.shuffled,
                                    outlier_threshold=args.outlier_threshold, chunk_rows=args.chunk_rows,
                                    backend=args.backend, cka=args.cka, progress=Progress("fse"))
    except ValueError as err:
        if "fit rows" not in str(err):
            raise
        raise ValueError(f"{args.regressors[0]} and the other files: {err} (too few training rows)") from None
    out = result.summary()
    for name, value in out["fse"].items():
        if not math.isfinite(value):
            kept = int(result.keep(name).sum())
            why = (f"no target is left to average on the {name} set ({result.n_dead} dead, "
                   f"{int(result.outliers().sum())} above the outlier threshold)" if kept == 0 else
                   f"the errors on the {name} set are not finite")
            raise ValueError(f"FSE on the {name} set is undefined: {why}")
    out.update(regressors=args.regressors, targets=args.targets, shuffled=args.shuffled)
    return out


def cmd_probe(args) -> dict:
    import warnings

    from .h5 import FeatureBank
    from .probe import DEFAULT_C_GRID, ProbeConvergenceWarning, feature_performance

    progress = Progress("probe")
    grid = DEFAULT_C_GRID if args.C_grid is None else _numbers(args.C_grid, "--C-grid", low=1e-300)
    with FeatureBank(args.features) as bank:
        x_train, y_train = bank.read("train"), bank.labels("train")
        x_test, y_test = bank.read("test"), bank.labels("test")
    for split, rows in (("train", x_train.shape[0]), ("test", x_test.shape[0])):
        if rows < (2 if split == "train" else 1):  # an accuracy of no rows is undefined, not a number
            raise ValueError(f"{args.features[0]}: /{split} has {rows} rows; a probe needs "
                             f"{'at least 2 training rows' if split == 'train' else 'at least one test row'}")
    progress(f"read {x_train.shape[0]} training rows of {x_train.shape[1]} features")
    with warnings.catch_warnings():  # a fit short of the tolerance is this command's one-line error below
        warnings.simplefilter("ignore", ProbeConvergenceWarning)
        result = feature_performance(x_train, y_train, x_test, y_test, C=args.C, C_grid=grid,
                                     validation_fraction=args.validation_fraction, max_iter=args.max_iter,
                                     tol=args.tol, device=args.device, solver=args.solver, progress=progress)
    if not result.converged:
        raise ValueError(f"the probe did not reach the gradient tolerance {args.tol:g} within its iteration cap; "
                         "raise --max-iter")
    return {**result.summary(), "features": args.features}


def cmd_compare(args) -> dict:
    from .compare import compare_feature_sets, feature_sets, plot_comparison

    sets = feature_sets(args.features or [], args.group or [])
    comparison = compare_feature_sets(sets, lambdas=_lambda_grid(args), per_target=args.per_target_lambda,
                                      validation_fraction=args.validation_fraction, split_seed=args.split_seed,
                                      eval_set=args.eval, chunk_rows=args.chunk_rows, backend=args.backend,
                                      cka_only=args.cka_only, progress=Progress("compare"))
    if args.plot:
        plot_comparison(comparison, args.plot)
    return comparison.summary()


def cmd_estimate(args) -> dict:
    from .configcheck import check_config, read_config_file
    from .estimate import estimate, format_table
    from .schema import SCHEMA

    config = read_config_file(args.configfile)
    check_config(config, SCHEMA)  # the workflow's own check: one line naming the key
    summary = estimate(config, cores=args.cores, progress=lambda line: print(line, file=sys.stderr)).summary()
    if not args.json:
        print(format_table(summary))
        return {}
    return summary


def cmd_models(args) -> dict:
    from .models import PAPER_SETTINGS, scaled_family

    setting = PAPER_SETTINGS[args.arch]
    options = dict(setting["options"])
    if args.base_width is not None:
        if "base_width" not in options:
            raise ValueError(f"--base-width applies to {', '.join(a for a, s in PAPER_SETTINGS.items() if 'base_width' in s['options'])}, not {args.arch}")
        options["base_width"] = args.base_width
    alphas = _numbers(" ".join(args.alphas), "--alphas")
    if any(not 0 < a <= 1 for a in alphas):
        raise ValueError("--alphas: every alpha must be in (0, 1]")
    families = [scaled_family(args.arch, a, setting["in_shape"], setting["n_classes"], **options) for a in alphas]
    return {"arch": args.arch, "alphas": alphas, "n_params": [f.n_params for f in families],
            "n_features": [f.n_features for f in families], "m_feat": [f.m_feat for f in families],
            "m_param": [f.m_param for f in families], "n_params_base": families[0].n_params_base,
            "in_shape": list(setting["in_shape"]), "n_classes": setting["n_classes"], "options": options}


def _ridge_options(parser) -> None:
    """The options of every command that runs ridge regressions (fse, compare)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--lambda", dest="lambda_", type=_number(float, 0.0, low_open=False),
                       help="fixed ridge penalty (scikit-learn alpha)")
    group.add_argument("--lambdas", help="candidate penalties, comma or space separated")
    parser.add_argument("--relative-lambdas", action="store_true",
                        help="multiply --lambdas by the mean eigenvalue of X'X (the default grid is relative)")
    parser.add_argument("--per-target-lambda", action="store_true", help="choose lambda per target")
    parser.add_argument("--validation-fraction", type=_number(float, 0.0, 1.0, low_open=False), default=0.1,
                        help="part of the training rows that chooses lambda (0: fit on all, needs --lambda)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--chunk-rows", type=_number(int, 0), default=None,
                        help="rows read per chunk (bounds memory; default 4096)")
    parser.add_argument("--backend", choices=("auto", "numpy", "torch"), default="auto",
                        help="float64 statistics with numpy, or torch (GPU when available); auto: torch on a GPU")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="featspan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    fse = sub.add_parser("fse", help="feature span error of regressor files -> target files")
    fse.add_argument("--regressors", nargs="+", required=True, metavar="A.h5",
                     help="regressor feature files; several are concatenated column-wise")
    fse.add_argument("--targets", nargs="+", required=True, metavar="B.h5", help="target feature files")
    _ridge_options(fse)
    fse.add_argument("--eval", choices=("validation", "test", "both"), default="both")
    fse.add_argument("--shuffled", action="store_true", help="Appendix D.4: fit and evaluate on a train/test mix")
    fse.add_argument("--outlier-threshold", type=_number(float, 0.0), default=None,
                     help="leave out targets with test error above this (Appendix D.3)")
    fse.add_argument("--cka", action="store_true", help="also report linear CKA, plain and debiased (fit rows)")
    fse.add_argument("--json", action="store_true", help="print one JSON object")
    fse.set_defaults(func=cmd_fse)

    probe = sub.add_parser("probe", help="linear-probe test accuracy of feature files")
    probe.add_argument("--features", nargs="+", required=True, metavar="A.h5",
                       help="feature files; several are concatenated column-wise")
    probe.add_argument("--C", type=_number(float, 0.0), default=None, help="fixed inverse L2 strength (scikit-learn C)")
    probe.add_argument("--C-grid", default=None, help="candidate C values when --C is not given")
    probe.add_argument("--validation-fraction", type=_number(float, 0.0, 1.0), default=0.1,
                       help="part of the training rows that chooses C, in (0, 1)")
    probe.add_argument("--max-iter", type=_number(int, 0), default=None,
                       help="iteration cap per fit (default: 100 Newton steps, 5,000 L-BFGS iterations)")
    probe.add_argument("--tol", type=_number(float, 0.0), default=1e-4,
                       help="converged when the gradient's norm is at most this (scikit-learn's tol, or tighter)")
    probe.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    probe.add_argument("--solver", choices=("auto", "newton", "lbfgs", "torch"), default="auto",
                       help="auto: newton (truncated Newton in the features' eigenbasis) on the CPU, torch's L-BFGS "
                            "on a GPU; lbfgs: scipy's L-BFGS-B on the same objective as newton")
    probe.add_argument("--json", action="store_true", help="print one JSON object")
    probe.set_defaults(func=cmd_probe)

    compare = sub.add_parser("compare", help="all-pairs FSE, asymmetry and CKA of many feature sets, one pass")
    compare.add_argument("--features", nargs="+", metavar="A.h5", help="feature files, one set each")
    compare.add_argument("--group", nargs="+", metavar="NAME=F1,F2",
                         help="a named set of files concatenated column-wise")
    _ridge_options(compare)
    compare.add_argument("--eval", choices=("validation", "test"), default="validation")
    compare.add_argument("--cka-only", action="store_true", help="only the CKA matrices (no regressions)")
    compare.add_argument("--plot", metavar="OUT.png", help="write heatmaps of FSE and debiased CKA")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.set_defaults(func=cmd_compare)

    estimate = sub.add_parser("estimate", help="how long a config takes on this machine's device, from measurements")
    estimate.add_argument("--configfile", required=True, metavar="FILE", help="a workflow config (YAML)")
    estimate.add_argument("--cores", type=_number(int, 0), default=None, help="cores the run gets (default: all)")
    estimate.add_argument("--json", action="store_true", help="print one JSON object")
    estimate.set_defaults(func=cmd_estimate)

    models = sub.add_parser("models", help="parameter and feature counts, M_feat and M_param of a model family")
    models.add_argument("--arch", required=True, choices=tuple(ARCHITECTURES))
    models.add_argument("--alphas", nargs="+", default=["0.5", "0.25", "0.125", "0.0625"],
                        help="width multipliers (default: the paper's 1/2 ... 1/16)")
    models.add_argument("--base-width", type=int, default=None, help="first-stage width (paper: 64)")
    models.add_argument("--json", action="store_true", help="print one JSON object")
    models.set_defaults(func=cmd_models)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = args.func(args)
    except (ValueError, FileNotFoundError, OSError) as err:
        message = " ".join(str(err).split())  # one line, whatever the library's message (h5py's span two)
        print(f"featspan {args.command}: error: {message}", file=sys.stderr)
        return 2
    if args.json:
        from .io import dumps
        print(dumps(out))  # strict JSON: an undefined number is null
    elif out:
        from .cli_format import render
        print(render(args.command, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

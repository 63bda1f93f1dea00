"""All-pairs comparison of many feature sets in one pass: FSE(i -> j), its asymmetry, linear CKA and
debiased linear CKA (docs/method.md section 4; Kornblith et al. 2019; Song et al. 2012).

One chunked pass over the rows accumulates the float64 moments of every column of every set
(:class:`featspan.span.SpanStatistics`); every regression FSE(i -> j) then reads its blocks, each
regressor set is eigendecomposed once for every lambda and target set, and the CKAs read the same
fit-row cross-products. Memory grows with the total feature count (a D x D matrix per row role), never
with the number of rows. Each FSE equals ``featspan fse --regressors <set i> --targets <set j>`` with the
same options; both CKAs are computed on the fit rows, as ``featspan fse --cka``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .h5 import FeatureBank
from .span import EVAL_ROLES, TEST, VALIDATION, RidgeSpan, RowPlan, SpanStatistics, default_lambda_grid
from .span.similarity import debiased_linear_cka, linear_cka, row_norm_products


@dataclass
class FeatureSet:
    name: str
    paths: list[Path]


def feature_sets(files: Sequence[str], groups: Sequence[str] = ()) -> list[FeatureSet]:
    """One set per file (named by its stem) and one per ``NAME=F1,F2,...`` group (files side by side)."""
    sets = [FeatureSet(Path(f).stem, [Path(f)]) for f in files]
    for group in groups:
        name, sep, members = group.partition("=")
        paths = [Path(p) for p in members.split(",") if p]
        if not sep or not name or not paths:
            raise ValueError(f"--group {group!r}: expected NAME=F1,F2,...")
        sets.append(FeatureSet(name, paths))
    names = [s.name for s in sets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"feature set names must differ, got {duplicates} more than once (name groups apart)")
    if len(sets) < 2:
        raise ValueError("compare needs at least two feature sets")
    return sets


@dataclass
class Comparison:
    names: list[str]
    fse: np.ndarray               # N x N, FSE(row i -> column j), NaN on the diagonal
    cka: np.ndarray
    cka_debiased: np.ndarray
    lambdas: list                 # N x N: the chosen lambda (or per-target lambdas) of each regression
    eval_set: str
    meta: dict = field(default_factory=dict)

    @property
    def asymmetry(self) -> np.ndarray:
        """FSE(i -> j) - FSE(j -> i)."""
        return self.fse - self.fse.T

    def summary(self) -> dict:
        def matrix(a):  # strict JSON: an undefined entry is null
            return [[None if not np.isfinite(v) else float(v) for v in row] for row in a]

        return {"names": self.names, "eval": self.eval_set, "fse": matrix(self.fse),
                "asymmetry": matrix(self.asymmetry), "cka": matrix(self.cka),
                "cka_debiased": matrix(self.cka_debiased), "lambda": self.lambdas,
                "undefined": "the diagonal of fse and asymmetry (a set regressed on itself) is null", **self.meta}


def compare_feature_sets(sets: Sequence[FeatureSet], *, lambdas=None, per_target: bool = False,
                         validation_fraction: float = 0.1, split_seed: int = 0, eval_set: str = "validation",
                         chunk_rows: int | None = None, backend: str = "numpy", cka_only: bool = False,
                         progress=None) -> Comparison:
    """The N x N matrices of FSE, asymmetry and CKA of ``sets`` from one statistics pass. The pass reads
    only the rows the requested numbers use: fit and validation rows for FSE on the validation part, the
    test rows too for FSE on the test split, the fit rows alone with ``cka_only`` (no FSE).
    ``progress(stage, done=None, total=None)`` hears of each stage, and of each set's regressions counted."""
    if eval_set not in ("validation", "test"):
        raise ValueError(f"--eval must be validation or test, got {eval_set!r}")
    if eval_set == "validation" and validation_fraction == 0:
        raise ValueError("--eval validation needs --validation-fraction > 0")
    progress = progress or (lambda stage, done=None, total=None: None)
    unique = list(dict.fromkeys(p for s in sets for p in s.paths))
    position = {p: i for i, p in enumerate(unique)}
    files = [[position[p] for p in s.paths] for s in sets]
    grid = default_lambda_grid() if lambdas is None else lambdas
    n = len(sets)
    fse, cka, dcka = np.full((n, n), np.nan), np.eye(n), np.eye(n)
    chosen = [[None] * n for _ in range(n)]
    with FeatureBank(unique) as bank:
        unused = (VALIDATION, TEST) if cka_only else ((TEST,) if eval_set == "validation" else ())
        plan = RowPlan.regular(bank.n_rows("train"), bank.n_rows("test"), validation_fraction,
                               split_seed).without(*unused)
        stats = SpanStatistics.compute(bank, plan, chunk_rows, backend, row_norms=True)
        progress(f"statistics of {bank.dim} columns of {n} feature sets")
        for i in range(0 if cka_only else n):
            basis = None
            for j in range(n):
                if i == j:
                    continue
                span = RidgeSpan(stats, files[i], files[j], basis=basis)
                basis = basis or span
                result, _ = span.run(grid, per_target, (eval_set,))
                fse[i, j] = result.fse(eval_set)
                chosen[i][j] = result.summary()["lambda"]
            progress(f"regressions of {sets[i].name} onto every other set", i + 1, n)
        products = row_norm_products(stats)
        for i in range(n):
            for j in range(i + 1, n):
                cka[i, j] = cka[j, i] = linear_cka(stats, files[i], files[j])
                dcka[i, j] = dcka[j, i] = debiased_linear_cka(stats, files[i], files[j], products)
        progress("CKA of every pair")
        meta = {"n_fit_rows": stats.gram.n, "n_eval_rows": 0 if cka_only else plan.count(EVAL_ROLES[eval_set]),
                "validation_fraction": validation_fraction, "per_target_lambda": per_target,
                "files": {s.name: [str(p) for p in s.paths] for s in sets}}
    return Comparison([s.name for s in sets], fse, cka, dcka, chosen, eval_set, meta)


def plot_comparison(comparison: Comparison, path) -> None:
    """Heatmaps of FSE(i -> j) and debiased linear CKA, names on both axes, values printed up to 12 sets."""
    from .report import plotting

    plt = plotting.pyplot()
    n = len(comparison.names)
    size = max(4.0, 0.45 * n + 2.0)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1.5, size))
    panels = ((comparison.fse, f"FSE(row → column), {comparison.eval_set}", "viridis_r"),
              (comparison.cka_debiased, "debiased linear CKA (fit rows)", "viridis"))
    for ax, (values, title, cmap) in zip(axes, panels):
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap)
        ax.set_xticks(range(n), comparison.names, rotation=90, fontsize=8)
        ax.set_yticks(range(n), comparison.names, fontsize=8)
        ax.set_xlabel("target" if values is comparison.fse else "")
        ax.set_ylabel("regressors" if values is comparison.fse else "")
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        if n <= 12:
            for (r, c), v in np.ndenumerate(values):
                if np.isfinite(v):
                    red, green, blue, _ = image.cmap(image.norm(v))
                    light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5  # dark text on light cells
                    ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="k" if light else "w")
    fig.tight_layout()
    plotting.save(fig, [path])

"""What the command line prints for people (without ``--json``): rounded, labelled tables.

The JSON of ``--json`` is the contract for programs; these renderings are for reading and may change.
Every formatter takes the dict a command returns and gives the text to print."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .models.scaling import alpha_label

MAX_LISTED_FILES = 3


def files(paths: Sequence[str]) -> str:
    """A file list in one line: every path when there are few, else the first ones and a count."""
    paths = list(paths)
    if len(paths) <= MAX_LISTED_FILES:
        return ", ".join(paths)
    return f"{', '.join(paths[:MAX_LISTED_FILES - 1])}, … {paths[-1]} ({len(paths)} files)"


def number(value, digits: int = 4) -> str:
    """A float to ``digits`` significant figures; None or NaN as an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def fixed(value, decimals: int) -> str:
    """A float with ``decimals`` decimals (columns line up); None or NaN as an en dash."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{decimals}f}"


def percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the first column left-aligned, the others right-aligned."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def format_fse(out: dict) -> str:
    rows = [[split, number(out["n_eval_rows"][split]), fixed(value, 4)] for split, value in out["fse"].items()]
    lines = [f"FSE(regressors → targets): {out['n_targets']} targets, {out['n_dead_targets']} dead, "
             f"{out['n_outlier_targets']} above the outlier threshold"
             + (" (shuffled regression)" if out.get("shuffled") else ""),
             "", table(["split", "rows", "FSE"], rows), "",
             f"λ = {number(out['lambda'], 3)}, fit on {out['n_fit_rows']:,} rows"
             if not isinstance(out["lambda"], list) else f"λ per target, fit on {out['n_fit_rows']:,} rows",
             f"regressors: {files(out['regressors'])}", f"targets:    {files(out['targets'])}"]
    return "\n".join(lines)


def format_probe(out: dict) -> str:
    chosen = out.get("validation_accuracy") or {}
    lines = [f"test accuracy {percent(out['accuracy'])} (train {percent(out['train_accuracy'])}), "
             f"C = {number(out['C'], 3)}" + (" chosen on the validation part" if chosen else " (given)")]
    if chosen:
        lines += ["", table(["C", "validation accuracy"],
                            [[number(float(c), 3), percent(acc)] for c, acc in chosen.items()])]
    lines += ["", f"{out['n_features']:,} features from {files(out['features'])}",
              f"solver {out['solver']}, {out['n_iter']} iterations, "
              + ("converged" if out["converged"] else "not converged")]
    return "\n".join(lines)


def _matrix(title: str, names: Sequence[str], values, decimals: int = 3) -> str:
    return f"{title}\n" + table([""] + list(names),
                                [[name] + [fixed(v, decimals) for v in row] for name, row in zip(names, values)])


def format_compare(out: dict) -> str:
    names = out["names"]
    blocks = [f"{len(names)} feature sets; FSE on the {out['eval']} part ({out['n_eval_rows']:,} rows), "
              f"fit on {out['n_fit_rows']:,} rows; row i, column j: i → j (– on the diagonal)"]
    for key, title in (("fse", "FSE(row → column)"), ("asymmetry", "FSE(row → column) − FSE(column → row)"),
                       ("cka", "linear CKA"), ("cka_debiased", "debiased linear CKA")):
        if key in out:
            blocks.append(_matrix(title, names, out[key]))
    blocks.append("\n".join(f"{name}: {files(paths)}" for name, paths in out["files"].items()))
    return "\n\n".join(blocks)


def format_models(out: dict) -> str:
    options = ", ".join(f"{k} {v}" for k, v in out["options"].items())
    shape = "x".join(map(str, out["in_shape"]))
    rows = [[alpha_label(a), f"{p:,}", f"{f:,}", mf, mp] for a, p, f, mf, mp in
            zip(out["alphas"], out["n_params"], out["n_features"], out["m_feat"], out["m_param"])]
    return "\n".join([f"{out['arch']} ({options}), input {shape}, {out['n_classes']} classes; "
                      f"α = 1: {out['n_params_base']:,} parameters", "",
                      table(["α", "parameters", "features", "M_feat", "M_param"], rows)])


def format_plain(out: dict) -> str:
    return "\n".join(f"{key}: {value}" for key, value in out.items())


FORMATTERS = {"fse": format_fse, "probe": format_probe, "compare": format_compare, "models": format_models}


def render(command: str, out: dict) -> str:
    return FORMATTERS.get(command, format_plain)(out)

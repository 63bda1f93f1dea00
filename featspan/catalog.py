"""The catalog of the paper's outputs: every figure's and table's name, file slug, title and caption.

Light on purpose (no numpy or matplotlib): the Snakefile reads it to name targets and outputs. A caption
says what is plotted, never what should come out.
"""

from __future__ import annotations

GAP_FORMULA = {
    "forward": "FSE(concat. of M narrow → M_1) − FSE(M_1' → M_1)",
    "reverse": "FSE(M_1 → M_α) − FSE(concat. of M narrow → M_α)",
}
GAP_SIGN = {
    "forward": "Above zero: the concatenation's features span M_1's with a larger error than another base model's do.",
    "reverse": "Above zero: M_1's features span a held-out narrow model's with a larger error than a concatenation "
               "of other narrow models does.",
}
EVAL_NAME = {"validation": "validation part", "test": "test split"}
PANEL_ROWS = {"live": "every live target",
              "below_outlier_threshold": "targets with test error ≤ the outlier threshold (Appendix D.3)"}


def _gap(paper: str, direction: str, state: str, eval: str, rows=("live",)) -> dict:
    """A feature-span-gap figure: one of direction x state x evaluation set, one row of panels per
    target selection (``rows``)."""
    state_name = "trained" if state == "trained" else "random-init"
    rows_text = ("" if rows == ("live",) else " Top row: " + PANEL_ROWS[rows[0]] + "; bottom row: "
                 + PANEL_ROWS[rows[1]] + ", the count left out in the legend.")
    return {
        "section": "Feature span gap (Section 3" + (", test split, Appendix D.3)" if eval == "test" else ")"),
        "slug": f"fsg_{direction}_{state}" + ("_test" if eval == "test" else ""),
        "kind": "gap",
        "source": "span",
        "options": {"direction": direction, "state": state, "eval": eval, "rows": list(rows)},
        "title": f"{direction.capitalize()} FSG, {state_name} models, {EVAL_NAME[eval]}: {GAP_FORMULA[direction]}",
        "caption": (
            f"{direction.capitalize()} feature span gap of {state_name} models on the {EVAL_NAME[eval]} ({paper}): "
            f"FSG(α) = {GAP_FORMULA[direction]}, for M = M_param (solid) and M = M_feat (dashed); mean and "
            f"sample standard deviation over replicates (n in the legend); both FSEs of a gap average over the "
            f"same targets. {GAP_SIGN[direction]}{rows_text}"
        ),
    }


RESIDUAL_LINES = ["concat_param+over", "concat_param", "base+low_param"]

FIGURES = {
    "fig1": _gap("Figure 1, Finding 3.1", "forward", "trained", "validation"),
    "fig2": _gap("Figure 2", "reverse", "trained", "validation"),
    "fig3": {
        "section": "Feature performance (Section 3)",
        "slug": "fp_trained",
        "kind": "fp",
        "source": "probe",
        "options": {"state": "trained"},
        "title": "Feature performance: linear probe on M_1 vs narrow models and their concatenations",
        "caption": (
            "Feature performance (Figure 3, Finding 3.2): test accuracy of a linear softmax probe on the "
            "features of the base model M_1 (black line, band: sample std), one narrow model M_α, and "
            "concatenations of M_feat and M_param narrow models; mean and sample standard deviation over "
            "replicates."
        ),
    },
    "fig4": {
        "section": "Feature performance (Section 3)",
        "slug": "fp_residuals",
        "kind": "fp",
        "source": "probe",
        "options": {"state": "trained", "lines": RESIDUAL_LINES},
        "title": "Feature performance with residuals appended: [concat., R_over] and [M_1, R_low] vs concat. and M_1",
        "caption": (
            "Feature performance with residual features (Figure 4): test accuracy of a linear probe on the "
            "concatenation of M_param narrow models with the overparameterized residuals R_over appended "
            "(the part of M_1's features the concatenation does not span), on the concatenation alone, on "
            "M_1 (black line) and on M_1 with the low-width residuals R_low appended (the part of the "
            "concatenation's features M_1 does not span); mean and sample standard deviation over replicates."
        ),
    },
    "fig7": _gap("Figure 7", "forward", "init", "validation"),
    "fig8": _gap("Figure 8", "reverse", "init", "validation"),
    "fig10": {
        "section": "Feature performance (Section 3)",
        "slug": "fp_residuals_vgg16",
        "kind": "fp",
        "source": "probe",
        "archs": ["vgg16"],
        "options": {"state": "trained", "lines": RESIDUAL_LINES},
        "title": "VGG-16: feature performance with residuals appended (Figure 10: Figure 4 for VGG-16)",
        "caption": "Figure 10: Figure 4 for the VGG-16 experiments only.",
    },
    # Appendix D.3: "Figures 11, 12, 13 and 14 display the test errors corresponding to the figures in
    # Sections 3 and A.3"; 12(c)/(d) are the test version of 7(c) without and with the outlier rule.
    "fig11": _gap("Figure 11: Figure 1 on the test split", "forward", "trained", "test"),
    "fig12": _gap("Figure 12: Figure 7 on the test split", "forward", "init", "test",
                  rows=("live", "below_outlier_threshold")),
    "fig13": _gap("Figure 13: Figure 2 on the test split", "reverse", "trained", "test"),
    "fig14": _gap("Figure 14: Figure 8 on the test split", "reverse", "init", "test"),
}

TOY_SECTION = "Toy setting (Section 4)"
TOY_FIGURES = {
    "fig5": {
        "slug": "toy_correlation",
        "caption": "Figure 5: best cosine between a first-layer neuron and the addition (left) and multiplication "
                   "(right) signal vectors during training, over the neurons activated by that vector, one line "
                   "per first-layer width m (over all M models of that width; thick: mean over toy seeds, thin: "
                   "one seed).",
    },
    "fig6": {
        "slug": "toy_neuron_forces",
        "caption": "Figure 6: one neuron of a narrow model, activated by a signal vector at initialization: its "
                   "projection on that vector over training with the thresholds ±b, and the change of that "
                   "projection by each force as the step applies it (the normalized gradient step, with the "
                   "normalizer of toy.normalize, and weight decay), cumulated over steps.",
    },
    "fig9": {
        "slug": "toy_init_activation",
        "caption": "Figure 9: neurons per model activated by each signal vector at initialization (the absolute "
                   "projection of a neuron on the vector above the threshold b) against first-layer width m, on "
                   "log-log axes: mean ± sample std over seeds and vectors (n in the legend), addition and "
                   "multiplication vectors side by side, with the expectation m·erfc(b / (σ0 √2)) as a line.",
    },
}

TABLES = {
    "table1": {
        "slug": "toy_accuracy",
        "section": TOY_SECTION,
        "shows": "toy accuracy",
        "caption": "Table 1: average train and test accuracy of the M single toy models of each first-layer width m "
                   "(m x M constant), mean ± sample std over toy seeds (n seeds); beside it, a linear probe on the "
                   "concatenation of their first-layer features.",
    },
    "finding41": {
        "slug": "toy_finding",
        "section": TOY_SECTION,
        "shows": "Finding 4.1 per seed",
        "caption": "Finding 4.1 per toy seed and narrow width m: the signal vectors the wide model missed, the "
                   "addition vectors no model of the width-m concatenation learned, how many of its M models learned "
                   "each multiplication vector, and whether the finding holds (the wide model learns every vector; "
                   "the concatenation every addition vector and no multiplication vector); beside it, the narrow "
                   "models credited with a multiplication vector that fit no product (their cosines) and the models "
                   "that fit the product; below, the seeds where it held per width.",
    },
    "table2": {
        "slug": "accuracy_and_m",
        "section": "Tables",
        "shows": "accuracy and M values",
        "caption": "Table 2: train and test accuracy of single models M_α (mean ± sample std over every model of "
                   "that width and all replicates, n models), parameter and feature counts, M_feat and M_param; "
                   "below it, a regime line per experiment: the α = 1 models' train accuracy, their train − test "
                   "gap and the test accuracy lost at the smallest α (the paper's regime: α = 1 models that fit "
                   "their training data, at least 95 % here).",
    },
    "table3": {
        "slug": "residual_probes",
        "section": "Tables",
        "shows": "residual-only probes",
        "caption": "Table 3: test accuracy of linear probes on residual features alone at each experiment's smallest "
                   "α (R_over: what the trained M_param concatenation misses of M_1; R_low: what M_1 misses of the "
                   "concatenation) against the random-init M_1 and random-init concatenation; mean ± sample std over "
                   "replicates (n replicates).",
    },
}

TOY_TABLES = ("table1", "finding41")

TABLES["findings"] = {
    "slug": "paper_findings",
    "section": "Findings at a glance",
    "shows": "each finding per experiment",
    "caption": "The paper's findings, one per row, on every experiment: d is a per-replicate statistic with a side "
               "the paper predicts; each cell gives its mean ± sample std over replicates (n replicates), the 95 % "
               "t interval, p and a verdict: agrees or disagrees at p < 0.05 (two-sided one-sample t-test of mean "
               "d = 0; for a claim of little change, two one-sided tests against the stated margin), no evidence either "
               "way otherwise. One replicate: its value and 'n = 1, no test'. Experiments whose α = 1 models fit "
               "less than 95 % of their training data (Table 2) are not in the paper's regime and get no verdict. "
               "Definitions: docs/method.md section 9.",
}

# Tables 4 and 5 (Appendix D.4): regular vs shuffled forward FSE, one table per vision architecture.
SHUFFLED_TABLES = {"table4": "resnet18", "table5": "vgg16"}
for _name, _arch in SHUFFLED_TABLES.items():
    TABLES[_name] = {
        "slug": f"shuffled_fse_{_arch}",
        "section": "Tables",
        "shows": f"regular vs shuffled FSE, {_arch}",
        "arch": _arch,
        "caption": f"Table {_name.removeprefix('table')} (Appendix D.4): forward FSE of the trained {_arch} "
                   "experiments on the validation part and the test split, for the regular regression, the regular "
                   "regression on the shuffled pool's row counts, and the shuffled regression (fit and evaluation on "
                   "one pool of half training, half test inputs); α = 1 is FSE(M_1' → M_1), smaller α "
                   "FSE(concatenation of M_param narrow models → M_1); mean ± sample std over replicates (n "
                   "replicates); the fit and evaluation row counts of each regression beside it.",
    }


# Beyond the paper: all-pairs similarity matrices of one replicate's models (featspan compare).
COMPARE = {
    "section": "Similarity matrices (featspan compare)",
    "caption": "FSE(row → column) on the validation part and debiased linear CKA on the fit rows between M_1, M_1' "
               "and the first narrow model of every α of the first replicate ({state} models): one statistics pass, "
               "one eigendecomposition per regressor set. The diagonal of the FSE matrix (a set on itself) is left "
               "empty.",
}

"""The registry of the paper's figures (name, file slug, what it shows, caption) and of Tables 4 and 5.

Light on purpose (no numpy or matplotlib): the Snakefile reads it to name targets and outputs.
"""

from __future__ import annotations

GAP_FORMULA = {
    "forward": "FSE(concat. of M narrow → M_1) − FSE(M_1' → M_1)",
    "reverse": "FSE(M_1 → M_α) − FSE(concat. of M narrow → M_α)",
}
GAP_MEANING = {
    "forward": "Positive: the narrow models together span the base model's features worse than another base "
               "model does.",
    "reverse": "Positive: the base model spans a held-out narrow model's features worse than a concatenation "
               "of other narrow models does.",
}
EVAL_NAME = {"validation": "validation part", "test": "test split"}


def _gap(paper: str, direction: str, state: str, eval: str) -> dict:
    """A feature-span-gap figure: one of direction x state x evaluation set."""
    state_name = "trained" if state == "trained" else "random-init"
    return {
        "section": "Feature span gap (Section 3" + (", test split, Appendix D.3)" if eval == "test" else ")"),
        "slug": f"fsg_{direction}_{state}" + ("_test" if eval == "test" else ""),
        "kind": "gap",
        "source": "span",
        "options": {"direction": direction, "state": state, "eval": eval},
        "title": f"{direction.capitalize()} FSG, {state_name} models, {EVAL_NAME[eval]}: {GAP_FORMULA[direction]}",
        "caption": (
            f"{direction.capitalize()} feature span gap of {state_name} models on the {EVAL_NAME[eval]} ({paper}): "
            f"FSG(alpha) = {GAP_FORMULA[direction]}, for M = M_param (solid) and M = M_feat (dashed); mean and "
            f"standard deviation over replicates. {GAP_MEANING[direction]}"
        ),
    }


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
            "features of the base model M_1, one narrow model M_alpha, and concatenations of M_feat and "
            "M_param narrow models."
        ),
    },
    "fig4": {
        "section": "Feature performance (Section 3)",
        "slug": "fp_residuals",
        "kind": "fp",
        "source": "probe",
        "options": {"state": "trained", "lines": ["concat_param+over", "concat_param", "base+low_param"]},
        "title": "Feature performance with residuals appended: [concat., R_over] and [M_1, R_low] vs concat. and M_1",
        "caption": (
            "Feature performance with residual features (Figure 4): test accuracy of a linear probe on the "
            "concatenation of M_param narrow models with the overparameterized residuals R_over appended "
            "(the part of M_1's features the concatenation does not span), on the concatenation alone, and on "
            "M_1 with the low-width residuals R_low appended. R_over raises accuracy toward M_1; R_low barely "
            "moves M_1."
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
        "options": {"state": "trained", "lines": ["concat_param+over", "concat_param", "base+low_param"]},
        "title": "VGG-16: feature performance with residuals appended (Figure 10: Figure 4 for VGG-16)",
        "caption": "Figure 10: Figure 4 for the VGG-16 experiments only.",
    },
    "fig11": _gap("Figure 11: Figure 1 on the test split", "forward", "trained", "test"),
    "fig12": _gap("Figure 12: Figure 2 on the test split", "reverse", "trained", "test"),
    "fig13": _gap("Figure 13: Figure 7 on the test split", "forward", "init", "test"),
    "fig14": _gap("Figure 14: Figure 8 on the test split", "reverse", "init", "test"),
}

# Tables 4 and 5 (Appendix D.4): regular vs shuffled forward FSE, one table per vision architecture.
SHUFFLED_TABLES = {"table4": "resnet18", "table5": "vgg16"}

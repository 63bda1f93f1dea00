"""The registry of the paper's figures: name, file slug, what it shows, and its caption.

Light on purpose (no numpy or matplotlib): the Snakefile reads it to name targets and outputs.
"""

from __future__ import annotations

FIGURES = {
    "fig1": {
        "slug": "fsg_forward_trained",
        "kind": "gap",
        "source": "span",
        "options": {"direction": "forward", "state": "trained", "eval": "validation"},
        "caption": (
            "Forward feature span gap of trained models on the validation part (Figure 1, Finding 3.1): "
            "FSG(alpha) = FSE(concatenation of M narrow models -> M_1) - FSE(M_1' -> M_1), for M = M_param "
            "(solid) and M = M_feat (dashed). Positive: the narrow models together span the base model's "
            "features worse than another base model does."
        ),
    },
    "fig3": {
        "slug": "fp_trained",
        "kind": "fp",
        "source": "probe",
        "options": {"state": "trained"},
        "caption": (
            "Feature performance (Figure 3, Finding 3.2): test accuracy of a linear softmax probe on the "
            "features of the base model M_1, one narrow model M_alpha, and concatenations of M_feat and "
            "M_param narrow models."
        ),
    },
}

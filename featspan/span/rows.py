"""Which rows of each split a regression fits on, chooses lambda on, and evaluates on (docs/method.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NONE, FIT, VALIDATION, TEST = 0, 1, 2, 3
EVAL_ROLES = {"validation": VALIDATION, "test": TEST}


@dataclass
class RowPlan:
    """Which rows of each split are fit, validation or test rows of the regression.

    ``roles[split][i]`` is one of FIT, VALIDATION, TEST or NONE.
    """

    roles: dict[str, np.ndarray]
    kind: str = "regular"

    def count(self, role: int) -> int:
        return int(sum(np.count_nonzero(r == role) for r in self.roles.values()))

    def without(self, *roles: int) -> "RowPlan":
        """The same plan with the rows of ``roles`` unused (a pass over the data then skips them)."""
        return RowPlan({split: np.where(np.isin(r, roles), NONE, r).astype(np.int8) for split, r in self.roles.items()},
                       self.kind)

    @classmethod
    def regular(cls, n_train: int, n_test: int, validation_fraction: float = 0.1, seed: int = 0) -> "RowPlan":
        """Training rows split into fit and validation parts (fixed seed); the test split evaluates."""
        _check_fraction(validation_fraction)
        train = np.full(n_train, FIT, dtype=np.int8)
        n_val = int(round(validation_fraction * n_train))
        if n_val:
            rng = np.random.default_rng(seed)
            train[rng.choice(n_train, size=n_val, replace=False)] = VALIDATION
        return cls({"train": train, "test": np.full(n_test, TEST, dtype=np.int8)}, "regular")

    @classmethod
    def shuffled(cls, n_train: int, n_test: int, validation_fraction: float = 0.1, seed: int = 0) -> "RowPlan":
        """Appendix D.4: fit and evaluation rows drawn from a pool half training, half test inputs.

        The pool is all test rows plus as many randomly chosen training rows. Each origin is split in
        halves: the first halves form the regression's training set (itself split into fit and
        validation parts), the second halves its test set, so both come from the same mixture.
        """
        _check_fraction(validation_fraction)
        rng = np.random.default_rng(seed)
        m = min(n_train, n_test)
        train = np.full(n_train, NONE, dtype=np.int8)
        test = np.full(n_test, NONE, dtype=np.int8)
        train_pick = rng.choice(n_train, size=m, replace=False)
        test_pick = rng.choice(n_test, size=m, replace=False)
        half = m // 2
        train[train_pick[:half]] = FIT
        test[test_pick[:half]] = FIT
        train[train_pick[half:]] = TEST
        test[test_pick[half:]] = TEST
        fit_rows = [("train", i) for i in train_pick[:half]] + [("test", i) for i in test_pick[:half]]
        n_val = int(round(validation_fraction * len(fit_rows)))
        for j in rng.choice(len(fit_rows), size=n_val, replace=False):
            split, i = fit_rows[j]
            (train if split == "train" else test)[i] = VALIDATION
        return cls({"train": train, "test": test}, "shuffled")


    @classmethod
    def regular_subsampled(cls, n_train: int, n_test: int, validation_fraction: float = 0.1,
                           seed: int = 0) -> "RowPlan":
        """The regular regression on as many rows as :meth:`shuffled` uses: its fit and validation rows
        drawn from the training split only, its test rows from the test split only, in the shuffled
        plan's counts. Beside the shuffled regression it separates the effect of mixing the splits
        from the effect of fewer rows (Tables 4 and 5)."""
        _check_fraction(validation_fraction)
        m = min(n_train, n_test)
        n_fit_part, n_eval = 2 * (m // 2), min(n_test, 2 * (m - m // 2))
        rng = np.random.default_rng([seed, 1])
        train = np.full(n_train, NONE, dtype=np.int8)
        test = np.full(n_test, NONE, dtype=np.int8)
        picked = rng.choice(n_train, size=n_fit_part, replace=False)
        n_val = int(round(validation_fraction * n_fit_part))
        train[picked[n_val:]] = FIT
        train[picked[:n_val]] = VALIDATION
        test[rng.choice(n_test, size=n_eval, replace=False)] = TEST
        return cls({"train": train, "test": test}, "regular_subsampled")


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")

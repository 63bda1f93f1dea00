"""One measure of spread for every table and figure: the mean, the sample standard deviation (ddof = 1)
and the count n of the values it summarizes (replicates, seeds or models)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: float | None  # None for a single value: a spread of one value is undefined, not 0
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> "Spread":
        """Mean, sample standard deviation and count of the values that are not None (NaN stays NaN)."""
        arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
        if arr.size == 0:
            return cls(math.nan, None, 0)
        return cls(float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else None, int(arr.size))

    @property
    def error_bar(self) -> float:
        """The half-height of an error bar: the sample std, 0 where there is one value (no bar)."""
        return 0.0 if self.sd is None else self.sd

    def format(self, fmt: str = ".4f", scale: float = 1.0, with_n: bool = True) -> str:
        """``0.1234 ± 0.0056 (n = 3)``, or ``0.1234 (n = 1)`` for one value; ``–`` for none."""
        if self.n == 0:
            return "–"
        text = f"{self.mean * scale:{fmt}}"
        if self.sd is not None:
            text += f" ± {self.sd * scale:{fmt}}"
        return f"{text} (n = {self.n})" if with_n else text

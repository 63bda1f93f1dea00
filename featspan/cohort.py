"""Cohorts: which models one (experiment, alpha, replicate) trains, and what each is for.

method.md section 3: replicate r has its own base model and its own disjoint group of low-width
seeds, so replicates are independent. Model seeds are ``replicate_seed * SEED_STRIDE + index``:

* alpha = 1: index 0 is the base model M_1, index 1 another base seed M_1' (the FSG reference);
* alpha < 1: indices ``0..M-1`` are the narrow models of the concatenations (the features-matched
  one is the first M_feat of them, the parameters-matched one the first M_param), and index
  ``max(M_feat, M_param)`` is the held-out target M_alpha of the reverse direction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .h5 import atomic_path
from .models.scaling import alpha_token

SEED_STRIDE = 10_000
MANIFEST = "cohort.json"


@dataclass
class Cohort:
    experiment: str
    arch: str
    alpha: float
    replicate: int
    seeds: list[int]
    m_feat: int
    m_param: int
    n_params: int
    n_features: int
    n_params_base: int

    @classmethod
    def plan(cls, experiment: str, arch: str, alpha: float, replicate: int, family) -> "Cohort":
        size = family.cohort_size
        if size > SEED_STRIDE:
            raise ValueError(f"a cohort of {size} models exceeds the seed stride {SEED_STRIDE}")
        seeds = [replicate * SEED_STRIDE + i for i in range(size)]
        return cls(experiment, arch, float(alpha), replicate, seeds, family.m_feat, family.m_param,
                   family.n_params, family.n_features, family.n_params_base)

    @property
    def is_base(self) -> bool:
        return self.alpha == 1

    def group(self, name: str) -> list[int]:
        """Seeds of a named group: base, base_other, concat_feat, concat_param, single, target."""
        if self.is_base:
            groups = {"base": self.seeds[:1], "base_other": self.seeds[1:2]}
        else:
            groups = {"concat_feat": self.seeds[:self.m_feat], "concat_param": self.seeds[:self.m_param],
                      "single": self.seeds[:1], "target": self.seeds[-1:]}
        if name not in groups:
            raise KeyError(f"cohort at alpha={self.alpha} has no group {name!r}")
        return groups[name]

    def filename(self, seed: int, suffix: str) -> str:
        return f"{self.arch}_a{alpha_token(self.alpha)}_s{seed}{suffix}"

    def save(self, directory: str | Path) -> None:
        with atomic_path(Path(directory) / MANIFEST) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> "Cohort":
        path = Path(directory) / MANIFEST
        if not path.exists():
            raise FileNotFoundError(f"{path}: cohort manifest missing")
        return cls(**json.loads(path.read_text()))

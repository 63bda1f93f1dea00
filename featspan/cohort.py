"""Cohorts: which models one (experiment, alpha, replicate) trains, and what each is for.

docs/method.md section 3: replicate r has its own base model and its own disjoint group of low-width
models, so replicates are independent. Models are numbered within their cohort:

* alpha = 1: model 0 is the base model M_1, model 1 another base model M_1' (the FSG reference);
* alpha < 1: models ``0..M-1`` are the narrow models of the concatenations (the features-matched
  one is the first M_feat of them, the parameters-matched one the first M_param), and model
  ``max(M_feat, M_param)`` is the held-out target M_alpha of the reverse direction.

Every model's init and data streams come from :func:`featspan.seeding.model_streams`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .io import atomic_path
from .models.scaling import alpha_token
from .seeding import model_streams

MANIFEST = "cohort.json"


def experiment_cohorts(experiment: dict) -> list[tuple[str, int]]:
    """(alpha token, replicate seed) of every cohort an experiment trains (from the config alone)."""
    return [(alpha_token(a), r) for a in experiment["alphas"] for r in experiment["seeds"]]


@dataclass
class Cohort:
    experiment: str
    arch: str
    alpha: float
    replicate: int
    seeds: list[int]        # per model: its init stream (torch.manual_seed before building it)
    data_seeds: list[int]   # per model: its batch order and augmentation stream
    data_order: str         # own (each model its stream) or shared (the ablation)
    m_feat: int
    m_param: int
    n_params: int
    n_features: int
    n_params_base: int

    @classmethod
    def plan(cls, experiment: str, arch: str, alpha: float, replicate: int, family,
             data_order: str = "own") -> "Cohort":
        streams = [model_streams(experiment, alpha, replicate, i, data_order) for i in range(family.cohort_size)]
        return cls(experiment, arch, float(alpha), replicate, [s.init for s in streams], [s.data for s in streams],
                   data_order, family.m_feat, family.m_param, family.n_params, family.n_features,
                   family.n_params_base)

    @property
    def is_base(self) -> bool:
        return self.alpha == 1

    @property
    def indices(self) -> list[int]:
        return list(range(len(self.seeds)))

    def group(self, name: str) -> list[int]:
        """Model indices of a named group: base, base_other, concat_feat, concat_param, single, target."""
        size = len(self.seeds)
        if self.is_base:
            groups = {"base": [0], "base_other": [1]}
        else:
            groups = {"concat_feat": list(range(self.m_feat)), "concat_param": list(range(self.m_param)),
                      "single": [0], "target": [size - 1]}
        if name not in groups:
            raise KeyError(f"cohort at alpha={self.alpha} has no group {name!r}")
        return groups[name]

    def filename(self, index: int, suffix: str) -> str:
        return f"{self.arch}_a{alpha_token(self.alpha)}_r{self.replicate}_m{index}{suffix}"

    def save(self, directory: str | Path) -> None:
        with atomic_path(Path(directory) / MANIFEST) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> "Cohort":
        path = Path(directory) / MANIFEST
        if not path.exists():
            raise FileNotFoundError(f"{path}: cohort manifest missing")
        return cls(**json.loads(path.read_text()))

"""The random streams of every model of a study, derived in one place (docs/method.md section 3).

Each trained model is keyed by (experiment, alpha, replicate, index in its cohort). From that key a
``numpy.random.SeedSequence`` spawns two independent children: the *init* stream (the seed torch is
given before the model is built) and the *data* stream (its batch order and augmentation draws).
Distinct keys give statistically independent streams, so:

* no narrow model starts as a slice of M_1 or of another narrow model (with seeds like
  ``replicate * 10000 + i`` at every alpha, model 0 of every alpha drew the first rows of M_1's
  first layer);
* every model sees its own batch order and augmentation.

A model's random-init twin is that model before its first step (its init stream), not another draw.

``data_order: shared`` (an ablation, recorded in every cohort manifest) gives every model of a
replicate one common data stream, keyed by (experiment, replicate) alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

# Distinguishes featspan's keys from any other use of SeedSequence with small integer entropy.
_DOMAIN = 0x666561747370616E  # "featspan"
_INIT, _DATA, _SHARED_DATA, _TOY, _TOY_DATA = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class ModelStreams:
    init: int  # torch.manual_seed before the model is built
    data: int  # batch order and augmentation draws


def _name_word(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def _seed(*words: int) -> int:
    """A 63-bit seed from a SeedSequence over the words (fits torch.manual_seed and numpy alike)."""
    state = np.random.SeedSequence([_DOMAIN, *words]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def model_streams(experiment: str, alpha: float, replicate: int, index: int,
                  data_order: str = "own") -> ModelStreams:
    """The init and data streams of model ``index`` of the cohort (experiment, alpha, replicate)."""
    if replicate < 0 or index < 0:
        raise ValueError(f"replicate and index must be non-negative, got {replicate} and {index}")
    frac = Fraction(alpha).limit_denominator(1 << 20)
    key = (_name_word(experiment), frac.numerator, frac.denominator, replicate, index)
    if data_order == "own":
        data = _seed(_DATA, *key)
    elif data_order == "shared":
        data = _seed(_SHARED_DATA, _name_word(experiment), replicate)
    else:
        raise ValueError(f"unknown data_order {data_order!r} (own or shared)")
    return ModelStreams(init=_seed(_INIT, *key), data=data)


def toy_model_seed(seed: int, width: int, index: int) -> int:
    """The first-layer and upper-layer init stream of toy model ``index`` of width ``width`` in toy run
    ``seed``: the wide model and every narrow model draw independently (no model is a slice of another)."""
    return _seed(_TOY, seed, width, index)


def toy_data_seed(seed: int, width: int, index: int) -> int:
    """The batch-order stream of toy model ``index`` of width ``width`` in toy run ``seed`` (docs/method.md
    section 3: every model has its own init and data streams; it does not depend on the cohort's size)."""
    return _seed(_TOY_DATA, seed, width, index)

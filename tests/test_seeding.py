"""Independent models (docs/method.md section 3): every model of a study has its own init and data streams."""
import itertools

import numpy as np
import pytest
import torch

from featspan.cohort import Cohort
from featspan.models import build_model, scaled_family
from featspan.seeding import model_streams, toy_model_seed
from featspan.toy import ToyCohort, ToyConfig
from featspan.train import batch_order


def shares_a_leading_slice(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether the common leading block of two tensors of one rank is equal (a narrow layer drawn from
    the same stream as a wide one is the wide one's first rows and columns)."""
    if a.dim() != b.dim() or a.dim() == 0:
        return False
    block = tuple(slice(0, min(i, j)) for i, j in zip(a.shape, b.shape))
    return torch.equal(a[block], b[block])


def random_tensors(model) -> list[torch.Tensor]:
    """The tensors an init draws at random (BatchNorm's ones and zeros are the same in every model)."""
    return [t for t in model.state_dict().values() if t.is_floating_point() and t.numel() > 1 and t.std() > 0]


def planned_models(experiment, arch, alphas, replicates, in_shape, **options):
    for alpha, replicate in itertools.product(alphas, replicates):
        family = scaled_family(arch, alpha, in_shape, 3, **options)
        cohort = Cohort.plan(experiment, arch, alpha, replicate, family)
        for i, seed in enumerate(cohort.seeds):
            torch.manual_seed(seed)
            yield (alpha, replicate, i), build_model(arch, alpha, in_shape, 3, **options)


@pytest.mark.parametrize("arch, in_shape, options", [("mlp", (12,), {"widths": [32, 32]}),
                                                     ("resnet18", (1, 8, 8), {"base_width": 4})])
def test_no_model_shares_an_init_tensor_or_a_leading_slice_of_one(arch, in_shape, options):
    models = list(planned_models("exp", arch, [1, 0.5, 0.25], [0, 1], in_shape, **options))
    assert len(models) > 20
    tensors = [(key, t) for key, model in models for t in random_tensors(model)]
    for (key_a, a), (key_b, b) in itertools.combinations(tensors, 2):
        if key_a != key_b:
            assert not shares_a_leading_slice(a, b), (key_a, key_b, a.shape, b.shape)


def test_the_old_seeding_would_have_been_caught():
    """The check above is not vacuous: seeds replicate * 10000 + i made model 0 of alpha = 1/2 the
    first rows of M_1's first layer."""
    torch.manual_seed(0)
    wide = build_model("mlp", 1.0, (12,), 3, widths=[32, 32])
    torch.manual_seed(0)
    narrow = build_model("mlp", 0.5, (12,), 3, widths=[32, 32])
    assert shares_a_leading_slice(random_tensors(wide)[0], random_tensors(narrow)[0])


def test_streams_differ_for_every_key_and_are_stable():
    keys = list(itertools.product(["a", "b"], [1, 0.5, 1 / 16], [0, 1, 2], range(4)))
    streams = [model_streams(*k) for k in keys]
    seeds = [s.init for s in streams] + [s.data for s in streams]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2 ** 63 for s in seeds)
    assert model_streams("a", 0.5, 1, 3) == model_streams("a", 0.5, 1, 3)


def test_two_models_batch_orders_differ_unless_shared():
    family = scaled_family("mlp", 0.25, (12,), 3, widths=[32, 32])
    own = Cohort.plan("exp", "mlp", 0.25, 0, family)
    orders = [batch_order(500, 0, s) for s in own.data_seeds]
    assert all(not np.array_equal(a, b) for a, b in itertools.combinations(orders, 2))
    shared = Cohort.plan("exp", "mlp", 0.25, 0, family, data_order="shared")
    assert len(set(shared.data_seeds)) == 1 and shared.seeds == own.seeds and shared.data_order == "shared"
    other_alpha = Cohort.plan("exp", "mlp", 0.5, 0, scaled_family("mlp", 0.5, (12,), 3, widths=[32, 32]),
                              data_order="shared")
    assert other_alpha.data_seeds[0] == shared.data_seeds[0]  # one stream per replicate


def test_toy_models_are_independent_of_each_other_and_of_the_wide_model():
    cfg = ToyConfig(d=12, hidden=4)
    narrow = ToyCohort.init(cfg, 5, 8, seed=0)
    wide = ToyCohort.init(cfg, 1, 40, seed=0)
    firsts = [narrow.params["w1"][i] for i in range(5)] + [wide.params["w1"][0]]
    for a, b in itertools.combinations(firsts, 2):
        assert not shares_a_leading_slice(a, b)
    assert toy_model_seed(0, 8, 0) != toy_model_seed(0, 40, 0)

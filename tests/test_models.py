"""The paper's model families: sizes from the real modules, features, cohorts, the models command."""
import json

import pytest
import torch

from featspan.cli import main
from featspan.models import PAPER_SETTINGS, build_model, count_params, scaled_family
from featspan.train import CohortSpec, TrainConfig, train_cohort

PAPER_M_PARAM = {"resnet18": [4, 16, 64, 254], "vgg16": [4, 16, 64, 251]}
ALPHAS = [0.5, 0.25, 0.125, 0.0625]


@pytest.mark.parametrize("arch", ["resnet18", "vgg16"])
def test_m_param_within_three_of_table_2(arch):
    s = PAPER_SETTINGS[arch]
    ours = [scaled_family(arch, a, s["in_shape"], s["n_classes"], **s["options"]).m_param for a in ALPHAS]
    assert all(abs(a - b) <= 3 for a, b in zip(ours, PAPER_M_PARAM[arch])), ours


def test_paper_base_sizes():
    s = PAPER_SETTINGS["resnet18"]
    assert count_params(build_model("resnet18", 1, s["in_shape"], 10)) == 11_173_962  # the usual CIFAR ResNet-18
    t = PAPER_SETTINGS["transformer"]
    model = build_model("transformer", 1, t["in_shape"], 3, **t["options"])
    layer = model.encoder.layers[0]
    assert (layer.self_attn.num_heads, layer.linear1.out_features, len(model.encoder.layers)) == (4, 1024, 4)


@pytest.mark.parametrize("arch,shape,options,n_features", [
    ("resnet18", (3, 32, 32), {"base_width": 64}, 512),
    ("vgg16", (3, 32, 32), {"base_width": 64}, 512),
    ("vgg16", (1, 12, 12), {"base_width": 8}, 64),       # small images pass the five poolings
    ("transformer", (6, 9), {"hidden": 32, "mlp": 64, "positional": True}, 32),
])
@pytest.mark.parametrize("alpha", [1, 0.25])
def test_features_are_the_head_input(arch, shape, options, n_features, alpha):
    torch.manual_seed(0)
    model = build_model(arch, alpha, shape, 10, **options).eval()
    x = torch.randn(3, *shape)
    f = model.features(x)
    assert f.shape == (3, round(n_features * alpha)) == (3, model.n_features)
    torch.testing.assert_close(model.head(f), model(x))


def test_transformer_ignores_padded_positions():
    torch.manual_seed(0)
    model = build_model("transformer", 1, (5, 4), 3, hidden=16, mlp=32).eval()
    x = torch.randn(2, 5, 4)
    x[:, 3:] = 0                                      # two padded positions
    other = x.clone()
    other[:, 3:] = 0
    shorter = x[:, :3]
    torch.testing.assert_close(model.features(x), model.features(shorter), rtol=1e-5, atol=1e-6)


def test_transformer_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        build_model("transformer", 0.125, (4, 4), 3, hidden=16, mlp=32, n_heads=4)


def test_resnet_cohort_matches_one_by_one():
    """BatchNorm statistics and augmentation stay per model in a vmap cohort."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 8, 8, generator=g)
    y = torch.randint(0, 3, (96,), generator=g)
    spec = CohortSpec(lambda: build_model("resnet18", 0.5, (1, 8, 8), 3, base_width=4), [1, 2, 3], [4, 5, 6])
    cfg = TrainConfig(epochs=2, batch_size=32, optimizer="sgd", lr=0.05, schedule="step", crop_padding=1)
    together = train_cohort(spec, x, y, cfg)
    alone = train_cohort(spec, x, y, TrainConfig(**{**cfg.__dict__, "mode": "sequential"}))
    for a, b in zip(together, alone):
        for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
            # batched and single convolutions sum in different orders: after 6 steps entries of weights
            # of size 0.1-0.7 differ by up to 4e-5 with torch 2.14's CPU kernels, a bug would differ by far more
            torch.testing.assert_close(ta.float(), tb.float(), rtol=1e-4, atol=1e-4, msg=name)


def test_models_command_json(capsys):
    assert main(["models", "--arch", "vgg16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"arch", "alphas", "n_params", "n_features", "m_feat", "m_param"}
    assert out["alphas"] == ALPHAS and out["m_feat"] == [2, 4, 8, 16] and out["n_features"] == [256, 128, 64, 32]
    assert out["m_param"][:3] == [4, 16, 64]

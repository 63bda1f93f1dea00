"""The torch paths a GPU runs, checked against CPU references on each device this machine has.

The "cpu" cases run everywhere (torch on the CPU against numpy and scikit-learn: the same comparisons);
the "cuda" cases run where torch sees a GPU and skip elsewhere. On a GPU machine, ``pytest -m gpu``
runs those alone.
"""
from dataclasses import replace

import warnings

import numpy as np
import pytest

from featspan.device import cuda_available

GPU = cuda_available()
ON_GPU = [pytest.mark.gpu, pytest.mark.skipif(not GPU, reason="no CUDA GPU")]
DEVICES = ["cpu", pytest.param("cuda", marks=ON_GPU)]


# ------------------------------------------------------------------------------------------- span
@pytest.mark.parametrize("device", DEVICES)
def test_span_on_device_matches_numpy(make_features, device):
    """Statistics, eigendecomposition and lambda path in torch (float64) on ``device``: the same FSE,
    lambdas and coefficients as numpy within 1e-8, for a concatenation of two files with a dead target."""
    from featspan.h5 import FeatureBank
    from featspan.span import LambdaGrid, RidgeSpan, RowPlan, SpanStatistics
    from featspan.span.backend import get_backend

    rng = np.random.default_rng(21)
    n_train, n_test, p, q = 900, 300, 160, 24
    x = (rng.normal(size=(n_train + n_test, p)) @ (np.eye(p) + rng.normal(size=(p, p)) / np.sqrt(p))) * 3 + 1
    y = x @ rng.normal(size=(p, q)) / np.sqrt(p) + 0.5 * rng.normal(size=(n_train + n_test, q))
    y[:, 0] = 2.0  # a dead target
    x, y = x.astype(np.float32), y.astype(np.float32)
    files = [make_features(name, part[:n_train], part[n_train:])
             for name, part in (("a1", x[:, :100]), ("a2", x[:, 100:]), ("b", y))]
    plan = RowPlan.regular(n_train, n_test, 0.1, seed=3)
    grid = LambdaGrid.logspace(1e-5, 1e3, 13)
    out = {}
    for backend in (get_backend("numpy"), get_backend("torch", device)):
        stats = SpanStatistics.compute(FeatureBank(files), plan, chunk_rows=128, backend=backend)
        span = RidgeSpan(stats, [0, 1], [2])
        out[backend.describe().split(":")[0]] = [span.run(grid, per_target) for per_target in (True, False)]
    for (ref, ref_coef), (got, got_coef) in zip(out["numpy"], out["torch"]):
        assert got.n_dead == ref.n_dead == 1
        np.testing.assert_array_equal(got.lambdas, ref.lambdas)
        np.testing.assert_allclose(got_coef, ref_coef, rtol=1e-8, atol=1e-12 * np.abs(ref_coef).max())
        for name in ("validation", "test"):
            np.testing.assert_allclose(got.errors[name], ref.errors[name], rtol=1e-8)


# ------------------------------------------------------------------------------------------ probe
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("C", [0.01, 1.0])
def test_torch_probe_on_device_matches_sklearn(device, C):
    """torch's L-BFGS (float32) on ``device``: accuracy within 0.5 points of LogisticRegression at the
    same C, coefficients within 0.2 % of the largest."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from featspan.probe import LogisticProbe, ProbeConvergenceWarning

    rng = np.random.default_rng(5)
    n, d, k = 2100, 60, 4
    x = rng.normal(size=(n, d)) @ (np.eye(d) + 0.9 * rng.normal(size=(d, d)) / np.sqrt(d))
    x = (x * rng.uniform(0.1, 10, size=d) + rng.normal(size=d)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(d, k)) / np.sqrt(d) + 1.5 * rng.gumbel(size=(n, k)), axis=1)
    (x, y), (xt, yt) = (x[:1500], y[:1500]), (x[1500:], y[1500:])
    assert LogisticProbe(C=C, device=device, solver="torch").fit(x, y).converged_  # at the default tolerance
    with warnings.catch_warnings():  # far below it, float32's resolution stops torch's L-BFGS first
        warnings.simplefilter("ignore", ProbeConvergenceWarning)
        probe = LogisticProbe(C=C, max_iter=1000, tol=1e-7, device=device, solver="torch").fit(x, y)
    scaler = StandardScaler().fit(x)
    ref = LogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(scaler.transform(x), y)
    assert abs(probe.score(xt, yt) - ref.score(scaler.transform(xt), yt)) <= 0.005
    np.testing.assert_allclose(probe.coef_, ref.coef_, atol=2e-3 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(probe.intercept_, ref.intercept_, atol=2e-3 * max(1.0, np.abs(ref.intercept_).max()))


# --------------------------------------------------------------------------------------- training
def _weights(models):
    import torch
    return [torch.cat([p.detach().float().cpu().flatten() for p in m.parameters()]) for m in models]


@pytest.mark.parametrize("arch, mode", [("mlp", "cohort"), ("resnet18", "cohort"), ("resnet18", "sequential")])
@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="no CUDA GPU")
def test_training_on_the_gpu_matches_the_cpu(arch, mode, monkeypatch):
    """Full precision (amp none, TF32 off) on the GPU trains the same weights as the CPU, to float32
    rounding and cuDNN's choice of algorithms; channels_last in the one-by-one mode. A different data
    order, augmentation or initialization would differ by orders of magnitude more."""
    import torch

    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # matmuls: full float32 by default

    from featspan.models import build_model
    from featspan.train import CohortSpec, TrainConfig, train_cohort

    shape = (12,) if arch == "mlp" else (3, 8, 8)
    options = {"widths": [16, 16]} if arch == "mlp" else {"base_width": 4}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, *shape, generator=g)
    y = x.flatten(1)[:, :3].argmax(1)
    spec = CohortSpec(lambda: build_model(arch, 0.5, shape, 3, **options), [1, 2], [11, 12])
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, optimizer="sgd", amp="none", mode=mode, device="cpu")
    cpu = train_cohort(spec, x, y, cfg)
    gpu = train_cohort(spec, x, y, replace(cfg, device="cuda"))
    for a, b in zip(_weights(gpu), _weights(cpu)):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="no CUDA GPU")
def test_mixed_precision_training_on_the_gpu_learns(amp):
    """The paper-scale default (bf16 autocast; fp16 with a gradient scaler) trains: finite weights and
    training accuracy well above chance on an easy task."""
    import torch

    from featspan.models import build_model
    from featspan.train import CohortSpec, TrainConfig, accuracy, train_cohort

    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 3, 8, 8, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long()
    spec = CohortSpec(lambda: build_model("resnet18", 0.5, (3, 8, 8), 2, base_width=4), [1], [2])
    cfg = TrainConfig(epochs=8, batch_size=64, lr=3e-3, amp=amp, mode="sequential", device="cuda")
    (model,) = train_cohort(spec, x, y, cfg)
    assert all(torch.isfinite(w).all() for w in _weights([model]))
    assert accuracy(model, x, y, device="cuda") > 0.8


@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="no CUDA GPU")
def test_feature_extraction_on_the_gpu_matches_the_cpu():
    import torch

    from featspan.models import build_model
    from featspan.train import extract_features

    torch.manual_seed(0)
    model = build_model("vgg16", 0.25, (3, 8, 8), 10, base_width=16)
    x = torch.randn(300, 3, 8, 8)
    cpu = extract_features(model, x, batch_size=128, device="cpu")
    gpu = extract_features(model, x, batch_size=128, device="cuda")
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-3 * np.abs(cpu).max())

"""Training: cohorts equal one-by-one training, init twins, resume, divergence, determinism."""
import numpy as np
import pytest
import torch

from featspan.models import build_model, count_params, scaled_family
from featspan.train import CohortSpec, TrainConfig, TrainingDiverged, train_cohort


def _data(n=256, d=12, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, :k].argmax(1))


def _spec(seeds, alpha=0.5, data_order="own"):
    data = [s + 100 for s in seeds] if data_order == "own" else [7] * len(seeds)
    return CohortSpec(lambda: build_model("mlp", alpha, (12,), 3, widths=[16, 16]), seeds, data)


def _weights(models):
    return [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]


@pytest.mark.parametrize("data_order", ["shared", "own"])
def test_cohort_matches_one_by_one(data_order):
    torch.set_num_threads(1)
    x, y = _data()
    cfg = TrainConfig(epochs=3, batch_size=32, lr=1e-2, optimizer="sgd", schedule="step")
    cohort = train_cohort(_spec([1, 2, 3], data_order=data_order), x, y, cfg)
    alone = train_cohort(_spec([1, 2, 3], data_order=data_order), x, y, TrainConfig(**{**cfg.__dict__, "mode": "sequential"}))
    for a, b in zip(_weights(cohort), _weights(alone)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(_weights(cohort)[0], _weights(cohort)[1])  # different seeds, different models


def test_init_twins_are_saved_before_training():
    x, y = _data()
    seen = {}
    models = train_cohort(_spec([5]), x, y, TrainConfig(epochs=1, batch_size=64),
                          on_init=lambda ms: seen.update(w=_weights(ms)[0].clone()))
    torch.manual_seed(5)
    fresh = build_model("mlp", 0.5, (12,), 3, widths=[16, 16])
    torch.testing.assert_close(seen["w"], _weights([fresh])[0])
    assert not torch.equal(seen["w"], _weights(models)[0])


@pytest.mark.parametrize("mode", ["cohort", "sequential"])
def test_resume_ends_with_the_same_weights(tmp_path, mode):
    x, y = _data()
    cfg = TrainConfig(epochs=4, batch_size=32, lr=3e-3, mode=mode, checkpoint_every=1)
    full = train_cohort(_spec([1, 2]), x, y, cfg)
    resume = tmp_path / "resume.pt"
    # an interrupted run: dies after its second epoch, leaving its snapshots behind
    _interrupt_after(2, lambda log: train_cohort(_spec([1, 2]), x, y, cfg, resume_path=resume, log=log))
    resumed = train_cohort(_spec([1, 2]), x, y, cfg, resume_path=resume)
    for a, b in zip(_weights(full), _weights(resumed)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _interrupt_after(epochs, run):
    """``run(log)`` trains but raises after ``epochs`` epoch lines, as a kill would (snapshots are on disk)."""
    count = {"n": 0}

    def log(msg):
        print(msg)
        if " epoch " in msg:
            count["n"] += 1
            if count["n"] >= epochs:
                raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run(log)


@pytest.mark.parametrize("mode, expected", [("cohort", "model seeds 1, 2 in epoch 1"),
                                            ("sequential", "model seed 1 in epoch 1")])
def test_divergence_fails_with_a_clear_message(mode, expected):
    x, y = _data()
    x[0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match="loss is NaN or inf for " + expected):
        train_cohort(_spec([1, 2]), x, y, TrainConfig(epochs=1, batch_size=256, mode=mode))


@pytest.mark.parametrize("mode", ["cohort", "sequential"])
def test_divergence_in_a_late_step_fails_its_epoch_without_a_snapshot(tmp_path, mode):
    """Checked once an epoch (no host sync per step): a loss that turns non-finite in some later step
    still fails that epoch, before the epoch's snapshot could save the diverged weights."""
    x, y = _data()
    x[200, 3] = float("inf")
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, mode=mode, checkpoint_every=1)
    with pytest.raises(TrainingDiverged, match="in epoch 1"):
        train_cohort(_spec([1, 2]), x, y, cfg, resume_path=tmp_path / "resume.pt")
    assert not list(tmp_path.iterdir())


def test_fixed_seed_is_deterministic():
    x, y = _data()
    cfg = TrainConfig(epochs=2, batch_size=32)
    a, b = (_weights(train_cohort(_spec([4, 9]), x, y, cfg)) for _ in range(2))
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_m_feat_and_m_param_from_real_parameter_counts():
    fam = scaled_family("mlp", 0.25, (40,), 10, widths=[256, 256, 256])
    base = count_params(build_model("mlp", 1.0, (40,), 10, widths=[256, 256, 256]))
    assert fam.n_features == 64 and fam.m_feat == 4
    assert fam.m_param == int(np.ceil(base / fam.n_params)) == 13
    assert fam.cohort_size == 14


def test_one_cycle_matches_torchs_one_cycle_lr():
    from featspan.train import make_optimizer, make_scheduler

    model = torch.nn.Linear(3, 2)
    cfg = TrainConfig(epochs=4, lr=0.05, optimizer="sgd", schedule="onecycle", warmup=0.3, nesterov=True)
    ours = make_optimizer(model.parameters(), cfg)
    assert ours.param_groups[0]["nesterov"]
    scheduler = make_scheduler(ours, cfg, steps_per_epoch=25)
    reference_opt = torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), lr=0.05)
    # torch's rise ends at step pct_start * total_steps - 1 and its fall at total_steps - 1: 30 and 100 here
    reference = torch.optim.lr_scheduler.OneCycleLR(reference_opt, max_lr=0.05, total_steps=101, pct_start=31 / 101,
                                                    cycle_momentum=False, three_phase=False)
    for _ in range(100):
        assert ours.param_groups[0]["lr"] == pytest.approx(reference_opt.param_groups[0]["lr"], rel=1e-9)
        ours.step(), scheduler.step(), reference_opt.step(), reference.step()

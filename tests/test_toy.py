"""The toy setting: data generator, batched narrow models, the learning criterion, the reports."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from featspan.toy import (ToyCohort, ToyConfig, labels_from_signs, learned, make_data, signal_vectors, toy_step,
                          train_toy)
from featspan.report.toy import PRODUCT_FIT, finding41_rows, finding41_summary, learned_records, table1_rows

CFG = ToyConfig(d=12, n_patches=7, epochs=2, n_train=100, n_test=50, batch_size=25, hidden=4, record_every=1)


def test_labels_follow_sum_plus_product_and_are_never_zero():
    signs = np.array([[1, 1, 1, 1, 1], [-1, -1, 1, 1, 1], [1, -1, 1, 1, -1], [1, -1, -1, -1, -1]], float)
    assert labels_from_signs(signs, 2).tolist() == [1, -1, -1, -1]
    all_signs = np.array(np.meshgrid(*[[-1, 1]] * 5)).reshape(5, -1).T
    assert set(labels_from_signs(all_signs, 2)) == {-1, 1}


def test_inputs_hold_signal_patches_and_orthogonal_noise():
    v = signal_vectors(CFG, 0)
    np.testing.assert_allclose(v @ v.T, np.eye(CFG.k), atol=1e-12)
    x, y, signs = make_data(CFG, v, 4000, seed=1)
    proj = x @ v.T                                          # (n, patches, k)
    hits = np.abs(proj) > 0.5
    assert (hits.sum(axis=1) == 1).all()                     # each signal in exactly one patch
    assert (hits.sum(axis=2) <= 1).all()                     # at most one signal per patch
    np.testing.assert_allclose(np.take_along_axis(proj, hits.argmax(1)[:, None, :], 1)[:, 0], signs, atol=1e-6)
    noise = x[~hits.any(axis=2)]
    assert np.abs(noise @ v.T).max() < 1e-5
    assert np.linalg.norm(noise, axis=1).mean() == pytest.approx(CFG.noise_norm, rel=0.05)


def test_batched_models_match_models_trained_alone():
    torch.manual_seed(0)
    x = torch.randn(25, CFG.n_patches, CFG.d)
    y = torch.sign(torch.randn(25))
    cohort = ToyCohort.init(CFG, 3, 8, seed=4)
    alone = [ToyCohort.init(CFG, 1, 8, seed=4, indices=[i]) for i in range(3)]
    for _ in range(5):
        toy_step(cohort, x, y, CFG)
        for single in alone:
            toy_step(single, x, y, CFG)
    for i, single in enumerate(alone):
        for name, value in cohort.params.items():
            torch.testing.assert_close(value[i], single.params[name][0], rtol=1e-5, atol=1e-6)


def test_evaluation_in_runs_of_inputs_gives_the_same_numbers(monkeypatch):
    """First-layer features, and so the scores, come out bit for bit the same whether the inputs' patch
    activations are computed at once or a few inputs at a time (a width-30,000 model's 10,000 training
    inputs would take 7.2 GB at once)."""
    import featspan.toy as toy

    x = torch.from_numpy(make_data(CFG, signal_vectors(CFG, 0), 50, seed=1)[0])
    cohort = ToyCohort.init(CFG, 3, 40, seed=2)
    monkeypatch.setattr(toy, "EVAL_FLOATS", 10 ** 12)
    assert len(cohort._chunks(x)) == 1
    whole_scores, whole_features = cohort.forward(x), cohort.first_layer(x)
    monkeypatch.setattr(toy, "EVAL_FLOATS", 7 * CFG.n_patches * 3 * 40)  # runs of 7 inputs, the last of 1
    assert [len(c) for c in cohort._chunks(x)] == [7] * 7 + [1]
    assert torch.equal(cohort.forward(x), whole_scores)
    assert torch.equal(cohort.first_layer(x), whole_features)


@pytest.mark.parametrize("n_models, width", [(3, 8), (1, 40)])
def test_hand_written_gradients_match_autograd(n_models, width):
    torch.manual_seed(2)
    x = torch.randn(25, CFG.n_patches, CFG.d)
    y = torch.sign(torch.randn(25))
    cohort = ToyCohort.init(dataclasses.replace(CFG, threshold=0.3), n_models, width, seed=1)
    params = {name: p.clone().requires_grad_(True) for name, p in cohort.params.items()}
    reference = ToyCohort(params, cohort.threshold)
    loss = torch.nn.functional.softplus(-y[None, :] * reference.forward(x)).mean(1).sum()
    expected = torch.autograd.grad(loss, list(params.values()))
    got = cohort.gradients(x, y)
    assert list(got) == list(params)
    for name, e in zip(params, expected):
        assert e.abs().max() > 0, name      # every layer has a live gradient: the check is not vacuous
        torch.testing.assert_close(got[name], e, rtol=1e-5, atol=1e-7)


def test_each_model_steps_on_its_own_batch():
    torch.manual_seed(3)
    x = torch.randn(3, 25, CFG.n_patches, CFG.d)
    y = torch.sign(torch.randn(3, 25))
    cohort = ToyCohort.init(CFG, 3, 8, seed=4)
    alone = [ToyCohort.init(CFG, 1, 8, seed=4, indices=[i]) for i in range(3)]
    for _ in range(3):
        toy_step(cohort, x, y, CFG)
        for i, single in enumerate(alone):
            toy_step(single, x[i:i + 1], y[i:i + 1], CFG)
    for i, single in enumerate(alone):
        for name, value in cohort.params.items():
            torch.testing.assert_close(value[i], single.params[name][0], rtol=1e-5, atol=1e-6)


def test_per_model_gradients_match_autograd():
    torch.manual_seed(5)
    x = torch.randn(3, 25, CFG.n_patches, CFG.d)
    y = torch.sign(torch.randn(3, 25))
    cohort = ToyCohort.init(dataclasses.replace(CFG, threshold=0.3), 3, 8, seed=1)
    params = {name: p.clone().requires_grad_(True) for name, p in cohort.params.items()}
    reference = ToyCohort(params, cohort.threshold)
    scores = torch.stack([reference.forward(x[i])[i] for i in range(3)])  # model i on its own batch
    loss = torch.nn.functional.softplus(-y * scores).mean(1).sum()
    expected = torch.autograd.grad(loss, list(params.values()))
    got = cohort.gradients(x, y)
    for name, e in zip(params, expected):
        assert e.abs().max() > 0, name
        torch.testing.assert_close(got[name], e, rtol=1e-5, atol=1e-7)


def test_training_gives_each_model_its_own_batch_order(monkeypatch):
    import featspan.toy as toy

    batches = []
    real_step = toy.toy_step

    def spy(cohort, x, y, cfg, trace=None):
        batches.append(x.clone())
        return real_step(cohort, x, y, cfg, trace)

    monkeypatch.setattr(toy, "toy_step", spy)
    cfg = dataclasses.replace(CFG, epochs=1)
    train_toy(cfg, 8, 3, seed=0, probe=False, trace_neuron=False)
    first = batches[0]
    assert first.shape == (3, cfg.batch_size, cfg.n_patches, cfg.d)
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    # model 0's stream does not depend on the cohort's size
    batches.clear()
    train_toy(cfg, 8, 1, seed=0, probe=False, trace_neuron=False)
    assert torch.equal(batches[0][0], first[0])


@pytest.mark.parametrize("normalize, decay_mode", [("neuron", "decoupled"), ("tensor", "decoupled"),
                                                    ("neuron", "coupled")])
def test_traced_forces_add_up_to_the_applied_change(normalize, decay_mode):
    cfg = dataclasses.replace(CFG, threshold=0.05, sigma0=0.3, normalize=normalize, decay_mode=decay_mode,
                              weight_decay=0.05, lr=0.05, epochs=3)
    run = train_toy(cfg, 8, 3, seed=1, probe=False)
    tr = run.neuron_trace
    assert tr is not None and len(tr["dot"]) == len(tr["gradient_pull"]) + 1 > 10
    change = np.diff(tr["dot"])
    np.testing.assert_allclose(np.asarray(tr["gradient_pull"]) + tr["decay_pull"], change, rtol=1e-4, atol=1e-6)
    assert np.abs(tr["gradient_pull"]).max() > 0 and np.abs(tr["decay_pull"]).max() > 0


def test_neuron_normalization_moves_every_active_neuron_by_lr():
    cfg = ToyConfig(d=12, n_patches=7, hidden=4, normalize="neuron", weight_decay=0.0, lr=0.05, threshold=2.5)
    torch.manual_seed(1)
    x, y = torch.randn(40, cfg.n_patches, cfg.d), torch.sign(torch.randn(40))
    cohort = ToyCohort.init(cfg, 2, 30, seed=0)
    before = cohort.params["w1"].detach().clone()
    grads = toy_step(cohort, x, y, cfg)
    moved = (cohort.params["w1"].detach() - before).norm(dim=-1)
    active = grads[0].norm(dim=-1) > 0
    assert active.any() and (~active).any()
    torch.testing.assert_close(moved[active], torch.full_like(moved[active], cfg.lr))
    assert (moved[~active] == 0).all()


def test_learning_criterion():
    cfg = ToyConfig(d=6, n_add=1, n_mul=1, threshold=0.5, epsilon=0.1)
    v = torch.eye(6)[:2]
    w1 = torch.zeros(1, 3, 6)
    w1[0, 0] = torch.tensor([0.9, 0.1, 0, 0, 0, 0])   # aligned with v_0 and above threshold: learned
    w1[0, 1] = torch.tensor([0, 0.3, 0, 0, 0, 0])     # aligned with v_1 but below threshold: not learned
    w1[0, 2] = torch.tensor([0, 1.0, 1.0, 0, 0, 0])   # above threshold but not aligned: not learned
    assert learned(w1, v, cfg).tolist() == [[True, False]]


def test_training_run_and_reports():
    run = train_toy(CFG, width=6, n_models=4, seed=0)
    assert np.asarray(run.learned).shape == (4, CFG.k)
    assert len(run.max_cos) == len(run.epochs) == CFG.epochs + 1
    assert run.probe_test_accuracy is not None
    wide = train_toy(CFG, width=24, n_models=1, seed=0)
    assert wide.probe_test_accuracy is None
    runs = [json.loads(json.dumps(r.__dict__)) for r in (run, wide)]
    records = learned_records(runs)
    assert [(r["kind"], r["n_models"]) for r in records] == [("concat", 4), ("wide", 1)]
    assert records[0]["models_learning_each_signal"] == np.asarray(run.learned).sum(axis=0).tolist()
    rows = table1_rows(runs)
    # Table 1: the mean accuracy of the M single models, the probe in its own columns
    assert [r["train_accuracy"] for r in rows] == [run.train_accuracy, wide.train_accuracy]
    assert [r["test_accuracy"] for r in rows] == [run.test_accuracy, wide.test_accuracy]
    assert rows[0]["probe_test_accuracy"] == run.probe_test_accuracy and np.isnan(rows[1]["probe_test_accuracy"])
    assert rows[0]["seeds"] == 1 and rows[0]["train_std"] is None


def test_per_model_records_match_a_loop_over_models():
    """model_records: each model's test accuracy, its accuracy where the addition signs cancel (there the
    label is the product) and its best cosine per signal over activated neurons, against a loop."""
    from featspan.toy import model_records

    cfg = dataclasses.replace(CFG, threshold=0.2)  # more activated neurons than the default: nonzero cosines
    cohort = ToyCohort.init(cfg, 3, 6, seed=5)
    v = signal_vectors(cfg, 4)
    x, y, signs = make_data(cfg, v, 300, seed=6)
    got = model_records(cohort, torch.from_numpy(v).float(), x, y, signs, cfg)
    tie = signs[:, :cfg.n_add].sum(1) == 0
    assert tie.any() and (y[tie] == signs[tie][:, cfg.n_add:].prod(1)).all()
    w1 = cohort.params["w1"].detach().numpy()
    with torch.no_grad():
        scores = cohort.forward(torch.from_numpy(x)).numpy()
    for i in range(3):
        assert got["model_test_accuracy"][i] == pytest.approx(float((np.sign(scores[i]) == y).mean()))
        assert got["model_product_accuracy"][i] == pytest.approx(float((np.sign(scores[i][tie]) == y[tie]).mean()))
        for j in range(cfg.k):
            dots = np.abs(w1[i] @ v[j])
            expect = max([d / np.linalg.norm(w) for d, w in zip(dots, w1[i]) if d > cfg.threshold], default=0.0)
            assert got["model_best_cos"][i][j] == pytest.approx(expect, rel=1e-5, abs=1e-7)
    assert any(c > 0 for row in got["model_best_cos"] for c in row)
    run = train_toy(CFG, width=6, n_models=3, seed=4, probe=False)
    assert np.mean(run.model_test_accuracy) == pytest.approx(run.test_accuracy)
    assert len(run.model_product_accuracy) == 3 and np.asarray(run.model_best_cos).shape == (3, CFG.k)


def _run(seed, width, n_models, learned_table, product_acc=None, best_cos=None, n_add=2):
    k = len(learned_table[0])
    return {"seed": seed, "width": width, "n_models": n_models, "learned": learned_table,
            "config": {"n_add": n_add, "normalize": "tensor"},
            "model_product_accuracy": product_acc if product_acc is not None else [0.5] * n_models,
            "model_best_cos": best_cos if best_cos is not None else [[0.0] * k] * n_models}


def test_finding41_rows_by_hand():
    T, F = True, False
    runs = [
        _run(0, 12, 1, [[T, T, T, T, T]]),                                        # wide: all five
        _run(0, 4, 3, [[T, F, F, F, F], [F, T, F, F, F], [F, F, F, F, F]]),       # holds
        _run(0, 6, 2, [[T, T, F, F, F], [F, F, F, T, F]],                         # a lone aligned neuron: v4
             product_acc=[0.52, 0.55], best_cos=[[0.95, 0.93, 0, 0, 0], [0, 0, 0, 0.912, 0]]),
        _run(1, 12, 1, [[T, T, T, F, T]]),                                        # wide misses v4
        _run(1, 4, 3, [[T, T, F, F, F], [F, F, T, F, F], [F, F, T, F, F]],        # two models fit v3 (a product)
             product_acc=[0.5, 0.97, 0.96], best_cos=[[0.9] * 5] * 3),
        _run(2, 4, 3, [[T, T, F, F, F]] * 3),                                     # no wide run for seed 2
    ]
    rows = {(r["seed"], r["width"]): r for r in finding41_rows(runs)}
    assert set(rows) == {(0, 4), (0, 6), (1, 4), (2, 4)}
    assert rows[0, 4]["holds"] is True and rows[0, 4]["wide_missed"] == "none"
    assert rows[0, 4]["models_learning_each_multiplication"] == [0, 0, 0]
    assert rows[0, 6]["holds"] is False and rows[0, 6]["models_learning_each_multiplication"] == [0, 1, 0]
    assert rows[0, 6]["credited_without_product_fit"] == 1 and rows[0, 6]["their_cosines"] == [0.912]
    assert rows[0, 6]["models_fitting_product"] == 0
    assert rows[1, 4]["holds"] is False and rows[1, 4]["wide_missed"] == "v4"
    assert rows[1, 4]["models_learning_each_multiplication"] == [2, 0, 0]
    assert rows[1, 4]["credited_without_product_fit"] == 0 and rows[1, 4]["models_fitting_product"] == 2
    assert rows[2, 4]["holds"] is None and rows[2, 4]["wide_missed"] is None
    assert rows[0, 4]["concat_addition_missed"] == "none"
    assert finding41_summary(list(rows.values())) == [(4, 3, 1, 2), (6, 2, 0, 1)]
    assert 0.5 < PRODUCT_FIT < 1


def test_finding41_a_concatenation_missing_an_addition_vector_fails():
    T, F = True, False
    runs = [_run(0, 12, 1, [[T, T, T, T, T]]), _run(0, 4, 3, [[T, F, F, F, F]] * 3)]
    (row,) = finding41_rows(runs)
    assert row["holds"] is False and row["concat_addition_missed"] == "v2"


def test_single_model_accuracy_is_the_mean_of_each_models_own():
    """ToyRun.train_accuracy averages each model's accuracy (not a vote or the first model's)."""
    cohort = ToyCohort.init(CFG, 3, 6, seed=1)
    v = signal_vectors(CFG, 1)
    x, y, _ = make_data(CFG, v, 200, seed=2)
    from featspan.toy import _accuracy
    per_model = [float((np.sign(cohort.forward(torch.from_numpy(x))[i].numpy()) == y).mean()) for i in range(3)]
    assert _accuracy(cohort, torch.from_numpy(x), y) == pytest.approx(np.mean(per_model))


def test_figure9_expectation_matches_the_activation_count_at_init():
    """The plotted expectation m P(|N(0, sigma0^2)| > b) is the mean of what correlations() counts."""
    from featspan.toy import correlations
    from featspan.report.toy import activation_probability

    cfg = ToyConfig(d=20, sigma0=0.25, threshold=0.65)
    cohort = ToyCohort.init(cfg, 20, 500, seed=3)
    v = torch.from_numpy(signal_vectors(cfg, 3)).float()
    _, active = correlations(cohort.params["w1"], v, cfg.threshold)
    per_model_per_vector = active.sum(dim=1).float().mean().item()
    expected = 500 * activation_probability(cfg.sigma0, cfg.threshold)
    assert per_model_per_vector == pytest.approx(expected, rel=0.08)
    one_sided = 500 * 0.5 * activation_probability(cfg.sigma0, cfg.threshold)
    assert abs(per_model_per_vector - one_sided) > 0.3 * one_sided  # the old, one-sided curve is off by 2x

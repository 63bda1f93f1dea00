"""Training killed with SIGKILL resumes to the same final weights; augmentation; tuning."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from featspan.train import augment, augmentation_generator

CHILD = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {root!r})
    torch.set_num_threads(1)
    import featspan.train as T
    from featspan.models import build_model
    slow_log = lambda msg: (print(msg, flush=True), time.sleep(float({pause!r})))   # room for the test to kill us
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 1, 8, 8, generator=g), torch.randint(0, 4, (128,), generator=g)
    arch, mode, resume, out = sys.argv[1:5]
    spec = T.CohortSpec(lambda: build_model(arch, 0.5, (1, 8, 8), 4, base_width=4), [3, 4], [5, 6])
    cfg = T.TrainConfig(epochs=6, batch_size=32, optimizer="sgd", lr=0.05, schedule="step", mode=mode,
                        crop_padding=1, flip=True, checkpoint_every=1)
    models = T.train_cohort(spec, x, y, cfg, resume_path=resume, log=slow_log)
    torch.save([m.state_dict() for m in models], out)
""")


def _run(script, args, pause="0"):
    return subprocess.Popen([sys.executable, "-c", script.replace("{pause!r}", repr(pause)), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("arch,mode", [("vgg16", "sequential"), ("resnet18", "cohort")])
def test_sigkill_then_rerun_ends_with_the_same_weights(tmp_path, arch, mode):
    """VGG has dropout (the torch RNG state must be restored), both use crop and flip augmentation."""
    root = str(Path(__file__).resolve().parents[1])
    script = CHILD.replace("{root!r}", repr(root))
    whole = _run(script, [arch, mode, str(tmp_path / "whole.pt"), str(tmp_path / "whole_out.pt")])
    assert whole.wait(timeout=300) == 0, whole.stdout.read()

    resume = tmp_path / "killed.pt"
    child = _run(script, [arch, mode, str(resume), str(tmp_path / "killed_out.pt")], pause="0.5")
    snapshot = resume if mode == "cohort" else Path(f"{resume}.0")
    deadline = time.monotonic() + 120
    while not (snapshot.exists() and torch.load(snapshot, weights_only=False)["epoch"] >= 2):
        assert child.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline, "no snapshot within 120 s"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert not (tmp_path / "killed_out.pt").exists()

    rerun = _run(script, [arch, mode, str(resume), str(tmp_path / "killed_out.pt")])
    output = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, output
    assert "resumed after epoch" in output
    whole_states = torch.load(tmp_path / "whole_out.pt")
    resumed_states = torch.load(tmp_path / "killed_out.pt")
    for a, b in zip(whole_states, resumed_states):
        for name in a:
            assert torch.equal(a[name], b[name]), name


def test_augmentation_crops_and_flips_per_image():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4) + 1
    out = augment(x, 1, True, augmentation_generator(0, 0))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for i in range(2):  # every output is a 4x4 window of the padded image, maybe mirrored
        windows = [padded[i, :, r:r + 4, c:c + 4] for r in range(3) for c in range(3)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)
    again = augment(x, 1, True, augmentation_generator(0, 0))
    assert torch.equal(out, again)                                  # a function of (seed, epoch)
    assert torch.equal(augment(x, 0, False, augmentation_generator(0, 0)), x)


def test_tuning_picks_the_best_validation_accuracy(tmp_path):
    from featspan.data import Dataset
    from featspan.tune import tune_job

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    Dataset("toy", x[:240], y[:240], x[240:], y[240:]).save(tmp_path / "d.h5")
    result = tune_job(tmp_path / "d.h5", experiment="e", alpha=1.0, replicate=0, model={"arch": "mlp", "widths": [8]},
                      train={"epochs": 3, "batch_size": 32, "optimizer": "sgd", "schedule": "constant"},
                      tune={"lr": [1e-4, 0.5, 1e6], "weight_decay": [0.0], "validation_fraction": 0.2, "split_seed": 0})
    scores = {g["lr"]: g["val_accuracy"] for g in result["grid"]}
    assert np.isnan(scores[1e6])                                    # diverged: scored NaN, never wins
    assert result["best"] == {"lr": 0.5, "weight_decay": 0.0} and scores[0.5] > scores[1e-4]
    assert result["n_fit"] == 192 and result["n_validation"] == 48
    json.dumps(result)

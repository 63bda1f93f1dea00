"""Faults and bad input: what must never give a wrong number silently (issue: trustworthy under faults).

Each test is a scenario a user ran into: a snapshot of another config, options a command cannot honour,
numbers that cannot be computed, files that disagree, corrupt artifacts, configs that cannot run.
"""
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

from featspan.cli import main

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {root!r})
    torch.set_num_threads(1)
    import featspan.train as T
    from featspan.models import build_model
    log = T._log
    T._log = lambda msg: (log(msg), time.sleep(float(sys.argv[4])))   # room for the test to kill us
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 12, generator=g), torch.randint(0, 3, (256,), generator=g)
    lr, resume, out = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    spec = T.CohortSpec(lambda: build_model("mlp", 0.5, (12,), 3, widths=[16, 16]), [3, 4], [5, 6], "mlp-16-16")
    cfg = T.TrainConfig(epochs=6, batch_size=32, optimizer="sgd", lr=lr, checkpoint_every=1)
    models = T.train_cohort(spec, x, y, cfg, resume_path=resume or None)
    torch.save([m.state_dict() for m in models], out)
""").replace("{root!r}", repr(str(ROOT)))


def _train(lr, resume, out, pause="0"):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(lr), str(resume), str(out), pause],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_snapshot_of_another_config_is_discarded_not_resumed(tmp_path):
    """SIGKILL a training at lr 0.003, rerun at lr 0.01 with the same snapshot path: the rerun must
    discard the snapshot and end bit-identical to a fresh run at lr 0.01."""
    resume = tmp_path / "resume.pt"
    killed = _train(0.003, resume, tmp_path / "never.pt", pause="0.5")
    deadline = time.monotonic() + 120
    while not (resume.exists() and torch.load(resume, weights_only=False)["epoch"] >= 2):
        assert killed.poll() is None and time.monotonic() < deadline, "no snapshot to kill the run at"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)

    rerun = _train(0.01, resume, tmp_path / "rerun.pt")
    log = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, log
    assert "discarding the snapshot" in log and "resumed" not in log
    fresh = _train(0.01, "", tmp_path / "fresh.pt")
    assert fresh.wait(timeout=300) == 0
    for a, b in zip(torch.load(tmp_path / "rerun.pt"), torch.load(tmp_path / "fresh.pt")):
        for name in a:
            assert torch.equal(a[name], b[name]), name


def test_a_truncated_snapshot_is_discarded(tmp_path):
    resume = tmp_path / "resume.pt"
    resume.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    run = _train(0.01, resume, tmp_path / "out.pt")
    log = run.communicate(timeout=300)[0]
    assert run.returncode == 0, log
    assert "discarding the unreadable snapshot" in log

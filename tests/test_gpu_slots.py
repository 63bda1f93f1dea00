"""The GPU slot pool on a simulated device list: distinct devices, waiting, and slots freed by SIGKILL."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from featspan.gpu_slots import claim

ROOT = Path(__file__).resolve().parents[1]
JOB = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from featspan.gpu_slots import claim
    ids = claim(int(sys.argv[2]), ids=["0", "1", "2"], folder=__import__("pathlib").Path(sys.argv[1]), poll=0.05,
                log=lambda msg: None)
    print(os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
    time.sleep(float(sys.argv[3]))
""").replace("{root!r}", repr(str(ROOT)))


def _job(folder, count=1, hold=30.0):
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    return subprocess.Popen([sys.executable, "-c", JOB, str(folder), str(count), str(hold)], stdout=subprocess.PIPE,
                            text=True, env=env)


def _device(job) -> str:
    return job.stdout.readline().strip()


def _waiting(job, seconds=1.0) -> bool:
    """Still waiting for a slot after ``seconds`` (it has printed no device)."""
    import selectors
    selector = selectors.DefaultSelector()
    selector.register(job.stdout, selectors.EVENT_READ)
    return not selector.select(timeout=seconds) and job.poll() is None


def test_concurrent_jobs_get_distinct_devices_and_the_next_waits(tmp_path):
    jobs = [_job(tmp_path) for _ in range(3)]
    try:
        devices = [_device(j) for j in jobs]
        assert sorted(devices) == ["0", "1", "2"]
        extra = _job(tmp_path, hold=0.1)
        assert _waiting(extra)                  # every slot is taken
        jobs[1].terminate()
        jobs[1].wait()
        assert _device(extra) == devices[1]      # the slot that was freed
        assert extra.wait(timeout=20) == 0
    finally:
        for j in jobs:
            j.kill()


def test_a_sigkilled_holder_frees_its_slot(tmp_path):
    holders = [_job(tmp_path) for _ in range(3)]
    try:
        devices = [_device(j) for j in holders]
        waiting = _job(tmp_path, hold=0.1)
        assert _waiting(waiting)
        os.kill(holders[2].pid, signal.SIGKILL)
        assert _device(waiting) == devices[2]
    finally:
        for j in holders:
            j.kill()


def test_a_job_takes_as_many_slots_as_it_asks_for(tmp_path):
    pair = _job(tmp_path, count=2)
    single = too_many = None
    try:
        taken = _device(pair).split(",")
        assert len(taken) == 2
        single = _job(tmp_path)
        assert _device(single) not in taken        # the third slot
        too_many = _job(tmp_path, count=2, hold=0.1)
        assert _waiting(too_many)                  # no slot left
    finally:
        for job in (pair, single, too_many):
            if job is not None:
                job.kill()


def test_slurm_assignments_are_used_as_they_are_and_impossible_requests_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert claim(1, folder=tmp_path) == ["3"]
    monkeypatch.delenv("SLURM_JOB_ID")
    with pytest.raises(RuntimeError, match="asks for 4 GPU"):
        claim(4, ids=["0", "1"], folder=tmp_path)

"""One GPU per job on a multi-GPU workstation: a slot pool a job enters before it touches CUDA.

Snakemake's ``--resources gpu=N`` limits how many GPU jobs run at once but assigns no device ids to local
jobs, so each would use cuda:0. Here every device id is a slot, held by an ``fcntl`` lock on a file in a
per-machine folder: the lock dies with its holder, so a job killed with SIGKILL frees its slot. A job
that asks for k GPUs takes k free slots (waiting while fewer are free) and sets ``CUDA_VISIBLE_DEVICES`` to
them before torch is imported. Under SLURM the scheduler's assignment is used as it is.

Device ids: ``CUDA_VISIBLE_DEVICES`` when set, else the GPUs ``nvidia-smi`` lists (no torch import).
The folder: ``FEATSPAN_GPU_SLOTS_DIR``, else ``/tmp/featspan-gpu-slots``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

_HELD: list = []  # open lock files of this process's slots: kept until the process ends


def device_ids() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    run = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True)
    return [line.strip() for line in run.stdout.splitlines() if line.strip()] if run.returncode == 0 else []


def slot_folder() -> Path:
    return Path(os.environ.get("FEATSPAN_GPU_SLOTS_DIR", "/tmp/featspan-gpu-slots"))


def _try_lock(folder: Path, device: str):
    handle = open(folder / f"gpu-{device}.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def claim(count: int, ids: list[str] | None = None, folder: Path | None = None, poll: float = 0.5,
          log=print) -> list[str]:
    """Take ``count`` free slots (waiting for them), set CUDA_VISIBLE_DEVICES to their ids and return them.
    The slots stay held until this process ends, however it ends."""
    if count <= 0:
        return []
    if os.environ.get("SLURM_JOB_ID"):  # the scheduler assigned the devices: use them as they are
        return device_ids()
    ids = device_ids() if ids is None else list(ids)
    if count > len(ids):
        raise RuntimeError(f"the job asks for {count} GPU(s) (gpus_per_job) but this machine has {len(ids)}: "
                           f"{ids or 'none visible'}")
    folder = folder or slot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        taken = []
        for device in ids:
            handle = _try_lock(folder, device)
            if handle is not None:
                taken.append((device, handle))
                if len(taken) == count:
                    _HELD.extend(h for _, h in taken)
                    chosen = [d for d, _ in taken]
                    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
                    log(f"GPU slot(s) {','.join(chosen)} of {','.join(ids)} (CUDA_VISIBLE_DEVICES)")
                    return chosen
        for _, handle in taken:  # not enough free: give back what we took, wait, try again
            handle.close()
        if not waited:
            log(f"waiting for {count} free GPU slot(s) of {len(ids)}")
            waited = True
        time.sleep(poll)

"""What every workflow script does first: route output to the rule's log, pin threads, seed nothing.

Kept free of Snakemake imports: it takes the ``snakemake`` object a script receives.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys


def start_job(smk) -> None:
    """Send stdout and stderr to the rule's log and limit torch and BLAS to the job's threads."""
    if smk.log:
        log = open(smk.log[0], "a", buffering=1)
        sys.stdout = sys.stderr = log
    threads = max(1, int(smk.threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    if "torch" in sys.modules:  # otherwise OMP_NUM_THREADS applies when (if ever) torch is imported:
        sys.modules["torch"].set_num_threads(threads)  # importing it costs seconds here


def config_hash(*parts) -> str:
    """A short stable hash of the settings that determine an artifact (recorded as provenance)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(obj, path) -> None:
    from .h5 import atomic_path
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float))

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


# The featspan sources each model-stack job runs (its script aside, which Snakemake hashes itself). Their
# digest is a param of those rules: a checkpoint trained by older code is stale, in this workflow folder
# and in the between-workflow cache alike. tests/test_jobs.py checks the list against real imports.
DATA_CODE = ("data", "io.py")
MODEL_CODE = ("data", "models", "cohort.py", "h5.py", "io.py", "jobs.py", "progress.py", "seeding.py", "train.py",
              "tune.py", "workflow.py")


def source_digest(parts, package_dir=None) -> str:
    """SHA-256 of the named files and folders (``*.py`` inside) of the featspan package, by content."""
    from pathlib import Path
    root = Path(package_dir or Path(__file__).parent)
    files = sorted(f for part in parts
                   for f in ([root / part] if part.endswith(".py") else (root / part).rglob("*.py")))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

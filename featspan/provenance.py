"""Provenance: short hashes of settings, digests of the featspan sources behind an artifact, file checksums."""

from __future__ import annotations

import hashlib
import json


def config_hash(*parts) -> str:
    """A short stable hash of the settings that determine an artifact (recorded as provenance)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# The featspan sources each model-stack (or toy) job runs (its script aside, which Snakemake hashes itself). Their
# digest is a param of those rules: a checkpoint trained by older code is stale, in this workflow folder
# and in the between-workflow cache alike. tests/test_jobs.py checks the list against real imports.
DATA_CODE = ("data", "importing.py", "io.py")
MODEL_CODE = ("data", "models", "checkpoints.py", "cohort.py", "features.py", "h5.py", "importing.py", "io.py",
              "progress.py", "provenance.py", "schema.py", "seeding.py", "train.py", "tune.py")
TOY_CODE = ("device.py", "probe.py", "progress.py", "schema.py", "seeding.py", "softmax_newton.py", "toy.py")


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


def user_code_digest(name: str) -> str:
    """SHA-256 of the source file of a user's ``package.module:function`` (a model or dataset of their own):
    a param of the rules that run it, so editing it reruns them; '' for featspan's own names."""
    import importlib.util

    from .importing import is_function_name

    if not is_function_name(name):
        return ""
    spec = importlib.util.find_spec(name.partition(":")[0])
    if spec is None or not spec.origin:
        raise ValueError(f"{name}: the module is not importable from this environment (is it on PYTHONPATH?)")
    with open(spec.origin, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]

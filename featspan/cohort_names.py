"""Cohort names from the config alone (no torch): what the Snakefile needs to build the DAG."""

from __future__ import annotations

from .models.scaling import alpha_token


def experiment_cohorts(experiment: dict) -> list[tuple[str, int]]:
    """(alpha token, replicate seed) of every cohort an experiment trains."""
    return [(alpha_token(a), r) for a in experiment["alphas"] for r in experiment["seeds"]]


__all__ = ["alpha_token", "experiment_cohorts"]

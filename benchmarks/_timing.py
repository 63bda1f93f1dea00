"""Shared by the benchmark scripts: the median wall time of repeated runs."""

import statistics
import time


def timed(fn, repeats: int):
    """Run ``fn`` ``repeats`` times; return (median seconds, the last result)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out

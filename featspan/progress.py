"""Progress a person can follow: elapsed time and an estimate of the time left."""

from __future__ import annotations

import time


class Clock:
    """Elapsed time and an estimate of the time left, from the epochs done so far in this process."""

    def __init__(self, start_epoch: int, epochs: int):
        self.t0, self.start, self.epochs = time.perf_counter(), start_epoch, epochs

    def __call__(self, epoch_done: int) -> str:
        elapsed = time.perf_counter() - self.t0
        left = elapsed / max(1, epoch_done - self.start) * (self.epochs - epoch_done)
        return f"elapsed {format_duration(elapsed)}, about {format_duration(left)} left"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"

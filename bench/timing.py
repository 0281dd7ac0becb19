"""Timing shared by the benchmarks."""

from __future__ import annotations

import time


def best_of(fn, repeats: int = 3) -> float:
    """The shortest wall time of ``repeats`` calls of ``fn`` (seconds): the least disturbed run."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)

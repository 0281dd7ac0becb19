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


def best_of_alternating(fns, repeats: int = 5) -> list[float]:
    """``best_of`` for several functions, their calls interleaved (a, b, a, b, ...), so a slow
    spell of the machine hits all of them rather than one: the ratio is what is compared."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [min(ts) for ts in times]

"""Rendering MMA charts: a forked child of a worker that has MMA's modules loaded vs the ``mma`` program.

    python bench/mma_render.py [--charts 120] [--json bench/results/mma_render.json]

The same charts (random jazz and non-jazz charts of the corpus's kind, seeded), one worker
process each way, in turn; every MIDI file compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlmusic.data.jazz_data import JAZZ_STYLES, OTHER_STYLES, _render, grooves_of, preload_mma, random_chart  # noqa: E402


def _ok(_: int) -> bool:
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--charts", type=int, default=120)
    ap.add_argument("--json")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    styles = JAZZ_STYLES + OTHER_STYLES
    charts = []
    for i in range(args.charts):
        style = styles[i % len(styles)]
        grooves = grooves_of(style)
        chart = random_chart(rng, style, grooves[rng.integers(len(grooves))], int(style in JAZZ_STYLES))
        chart.mma_seed = i
        charts.append(chart.__dict__)
    seconds = {}
    with tempfile.TemporaryDirectory() as d:
        for way, folder, init in (("mma program", "program", None), ("forked, modules loaded", "forked", preload_mma)):
            jobs = [(c, f"{d}/{folder}/{i}.mid") for i, c in enumerate(charts)]
            with mp.get_context("fork").Pool(1, initializer=init) as pool:
                pool.map(_ok, [0])  # the worker is up (and has loaded MMA) before the clock starts
                t = time.perf_counter()
                results = pool.map(_render, jobs, chunksize=4)
                seconds[way] = time.perf_counter() - t
            errors = [e for _, e in results if e]
            print(f"{way:24s} {seconds[way]:6.2f} s for {len(jobs)} charts ({len(errors)} errors)")
        same = sum(Path(f"{d}/program/{i}.mid").read_bytes() == Path(f"{d}/forked/{i}.mid").read_bytes()
                   for i in range(len(charts)) if Path(f"{d}/program/{i}.mid").is_file())
    ratio = seconds["mma program"] / seconds["forked, modules loaded"]
    print(f"forked is {ratio:.2f}x the program's speed; identical MIDI files: {same} of {len(charts)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"charts": len(charts), "seconds": seconds, "ratio": ratio,
                                               "identical": same}, indent=1))


if __name__ == "__main__":
    main()

"""What the two-sample AUC and the Fréchet distance give real music, whole or corrupted, against
the reference that `rlmusic metrics --reference-from /jazz/` and the demo measure samples by
(200 windows of the corpus's jazz, as long as the samples): a scale for the figures of a PPO run.

    python scripts/auc_calibration.py [--tokens 640] [--num 64]

Rows: other windows of the same jazz (what no difference reads as), the same windows with their
structure destroyed by each corruption of ``rlmusic.music.corrupt`` (rhythm and texture kept),
a part of the jazz alone (the standards without the grooves), MMA's non-jazz grooves, Bach
chorales and folk tunes. Each row: 64 pieces, AUC and Fréchet distance on every metric of
``rlmusic.music.metrics``, and the metrics that separate the row most on their own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.config.load import load_config, resolve_config_path  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.evaluate.distance import separating_metrics, set_distances  # noqa: E402
from rlmusic.music.bands import corpus_sample  # noqa: E402
from rlmusic.music.corrupt import CORRUPTIONS, corrupt  # noqa: E402
from rlmusic.music.metrics import METRICS  # noqa: E402
from rlmusic.resources import CORPUS_JAZZ  # noqa: E402


def values(pieces) -> dict[str, list[float]]:
    return {name: [float(fn(p)) for p in pieces] for name, fn in METRICS.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=640, help="window length, as the demo's samples")
    ap.add_argument("--num", type=int, default=64, help="pieces per row, as the demo's columns")
    args = ap.parse_args()
    cfg = load_config(resolve_config_path("tiny"), [])
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, progress=False)
    # the reference exactly as `rlmusic metrics --reference-from /jazz/` draws it (seed 0, every split)
    reference, _ = corpus_sample(corpus, tok, "all", 200, select=CORPUS_JAZZ, window=args.tokens)
    ref, names = values(reference), list(METRICS)

    def row(label: str, pieces) -> None:
        v = values(pieces)
        d = set_distances(v, ref, names)
        top = ", ".join(f"{k} {a:.2f}" for k, a in separating_metrics(v, ref, names)[:3])
        print(f"| {label} | {len(pieces)} | {d['two_sample_auc']:.3f} | {d['frechet']:.1f} | {top} |", flush=True)

    print("| 40-beat-scale windows against the jazz reference | pieces | two-sample AUC | Fréchet | separating most |")
    print("|---|---|---|---|---|")
    # other seeds draw other windows (of mostly other pieces: 200 of the 1,358 jazz pieces are the reference's)
    for seed in (11, 12):
        pieces, _ = corpus_sample(corpus, tok, "all", args.num, seed=seed, select=CORPUS_JAZZ, window=args.tokens)
        row(f"other windows of the corpus's jazz (seed {seed})", pieces)
    pieces, _ = corpus_sample(corpus, tok, "all", args.num, seed=11, select=CORPUS_JAZZ, window=args.tokens)
    rng = np.random.default_rng(0)
    for kind in CORRUPTIONS:
        row(f"the same windows, {kind.replace('_', ' ')}", corrupt(pieces, kind, rng))
    for select, label in (("mma/standards/jazz/", "the jazz standards alone (no grooves)"),
                          ("mma/arrangements/other/", "MMA's non-jazz grooves"),
                          ("bach/", "Bach chorales"), ("oneill/", "O'Neill's folk tunes")):
        pieces, _ = corpus_sample(corpus, tok, "all", args.num, seed=11, select=select, window=args.tokens)
        row(label, pieces)


if __name__ == "__main__":
    main()

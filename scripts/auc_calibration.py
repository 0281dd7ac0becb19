"""What the two-sample AUC and the Fréchet distance give real music, whole or corrupted, against
the reference that `rlmusic metrics --reference-from /jazz/` and the demo measure samples by
(200 windows of the corpus's jazz, as long as the samples): a scale for the figures of a PPO run.

    python scripts/auc_calibration.py [--tokens 640] [--num 64]
    python scripts/auc_calibration.py --reference MY_MUSIC [--other NAME=DIR ...]

Rows: other windows of the same music (what no difference reads as), the same windows with their
structure destroyed by each corruption of ``rlmusic.music.corrupt`` (rhythm and texture kept),
then other music: on the embedded corpus a part of the jazz alone (the standards without the
grooves), MMA's non-jazz grooves, Bach chorales and folk tunes; with ``--reference`` (a folder
of your own music, the reference of `rlmusic metrics --reference DIR --reference-tokens N`) the
folders named by ``--other``. Each row: AUC and Fréchet distance on every metric of
``rlmusic.music.metrics``, and the metrics that separate the row most on their own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.config.load import load_config, resolve_config_path  # noqa: E402
from rlmusic.data.corpus import prepare_corpus, tokenize_folder  # noqa: E402
from rlmusic.evaluate.distance import separating_metrics, set_distances  # noqa: E402
from rlmusic.music.bands import corpus_sample, metrics_of  # noqa: E402
from rlmusic.music.corrupt import CORRUPTIONS, corrupt  # noqa: E402
from rlmusic.music.metrics import METRICS  # noqa: E402
from rlmusic.resources import CORPUS_JAZZ  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=640, help="window length, as the demo's samples")
    ap.add_argument("--num", type=int, default=64, help="pieces per row, as the demo's columns")
    ap.add_argument("--reference", type=Path, help="a folder of MIDI files as the reference (default: the corpus's jazz)")
    ap.add_argument("--other", nargs="*", default=[], metavar="NAME=DIR", help="more rows: folders of other music")
    args = ap.parse_args()
    cfg = load_config(resolve_config_path("tiny"), [])
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, progress=False)
    select = CORPUS_JAZZ
    if args.reference:  # windows of a folder, cut as `rlmusic metrics --reference-tokens` cuts them
        corpus, select = tokenize_folder(args.reference, tok, cfg.data, progress=False), ""
    # the reference exactly as `rlmusic metrics` draws it (seed 0, every split, 200 pieces)
    reference, _ = corpus_sample(corpus, tok, "all", 200, select=select, window=args.tokens)
    ref, names = metrics_of(reference), list(METRICS)

    def row(label: str, pieces) -> None:
        v = metrics_of(pieces)
        d = set_distances(v, ref, names)
        top = ", ".join(f"{k} {a:.2f}" for k, a in separating_metrics(v, ref, names)[:3])
        print(f"| {label} | {len(pieces)} | {d['two_sample_auc']:.3f} | {d['frechet']:.1f} | {top} |", flush=True)

    what = args.reference.name if args.reference else "the corpus's jazz"
    print(f"| {args.tokens}-token windows against {what} ({len(reference)} windows) | pieces | two-sample AUC "
          "| Fréchet | separating most |")
    print("|---|---|---|---|---|")
    # other seeds draw other windows, of other pieces where there are more than --num (a small
    # folder has every piece in both: then only the windows differ)
    for seed in (11, 12):
        pieces, _ = corpus_sample(corpus, tok, "all", args.num, seed=seed, select=select, window=args.tokens)
        row(f"other windows of {what} (seed {seed})", pieces)
    pieces, _ = corpus_sample(corpus, tok, "all", args.num, seed=11, select=select, window=args.tokens)
    rng = np.random.default_rng(0)
    for kind in CORRUPTIONS:
        row(f"the same windows, {kind.replace('_', ' ')}", corrupt(pieces, kind, rng))
    others = () if args.reference else (
        ("mma/standards/jazz/", "the jazz standards alone (no grooves)"), ("mma/arrangements/other/", "MMA's non-jazz grooves"),
        ("bach/", "Bach chorales"), ("oneill/", "O'Neill's folk tunes"))
    for part, label in others:  # pieces of the corpus named with ``part``
        pieces, _ = corpus_sample(corpus, tok, "all", args.num, seed=11, select=part, window=args.tokens)
        row(label, pieces)
    for spec in args.other:
        name, _, folder = spec.partition("=")
        other = tokenize_folder(Path(folder), tok, cfg.data, progress=False)
        pieces, _ = corpus_sample(other, tok, "all", args.num, seed=11, window=args.tokens)
        row(name, pieces)


if __name__ == "__main__":
    main()

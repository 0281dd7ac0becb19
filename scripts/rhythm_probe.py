"""The rhythm probe: what the judge and the discriminator give the corpus's jazz when one
rhythmic trait is changed and the pitches are left alone.

    python scripts/rhythm_probe.py [--disc CKPT] [--judge DIR] [--max-pieces 300]

The PPO runs that gain most on the judge also play straighter eighths, shorter notes and more
bass onsets than real jazz does (docs/results.md). If the judge liked those traits for their
own sake, real jazz changed toward them would score higher; each row below changes one:

- ``swing straightened``: every onset at 2/3 of a beat moved to 1/2 (swing ratio -> 0);
- ``durations x0.7``: every note 30% shorter, onsets kept;
- ``bass re-struck``: each beat's lowest note, when held past the half beat, struck again at
  the swung off-beat (more bass onsets a beat).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.config.sections import DataConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.models.discriminator import load_discriminator  # noqa: E402
from rlmusic.models.judge import Judge  # noqa: E402
from rlmusic.music.metrics import METRICS  # noqa: E402
from rlmusic.music.piece import Piece, piece_from_arrays  # noqa: E402
from rlmusic.music.scramble import excerpts, pieces_of_ids, token_scorer  # noqa: E402
from rlmusic.resources import SHIPPED_GAN_CLF, SHIPPED_JUDGE  # noqa: E402

SHOWN = ["swing_ratio", "mean_duration", "bass_onsets_per_beat"]


def _with(p: Piece, time: np.ndarray, duration: np.ndarray, pitch: np.ndarray, drum: np.ndarray) -> Piece:
    return piece_from_arrays(time, duration, pitch, drum, tpq=p.tpq, bar_ticks=p.bar_ticks)


def straightened(p: Piece) -> Piece:
    t = p.time.copy()
    swung = np.abs((p.time % p.tpq) / p.tpq - 2 / 3) < 0.06
    t[swung] = p.time[swung] // p.tpq * p.tpq + p.tpq // 2
    return _with(p, t, p.duration, p.pitch, p.is_drum)


def shortened(p: Piece) -> Piece:
    return _with(p, p.time, np.maximum(1, (p.duration * 0.7).astype(np.int64)), p.pitch, p.is_drum)


def bass_restruck(p: Piece) -> Piece:
    idx = p.pitched
    t, d, pitch = p.time[idx], p.duration[idx], p.pitch[idx]
    beat = t // p.tpq
    add_t, add_p = [], []
    for b in np.unique(beat):
        k = np.flatnonzero(beat == b)[np.argmin(pitch[beat == b])]
        if d[k] > p.tpq // 2:
            add_t.append(b * p.tpq + 2 * p.tpq // 3)
            add_p.append(pitch[k])
    n = len(add_t)
    return _with(p, np.concatenate([p.time, np.array(add_t, np.int64)]),
                 np.concatenate([p.duration, np.full(n, p.tpq // 3, np.int64)]),
                 np.concatenate([p.pitch, np.array(add_p, np.int64)]), np.concatenate([p.is_drum, np.zeros(n, bool)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disc", default=str(SHIPPED_GAN_CLF))
    ap.add_argument("--judge", default=str(SHIPPED_JUDGE))
    ap.add_argument("--max-pieces", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    disc = load_discriminator(args.disc)
    tok = disc.tokenizer  # the MidiTok tokenizer saved with it, whose ids it reads
    judge = Judge.load(args.judge)
    disc_score = token_scorer(disc.prob_jazz, tok, disc.max_window)
    rng = np.random.default_rng(args.seed)
    _, corpus = prepare_corpus(DataConfig(), TokenizerConfig(), tokenizer=tok, progress=False)
    idx = np.array([i for i, n in enumerate(corpus.names) if "/jazz/" in n])
    if len(idx) > args.max_pieces:
        idx = np.sort(rng.choice(idx, args.max_pieces, replace=False))
    real = excerpts(pieces_of_ids(tok, [corpus.piece(i) for i in idx]), rng)

    print("| 40-beat excerpts of the corpus's jazz | judge | discriminator | " + " | ".join(SHOWN) + " |")
    print("|---" * (len(SHOWN) + 3) + "|")
    for name, change in [("as they are", None), ("swing straightened", straightened),
                         ("durations x0.7", shortened), ("bass re-struck", bass_restruck)]:
        pieces = real if change is None else [change(p) for p in real]
        cells = [np.nanmean(judge.prob_jazz(pieces)), np.mean(disc_score(pieces)),
                 *(np.nanmean([METRICS[m](p) for p in pieces]) for m in SHOWN)]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()

"""Where a prior's longest silences come from: the alarm held to 640 tokens and allowed to end,
before and after the first context, and in the corpus's own collections.

    python scripts/silence_study.py CKPT [CKPT ...] [--samples 128] [--collections essen/ oneill/ bach/ /jazz/]

For each checkpoint: the share of samples from BOS (at least 8 bars, as the demo samples) whose
longest silence is beyond real jazz's bound (``--bound``, beats: the 95th percentile of the
corpus's jazz in 640-token windows), with EOS held back to 640 tokens and allowed after 8 bars;
whether the longest gap starts within the first 255 tokens or after them; split by polyphony
(2 and more: arrangement-like). For each collection: the same share over its training pieces'
640-token windows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from policies import load_policy  # noqa: E402
from rlmusic.config.sections import DataConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.data.tokens import decode_ids  # noqa: E402
from rlmusic.evaluate.before_after import sample_config  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.models.generate import generate_pieces  # noqa: E402
from rlmusic.music.bands import metric_values  # noqa: E402
from rlmusic.music.metrics import polyphony  # noqa: E402
from rlmusic.music.piece import merge_intervals, piece_from_score  # noqa: E402
from rlmusic.music.texture import _pitched  # noqa: E402


def gaps(piece) -> tuple[np.ndarray, np.ndarray]:
    """(start tick, length in beats) of every silence from tick 0 to the last note's end."""
    t, d, _ = _pitched(piece)
    s, e = merge_intervals(t, t + d)
    return np.r_[0, e[:-1]], np.r_[s[0], s[1:] - e[:-1]] / piece.tpq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="*")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--bound", type=float, default=0.8334, help="real jazz's 95th percentile, beats")
    ap.add_argument("--collections", nargs="*", default=["essen/", "oneill/", "bach/", "/jazz/"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for path in args.checkpoints:
        ck = load_checkpoint(path, load_policy)
        for held in (True, False):
            cfg = sample_config(args.samples, 640, bars=8)
            if not held:
                cfg.min_new_tokens = 0
            rows = []
            for p in generate_pieces(ck.policy, ck.tokenizer, cfg, progress=False):
                whole = piece_from_score(p.score)
                first = piece_from_score(decode_ids(ck.tokenizer, list(p.ids)[:255])[0])
                t, d, _ = _pitched(first)
                cut = (t + d).max() if len(t) else 0
                start, length = gaps(whole)
                rows.append((length.max() > args.bound, length[start < cut].max(initial=0) > args.bound,
                             length[start >= cut].max(initial=0) > args.bound, polyphony(whole) >= 2))
            r = np.array(rows)
            poly = r[:, 3]
            print(f"{path} ({'held to 640 tokens' if held else 'EOS allowed after 8 bars'}): alarm {r[:, 0].mean():.1%}; "
                  f"gap in the first 255 tokens {r[:, 1].mean():.1%}, after {r[:, 2].mean():.1%}; polyphony >= 2: "
                  f"{poly.sum()} of {len(r)}, alarm {r[poly, 0].mean():.1%}, the others {r[~poly, 0].mean():.1%}")
    if args.collections:
        tok, corpus = prepare_corpus(DataConfig(), TokenizerConfig(), progress=False)
        names = corpus.names
        for sel in args.collections:
            values = np.array(metric_values(corpus, tok, 300, select=sel, window=640)["longest_silence"])
            values = values[~np.isnan(values)]
            share = sum(sel in n for n in names) / len(names)
            print(f"corpus {sel}: {share:.0%} of the pieces; windows beyond the bound {np.mean(values > args.bound):.1%} "
                  f"(median longest silence {np.median(values):.2f} beats, {len(values)} windows)")


if __name__ == "__main__":
    main()

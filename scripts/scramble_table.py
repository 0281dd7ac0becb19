"""The scramble table: what a discriminator and a judge give real jazz, the same jazz with its
structure destroyed, and folders of samples; with the harmony metrics beside them.

    python scripts/scramble_table.py [--disc CKPT] [--judge DIR] [--samples NAME=DIR ...]
                                     [--jazz DIR] [--max-pieces 300] [--json out.json]

Real jazz: 40-beat excerpts of the default corpus's jazz (MMA renders of the iRb standards and
of the jazz grooves), or of the MIDI files under ``--jazz`` (e.g. a folder of human-played
jazz). Each corruption of rlmusic/music/corrupt.py is applied to the same excerpts. Samples are
scored as whole files, 40-beat excerpts as well.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.config.sections import DataConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import prepare_corpus, tokenize_folder  # noqa: E402
from rlmusic.models.discriminator import load_discriminator  # noqa: E402
from rlmusic.models.judge import Judge  # noqa: E402
from rlmusic.music.corrupt import CORRUPTIONS, corrupt  # noqa: E402
from rlmusic.music.metrics import METRICS  # noqa: E402
from rlmusic.music.scramble import excerpts, pieces_of_ids, token_scorer  # noqa: E402
from rlmusic.resources import SHIPPED_CLF, SHIPPED_JUDGE  # noqa: E402

HARMONY = ["chord_fit", "bass_on_root", "chord_changes_per_bar", "root_changes_per_bar", "chord_changes_on_strong_beats",
           "melody_steps", "melody_interval", "voice_leading", "pitch_range", "n_pitch_classes_used", "onsets_per_beat",
           "notes_per_bar"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disc", default=str(SHIPPED_CLF))
    ap.add_argument("--judge", default=str(SHIPPED_JUDGE))
    ap.add_argument("--jazz", default="", help="folder of real jazz MIDI (default: the corpus's jazz)")
    ap.add_argument("--samples", nargs="*", default=[], help="NAME=DIR folders of generated MIDI")
    ap.add_argument("--max-pieces", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    disc = load_discriminator(args.disc)
    tok = disc.tokenizer  # the MidiTok tokenizer saved with it, whose ids it reads
    judge = Judge.load(args.judge)
    rng = np.random.default_rng(args.seed)
    if args.jazz:
        corpus = tokenize_folder(Path(args.jazz), tok, DataConfig(), progress=False)
        idx = np.arange(len(corpus))
    else:
        _, corpus = prepare_corpus(DataConfig(), TokenizerConfig(), tokenizer=tok, progress=False)
        idx = np.array([i for i, n in enumerate(corpus.names) if "/jazz/" in n])
    if len(idx) > args.max_pieces:
        idx = np.sort(rng.choice(idx, args.max_pieces, replace=False))
    real = excerpts(pieces_of_ids(tok, [corpus.piece(i) for i in idx]), rng)
    rows = {"real jazz": real}
    for kind in CORRUPTIONS:
        rows[kind] = corrupt(real, kind, np.random.default_rng(args.seed + 1))
    for spec in args.samples:
        name, _, folder = spec.partition("=")
        c = tokenize_folder(Path(folder), tok, DataConfig(), progress=False)
        rows[name] = excerpts(pieces_of_ids(tok, [c.piece(i) for i in range(len(c))]), rng)

    disc_score = token_scorer(disc.prob_jazz, tok, disc.max_window)
    table = {}
    for name, pieces in rows.items():
        r = {"n": len(pieces), "discriminator": float(np.mean(disc_score(pieces))),
             "judge": float(np.nanmean(judge.prob_jazz(pieces)))}
        for m in HARMONY:
            r[m] = float(np.nanmean([METRICS[m](p) for p in pieces]))
        table[name] = r
    cols = ["n", "discriminator", "judge", *HARMONY]
    print("| excerpts | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in table.items():
        print(f"| {name} | " + " | ".join(f"{r[c]:.3f}" if c != "n" else str(r[c]) for c in cols) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()

"""What the jazz models know of jazz that people played: ROC-AUC against real non-jazz, per
folder and pooled, and the scramble test on the same jazz.

    python scripts/realjazz_eval.py JAZZ_DIR [--disc CKPT ...] [--judge DIR] [--split test|all]
                                    [--split-by file|prefix] [--json out.json]

Jazz: the MIDI files under JAZZ_DIR (e.g. ../shared/realjazz: Weimar Jazz Database solos,
Doug McKenzie's piano, bebop heads, lead sheets), each first-level folder reported alone and
all pooled; ``--split test`` keeps only the files a ``train-clf --jazz JAZZ_DIR`` run holds out
(its 20% by ``clf.split_by``), so a discriminator trained on the folder is measured on jazz it
never saw. Non-jazz: the embedded corpus's held-out (validation) folk tunes, Bach chorales and
MMA non-jazz grooves (up to 200 of each collection). A discriminator scores a piece as the mean P(jazz) of evenly spaced
windows (as ``train-clf`` reports); the judge, the mean over random excerpts of 2-16 bars. The
scramble test: 40-beat excerpts of the jazz, and the same excerpts with their pitches permuted
among the notes (and the other corruptions), scored as the reward reads a sample.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.config.sections import DataConfig  # noqa: E402
from rlmusic.data.labelled import concat, embedded_other, labelled_from_target  # noqa: E402
from rlmusic.models.classify_eval import roc_auc  # noqa: E402
from rlmusic.models.discriminator import load_discriminator, score_pieces  # noqa: E402
from rlmusic.models.judge import Judge, excerpt_matrix, score_rows  # noqa: E402
from rlmusic.music.scramble import pieces_of_ids, scramble_test, token_scorer  # noqa: E402
from rlmusic.resources import SHIPPED_CLF, SHIPPED_JUDGE  # noqa: E402


def aucs(labels: np.ndarray, groups: list[str], probs: np.ndarray) -> dict[str, float]:
    g = np.array(groups)
    out = {"pooled": roc_auc(labels, probs)}
    for name in sorted(set(g[labels == 1])):
        keep = (g == name) | (labels == 0)
        out[name] = roc_auc(labels[keep], probs[keep])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jazz")
    ap.add_argument("--disc", nargs="*", default=[str(SHIPPED_CLF)])
    ap.add_argument("--judge", default=str(SHIPPED_JUDGE))
    ap.add_argument("--split", choices=["test", "all"], default="all")
    ap.add_argument("--split-by", choices=["file", "prefix"], default="file")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    report: dict = {}
    judge = Judge.load(args.judge)
    for path in args.disc:
        disc = load_discriminator(path)
        tok = disc.tokenizer
        jazz = labelled_from_target(args.jazz, tok, DataConfig(), split_by=args.split_by)
        jazz = jazz.select((jazz.labels == 1) & (np.array([s == "test" for s in jazz.splits]) | (args.split == "all")))
        data = concat(jazz, embedded_other(tok, DataConfig(), held_out_only=True))  # non-jazz: the corpus's held-out
        probs = score_pieces(disc, data.pieces, disc.max_window // 2, 4)
        jazz = [p for p, y in zip(data.pieces, data.labels) if y == 1]
        entry = {"jazz_pieces": int(data.labels.sum()), "other_pieces": int((data.labels == 0).sum()),
                 "roc_auc": aucs(data.labels, data.groups, probs),
                 "mean_p_jazz": {g: float(probs[np.array(data.groups) == g].mean()) for g in sorted(set(data.groups))},
                 "scramble_test": scramble_test(token_scorer(disc.prob_jazz, tok, disc.max_window),
                                                pieces_of_ids(tok, jazz))}
        report[path] = entry
        print(f"discriminator {path}: {entry['jazz_pieces']} jazz vs {entry['other_pieces']} non-jazz pieces; ROC-AUC "
              + ", ".join(f"{k} {v:.3f}" for k, v in entry["roc_auc"].items()))
        st = entry["scramble_test"]
        print(f"  scramble test: real {st['real']:.3f}, permuted pitches {st['permuted_pitches']:.3f} "
              f"(gap {st['gap/permuted_pitches']:+.3f}), shuffled onsets {st['shuffled_onsets']:.3f}, spliced bars "
              f"{st['spliced_bars']:.3f}, transposed voices {st['transposed_voices']:.3f}")
        if "judge" not in report:  # the judge's figures on the same pieces
            pieces = pieces_of_ids(tok, data.pieces)
            x, owner = excerpt_matrix(pieces, 4, seed=0)
            jp = score_rows(judge, x, owner, len(pieces))
            ok = ~np.isnan(jp)
            entry_j = {"roc_auc": aucs(data.labels[ok], [g for g, o in zip(data.groups, ok) if o], jp[ok]),
                       "scramble_test": scramble_test(judge.prob_jazz, [p for p, y in zip(pieces, data.labels) if y == 1])}
            report["judge"] = entry_j
            print(f"judge {args.judge}: ROC-AUC " + ", ".join(f"{k} {v:.3f}" for k, v in entry_j["roc_auc"].items()))
            st = entry_j["scramble_test"]
            print(f"  scramble test: real {st['real']:.3f}, permuted pitches {st['permuted_pitches']:.3f} "
                  f"(gap {st['gap/permuted_pitches']:+.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

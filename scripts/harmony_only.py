"""How much of jazz / not-jazz can the harmony alone tell? A harmony-only model on the jazz set.

    python scripts/harmony_only.py [--set DIR] [--json out.json]

The jazz set must teach a discriminator the *groove* of jazz, not its chord changes: real
standards (iRb) as positives only would make "has ii-V-I changes" a label. The set renders
every standard twice, in a jazz and in a non-jazz groove. This script measures what that buys:
a model that sees only the harmony (each beat's chord from ``rlmusic.music.texture.beat_chords``:
the share of each chord quality, of each root movement between chords, and chord changes per
bar) is scored by grouped cross-validation holding out whole groove families, as ``train-clf
--cv`` does, on

1. the set as built (standards in both labels, synthetic charts with label-independent
   progressions), and
2. the design it avoids: standards as positives only, against the non-jazz synthetic charts.

ROC-AUC 0.5 means the harmony says nothing of the label.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402

from rlmusic.config.sections import DataConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import tokenize_folder  # noqa: E402
from rlmusic.data.jazz_data import family_of, read_manifest  # noqa: E402
from rlmusic.data.jazz_set import build_default_set  # noqa: E402
from rlmusic.data.labelled import labelled_from_corpus  # noqa: E402
from rlmusic.data.tokens import build_tokenizer, decode_ids  # noqa: E402
from rlmusic.models.classify_eval import classification_report, style_folds  # noqa: E402
from rlmusic.music.piece import piece_from_score  # noqa: E402
from rlmusic.music.texture import CHORD_TEMPLATES, beat_chords, chord_changes_per_bar  # noqa: E402
from rlmusic.tracking import quiet_libraries  # noqa: E402

Q = len(CHORD_TEMPLATES)


def harmony_features(piece) -> np.ndarray:
    labels = beat_chords(piece)
    known = labels[labels >= 0]
    quality = np.bincount(known % Q, minlength=Q) / max(1, len(known))
    change = np.flatnonzero(known[1:] != known[:-1])
    moves = ((known[1:][change] // Q) - (known[:-1][change] // Q)) % 12
    movement = np.bincount(moves, minlength=12) / max(1, len(moves))
    changes = chord_changes_per_bar(piece)
    return np.r_[quality, movement, 0.0 if np.isnan(changes) else changes]


def grouped_auc(x, labels, groups, seed: int = 0) -> dict:
    families = np.array([family_of(g) for g in groups])
    probs = np.full(len(labels), np.nan)
    for fold in style_folds(groups, labels, 5, seed):
        out = np.isin(families, list(fold))
        y = labels[~out]
        w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
        model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=seed)
        model.fit(x[~out], y, sample_weight=w)
        probs[out] = model.predict_proba(x[out])[:, 1]
    ok = ~np.isnan(probs)
    r = classification_report(labels[ok], probs[ok], [groups[i] for i in np.flatnonzero(ok)])
    return {k: r[k] for k in ("n", "accuracy", "balanced_accuracy", "roc_auc")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    quiet_libraries()
    folder = Path(args.set) if args.set else build_default_set()
    tok = build_tokenizer(TokenizerConfig())
    manifest = read_manifest(folder)
    data = labelled_from_corpus(tokenize_folder(folder, tok, DataConfig()), manifest)
    irb = {p["file"].rsplit(".", 1)[0] for p in manifest["pieces"] if p.get("family") == "irb"}
    if not irb:
        sys.exit("this jazz set has no iRb standards: run `rlmusic data irb`, then rebuild it")
    x = np.array([harmony_features(piece_from_score(decode_ids(tok, p)[0])) for p in data.pieces])
    is_irb = np.array([n in irb for n in data.names])
    labels = np.asarray(data.labels)
    as_built = grouped_auc(x, labels, data.groups)
    avoided = (is_irb & (labels == 1)) | (~is_irb & (labels == 0))
    idx = np.flatnonzero(avoided)
    positives_only = grouped_auc(x[idx], labels[idx], [data.groups[i] for i in idx])
    print(f"harmony only, grouped CV (5 folds, whole groove families held out), {x.shape[1]} features:")
    for name, r in (("as built: standards in jazz and non-jazz grooves", as_built),
                    ("avoided: standards as jazz only, synthetic charts as other", positives_only)):
        print(f"  {name}: ROC-AUC {r['roc_auc']:.3f}, balanced accuracy {r['balanced_accuracy']:.3f} ({r['n']} pieces)")
    if args.json:
        Path(args.json).write_text(json.dumps({"set": str(folder), "as_built": as_built,
                                               "standards_as_positives_only": positives_only}, indent=1))


if __name__ == "__main__":
    main()

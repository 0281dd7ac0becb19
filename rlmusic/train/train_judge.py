"""``rlmusic train-judge``: the independent jazz judge, trained on its own split of the jazz set."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rlmusic.config.commands import JazzSetSpec
from rlmusic.config.load import load_config, resolve_config_path
from rlmusic.data.corpus import tokenize_folder
from rlmusic.data.jazz_data import read_manifest
from rlmusic.data.jazz_set import build_default_set
from rlmusic.data.labelled import labelled_from_corpus
from rlmusic.data.tokens import build_tokenizer, decode_ids
from rlmusic.models.judge import Judge, train_judge
from rlmusic.music.corrupt import check_kinds
from rlmusic.music.piece import piece_from_score
from rlmusic.resources import SHIPPED_JUDGE


def run_train_judge(config: str | None = "tiny", set_dir: str | None = None, out: str | None = None, seed: int = 7,
                    folds: int = 5, spec: JazzSetSpec | None = None, overrides: list[str] | None = None) -> Judge:
    """Train the judge on ``set_dir`` (default: the default jazz set) and save it to ``out``
    (default: the shipped ``checkpoints/jazz-judge``); prints its held-out and grouped-CV figures.
    ``overrides``: the config's ``section.key=value`` (the tokenizer; ``clf.scrambled_kinds``, the
    corruptions it learns from)."""
    cfg = load_config(resolve_config_path(config), overrides or [])
    check_kinds(cfg.clf.scrambled_kinds, "clf.scrambled_kinds")
    t0 = time.time()
    folder = Path(set_dir) if set_dir else build_default_set(spec)
    tokenizer = build_tokenizer(cfg.tokenizer)  # pieces quantized exactly as generated ones are
    data = labelled_from_corpus(tokenize_folder(folder, tokenizer, cfg.data), read_manifest(folder))
    pieces = [piece_from_score(decode_ids(tokenizer, p)[0]) for p in data.pieces]
    print(f"judge: {len(pieces)} pieces ({int(np.sum(data.labels))} jazz) from {folder}")
    judge = train_judge(pieces, data.labels, data.groups, data.names, seed=seed, folds=folds,
                        kinds=cfg.clf.scrambled_kinds)
    judge.meta |= {"set": str(folder), "seconds": round(time.time() - t0, 1)}
    path = judge.save(out or SHIPPED_JUDGE)
    h, cv = judge.meta["held_out"], judge.meta["grouped_cv"]
    print(f"held-out pieces (its own split): accuracy {h['accuracy']:.3f}, balanced {h['balanced_accuracy']:.3f}, "
          f"ROC-AUC {h['roc_auc']:.3f} ({h['n']} pieces)")
    if judge.meta.get("scramble_test"):
        from rlmusic.music.scramble import format_scramble

        print(format_scramble(judge.meta["scramble_test"], "its held-out jazz"))
    if cv:
        print(f"grouped CV ({folds} folds, whole groove families held out): accuracy {cv['accuracy']:.3f} "
              f"(all 'other' would score {cv['majority_rate']:.3f}), balanced {cv['balanced_accuracy']:.3f}, "
              f"ROC-AUC {cv['roc_auc']:.3f}")
    print(f"judge: {path} ({time.time() - t0:.0f}s)")
    return judge

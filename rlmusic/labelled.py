"""Labelled pieces for the jazz discriminator: token pieces with a label (1 jazz), a group
(what grouped cross-validation holds out together) and a split, read from the jazz set, from
two user folders, or from any corpus by a selection of names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlmusic.corpus import Corpus, holdout_mask, tokenize_folder
from rlmusic.errors import RLMusicError


@dataclass
class Labelled:
    """Token pieces with labels (1 jazz), groups (groove style, or 'folk/bach'), and a split."""

    pieces: list[np.ndarray]
    labels: np.ndarray
    groups: list[str]
    splits: list[str]
    names: list[str] = field(default_factory=list)

    def select(self, mask) -> Labelled:
        idx = np.flatnonzero(mask)
        return Labelled([self.pieces[i] for i in idx], self.labels[idx], [self.groups[i] for i in idx],
                        [self.splits[i] for i in idx], [self.names[i] for i in idx])

    def counts(self) -> dict:
        out: dict = {}
        for lab, grp, spl in zip(self.labels, self.groups, self.splits):
            out.setdefault(spl, {}).setdefault("jazz" if lab else "other", {}).setdefault(grp, 0)
            out[spl]["jazz" if lab else "other"][grp] += 1
        return out


def labelled_from_corpus(corpus: Corpus, manifest: dict | None = None) -> Labelled:
    """Names look like ``<split>/<jazz|other>/<style>_<i>``; the manifest (if any) names the style."""
    style_of = {}
    if manifest:
        style_of = {p["file"].rsplit(".", 1)[0]: p["style"] for p in manifest["pieces"]}
    pieces, labels, groups, splits = [], [], [], []
    for i, name in enumerate(corpus.names):
        parts = name.split("/")
        if len(parts) < 3 or parts[1] not in ("jazz", "other"):
            continue
        pieces.append(np.asarray(corpus.piece(i), dtype=np.int64))
        labels.append(1 if parts[1] == "jazz" else 0)
        groups.append(style_of.get(name, parts[2].rsplit("_", 1)[0]))
        splits.append(parts[0])
    names = [n for n in corpus.names if len(n.split("/")) >= 3 and n.split("/")[1] in ("jazz", "other")]
    return Labelled(pieces, np.array(labels), groups, splits, names)


def labelled_from_selection(corpus: Corpus, select: str) -> Labelled:
    """Any corpus as labelled pieces: names containing ``select`` are jazz, the rest are not; the
    corpus's validation pieces are the test split; a piece's folder is its group."""
    names = list(corpus.names)
    labels = np.array([int(select in n) for n in names])
    if labels.sum() in (0, len(names)):
        raise RLMusicError(f"ppo.refresh_from needs pieces with and without {select!r} in their names; "
                           f"{int(labels.sum())} of {len(names)} have it")
    return Labelled([np.asarray(corpus.piece(i), dtype=np.int64) for i in range(len(names))], labels,
                    [n.rsplit("/", 1)[0] for n in names], ["test" if v else "train" for v in corpus.is_val], names)


def labelled_from_folders(jazz_dir: str | Path, other_dir: str | Path, tokenizer, data_cfg) -> Labelled:
    """Two user folders -> labelled pieces. Each folder's first-level subfolders are the groups
    grouped CV holds out; 20% of each folder (by name hash, stable) is the test split."""
    pieces, labels, groups, splits, names = [], [], [], [], []
    for label, folder in ((1, jazz_dir), (0, other_dir)):
        corpus = tokenize_folder(Path(folder), tokenizer, data_cfg)
        test = holdout_mask(corpus.names, 0.2)
        for i, name in enumerate(corpus.names):
            pieces.append(np.asarray(corpus.piece(i), dtype=np.int64))
            labels.append(label)
            groups.append(name.split("/")[0] if "/" in name else Path(folder).name)
            splits.append("test" if test[i] else "train")
            names.append(name)
    return Labelled(pieces, np.array(labels), groups, splits, names)

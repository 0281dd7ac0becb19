"""Labelled pieces for the jazz discriminator: token pieces with a label (1 jazz), a group
(what grouped cross-validation holds out together) and a split, read from the jazz set, from
two user folders, or from any corpus by a selection of names; and the training windows cut
from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlmusic.data.corpus import Corpus, holdout_mask, tokenize_folder
from rlmusic.data.jazz_data import family_of
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


TEST_SHARE = 0.2  # of each user folder, held out by split key


def split_key(name: str, split_by: str = "file") -> str:
    """What stays in one split: the file (``file``), or its subfolder and the part of its name
    before the first underscore (``prefix``), so ``Performer_Tune`` files of one performer (Weimar
    Jazz Database solos, say) never fall on both sides."""
    if split_by == "file":
        return name
    folder, _, stem = name.rpartition("/")
    return f"{folder}/{stem.split('_')[0]}"


def _folder_pieces(folder: str | Path, label: int, tokenizer, data_cfg, split_by: str = "file") -> Labelled:
    corpus = tokenize_folder(Path(folder), tokenizer, data_cfg)
    test = holdout_mask([split_key(n, split_by) for n in corpus.names], TEST_SHARE)
    return Labelled([np.asarray(corpus.piece(i), dtype=np.int64) for i in range(len(corpus))],
                    np.full(len(corpus), label),
                    [name.split("/")[0] if "/" in name else Path(folder).name for name in corpus.names],
                    ["test" if t else "train" for t in test], list(corpus.names))


def concat(*parts: Labelled) -> Labelled:
    return Labelled([p for d in parts for p in d.pieces], np.concatenate([d.labels for d in parts]),
                    [g for d in parts for g in d.groups], [s for d in parts for s in d.splits],
                    [n for d in parts for n in d.names])


def labelled_from_folders(jazz_dir: str | Path, other_dir: str | Path, tokenizer, data_cfg,
                          split_by: str = "file") -> Labelled:
    """Two user folders -> labelled pieces. Each folder's first-level subfolders are the groups
    grouped CV holds out; ``TEST_SHARE`` of each folder (by ``split_key`` hash, stable) is the
    test split."""
    return concat(_folder_pieces(jazz_dir, 1, tokenizer, data_cfg, split_by),
                  _folder_pieces(other_dir, 0, tokenizer, data_cfg, split_by))


# The embedded corpus's collections that are not jazz, and how many pieces each gives as negatives.
EMBEDDED_OTHER = {"essen": 200, "oneill": 200, "aird": 150, "ryan": 150, "bach": 200, "miscfolk": 100,
                  "mma/arrangements/other": 200}


def embedded_other(tokenizer, data_cfg, seed: int = 0, held_out_only: bool = False) -> Labelled:
    """Real non-jazz from the training corpus: the embedded one's folk tunes of four collections,
    Bach chorales and MMA's non-jazz grooves (``EMBEDDED_OTHER`` pieces of each), or, with
    ``data.data``, that folder's pieces whose name has no ``/jazz/`` (1,000 at most), drawn with
    ``seed``; a collection (top folder) is a group, the corpus's validation split the test split
    (``held_out_only``: only its pieces, e.g. to measure a model trained on the rest)."""
    from rlmusic.config.sections import TokenizerConfig
    from rlmusic.data.corpus import prepare_corpus

    corpus = prepare_corpus(data_cfg, TokenizerConfig(), tokenizer=tokenizer, progress=False)[1]
    rng = np.random.default_rng(seed)
    quota = EMBEDDED_OTHER if not data_cfg.data else {
        top: 1000 // max(1, len({n.split("/")[0] for n in corpus.names}))
        for top in sorted({n.split("/")[0] for n in corpus.names if "/jazz/" not in n})}
    pieces, groups, splits, names = [], [], [], []
    for collection, n in quota.items():
        idx = np.array([i for i, name in enumerate(corpus.names)
                        if (name.startswith(collection + "/") or name == collection) and "/jazz/" not in name
                        and (corpus.is_val[i] or not held_out_only)])
        for i in np.sort(rng.choice(idx, min(n, len(idx)), replace=False)) if len(idx) else []:
            pieces.append(np.asarray(corpus.piece(i), dtype=np.int64))
            groups.append(collection)
            splits.append("test" if corpus.is_val[i] else "train")
            names.append(corpus.names[i])
    return Labelled(pieces, np.zeros(len(pieces), np.int64), groups, splits, names)


def generated_pieces(folder: str | Path, tokenizer, data_cfg) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A generator's samples (``rlmusic generate`` output, say) as the discriminator's negatives:
    (training pieces, held-out pieces), ``TEST_SHARE`` of the files held out by name."""
    pieces = _folder_pieces(folder, 0, tokenizer, data_cfg)
    return ([p for p, s in zip(pieces.pieces, pieces.splits) if s == "train"],
            [p for p, s in zip(pieces.pieces, pieces.splits) if s == "test"])


def labelled_from_target(jazz_dir: str | Path, tokenizer, data_cfg, seed: int = 0, split_by: str = "file") -> Labelled:
    """A folder of the style one wants (jazz people played, say) against the training corpus's
    real non-jazz (``embedded_other``): ``train-clf --jazz DIR`` without ``--other``."""
    return concat(_folder_pieces(jazz_dir, 1, tokenizer, data_cfg, split_by), embedded_other(tokenizer, data_cfg, seed))


# --- training windows ------------------------------------------------------------------------


def _cut(pieces: list[np.ndarray], lengths: np.ndarray, pool: np.ndarray, length: int,
         rng: np.random.Generator) -> list[int]:
    """A window of ``length`` ids from a random piece of ``pool`` at least that long (any piece
    of it when none is)."""
    long_enough = pool[lengths[pool] >= length]
    pool = long_enough if len(long_enough) else pool
    piece = pieces[pool[rng.integers(len(pool))]]
    start = int(rng.integers(0, max(len(piece) - length, 0) + 1))
    return piece[start : start + length].tolist()


def sample_windows(data: Labelled, rng: np.random.Generator, batch: int, lo: int, hi: int,
                   balance: str = "piece", scrambled: list[np.ndarray] | None = None,
                   scrambled_share: float = 0.0, generated: list[np.ndarray] | None = None,
                   generated_share: float = 0.0) -> tuple[list, list]:
    """Half jazz, half not; each window a random length in [lo, hi] from a piece at least that long,
    so window length says nothing about the label. ``balance="family"`` first draws a groove family
    of the label uniformly (``family_of``), then a piece in it. With ``scrambled`` (corrupted copies
    of jazz, ``rlmusic.music.scramble.corrupted_pieces``), a ``scrambled_share`` of the batch is their
    windows, cut the same way, among the negatives; with ``generated`` (a generator's samples),
    a ``generated_share`` more."""
    windows, labels = [], []
    lengths = np.array([len(p) for p in data.pieces])
    s_lengths = np.array([len(p) for p in scrambled]) if scrambled else None
    n_scrambled = round(scrambled_share * batch) if scrambled else 0
    g_lengths = np.array([len(p) for p in generated]) if generated else None
    n_generated = round(generated_share * batch) if generated else 0
    by_label = {lab: np.flatnonzero(data.labels == lab) for lab in (0, 1)}
    by_family: dict[int, list[np.ndarray]] = {}
    if balance == "family":
        fams = np.array([family_of(g) for g in data.groups])
        by_family = {lab: [idx[fams[idx] == f] for f in np.unique(fams[idx])] for lab, idx in by_label.items()}
    for k in range(batch):
        lab = k % 2
        length = int(rng.integers(lo, hi + 1))
        if lab == 0 and k // 2 < n_scrambled:
            windows.append(_cut(scrambled, s_lengths, np.arange(len(scrambled)), length, rng))
            labels.append(0)
            continue
        if lab == 0 and k // 2 < n_scrambled + n_generated:
            windows.append(_cut(generated, g_lengths, np.arange(len(generated)), length, rng))
            labels.append(0)
            continue
        pool = by_label[lab]
        if by_family:
            pool = by_family[lab][rng.integers(len(by_family[lab]))]
        windows.append(_cut(data.pieces, lengths, pool, length, rng))
        labels.append(lab)
    return windows, labels


def drop_notes(window: list[int], is_pitch: np.ndarray, is_duration: np.ndarray, p: float,
               rng: np.random.Generator) -> list[int]:
    """The window without a random ``p`` share of its notes: a Pitch id and the Duration id right
    after it go together (REMI-like streams); every other id stays."""
    keep = np.ones(len(window), dtype=bool)
    ids = np.asarray(window)
    for i in np.flatnonzero(is_pitch[ids] & (rng.random(len(ids)) < p)):
        keep[i] = False
        if i + 1 < len(ids) and is_duration[ids[i + 1]]:
            keep[i + 1] = False
    return ids[keep].tolist()

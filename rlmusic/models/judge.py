"""The independent jazz judge: a different kind of model from the discriminator, never a reward.

The discriminator (a transformer over token ids) is the reward, so its P(jazz) of PPO's samples
says how well the policy learned to please it, not whether the music is jazz. The judge is a
second opinion the policy never trains against: 51 computed features of the notes (where in
the beat onsets fall, swing, note lengths, density, the bass line per beat, chord size, spread
and intervals, pitch statistics, metre, and the harmony of ``rlmusic.music.harmony``: chord fit,
bass on the root, where the chords change, the top voice's steps and leaps, voice leading)
and gradient-boosted trees, stored as plain arrays in a small JSON file (no pickle: loading it
runs no code). It is trained on excerpts of 2-16 bars of the labelled jazz set, with corrupted
copies of the jazz excerpts as negatives (``rlmusic.music.corrupt``: texture without harmony is not
jazz), with its own seed and its own held-out split, and reported as ``judge/p_jazz`` by
``rlmusic metrics``.
The ``rewards`` package does not import it, and ``--reward judge`` is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlmusic.errors import RLMusicError
from rlmusic.music.corrupt import CORRUPTIONS
from rlmusic.music.harmony import HARMONY_METRICS
from rlmusic.music.piece import Piece, piece_from_arrays
from rlmusic.music.scramble import NEGATIVES
from rlmusic.music.texture import chord_changes_per_bar

GRID = 12  # onset positions per beat: straight and swung eighths, sixteenths and triplets
BASS = 55  # below G3 counts as the bass register
JUDGE_FILE = "judge.json"
EXCERPT_BARS = (2, 16)  # training excerpts are this many bars long (inclusive), like short samples
# The harmony measures the judge reads, named: a metric added to the library later must not
# change the features of a judge already trained (``Judge.load`` checks them name by name).
HARMONY_FEATURES = ("chord_fit", "bass_on_root", "chord_changes_on_strong_beats", "melody_steps", "melody_interval",
                    "voice_leading")
FEATURES = ([f"phase_{k}" for k in range(GRID)] + ["swung_offbeats", "straight_offbeats", "sixteenth_offbeats"]
            + [f"length_{name}" for name in ("0-0.3", "0.3-0.6", "0.6-0.9", "0.9-1.1", "1.1-2.1", "2.1+")]
            + ["notes_per_beat", "onsets_per_beat", "notes_per_onset", "bass_beats", "bass_steps", "bass_repeats",
               "bass_fourths_fifths", "chord_onsets", "chords_off_beat", "chord_spread"]
            + [f"interval_class_{k}" for k in range(1, 7)]
            + ["pitch_class_entropy", "pitch_mean", "pitch_std", "metre_3", "metre_4", "metre_5", "bars"]
            + list(HARMONY_FEATURES) + ["chord_changes_per_bar"])
UNDEFINED = -1.0  # a harmony measure undefined for a piece (NaN) reads as this: trees split on it


def features(piece: Piece) -> np.ndarray | None:
    """The judge's feature vector of one piece's pitched notes (see ``FEATURES``); None with
    fewer than two notes (no rhythm to describe). Onsets are rounded to a 12-per-beat grid, so
    quantized and played MIDI describe alike."""
    idx = piece.pitched
    if len(idx) < 2:
        return None
    tpq = piece.tpq
    time_, duration, pitch = piece.time[idx], piece.duration[idx], piece.pitch[idx]
    onsets, first = np.unique(time_, return_index=True)
    groups = np.split(pitch, first[1:])  # pitches struck at each onset
    phase = np.rint((onsets % tpq) * GRID / tpq).astype(np.int64) % GRID
    beats = (time_.max() - time_.min()) / tpq + 1
    f = [np.mean(phase == k) for k in range(GRID)]
    off = max(1, int(np.isin(phase, [3, 4, 6, 8, 9]).sum()))
    f += [np.sum(phase == 8) / off, np.sum(phase == 6) / off, np.sum(phase == 9) / off]
    length = duration / tpq
    f += [np.mean((length >= lo) & (length < hi)) for lo, hi in ((0, .3), (.3, .6), (.6, .9), (.9, 1.1), (1.1, 2.1),
                                                                  (2.1, np.inf))]
    f += [len(pitch) / beats, len(onsets) / beats, len(pitch) / len(onsets)]
    bass: dict[int, int] = {}  # beat -> lowest bass-register pitch struck in it
    for t, p in zip((time_ // tpq).tolist(), pitch.tolist()):
        if p < BASS and p < bass.get(t, 128):
            bass[t] = p
    moves = np.array([abs(bass[b + 1] - bass[b]) for b in bass if b + 1 in bass])
    f += [len(bass) / beats] + ([np.mean(np.isin(moves, [1, 2])), np.mean(moves == 0), np.mean(np.isin(moves, [5, 7]))]
                                if len(moves) else [0.0, 0.0, 0.0])
    chords = [(ph, np.unique(g)) for ph, g in zip(phase, groups) if len(np.unique(g)) >= 3]
    ic = np.zeros(7)
    for _, g in chords:
        pcs = np.unique(g % 12)
        d = (pcs[None, :] - pcs[:, None])[np.triu_indices(len(pcs), 1)] % 12
        np.add.at(ic, np.minimum(d, 12 - d), 1)
    ic = ic[1:] / max(1, ic.sum())
    upper = [g[g >= BASS] for _, g in chords]
    f += [len(chords) / len(onsets), np.mean([ph != 0 for ph, _ in chords]) if chords else 0.0,
          np.mean([np.ptp(u) if len(u) > 1 else 0 for u in upper]) if chords else 0.0, *ic]
    hist = np.bincount(pitch % 12, minlength=12) / len(pitch)
    f += [-(hist[hist > 0] * np.log2(hist[hist > 0])).sum(), pitch.mean(), pitch.std()]
    quarters = piece.bar_ticks / tpq
    f += [float(quarters == 3), float(quarters == 4), float(quarters == 5), math.log1p(beats / max(quarters, 1))]
    harmony = [HARMONY_METRICS[name](piece) for name in HARMONY_FEATURES] + [chord_changes_per_bar(piece)]
    f += [UNDEFINED if math.isnan(v) else v for v in harmony]
    return np.array(f, float)


def excerpt(piece: Piece, first_bar: int, bars: int) -> Piece:
    """The notes starting in bars [first_bar, first_bar + bars), shifted to start at bar 0."""
    lo, hi = first_bar * piece.bar_ticks, (first_bar + bars) * piece.bar_ticks
    m = (piece.time >= lo) & (piece.time < hi)
    return piece_from_arrays(piece.time[m] - lo, np.minimum(piece.duration[m], hi - piece.time[m]), piece.pitch[m],
                             piece.is_drum[m], tpq=piece.tpq, bar_ticks=piece.bar_ticks)


def random_excerpts(piece: Piece, n: int, rng: np.random.Generator) -> list[Piece]:
    """``n`` excerpts of ``EXCERPT_BARS`` bars at random bar offsets (shorter pieces: whole)."""
    total = max(1, math.ceil(piece.end / piece.bar_ticks))
    out = []
    for _ in range(n):
        bars = int(rng.integers(EXCERPT_BARS[0], EXCERPT_BARS[1] + 1))
        out.append(excerpt(piece, int(rng.integers(0, max(1, total - bars + 1))), bars) if total > bars else piece)
    return out


@dataclass
class Judge:
    """Gradient-boosted regression trees over ``features`` (scikit-learn's
    ``GradientBoostingClassifier``, depth 3), stored as plain arrays: P(jazz) = sigmoid(init +
    rate * sum of the trees' leaf values). Trees do not extrapolate: a feature value beyond
    anything seen in training scores like the nearest values seen, not ever more jazz-like."""

    init: float
    rate: float
    trees: list[dict[str, np.ndarray]]  # per tree: feature, threshold, left, right, value per node
    meta: dict = field(default_factory=dict)

    def decision(self, x: np.ndarray) -> np.ndarray:
        """(rows,) log-odds of jazz for a (rows, features) matrix."""
        raw = np.full(len(x), self.init)
        rows = np.arange(len(x))
        for t in self.trees:
            node = np.zeros(len(x), np.int64)
            while True:
                inner = t["left"][node] >= 0
                if not inner.any():
                    break
                go_left = x[rows, np.maximum(t["feature"][node], 0)] <= t["threshold"][node]
                node = np.where(inner, np.where(go_left, t["left"][node], t["right"][node]), node)
            raw += self.rate * t["value"][node]
        return raw

    def prob_jazz(self, pieces: list[Piece]) -> np.ndarray:
        """P(jazz) of each piece; NaN for a piece with fewer than two notes."""
        out = np.full(len(pieces), math.nan)
        rows = [(i, f) for i, f in ((i, features(p)) for i, p in enumerate(pieces)) if f is not None]
        if rows:
            x = np.array([f for _, f in rows])
            out[[i for i, _ in rows]] = 1.0 / (1.0 + np.exp(-self.decision(x)))
        return out

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / JUDGE_FILE
        payload = {"kind": "rlmusic-jazz-judge", "features": FEATURES, "init": self.init, "rate": self.rate,
                   "trees": [{k: v.tolist() for k, v in t.items()} for t in self.trees], "meta": self.meta}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, separators=(",", ":"), default=str))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Judge:
        path = Path(path)
        file = path / JUDGE_FILE if path.is_dir() else path
        try:
            payload = json.loads(file.read_text())
        except (OSError, ValueError) as e:
            raise RLMusicError(f"cannot read a judge from {str(path)!r} ({type(e).__name__}); "
                               f"train one with `rlmusic train-judge`") from None
        if payload.get("kind") != "rlmusic-jazz-judge" or payload.get("features") != FEATURES:
            raise RLMusicError(f"{file} is not a judge of this rlmusic version's features; retrain it with "
                               f"`rlmusic train-judge`")
        trees = [{k: np.array(v, float if k in ("threshold", "value") else np.int64) for k, v in t.items()}
                 for t in payload["trees"]]
        return cls(float(payload["init"]), float(payload["rate"]), trees, payload.get("meta", {}))


def judge_split(names: list[str], seed: int, fraction: float = 0.2) -> np.ndarray:
    """True for the judge's held-out pieces: a hash of (seed, name), its own split, not the
    discriminator's."""
    return np.array([int(hashlib.md5(f"{seed}:{n}".encode()).hexdigest()[:8], 16) / 2**32 < fraction for n in names])


def excerpt_matrix(pieces: list[Piece], per_piece: int, seed: int, corrupt: bool = False,
                   only: np.ndarray | None = None, kinds: Sequence[str] = NEGATIVES,
                   progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(rows, features) of ``per_piece`` random excerpts of each piece (of the pieces ``only``
    marks), and each row's piece index. ``corrupt``: each excerpt replaced by a corrupted copy,
    the ``kinds`` in turn (spliced bars drawn from all the excerpts). ``progress``: a bar over
    the excerpts measured."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    excerpts, owner = [], []
    for i, piece in enumerate(pieces):
        if only is None or only[i]:
            for ex in random_excerpts(piece, per_piece, rng):
                excerpts.append(ex)
                owner.append(i)
    if corrupt:
        fns = [CORRUPTIONS[k] for k in kinds]
        excerpts = [fns[n % len(fns)](ex, rng, excerpts) for n, ex in enumerate(excerpts)]
    rows, kept = [], []
    desc = "judge features, corrupted excerpts" if corrupt else "judge features, excerpts"
    for ex, i in tqdm(zip(excerpts, owner), total=len(excerpts), desc=desc, unit="excerpt", disable=not progress):
        f = features(ex)
        if f is not None:
            rows.append(f)
            kept.append(i)
    return np.array(rows).reshape(-1, len(FEATURES)), np.array(kept, np.int64)


def fit(x: np.ndarray, y: np.ndarray, seed: int, trees: int = 300) -> Judge:
    """Gradient boosting (depth 3, rate 0.1, 80% subsamples), classes weighted equally. 300
    trees: with the structure-destroyed negatives, 150 fell from 0.987 to 0.975 held-out
    accuracy on the jazz set; 300 give 0.988."""
    from sklearn.ensemble import GradientBoostingClassifier

    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    model = GradientBoostingClassifier(n_estimators=trees, max_depth=3, learning_rate=0.1, subsample=0.8,
                                       random_state=seed).fit(x, y, sample_weight=weight)
    return judge_from_sklearn(model)


def judge_from_sklearn(model) -> Judge:
    """The arrays of a fitted binary ``GradientBoostingClassifier`` (its trees' public ``tree_``)."""
    x0 = np.zeros((1, model.n_features_in_))  # the constant start: the log-odds less every tree's share
    init = float(model.decision_function(x0)[0] - model.learning_rate * sum(e.predict(x0)[0]
                                                                            for e in model.estimators_[:, 0]))
    trees = []
    for est in model.estimators_[:, 0]:
        t = est.tree_
        trees.append({"feature": t.feature.astype(np.int64), "threshold": t.threshold.astype(float),
                      "left": t.children_left.astype(np.int64), "right": t.children_right.astype(np.int64),
                      "value": t.value[:, 0, 0].astype(float)})
    return Judge(init, float(model.learning_rate), trees)


def score_rows(judge: Judge, x: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean P(jazz) over each piece's excerpt rows (NaN for a piece without rows)."""
    p = 1.0 / (1.0 + np.exp(-judge.decision(x)))
    count = np.bincount(owner, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(owner, p, minlength=n) / count


def train_judge(pieces: list[Piece], labels: np.ndarray, groups: list[str], names: list[str], seed: int = 7,
                folds: int = 5, per_piece: int = 4, progress: bool = True, scrambled: bool = True,
                kinds: Sequence[str] = NEGATIVES) -> Judge:
    """Fit the judge on its own training split (``judge_split``), then report it on its held-out
    split, by the scramble test on its held-out jazz, and by grouped cross-validation holding out
    whole groove families (as ``train-clf --cv``). Every score is the mean over a piece's random
    excerpts of 2-16 bars. ``scrambled``: corrupted copies of the jazz excerpts (of the
    corruptions ``kinds`` names, in turn) train as negatives."""
    from tqdm import tqdm

    from rlmusic.models.classify_eval import classification_report, family_accuracy, style_folds

    labels = np.asarray(labels)
    held = judge_split(names, seed)
    x, owner = excerpt_matrix(pieces, per_piece, seed, progress=progress)
    y = labels[owner]
    real = np.ones(len(y), bool)  # rows of real excerpts: the only ones classification is reported on
    if scrambled:  # corrupted copies of the jazz excerpts, as negatives, owned by their piece (same split)
        xs, owner_s = excerpt_matrix(pieces, per_piece, seed + 1, corrupt=True, only=labels == 1, kinds=kinds,
                                      progress=progress)
        x, owner, y = np.vstack([x, xs]), np.r_[owner, owner_s], np.r_[y, np.zeros(len(owner_s), np.int64)]
        real = np.r_[real, np.zeros(len(owner_s), bool)]

    def fit_and_score(train_rows: np.ndarray, test_pieces: np.ndarray) -> tuple[Judge, dict]:
        judge = fit(x[train_rows], y[train_rows], seed)
        test_rows = np.isin(owner, test_pieces) & real
        probs = score_rows(judge, x[test_rows], owner[test_rows], len(pieces))[test_pieces]
        ok = ~np.isnan(probs)
        return judge, classification_report(labels[test_pieces][ok], probs[ok], [groups[i] for i in test_pieces[ok]])

    keep = ("n", "accuracy", "balanced_accuracy", "majority_rate", "roc_auc")
    if progress:  # a fit takes minutes on the default set, with no bar of its own
        print(f"judge: fitting the trees on {int((~held[owner]).sum())} excerpts, scoring its held-out split")
    # The judge is this fit: its training split and seed are the held-out report's.
    judge, held_out = fit_and_score(~held[owner], np.flatnonzero(held))
    cv: dict = {}
    if folds:
        from rlmusic.data.jazz_data import family_of

        records, by_style = [], {}
        families = np.array([family_of(g) for g in groups])
        for fold in tqdm(style_folds(groups, labels, folds, seed), desc="judge grouped CV", unit="fold",
                         disable=not progress):
            out = np.isin(families, list(fold))
            _, r = fit_and_score((~out & ~held)[owner], np.flatnonzero(out))
            records.append({"held_out": sorted(fold)} | {k: r[k] for k in keep})
            by_style |= r["by_style"]
        cv = {k: float(np.nanmean([f[k] for f in records])) for k in keep[1:]} | {
            "folds": records, "by_family": family_accuracy(by_style)}
    from rlmusic.music.scramble import scramble_test

    held_jazz = [p for p, h, lab in zip(pieces, held, labels) if h and lab == 1]
    judge.meta = {"seed": seed, "excerpts_per_piece": per_piece, "excerpt_bars": list(EXCERPT_BARS),
                  "train_pieces": int((~held).sum()), "held_out_pieces": int(held.sum()),
                  "scrambled_negatives": bool(scrambled), "scrambled_kinds": list(kinds) if scrambled else [],
                  "held_out": {k: held_out[k] for k in keep} | {"confusion": held_out["confusion"]},
                  "scramble_test": scramble_test(judge.prob_jazz, held_jazz, seed=seed),
                  "grouped_cv": cv}
    return judge

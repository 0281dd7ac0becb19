"""Music metrics: pure functions of one :class:`~rlmusic.music.piece.Piece` returning a float.

Three families, plus set-level measures:

* MusPy's definitions, equal to ``muspy.<name>`` to 1e-9 on the same notes (tested on real
  files), computed from interval arithmetic instead of a tick-by-128 piano roll. Where
  MusPy's result is a surprise, ours is documented and differs: ``pitch_range`` is 0, not
  -127, for a piece with only drums.
* RL Tuner's table (Jaques et al., 2017), on the piece's melody (the highest note at each
  onset). RL Tuner judged monophonic 16th-note melodies in C major; here the key is
  estimated per piece (Krumhansl-Kessler) and bars come from the first time signature.
* Texture (:mod:`rlmusic.music.texture`): onsets and notes per beat and bar, note lengths, silences,
  off-grid and swung onsets, bass activity, harmonic rhythm.

NaN means "undefined for this piece" (said in each docstring); set-level summaries skip it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from rlmusic.music.harmony import HARMONY_METRICS
from rlmusic.music.piece import MAJOR_SCALE, MINOR_SCALE, SCALES, Piece, merge_intervals
from rlmusic.music.texture import TEXTURE_METRICS

NAN = math.nan
_SCALES_INT = SCALES.astype(np.int64)


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total < 1:
        return NAN
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


# --- MusPy's metrics -------------------------------------------------------------------------


def n_pitches_used(piece: Piece) -> float:
    """Number of distinct pitches (drums ignored); 0 for an empty piece."""
    return float(np.count_nonzero(np.bincount(piece.pitch[piece.pitched], minlength=128)))


def n_pitch_classes_used(piece: Piece) -> float:
    """Number of distinct pitch classes (drums ignored); 0 for an empty piece."""
    return float(np.count_nonzero(piece.pitch_class_hist))


def pitch_range(piece: Piece) -> float:
    """Highest minus lowest pitch (drums ignored). 0 when there is no pitched note: MusPy gives
    -127 for a drum-only piece (its initial max 0 / min 127), which no range can be."""
    p = piece.pitch[piece.pitched]
    return float(p.max() - p.min()) if len(p) else 0.0


def pitch_class_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the pitch-class histogram of note onsets, drums ignored; in
    [0, log2 12]. NaN without pitched notes."""
    return _entropy(piece.pitch_class_hist.astype(float))


def pitch_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the pitch histogram, drums ignored. NaN without pitched notes."""
    return _entropy(np.bincount(piece.pitch[piece.pitched], minlength=128).astype(float))


def scale_consistency(piece: Piece) -> float:
    """Largest fraction of notes inside one of the 24 major/natural-minor scales, drums
    ignored; in [0, 1]. NaN without pitched notes."""
    hist = piece.pitch_class_hist
    n = hist.sum()
    return float((_SCALES_INT @ hist).max() / n) if n else NAN


def empty_beat_rate(piece: Piece) -> float:
    """Fraction of beats (quarter notes, 0 to the end of the last note) where no note sounds;
    drums count, as in MusPy. A note covers every beat from its onset's to its end's. NaN
    for an empty piece."""
    length = piece.end
    if length < 1:
        return NAN
    res = piece.tpq
    s, e = merge_intervals(piece.time // res, (piece.time + piece.duration) // res + 1)
    covered = int((e - s).sum())
    return 1.0 - covered / (length // res + 1)


def polyphony(piece: Piece) -> float:
    """Mean number of distinct pitches sounding over the ticks where at least one sounds,
    drums ignored. NaN without a sounding pitched note."""
    roll = piece.roll
    on = int(roll.lengths[roll.counts > 0].sum())
    return float(roll.total / on) if on else NAN


def polyphony_rate(piece: Piece, threshold: int = 2) -> float:
    """Fraction of ticks (0 to the end of the last note, drums included in that length) where
    more than ``threshold`` distinct pitches sound (MusPy: ``> threshold``, so 3+ by
    default). NaN for an empty piece."""
    length = piece.end
    if length < 1:
        return NAN
    roll = piece.roll
    return float(roll.lengths[roll.counts > threshold].sum() / length)


def groove_consistency(piece: Piece, measure_resolution: int | None = None) -> float:
    """1 - mean Hamming distance between the onset patterns of adjacent bars, per position;
    drums count. Bars are ``measure_resolution`` ticks (default: the piece's first time
    signature), assumed constant. NaN with fewer than two bars."""
    mr = int(measure_resolution or piece.bar_ticks)
    n_measures = piece.end // mr + 1
    if n_measures < 2:
        return NAN
    t = piece.time  # sorted; (measure, position) pairs are the onset ticks themselves
    onsets = t[np.r_[True, t[1:] != t[:-1]]] if len(t) else t
    first = np.count_nonzero(onsets < mr)
    last = np.count_nonzero(onsets >= (n_measures - 1) * mr)
    nxt = np.minimum(np.searchsorted(onsets, onsets + mr), len(onsets) - 1)
    shared = np.count_nonzero(onsets[nxt] == onsets + mr)  # same position in the next bar
    hamming = 2 * len(onsets) - first - last - 2 * shared
    return 1.0 - hamming / (mr * (n_measures - 1))


# --- RL Tuner's metrics (on the melody) --------------------------------------------------------

REPEAT_LIMIT = 4  # RL Tuner: more than 4 repeats of one note is excessive
LEAP = 7  # a leap is larger than a perfect fifth


def repeated_note_mask(pitches: np.ndarray, limit: int = REPEAT_LIMIT) -> np.ndarray:
    """True for each note preceded by ``limit`` or more notes of the same pitch (the 5th, 6th, ...)."""
    if len(pitches) == 0:
        return np.zeros(0, bool)
    new_run = np.r_[True, pitches[1:] != pitches[:-1]]
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    position_in_run = np.arange(len(pitches)) - run_start[run_id]
    return position_in_run >= limit


def repeated_notes(piece: Piece) -> float:
    """Fraction of melody notes that repeat the same pitch more than 4 times in a row (the 5th
    and later of a run); in [0, 1]. NaN without pitched notes."""
    _, p = piece.melody
    return float(repeated_note_mask(p).mean()) if len(p) else NAN


def autocorrelation(piece: Piece, lag: int = 1) -> float:
    """Pearson correlation of the melody's pitch sequence with itself ``lag`` notes later; in
    [-1, 1]. NaN with fewer than lag + 2 notes or a constant sequence."""
    _, p = piece.melody
    if len(p) < lag + 2:
        return NAN
    a, b = p[:-lag].astype(float), p[lag:].astype(float)
    if a.std() == 0 or b.std() == 0:
        return NAN
    return float(np.corrcoef(a, b)[0, 1])


def _key_scale(piece: Piece) -> np.ndarray | None:
    """Pitch classes in the estimated key: the major scale, or natural minor plus the leading tone."""
    if piece.key is None:
        return None
    tonic, mode = piece.key
    scale = MAJOR_SCALE.copy() if mode == "major" else MINOR_SCALE.copy()
    if mode == "minor":
        scale[11] = True  # harmonic minor's raised seventh is in key
    return np.roll(scale, tonic)


def notes_not_in_key(piece: Piece) -> float:
    """Fraction of pitched notes outside the estimated key (Krumhansl-Kessler); in [0, 1].
    NaN without pitched notes."""
    scale = _key_scale(piece)
    if scale is None:
        return NAN
    return float((~scale[piece.pitch[piece.pitched] % 12]).mean())


def starts_with_tonic(piece: Piece) -> float:
    """1.0 if the melody's first note is the estimated key's tonic, else 0.0; NaN when empty."""
    _, p = piece.melody
    return float(p[0] % 12 == piece.key[0]) if len(p) else NAN


def ends_with_tonic(piece: Piece) -> float:
    """1.0 if the melody's last note is the estimated key's tonic, else 0.0; NaN when empty."""
    _, p = piece.melody
    return float(p[-1] % 12 == piece.key[0]) if len(p) else NAN


def leaps_resolved(piece: Piece) -> float:
    """Of the melody's leaps (more than 7 semitones) that have a following note, the fraction
    followed by motion in the opposite direction; in [0, 1]. NaN without such leaps."""
    _, p = piece.melody
    iv = np.diff(p)
    if len(iv) < 2:
        return NAN
    leap = np.abs(iv[:-1]) > LEAP
    if not leap.any():
        return NAN
    return float((np.sign(iv[1:][leap]) == -np.sign(iv[:-1][leap])).mean())


def unique_max(piece: Piece) -> float:
    """1.0 if the melody's highest pitch is played exactly once, else 0.0; NaN when empty."""
    _, p = piece.melody
    return float(np.count_nonzero(p == p.max()) == 1) if len(p) else NAN


def unique_min(piece: Piece) -> float:
    """1.0 if the melody's lowest pitch is played exactly once, else 0.0; NaN when empty."""
    _, p = piece.melody
    return float(np.count_nonzero(p == p.min()) == 1) if len(p) else NAN


MOTIF_MIN_PITCHES = 3  # RL Tuner: a motif is a bar with at least 3 distinct notes


def _motif_bars(piece: Piece) -> np.ndarray:
    """Per melody bar: whether it is a motif (at least 3 distinct pitches)."""
    return np.array([len({q for _, q in pat}) >= MOTIF_MIN_PITCHES for pat in piece.bars.patterns], bool)


def notes_in_motif(piece: Piece) -> float:
    """Fraction of melody notes in a motif: a bar whose melody has at least 3 distinct pitches;
    in [0, 1]. NaN without pitched notes."""
    t, _ = piece.melody
    if len(t) == 0:
        return NAN
    return float(_motif_bars(piece)[piece.bars.note_bar].mean())


def notes_in_repeated_motif(piece: Piece) -> float:
    """Fraction of melody notes in a motif whose exact pattern (positions in the bar and
    pitches) occurs in another bar of the piece; in [0, 1]. NaN without pitched notes."""
    t, _ = piece.melody
    if len(t) == 0:
        return NAN
    patterns, is_motif = piece.bars.patterns, _motif_bars(piece)
    seen: dict[tuple, int] = {}
    for pat, m in zip(patterns, is_motif):
        if m:
            seen[pat] = seen.get(pat, 0) + 1
    repeated = np.array([m and seen[pat] > 1 for pat, m in zip(patterns, is_motif)], bool)
    return float(repeated[piece.bars.note_bar].mean())


# --- registry for tables -----------------------------------------------------------------------

METRICS: dict[str, Callable[[Piece], float]] = {
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "groove_consistency": groove_consistency,
    "empty_beat_rate": empty_beat_rate,
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "pitch_range": pitch_range,
    "n_pitches_used": n_pitches_used,
    "n_pitch_classes_used": n_pitch_classes_used,
    "repeated_notes": repeated_notes,
    "autocorrelation_1": lambda piece: autocorrelation(piece, 1),
    "autocorrelation_2": lambda piece: autocorrelation(piece, 2),
    "autocorrelation_3": lambda piece: autocorrelation(piece, 3),
    "notes_not_in_key": notes_not_in_key,
    "starts_with_tonic": starts_with_tonic,
    "leaps_resolved": leaps_resolved,
    "unique_max": unique_max,
    "unique_min": unique_min,
    "notes_in_motif": notes_in_motif,
    "notes_in_repeated_motif": notes_in_repeated_motif,
    **TEXTURE_METRICS,
    **HARMONY_METRICS,
}


def evaluate_piece(piece: Piece, names: Sequence[str] | None = None) -> dict[str, float]:
    return {name: METRICS[name](piece) for name in (names or METRICS)}


# --- set-level -------------------------------------------------------------------------------


def distinct_n(sequences: Sequence[Sequence[int]], n: int = 4) -> float:
    """Distinct n-grams over all n-grams across a set of sequences (Li et al., 2016): 1.0 when
    nothing repeats, near 0 for loops; NaN when no sequence has n items."""
    grams, total = set(), 0
    for seq in sequences:
        seq = list(seq)
        for i in range(len(seq) - n + 1):
            grams.add(tuple(seq[i : i + n]))
            total += 1
    return len(grams) / total if total else NAN


def overlap_area(a: Sequence[float], b: Sequence[float], grid: int = 512, atom_share: float = 0.05) -> float:
    """Overlap area of two samples' distributions: 1.0 for identical ones, 0 for disjoint. NaN
    values are dropped; NaN if either side has fewer than 2 values.

    A value repeated exactly in at least ``atom_share`` of either sample (a metric that is 0 for
    most pieces, a count such as pitch classes used) is a point mass, and its overlap is the
    smaller of its two shares, as in a histogram. The remaining values are compared as MGEval
    compares sets: the overlap of Gaussian kernel density estimates (Scott's bandwidth), each
    weighted by its share. A density estimate alone cannot hold a point mass: two sets that are
    both 90% zero would overlap near 0, the narrow spike of the one missing the wide bump of the
    other."""
    a = np.asarray([x for x in a if not math.isnan(x)], float)
    b = np.asarray([x for x in b if not math.isnan(x)], float)
    if len(a) < 2 or len(b) < 2:
        return NAN
    va, ca = np.unique(a, return_counts=True)
    vb, cb = np.unique(b, return_counts=True)
    share_a, share_b = dict(zip(va.tolist(), ca / len(a))), dict(zip(vb.tolist(), cb / len(b)))
    atoms = {v for v, s in share_a.items() if s >= atom_share} | {v for v, s in share_b.items() if s >= atom_share}
    atom_overlap = sum(min(share_a.get(v, 0.0), share_b.get(v, 0.0)) for v in atoms)
    rest_a, rest_b = a[~np.isin(a, list(atoms))], b[~np.isin(b, list(atoms))]
    # Fewer than 2 values left on a side (under 2/n of its mass) leave no density to compare.
    if len(rest_a) < 2 or len(rest_b) < 2:
        return float(min(atom_overlap, 1.0))
    spread = max(max(a.max(), b.max()) - min(a.min(), b.min()), 1e-6)

    def bandwidth(x: np.ndarray) -> float:
        return max(x.std(ddof=1), 1e-3 * spread) * len(x) ** (-1 / 5)

    bw_a, bw_b = bandwidth(rest_a), bandwidth(rest_b)
    pad = 4 * max(bw_a, bw_b)  # the grid holds all but ~1e-4 of each density's mass
    xs = np.linspace(min(rest_a.min(), rest_b.min()) - pad, max(rest_a.max(), rest_b.max()) + pad, grid)

    def kde(x: np.ndarray, bw: float) -> np.ndarray:
        z = (xs[:, None] - x[None, :]) / bw  # (grid, n)
        return np.exp(-0.5 * z**2).sum(1) / (len(x) * bw * math.sqrt(2 * math.pi))

    weight_a, weight_b = len(rest_a) / len(a), len(rest_b) / len(b)
    dense = np.trapezoid(np.minimum(weight_a * kde(rest_a, bw_a), weight_b * kde(rest_b, bw_b)), xs)
    return float(np.clip(atom_overlap + dense, 0.0, 1.0))

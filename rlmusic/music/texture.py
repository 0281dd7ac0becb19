"""Texture metrics: how densely, how long and where in the beat a piece plays.

Pure functions of one :class:`~rlmusic.music.piece.Piece` returning a float, NaN where undefined
(said in each docstring), drums ignored. They are what a reward that judges pitch alone does
not see: a policy that fools a jazz discriminator with one sustained chord every two beats
keeps a jazz-like pitch-class entropy, but plays 0.6 note onsets per beat where real jazz
arrangements play 4.

A beat is a quarter note (``piece.tpq`` ticks), as in MusPy's ``empty_beat_rate``; a piece
spans from tick 0 to the end of its last note; bars come from the first time signature.
"""

from __future__ import annotations

import math

import numpy as np

from rlmusic.music.piece import Piece, merge_intervals

NAN = math.nan
# An onset within 1/24 of a beat of a grid point counts as on it: wide enough for slightly
# loose real performances, narrow enough to keep straight (1/2) and swung (2/3) eighths apart.
GRID_TOLERANCE = 1 / 24
# The chord templates of chord_changes_per_bar, as pitch classes above the root.
CHORD_TEMPLATES = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10),
                   "maj7": (0, 4, 7, 11), "dim": (0, 3, 6), "m7b5": (0, 3, 6, 10), "aug": (0, 4, 8)}


def _pitched(piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(onsets, durations, pitches) of the non-drum notes, durations at least one tick."""
    idx = piece.pitched
    return piece.time[idx], np.maximum(piece.duration[idx], 1), piece.pitch[idx]


def _length_beats(piece: Piece) -> float:
    t, d, _ = _pitched(piece)
    return float((t + d).max()) / piece.tpq if len(t) else 0.0


def onsets_per_beat(piece: Piece) -> float:
    """Distinct note-onset times per beat (a chord is one onset). NaN without pitched notes."""
    t, _, _ = _pitched(piece)
    return len(np.unique(t)) / _length_beats(piece) if len(t) else NAN


def length_bars(piece: Piece) -> float:
    """Bars the piece touches, from tick 0 to the end of its last pitched note (a piece ending
    mid-bar still has that bar). NaN without pitched notes."""
    t, d, _ = _pitched(piece)
    return float(math.ceil(int((t + d).max()) / piece.bar_ticks)) if len(t) else NAN


def notes_per_bar(piece: Piece) -> float:
    """Pitched notes per bar, counting every bar the piece touches (:func:`length_bars`).
    NaN without pitched notes."""
    t, _, _ = _pitched(piece)
    return len(t) / length_bars(piece) if len(t) else NAN


def mean_duration(piece: Piece) -> float:
    """Mean note length in beats. NaN without pitched notes."""
    _, d, _ = _pitched(piece)
    return float(d.mean()) / piece.tpq if len(d) else NAN


def median_duration(piece: Piece) -> float:
    """Median note length in beats. NaN without pitched notes."""
    _, d, _ = _pitched(piece)
    return float(np.median(d)) / piece.tpq if len(d) else NAN


def longest_silence(piece: Piece) -> float:
    """Longest stretch (beats) in which no pitched note sounds, from tick 0 to the end of the
    last note; 0 when something always sounds. NaN without pitched notes."""
    t, d, _ = _pitched(piece)
    if len(t) == 0:
        return NAN
    s, e = merge_intervals(t, t + d)
    gaps = np.r_[s[0], s[1:] - e[:-1]]  # before the first note, then between sounding blocks
    return float(gaps.max()) / piece.tpq


def _beat_phase(piece: Piece) -> np.ndarray:
    """Position in the beat, in [0, 1), of each distinct onset."""
    t, _, _ = _pitched(piece)
    return (np.unique(t) % piece.tpq) / piece.tpq


def _near(phase: np.ndarray, point: float) -> np.ndarray:
    return np.abs(phase - point) <= GRID_TOLERANCE + 1e-9


def offgrid_onsets(piece: Piece) -> float:
    """Share of distinct onsets off the straight eighth-note grid (not on a beat or halfway
    through one): sixteenths, triplets and swung eighths count as off. NaN without notes."""
    phase = _beat_phase(piece)
    if len(phase) == 0:
        return NAN
    on = _near(phase, 0.0) | _near(phase, 0.5) | _near(phase, 1.0)
    return float(1.0 - on.mean())


def swing_ratio(piece: Piece) -> float:
    """Of the onsets on an off-beat eighth, the share played late, at 2/3 of the beat (swung),
    rather than at 1/2 (straight): 1.0 fully swung, 0.0 straight. NaN without such onsets."""
    phase = _beat_phase(piece)
    late, straight = int(_near(phase, 2 / 3).sum()), int(_near(phase, 0.5).sum())
    return late / (late + straight) if late + straight else NAN


def bass_onsets_per_beat(piece: Piece) -> float:
    """Onsets per beat of the lowest voice: the onsets where a struck note is the lowest pitch
    sounding at that moment (a walking bass scores about 1, a bass note held under a busy
    right hand scores only its own strikes). NaN without pitched notes."""
    t, d, p = _pitched(piece)
    if len(t) == 0:
        return NAN
    onsets = np.unique(t)
    lowest = np.full(len(onsets), 128)  # lowest pitch sounding at each onset
    for pitch in np.unique(p):  # ascending: the first pitch to cover an onset is its lowest
        sel = p == pitch
        cover = np.zeros(len(onsets) + 1, np.int64)
        np.add.at(cover, np.searchsorted(onsets, t[sel]), 1)
        np.add.at(cover, np.searchsorted(onsets, t[sel] + d[sel]), -1)
        sounding = np.cumsum(cover[:-1]) > 0
        lowest = np.where(sounding & (lowest == 128), pitch, lowest)
    struck_lowest = np.zeros(len(onsets), bool)
    at = np.searchsorted(onsets, t)
    struck_lowest[at[p == lowest[at]]] = True
    return int(struck_lowest.sum()) / _length_beats(piece)


def _templates() -> np.ndarray:
    """(12 * len(CHORD_TEMPLATES), 12) unit-norm chord masks, root-major order."""
    rows = []
    for root in range(12):
        for pcs in CHORD_TEMPLATES.values():
            m = np.zeros(12)
            m[[(root + x) % 12 for x in pcs]] = 1.0
            rows.append(m / np.linalg.norm(m))
    return np.array(rows)


_TEMPLATES = _templates()


def beat_chords(piece: Piece) -> np.ndarray:
    """The chord template index of each beat from 0 to the end (-1: fewer than two pitch
    classes sound in it, no harmonic evidence). Each beat's pitch classes are weighted by how
    long they sound in it; the best template by cosine similarity wins, ties to the lowest index."""
    t, d, p = _pitched(piece)
    if len(t) == 0:
        return np.zeros(0, np.int64)
    tpq = piece.tpq
    n_beats = math.ceil(int((t + d).max()) / tpq)
    weight = np.zeros((n_beats, 12))
    for start, end, pc in zip(t.tolist(), (t + d).tolist(), (p % 12).tolist()):
        for beat in range(start // tpq, (end - 1) // tpq + 1):
            weight[beat, pc] += min(end, (beat + 1) * tpq) - max(start, beat * tpq)
    labels = (weight @ _TEMPLATES.T).argmax(1)
    return np.where((weight > 0).sum(1) >= 2, labels, -1)


def chord_changes_per_bar(piece: Piece) -> float:
    """Changes of chord between successive beats that have one (see :func:`beat_chords`), per
    bar the piece touches; beats without harmonic evidence are skipped. NaN without notes."""
    labels = beat_chords(piece)
    if len(labels) == 0:
        return NAN
    known = labels[labels >= 0]
    changes = int(np.count_nonzero(known[1:] != known[:-1]))
    bars = math.ceil(len(labels) * piece.tpq / piece.bar_ticks)
    return changes / bars


TEXTURE_METRICS = {
    "onsets_per_beat": onsets_per_beat,
    "notes_per_bar": notes_per_bar,
    "mean_duration": mean_duration,
    "median_duration": median_duration,
    "longest_silence": longest_silence,
    "offgrid_onsets": offgrid_onsets,
    "swing_ratio": swing_ratio,
    "bass_onsets_per_beat": bass_onsets_per_beat,
    "chord_changes_per_bar": chord_changes_per_bar,
}

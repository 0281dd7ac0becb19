"""Harmony and voice metrics: what a piece's pitches do together, beat by beat.

Pure functions of one :class:`~rlmusic.music.piece.Piece` returning a float, NaN where undefined
(said in each docstring), drums ignored, like MusPy's metrics. Texture metrics (``texture.py``)
keep their values when a piece's pitches are permuted among its notes; these do not: they
are what tells real jazz from chord stabs at random pitches with jazz's rhythm.

Chords are read beat by beat (a beat is a quarter note). A beat's pitch classes are weighted
by how long they sound in it; a beat with at least ``MIN_CHORD_PCS`` pitch classes has a
chord: the template of ``CHORDS`` (in any of the 12 roots) that explains the largest share of
that weight, ties going to the template with fewer tones absent from the beat, then to the
smaller template, then to the lower root (so C-E-G reads as C major, not C6 or Am7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rlmusic.music.piece import Piece

NAN = math.nan
# The jazz chord vocabulary, as pitch classes above the root: triads, sixths, sevenths,
# ninths and altered dominants. None has more than 5 tones: a bigger template would explain
# any dense beat, real or not.
CHORDS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "mmaj7": (0, 3, 7, 11), "7sus4": (0, 5, 7, 10),
    "9": (0, 2, 4, 7, 10), "maj9": (0, 2, 4, 7, 11), "m9": (0, 2, 3, 7, 10), "7b9": (0, 1, 4, 7, 10),
    "7#9": (0, 3, 4, 7, 10), "7#11": (0, 4, 6, 7, 10), "7alt": (0, 1, 4, 8, 10),
}
MIN_CHORD_PCS = 3  # fewer pitch classes in a beat are no harmonic evidence
STEP = 2  # melodic intervals of 1-2 semitones are steps
CHORD_NOTES = 3  # notes struck together that count as a chord for voice leading


def _templates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masks (K, 12) of 0/1, root (K,), fifth pitch class (K,)) for every chord in every root,
    root-major order. The fifth is the template's perfect fifth, else its diminished or
    augmented one."""
    masks, roots, fifths = [], [], []
    for root in range(12):
        for tones in CHORDS.values():
            m = np.zeros(12)
            m[[(root + x) % 12 for x in tones]] = 1.0
            masks.append(m)
            roots.append(root)
            fifth = next(x for x in (7, 6, 8) if x in tones)
            fifths.append((root + fifth) % 12)
    return np.array(masks), np.array(roots), np.array(fifths)


_MASKS, _ROOTS, _FIFTHS = _templates()
_SIZES = _MASKS.sum(1)


@dataclass(frozen=True)
class BeatChords:
    """The chord reading of a piece, one row per beat from 0 to the end of the last note."""

    weight: np.ndarray  # (beats, 12) ticks each pitch class sounds in the beat
    chord: np.ndarray  # (beats,) template index, -1 where the beat has no chord
    fit: np.ndarray  # (beats,) share of the beat's weight its chord explains (NaN without a chord)


def _pitched(piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = piece.pitched
    return piece.time[idx], np.maximum(piece.duration[idx], 1), piece.pitch[idx]


def beat_weights(piece: Piece) -> np.ndarray:
    """(beats, 12): ticks each pitch class sounds in each beat, from tick 0 to the end."""
    t, d, p = _pitched(piece)
    if len(t) == 0:
        return np.zeros((0, 12))
    tpq = piece.tpq
    weight = np.zeros((math.ceil(int((t + d).max()) / tpq), 12))
    for start, end, pc in zip(t.tolist(), (t + d).tolist(), (p % 12).tolist()):
        for beat in range(start // tpq, (end - 1) // tpq + 1):
            weight[beat, pc] += min(end, (beat + 1) * tpq) - max(start, beat * tpq)
    return weight


def beat_chords(piece: Piece) -> BeatChords:
    """Each beat's chord and how much of the beat it explains (see the module docstring)."""
    weight = beat_weights(piece)
    n = len(weight)
    if n == 0:
        return BeatChords(weight, np.zeros(0, np.int64), np.zeros(0))
    total = weight.sum(1)
    explained = weight @ _MASKS.T / np.maximum(total, 1e-12)[:, None]  # (beats, K)
    absent = (weight == 0).astype(float) @ _MASKS.T  # template tones not sounding in the beat
    # largest share, then fewest absent tones, then smallest template, then the lowest index
    best = explained >= explained.max(1, keepdims=True) - 1e-12
    for key in (absent, np.broadcast_to(_SIZES, absent.shape)):
        masked = np.where(best, key, np.inf)
        best &= masked == masked.min(1, keepdims=True)
    chord = best.argmax(1)
    has = (weight > 0).sum(1) >= MIN_CHORD_PCS
    fit = np.where(has, explained[np.arange(n), chord], NAN)
    return BeatChords(weight, np.where(has, chord, -1), fit)


def chord_fit(piece: Piece) -> float:
    """Mean over the beats with a chord of the share of their sounding pitch-class weight that
    the chord explains; 1.0 when every such beat is a chord of the vocabulary. NaN without a
    beat of ``MIN_CHORD_PCS`` pitch classes."""
    fit = piece.chords.fit
    fit = fit[np.isfinite(fit)]
    return float(fit.mean()) if len(fit) else NAN


def _changes(chords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(beats with a chord, whether each starts a new chord: the first one and every beat whose
    root differs from the previous chord's). A change of root, not of template: a walking bass's
    passing tone turns Dm7 into Dm9 for a beat, which is no change of harmony."""
    beats = np.flatnonzero(chords >= 0)
    roots = _ROOTS[chords[beats]]
    new = np.r_[True, roots[1:] != roots[:-1]] if len(beats) else np.zeros(0, bool)
    return beats, new


def root_changes_per_bar(piece: Piece) -> float:
    """Harmonic rhythm: the chord changes of :func:`_changes` (a beat whose chord's root differs
    from the previous chord's) per bar the piece touches, from bar 1 to the end of the last
    note. Beats without a chord are skipped, as a comping rest does not end the harmony. NaN
    without a chord. ``chord_changes_per_bar`` (``texture.py``) counts changes of template too,
    so re-voicing one chord (C6 -> Cmaj7) counts there and not here."""
    chords = piece.chords.chord
    _, new = _changes(chords)
    if not new.any():
        return NAN
    return (int(new.sum()) - 1) / math.ceil(len(chords) * piece.tpq / piece.bar_ticks)


def _bass_at_beats(piece: Piece, beats: np.ndarray) -> np.ndarray:
    """Lowest pitch sounding at each beat's first tick, else the lowest struck in the beat
    (-1 for a beat where nothing sounds)."""
    t, d, p = _pitched(piece)
    tpq = piece.tpq
    out = np.full(len(beats), -1)
    for i, b in enumerate(beats.tolist()):
        start = b * tpq
        sounding = p[(t <= start) & (t + d > start)]
        if len(sounding) == 0:
            sounding = p[(t >= start) & (t < start + tpq)]
        if len(sounding):
            out[i] = sounding.min()
    return out


def bass_on_root(piece: Piece) -> float:
    """Of the beats where a chord starts (the first chord and every change), the share whose
    bass (lowest pitch sounding at the beat, else the lowest struck in it) is the chord's
    root or fifth. NaN without a chord."""
    chords = piece.chords.chord
    beats, new = _changes(chords)
    starts = beats[new]
    if len(starts) == 0:
        return NAN
    bass = _bass_at_beats(piece, starts) % 12
    label = chords[starts]
    return float(np.mean((bass == _ROOTS[label]) | (bass == _FIFTHS[label])))


def chord_changes_on_strong_beats(piece: Piece) -> float:
    """Where in the bar the harmony moves: of the chord changes (a beat whose chord differs
    from the previous chord's), the share on a strong beat: the bar's first beat, or its
    middle beat when the bar has an even number of beats (beat 3 of 4/4). NaN without a change."""
    chords = piece.chords.chord
    beats, new = _changes(chords)
    changed = beats[new][1:]
    if len(changed) == 0:
        return NAN
    per_bar = max(1, round(piece.bar_ticks / piece.tpq))
    pos = changed % per_bar
    strong = (pos == 0) | ((per_bar % 2 == 0) & (pos == per_bar // 2))
    return float(strong.mean())


def top_voice(piece: Piece) -> np.ndarray:
    """Pitches of the top voice in order: the notes that are the highest pitch sounding at their
    own onset. A bass note struck under a held chord is not in it (the skyline of struck notes
    would jump from the chord's top down to the bass and back)."""
    t, d, p = _pitched(piece)
    if len(t) == 0:
        return p
    onsets = np.unique(t)
    top = np.full(len(onsets), -1)
    for lo in range(0, len(onsets), 512):  # (onsets, notes) in chunks: bounded memory on long pieces
        u = onsets[lo : lo + 512, None]
        sounding = (t[None, :] <= u) & ((t + d)[None, :] > u)
        top[lo : lo + 512] = np.where(sounding, p[None, :], -1).max(1)
    struck = np.zeros(len(onsets), bool)
    at = np.searchsorted(onsets, t)
    struck[at[p == top[at]]] = True
    return top[struck]


def _melody_intervals(piece: Piece) -> np.ndarray:
    return np.abs(np.diff(top_voice(piece)))


def melody_steps(piece: Piece) -> float:
    """Of the top voice's moves (successive notes of :func:`top_voice` with different pitches),
    the share that are steps of 1-2 semitones. NaN without a move."""
    moves = _melody_intervals(piece)
    moves = moves[moves > 0]
    return float(np.mean(moves <= STEP)) if len(moves) else NAN


def melody_interval(piece: Piece) -> float:
    """Mean absolute interval (semitones) between successive notes of :func:`top_voice`,
    repeats included. NaN with fewer than two melody notes."""
    moves = _melody_intervals(piece)
    return float(moves.mean()) if len(moves) else NAN


def voice_leading(piece: Piece) -> float:
    """Mean voice-leading distance between the upper voices of successive chords struck
    (``CHORD_NOTES`` or more distinct pitches starting together; upper voices: all but the
    lowest, which is the bass's own line) with different pitches: for each upper note of the
    new chord, the semitones to the nearest upper note of the previous one, averaged over the
    chord. Smooth comping scores about 1; chords at random pitches several. NaN with fewer
    than two such chords."""
    t, _, p = _pitched(piece)
    onsets, first = np.unique(t, return_index=True)
    groups = [np.unique(g) for g in np.split(p, first[1:])] if len(t) else []
    chords = [g[1:] for g in groups if len(g) >= CHORD_NOTES]
    moves = [np.abs(b[:, None] - a[None, :]).min(1).mean() for a, b in zip(chords, chords[1:])
             if len(a) != len(b) or np.any(a != b)]
    return float(np.mean(moves)) if moves else NAN


HARMONY_METRICS = {
    "chord_fit": chord_fit,
    "bass_on_root": bass_on_root,
    "chord_changes_on_strong_beats": chord_changes_on_strong_beats,
    "root_changes_per_bar": root_changes_per_bar,
    "melody_steps": melody_steps,
    "melody_interval": melody_interval,
    "voice_leading": voice_leading,
}

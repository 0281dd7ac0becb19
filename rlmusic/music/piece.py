"""A piece as flat note arrays: what metrics and rewards read.

Built once per piece (from a symusic score, or from generated ids), then shared by
every metric and reward, so a batch is decoded only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from symusic import Score

if TYPE_CHECKING:
    from rlmusic.music.harmony import BeatChords

# Krumhansl-Kessler key profiles (C major, C minor), used for key finding.
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)
MINOR_SCALE = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)  # natural minor, as MusPy
# The 24 scales as a (24, 12) mask: rows 0-11 major on C..B, rows 12-23 minor on C..B.
SCALES = np.stack([np.roll(MAJOR_SCALE, r) for r in range(12)] + [np.roll(MINOR_SCALE, r) for r in range(12)])
# The 24 key profiles (major on each tonic, then minor), centred and scaled to unit length.
_KK_ROLLED = np.array([np.roll(p, t) for p in (_KK_MAJOR, _KK_MINOR) for t in range(12)], float)
_KK_CENTRED = (_KK_ROLLED - _KK_ROLLED.mean(1, keepdims=True)) / np.linalg.norm(
    _KK_ROLLED - _KK_ROLLED.mean(1, keepdims=True), axis=1, keepdims=True)


def merge_intervals(starts: np.ndarray, ends: np.ndarray, groups: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Merge half-open intervals [s, e) into disjoint blocks, separately per group (e.g. pitch)."""
    if len(starts) == 0:
        return starts, ends
    span = int(max(ends.max(), starts.max())) + 1
    off = np.zeros(len(starts), np.int64) if groups is None else groups.astype(np.int64) * span
    s, e = starts + off, np.maximum(ends, starts) + off  # offsets keep groups apart in one sort
    if groups is not None or np.any(s[1:] < s[:-1]):
        order = np.argsort(s, kind="stable")
        s, e, off = s[order], e[order], off[order]
    run_end = np.maximum.accumulate(e)
    first = np.flatnonzero(np.r_[True, s[1:] > run_end[:-1]])
    last = np.r_[first[1:] - 1, len(s) - 1]
    return s[first] - off[first], run_end[last] - off[first]


@dataclass(frozen=True)
class Roll:
    """A binary piano roll (pitch x tick) summarised by segments between note events."""

    lengths: np.ndarray  # (S,) ticks in each segment
    counts: np.ndarray  # (S,) distinct pitches sounding in each segment
    total: int  # sounding (pitch, tick) cells: the roll's sum


@dataclass(frozen=True)
class MelodyBars:
    numbers: np.ndarray  # (K,) bar index of each bar that has melody notes
    patterns: list[tuple]  # per such bar: ((position in bar, pitch), ...)
    note_bar: np.ndarray  # (M,) for each melody note, its index into numbers/patterns


@dataclass(frozen=True, eq=False)
class Piece:
    """Notes of one piece in ticks, sorted by onset then pitch; drums flagged, not removed."""

    time: np.ndarray  # (N,) int64 onsets in ticks
    duration: np.ndarray  # (N,) int64
    pitch: np.ndarray  # (N,) int64
    is_drum: np.ndarray  # (N,) bool
    tpq: int  # ticks per quarter note
    bar_ticks: int  # length of a bar in ticks (first time signature; 4/4 if none)

    @property
    def end(self) -> int:
        """Tick where the last note ends (0 when empty)."""
        return int((self.time + self.duration).max()) if len(self.time) else 0

    @cached_property
    def pitched(self) -> np.ndarray:
        """Indices of non-drum notes."""
        return np.flatnonzero(~self.is_drum)

    @cached_property
    def pitch_class_hist(self) -> np.ndarray:
        """(12,) onsets per pitch class, drums ignored."""
        return np.bincount(self.pitch[self.pitched] % 12, minlength=12)

    @cached_property
    def roll(self) -> Roll:
        """The pitched notes' binary piano roll, run-length coded (shared by the polyphony metrics)."""
        idx = self.pitched
        s, e = merge_intervals(self.time[idx], self.time[idx] + self.duration[idx], groups=self.pitch[idx])
        if len(s) == 0:
            return Roll(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
        times = np.r_[s, e]
        delta = np.r_[np.ones(len(s), np.int64), -np.ones(len(e), np.int64)]
        order = np.argsort(times, kind="stable")
        times, level = times[order], np.cumsum(delta[order])
        last_at_time = np.r_[times[1:] != times[:-1], True]
        times, level = times[last_at_time], level[last_at_time]  # pitches sounding after each event time
        return Roll(lengths=np.diff(times), counts=level[:-1], total=int((e - s).sum()))

    @cached_property
    def chords(self) -> BeatChords:
        """Each beat's chord and its fit (``rlmusic.music.harmony.beat_chords``): read once, shared
        by the harmony metrics."""
        from rlmusic.music.harmony import beat_chords  # harmony reads Piece: imported when first used

        return beat_chords(self)

    @cached_property
    def melody(self) -> tuple[np.ndarray, np.ndarray]:
        """(onsets, pitches) of the top line: the highest pitched note at each onset (skyline)."""
        t, p = self.time[self.pitched], self.pitch[self.pitched]
        if len(t) == 0:
            return t, p
        last_of_onset = np.r_[t[1:] != t[:-1], True]  # sorted by (time, pitch): last = highest
        return t[last_of_onset], p[last_of_onset]

    @cached_property
    def bars(self) -> MelodyBars:
        """The melody split into bars (constant meter): shared by motif metrics and rewards."""
        t, p = self.melody
        bar = t // self.bar_ticks
        numbers, starts = np.unique(bar, return_index=True)
        bounds = np.r_[starts, len(t)]
        patterns = [tuple(zip((t[a:b] % self.bar_ticks).tolist(), p[a:b].tolist()))
                    for a, b in zip(bounds[:-1], bounds[1:])]
        return MelodyBars(numbers=numbers, patterns=patterns, note_bar=np.searchsorted(numbers, bar))

    @cached_property
    def key(self) -> tuple[int, str] | None:
        """(tonic pitch class, 'major'|'minor') by Krumhansl-Kessler correlation with the
        duration-weighted pitch-class histogram; None without pitched notes."""
        idx = self.pitched
        if len(idx) == 0:
            return None
        hist = np.bincount(self.pitch[idx] % 12, weights=np.maximum(self.duration[idx], 1), minlength=12)
        if np.allclose(hist, hist[0]):
            return (int(self.pitch[idx][0] % 12), "major")  # no tonal evidence: the first note
        h = hist - hist.mean()
        r = _KK_CENTRED @ (h / np.linalg.norm(h))  # Pearson's r with all 24 rolled profiles at once
        best, best_r = 0, -2.0
        for i, ri in enumerate(r.tolist()):  # the first of near-ties, as a scan in this order would
            if ri > best_r + 1e-12:
                best, best_r = i, ri
        return (best % 12, "major" if best < 12 else "minor")


def piece_from_arrays(time, duration, pitch, is_drum=None, tpq: int = 480, bar_ticks: int | None = None) -> Piece:
    time = np.asarray(time, dtype=np.int64)
    duration = np.asarray(duration, dtype=np.int64)
    pitch = np.asarray(pitch, dtype=np.int64)
    is_drum = np.zeros(len(time), bool) if is_drum is None else np.asarray(is_drum, dtype=bool)
    order = np.lexsort((pitch, time))
    return Piece(time=time[order], duration=duration[order], pitch=pitch[order], is_drum=is_drum[order],
                 tpq=int(tpq), bar_ticks=int(bar_ticks or 4 * tpq))


def bar_ticks(score: Score) -> int:
    """Length of a bar in the score's ticks, by its first time signature (4/4 if none)."""
    tpq = score.ticks_per_quarter
    if len(score.time_signatures):
        ts = score.time_signatures[0]
        return max(1, tpq * 4 * ts.numerator // ts.denominator)
    return 4 * tpq


def piece_from_score(score: Score) -> Piece:
    """All tracks of a symusic score (in ticks), drums flagged."""
    parts = [(t.notes.numpy(), t.is_drum) for t in score.tracks if len(t.notes)]
    tpq = score.ticks_per_quarter
    bar = bar_ticks(score)
    if not parts:
        empty = np.zeros(0, np.int64)
        return piece_from_arrays(empty, empty, empty, tpq=tpq, bar_ticks=bar)
    return piece_from_arrays(
        np.concatenate([a["time"] for a, _ in parts]),
        np.concatenate([a["duration"] for a, _ in parts]),
        np.concatenate([a["pitch"] for a, _ in parts]),
        np.concatenate([np.full(len(a["time"]), d) for a, d in parts]),
        tpq=tpq, bar_ticks=bar)

"""Structure-destroyed copies of real music: negatives that texture alone cannot tell apart.

A model that learns "jazz" from real jazz against other music can learn it from rhythm and
density alone. Each corruption below keeps one side of a piece and destroys the other, so a
model that still calls the copy jazz hears only what was kept:

- ``permuted_pitches``: the pitches permuted among the notes. Onsets, durations, note count
  and pitch histogram kept; melody, chords, bass line and voice leading gone.
- ``shuffled_onsets``: within each bar, the onsets permuted among the bar's notes. Pitches,
  durations, note count and each bar's set of onset times kept; the order of the melody and
  which notes sound together gone.
- ``spliced_bars``: bars drawn from different pieces, each transposed to another key. Every
  bar is real; the progression and the key are gone.
- ``shuffled_beats``: each beat replaced by a random beat of the same piece, its notes moved
  with it. Key, voicings, pitch content and each beat's texture kept; the progression, the
  bass line and the harmonic rhythm gone (on the corpus's jazz, 2.2 -> 2.9 chord changes a
  bar: chords re-struck on the wrong beats, as a policy that re-voices on every beat plays).
- ``transposed_voices``: the notes above (or below) the piece's median pitch transposed by a
  random interval that is not an octave. Rhythm and each voice's own line kept; the voices no
  longer agree on a key.

Each is a pure function of its inputs and a ``numpy`` generator. The scramble test measures
every kind; the models learn from the kinds ``clf.scrambled_kinds`` names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from symusic import Note, Score, TimeSignature, Track

from rlmusic.errors import RLMusicError
from rlmusic.music.piece import Piece, piece_from_arrays

PITCH_LOW, PITCH_HIGH = 21, 108  # the piano's range, the tokenizer's default


def _copy(piece: Piece, time=None, duration=None, pitch=None) -> Piece:
    return piece_from_arrays(piece.time if time is None else time, piece.duration if duration is None else duration,
                             piece.pitch if pitch is None else pitch, piece.is_drum, tpq=piece.tpq,
                             bar_ticks=piece.bar_ticks)


def _in_range(pitch: np.ndarray) -> np.ndarray:
    """Pitches moved by octaves into the piano's range (a transposed voice keeps its notes)."""
    pitch = pitch.copy()
    while (low := pitch < PITCH_LOW).any():
        pitch[low] += 12
    while (high := pitch > PITCH_HIGH).any():
        pitch[high] -= 12
    return pitch


def permuted_pitches(piece: Piece, rng: np.random.Generator, others: Sequence[Piece] = ()) -> Piece:
    """The pitched notes' pitches in a random order; everything else as it was."""
    pitch = piece.pitch.copy()
    idx = piece.pitched
    pitch[idx] = pitch[idx][rng.permutation(len(idx))]
    return _copy(piece, pitch=pitch)


def shuffled_onsets(piece: Piece, rng: np.random.Generator, others: Sequence[Piece] = ()) -> Piece:
    """Within each bar, the pitched notes' onset times permuted among them (durations stay with
    their notes)."""
    time = piece.time.copy()
    idx = piece.pitched
    bars = time[idx] // piece.bar_ticks
    for bar in np.unique(bars):
        members = idx[bars == bar]
        time[members] = time[members][rng.permutation(len(members))]
    return _copy(piece, time=time)


def transposed_voices(piece: Piece, rng: np.random.Generator, others: Sequence[Piece] = ()) -> Piece:
    """The pitched notes above the median pitch (or, by a coin, those at or below it) moved by
    1-11 semitones up or down (never an octave), kept in the piano's range by octaves."""
    pitch = piece.pitch.copy()
    idx = piece.pitched
    if len(idx) == 0:
        return _copy(piece)
    median = np.median(pitch[idx])
    upper = pitch[idx] > median
    voice = idx[upper] if rng.random() < 0.5 else idx[~upper]
    if len(voice) == 0:
        voice = idx
    shift = int(rng.integers(1, 12)) * (1 if rng.random() < 0.5 else -1)
    pitch[voice] = _in_range(pitch[voice] + shift)
    return _copy(piece, pitch=pitch)


def shuffled_beats(piece: Piece, rng: np.random.Generator, others: Sequence[Piece] = ()) -> Piece:
    """As many beats as ``piece`` has up to its last onset, each the notes starting in a random
    beat of the same piece, drawn with replacement, empty beats included (durations kept, so a
    held chord still overhangs into the next beat)."""
    idx = piece.pitched
    if len(idx) == 0:
        return _copy(piece)
    beat = piece.tpq
    src_beat = piece.time[idx] // beat
    n_beats = int(src_beat.max()) + 1
    picks = rng.integers(n_beats, size=n_beats)
    times, durations, pitches = [], [], []
    for b, pick in enumerate(picks.tolist()):
        m = idx[src_beat == pick]
        times.append(piece.time[m] - pick * beat + b * beat)
        durations.append(piece.duration[m])
        pitches.append(piece.pitch[m])
    return piece_from_arrays(np.concatenate(times), np.concatenate(durations), np.concatenate(pitches),
                             tpq=piece.tpq, bar_ticks=piece.bar_ticks)


def spliced_bars(piece: Piece, rng: np.random.Generator, others: Sequence[Piece] = ()) -> Piece:
    """As many bars as ``piece`` has, each a random bar of a random piece among ``piece`` and
    ``others`` with the same bar length, transposed by -6..+5 semitones (a new key per bar)."""
    pool = [p for p in (piece, *others) if p.bar_ticks == piece.bar_ticks and p.tpq == piece.tpq and len(p.pitched)]
    if not pool:
        return _copy(piece)
    n_bars = max(1, -(-piece.end // piece.bar_ticks))
    times, durations, pitches = [], [], []
    for bar in range(n_bars):
        src = pool[int(rng.integers(len(pool)))]
        idx = src.pitched
        src_bars = np.unique(src.time[idx] // src.bar_ticks)
        pick = int(src_bars[rng.integers(len(src_bars))])
        m = idx[src.time[idx] // src.bar_ticks == pick]
        times.append(src.time[m] - pick * src.bar_ticks + bar * piece.bar_ticks)
        durations.append(src.duration[m])
        pitches.append(_in_range(src.pitch[m] + int(rng.integers(-6, 6))))
    return piece_from_arrays(np.concatenate(times), np.concatenate(durations), np.concatenate(pitches),
                             tpq=piece.tpq, bar_ticks=piece.bar_ticks)


Corruption = Callable[[Piece, np.random.Generator, Sequence[Piece]], Piece]
CORRUPTIONS: dict[str, Corruption] = {
    "permuted_pitches": permuted_pitches,
    "shuffled_onsets": shuffled_onsets,
    "spliced_bars": spliced_bars,
    "shuffled_beats": shuffled_beats,
    "transposed_voices": transposed_voices,
}


def check_kinds(kinds: Sequence[str], setting: str) -> None:
    """A one-line error naming ``setting`` when a kind is not one of ``CORRUPTIONS``."""
    unknown = [k for k in kinds if k not in CORRUPTIONS]
    if not kinds:
        raise RLMusicError(f"{setting} is empty; name at least one of {', '.join(CORRUPTIONS)}")
    if unknown:
        raise RLMusicError(f"{setting}: {', '.join(unknown)} is not a corruption; choose from {', '.join(CORRUPTIONS)}")


def corrupt(pieces: Sequence[Piece], kind: str, rng: np.random.Generator) -> list[Piece]:
    """One ``kind`` copy of each piece; ``spliced_bars`` draws its bars from all of ``pieces``."""
    fn = CORRUPTIONS[kind]
    return [fn(p, rng, pieces) for p in pieces]


def score_from_piece(piece: Piece) -> Score:
    """A one-track symusic score of the piece's pitched notes (velocity 80), in its ticks and
    meter (bar length over quarter notes), for a tokenizer to encode."""
    score = Score(piece.tpq)
    quarters = max(1, round(piece.bar_ticks / piece.tpq))
    score.time_signatures.append(TimeSignature(0, quarters, 4))
    track = Track(program=0, is_drum=False)
    idx = piece.pitched
    for t, d, p in zip(piece.time[idx].tolist(), piece.duration[idx].tolist(), piece.pitch[idx].tolist()):
        track.notes.append(Note(int(t), max(1, int(d)), int(p), 80))
    score.tracks.append(track)
    return score

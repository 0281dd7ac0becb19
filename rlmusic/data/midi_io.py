"""Reading MIDI safely: one function that either returns a clean one-stream score or says why not.

Every entry point that reads MIDI goes through :func:`load_score`, so a corrupt file
is a reason string in a summary, never a crash.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from symusic import Note, Score, Track

MIDI_SUFFIXES = (".mid", ".midi")
# A piece longer than this many quarter notes (~3 hours at 120 bpm) is cut:
# one note at tick 2.7e8 would otherwise become ~280,000 REMI tokens.
MAX_QUARTERS = 20_000
# Reading and tokenizing one file may take at most this long (seconds), and a file may be at
# most this large: symusic parses in linear time, so the size cap bounds its C++ part, which a
# timer cannot interrupt; the timer bounds everything in Python (MidiTok) around it.
TIME_LIMIT = 20.0
MAX_BYTES = 64 * 2**20
# Voice tracks one written track may split into (:func:`voices_apart`): MIDI has 16 channels,
# one of them the drums'.
MAX_VOICES = 8


class BadMidi(Exception):
    """A file that cannot be used; the message is the one-line reason."""


@dataclass
class SkipReport:
    """Files skipped while reading a folder, with one reason each."""

    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str | Path, reason: str) -> None:
        self.skipped.append((str(path), reason))

    def __len__(self) -> int:
        return len(self.skipped)

    def summary(self, limit: int = 10) -> str:
        if not self.skipped:
            return "no file skipped"
        lines = [f"skipped {len(self.skipped)} file(s):"]
        lines += [f"  {p}: {r}" for p, r in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more")
        return "\n".join(lines)


def find_midi_files(folder: str | Path) -> list[Path]:
    """All .mid/.midi files below ``folder``, sorted, case-insensitive suffix."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def quarter_beat_meters(score: Score) -> None:
    """Rewrite x/2 and x/1 time signatures as /4 with the bar length kept (2/2 -> 4/4, 4/2 -> 8/4).

    MidiTok's grid is counted per beat, and in 2/2 the beat is a half note: 12 positions
    per beat would be only 6 per quarter and would move sixteenth notes (3% of the notes
    of the folk tunes, which are 20% in /2 meters). With every meter counted in quarters
    (or eighths) one grid of 12 per quarter is exact for all of them.
    """
    for ts in score.time_signatures:
        if ts.denominator in (1, 2):
            ts.numerator, ts.denominator = ts.numerator * 4 // ts.denominator, 4


def merge_tracks(score: Score, program: int = -1) -> Score:
    """One non-drum track holding every pitched note (or only ``program``'s), sorted by onset.

    Drums are dropped by ``is_drum`` (their names vary too much to trust). Time
    signatures and tempos are kept so bars survive tokenization.
    """
    out = Score(score.ticks_per_quarter)
    out.time_signatures = score.time_signatures.copy()
    out.tempos = score.tempos.copy()
    keep = [t for t in score.tracks if not t.is_drum and (program < 0 or t.program == program)]
    merged = Track(name="merged", program=max(program, 0), is_drum=False)
    arrays = [t.notes.numpy() for t in keep if len(t.notes)]
    if arrays:
        cat = {k: np.concatenate([a[k] for a in arrays]) for k in ("time", "duration", "pitch", "velocity")}
        order = np.lexsort((cat["pitch"], cat["time"]))
        merged.notes = Note.from_numpy(
            time=cat["time"][order],
            duration=np.maximum(cat["duration"][order], 1),  # zero-length notes would vanish in tokens
            pitch=cat["pitch"][order],
            velocity=cat["velocity"][order],
        )
    out.tracks.append(merged)
    return out


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT):
    """Raise :class:`BadMidi` if the block runs longer than ``seconds`` (main thread on Unix;
    elsewhere a no-op)."""
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise BadMidi(f"took longer than {seconds:g}s to read")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_score(path: str | Path, program: int = -1, max_quarters: int = MAX_QUARTERS) -> Score:
    """Read ``path`` and return a one-track score, or raise :class:`BadMidi` with the reason.

    Checks, in order: readable by symusic, ticks per quarter > 0, at least one
    pitched (non-drum) note; notes starting after ``max_quarters`` are cut. The notes come from
    :func:`rlmusic.data.midi_notes.read_notes`, which keeps re-struck notes that symusic's own
    pairing stretches or drops; symusic gives the meter, tempos and the validity check.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise BadMidi("empty file")
        if size > MAX_BYTES:
            raise BadMidi(f"file is {size / 2**20:.0f} MB, over the {MAX_BYTES // 2**20} MB limit")
        data = path.read_bytes()
        score = Score.from_midi(data)
    except BadMidi:
        raise
    except Exception as e:  # symusic raises RuntimeError/ValueError with varied messages
        raise BadMidi(f"unreadable MIDI ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})") from None
    restrike_notes(score, data)
    return clean_score(score, program=program, max_quarters=max_quarters)


def restrike_notes(score: Score, data: bytes) -> None:
    """Replace the notes of ``score`` (read by symusic from ``data``) by :func:`read_notes`'s, one
    track per (program, drums). A file symusic reads but this reader cannot keeps symusic's notes."""
    from rlmusic.data.midi_notes import MidiParseError, read_notes

    try:
        tpq, notes = read_notes(data)
    except MidiParseError:
        return
    if tpq != score.ticks_per_quarter:
        return
    tracks = []
    keys = np.unique(np.stack([notes["program"], notes["is_drum"].astype(np.int64)], 1), axis=0)
    for prog, drum in keys.tolist():
        sel = (notes["program"] == prog) & (notes["is_drum"] == bool(drum))
        track = Track(name="drums" if drum else f"program {prog}", program=int(prog), is_drum=bool(drum))
        track.notes = Note.from_numpy(time=notes["time"][sel].astype(np.int32),
                                      duration=notes["duration"][sel].astype(np.int32),
                                      pitch=notes["pitch"][sel].astype(np.int8),
                                      velocity=notes["velocity"][sel].astype(np.int8))
        tracks.append(track)
    score.tracks = tracks


def clean_score(score: Score, program: int = -1, max_quarters: int = MAX_QUARTERS) -> Score:
    """The checks of :func:`load_score` on a score already in memory."""
    if score.ticks_per_quarter <= 0:
        raise BadMidi("ticks per quarter is 0")
    merged = merge_tracks(score, program)
    quarter_beat_meters(merged)
    notes = merged.tracks[0].notes
    if len(notes) == 0:
        what = "no pitched notes" if program < 0 else f"no notes with program {program}"
        raise BadMidi(what + (" (drums only)" if any(t.is_drum and len(t.notes) for t in score.tracks) else ""))
    limit = max_quarters * score.ticks_per_quarter
    arr = notes.numpy()
    if arr["time"].max() > limit:
        keep = arr["time"] <= limit
        if not keep.any():
            raise BadMidi(f"every note starts after {max_quarters} quarter notes")
        merged.tracks[0].notes = Note.from_numpy(**{k: v[keep] for k, v in arr.items()})
    return merged


def voices_apart(score: Score) -> Score:
    """``score`` with each track whose notes of one pitch overlap split into voice tracks where
    none do (same program; :func:`write_score` gives each its own channel).

    The token stream merges instruments, so a policy plays a pitch again while it still sounds
    (two instruments on one pitch: 15% of the notes of the corpus's MMA jazz). One MIDI channel
    cannot hold that: a player, and :func:`load_score`, end the sounding copy at the new strike,
    so written as one track the music would shorten those notes. In voice tracks every note
    keeps its length, and :func:`load_score` reads back the very notes written (merged again).
    Each note goes to the first voice whose copy of its pitch has ended; past
    ``MAX_VOICES`` voices the last one takes the rest (re-struck there)."""
    out = Score(score.ticks_per_quarter)
    out.time_signatures, out.tempos = score.time_signatures.copy(), score.tempos.copy()
    out.key_signatures, out.markers = score.key_signatures.copy(), score.markers.copy()
    for track in score.tracks:
        a = track.notes.numpy()
        voice = np.zeros(len(a["time"]), dtype=np.int64)
        ends: dict[int, list[int]] = {}  # pitch -> when its copy in each voice stops sounding
        for i in np.lexsort((a["pitch"], a["time"])).tolist():
            free = ends.setdefault(int(a["pitch"][i]), [])
            v = next((k for k, end in enumerate(free) if end <= a["time"][i]), len(free))
            v = min(v, MAX_VOICES - 1)
            free.extend([0] * (v + 1 - len(free)))
            free[v], voice[i] = int(a["time"][i] + a["duration"][i]), v
        for v in range(int(voice.max()) + 1 if len(voice) else 1):
            sel = voice == v
            part = Track(name=track.name if v == 0 else f"{track.name} (voice {v + 1})", program=track.program,
                         is_drum=track.is_drum)
            part.notes = Note.from_numpy(**{k: x[sel] for k, x in a.items()})
            if v == 0:  # the track's own controls stay with its first voice
                part.controls, part.pedals, part.pitch_bends = (track.controls.copy(), track.pedals.copy(),
                                                                track.pitch_bends.copy())
            out.tracks.append(part)
    return out


def write_score(score: Score, path: str | Path, split_voices: bool = True) -> Path:
    """Write ``score`` as a MIDI file, voices apart (:func:`voices_apart`): the file holds every note
    as long as the score has it. ``split_voices=False`` writes the tracks as they are."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (voices_apart(score) if split_voices else score).dump_midi(str(path))
    return path


def silence_native_output() -> None:
    """Send this process's C-level stdout/stderr to /dev/null (symusic's ABC parser prints
    a warning per odd bar). Only for worker processes: it cannot be undone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def note_count(score: Score) -> int:
    return int(sum(len(t.notes) for t in score.tracks))


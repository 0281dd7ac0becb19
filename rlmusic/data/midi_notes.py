"""Notes read from a MIDI file's own events, with re-struck notes paired as a player hears them.

symusic 0.6 pairs note-ons with note-offs first-in-first-out: when a pitch is struck again
before its note-off (guitar strums, MMA's Plectrum and comping tracks, real performances),
later strikes take later note-offs, so notes stretch by bars, and strikes left without a
note-off of their own vanish (MMA's ``PlectrumExample.mid``: 33 notes instead of 90). This
module reads the note events itself and pairs them by one rule, per track, channel and pitch:

* a new strike ends the copy of that pitch still sounding (struck at an earlier tick) and
  starts a new note: a string or key struck again stops its previous sound;
* a note-off ends every copy struck at an earlier tick; one that finds only copies struck at
  this very tick is the previous copy's own note-off (already ended by the new strike) and is
  ignored, unless nothing was re-struck here: then those copies never sounded (on and off at
  one tick, as MMA writes a doubled chord tone) and are dropped, as pretty_midi drops them;
* a note still sounding when its track ends, ends there.

Every strike becomes a note, so the note count equals pretty_midi's and MusPy's (which end
every sounding copy at the next note-off instead); the sounding time of each pitch, and so every
piano-roll metric, is the same under both rules. Ending a copy at the re-strike rather than
at the later note-off keeps notes of one pitch on one channel from overlapping, as one channel
cannot hold them (two channels can: merged into one stream, the corpus's instruments do overlap,
and :func:`rlmusic.data.midi_io.voices_apart` writes such notes to channels of their own).
"""

from __future__ import annotations

import numpy as np

DRUM_CHANNEL = 9  # General MIDI channel 10
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
FIELDS = ("time", "duration", "pitch", "velocity", "program", "is_drum", "track")


class MidiParseError(ValueError):
    """The bytes are not a MIDI file this reader understands."""


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    while True:
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, i


def _track_notes(data: bytes, start: int, end: int, track: int, out: list[list[int]]) -> None:
    """Append (time, duration, pitch, velocity, program, is_drum, track) rows for one MTrk chunk."""
    open_notes: dict[int, list[tuple[int, int, int]]] = {}  # channel * 128 + pitch -> [(start, velocity, program)]
    restruck_at: dict[int, int] = {}  # key -> tick where a re-strike last ended copies
    program = [0] * 16
    t, i, status = 0, start, 0
    while i < end:
        delta, i = _varlen(data, i)
        t += delta
        b = data[i]
        if b >= 0x80:
            status, i = b, i + 1
        elif status == 0 or status >= 0xF0:
            raise MidiParseError(f"running status without a status byte at offset {i}")
        if status == 0xFF:  # meta event: type, length, data
            kind = data[i]
            length, i = _varlen(data, i + 1)
            i += length
            status = 0  # running status does not survive meta or sysex events
            if kind == 0x2F:
                break
            continue
        if status in (0xF0, 0xF7):
            length, i = _varlen(data, i)
            i += length
            status = 0
            continue
        kind, channel = status >> 4, status & 0x0F
        n = _DATA_BYTES.get(kind)
        if n is None:
            raise MidiParseError(f"unknown status byte {status:#x}")
        d1 = data[i]
        d2 = data[i + 1] if n == 2 else 0
        i += n
        if kind == 0xC:
            program[channel] = d1
            continue
        if kind not in (0x8, 0x9):
            continue
        key = channel * 128 + d1
        sounding = open_notes.get(key)
        if kind == 0x9 and d2 > 0:  # a strike
            if sounding:
                earlier = [s for s in sounding if s[0] < t]
                if earlier:
                    for s in earlier:
                        out.append([s[0], t - s[0], d1, s[1], s[2], channel == DRUM_CHANNEL, track])
                    restruck_at[key] = t
                    sounding = [s for s in sounding if s[0] >= t]
                sounding.append((t, d2, program[channel]))
                open_notes[key] = sounding
            else:
                open_notes[key] = [(t, d2, program[channel])]
        elif sounding:  # a note-off (or a note-on with velocity 0)
            earlier = [s for s in sounding if s[0] < t]
            if not earlier and restruck_at.get(key) == t:
                continue  # the note-off of the copy the strike at this tick already ended
            for s in earlier:
                out.append([s[0], t - s[0], d1, s[1], s[2], channel == DRUM_CHANNEL, track])
            rest = [s for s in sounding if s[0] >= t] if earlier else []  # none: zero-length, dropped
            if rest:
                open_notes[key] = rest
            else:
                del open_notes[key]
    for key, sounding in open_notes.items():  # never ended: they last until the track's end
        for s in sounding:
            out.append([s[0], t - s[0], key % 128, s[1], s[2], key // 128 == DRUM_CHANNEL, track])


def read_notes(data: bytes) -> tuple[int, dict[str, np.ndarray]]:
    """(ticks per quarter, {field: array}) of every note in a Standard MIDI File's bytes, sorted
    by onset then pitch. Raises :class:`MidiParseError` on bytes it cannot read (SMPTE time
    division included)."""
    try:
        if data[:4] != b"MThd":
            raise MidiParseError("no MThd header")
        header_len = int.from_bytes(data[4:8], "big")
        division = int.from_bytes(data[12:14], "big")
        if division & 0x8000:
            raise MidiParseError("SMPTE time division is not supported")
        rows: list[list[int]] = []
        i, track = 8 + header_len, 0
        while i + 8 <= len(data):
            length = int.from_bytes(data[i + 4 : i + 8], "big")
            if data[i : i + 4] == b"MTrk":
                _track_notes(data, i + 8, min(i + 8 + length, len(data)), track, rows)
                track += 1
            i += 8 + length
    except IndexError:
        raise MidiParseError("truncated MIDI data") from None
    arr = np.array(rows, dtype=np.int64).reshape(-1, len(FIELDS))
    arr = arr[np.lexsort((arr[:, 2], arr[:, 0]))]
    notes = {name: arr[:, k] for k, name in enumerate(FIELDS)}
    notes["is_drum"] = notes["is_drum"].astype(bool)
    return division, notes

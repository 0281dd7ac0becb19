"""A folder of malformed MIDI files, each a case a training tool meets in the wild."""

from __future__ import annotations

import struct
from pathlib import Path

from symusic import Note, Score, Track


def _header(ntracks: int = 1, division: int = 480, fmt: int = 1) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division)


def _track(events: bytes) -> bytes:
    return b"MTrk" + struct.pack(">I", len(events)) + events


def _score(notes, tpq=480, drum=False) -> Score:
    s = Score(tpq)
    t = Track(name="t", program=0, is_drum=drum)
    for start, dur, pitch in notes:
        t.notes.append(Note(start, dur, pitch, 90))
    s.tracks.append(t)
    return s


def write_bad_folder(folder: Path, good: Path | None = None) -> dict[str, str]:
    """Write the bad files (and a copy of ``good``); returns {file name: what is wrong with it}."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {}

    def put(name, data, why):
        (folder / name).write_bytes(data)
        cases[name] = why

    end_of_track = b"\x00\xff\x2f\x00"
    put("empty.mid", b"", "empty file")
    put("random_bytes.mid", bytes(range(256)) * 3, "random bytes")
    valid = _header() + _track(b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x40" + end_of_track)
    put("truncated.mid", valid[:30], "truncated")
    put("header_only.mid", _header(), "header only")
    put("no_tracks.mid", _header(ntracks=0), "no tracks")
    put("tpq_zero.mid", _header(division=0) + _track(b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x40" + end_of_track), "tpq 0")
    put("data_byte_over_127.mid", _header() + _track(b"\x00\x90\xc8\xc8\x83\x60\x80\x3c\x40" + end_of_track),
        "data bytes above 127")
    put("wav_renamed.mid", b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(24), "a WAV file")
    put("text_renamed.midi", b"this is not music, just text\n", "a text file")
    far = folder / "far_note.mid"
    _score([(200_000_000, 480, 60)]).dump_midi(str(far))
    cases["far_note.mid"] = "a single note at tick 2e8"
    _score([(0, 480, 36), (480, 480, 38)], drum=True).dump_midi(str(folder / "drums_only.mid"))
    cases["drums_only.mid"] = "drums only"
    _score([(i * 240, 0, 60 + i % 12) for i in range(16)]).dump_midi(str(folder / "zero_length.mid"))
    cases["zero_length.mid"] = "zero-length notes"
    _score([(0, 480, 21 + i % 88) for i in range(5000)]).dump_midi(str(folder / "5000_simultaneous.mid"))
    cases["5000_simultaneous.mid"] = "5000 simultaneous notes"
    if good is not None:
        (folder / "good.mid").write_bytes(Path(good).read_bytes())
    return cases

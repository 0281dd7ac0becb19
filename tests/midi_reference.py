"""Reference readings for parity checks, and a hand-written MIDI file of re-struck notes."""

from __future__ import annotations

import struct
from pathlib import Path

import muspy
import pretty_midi


def muspy_like_pretty_midi(path: str | Path) -> muspy.Music:
    """MusPy's Music of the drum-free stream as pretty_midi reads it (every sounding copy ended
    at the note-off), in the file's own ticks. MusPy's own reader cannot give it: its default
    pairs first-in-first-out, as symusic does, and in 0.5.0 its ``duplicate_note_mode`` check
    accepts ``"all"`` where the code branches on ``"close_all"``, so "all" keeps no note."""
    pm = pretty_midi.PrettyMIDI(str(path))
    notes = [muspy.Note(time=int(pm.time_to_tick(n.start)), pitch=n.pitch, velocity=n.velocity,
                        duration=int(pm.time_to_tick(n.end)) - int(pm.time_to_tick(n.start)))
             for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    return muspy.Music(resolution=pm.resolution, tracks=[muspy.Track(notes=notes)])


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 127:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def restruck_midi(path: Path) -> Path:
    """Two tracks at 480 ticks per quarter, every event written by hand (running status included):

    track 1, channel 0: C4 struck at 0 and again at 240 with a single note-off at 480 (a strum);
      E4 struck at 480, at 720 and at 960 with its note-offs at 1200, 1300 and 1400 (first in,
      first out); G4 struck, released and struck again at 1440 (MMA's doubled chord tone), off
      at 1680.
    track 2, channel 9: a drum hit at 0, off at 120.
    """
    on, off = 0x90, 0x80
    ev = [(0, bytes([on, 60, 90])), (240, bytes([60, 80])),  # running status: note-on again
          (480, bytes([off, 60, 0])),
          (480, bytes([on, 64, 90])), (720, bytes([on, 64, 90])), (960, bytes([on, 64, 90])),
          (1200, bytes([off, 64, 0])), (1300, bytes([off, 64, 0])), (1400, bytes([off, 64, 0])),
          (1440, bytes([on, 67, 90])), (1440, bytes([on, 67, 0])), (1440, bytes([on, 67, 70])),
          (1680, bytes([off, 67, 0]))]
    body, now = b"", 0
    for t, msg in ev:
        body += _vlq(t - now) + msg
        now = t
    body += b"\x00\xff\x2f\x00"
    drums = b"\x00\x99\x24\x64" + _vlq(120) + b"\x89\x24\x00" + b"\x00\xff\x2f\x00"
    data = b"MThd" + struct.pack(">IHHH", 6, 1, 2, 480)
    for chunk in (body, drums):
        data += b"MTrk" + struct.pack(">I", len(chunk)) + chunk
    path.write_bytes(data)
    return path

"""Re-struck notes read as players hear them: a hand-written file, MMA's Plectrum example,
pretty_midi's note counts and MusPy's metrics on real multi-track renders."""

import math
import shutil
from pathlib import Path

import muspy
import pretty_midi
import pytest
import symusic
from midi_reference import muspy_like_pretty_midi, restruck_midi

from rlmusic.data.midi_io import find_midi_files, load_score
from rlmusic.data.midi_notes import MidiParseError, read_notes
from rlmusic.music import metrics as M
from rlmusic.music.piece import piece_from_score

MUSPY = ["pitch_class_entropy", "pitch_entropy", "scale_consistency", "empty_beat_rate", "polyphony",
         "polyphony_rate", "pitch_range", "n_pitches_used", "n_pitch_classes_used"]
PLECTRUM = Path("/usr/share/doc/mma/examples/plectrum/PlectrumExample.mid")


def _notes(score):
    return sorted((n.time, n.duration, n.pitch) for t in score.tracks for n in t.notes)


def test_hand_written_restruck_notes(tmp_path):
    f = restruck_midi(tmp_path / "restruck.mid")
    assert _notes(load_score(f)) == [
        (0, 240, 60), (240, 240, 60),  # the strum: each strike sounds until the next or the note-off
        (480, 240, 64), (720, 240, 64), (960, 240, 64),  # each strike ends the one before
        (1440, 240, 67),  # struck, released and struck again at 1440: one note; drums dropped
    ]
    tpq, raw = read_notes(f.read_bytes())
    assert tpq == 480 and raw["is_drum"].tolist().count(True) == 1
    # pretty_midi keeps the same strikes (ending copies at the note-off instead)
    pm = pretty_midi.PrettyMIDI(str(f))
    assert sum(len(i.notes) for i in pm.instruments if not i.is_drum) == 6
    # symusic 0.6 on its own pairs first-in-first-out: the second C4 vanishes, the E4s stretch
    own = sorted((n.time, n.duration, n.pitch) for t in symusic.Score(str(f)).tracks if not t.is_drum for n in t.notes)
    assert own == [(0, 480, 60), (480, 720, 64), (720, 580, 64), (960, 440, 64), (1440, 0, 67), (1440, 240, 67)]


def test_reader_errors_are_parse_errors():
    with pytest.raises(MidiParseError):
        read_notes(b"RIFF....")
    with pytest.raises(MidiParseError):
        read_notes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x08\x00\x90\x3c")


@pytest.mark.skipif(not PLECTRUM.is_file(), reason="Debian's mma package is not installed (scripts/setup.sh installs it)")
def test_mma_plectrum_example_keeps_every_strike(tmp_path):
    f = shutil.copy(PLECTRUM, tmp_path / "plectrum.mid")
    pm = pretty_midi.PrettyMIDI(str(f))
    assert len(_notes(load_score(f))) == sum(len(i.notes) for i in pm.instruments if not i.is_drum) == 90
    assert sum(len(t.notes) for t in symusic.Score(str(f)).tracks) == 33  # what symusic alone reads


def test_counts_equal_pretty_midi_and_metrics_equal_muspy_on_mma_renders(jazz_set):
    renders = [f for f in find_midi_files(jazz_set) if "folk" not in f.parent.name]
    assert len(renders) >= 30
    restruck = 0
    for f in renders:
        ours = load_score(f)
        pm = sum(len(i.notes) for i in pretty_midi.PrettyMIDI(str(f)).instruments if not i.is_drum)
        assert len(ours.tracks[0].notes) == pm, f.name
        restruck += sum(len(t.notes) for t in symusic.Score(str(f)).tracks if not t.is_drum) != pm
        music, piece = muspy_like_pretty_midi(f), piece_from_score(ours)
        for name in MUSPY:
            a, b = getattr(muspy, name)(music), getattr(M, name)(piece)
            assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9, (f.name, name)
    assert restruck > 0  # the set does exercise re-struck notes

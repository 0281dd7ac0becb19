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


def _overlapping_score():
    """C4 held two beats and struck again twice while it sounds (two instruments merged into one
    stream, as the corpus's MMA jazz and the samples of a policy trained on it are); E4 apart."""
    score = symusic.Score(24)
    track = symusic.Track(name="merged", program=0)
    for time, duration, pitch in [(0, 48, 60), (12, 12, 60), (24, 48, 60), (0, 24, 64)]:
        track.notes.append(symusic.Note(time=time, duration=duration, pitch=pitch, velocity=80))
    score.tracks.append(track)
    return score


def test_voices_apart_keeps_every_notes_length_through_a_midi_file(tmp_path):
    from rlmusic.data.midi_io import voices_apart, write_score

    score = _overlapping_score()
    voiced = voices_apart(score)
    # C4 at 0 holds voice 1 until 48; the strikes at 12 and 24 find it sounding and go to voice 2,
    # which the first of them frees at 24; E4 overlaps no copy of itself
    assert [sorted((n.time, n.duration, n.pitch) for n in t.notes) for t in voiced.tracks] == [
        [(0, 24, 64), (0, 48, 60)], [(12, 12, 60), (24, 48, 60)]]
    assert [t.program for t in voiced.tracks] == [0, 0]
    written = write_score(score, tmp_path / "overlap.mid")
    assert _notes(load_score(written)) == _notes(score)  # read back: the very notes written
    pm = pretty_midi.PrettyMIDI(str(written))  # and another reader agrees (120 bpm: 48 ticks a second)
    assert sorted((round(n.start * 48), round((n.end - n.start) * 48), n.pitch) for i in pm.instruments
                  for n in i.notes) == _notes(score)
    # one track, as before: each new strike ends the sounding copy, so the first C4 lasts 12 ticks
    score.dump_midi(str(tmp_path / "one_track.mid"))
    assert _notes(load_score(tmp_path / "one_track.mid"))[:2] == [(0, 12, 60), (0, 24, 64)]


def test_a_folder_of_generated_samples_reads_back_as_the_samples_themselves(tmp_path):
    """``rlmusic metrics`` on a folder that ``rlmusic generate`` wrote measures the music sampled:
    the shipped jazz prior strikes pitches that still sound, and the files keep those notes whole."""
    from policies import load_policy
    from rlmusic.config.sections import SampleConfig
    from rlmusic.data.midi_io import merge_tracks
    from rlmusic.evaluate.metrics_command import column_from_folder
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.generate import generate_pieces, write_pieces
    from rlmusic.resources import SHIPPED_JAZZ_POLICY

    ckpt = load_checkpoint(SHIPPED_JAZZ_POLICY, load_policy)
    pieces = generate_pieces(ckpt.policy, ckpt.tokenizer, SampleConfig(num=4, max_new_tokens=256, seed=0, batch_size=4))
    write_pieces(pieces, tmp_path)
    column = column_from_folder(tmp_path, tokenizer=ckpt.tokenizer)
    sampled = [_notes(merge_tracks(p.score)) for p in pieces]
    assert any(_overlaps(n) for n in sampled)  # the case at stake
    read = [sorted((int(t), int(d), int(p)) for t, d, p in zip(c.time, c.duration, c.pitch)) for c in column.pieces]
    assert read == sampled


def _overlaps(notes) -> bool:
    ends: dict[int, int] = {}
    for time, duration, pitch in notes:
        if ends.get(pitch, -1) > time:
            return True
        ends[pitch] = max(ends.get(pitch, -1), time + duration)
    return False

"""Metrics against values derived by hand, and against MusPy on real files."""

import math

import muspy
import numpy as np
import pytest
import symusic

from rlmusic.data.midi_io import find_midi_files
from rlmusic.music import metrics as M
from rlmusic.music.piece import piece_from_arrays, piece_from_score

TPQ = 4  # four ticks per quarter keeps hand arithmetic small


def mono(pitches, step=TPQ, dur=None, bar=16):
    n = len(pitches)
    return piece_from_arrays(np.arange(n) * step, [dur or step] * n, pitches, tpq=TPQ, bar_ticks=bar)


def test_arpeggio_by_hand():
    p = mono([60, 64, 67, 72])  # C E G C, quarter notes, one 4/4 bar
    assert M.pitch_class_entropy(p) == pytest.approx(1.5)  # P = 1/2, 1/4, 1/4
    assert M.scale_consistency(p) == 1.0
    assert (M.n_pitches_used(p), M.n_pitch_classes_used(p), M.pitch_range(p)) == (4, 3, 12)
    assert M.polyphony(p) == 1.0 and M.polyphony_rate(p) == 0.0
    assert M.empty_beat_rate(p) == 0.0  # beats 0..4 all touched (a note's end beat counts)
    # 2 bars (length 16 // 16 + 1); bar 1 has 4 onsets, bar 2 none: 1 - 4 / 16
    assert M.groove_consistency(p) == pytest.approx(0.75)


def test_chord_then_note_by_hand():
    p = piece_from_arrays([0, 0, 0, 4], [4, 4, 4, 4], [60, 64, 67, 60], tpq=TPQ)
    assert M.polyphony(p) == 2.0  # (3*4 + 4) sounding cells over 8 ticks
    assert M.polyphony_rate(p) == 0.5  # more than 2 pitches on 4 of 8 ticks
    assert M.polyphony_rate(p, threshold=0) == 1.0


def test_overlapping_same_pitch_counts_once_like_a_binary_roll():
    p = piece_from_arrays([0, 2], [4, 4], [60, 60], tpq=TPQ)
    assert M.polyphony(p) == 1.0


def test_empty_beats_by_hand():
    p = piece_from_arrays([0, 12], [1, 1], [60, 62], tpq=TPQ)  # notes on beats 0 and 3 of 0..3
    assert M.empty_beat_rate(p) == pytest.approx(0.5)


def test_drum_only_and_empty_pieces():
    drums = piece_from_arrays([0, 4], [2, 2], [36, 38], is_drum=[True, True], tpq=TPQ)
    assert M.pitch_range(drums) == 0.0  # MusPy: -127
    assert math.isnan(M.pitch_class_entropy(drums)) and math.isnan(M.scale_consistency(drums))
    assert M.empty_beat_rate(drums) == pytest.approx(1 - 2 / 2)
    assert math.isnan(M.polyphony(drums)) and M.polyphony_rate(drums) == 0.0
    empty = piece_from_arrays([], [], [], tpq=TPQ)
    for name, fn in M.METRICS.items():
        value = fn(empty)
        assert math.isnan(value) or value == 0.0, name
        assert not value < 0, name


def test_rl_tuner_repeats_and_autocorrelation_by_hand():
    assert M.repeated_notes(mono([60] * 6 + [62, 64])) == pytest.approx(2 / 8)  # the 5th and 6th
    alt = mono([60, 62] * 3)
    assert M.autocorrelation(alt, 1) == pytest.approx(-1.0)
    assert M.autocorrelation(alt, 2) == pytest.approx(1.0)
    assert math.isnan(M.autocorrelation(mono([60] * 5), 1))  # no variance


def test_rl_tuner_leaps_and_extrema_by_hand():
    p = mono([60, 72, 71, 60, 48, 50])  # +12 -1 -11 -12 +2
    assert M.leaps_resolved(p) == pytest.approx(2 / 3)  # +12 then down, -11 then down (no), -12 then up
    assert M.unique_max(p) == 1.0 and M.unique_min(p) == 1.0
    flat = mono([60, 60, 62])
    assert (M.unique_max(flat), M.unique_min(flat)) == (1.0, 0.0)
    assert math.isnan(M.leaps_resolved(flat))


def test_key_tonic_and_out_of_key_notes():
    scale = mono([60, 62, 64, 65, 67, 69, 71, 72])
    assert scale.key == (0, "major")
    assert M.starts_with_tonic(scale) == 1.0 and M.ends_with_tonic(scale) == 1.0
    assert M.notes_not_in_key(scale) == 0.0
    with_f_sharp = mono([60, 62, 64, 65, 67, 69, 71, 72, 66, 60])
    assert with_f_sharp.key == (0, "major") and M.notes_not_in_key(with_f_sharp) == pytest.approx(1 / 10)
    a_minor = mono([69, 71, 72, 74, 76, 72, 71, 69, 68, 69])
    assert a_minor.key == (9, "minor") and M.notes_not_in_key(a_minor) == 0.0  # G# is the leading tone


def test_motifs_by_hand():
    p = mono([60, 62, 64, 65] + [60] * 4 + [60, 62, 64, 65] + [67, 69, 71, 72])  # 4 bars of 4/4
    assert M.notes_in_motif(p) == pytest.approx(12 / 16)  # bar 2 has one pitch
    assert M.notes_in_repeated_motif(p) == pytest.approx(8 / 16)  # bars 1 and 3


def test_melody_is_the_top_line():
    p = piece_from_arrays([0, 0, 4, 4], [4, 4, 4, 4], [48, 60, 50, 62], tpq=TPQ)
    assert p.melody[1].tolist() == [60, 62]


def test_distinct_n_and_overlap_area():
    assert M.distinct_n([[1, 2, 3, 4, 5]], n=2) == 1.0
    assert M.distinct_n([[1, 1, 1, 1, 1]], n=2) == pytest.approx(1 / 4)
    assert M.distinct_n([[1, 2, 3], [1, 2, 3]], n=3) == pytest.approx(1 / 2)
    assert math.isnan(M.distinct_n([[1]], n=2))
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 400)
    assert M.overlap_area(a, rng.normal(0, 1, 400)) > 0.9
    assert M.overlap_area(a, rng.normal(10, 1, 400)) < 0.01
    assert 0.2 < M.overlap_area(a, rng.normal(1.5, 1, 400)) < 0.6  # two unit normals 1.5 apart: 0.45


def test_overlap_area_holds_point_masses():
    # Values repeated exactly are compared as a histogram: the smaller share of each.
    assert M.overlap_area([0.0] * 10, [0.0] * 9 + [1.0]) == pytest.approx(0.9)
    assert M.overlap_area([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.25 + 0.5)
    assert M.overlap_area([12, 12, 12, 11], [12, 11, 10, 9, 9, 9]) == pytest.approx(1 / 6 + 1 / 6)
    # All zeros against 90% zeros plus a spread: a density estimate alone gives under 0.1.
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.01, 0.3, 20)
    assert M.overlap_area([0.0] * 64, [0.0] * 180 + list(spread)) == pytest.approx(0.9)
    # Half zeros and half a unit normal: the same mix overlaps near 1, a shifted normal by the zeros.
    mix = lambda mu: np.concatenate([np.zeros(400), rng.normal(mu, 1, 400)])  # noqa: E731
    assert M.overlap_area(mix(3), mix(3)) > 0.93
    assert M.overlap_area(mix(3), mix(30)) == pytest.approx(0.5, abs=0.01)


MUSPY = ["pitch_class_entropy", "pitch_entropy", "scale_consistency", "empty_beat_rate", "polyphony",
         "polyphony_rate", "pitch_range", "n_pitches_used", "n_pitch_classes_used"]


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6


def test_muspy_parity_on_real_files(folk_dir, bach_dir):
    files = find_midi_files(folk_dir)[:60] + find_midi_files(bach_dir)
    assert len(files) == 65
    for f in files:
        music = muspy.read_midi(str(f))
        piece = piece_from_score(symusic.Score(str(f)))
        for name in MUSPY:
            assert _same(getattr(muspy, name)(music), getattr(M, name)(piece)), (f.name, name)
        bar = piece.bar_ticks
        assert _same(muspy.groove_consistency(music, bar), M.groove_consistency(piece)), f.name


def test_muspy_parity_on_multitrack_with_drums(tmp_path):
    rng = np.random.default_rng(1)
    s = symusic.Score(96)
    for drum in (False, False, True):
        t = symusic.Track(name="t", program=0, is_drum=drum)
        for _ in range(80):
            t.notes.append(symusic.Note(int(rng.integers(0, 3000)), int(rng.integers(0, 300)),
                                        int(rng.integers(30, 90)), 80))
        s.tracks.append(t)
    s.dump_midi(str(tmp_path / "m.mid"))
    music, piece = muspy.read_midi(str(tmp_path / "m.mid")), piece_from_score(symusic.Score(str(tmp_path / "m.mid")))
    for name in MUSPY:
        assert _same(getattr(muspy, name)(music), getattr(M, name)(piece)), name
    assert _same(muspy.groove_consistency(music, 384), M.groove_consistency(piece, 384))

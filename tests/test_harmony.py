"""Harmony and voice metrics on hand-made pieces, with answers worked out by hand."""

import math

import numpy as np
import pytest

from rlmusic.music import harmony as H
from rlmusic.music.corrupt import permuted_pitches
from rlmusic.music.metrics import METRICS
from rlmusic.music.piece import piece_from_arrays

Q = 12  # ticks per quarter note in these pieces


def ii_v_i():
    """Dm7 | G7 | Cmaj7 in 4/4: a four-note voicing held each bar, a walking bass and a melody
    in quarter notes above it.

    bar 1  voicing F3 A3 C4 D4 (53 57 60 62)  bass D2 E2 F2 A2 (38 40 41 45)  melody F5 E5 D5 C5 (77 76 74 72)
    bar 2  voicing B3 D4 F4 G4 (59 62 65 67)  bass G2 A2 B2 D3 (43 45 47 50)  melody B4 A4 G4 A4 (71 69 67 69)
    bar 3  voicing B3 E4 G4 C5 (59 64 67 72)  bass C2 E2 G2 C3 (36 40 43 48)  melody E5 G5 E5 C5 (76 79 76 72)
    """
    voicings = [(53, 57, 60, 62), (59, 62, 65, 67), (59, 64, 67, 72)]
    basses = [(38, 40, 41, 45), (43, 45, 47, 50), (36, 40, 43, 48)]
    melodies = [(77, 76, 74, 72), (71, 69, 67, 69), (76, 79, 76, 72)]
    t, d, p = [], [], []
    for bar in range(3):
        for pitch in voicings[bar]:
            t.append(bar * 4 * Q), d.append(4 * Q), p.append(pitch)
        for beat in range(4):
            for line in (basses, melodies):
                t.append((bar * 4 + beat) * Q), d.append(Q), p.append(line[bar][beat])
    return piece_from_arrays(t, d, p, tpq=Q, bar_ticks=4 * Q)


def test_ii_v_i_reads_as_its_chords():
    """Each beat is a chord of the vocabulary (the bass's or the melody's ninth makes Dm9 and G9
    for a beat), the roots move D -> G -> C on the bar lines."""
    bc = H.beat_chords(ii_v_i())
    names = list(H.CHORDS)
    label = [f"{'C C# D D# E F F# G G# A A# B'.split()[H._ROOTS[c]]}{names[c % len(names)]}" for c in bc.chord]
    assert label == ["Dm7", "Dm9", "Dm7", "Dm7", "G7", "G9", "G7", "G9", "Cmaj7", "Cmaj7", "Cmaj7", "Cmaj7"]
    np.testing.assert_allclose(bc.fit, 1.0)


def test_ii_v_i_by_hand():
    p = ii_v_i()
    assert H.chord_fit(p) == 1.0
    assert H.bass_on_root(p) == 1.0  # D, G, C under the three chords
    assert H.chord_changes_on_strong_beats(p) == 1.0  # both changes on a bar line
    assert H.root_changes_per_bar(p) == 2 / 3  # D -> G -> C over three bars (Dm7 -> Dm9 is no change)
    # top voice 77 76 74 72 71 69 67 69 76 79 76 72 (the melody: G4 in bar 2 doubles the held G4
    # of the voicing, so it is on top at its own onset): moves 1 2 2 1 2 2 2 7 3 3 4
    assert H.top_voice(p).tolist() == [77, 76, 74, 72, 71, 69, 67, 69, 76, 79, 76, 72]
    assert H.melody_steps(p) == pytest.approx(7 / 11)
    assert H.melody_interval(p) == pytest.approx(29 / 11)
    # chords struck on the bar lines (voicing + bass + melody); upper voices = all but the bass:
    # {53 57 60 62 77} -> {59 62 65 67 71}: nearest moves 1 0 3 5 6 = 15/5
    # {59 62 65 67 71} -> {59 64 67 72 76}: 0 1 0 1 5 = 7/5
    assert H.voice_leading(p) == pytest.approx((15 / 5 + 7 / 5) / 2)


@pytest.mark.parametrize("seed", range(5))
def test_the_same_notes_scrambled(seed):
    """The pitches permuted among the notes (onsets and durations kept): every harmony and
    melody measure moves the way it claims to (a permutation that kept some beat a chord
    still lowers the mean fit), while texture stays exactly as it was."""
    p = ii_v_i()
    s = permuted_pitches(p, np.random.default_rng(seed))
    for name in ("chord_fit", "bass_on_root", "chord_changes_on_strong_beats", "melody_steps"):
        assert METRICS[name](s) < METRICS[name](p), name
    for name in ("onsets_per_beat", "notes_per_bar", "mean_duration", "longest_silence", "pitch_class_entropy"):
        assert METRICS[name](s) == METRICS[name](p), name


def test_scrambled_melody_leaps_and_voices_move_further_on_average():
    """Over 20 permutations the top voice leaps further and the voices move further (a single
    permutation can happen to land close)."""
    p = ii_v_i()
    scrambled = [permuted_pitches(p, np.random.default_rng(seed)) for seed in range(20)]
    for name in ("melody_interval", "voice_leading"):
        assert np.mean([METRICS[name](s) for s in scrambled]) > METRICS[name](p) + 0.5, name


def test_fit_counts_what_no_chord_explains():
    """C E F# G (a beat each, struck together): C7#11 (C E F# G Bb) holds all four, so the fit
    is 1.0. C D# E F# A: no template holds all five; Cdim7 (C D# F# A), D9 and others hold
    four: 4/5. Weighted by time: C C# D# F# A for the whole beat (12 ticks each) and E for its
    last 3 ticks: Cdim7 explains 48 of 63 ticks, and no template explains more."""
    fsharp = piece_from_arrays([0, 0, 0, 0], [Q] * 4, [60, 64, 67, 66], tpq=Q)
    assert H.chord_fit(fsharp) == 1.0
    cluster = piece_from_arrays([0] * 5, [Q] * 5, [60, 63, 64, 66, 69], tpq=Q)
    assert H.chord_fit(cluster) == pytest.approx(4 / 5)
    weighted = piece_from_arrays([0, 0, 0, 0, 0, 9], [Q, Q, Q, Q, Q, 3], [60, 63, 66, 69, 61, 64], tpq=Q)
    assert H.chord_fit(weighted) == pytest.approx(48 / 63)


def test_undefined_is_nan():
    line = piece_from_arrays([0, Q, 2 * Q], [Q] * 3, [60, 62, 64], tpq=Q)  # one pitch class per beat
    assert math.isnan(H.chord_fit(line)) and math.isnan(H.bass_on_root(line))
    assert math.isnan(H.chord_changes_on_strong_beats(line)) and math.isnan(H.voice_leading(line))
    assert math.isnan(H.root_changes_per_bar(line))
    assert H.melody_steps(line) == 1.0 and H.melody_interval(line) == 2.0
    one = piece_from_arrays([0], [Q], [60], tpq=Q)
    assert math.isnan(H.melody_steps(one)) and math.isnan(H.melody_interval(one))
    empty = piece_from_arrays([], [], [], tpq=Q)
    for name in H.HARMONY_METRICS:
        assert math.isnan(METRICS[name](empty)), name


def test_changes_on_weak_beats():
    """C major for two beats, then F major on beat 3 (strong) and G major on beat 4 (weak)."""
    t = [0] * 3 + [2 * Q] * 3 + [3 * Q] * 3
    p = [60, 64, 67] + [65, 69, 72] + [67, 71, 74]
    piece = piece_from_arrays(t, [2 * Q] * 3 + [Q] * 6, p, tpq=Q, bar_ticks=4 * Q)
    assert H.chord_changes_on_strong_beats(piece) == 0.5
    assert H.root_changes_per_bar(piece) == 2.0  # C -> F -> G in one bar
    assert H.bass_on_root(piece) == 1.0  # C, F, G: each chord's root is its lowest note
    # upper voices {64 67} -> {69 72}: 2 (from 67) and 5 -> 3.5; {69 72} -> {71 74}: 1 (from 72)
    # and 2 -> 1.5
    assert H.voice_leading(piece) == pytest.approx((3.5 + 1.5) / 2)


def test_a_revoiced_chord_is_no_change_of_root():
    """C E G A for a beat, then C E G B: the same C chord re-voiced (C6 -> Cmaj7; ties go to
    the lower root, so not Am7). The harmony's root stays, so no change; texture's
    ``chord_changes_per_bar`` reads templates by cosine (Am7, then Cmaj7) and counts one."""
    from rlmusic.music.texture import chord_changes_per_bar

    piece = piece_from_arrays([0] * 4 + [Q] * 4, [Q] * 8, [60, 64, 67, 69, 60, 64, 67, 71], tpq=Q, bar_ticks=4 * Q)
    names = list(H.CHORDS)
    assert [names[c % len(names)] for c in H.beat_chords(piece).chord] == ["6", "maj7"]
    assert H.root_changes_per_bar(piece) == 0.0
    assert chord_changes_per_bar(piece) == 1.0

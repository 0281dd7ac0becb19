"""Texture metrics on hand-made pieces with answers worked out by hand."""

import math

import pytest

from rlmusic.music import texture as T
from rlmusic.music.metrics import METRICS
from rlmusic.music.piece import piece_from_arrays


def swung_line():
    """Eight quarter-beat eighths at 12 ticks per beat: two swung (at 8/12), two straight (6/12)."""
    onsets = [0, 8, 12, 20, 24, 30, 36, 42]
    return piece_from_arrays(onsets, [4] * 8, list(range(60, 68)), tpq=12, bar_ticks=48)


def test_density_lengths_and_silence_by_hand():
    p = swung_line()  # ends at tick 46: 46/12 beats, one bar
    assert T.onsets_per_beat(p) == pytest.approx(8 / (46 / 12))
    assert T.notes_per_bar(p) == 8.0 and T.length_bars(p) == 1.0
    assert T.mean_duration(p) == pytest.approx(1 / 3) and T.median_duration(p) == pytest.approx(1 / 3)
    # sounding [0,4) [8,16) [20,28) [30,34) [36,40) [42,46): the longest gap is 4 ticks
    assert T.longest_silence(p) == pytest.approx(4 / 12)


def test_grid_and_swing_by_hand():
    p = swung_line()
    assert T.offgrid_onsets(p) == pytest.approx(2 / 8)  # the two swung eighths
    assert T.swing_ratio(p) == pytest.approx(2 / 4)
    straight = piece_from_arrays([0, 6, 12, 18], [6] * 4, [60] * 4, tpq=12)
    assert T.offgrid_onsets(straight) == 0.0 and T.swing_ratio(straight) == 0.0
    quarters = piece_from_arrays([0, 12], [12, 12], [60, 62], tpq=12)
    assert math.isnan(T.swing_ratio(quarters))  # no off-beat eighths at all
    triplets = piece_from_arrays([0, 4, 8], [4] * 3, [60, 62, 64], tpq=12)
    assert T.offgrid_onsets(triplets) == pytest.approx(2 / 3)  # 4/12 and 8/12 (late, so also "swung")
    assert T.swing_ratio(triplets) == 1.0


def test_a_loose_performance_still_lands_on_the_grid():
    p = piece_from_arrays([1, 97, 200], [10] * 3, [60, 62, 64], tpq=192)  # 1/192 early/late
    assert T.offgrid_onsets(p) == 0.0  # 1/192 and 97/192 are within 1/24 beat of 0 and 1/2
    assert T.swing_ratio(p) == 0.0


def test_bass_activity_walking_vs_held():
    walking = piece_from_arrays([0, 4, 8, 12, 0, 0, 0, 2, 6], [4, 4, 4, 4, 16, 16, 16, 2, 2],
                                [36, 38, 40, 41, 60, 64, 67, 72, 72], tpq=4)
    # onsets 0 2 4 6 8 12 over 4 beats; the bass is the lowest sounding note at 0 4 8 12 only
    assert T.onsets_per_beat(walking) == pytest.approx(6 / 4)
    assert T.bass_onsets_per_beat(walking) == pytest.approx(4 / 4)
    held = piece_from_arrays([0, 0, 4, 8, 12], [16, 4, 4, 4, 4], [36, 60, 62, 64, 65], tpq=4)
    assert T.bass_onsets_per_beat(held) == pytest.approx(1 / 4)  # only the held bass note's strike
    assert T.onsets_per_beat(held) == pytest.approx(4 / 4)


def test_chord_changes_by_hand():
    c, f, g7 = [60, 64, 67], [65, 69, 72], [67, 71, 74, 77]
    # C for two beats, F for two, then a bar of G7: C C F F G7 G7 G7 G7 over two bars
    p = piece_from_arrays([0] * 3 + [8] * 3 + [16] * 4, [8] * 6 + [16] * 4, c + f + g7, tpq=4)
    names = [list(T.CHORD_TEMPLATES)[i % len(T.CHORD_TEMPLATES)] for i in T.beat_chords(p)]
    assert names == ["maj", "maj", "maj", "maj", "7", "7", "7", "7"]
    assert [i // len(T.CHORD_TEMPLATES) for i in T.beat_chords(p)] == [0, 0, 5, 5, 7, 7, 7, 7]
    assert T.chord_changes_per_bar(p) == pytest.approx(2 / 2)
    assert T.notes_per_bar(p) == pytest.approx(10 / 2) and T.length_bars(p) == 2.0
    # a beat with one pitch class has no harmonic evidence and does not break the chord
    q = piece_from_arrays([0] * 3 + [8] + [12] * 3, [8, 8, 8, 4, 4, 4, 4], c + [60] + c, tpq=4)
    assert T.beat_chords(q).tolist()[2] == -1
    assert T.chord_changes_per_bar(q) == 0.0


def test_texture_metrics_are_registered_and_nan_when_undefined():
    assert set(T.TEXTURE_METRICS) <= set(METRICS)
    empty = piece_from_arrays([], [], [], tpq=4)
    drums = piece_from_arrays([0, 4], [2, 2], [36, 38], is_drum=[True, True], tpq=4)
    for name, fn in {**T.TEXTURE_METRICS, "length_bars": T.length_bars}.items():
        assert math.isnan(fn(empty)) and math.isnan(fn(drums)), name


def test_length_in_bars_counts_every_bar_touched():
    whole = piece_from_arrays([0, 40], [8, 8], [60, 62], tpq=12, bar_ticks=48)  # ends on the bar line
    assert T.length_bars(whole) == 1.0
    past = piece_from_arrays([0, 40], [8, 9], [60, 62], tpq=12, bar_ticks=48)  # one tick into bar 2
    assert T.length_bars(past) == 2.0
    waltz = piece_from_arrays([0, 100], [10, 44], [60, 62], tpq=12, bar_ticks=36)  # 3/4, ends at 144
    assert T.length_bars(waltz) == 4.0


def test_drums_are_ignored():
    notes = piece_from_arrays([0, 4], [4, 4], [60, 62], tpq=4)
    with_drums = piece_from_arrays([0, 4, 1, 3], [4, 4, 1, 1], [60, 62, 36, 38], is_drum=[False, False, True, True], tpq=4)
    for name, fn in T.TEXTURE_METRICS.items():
        a, b = fn(notes), fn(with_drums)
        assert (math.isnan(a) and math.isnan(b)) or a == b, name

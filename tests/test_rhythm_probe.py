"""The rhythm probe's changes do what scripts/rhythm_probe.py says, on a hand-made piece."""

import importlib.util
from pathlib import Path

import numpy as np

from rlmusic.music.metrics import METRICS
from rlmusic.music.piece import piece_from_arrays

_spec = importlib.util.spec_from_file_location("rhythm_probe", Path(__file__).parents[1] / "scripts" / "rhythm_probe.py")
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)

TPQ = 12
# Two beats: a bass C2 held a whole beat under a swung melody (on the beat and at 2/3), then a
# bass G2 held half a beat (too short to be struck again) under one melody note.
PIECE = piece_from_arrays(time=[0, 0, 8, 12, 12], duration=[12, 6, 4, 6, 12], pitch=[36, 72, 74, 43, 76], tpq=TPQ)


def test_straightened_moves_swung_onsets_to_the_half_beat_and_keeps_the_rest():
    p = probe.straightened(PIECE)
    assert sorted(p.time.tolist()) == [0, 0, 6, 12, 12]
    assert sorted(p.pitch.tolist()) == sorted(PIECE.pitch.tolist())
    assert METRICS["swing_ratio"](PIECE) == 1.0 and METRICS["swing_ratio"](p) == 0.0


def test_shortened_keeps_onsets_and_cuts_every_duration_by_30_percent():
    p = probe.shortened(PIECE)
    assert p.time.tolist() == PIECE.time.tolist()
    assert p.duration.tolist() == [8, 4, 2, 4, 8]  # int(0.7 * d) in onset-then-pitch order


def test_bass_restruck_strikes_a_held_bass_again_on_the_off_beat_only():
    p = probe.bass_restruck(PIECE)
    assert len(p.time) == len(PIECE.time) + 1
    extra = [(t, d, q) for t, d, q in zip(p.time.tolist(), p.duration.tolist(), p.pitch.tolist()) if t == 8 and q == 36]
    assert extra == [(8, TPQ // 3, 36)]
    assert np.array_equal(np.sort(p.pitch), np.sort(np.append(PIECE.pitch, 36)))

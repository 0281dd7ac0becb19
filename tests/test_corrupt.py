"""The corruptions keep what they claim to keep, and destroy what they claim to destroy."""

import numpy as np
import pytest

from rlmusic.music import corrupt as C
from rlmusic.music.piece import piece_from_arrays, piece_from_score
from tests.test_harmony import Q, ii_v_i


def random_piece(seed: int, bars: int = 4):
    rng = np.random.default_rng(seed)
    n = 40
    t = np.sort(rng.integers(0, bars * 4 * Q, n))
    return piece_from_arrays(t, rng.integers(1, 2 * Q, n), rng.integers(36, 90, n), tpq=Q, bar_ticks=4 * Q)


def multiset(*arrays):
    return sorted(zip(*(a.tolist() for a in arrays)))


@pytest.mark.parametrize("seed", range(4))
def test_permuted_pitches_keeps_rhythm_and_pitch_histogram(seed):
    p = ii_v_i()
    s = C.permuted_pitches(p, np.random.default_rng(seed))
    assert len(s.time) == len(p.time)
    assert multiset(s.time, s.duration) == multiset(p.time, p.duration)  # same notes' timing
    assert sorted(s.pitch.tolist()) == sorted(p.pitch.tolist())  # same pitches
    assert multiset(s.time, s.pitch) != multiset(p.time, p.pitch)  # but not on the same onsets


@pytest.mark.parametrize("seed", range(4))
def test_shuffled_onsets_keep_each_bars_onsets_and_the_pitches(seed):
    p = random_piece(seed)
    s = C.shuffled_onsets(p, np.random.default_rng(seed))
    assert len(s.time) == len(p.time)
    assert multiset(s.pitch, s.duration) == multiset(p.pitch, p.duration)  # each note keeps its length
    for bar in range(4):  # each bar has the same onset times, and the same pitches
        a, b = p.time // p.bar_ticks == bar, s.time // s.bar_ticks == bar
        assert sorted(p.time[a].tolist()) == sorted(s.time[b].tolist())
        assert sorted(p.pitch[a].tolist()) == sorted(s.pitch[b].tolist())
    assert s.pitch.tolist() != p.pitch.tolist()  # the order of the line changed


@pytest.mark.parametrize("seed", range(4))
def test_transposed_voices_move_one_register_by_a_non_octave(seed):
    p = random_piece(seed)
    s = C.transposed_voices(p, np.random.default_rng(seed))
    assert multiset(s.time, s.duration) == multiset(p.time, p.duration)
    moved = s.pitch != p.pitch  # (same order: transposition keeps onsets, ties broken by pitch)
    order_p, order_s = np.lexsort((p.pitch, p.time)), np.lexsort((s.pitch, s.time))
    assert len(order_p) == len(order_s)
    shifts = {int(d) % 12 for d in (np.sort(s.pitch) - np.sort(p.pitch)) if d}
    assert moved.any() and 0 not in shifts
    median = np.median(p.pitch)
    # every note on one side of the median moved by the same interval modulo the octave
    for side in (p.pitch > median, p.pitch <= median):
        diffs = {int(d) % 12 for d in _matched_shift(p, s, side)}
        assert len(diffs) == 1
    assert (s.pitch >= C.PITCH_LOW).all() and (s.pitch <= C.PITCH_HIGH).all()


def _matched_shift(p, s, side):
    """Pitch differences of the notes of ``side`` of p, matched to s note by note by (time, duration)."""
    key_s = {}
    for t, d, x in zip(s.time.tolist(), s.duration.tolist(), s.pitch.tolist()):
        key_s.setdefault((t, d), []).append(x)
    out = []
    for t, d, x in zip(p.time[side].tolist(), p.duration[side].tolist(), p.pitch[side].tolist()):
        cands = key_s[(t, d)]
        out.append(min((c - x for c in cands), key=lambda v: (v % 12 != 0, abs(v))))
    return out


def test_spliced_bars_are_real_bars_in_new_keys():
    pieces = [ii_v_i(), random_piece(1), random_piece(2)]
    s = C.spliced_bars(pieces[0], np.random.default_rng(0), pieces)
    assert -(-s.end // s.bar_ticks) <= 3 + 1 and s.bar_ticks == pieces[0].bar_ticks
    sources = [_bars(p) for p in pieces]
    for bar in _bars(s):  # each bar is a bar of some piece, transposed as a whole
        assert any(_same_up_to_transposition(bar, b) for src in sources for b in src)


def _bars(p):
    out = []
    for bar in np.unique(p.time // p.bar_ticks):
        m = p.time // p.bar_ticks == bar
        out.append(sorted(zip((p.time[m] % p.bar_ticks).tolist(), p.duration[m].tolist(), p.pitch[m].tolist())))
    return out


def _same_up_to_transposition(a, b):
    if len(a) != len(b) or [x[:2] for x in a] != [x[:2] for x in b]:
        return False
    return len({x[2] - y[2] for x, y in zip(a, b)}) == 1


def test_score_round_trip():
    p = ii_v_i()
    back = piece_from_score(C.score_from_piece(p))
    assert multiset(back.time, back.duration, back.pitch) == multiset(p.time, p.duration, p.pitch)
    assert back.bar_ticks == p.bar_ticks and back.tpq == p.tpq


def _beats(p):
    """Each beat's notes up to the last onset, as (onset within the beat, duration, pitch) lists."""
    last = int(p.time.max() // p.tpq)
    return [sorted(zip((p.time[m] % p.tpq).tolist(), p.duration[m].tolist(), p.pitch[m].tolist()))
            for m in (p.time // p.tpq == b for b in range(last + 1))]


@pytest.mark.parametrize("seed", range(4))
def test_shuffled_beats_are_the_pieces_own_beats_in_a_new_order(seed):
    p = ii_v_i()  # 12 beats: the voicing struck on each bar's first beat, bass and melody on every beat
    s = C.shuffled_beats(p, np.random.default_rng(seed))
    src, out = _beats(p), _beats(s)
    assert len(out) <= len(src) == 12
    assert all(beat in src for beat in out)  # every beat is one of the piece's own, untransposed
    assert out != src  # but not in the piece's order
    assert s.bar_ticks == p.bar_ticks and s.tpq == p.tpq


def test_check_kinds_names_the_setting_and_the_choices():
    C.check_kinds(["shuffled_beats", "permuted_pitches"], "clf.scrambled_kinds")
    with pytest.raises(C.RLMusicError, match=r"^clf.scrambled_kinds: shuffled_bar is not a corruption; choose from "
                                             r"permuted_pitches, shuffled_onsets, spliced_bars, shuffled_beats, "
                                             r"transposed_voices$"):
        C.check_kinds(["shuffled_bar"], "clf.scrambled_kinds")
    with pytest.raises(C.RLMusicError, match=r"^clf.scrambled_kinds is empty; name at least one of permuted_pitches"):
        C.check_kinds([], "clf.scrambled_kinds")

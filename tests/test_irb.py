"""The iRb jazz standards: chord symbols to MMA, forms to chart lines, real tunes rendered."""

from pathlib import Path

import pytest

from rlmusic.data.irb import irb_path, load_tunes, mma_chord, tune_split, tunes_from_json
from rlmusic.errors import RLMusicError

CHART = {"charts": [{
    "sections": ["A", "B", "A"],
    "content": {"A": [{"chord": "Gmin7", "duration": {"beats": 2, "subunits": []}},
                      {"chord": "C7b9", "duration": {"beats": 1, "subunits": ["eighth"]}},  # anticipation
                      {"chord": "Fmaj7", "duration": {"beats": 4, "subunits": ["eighth"]}}],
                "B": [{"chord": "Aø7/Eb", "duration": {"beats": 4, "subunits": []}},
                      {"chord": "D7;", "duration": {"beats": 4, "subunits": []}}]},
    "info": {"title": "Test Tune", "composer": "Nobody", "key": "F", "time": [4, 4]}}]}


@pytest.mark.parametrize("symbol, mma", [
    ("Gmin7", "Gm7"), ("Aø7", "Am7b5"), ("Bbo7", "Bbdim7"), ("C7b9/E", "C7b9/E"), ("F#min", "F#m"),
    ("Eb^9", "EbM9"), ("D7alt", "D7alt"), ("Cminb6", "Cm#5"), ("Bb7;", "Bb7"), ("G", "G"), ("/Db;", None),
])
def test_chord_symbols_to_mma(symbol, mma):
    assert mma_chord(symbol) == mma


def test_an_unknown_quality_is_a_clear_error():
    with pytest.raises(RLMusicError, match="has no MMA name"):
        mma_chord("Cweird13")


def test_form_played_through_with_chords_on_their_beats():
    (tune,) = tunes_from_json(CHART)
    assert tune.beats == 8 + 8 + 8 and tune.beats_per_bar == 4
    # A: Gm7 on beat 1, C7b9 on beat 3, Fmaj7 struck an eighth early (beat 3.5) lands on bar 2's first beat
    assert tune.bars() == ["Gm7 / C7b9 /", "Fmaj7 / / /", "Am7b5/Eb / / /", "D7 / / /",
                           "Gm7 / C7b9 /", "Fmaj7 / / /"]


def test_whole_tunes_go_to_one_split():
    assert tune_split("Test Tune") == tune_split("Test Tune")
    splits = {tune_split(f"tune {i}") for i in range(50)}
    assert splits == {"train", "test"}


def _fetched() -> Path | None:
    from rlmusic.config.sections import DataConfig
    from rlmusic.data.corpus import cache_root

    for root in (cache_root(DataConfig()), Path.home() / ".cache" / "rlmusic"):
        if irb_path(root).is_file():
            return root
    return None


@pytest.mark.skipif(_fetched() is None, reason="the iRb corpus is not fetched (scripts/setup.sh runs `rlmusic data irb`)")
def test_the_real_corpus_converts_and_renders(tmp_path):
    from rlmusic.data.jazz_data import build_jazz_set, read_manifest
    from rlmusic.data.midi_io import load_score

    tunes = load_tunes(_fetched())
    assert len(tunes) == 1185 and sum(len(t.chords) for t in tunes) == 54468
    assert sum(t.beats_per_bar in (3, 4) for t in tunes) == 1178
    picked = [t for t in tunes if t.beats_per_bar == 4][:2] + [t for t in tunes if t.beats_per_bar == 3][:1]
    folder = build_jazz_set(tmp_path / "s", per_style={}, tunes=[("train", 1, t) for t in picked] + [("train", 0, picked[0])],
                            workers=1, progress=False)
    m = read_manifest(folder)
    assert not m["failed"] and len(m["pieces"]) == 4
    for p in m["pieces"]:
        tune = next(t for t in picked if t.title == p["tune"])
        assert p["bars"] == len(tune.bars())
        score = load_score(folder / p["file"])
        bar = score.ticks_per_quarter * tune.beats_per_bar
        assert score.time_signatures[0].numerator == tune.beats_per_bar
        assert abs(score.end() / bar - len(tune.bars())) <= 1.5  # the whole form is rendered

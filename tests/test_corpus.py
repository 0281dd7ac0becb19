import shutil
import time

import numpy as np
import pytest
from symusic import Note, Score, Track

from rlmusic.config.sections import DataConfig, TokenizerConfig
from rlmusic.data.batches import WindowSampler, eval_windows
from rlmusic.data.corpus import prepare_corpus
from rlmusic.data.embedded import split_abc_tunes
from rlmusic.data.midi_io import BadMidi, find_midi_files, load_score
from rlmusic.data.tokens import build_tokenizer, pitch_of_ids, special_ids, transpose_table
from rlmusic.errors import RLMusicError


def _write(path, tracks, tpq=480):
    s = Score(tpq)
    for notes, drum, program in tracks:
        t = Track(name="t", program=program, is_drum=drum)
        for start, dur, pitch in notes:
            t.notes.append(Note(start, dur, pitch, 90))
        s.tracks.append(t)
    s.dump_midi(str(path))


@pytest.fixture()
def mixed_folder(tmp_path, folk_dir):
    d = tmp_path / "midi"
    (d / "sub").mkdir(parents=True)
    for f in find_midi_files(folk_dir)[:6]:
        shutil.copy(f, d / "sub" / f.name)
    (d / "garbage.mid").write_bytes(np.random.default_rng(0).bytes(300))
    (d / "empty.midi").write_bytes(b"")
    (d / "truncated.mid").write_bytes(find_midi_files(folk_dir)[0].read_bytes()[:40])
    _write(d / "drums.mid", [([(0, 240, 36), (240, 240, 38)], True, 0)])
    (d / "notes.txt").write_text("not midi, and not a .mid name either")
    return d


def test_folder_corpus_skips_and_names_bad_files(mixed_folder, cache_dir):
    cfg = DataConfig(data=str(mixed_folder), workers=1, cache_dir=str(cache_dir), val_fraction=0.2)
    tok, corpus = prepare_corpus(cfg, TokenizerConfig(), progress=False)
    assert len(corpus) == 6
    skipped = dict(corpus.meta["skipped"])
    assert set(skipped) == {"garbage", "empty", "truncated", "drums"}
    assert skipped["empty"] == "empty file"
    assert "drums only" in skipped["drums"]
    assert corpus.meta["files"] == 10  # .mid and .midi, recursively; the .txt is not a MIDI file
    assert corpus.ids.max() < len(tok)
    assert corpus.is_val.sum() >= 1 and (~corpus.is_val).sum() >= 1


def test_corpus_is_cached(mixed_folder, cache_dir):
    cfg = DataConfig(data=str(mixed_folder), workers=1, cache_dir=str(cache_dir))
    _, first = prepare_corpus(cfg, TokenizerConfig(), progress=False)
    t0 = time.perf_counter()
    _, second = prepare_corpus(cfg, TokenizerConfig(), progress=False)
    assert second.meta["cache"] == first.meta["cache"] and time.perf_counter() - t0 < 5
    # Another tokenizer config is another cache entry.
    _, tsd = prepare_corpus(cfg, TokenizerConfig(kind="TSD"), progress=False)
    assert tsd.meta["cache"] != first.meta["cache"]


def test_folder_with_no_usable_file_is_an_error(tmp_path, cache_dir):
    (tmp_path / "a.mid").write_bytes(b"MThd garbage")
    cfg = DataConfig(data=str(tmp_path), workers=1, cache_dir=str(cache_dir))
    with pytest.raises(RLMusicError, match="none of the 1 MIDI file"):
        prepare_corpus(cfg, TokenizerConfig(), progress=False)
    (tmp_path / "sub").mkdir()
    with pytest.raises(RLMusicError, match="no .mid/.midi files"):
        prepare_corpus(DataConfig(data=str(tmp_path / "sub"), cache_dir=str(cache_dir)), TokenizerConfig(), progress=False)
    with pytest.raises(RLMusicError, match="does not exist"):
        prepare_corpus(DataConfig(data=str(tmp_path / "nope"), cache_dir=str(cache_dir)), TokenizerConfig(), progress=False)


def test_drums_dropped_tracks_merged_and_program_selected(tmp_path):
    path = tmp_path / "band.mid"
    _write(path, [([(0, 480, 60)], False, 0), ([(240, 480, 48)], False, 33), ([(0, 120, 36)], True, 0)])
    merged = load_score(path)
    assert len(merged.tracks) == 1
    assert merged.tracks[0].notes.numpy()["pitch"].tolist() == [60, 48]
    bass = load_score(path, program=33)
    assert bass.tracks[0].notes.numpy()["pitch"].tolist() == [48]
    with pytest.raises(BadMidi, match="no notes with program 5"):
        load_score(path, program=5)


def test_absurd_length_is_cut(tmp_path):
    path = tmp_path / "far.mid"
    _write(path, [([(0, 480, 60), (200_000_000, 480, 62)], False, 0)])  # MIDI deltas stop at 2**28 - 1
    score = load_score(path)
    assert score.tracks[0].notes.numpy()["pitch"].tolist() == [60]


def test_split_abc_tunes_strips_chord_symbols():
    text = 'X:1\nT:A\nK:G\n"G"GAB "D7"c2|\n\nX:2\nT:B\nK:D\nDEF|\n'
    tunes = split_abc_tunes(text)
    assert [r for r, _ in tunes] == ["1", "2"]
    assert '"' not in tunes[0][1] and "GAB c2|" in tunes[0][1]


def test_windows_are_deterministic_and_transposed_consistently():
    tok = build_tokenizer(TokenizerConfig())
    v = tok.vocab
    piece = [v["Bar_None"], v["Position_0"], v["Pitch_60"], v["Duration_1.0.12"], v["Position_12"],
             v["Pitch_64"], v["Duration_1.0.12"]] * 20
    sp = special_ids(tok)
    stream = np.array([sp["bos"]] + piece + [sp["eos"]])
    plain = WindowSampler(stream, 32, 8, seed=1)
    aug = WindowSampler(stream, 32, 8, seed=1, transpose=transpose_table(tok, 5), pitch_of_id=pitch_of_ids(tok))
    a, b = aug.batch(7), plain.batch(7)
    assert a.shape == (8, 33) and a.dtype.is_floating_point is False
    assert (aug.batch(7) == a).all() and not (aug.batch(8) == a).all()
    pitches = pitch_of_ids(tok)
    for row_a, row_b in zip(a.numpy(), b.numpy()):
        is_pitch = pitches[row_b] >= 0
        assert (row_a[~is_pitch] == row_b[~is_pitch]).all()
        shifts = set((pitches[row_a[is_pitch]] - pitches[row_b[is_pitch]]).tolist())
        assert len(shifts) == 1 and abs(shifts.pop()) <= 5
    windows = list(eval_windows(stream, 32, 4, max_windows=3))
    assert sum(len(w) for w in windows) == 3 and (windows[0][0, :33].numpy() == stream[:33]).all()


def test_oversample_repeats_the_named_pieces_in_the_stream():
    """``pretrain.oversample``: a piece whose name starts with a prefix enters the stream that many
    times (where prefixes overlap, the largest count); a prefix that names nothing is an error."""
    from rlmusic.config.sections import PretrainConfig
    from rlmusic.data.corpus import Corpus

    pieces = {"folk/a": [5, 6], "mma/jazz/b": [7], "mma/pop/c": [8, 9, 10], "folk/d": [11]}
    ids = np.concatenate([np.array(p) for p in pieces.values()])
    corpus = Corpus(ids=ids, offsets=np.cumsum([0] + [len(p) for p in pieces.values()]), names=list(pieces),
                    is_val=np.array([False, False, False, True]))
    bos, eos = 1, 2
    assert corpus.stream("train", bos, eos).tolist() == [1, 5, 6, 2, 1, 7, 2, 1, 8, 9, 10, 2]
    twice = corpus.stream("train", bos, eos, {"mma/": 2, "mma/jazz/": 3})
    assert twice.tolist() == [1, 5, 6, 2] + [1, 7, 2] * 3 + [1, 8, 9, 10, 2] * 2
    corpus.check_prefixes({"mma/": 2}, "train", "pretrain.oversample")
    with pytest.raises(RLMusicError, match="no train piece's name starts with 'jazz/'.*'folk/a'"):
        corpus.check_prefixes({"jazz/": 2}, "train", "pretrain.oversample")
    for bad in (0, 1.5, True):
        with pytest.raises(RLMusicError, match="pretrain.oversample.mma/ must be a whole number"):
            PretrainConfig(oversample={"mma/": bad}).validate()

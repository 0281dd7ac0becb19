"""Malformed MIDI through every entry point that reads MIDI: skipped with a reason or read safely,
never a crash; plus a bounded fuzz test of loading and decoding."""

import math

import numpy as np
from bad_midi import write_bad_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlmusic.cli import main
from rlmusic.config.sections import DataConfig, TokenizerConfig
from rlmusic.data.corpus import prepare_corpus
from rlmusic.data.midi_io import BadMidi, find_midi_files, load_score
from rlmusic.data.tokens import build_tokenizer, decode_ids, encode_score
from rlmusic.evaluate.metrics_command import column_from_folder


def test_every_bad_file_is_skipped_or_read_safely(tmp_path, folk_dir):
    cases = write_bad_folder(tmp_path / "bad", good=find_midi_files(folk_dir)[0])
    tok = build_tokenizer(TokenizerConfig())
    outcome = {}
    for f in find_midi_files(tmp_path / "bad"):
        try:
            score = load_score(f)
            ids = encode_score(tok, score)
            outcome[f.name] = f"ok, {len(ids)} tokens"
        except BadMidi as e:
            outcome[f.name] = f"skipped: {e}"
    assert outcome["good.mid"].startswith("ok")
    for name in ("empty.mid", "random_bytes.mid", "truncated.mid", "header_only.mid", "no_tracks.mid",
                 "tpq_zero.mid", "wav_renamed.mid", "text_renamed.midi", "drums_only.mid"):
        assert outcome[name].startswith("skipped"), (name, outcome[name])
    assert "ticks per quarter is 0" in outcome["tpq_zero.mid"]
    assert "drums only" in outcome["drums_only.mid"]
    assert int(outcome["5000_simultaneous.mid"].split()[1]) < 400  # duplicates merged, one chord
    assert set(outcome) == set(cases) | {"good.mid"}


def test_corpus_and_metrics_entry_points_skip_and_list(tmp_path, folk_dir, cache_dir):
    write_bad_folder(tmp_path / "bad", good=find_midi_files(folk_dir)[0])
    tok, corpus = prepare_corpus(DataConfig(data=str(tmp_path / "bad"), workers=1, cache_dir=str(cache_dir)),
                                 TokenizerConfig(), progress=False)
    skipped = dict(corpus.meta["skipped"])
    assert "good" in corpus.names and "empty" in skipped and "tpq_zero" in skipped
    assert int(np.diff(corpus.offsets).max()) <= DataConfig().max_tokens_per_piece
    col = column_from_folder(tmp_path / "bad")
    assert {name for name, _ in col.skipped} >= {"empty.mid", "random_bytes.mid", "header_only.mid"}


def test_folder_of_only_bad_files_is_a_clear_error(tmp_path, capsys):
    write_bad_folder(tmp_path / "bad")
    for name in ("far_note.mid", "zero_length.mid", "5000_simultaneous.mid", "data_byte_over_127.mid"):
        (tmp_path / "bad" / name).unlink()  # these are readable; keep only the unusable ones
    assert main(["prepare", "--data", str(tmp_path / "bad"), "data.workers=1"]) == 2
    assert "none of the" in capsys.readouterr().err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), prefix=st.sampled_from([b"", b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk"]))
def test_fuzz_loading(tmp_path, data, prefix):
    path = tmp_path / "fuzz.mid"
    path.write_bytes(prefix + data)
    try:
        score = load_score(path)
    except BadMidi:
        return
    assert score.ticks_per_quarter > 0 and len(score.tracks) == 1


TOK = build_tokenizer(TokenizerConfig())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=len(TOK) + 3), max_size=300))
def test_fuzz_decoding(ids):
    score, report = decode_ids(TOK, ids)
    assert 0 <= report.n_dropped <= max(report.n_tokens, 1) and report.n_tokens == len(ids)
    assert report.n_notes == sum(len(t.notes) for t in score.tracks)
    assert not math.isnan(report.dropped_fraction)


def test_slow_reading_is_cut_by_the_time_limit(monkeypatch, tmp_path, folk_dir):
    import time as _time

    import rlmusic.data.midi_io as mio
    from rlmusic.data.midi_io import time_limit

    with __import__("pytest").raises(BadMidi, match="took longer than 0.2s"):
        with time_limit(0.2):
            _time.sleep(2)
    # a hanging parser inside a folder read: the file is skipped, the rest read
    real = mio.load_score

    def hang_on_one(path, *a, **k):
        if str(path).endswith("slow.mid"):
            _time.sleep(5)
        return real(path, *a, **k)

    folder = tmp_path / "f"
    folder.mkdir()
    for f in find_midi_files(folk_dir)[:2]:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "slow.mid").write_bytes(find_midi_files(folk_dir)[0].read_bytes())
    import rlmusic.evaluate.metrics_command as ev

    monkeypatch.setattr(ev, "load_score", hang_on_one)
    monkeypatch.setattr(mio, "TIME_LIMIT", 0.5)
    monkeypatch.setattr(ev, "time_limit", lambda: time_limit(0.5))
    col = column_from_folder(folder)
    assert len(col.pieces) == 2 and col.skipped == [("slow.mid", "took longer than 0.5s to read")]


def test_oversized_file_is_skipped(tmp_path, monkeypatch):
    import rlmusic.data.midi_io as mio

    monkeypatch.setattr(mio, "MAX_BYTES", 10)
    path = tmp_path / "big.mid"
    path.write_bytes(b"MThd" + bytes(100))
    with __import__("pytest").raises(BadMidi, match="over the 0 MB limit"):
        load_score(path)

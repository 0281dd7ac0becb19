import numpy as np
import pytest
from transformers import AutoTokenizer

from rlmusic.config.sections import TokenizerConfig
from rlmusic.data.midi_io import find_midi_files, load_score
from rlmusic.data.tokens import (
    build_tokenizer,
    decode_ids,
    encode_score,
    hf_tokenizer,
    load_miditok,
    pitch_of_ids,
    save_tokenizers,
    special_ids,
    tokenizer_fingerprint,
    transpose_table,
)


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(TokenizerConfig())


def _notes(score):
    a = score.tracks[0].notes.numpy()
    return a["time"] / score.ticks_per_quarter, a["pitch"]


def test_vocabulary_has_slash_two_meters_and_triplet_grid(tok):
    vocab = set(tok.vocab)
    assert {"TimeSig_4/4", "TimeSig_8/4", "TimeSig_6/8", "TimeSig_12/8"} <= vocab
    assert "Position_4" in vocab and "Position_47" in vocab  # 12 positions per beat in 4/4


def test_round_trip_on_real_folk_tunes(tok, folk_dir):
    files = find_midi_files(folk_dir)[:40]
    matched = total = 0
    for f in files:
        score = load_score(f)
        ids = encode_score(tok, score)
        decoded, report = decode_ids(tok, ids)
        assert report.n_dropped == 0 and report.error == ""
        # Decoding then encoding again gives the very same ids.
        assert encode_score(tok, decoded) == ids
        # Onsets on the 12-per-beat grid and pitches survive.
        t0, p0 = _notes(score)
        t1, p1 = _notes(decoded)
        orig = set(zip(np.round(t0 * 12).astype(int).tolist(), p0.tolist()))
        back = set(zip(np.round(t1 * 12).astype(int).tolist(), p1.tolist()))
        matched += len(orig & back)
        total += len(orig)
    assert matched / total > 0.995  # grace notes shorter than 1/12 beat may move


def test_round_trip_on_bach_chorales_keeps_every_distinct_note(tok, bach_dir):
    for f in find_midi_files(bach_dir):
        score = load_score(f)
        ids = encode_score(tok, score)
        decoded, _ = decode_ids(tok, ids)
        t0, p0 = _notes(score)
        t1, p1 = _notes(decoded)
        # Unison doublings between voices are merged (remove_duplicated_notes), nothing else lost.
        assert set(zip((t0 * 12).round(), p0)) == set(zip((t1 * 12).round(), p1))


def test_half_note_meters_keep_their_bar_length(tmp_path, tok):
    from symusic import Note, Score, TimeSignature, Track

    s = Score(480)
    s.time_signatures.append(TimeSignature(0, 4, 2))  # 4/2: eight quarters a bar
    t = Track(name="x", program=0, is_drum=False)
    for i in range(16):  # sixteenth notes, which a 6-per-quarter grid would move
        t.notes.append(Note(i * 120, 120, 60 + i % 5, 80))
    t.notes.append(Note(8 * 480, 480, 72, 80))  # first note of bar 2
    s.tracks.append(t)
    s.dump_midi(str(tmp_path / "half.mid"))
    score = load_score(tmp_path / "half.mid")
    ids = encode_score(tok, score)
    tokens = [tok[i] for i in ids]
    assert tokens.count("Bar_None") == 2 and tokens[1] == "TimeSig_8/4"
    decoded, _ = decode_ids(tok, ids)
    tpq = decoded.ticks_per_quarter
    assert decoded.tracks[0].notes.numpy()["time"].tolist() == [i * tpq // 4 for i in range(16)] + [8 * tpq]


def test_hf_tokenizer_gives_identical_ids_and_round_trips(tok, folk_dir, tmp_path):
    ids = encode_score(tok, load_score(find_midi_files(folk_dir)[0]))
    text = " ".join(tok[i] for i in ids)
    hf = hf_tokenizer(tok)
    assert hf(text)["input_ids"] == ids
    sp = special_ids(tok)
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (sp["bos"], sp["eos"], sp["pad"])
    save_tokenizers(tok, tmp_path)
    assert AutoTokenizer.from_pretrained(str(tmp_path))(text)["input_ids"] == ids
    again = load_miditok(tmp_path)
    assert tokenizer_fingerprint(again) == tokenizer_fingerprint(tok)
    assert encode_score(again, load_score(find_midi_files(folk_dir)[0])) == ids


def test_tsd_tokenizer_round_trips(folk_dir):
    tsd = build_tokenizer(TokenizerConfig(kind="TSD"))
    score = load_score(find_midi_files(folk_dir)[1])
    ids = encode_score(tsd, score)
    decoded, report = decode_ids(tsd, ids)
    assert report.n_dropped == 0 and encode_score(tsd, decoded) == ids


def test_decode_never_raises_on_garbage(tok):
    rng = np.random.default_rng(0)
    for _ in range(50):
        ids = rng.integers(-5, len(tok) + 5, size=rng.integers(0, 300))
        score, report = decode_ids(tok, ids)
        assert report.n_tokens == len(ids)
        assert 0 <= report.n_dropped <= len(ids)
        assert report.n_notes == sum(len(t.notes) for t in score.tracks)


def test_decode_drops_orphans_and_stops_at_eos(tok):
    v = tok.vocab
    ids = [v["BOS_None"], v["Bar_None"], v["Position_0"], v["Pitch_60"], v["Duration_1.0.12"],
           v["Pitch_62"],  # no duration: dropped
           v["Position_12"], v["Duration_1.0.12"],  # lone duration: dropped
           v["EOS_None"], v["Pitch_64"], v["Duration_1.0.12"]]  # after EOS: ignored
    score, report = decode_ids(tok, ids)
    notes = score.tracks[0].notes.numpy()
    assert notes["pitch"].tolist() == [60]
    assert report.n_notes == 1 and report.n_dropped == len(ids) - 5  # kept: Bar, Position_0, Pitch, Duration, Position_12


def test_transpose_table_shifts_pitches_only(tok):
    table = transpose_table(tok, 3)
    pitches = pitch_of_ids(tok)
    v = tok.vocab
    assert table[3 + 2][v["Pitch_60"]] == v["Pitch_62"]
    assert table[3 - 3][v["Pitch_21"]] == -1  # below A0 leaves the range
    assert table[3 + 1][v["Bar_None"]] == v["Bar_None"]
    assert (table[3] == np.arange(len(tok))).all()
    assert (pitches >= 0).sum() == 88


def test_bpe_training_decodes_and_keeps_hf_ids(folk_dir, cache_dir):
    from rlmusic.config.sections import DataConfig
    from rlmusic.data.corpus import prepare_corpus
    from rlmusic.data.tokens import notes_per_id

    tok, corpus = prepare_corpus(DataConfig(data=str(folk_dir), workers=1, cache_dir=str(cache_dir)),
                                 TokenizerConfig(bpe_vocab_size=500), progress=False)
    assert tok.is_trained and len(tok) == 500 and corpus.ids.max() < 500
    base = build_tokenizer(TokenizerConfig())
    score = load_score(find_midi_files(folk_dir)[0])
    ids, base_ids = encode_score(tok, score), encode_score(base, score)
    assert len(ids) < len(base_ids)  # merges shorten sequences
    decoded, report = decode_ids(tok, ids)
    assert report.error == "" and encode_score(base, decoded) == base_ids
    pieces = sorted(tok.vocab_model, key=tok.vocab_model.get)
    assert hf_tokenizer(tok)(" ".join(pieces[i] for i in ids))["input_ids"] == ids
    assert notes_per_id(tok)[ids].sum() == sum(t.startswith("Pitch_") for t in (base[i] for i in base_ids))


def test_bpe_training_windows_are_transposed_before_encoding(folk_dir, cache_dir):
    """With BPE, ``augment_transpose=K`` encodes every piece once more per shift, transposed
    first: the ids of a transposed piece equal the BPE encoding of its transposed notes, and the
    training sampler draws windows from the original and from each transposed encoding."""
    import numpy as np

    from rlmusic.config.sections import DataConfig
    from rlmusic.data.batches import WindowSampler
    from rlmusic.data.corpus import prepare_corpus, tokenize_folder, transpose_score
    from rlmusic.data.tokens import special_ids

    cfg = DataConfig(data=str(folk_dir), workers=1, cache_dir=str(cache_dir))
    tok, corpus = prepare_corpus(cfg, TokenizerConfig(bpe_vocab_size=500), progress=False)
    up = tokenize_folder(folk_dir, tok, cfg, progress=False, shift=2)
    assert up.names == [n for n in corpus.names if n in set(up.names)] and len(up.names) > 0.9 * len(corpus.names)
    for name in up.names[:5]:
        score = load_score(folk_dir / f"{name}.mid")
        assert transpose_score(score, 2, 21, 108)
        assert up.piece(up.names.index(name)).tolist() == encode_score(tok, score)  # BPE of the transposed notes
        plain = corpus.piece(corpus.names.index(name)).tolist()
        assert up.piece(up.names.index(name)).tolist() != plain
    sp = special_ids(tok)
    streams = [corpus.stream("train", sp["bos"], sp["eos"]), up.stream("train", sp["bos"], sp["eos"])]
    sampler = WindowSampler(streams[0], 32, 64, seed=0, transposed_streams=streams[1:])
    windows = sampler.batch(0).numpy()
    text = [" ".join(map(str, s.tolist())) for s in streams]
    found = [[" ".join(map(str, w.tolist())) in t for t in text] for w in windows]
    assert all(any(f) for f in found)  # every window is a window of one of the encodings
    share_up = np.mean([f[1] and not f[0] for f in found])
    assert 0.3 < share_up < 0.7  # about half come from the transposed copy

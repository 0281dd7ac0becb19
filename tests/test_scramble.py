"""Scrambled negatives teach a discriminator to hear structure (a small known-answer test), and
the scramble test measures it."""

import numpy as np
import pytest
import torch

from rlmusic.config.sections import ClfConfig, TokenizerConfig
from rlmusic.data.labelled import Labelled, sample_windows
from rlmusic.data.tokens import build_tokenizer, encode_score
from rlmusic.models.discriminator import Discriminator, train_discriminator
from rlmusic.music.corrupt import score_from_piece
from rlmusic.music.piece import piece_from_arrays
from rlmusic.music.scramble import corrupted_pieces, excerpts, pieces_of_ids, scramble_test, token_scorer

TPQ = 480
KEYS = True  # progressions in random keys
II_V_I = [(2, (0, 3, 7, 10)), (7, (0, 4, 7, 10)), (0, (0, 4, 7, 11)), (9, (0, 3, 7, 10))]  # ii V I vi


def progression(rng, swing: bool):
    """Eight bars of ii-V-I-vi in a random key: a close voicing held each bar and a bass under it;
    ``swing``: a walking bass and a melody of chord tones in quarter notes, else half-note bass
    and no melody (the same harmony, another texture)."""
    key = int(rng.integers(0, 12)) if KEYS else 0
    t, d, p = [], [], []
    for bar in range(8):
        root, tones = II_V_I[bar % 4]
        root = (root + key) % 12
        start = bar * 4 * TPQ
        for x in tones:
            t.append(start), d.append(4 * TPQ), p.append(60 + (root + x) % 12)
        steps = (0, tones[1], tones[2], tones[3]) if swing else (0, tones[2])
        length = TPQ if swing else 2 * TPQ
        for i, x in enumerate(steps):
            t.append(start + i * length), d.append(length), p.append(36 + root + x)
        if swing:
            for beat in range(4):
                t.append(start + beat * TPQ), d.append(TPQ), p.append(72 + (root + tones[int(rng.integers(4))]) % 12)
    return piece_from_arrays(t, d, p, tpq=TPQ, bar_ticks=4 * TPQ)


@pytest.fixture(scope="module")
def synthetic():
    tok = build_tokenizer(TokenizerConfig())
    rng = np.random.default_rng(0)
    pieces, labels = [], []
    for i in range(48):
        swing = i % 2 == 0
        pieces.append(np.array(encode_score(tok, score_from_piece(progression(rng, swing))), np.int64))
        labels.append(int(swing))
    splits = ["test" if i >= 32 else "train" for i in range(48)]
    data = Labelled(pieces, np.array(labels), ["walking" if y else "plain" for y in labels], splits,
                    [f"p{i}" for i in range(48)])
    return tok, data


def test_scrambled_windows_come_in_their_share(synthetic):
    tok, data = synthetic
    scrambled = corrupted_pieces(tok, data.pieces[:8], seed=0, kinds=("permuted_pitches",))
    assert len(scrambled) == 8
    windows, labels = sample_windows(data, np.random.default_rng(0), 32, 16, 48, scrambled=scrambled,
                                     scrambled_share=0.25)
    assert labels.count(1) == 16 and labels.count(0) == 16
    pool = {tuple(s.tolist()) for s in scrambled}
    from_scrambled = [w for w in windows if any(_inside(w, s) for s in pool)]
    assert len(from_scrambled) == 8  # a quarter of 32


def test_several_corrupted_copies_of_each_jazz_piece_differ(synthetic):
    """``clf.scrambled_copies``: each jazz piece corrupted that many times, afresh each time."""
    from rlmusic.music.scramble import jazz_of

    tok, data = synthetic
    train = data.select(np.array([s == "train" for s in data.splits]))
    one, three = jazz_of(train, tok, seed=0), jazz_of(train, tok, seed=0, copies=3)
    n_jazz = int((train.labels == 1).sum())
    assert len(one) == n_jazz and len(three) == 3 * n_jazz  # none here is too short to keep
    assert len({tuple(x.tolist()) for x in three}) == len(three)  # no two copies alike


def test_generated_windows_come_in_their_share_beside_the_scrambled(synthetic):
    """``train-clf --generated``: a generator's samples take ``generated_share`` of the batch, after
    the scrambled copies' share, all of them negatives."""
    tok, data = synthetic
    scrambled = corrupted_pieces(tok, data.pieces[:8], seed=0, kinds=("permuted_pitches",))
    generated = [np.arange(200, 260, dtype=np.int64) + i for i in range(3)]  # ids no real window holds in a row
    windows, labels = sample_windows(data, np.random.default_rng(0), 32, 16, 48, scrambled=scrambled,
                                     scrambled_share=0.25, generated=generated, generated_share=0.125)
    assert labels.count(1) == 16 and labels.count(0) == 16
    from_generated = [y for w, y in zip(windows, labels) if any(_inside(w, g) for g in generated)]
    from_scrambled = [y for w, y in zip(windows, labels) if any(_inside(w, s) for s in scrambled)]
    assert from_generated == [0] * 4 and from_scrambled == [0] * 8  # an eighth and a quarter of 32


def test_generated_and_scrambled_shares_leave_half_the_batch_to_jazz():
    from rlmusic.errors import RLMusicError

    ClfConfig(scrambled_share=0.25, generated_share=0.2).validate()
    with pytest.raises(RLMusicError, match="generated_share"):
        ClfConfig(scrambled_share=0.25, generated_share=0.25).validate()
    with pytest.raises(RLMusicError, match="needs clf.arch=surprisal"):
        ClfConfig(arch="classifier", pitch_surprise=True).validate()


def _inside(window, piece):
    n = len(window)
    return any(list(piece[i : i + n]) == window for i in range(len(piece) - n + 1))


@pytest.fixture(scope="module")
def synthetic_prior(tmp_path_factory):
    """A tiny policy pretrained (200 steps) on the walking-bass progressions, written as MIDI."""
    from rlmusic.cli import main
    from rlmusic.data.midi_io import write_score

    folder, out = tmp_path_factory.mktemp("synjazz"), tmp_path_factory.mktemp("synprior")
    rng = np.random.default_rng(5)
    for i in range(24):
        write_score(score_from_piece(progression(rng, swing=True)), folder / f"jazz_{i}.mid")
    assert main(["pretrain", "--data", str(folder), "--out", str(out), "model.n_layer=2", "model.n_head=2",
                 "model.n_embd=64", "model.block_size=128", "model.dropout=0.0", "pretrain.max_steps=200",
                 "pretrain.lr=3e-3", "pretrain.warmup_steps=10", "pretrain.batch_size=16", "pretrain.eval_every=100",
                 "pretrain.save_every=200", "data.workers=1"]) == 0
    return out


def test_scrambled_negatives_teach_the_discriminator_to_hear_pitch(synthetic, synthetic_prior):
    """Jazz and other differ by texture only: without scrambled negatives a discriminator has no
    reason to hear pitch, and calls the held-out jazz with its pitches permuted jazz as often as
    the jazz itself; trained the same way with them (from the same pretrained policy, as
    ``clf.init_from`` does), it tells them apart."""
    tok, data = synthetic
    train = data.select(np.array([s == "train" for s in data.splits]))
    test_jazz = [p for p, y, s in zip(data.pieces, data.labels, data.splits) if y == 1 and s == "test"]
    gaps = {}
    for share in (0.0, 0.25):
        cfg = ClfConfig(init_from=str(synthetic_prior), steps=100, batch_size=16, lr=1e-3, min_window=48,
                        max_window=96, augment_transpose=0, scrambled_share=share)
        torch.manual_seed(0)
        scrambled = corrupted_pieces(tok, [p for p, y in zip(train.pieces, train.labels) if y == 1], seed=1,
                                     kinds=("permuted_pitches",)) if share else None
        disc = train_discriminator(Discriminator.build(cfg, tok), train, cfg, progress=False, scrambled=scrambled)
        result = scramble_test(token_scorer(disc.prob_jazz, tok, disc.max_window), pieces_of_ids(tok, test_jazz),
                               seed=2, kinds=("permuted_pitches",))
        assert result["real"] > 0.8  # both recognise the real thing
        gaps[share] = result["gap/permuted_pitches"]
    assert gaps[0.0] < 0.2  # measured 0.01
    assert gaps[0.25] > 0.5  # measured 0.81


def test_scramble_test_of_a_scorer_that_hears_pitch_exactly():
    """A scorer that says 1 for pieces whose every beat is a chord of the vocabulary, 0 otherwise,
    on pieces that are all chords: real 1.0, and the gap of each corruption is 1 minus the share
    of its copies that still fit."""
    from rlmusic.music.harmony import chord_fit

    rng = np.random.default_rng(0)
    pieces = [progression(rng, swing=False) for _ in range(6)]

    def score(ps):
        return np.array([float(chord_fit(p) == 1.0) for p in ps])

    r = scramble_test(score, pieces, seed=3, kinds=("permuted_pitches", "transposed_voices"))
    assert r["n"] == 6 and r["real"] == 1.0
    for kind in ("permuted_pitches", "transposed_voices"):
        assert r[f"gap/{kind}"] == pytest.approx(1.0 - r[kind]) and r[kind] < 1.0


def test_excerpts_start_on_bar_lines_and_last_forty_beats():
    rng = np.random.default_rng(0)
    p = progression(rng, swing=True)  # 32 beats: shorter than an excerpt, kept whole
    assert excerpts([p], rng)[0] is p
    long = piece_from_arrays(np.arange(0, 100 * TPQ, TPQ), [TPQ] * 100, [60] * 100, tpq=TPQ, bar_ticks=4 * TPQ)
    ex = excerpts([long], rng)[0]
    assert len(ex.time) == 40 and ex.time[0] == 0 and ex.end == 40 * TPQ

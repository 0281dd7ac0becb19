"""Rewards against hand-derived values, the --reward parser, and the TRL signature."""

import numpy as np
import pytest

from rewards import RESERVED, REWARDS
from rewards.band import band_score
from rewards.mean import mean_score
from rewards.novelty import Novelty, novelty_scores
from rewards.repetition import loop_mask, repetition_score
from rewards.rl_tuner import autocorrelation_score, extrema_score, leaps_score, tonic_score
from rlmusic.config.sections import TokenizerConfig
from rlmusic.data.tokens import build_tokenizer
from rlmusic.errors import RLMusicError
from rlmusic.music.metrics import METRICS, distinct_n
from rlmusic.music.piece import piece_from_arrays
from rlmusic.reward_contract import RewardBatch, build_reward, metrics_read, parse_reward_spec, reward_needs, trl_reward_func

TPQ = 4


def mono(pitches, bar=16):
    n = len(pitches)
    return piece_from_arrays(np.arange(n) * TPQ, [TPQ] * n, pitches, tpq=TPQ, bar_ticks=bar)


def test_repetition_by_hand():
    # Eight Cs over two bars: runs 4/8 (5th-8th), bar 2 repeats bar 1 (1/1), all 8 in an AB-loop of period 2.
    assert repetition_score(mono([60] * 8)) == pytest.approx(-(0.5 + 1.0 + 1.0) / 3)
    # ABABAB: no long run, bar 2 differs from bar 1, all six notes loop.
    assert repetition_score(mono([60, 62] * 3)) == pytest.approx(-1 / 3)
    assert repetition_score(mono([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65])) == 0.0
    assert repetition_score(mono([])) == -1.0


def test_novelty_by_hand_and_its_weighted_mean_is_the_batch_distinct_4():
    a, b = [60, 62, 64, 65, 67], [60, 62, 64, 65, 69]  # two 4-grams each; they share 60-62-64-65
    loop = [60, 62, 64, 65] * 3  # 9 4-grams, 4 distinct: 60-62-64-65 three times, its rotations twice
    scores = novelty_scores([a, b, loop, [60, 62, 64]])  # 60-62-64-65: 5 times in the batch
    assert scores == pytest.approx([(1 / 5 + 1) / 2, (1 / 5 + 1) / 2, (3 * (1 / 5) + 3 * 2 * (1 / 2)) / 9, 0.0])
    assert novelty_scores([a, a]) == [0.5, 0.5] and novelty_scores([a, b[::-1]]) == [1.0, 1.0]
    weights = [2, 2, 9]
    assert np.average(scores[:3], weights=weights) == pytest.approx(distinct_n([a, b, loop], 4))
    # the reward reads each piece's melody: the chords' top line is a again (60-62-64-65 three
    # times in the batch, 62-64-65-67 twice)
    pieces = [mono(a), mono(b), piece_from_arrays([0, 0, 4, 4, 8, 8, 12, 12, 16, 16], [4] * 10,
                                                   [48, 60, 48, 62, 48, 64, 48, 65, 48, 67], tpq=TPQ, bar_ticks=16)]
    reward = REWARDS["novelty"]()
    assert reward(RewardBatch.from_pieces(pieces)) == pytest.approx([(1 / 3 + 1 / 2) / 2, (1 / 3 + 1) / 2, (1 / 3 + 1 / 2) / 2])


def test_novelty_remembers_the_samples_before_the_batch_and_resumes_with_them():
    a, b = [60, 62, 64, 65, 67], [70, 69, 67, 65, 64, 62]
    reward = REWARDS["novelty"]()
    assert reward(RewardBatch.from_pieces([mono(a)])) == [1.0]
    state = reward.state()
    # a again: both its 4-grams were played once before; b is new
    assert reward(RewardBatch.from_pieces([mono(a), mono(b)])) == [0.5, 1.0]
    again = REWARDS["novelty"]()
    again.restore(state)
    assert again(RewardBatch.from_pieces([mono(a), mono(b)])) == [0.5, 1.0]
    assert novelty_scores([a], before=[a, a, b]) == [1 / 3]
    short = Novelty(memory=1)  # the oldest sample leaves the memory first
    for melody in (a, b):
        short(RewardBatch.from_pieces([mono(melody)]))
    assert short(RewardBatch.from_pieces([mono(a)])) == [1.0]


def test_loop_mask_needs_three_back_to_back_occurrences():
    assert loop_mask(np.array([1, 2, 1, 2])).tolist() == [False] * 4
    assert loop_mask(np.array([5, 1, 2, 3, 1, 2, 3, 1, 2, 3, 9])).tolist() == [False] + [True] * 9 + [False]


def test_band_by_hand():
    assert band_score(1.5, 1.0, 2.0) == 0.0
    assert band_score(2.5, 1.0, 2.0) == -0.5
    assert band_score(0.0, 1.0, 2.0) == -1.0
    assert band_score(-9.0, 1.0, 2.0) == -1.0
    assert band_score(float("nan"), 1.0, 2.0) == -1.0


def test_rl_tuner_rewards_by_hand():
    scale = mono([60, 62, 64, 65, 67, 69, 71, 72])
    assert tonic_score(scale) == 1.0
    assert extrema_score(scale) == 1.0
    assert leaps_score(scale) == 1.0  # no leaps: nothing to resolve
    assert leaps_score(mono([60, 72, 71, 60, 48, 50])) == pytest.approx(2 / 3)
    assert autocorrelation_score(mono([60] * 6)) == 0.0  # a one-note loop is fully self-similar
    assert autocorrelation_score(mono([60, 62] * 3)) == pytest.approx(1 - (1 + 1 + 1) / 3)
    assert tonic_score(mono([])) == 0.0


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(TokenizerConfig())


def _ids(tok, pitches):
    v, out = tok.vocab, [tok.vocab["Bar_None"]]
    for i, p in enumerate(pitches):
        if i and i % 4 == 0:
            out.append(v["Bar_None"])
        out += [v[f"Position_{(i % 4) * 12}"], v[f"Pitch_{p}"], v["Duration_1.0.12"]]
    return out


BANDS = {name: (0.5, 2.0) for name in METRICS}  # a band for every metric
TARGET = {name: [0.5, 1.0, 2.0] for name in METRICS}  # metric_match's target windows, three of them


def _names() -> list[str]:
    """Every registered reward, a family by one member; jazz_clf and jazz_logodds need a trained discriminator
    (tested in test_discriminator.py)."""
    return [n + "onsets_per_beat" if n.endswith(":") else n for n in REWARDS if n not in ("jazz_clf", "jazz_logodds")]


def test_every_reward_scores_a_batch_within_its_range(tok):
    batch = RewardBatch([_ids(tok, [60] * 12), _ids(tok, [60, 64, 67, 72, 71, 67, 64, 62]), [], [5, 5, 5]], tok)
    for name in _names():
        fn = build_reward(name, REWARDS, bands=BANDS, reference_metrics=TARGET).terms[0][0]
        scores = fn(batch)
        assert fn.name == name and len(scores) == 4
        lo, hi = fn.range
        assert all(lo <= s <= hi for s in scores), (name, scores)
    loop, varied = REWARDS["repetition"]()(batch)[:2]
    assert loop < -0.5 and varied == 0.0


def test_every_reward_pickles_and_scores_the_same_after(tok):
    """Rewards are small objects, not closures: they travel to worker processes and into TRL."""
    import pickle

    batch = RewardBatch([_ids(tok, [60] * 12), _ids(tok, [60, 64, 67, 72, 71, 67, 64, 62]), []], tok)
    for name in _names():
        fn = build_reward(name, REWARDS, bands=BANDS, reference_metrics=TARGET).terms[0][0]
        again = pickle.loads(pickle.dumps(fn))
        assert (again.name, again.range, again.__name__) == (fn.name, fn.range, name)
        assert again(batch) == fn(batch), name
    spec = build_reward(",".join(_names()), REWARDS, bands=BANDS, reference_metrics=TARGET)
    assert pickle.loads(pickle.dumps(spec))(batch)[0].tolist() == spec(batch)[0].tolist()


def test_batch_decodes_once(tok, monkeypatch):
    import rlmusic.reward_contract as R

    calls = []
    real = R.decode_ids
    monkeypatch.setattr(R, "decode_ids", lambda *a: calls.append(1) or real(*a))
    batch = RewardBatch([_ids(tok, [60, 62, 64, 65])] * 3, tok)
    build_reward(",".join(_names()), REWARDS, bands=BANDS, reference_metrics=TARGET)(batch)
    assert len(calls) == 3


def test_each_metric_is_measured_once_per_batch_however_many_rewards_read_it(tok, monkeypatch):
    """The band rewards and metric_match read chord fit from the batch: three pieces, three
    measurements, and the same scores as measuring it afresh for each reward."""
    calls = []
    real = METRICS["chord_fit"]
    monkeypatch.setitem(METRICS, "chord_fit", lambda p: calls.append(1) or real(p))
    spec = "band:chord_fit,metric_match"
    # C-E-G (fit 1), then the cluster C-C#-D (no chord of the vocabulary holds more than two of
    # them: fit 2/3): chord fit 5/6; the single lines have no chord (undefined)
    chords = piece_from_arrays([0, 0, 0, 480, 480, 480], [480] * 6, [60, 64, 67, 60, 61, 62])
    pieces = [chords, mono([60, 62, 64, 65]), mono([])]
    total, parts = build_reward(spec, REWARDS, bands={"chord_fit": (0.9, 1.0)}, reference_metrics=TARGET)(
        RewardBatch.from_pieces(pieces))
    assert len(calls) == len(pieces)
    fresh = [band_score(real(p), 0.9, 1.0) for p in pieces]
    assert parts["band:chord_fit"].tolist() == fresh
    assert fresh == pytest.approx([-(0.9 - 5 / 6) / 0.1, -1.0, -1.0])


def test_mean_by_hand():
    # target windows 2, 3, 4: mean 3, sd sqrt(2/3); two sd = 1.633
    assert mean_score(3.0, 3.0, (2 / 3) ** 0.5) == 0.0
    assert mean_score(3.5, 3.0, 0.5) == -0.5
    assert mean_score(2.0, 3.0, 0.5) == -1.0
    assert mean_score(9.0, 3.0, 0.5) == -1.0
    assert mean_score(float("nan"), 3.0, 0.5) == -1.0


def test_mean_reward_reads_the_targets_mean_and_spread():
    """mean:chord_fit against target windows of chord fit 2/3, 5/6 and 1: mean 5/6, sd 0.136;
    the C-E-G piece (fit 1) is 0.167 above, 0.612 of two sd; the cluster piece (5/6) is at it."""
    chords = piece_from_arrays([0, 0, 0], [480] * 3, [60, 64, 67])
    half = piece_from_arrays([0, 0, 0, 480, 480, 480], [480] * 6, [60, 64, 67, 60, 61, 62])
    target = {"chord_fit": [2 / 3, 5 / 6, 1.0, float("nan")]}
    fn = build_reward("mean:chord_fit=2", REWARDS, reference_metrics=target)
    total, parts = fn(RewardBatch.from_pieces([chords, half, mono([60, 62])]))
    sd = np.std([2 / 3, 5 / 6, 1.0])
    assert parts["mean:chord_fit"].tolist() == pytest.approx([-(1 / 6) / (2 * sd), 0.0, -1.0])
    assert total.tolist() == pytest.approx((2 * parts["mean:chord_fit"]).tolist())
    with pytest.raises(RLMusicError, match="needs the target's values of chord_fit"):
        build_reward("mean:chord_fit", REWARDS, reference_metrics={"polyphony": [1.0, 2.0]})
    with pytest.raises(RLMusicError, match="unknown metric"):
        build_reward("mean:chordfit", REWARDS, reference_metrics=target)


def test_spec_parser_and_weighted_total(tok):
    assert parse_reward_spec("repetition,jazz_clf") == [("repetition", 1.0), ("jazz_clf", 1.0)]
    assert parse_reward_spec("repetition=1.0, pitch_entropy=0.3,jazz_clf=0.5") == [
        ("repetition", 1.0), ("pitch_entropy", 0.3), ("jazz_clf", 0.5)]
    combo = build_reward("repetition=2,tonic=0.5", REWARDS)
    batch = RewardBatch([_ids(tok, [60] * 8)], tok)
    total, parts = combo(batch)
    assert total[0] == pytest.approx(2 * parts["repetition"][0] + 0.5 * parts["tonic"][0])
    logged = combo.log_values(parts)
    assert set(logged) == {"reward/repetition", "reward/repetition_weighted", "reward/tonic", "reward/tonic_weighted"}


@pytest.mark.parametrize("spec, message", [
    ("repetiton", "unknown reward 'repetiton'; known rewards: autocorrelation, band:METRIC, in_key"),
    ("repetition=abc", "is not a number"),
    ("repetition,repetition=2", "named twice"),
    ("", "no reward given"),
    ("jazz_clf", "needs a discriminator"),
    ("metric_match", "needs the target's metric values"),
])
def test_spec_errors(spec, message):
    with pytest.raises(RLMusicError, match=message):
        build_reward(spec, REWARDS, reserved=RESERVED)


def test_band_family_scores_any_metric_by_name(tok):
    batch = RewardBatch([_ids(tok, [60, 64, 67, 72])], tok)  # 4 quarter notes, 4 beats: 1 onset per beat
    fn = build_reward("band:onsets_per_beat,band:polyphony", REWARDS,
                      bands={"onsets_per_beat": (2.0, 3.0), "polyphony": (1.0, 1.5)})
    total, parts = fn(batch)
    assert parts["band:onsets_per_beat"][0] == pytest.approx(-1.0)  # a whole band width below
    assert parts["band:polyphony"][0] == 0.0
    with pytest.raises(RLMusicError, match="unknown metric"):
        build_reward("band:nonsense", REWARDS, bands=BANDS)
    with pytest.raises(RLMusicError, match="needs the target band of polyphony"):
        build_reward("band:polyphony", REWARDS)
    assert reward_needs("repetition,band:polyphony,jazz_clf", REWARDS) == {"bands", "discriminator"}
    assert reward_needs("repetition,tonic", REWARDS) == set()
    assert reward_needs("metric_match,band:polyphony", REWARDS) == {"reference_metrics", "bands"}


def _walk(rng, start: int, n: int = 16):
    """A one-note-a-beat line moving by steps of one or two semitones."""
    return mono([int(x) for x in start + np.cumsum(np.r_[0, rng.choice([-2, -1, 1, 2], size=n - 1)])])


def test_metric_match_ranks_samples_by_how_like_the_target_their_metrics_are():
    """Target: 40 stepwise lines. A new stepwise line scores above one note repeated, which
    scores above octave-and-more leaps (further from the target on range, intervals and
    pitch classes); the critic, refit with each batch in its memory, lowers them all."""
    from rewards.metric_match import MetricMatch

    rng = np.random.default_rng(0)
    target = [_walk(rng, 55 + k % 12) for k in range(40)]
    fn = MetricMatch({n: [float(METRICS[n](p)) for p in target] for n in METRICS})
    assert "melody_interval" in fn.names and "polyphony" not in fn.names  # every target line is one voice
    batch = RewardBatch.from_pieces([_walk(rng, 60), mono([60] * 16), mono([40, 80] * 8)])
    first = fn(batch)
    stepwise, repeated, leaps = first
    assert stepwise > 5 * repeated  # 0.161 against 0.013 when written
    assert repeated > 5 * leaps  # 0.013 against 0.001
    assert all(b < a for a, b in zip(first, fn(batch)))  # twice in the memory: surer they are not target


def test_metric_match_fills_undefined_metrics_with_the_target_median_and_drops_constant_ones():
    from rewards.metric_match import MetricMatch

    fn = MetricMatch({"pitch_range": [10.0, 12.0, 20.0, 14.0], "polyphony": [1.0] * 4,
                      "chord_fit": [float("nan"), 0.5, 0.7, 0.9]})
    assert fn.names == ["pitch_range", "chord_fit"]
    assert fn.fill.tolist() == [13.0, 0.7] and fn.mean.tolist() == pytest.approx([14.0, 0.7])
    silence = mono([])  # no chords: chord fit undefined, the target's median; pitch range 0
    assert np.isnan(METRICS["chord_fit"](silence)) and METRICS["pitch_range"](silence) == 0
    assert fn.vectors(RewardBatch.from_pieces([silence]))[0].tolist() == pytest.approx([(0 - 14) / np.std([10, 12, 20, 14]), 0.0])
    with pytest.raises(RLMusicError, match="some metric varies"):
        MetricMatch({"polyphony": [1.0] * 4})


def test_rewards_declare_the_metrics_they_score():
    spec = "repetition,jazz_clf=2,pitch_entropy,scale,band:onsets_per_beat,band:polyphony,unique_extrema"
    assert metrics_read(spec, REWARDS) == {"repeated_notes", "pitch_class_entropy", "scale_consistency",
                                           "onsets_per_beat", "polyphony", "unique_max", "unique_min"}
    assert metrics_read("jazz_clf", REWARDS) == set()  # it reads tokens, no metric by name
    for factory in REWARDS.values():  # a misspelt name would silently keep a metric in overlap/unseen
        assert set(getattr(factory, "reads", ())) <= set(METRICS)


def test_band_rewards_take_the_corpus_band(tok):
    batch = RewardBatch([_ids(tok, [60, 64, 67, 72])], tok)  # pitch-class entropy 1.5
    assert build_reward("pitch_entropy", REWARDS, bands={"pitch_class_entropy": (1.0, 2.0)})(batch)[0][0] == 0.0
    assert build_reward("pitch_entropy", REWARDS, bands={"pitch_class_entropy": (2.0, 3.0)})(batch)[0][0] == -0.5
    # the original names are the bands of pitch-class entropy and scale consistency, nothing else
    for old_name, metric in (("pitch_entropy", "pitch_class_entropy"), ("scale", "scale_consistency")):
        bands = {metric: (0.95, 0.99)}
        assert build_reward(old_name, REWARDS, bands=bands)(batch)[0] == \
            build_reward(f"band:{metric}", REWARDS, bands=bands)(batch)[0]


def test_trl_signature(tok):
    fn = trl_reward_func(REWARDS["repetition"](), tok)
    assert fn.__name__ == "repetition"
    out = fn(prompts=["BOS_None"] * 2, completions=["", ""],
             completion_ids=[_ids(tok, [60] * 8), _ids(tok, [60, 62, 64, 65, 67, 69, 71, 72])], trainer_state=None)
    assert isinstance(out, list) and out[1] == 0.0 and out[0] < 0


def test_bands_from_a_selection_of_the_corpus(folk_dir, cache_dir):
    import numpy as np

    from rlmusic.config.sections import DataConfig, TokenizerConfig
    from rlmusic.data.corpus import tokenize_folder
    from rlmusic.data.tokens import build_tokenizer
    from rlmusic.music.bands import corpus_bands, corpus_sample
    from rlmusic.music.metrics import pitch_class_entropy

    tok = build_tokenizer(TokenizerConfig())
    corpus = tokenize_folder(folk_dir, tok, DataConfig(workers=1, cache_dir=str(cache_dir)), progress=False)
    train = [corpus.names[i] for i in corpus.indices("train")]
    select = train[0][:-1]  # a name prefix shared by a few pieces only
    chosen = [i for i in corpus.indices("train") if select in corpus.names[i]]
    assert 0 < len(chosen) < len(train)
    pieces, ids = corpus_sample(corpus, tok, "train", select=select)
    assert ids == [corpus.piece(i).tolist() for i in chosen]
    values = np.array([pitch_class_entropy(p) for p in pieces])
    bands = corpus_bands(corpus, tok, select=select)
    assert bands["pitch_class_entropy"] == pytest.approx((np.quantile(values, 0.05), np.quantile(values, 0.95)))
    assert bands != corpus_bands(corpus, tok)  # cached apart from the whole-split bands
    middle = corpus_bands(corpus, tok, (0.25, 0.75), select=select)  # cached apart from the 5-95% band
    assert middle["pitch_class_entropy"] == pytest.approx((np.quantile(values, 0.25), np.quantile(values, 0.75)))
    with pytest.raises(RLMusicError, match="no train piece"):
        corpus_sample(corpus, tok, "train", select="no such piece")


def test_band_quantiles_narrow_some_bands_and_keep_the_rest(folk_dir, cache_dir):
    from rlmusic.config.ppo import PPOConfig
    from rlmusic.config.sections import DataConfig, TokenizerConfig
    from rlmusic.data.corpus import tokenize_folder
    from rlmusic.data.tokens import build_tokenizer
    from rlmusic.music.bands import corpus_bands, reward_bands, reward_reference_metrics

    tok = build_tokenizer(TokenizerConfig())
    corpus = tokenize_folder(folk_dir, tok, DataConfig(workers=1, cache_dir=str(cache_dir)), progress=False)
    pc = PPOConfig(max_new_tokens=64, band_quantiles={"pitch_class_entropy": [0.25, 0.75]})
    values = reward_reference_metrics(pc, corpus, tok)
    bands = reward_bands(pc, values)
    wide = corpus_bands(corpus, tok, (0.05, 0.95), window=64)
    middle = corpus_bands(corpus, tok, (0.25, 0.75), window=64)
    assert bands["pitch_class_entropy"] == middle["pitch_class_entropy"] != wide["pitch_class_entropy"]
    assert bands["notes_per_bar"] == wide["notes_per_bar"]
    # metric_match's target: the very windows the bands are quantiles of
    entropy = values["pitch_class_entropy"]
    assert (np.quantile(entropy, 0.05), np.quantile(entropy, 0.95)) == pytest.approx(wide["pitch_class_entropy"])
    with pytest.raises(RLMusicError, match="'nope' is not a metric"):
        reward_bands(PPOConfig(max_new_tokens=64, band_quantiles={"nope": [0.2, 0.8]}), values)
    with pytest.raises(RLMusicError, match="ppo.band_quantiles.chord_fit must be"):
        PPOConfig(band_quantiles={"chord_fit": [0.9, 0.1]}).validate()

"""The jazz set builder (real MMA renders), the discriminator, and the jazz_clf reward."""

from pathlib import Path

import numpy as np
import pytest
import symusic
import torch

from rewards import REWARDS
from rlmusic.config.sections import ClfConfig, DataConfig, TokenizerConfig
from rlmusic.data.corpus import tokenize_folder
from rlmusic.data.jazz_data import build_jazz_set, read_manifest, styles_available
from rlmusic.data.labelled import Labelled, drop_notes, labelled_from_corpus, sample_windows
from rlmusic.data.tokens import build_tokenizer
from rlmusic.errors import RLMusicError
from rlmusic.models.classify_eval import balanced_accuracy, roc_auc
from rlmusic.models.discriminator import (
    Discriminator,
    evaluate_discriminator,
    grouped_cv,
    load_discriminator,
    save_discriminator,
    train_discriminator,
)
from rlmusic.reward_contract import RewardBatch, build_reward

if not styles_available():  # pragma: no cover - CI installs mma through scripts/setup.sh
    pytest.fail("Debian's mma is required (scripts/setup.sh installs it)", pytrace=False)


@pytest.fixture(scope="module")
def labelled(jazz_set, cache_dir):
    tok = build_tokenizer(TokenizerConfig())
    corpus = tokenize_folder(jazz_set, tok, DataConfig(workers=1, cache_dir=str(cache_dir)), progress=False)
    return tok, labelled_from_corpus(corpus, read_manifest(jazz_set))


def test_set_files_load_with_right_labels_and_no_drums(jazz_set):
    m = read_manifest(jazz_set)
    charts = [p for p in m["pieces"] if p["style"] != "folk/bach"]
    assert len(charts) == 4 * 9 and not m["failed"]
    for p in m["pieces"]:
        label_dir = p["file"].split("/")[1]
        assert label_dir == ("jazz" if p["label"] else "other")
        assert (p["label"] == 1) == (p["style"] in ("swing", "bebop"))
    assert {p["split"] for p in m["pieces"]} == {"train", "test"}
    # Confounds are drawn independently of the label: both families and melody states occur in both classes.
    for label in (0, 1):
        mine = [p for p in charts if p["label"] == label]
        assert {p["family"] for p in mine} == {"jazzy", "plain"}
    score = symusic.Score(str(jazz_set / charts[0]["file"]))
    assert any(t.is_drum for t in score.tracks)  # MMA renders drums; reading drops them
    from rlmusic.data.midi_io import load_score

    merged = load_score(jazz_set / charts[0]["file"])
    assert len(merged.tracks) == 1 and not merged.tracks[0].is_drum and len(merged.tracks[0].notes) > 50


def test_labelled_groups_and_windows(labelled):
    tok, data = labelled
    assert set(data.groups) == {"swing", "bebop", "march", "polka", "folk/bach"}
    windows, labels = sample_windows(data, np.random.default_rng(0), 8, 16, 40)
    assert labels == [0, 1] * 4 and all(16 <= len(w) <= 40 for w in windows)


def test_training_moves_held_out_accuracy_above_chance(labelled, tmp_path):
    tok, data = labelled
    cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, steps=80, batch_size=16, lr=2e-3, min_window=32, max_window=96)
    torch.manual_seed(0)
    train = data.select(np.array([s == "train" for s in data.splits]))
    test = data.select(np.array([s == "test" for s in data.splits]))
    disc = train_discriminator(Discriminator.build(cfg, tok), train, cfg, progress=False, tokenizer=tok)
    result = evaluate_discriminator(disc, test, cfg)
    assert result["accuracy"] > 0.7 and result["roc_auc"] > 0.8
    assert result["n"] == len(test.labels) and set(result["by_style"]) == set(test.groups)
    path = save_discriminator(disc, tmp_path, tok, {"test": result, "step": 80})
    again = load_discriminator(tmp_path)
    seqs = [p.tolist() for p in test.pieces[:5]]
    assert np.allclose(again.prob_jazz(seqs), disc.prob_jazz(seqs))
    # The reward: one probability per sample, deterministic, in [0, 1].
    fn = build_reward("jazz_clf", REWARDS, discriminator=again)
    total, parts = fn(RewardBatch(seqs + [[]], tok))
    assert parts["jazz_clf"].shape == (6,) and ((0 <= total) & (total <= 1)).all()
    assert np.array_equal(fn(RewardBatch(seqs, tok))[0], fn(RewardBatch(seqs, tok))[0])
    import pickle  # the reward object, discriminator included, pickles for worker processes

    assert np.allclose(pickle.loads(pickle.dumps(fn))(RewardBatch(seqs, tok))[0], fn(RewardBatch(seqs, tok))[0])
    # jazz_logodds: log p / (1 - p) of the same P(jazz), clipped to [-4, 4].
    p = again.prob_jazz(seqs)
    logodds = build_reward("jazz_logodds", REWARDS, discriminator=again)(RewardBatch(seqs, tok))[0]
    assert np.allclose(logodds, np.clip(np.log(p / (1 - p)), -4, 4), atol=1e-4)
    assert path.name == "checkpoint-000080"


def test_jazz_logodds_clips_the_discriminators_log_odds():
    """Logits (0, 6), (1, 1) and (3, 0) give log-odds 6, 0 and -3: scored 4, 0 and -3."""

    class Fixed:
        tokenizer = None

        def speaks(self, tokenizer):
            return True

        def log_odds_jazz(self, ids):
            logits = np.array([[0.0, 6.0], [1.0, 1.0], [3.0, 0.0]])[: len(ids)]
            return logits[:, 1] - logits[:, 0]

    reward = build_reward("jazz_logodds", REWARDS, discriminator=Fixed())
    total, parts = reward(RewardBatch([[1], [2], [3]], tokenizer=None))
    assert parts["jazz_logodds"].tolist() == [4.0, 0.0, -3.0]
    assert reward.terms[0][0].range == (-4.0, 4.0)


def test_another_vocabulary_is_re_encoded_or_refused_without_a_tokenizer():
    """A discriminator that knows its tokenizer serves a policy of another vocabulary (samples
    re-encoded, tests/test_external.py); one without (ids only) refuses it."""
    tok = build_tokenizer(TokenizerConfig())
    disc = Discriminator.build(ClfConfig(n_layer=1, n_embd=32, n_head=2), tok)
    tsd = build_tokenizer(TokenizerConfig(kind="TSD"))
    disc.check_tokenizer(tok)
    disc.check_tokenizer(tsd)
    assert disc.speaks(tok) and not disc.speaks(tsd)
    disc.tokenizer = None
    with pytest.raises(RLMusicError, match="trained on another vocabulary"):
        disc.check_tokenizer(tsd)


@pytest.mark.parametrize("name", ["jazz_clf", "jazz_logodds"])
def test_a_discriminator_reward_without_discriminator_is_a_clear_error(name):
    with pytest.raises(RLMusicError, match="needs a discriminator"):
        build_reward(name, REWARDS)


def test_roc_auc_by_hand():
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5
    assert roc_auc(np.array([1, 1, 0]), np.array([0.3, 0.9, 0.5])) == 0.5


def test_balanced_accuracy_by_hand():
    labels = np.array([1, 0, 0, 0])
    assert balanced_accuracy(labels, np.zeros(4, int)) == 0.5  # all "other": plain accuracy would be 0.75
    assert balanced_accuracy(labels, np.array([1, 0, 0, 1])) == 0.5 * (1 + 2 / 3)
    assert np.isnan(balanced_accuracy(np.zeros(3, int), np.zeros(3, int)))


def test_family_balance_draws_each_family_equally():
    # 9 jazz pieces of the swing family (three style files) against 1 bebop piece; ids say which.
    groups = ["swing", "fastswing", "casio/swing"] * 3 + ["bebop"] + ["march"] * 5 + ["polka"]
    pieces = [np.full(50, {"bebop": 2, "march": 3, "polka": 3}.get(g, 1)) for g in groups]
    labels = np.array([1] * 10 + [0] * 6)
    data = Labelled(pieces, labels, groups, ["train"] * 16, groups)
    for balance, bebop_share in (("piece", 0.1), ("family", 0.5)):
        windows, labs = sample_windows(data, np.random.default_rng(0), 4000, 8, 16, balance)
        jazz = [w[0] for w, lab in zip(windows, labs) if lab == 1]
        assert abs(np.mean(np.array(jazz) == 2) - bebop_share) < 0.03, balance


def test_drop_notes_takes_pitch_and_duration_together():
    tok = build_tokenizer(TokenizerConfig())
    v = tok.vocab
    names = sorted(v, key=v.get)
    is_pitch = np.array([n.startswith("Pitch_") for n in names])
    is_duration = np.array([n.startswith("Duration_") for n in names])
    bar = [v["Bar_None"], v["Position_0"], v["Pitch_60"], v["Duration_1.0.12"], v["Pitch_64"], v["Duration_2.0.12"],
           v["Position_12"], v["Pitch_67"], v["Duration_1.0.12"]]
    window = bar * 50
    rng = np.random.default_rng(0)
    assert drop_notes(window, is_pitch, is_duration, 0.0, rng) == window
    assert drop_notes(window, is_pitch, is_duration, 0.999999, rng) == [v["Bar_None"], v["Position_0"], v["Position_12"]] * 50
    out = drop_notes(window, is_pitch, is_duration, 0.5, rng)
    notes = [(a, b) for a, b in zip(out, out[1:]) if is_pitch[a]]
    assert all(is_duration[b] for _, b in notes)  # every kept pitch keeps its duration
    assert sum(is_duration[x] for x in out) == len(notes)  # and no duration is left without its pitch
    assert 0.4 < len(notes) / 150 < 0.6
    assert [x for x in out if not (is_pitch[x] or is_duration[x])] == [v["Bar_None"], v["Position_0"], v["Position_12"]] * 50
    # the pairing holds for the right pitch: Pitch_60 keeps Duration_1.0.12, Pitch_64 Duration_2.0.12
    assert all(b == v["Duration_2.0.12"] for a, b in notes if a == v["Pitch_64"])


def test_grouped_cv_holds_out_every_family_once(labelled):
    tok, data = labelled
    cfg = ClfConfig(n_layer=1, n_embd=32, n_head=2, steps=10, batch_size=8, min_window=16, max_window=48, cv_folds=2)
    cv = grouped_cv(data, tok, cfg, progress=False)
    mma = [g for g in data.groups if g != "folk/bach"]
    assert set(cv["by_family"]) == set(mma) and sum(f["n"] for f in cv["by_family"].values()) == len(mma)
    assert all(f["label"] == (g in ("swing", "bebop")) for g, f in cv["by_family"].items())
    for fold in cv["folds"]:  # one jazz and one other family held out, as many pieces of each here
        assert len(fold["held_out"]) == 2 and fold["majority_rate"] == 0.5
        assert 0 <= fold["balanced_accuracy"] <= 1 and 0 <= fold["roc_auc"] <= 1
    assert cv["accuracy"] == np.mean([f["accuracy"] for f in cv["folds"]])


def test_families_hold_out_variants_together_and_never_mix_labels():
    from rlmusic.data.jazz_data import FAMILIES, JAZZ_STYLES, OTHER_STYLES, family_of
    from rlmusic.models.classify_eval import style_folds

    for family, members in FAMILIES.items():
        labels = {s in JAZZ_STYLES for s in members}
        assert len(labels) == 1 and all(s in JAZZ_STYLES + OTHER_STYLES for s in members), family
    groups = ["swing", "casio/swing", "fastswing", "bebop", "dixie", "march", "casio/germanmarch", "polka", "ska"]
    labels = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0])
    folds = style_folds(groups, labels, 2, seed=0)
    assert sorted(set().union(*folds)) == sorted({family_of(g) for g in groups})
    assert family_of("casio/swing") == family_of("fastswing") == "swing" and family_of("bebop") == "bebop"
    for fold in folds:  # each fold holds out jazz and non-jazz families
        assert any(f in fold for f in ("swing", "bebop", "dixie")) and any(f in fold for f in ("march", "polka", "ska"))


def test_main_grooves_leave_out_intros_and_endings_but_not_descending():
    from rlmusic.data.jazz_data import grooves_of

    # stdlib's descendingjazz.mma: four main grooves, then intros and endings ("DescendingJazzEnd")
    assert grooves_of("descendingjazz") == ["DescendingJazz", "DescendingJazzPlus", "DescendingJazzSus",
                                            "DescendingJazzSusPlus"]
    assert grooves_of("yamaha/jazzGrtrio") == ["yamaha/jazzGrtrio:JazzGrTrioMainA", "yamaha/jazzGrtrio:JazzGrTrioMainB"]


def test_other_mma_libraries_render(tmp_path):
    from rlmusic.data.jazz_data import grooves_of

    assert all(g.startswith("yamaha/jazzbasie:") for g in grooves_of("yamaha/jazzbasie"))
    assert not any("intro" in g.lower() or "end" in g.lower() for g in grooves_of("yamaha/jazzbasie"))
    folder = build_jazz_set(tmp_path / "set", per_style={"train": 1}, styles=(["casio/swing"], ["kara/Kfunk1"]),
                            workers=1, progress=False)
    m = read_manifest(folder)
    assert not m["failed"] and {p["style"] for p in m["pieces"]} == {"casio/swing", "kara/Kfunk1"}
    from rlmusic.data.midi_io import load_score

    for p in m["pieces"]:
        assert "/" not in p["file"].split("/", 2)[2]  # "casio/swing" is written as casio-swing_000.mid
        assert len(load_score(folder / p["file"]).tracks[0].notes) > 20


@pytest.mark.parametrize("arch", ["surprisal", "classifier"])
def test_classifier_can_start_from_a_policy_trunk(trained_run, arch, tmp_path):
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(trained_run, load_policy)
    disc = Discriminator.build(ClfConfig(init_from=str(trained_run), max_window=64, arch=arch), ckpt.tokenizer)
    trunk = ckpt.policy.lm.transformer
    model = disc.model.lm if arch == "surprisal" else disc.model
    assert disc.kind == arch and model.config.n_layer == trunk.config.n_layer
    assert torch.equal(model.transformer.wte.weight, trunk.wte.weight)
    assert torch.equal(model.transformer.h[0].attn.c_attn.weight, trunk.h[0].attn.c_attn.weight)
    assert disc.prob_jazz([[5, 6, 7]]).shape == (1,)
    if arch == "surprisal":  # the policy's own language model: its NLL is the policy's
        x = torch.tensor([[5, 6, 7, 8, 9]])
        with torch.no_grad():
            _, nll = disc.eval().scores([x[0].tolist()])
        with torch.no_grad():
            logits = ckpt.policy.eval()(x, with_values=False).logits
        expected = torch.nn.functional.cross_entropy(logits[0, :-1], x[0, 1:])
        torch.testing.assert_close(nll[0], expected, atol=1e-5, rtol=1e-5)
        save_discriminator(disc, tmp_path, ckpt.tokenizer, {"step": 0})
        again = load_discriminator(tmp_path)
        assert again.kind == "surprisal"
        np.testing.assert_allclose(again.prob_jazz([[5, 6, 7], [9, 8]]), disc.prob_jazz([[5, 6, 7], [9, 8]]), rtol=1e-6)
    other = build_tokenizer(TokenizerConfig(beat_res={"0-4": 8, "4-12": 4}))
    with pytest.raises(RLMusicError, match="another vocabulary"):
        Discriminator.build(ClfConfig(init_from=str(trained_run), max_window=64), other)
    with pytest.raises(RLMusicError, match="context of at least"):
        Discriminator.build(ClfConfig(init_from=str(trained_run), max_window=128), ckpt.tokenizer)


def test_surprise_statistics_by_hand():
    from rlmusic.models.surprisal import CENTRE, SCALE, _surprise_stats

    s = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mean, stats = _surprise_stats(s, torch.tensor([[1.0, 0.0, 1.0, 0.0]]))  # tokens 1 and 3: 1 and 3 nats
    assert mean.item() == 2.0
    torch.testing.assert_close(stats, ((torch.tensor([2.0, 1.0, 3.0]) - CENTRE) / SCALE)[None])


def test_pitch_surprise_reads_the_pitch_tokens_and_survives_a_reload(tmp_path):
    """``clf.pitch_surprise``: three more statistics, over the ids that carry a pitch; the mask
    is saved with the head and the reloaded discriminator scores alike."""
    tok = build_tokenizer(TokenizerConfig())
    torch.manual_seed(0)
    disc = Discriminator.build(ClfConfig(n_layer=1, n_embd=32, n_head=2, pitch_surprise=True), tok).eval()
    mask = disc.model.pitch_mask
    assert disc.model.head.in_features == 32 + 6
    assert {tok[i].split("_")[0] for i in torch.nonzero(mask).flatten().tolist()} == {"Pitch"}
    assert int(mask.sum()) == sum(t.startswith("Pitch_") for t in tok.vocab)
    v = tok.vocab
    window = [v["BOS_None"], v["Bar_None"], v["Position_0"], v["Pitch_60"], v["Duration_1.0.12"],
              v["Position_12"], v["Pitch_67"], v["Duration_1.0.12"]]
    save_discriminator(disc, tmp_path, tok, {"step": 0})
    again = load_discriminator(tmp_path)
    assert again.model.pitch_mask is not None and torch.equal(again.model.pitch_mask, mask)
    np.testing.assert_allclose(again.prob_jazz([window, window[:5]]), disc.prob_jazz([window, window[:5]]), rtol=1e-6)
    plain = Discriminator.build(ClfConfig(n_layer=1, n_embd=32, n_head=2), tok)
    assert plain.model.pitch_mask is None and plain.model.head.in_features == 32 + 3


def test_a_chart_renders_byte_identical_every_time(tmp_path):
    from rlmusic.data.jazz_data import Chart, _render

    # MMA's swing grooves randomise timing and volume; unseeded, two renders differ
    chart = Chart("swing", "Swing", 1, "jazzy", "sevenths", ["C7", "F7", "G7", "C7"] * 2, 0, 120, None, mma_seed=42)
    renders = []
    for i in range(2):
        path, err = _render((chart.__dict__, str(tmp_path / f"{i}.mid")))
        assert not err
        renders.append(Path(path).read_bytes())
    assert renders[0] == renders[1]


def test_forked_mma_renders_what_the_mma_program_renders(tmp_path):
    """Workers load MMA's modules once and fork a child per chart: the MIDI bytes equal those of
    the ``mma`` program itself (the test process, which never loads MMA, runs the program), and
    a chart MMA rejects comes back as an error in both."""
    import multiprocessing as mp

    from rlmusic.data.jazz_data import Chart, _render, preload_mma

    charts = [Chart("swing", "Swing", 1, "jazzy", "sevenths", ["C7", "F7", "G7", "C7"] * 2, 0, 120, None, mma_seed=7),
              Chart("bossanova", "BossaNova", 1, "jazzy", "extended", ["Dm9", "G13", "Cmaj9", "A7b9"] * 2, 3, 140,
                    None, mma_seed=8),
              Chart("polka", "Polka", 0, "plain", "triads", ["C", "G", "C", "F"] * 2, -2, 180, None, mma_seed=9)]
    bad = Chart("swing", "NoSuchGroove", 1, "jazzy", "triads", ["C"] * 4, 0, 120, None, mma_seed=1)
    jobs = [(c.__dict__, str(tmp_path / "program" / f"{i}.mid")) for i, c in enumerate(charts + [bad])]
    program = [_render(job) for job in jobs]
    with mp.get_context("fork").Pool(1, initializer=preload_mma) as pool:
        assert pool.apply(preload_mma)  # MMA's modules did load: the renders below are forked
        forked = pool.map(_render, [(c, out.replace("program", "forked")) for c, out in jobs])
    for (p_path, p_err), (f_path, f_err) in zip(program[:-1], forked[:-1]):
        assert not p_err and not f_err
        assert Path(p_path).read_bytes() == Path(f_path).read_bytes()
    assert program[-1][1] and forked[-1][1] and not Path(forked[-1][0]).exists()

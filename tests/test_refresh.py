"""The co-evolving discriminator: a known-answer refresh, and resume parity with refresh on."""

import shutil

import numpy as np
import pytest
import torch

from policies import load_policy
from rewards import REWARDS
from rlmusic.cli import main
from rlmusic.config.load import load_config
from rlmusic.config.sections import ClfConfig, DataConfig, TokenizerConfig
from rlmusic.data.corpus import Corpus, tokenize_folder
from rlmusic.data.jazz_data import read_manifest
from rlmusic.data.labelled import Labelled, labelled_from_corpus, labelled_from_selection
from rlmusic.data.tokens import build_tokenizer
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import list_checkpoints, load_checkpoint
from rlmusic.models.discriminator import Discriminator, load_discriminator, train_discriminator
from rlmusic.reward_contract import build_reward
from rlmusic.tracking import read_metrics
from rlmusic.train.ppo import STATE_SCHEMA, finetune
from rlmusic.train.refresh import Refresher, refresh_discriminator


def pads(tok, n: int, rng) -> list[list[int]]:
    """A fixed generator that only plays sustained chord pads: a three-note chord every two beats."""
    v = tok.vocab
    out = []
    for _ in range(n):
        ids = []
        for _bar in range(4):
            ids.append(v["Bar_None"])
            for pos in (0, 24):
                root = int(rng.integers(48, 60))
                ids.append(v[f"Position_{pos}"])
                for p in (root, root + 4, root + 7):
                    ids += [v[f"Pitch_{p}"], v["Duration_2.0.12"]]
        out.append(ids)
    return out


def _data(jazz_set, cache_dir):
    tok = build_tokenizer(TokenizerConfig())
    data = labelled_from_corpus(tokenize_folder(jazz_set, tok, DataConfig(workers=1, cache_dir=str(cache_dir)),
                                                progress=False), read_manifest(jazz_set))
    return tok, data


@pytest.mark.parametrize("matched, history", [(False, False), (True, False), (False, True)],
                         ids=["fresh-only", "matched", "history"])
def test_one_refresh_drives_pads_below_0_3_while_real_jazz_stays_above_0_7(matched, history, jazz_set, tiny_clf,
                                                                            cache_dir):
    tok, data = _data(jazz_set, cache_dir)
    train = data.select(np.array([s == "train" for s in data.splits]))
    real = [p[:96].tolist() for p, s, y in zip(data.pieces, data.splits, data.labels) if s == "test" and y == 1]
    rng = np.random.default_rng(0)
    disc = load_discriminator(tiny_clf)
    cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, steps=60, batch_size=16, lr=2e-3, min_window=32, max_window=96)
    # First a discriminator the pads fool, as PPO's samples fooled the frozen one: pads taught as jazz.
    fooled = pads(tok, 32, rng)
    with_pads = Labelled(
        train.pieces + [np.array(p) for p in fooled], np.r_[train.labels, np.ones(len(fooled), int)],
        train.groups + ["pads"] * len(fooled), train.splits + ["train"] * len(fooled), train.names + ["pad"] * len(fooled))
    torch.manual_seed(0)
    train_discriminator(disc, with_pads, cfg, progress=False)
    generator = pads(tok, 32, rng)  # fresh pads from the same generator
    assert disc.prob_jazz(generator).mean() > 0.7 and disc.prob_jazz(real).mean() > 0.7
    # One refresh: pads are fresh negatives in a quarter of every batch. With a history of twice
    # as many earlier samples the discriminator already rejects (non-jazz), the pads are a third
    # of those negatives, and the refresh still runs until the pads, not the pool, are below 0.3.
    jazz = [p for p, y in zip(train.pieces, train.labels) if y == 1] if matched else None
    earlier = ([p[:96].tolist() for p, y in zip(train.pieces, train.labels) if y == 0] * 4)[:64] if history else None
    if history:  # the test set's 18 non-jazz pieces, each drawn up to four times
        assert len(earlier) == 64 and disc.prob_jazz(earlier).mean() < 0.2
    stats = refresh_discriminator(disc, train, generator, cfg, steps=200, share=0.25, target=0.3, seed=1, held_out=real,
                                  matched=jazz, earlier=earlier)
    assert stats["clf/refresh_p_jazz_before"] > 0.7
    assert stats["clf/refresh_p_jazz_after"] < 0.3 and stats["clf/refresh_steps"] < 200
    assert stats["clf/refresh_real_jazz"] > 0.7
    assert disc.prob_jazz(pads(tok, 32, rng)).mean() < 0.3  # unseen pads too


def test_a_refresh_stops_before_real_jazz_stops_being_recognised(jazz_set, tiny_clf, cache_dir):
    tok, data = _data(jazz_set, cache_dir)
    train = data.select(np.array([s == "train" for s in data.splits]))
    real = [p[:96].tolist() for p, s, y in zip(data.pieces, data.splits, data.labels) if s == "test" and y == 1]
    cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, steps=60, batch_size=16, lr=2e-3, min_window=32, max_window=96)
    generator = pads(tok, 32, np.random.default_rng(0))
    runs = {}
    for floor in (0.0, 0.999):
        disc = load_discriminator(tiny_clf)
        # a target no refresh reaches: only the guard (or the budget) stops it
        runs[floor] = refresh_discriminator(disc, train, generator, cfg, steps=30, target=0.0, seed=1, held_out=real,
                                            real_floor=floor)
    assert runs[0.0]["clf/refresh_steps"] == 30
    # real jazz below the floor: no step is taken that could lower it further, and it is reported
    assert runs[0.999]["clf/refresh_steps"] == 0 and runs[0.999]["clf/refresh_real_jazz"] < 0.999


def test_ppo_resume_with_refresh_matches_a_straight_run(tmp_path, trained_run, jazz_set, tiny_clf, cache_dir):
    tok, data = _data(jazz_set, cache_dir)
    train = data.select(np.array([s == "train" for s in data.splits]))
    clf_cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, batch_size=8, lr=2e-3, min_window=16, max_window=96)
    matched = [p for p, y in zip(train.pieces, train.labels) if y == 1]

    def run(out, updates, disc, policy, state=None):
        cfg = load_config(None, {"ppo": {"out_dir": str(out), "updates": updates, "batch_size": 8, "minibatch_size": 4,
                                         "max_new_tokens": 24, "prompt": "bos", "epochs": 1, "lr": 1e-3,
                                         "save_every": 2, "keep_last": 0, "refresh_every": 1},
                                 "model": load_checkpoint(trained_run, load_policy).meta["config"]["model"]})
        ref = load_checkpoint(trained_run, load_policy).policy
        refresh = lambda update, recent: refresh_discriminator(disc, train, recent[-8:], clf_cfg, 5,  # noqa: E731
                                                               target=0.01, seed=update, matched=matched)
        finetune(cfg, policy, ref, tok, build_reward("repetition,jazz_clf", REWARDS, discriminator=disc),
                 resume_state=state, refresh=refresh, companions={"discriminator": disc.save}, progress=False)

    run(tmp_path / "a", 4, load_discriminator(tiny_clf), load_checkpoint(trained_run, load_policy).policy)
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-000002", tmp_path / "b" / "checkpoint-000002")
    half = load_checkpoint(tmp_path / "b", load_policy)
    assert (half.path / "discriminator" / "model.safetensors").is_file()
    torch.manual_seed(12345)  # a resumed process starts from other random state
    run(tmp_path / "b", 4, Discriminator.load(half.path / "discriminator"), half.policy, half.training_state(STATE_SCHEMA))
    a, b = (list_checkpoints(tmp_path / x)[-1] for x in "ab")
    for (name, x), y in zip(load_checkpoint(a, load_policy).policy.state_dict().items(),
                            load_checkpoint(b, load_policy).policy.state_dict().values()):
        assert torch.equal(x, y), name
    da, db = Discriminator.load(a / "discriminator"), Discriminator.load(b / "discriminator")
    assert all(torch.equal(x, y) for x, y in zip(da.state_dict().values(), db.state_dict().values()))
    # and it co-evolved: not the discriminator the run started from
    start = load_discriminator(tiny_clf)
    assert not all(torch.equal(x, y) for x, y in zip(start.state_dict().values(), da.state_dict().values()))


def test_a_refresh_trains_on_its_updates_and_the_history_before_them():
    """every=2, history=3: the refresh at update 6 trains on updates 5-6's rollouts with 2-4's as
    its history, oldest first; the one at update 4 on 3-4's with 1-2's; a resumed refresher the
    same as the uninterrupted one."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    one = SimpleNamespace(num_processes=1, is_main_process=True, autocast=lambda *a, **k: nullcontext())
    seen = {}
    refresher = Refresher(lambda update, rollouts, earlier: seen.setdefault(update, (rollouts, earlier)) and
                          {"refreshed": update}, every=2, history=3)
    rows = [refresher.step(u, [[u, 0], [u, 1]], one) for u in range(1, 7)]
    assert rows == [{}, {"refreshed": 2}, {}, {"refreshed": 4}, {}, {"refreshed": 6}]
    def updates(rows):
        return [r[0] for r in rows]

    assert [updates(x) for x in seen[2]] == [[1, 1, 2, 2], []]
    assert [updates(x) for x in seen[4]] == [[3, 3, 4, 4], [1, 1, 2, 2]]
    assert [updates(x) for x in seen[6]] == [[5, 5, 6, 6], [2, 2, 3, 3, 4, 4]]
    again = Refresher(lambda update, *rollouts: seen.setdefault(-update, rollouts) and {}, every=2, history=3)
    again.restore(refresher.state()[:-1])  # as a checkpoint written after update 5 holds it
    again.step(6, [[6, 0], [6, 1]], one)
    assert seen[-6] == seen[6]


def test_a_refresh_that_would_lose_real_jazz_is_rolled_back(jazz_set, tiny_clf, cache_dir):
    tok, data = _data(jazz_set, cache_dir)
    train = data.select(np.array([s == "train" for s in data.splits]))
    real = [p[:96].tolist() for p, s, y in zip(data.pieces, data.splits, data.labels) if s == "test" and y == 1]
    cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, steps=60, batch_size=16, lr=2e-2, min_window=32, max_window=96)
    disc = load_discriminator(tiny_clf)
    floor = float(disc.prob_jazz(real).mean()) - 1e-3  # any loss of recognition crosses it
    # real jazz as the "fresh" negatives, a big learning rate: recognition must fall, and is restored
    stats = refresh_discriminator(disc, train, real, cfg, steps=40, share=0.5, target=0.0, seed=3, held_out=real,
                                  real_floor=floor, check_every=5)
    assert stats.get("clf/refresh_rolled_back") == 1.0
    assert stats["clf/refresh_real_jazz"] >= floor


def test_every_fresh_negative_comes_with_a_real_jazz_positive_cut_like_it(jazz_set, tiny_clf, cache_dir):
    tok, data = _data(jazz_set, cache_dir)
    train = data.select(np.array([s == "train" for s in data.splits]))
    jazz = [p for p, y in zip(train.pieces, train.labels) if y == 1]
    cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, batch_size=16, lr=2e-3, min_window=32, max_window=96)
    fresh = [f[:n] for f, n in zip(pads(tok, 8, np.random.default_rng(0)), (20, 30, 40, 50, 60, 70, 80, 90))]
    for openings in (True, False):
        disc = load_discriminator(tiny_clf)
        batches, scores = [], disc.scores
        # what each step trains on
        disc.scores = lambda windows, seen=batches, real=scores: seen.append(windows) or real(windows)
        refresh_discriminator(disc, train, fresh, cfg, steps=3, share=0.25, target=0.0, seed=1, matched=jazz,
                              matched_openings=openings)
        train_batches = [b for b in batches if len(b) == cfg.batch_size]
        assert len(train_batches) == 3
        for batch in train_batches:
            negatives, positives = batch[-8:-4], batch[-4:]  # 4 fresh, then their 4 matched real windows
            assert all(w in fresh for w in negatives)
            assert [len(w) for w in positives] == [len(w) for w in negatives]
            starts = [[i for i, p in enumerate(jazz) if any(p[k : k + len(w)].tolist() == w
                                                            for k in range(len(p) - len(w) + 1))] for w in positives]
            assert all(starts), "every positive is cut from a real jazz piece"
            if openings:
                assert all(any(jazz[i][: len(w)].tolist() == w for i in idx) for idx, w in zip(starts, positives))


def test_a_corpus_selection_labels_jazz_by_name_and_holds_out_its_validation_split():
    corpus = Corpus(ids=np.arange(12, dtype=np.int32), offsets=np.array([0, 3, 6, 9, 12]),
                    names=["mma/jazz/swing_0", "essen/tune_1", "mma/other/polka_2", "mma/jazz/bebop_3"],
                    is_val=np.array([False, False, True, True]))
    data = labelled_from_selection(corpus, "/jazz/")
    assert data.labels.tolist() == [1, 0, 0, 1]
    assert data.splits == ["train", "train", "test", "test"]
    assert data.groups == ["mma/jazz", "essen", "mma/other", "mma/jazz"]
    assert [p.tolist() for p in data.pieces][3] == [9, 10, 11]
    with pytest.raises(RLMusicError, match="with and without '/blues/'"):
        labelled_from_selection(corpus, "/blues/")


def test_finetune_co_evolves_on_a_corpus_selection(tmp_path, trained_run, jazz_set, tiny_clf, cache_dir, capsys):
    """`ppo.refresh_from=corpus:/jazz/` end to end: no jazz set to build, the refreshes logged, and
    the co-evolved discriminator saved beside the policy."""
    out = tmp_path / "ft"
    assert main(["finetune", "--data", str(jazz_set), "--policy", str(trained_run), "--discriminator", str(tiny_clf),
                 "--reward", "repetition,jazz_clf", "--out", str(out), "ppo.updates=2", "ppo.batch_size=8",
                 "ppo.minibatch_size=4", "ppo.max_new_tokens=24", "ppo.prompt=bos", "ppo.refresh_every=1",
                 "ppo.refresh_steps=5", "ppo.refresh_target=0.001", "ppo.refresh_from=corpus:/jazz/", "data.workers=1",
                 "data.val_fraction=0.3"]) == 0
    rows = [r for r in read_metrics(out) if "clf/refresh_p_jazz_before" in r]
    assert len(rows) == 2 and all(r["clf/refresh_steps"] > 0 and 0 <= r["clf/refresh_real_jazz"] <= 1 for r in rows)
    saved = Discriminator.load(out / "checkpoint-000002" / "discriminator")
    start = load_discriminator(tiny_clf)
    assert not all(torch.equal(x, y) for x, y in zip(start.state_dict().values(), saved.state_dict().values()))
    assert main(["finetune", "--policy", str(trained_run), "--out", str(tmp_path / "bad"),
                 "ppo.refresh_from=jazz"]) == 2
    assert "ppo.refresh_from must be jazz_set, target or corpus:SELECTION" in capsys.readouterr().err
    # a selection with no held-out jazz would leave real jazz unguarded
    assert main(["finetune", "--data", str(jazz_set), "--policy", str(trained_run), "--discriminator", str(tiny_clf),
                 "--reward", "jazz_clf", "--out", str(tmp_path / "unguarded"), "ppo.refresh_every=1",
                 "ppo.refresh_from=corpus:/jazz/swing_0", "data.workers=1"]) == 2
    assert "holds out no jazz piece" in capsys.readouterr().err

"""``ppo.reward_quantiles``: the reward read as its quantile among the reference's rollouts."""

import math

import numpy as np
import pytest

from rewards import REWARDS
from rlmusic.config.load import load_config
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import list_checkpoints, read_training_state
from rlmusic.reward_contract import RewardBatch, WeightedReward, build_reward, reward
from rlmusic.train.ppo import STATE_SCHEMA, finetune
from rlmusic.train.quantile import STATE, QuantileReward, mid_quantiles


@reward("length", 0.0, math.inf)
def length(batch: RewardBatch) -> list[float]:
    return [float(len(ids)) for ids in batch.ids]


class NotesSeen:
    """Each piece's note count plus ``offset``, every batch's scores kept."""

    name, range = "notes", (0.0, math.inf)

    def __init__(self):
        self.batches: list[list[float]] = []
        self.offset = 0.0

    def __call__(self, batch: RewardBatch) -> list[float]:
        self.batches.append([float(len(piece.pitch)) + self.offset for piece in batch.pieces])
        return self.batches[-1]


def test_mid_quantiles_by_hand():
    """Reference (1, 2, 2, 3), K = 4: 0 is under all of it, (0 + 0 + 1/2) / 5; 2 is over one and
    ties two, (1 + 1 + 1/2) / 5; 3 over three, ties one, (3 + 1/2 + 1/2) / 5; 5 over all four,
    (4 + 1/2) / 5; NaN stays NaN."""
    q = mid_quantiles(np.array([1.0, 2.0, 2.0, 3.0]), np.array([0.0, 2.0, 3.0, 5.0, np.nan]))
    np.testing.assert_allclose(q[:4], [0.1, 0.5, 0.8, 0.9])
    assert np.isnan(q[4])


def test_the_total_is_ranked_and_the_terms_are_logged_as_they_were():
    quantiles = QuantileReward(WeightedReward([(length, 2.0)]), count=4)
    quantiles.fit(np.array([2.0, 4.0, 4.0, np.nan, 6.0]))  # the NaN rollout is left out of F
    np.testing.assert_array_equal(quantiles.reference, [2.0, 4.0, 4.0, 6.0])
    batch = RewardBatch([[], [1], [1, 2, 3], [1] * 5], tokenizer=None)  # totals 0, 2, 6, 10
    scores, parts = quantiles(batch)
    np.testing.assert_allclose(scores, np.log([0.1, 0.2, 0.8, 0.9]))  # 2 ties the lowest: (0 + 1/2 + 1/2) / 5
    logged = quantiles.log_values(parts)
    assert logged["reward/length"] == pytest.approx(2.25)
    assert logged["reward/length_weighted"] == pytest.approx(4.5)
    assert logged["reward/raw"] == pytest.approx(4.5)
    assert logged["reward/quantile"] == pytest.approx(0.5)
    again = QuantileReward(WeightedReward([(length, 2.0)]), count=4)
    again.restore(quantiles.state())
    np.testing.assert_array_equal(again(batch)[0], scores)


def test_what_cannot_be_ranked_against_a_fixed_table_is_refused():
    with pytest.raises(RLMusicError, match="novelty scores a sample by the samples before it"):
        QuantileReward(build_reward("repetition,novelty", REWARDS), count=16)
    for ppo in ({"reward_quantiles": 1}, {"reward_quantiles": 16, "algo": "grpo"}):
        with pytest.raises(RLMusicError, match="ppo.reward_quantiles"):
            load_config(None, {"ppo": ppo})
    with pytest.raises(RLMusicError, match="reference rollouts"):
        QuantileReward(WeightedReward([(length, 1.0)]), count=4).fit(np.array([np.nan, 1.0]))


def test_inside_a_real_run_each_update_scores_the_rollouts_quantile_among_the_references(
        tmp_path, trained_run, monkeypatch):
    """A finetune run with ppo.reward_quantiles: the reference's rollouts are drawn once, before
    the first update, and kept in the checkpoint; every update's scores (what the KL-shaped
    rewards receive) are the log of each rollout's rank among them, counted here by comparison;
    a resumed run ranks against the same table without drawing it again."""
    import rlmusic.train.ppo as ppo_module
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    notes = NotesSeen()
    seen, drawn = [], []
    real_shaped, real_draw = ppo_module.kl_shaped_rewards, ppo_module.reference_rollouts

    def recording_shaped(logprobs, ref_logprobs, scores, mask, beta):
        seen.append(scores.clone())
        return real_shaped(logprobs, ref_logprobs, scores, mask, beta)

    def recording_draw(*args, **kwargs):
        drawn.append(real_draw(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(ppo_module, "kl_shaped_rewards", recording_shaped)
    monkeypatch.setattr(ppo_module, "reference_rollouts", recording_draw)
    start = load_checkpoint(trained_run, load_policy)
    ppo = {"out_dir": str(tmp_path / "ppo"), "updates": 2, "batch_size": 8, "minibatch_size": 4,
           "max_new_tokens": 40, "min_new_tokens": 40, "prompt": "bos", "epochs": 1, "reward": "notes",
           "reward_quantiles": 24, "adaptive_kl": False, "kl_coef": 1 / 7, "save_every": 1}
    cfg = load_config(None, {"ppo": ppo, "model": start.meta["config"]["model"]})
    quantiles = QuantileReward(WeightedReward([(notes, 1.0)]), cfg.ppo.reward_quantiles)
    reference = load_checkpoint(trained_run, load_policy).policy
    finetune(cfg, start.policy, reference, start.tokenizer, quantiles, progress=False)

    assert len(drawn) == 1 and len(drawn[0][0]) == len(drawn[0][1]) == 24
    assert len(notes.batches[0]) == 24  # the reference's own rollouts, scored first
    table = np.sort(notes.batches[0])
    assert len(np.unique(table)) > 5  # the notes of 40-token rollouts vary: a real ranking
    np.testing.assert_array_equal(quantiles.reference, table)
    rollouts = notes.batches[1:]
    assert len(rollouts) == len(seen) == 2
    for raw, scores in zip(rollouts, seen):
        raw = np.array(raw)
        q = ((table[None] < raw[:, None]).sum(1) + 0.5 * (table[None] == raw[:, None]).sum(1) + 0.5) / 25
        np.testing.assert_allclose(scores.numpy(), np.log(q), rtol=1e-6)

    checkpoint = list_checkpoints(tmp_path / "ppo")[-1]
    state = read_training_state(checkpoint, STATE_SCHEMA)
    np.testing.assert_array_equal(state["reward_state"][STATE]["reference"], table)
    resumed = QuantileReward(WeightedReward([(NotesSeen(), 1.0)]), cfg.ppo.reward_quantiles)
    more = load_config(None, {"ppo": ppo | {"updates": 3}, "model": start.meta["config"]["model"]})
    run = load_checkpoint(checkpoint, load_policy)
    finetune(more, run.policy, load_checkpoint(trained_run, load_policy).policy, start.tokenizer, resumed,
             resume_state=run.training_state(STATE_SCHEMA), progress=False)
    assert len(drawn) == 1  # not drawn again
    np.testing.assert_array_equal(resumed.reference, table)


def test_after_a_refresh_the_references_rollouts_are_scored_again(tmp_path, trained_run):
    """A co-evolving reward changes at every refresh; F follows it: the same reference rollouts,
    scored by the reward as the refresh left it (here every score moved up by 100 at update 2)."""
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    notes = NotesSeen()

    def refresh(update: int, rollouts: list[list[int]]) -> dict:
        notes.offset += 100.0
        return {"clf/refresh_steps": 1.0}

    start = load_checkpoint(trained_run, load_policy)
    cfg = load_config(None, {"ppo": {"out_dir": str(tmp_path / "ppo"), "updates": 3, "batch_size": 8,
                                     "minibatch_size": 8, "max_new_tokens": 40, "min_new_tokens": 40,
                                     "prompt": "bos", "epochs": 1, "reward": "notes", "reward_quantiles": 16,
                                     "refresh_every": 2},
                             "model": start.meta["config"]["model"]})
    quantiles = QuantileReward(WeightedReward([(notes, 1.0)]), 16)
    finetune(cfg, start.policy, load_checkpoint(trained_run, load_policy).policy, start.tokenizer, quantiles,
             refresh=refresh, progress=False)
    first, again = notes.batches[0], notes.batches[3]  # the reference; updates 1 and 2; the reference again
    assert len(first) == len(again) == 16
    np.testing.assert_array_equal(np.array(again) - 100.0, first)
    np.testing.assert_array_equal(quantiles.reference, np.sort(again))

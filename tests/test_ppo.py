"""PPO numerics against hand-computed cases, and a tiny end-to-end run that raises a reward."""

import math

import numpy as np
import pytest
import torch

from policies import build_policy
from rewards import REWARDS
from rlmusic.config.load import load_config
from rlmusic.config.sections import ModelConfig
from rlmusic.data.corpus import Corpus
from rlmusic.data.tokens import build_tokenizer, special_ids
from rlmusic.errors import RLMusicError
from rlmusic.reward_contract import build_reward
from rlmusic.tracking import read_metrics
from rlmusic.train.ppo import (
    AdaptiveKLController,
    finetune,
    gae,
    kl_shaped_rewards,
    logprobs_values,
    masked_whiten,
    policy_loss,
    response_mask,
    returns_rms,
    value_loss,
)
from rlmusic.train.pretrain import pretrain


def test_gae_by_hand():
    r = torch.tensor([[0.0, 0.0, 1.0]])
    v = torch.tensor([[0.5, 0.5, 0.5]])
    m = torch.ones(1, 3)
    adv, ret = gae(r, v, m, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[0.5, 0.5, 0.5]]))  # Monte Carlo return 1 minus value 0.5
    assert torch.allclose(ret, torch.tensor([[1.0, 1.0, 1.0]]))
    adv, _ = gae(r, v, m, gamma=0.9, lam=0.8)
    # delta2 = 1 - .5 = .5; delta1 = .9*.5 - .5 = -.05; delta0 = -.05
    # A2 = .5; A1 = -.05 + .72*.5 = .31; A0 = -.05 + .72*.31 = .1732
    assert torch.allclose(adv, torch.tensor([[0.1732, 0.31, 0.5]]))


def test_gae_ignores_everything_past_the_end():
    r = torch.tensor([[0.0, 1.0, 7.0]])
    v = torch.tensor([[0.5, 0.5, 9.0]])
    m = torch.tensor([[1.0, 1.0, 0.0]])
    adv, ret = gae(r, v, m, gamma=1.0, lam=0.95)
    # A1 = 1 + 0 - .5 = .5 (terminal); A0 = (0 + .5 - .5) + .95 * .5 = .475
    assert torch.allclose(adv, torch.tensor([[0.475, 0.5, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[0.975, 1.0, 0.0]]))


def test_kl_shaped_rewards_by_hand():
    lp = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -2.0, -2.0], [-1.0, -2.0, -1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    rewards, kl = kl_shaped_rewards(lp, ref, torch.tensor([2.0, -1.0]), mask, beta=0.1)
    assert torch.allclose(kl, torch.tensor([[0.5, 0.0, -1.0], [0.0, 1.0, 0.0]]))
    # score at each sequence's last valid token: index 2 for the first, 1 for the second
    assert torch.allclose(rewards, torch.tensor([[-0.05, 0.0, 2.1], [0.0, -1.1, 0.0]]))


def test_clipped_policy_loss_by_hand():
    new = torch.tensor([[0.5, 0.5]])
    old = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    r = math.exp(0.5)  # 1.6487 > 1.2
    loss, stats = policy_loss(new, old, torch.tensor([[1.0, 1.0]]), mask, 0.2)
    assert loss.item() == pytest.approx(-1.2) and stats["clipfrac"].item() == 1.0  # gain capped at 1+eps
    loss, stats = policy_loss(new, old, torch.tensor([[-1.0, -1.0]]), mask, 0.2)
    assert loss.item() == pytest.approx(r) and stats["clipfrac"].item() == 0.0  # a loss is never clipped away
    assert stats["approx_kl"].item() == pytest.approx((r - 1) - 0.5)
    loss, _ = policy_loss(torch.zeros(1, 2), old, torch.tensor([[1.0, -3.0]]), mask, 0.2)
    assert loss.item() == pytest.approx(1.0)  # ratio 1: -mean(A)


def test_clipped_value_loss_by_hand():
    loss, clipfrac = value_loss(torch.tensor([[1.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]),
                                torch.ones(1, 1), 0.2)
    assert loss.item() == pytest.approx(0.5 * 0.8**2) and clipfrac.item() == 1.0  # clipped to 0.2
    loss, clipfrac = value_loss(torch.tensor([[0.1]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]),
                                torch.ones(1, 1), 0.2)
    assert loss.item() == pytest.approx(0.5 * 0.9**2) and clipfrac.item() == 0.0


def test_whitening_and_response_mask():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    m = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    w = masked_whiten(x, m)
    assert torch.allclose(w, torch.tensor([[-1.0, 0.0, 1.0, 0.0]]), atol=1e-4)  # unbiased std of 1,2,3 is 1
    resp = torch.tensor([[5, 2, 0, 0], [5, 6, 7, 8], [2, 0, 0, 0]])
    assert response_mask(resp, eos=2, pad=0).tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]


def test_adaptive_kl_controller():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    ctl.update(12.0, 32)  # error clipped to +0.2
    assert ctl.value == pytest.approx(0.1 * (1 + 0.2 * 32 / 10000))
    ctl.update(6.0, 32)
    assert ctl.value == pytest.approx(0.1 * (1 + 0.2 * 32 / 10000))


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_ratio_is_one_on_the_first_minibatch_and_the_gradient_points_up(name):
    torch.manual_seed(0)
    policy = build_policy(ModelConfig(policy=name, n_layer=2, n_head=2, n_embd=32, block_size=64, dropout=0.1),
                          40, {"pad": 0, "bos": 1, "eos": 2}).eval()
    ids = torch.randint(3, 40, (4, 20))
    with torch.no_grad():
        old, _, _ = logprobs_values(policy, ids, 5, 1.0)
    new, values, _ = logprobs_values(policy, ids[:2], 5, 1.0)  # a minibatch of the same rollouts
    assert torch.allclose(new, old[:2], atol=1e-6)
    adv = torch.zeros_like(new)
    adv[:, 3] = 1.0  # reward one token per row: its probability must go up
    adv[:, 7] = -1.0  # and this one down
    loss, stats = policy_loss(new, old[:2], adv, torch.ones_like(new), 0.2)
    assert stats["ratio"].item() == pytest.approx(1.0, abs=1e-6)
    opt = torch.optim.SGD(policy.parameters(), lr=0.5)
    loss.backward()
    opt.step()
    with torch.no_grad():
        after, _, _ = logprobs_values(policy, ids[:2], 5, 1.0)
    assert (after[:, 3] > old[:2, 3]).all() and (after[:, 7] < old[:2, 7]).all()


def _looping_corpus(tok) -> Corpus:
    """Pieces that hammer middle C: a policy pretrained on these plays AAAA-loops from its first
    steps on (even the unigram solution emits only Pitch_60)."""
    v = tok.vocab
    pieces = []
    for p in [60] * 12:
        bar = [v["Bar_None"]] + sum(([v[f"Position_{12 * i}"], v[f"Pitch_{p}"], v["Duration_1.0.12"]]
                                     for i in range(4)), [])
        pieces.append(np.array(bar * 6))
    ids = np.concatenate(pieces)
    offsets = np.r_[0, np.cumsum([len(x) for x in pieces])]
    return Corpus(ids, offsets, [f"loop{i}" for i in range(len(pieces))], np.zeros(len(pieces), bool), {})


def test_tiny_ppo_run_raises_the_repetition_reward(tmp_path):
    tok = build_tokenizer(load_config().tokenizer)
    corpus = _looping_corpus(tok)
    cfg = load_config(None, {
        "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 80, "dropout": 0.0},
        "pretrain": {"out_dir": str(tmp_path / "pre"), "max_steps": 60, "batch_size": 8, "lr": 5e-3,
                     "warmup_steps": 2, "eval_every": 60, "save_every": 60, "augment_transpose": 0},
        "ppo": {"out_dir": str(tmp_path / "ppo"), "updates": 30, "batch_size": 32, "minibatch_size": 16,
                "max_new_tokens": 64, "prompt": "bos", "epochs": 2, "lr": 3e-3, "kl_coef": 0.01,
                "save_every": 10, "reward": "repetition"}})
    torch.manual_seed(0)
    policy = build_policy(cfg.model, len(tok), special_ids(tok))
    pretrain(cfg, policy, tok, corpus, progress=False)
    reference = build_policy(cfg.model, len(tok), special_ids(tok))
    reference.load_state_dict(policy.state_dict())
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    reward = build_reward("repetition", REWARDS)
    last = finetune(cfg, policy, reference, tok, reward, progress=False)
    rows = read_metrics(tmp_path / "ppo")
    first = np.mean([r["reward/repetition"] for r in rows[:3]])
    final = np.mean([r["reward/repetition"] for r in rows[-5:]])
    assert first < -0.15  # the pretrained policy loops (or plays nothing)
    assert final > first + 0.1, [round(r["reward/repetition"], 3) for r in rows]
    assert any(not torch.equal(before[k], v) for k, v in policy.state_dict().items())
    assert last.name == "checkpoint-000030" and last.is_dir()
    assert {"reward/total", "objective/kl", "objective/entropy", "policy/approx_kl", "policy/clipfrac",
            "loss/policy", "loss/value", "value/explained_variance", "time/rollout", "time/update",
            "perf/tokens_per_s", "reward/repetition_weighted"} <= set(rows[-1])


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_recorded_rollout_equals_a_full_forward(name):
    from rlmusic.config.sections import SampleConfig
    from rlmusic.models.policy import sample_recorded

    torch.manual_seed(0)
    policy = build_policy(ModelConfig(policy=name, n_layer=2, n_head=2, n_embd=32, block_size=64), 40,
                          {"pad": 0, "bos": 1, "eos": 2}).eval()
    prompts = torch.ones(3, 4, dtype=torch.long)
    ids, seen = sample_recorded(policy, prompts, SampleConfig(max_new_tokens=20, temperature=0.7),
                                torch.Generator().manual_seed(1), stop_at_eos=False)
    with torch.no_grad():
        logprobs, values, entropy = logprobs_values(policy, ids, 4, 0.7)
        bare = logprobs_values(policy, ids, 4, 0.7, with_entropy=False, with_values=False)  # as the reference reads
    assert torch.allclose(seen.logprobs, logprobs, atol=1e-5)
    assert torch.allclose(seen.values, values, atol=1e-5)
    assert torch.allclose(seen.entropy, entropy, atol=1e-5)
    assert torch.equal(bare[0], logprobs) and bare[1] is None and bare[2] is None


def test_with_eos_held_back_the_log_probabilities_are_those_drawn_from():
    """``min_new_tokens``: rollouts draw from the distribution without EOS for that many tokens,
    and read their log-probabilities from it, as a full forward does; were EOS's probability
    left in, a policy that raises it (it is never drawn, so nothing pulls it back) would see
    every drawn token as less likely than it is, and the KL to the reference turn negative."""
    from rlmusic.config.sections import SampleConfig
    from rlmusic.models.policy import sample_recorded

    torch.manual_seed(0)
    policy = build_policy(ModelConfig(n_layer=2, n_head=2, n_embd=32, block_size=64), 40, {"pad": 0, "bos": 1, "eos": 2})
    policy.eval()
    prompts = torch.ones(8, 1, dtype=torch.long)
    with torch.no_grad():  # EOS very likely everywhere: its output row along the mean hidden state
        h = policy.lm.base_model(torch.randint(3, 40, (8, 12))).last_hidden_state.mean((0, 1))
        policy.lm.get_output_embeddings().weight[2] = 8 * h / h.square().sum()
    ids, seen = sample_recorded(policy, prompts, SampleConfig(max_new_tokens=12, min_new_tokens=12),
                                torch.Generator().manual_seed(1), stop_at_eos=False)
    assert not (ids[:, 1:] == 2).any()
    with torch.no_grad():
        held, _, entropy = logprobs_values(policy, ids, 1, 1.0, min_new_tokens=12)
        free, _, _ = logprobs_values(policy, ids, 1, 1.0)
        logits = policy(ids[:, :-1], with_values=False).logits[:, 0:].float()
    logits[..., 2] = float("-inf")
    expected = torch.log_softmax(logits, -1).gather(2, ids[:, 1:, None]).squeeze(2)
    assert torch.allclose(seen.logprobs, expected, atol=1e-5) and torch.allclose(held, expected, atol=1e-5)
    assert torch.allclose(seen.entropy, entropy, atol=1e-5)
    assert (free <= held + 1e-6).all()  # with EOS's mass left in, every drawn token looks less likely,
    assert (free - held).sum(1).mean() < -5.0  # by nats per sample: the KL estimate would turn negative


def _closed_form_gae(rewards: np.ndarray, values: np.ndarray, mask: np.ndarray, gamma: float, lam: float):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, delta_t = r_t + gamma V_{t+1} - V_t, all past the
    sequence's end zero: a direct double sum, independent of the backward recursion."""
    r, v = rewards * mask, values * mask
    b, n = r.shape
    v_next = np.concatenate([v[:, 1:], np.zeros((b, 1))], axis=1)
    delta = r + gamma * v_next - v
    adv = np.zeros_like(r)
    for t in range(n):
        for k in range(t, n):
            adv[:, t] += (gamma * lam) ** (k - t) * delta[:, k]
    return adv * mask, (adv * mask + v) * mask


@pytest.mark.parametrize("gamma, lam", [(1.0, 1.0), (1.0, 0.95), (0.9, 0.8)])
def test_gae_inside_a_real_update_matches_the_closed_form(tmp_path, trained_run, monkeypatch, gamma, lam):
    """SB3's test_gae, here: the advantages of a real finetune update (rollouts of different
    lengths, so masks end at EOS or at the sample's end) against the closed form."""
    import rlmusic.train.ppo as ppo_module
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    seen = []
    real_gae = ppo_module.gae

    def recording_gae(rewards, values, mask, g, lm):
        out = real_gae(rewards, values, mask, g, lm)
        seen.append((rewards.clone(), values.clone(), mask.clone(), g, lm, out[0].clone(), out[1].clone()))
        return out

    monkeypatch.setattr(ppo_module, "gae", recording_gae)
    start = load_checkpoint(trained_run, load_policy)
    ref = load_checkpoint(trained_run, load_policy).policy
    cfg = load_config(None, {"ppo": {"out_dir": str(tmp_path / "ppo"), "updates": 2, "batch_size": 8,
                                     "minibatch_size": 4, "max_new_tokens": 40, "prompt": "bos", "epochs": 1,
                                     "gamma": gamma, "lam": lam, "reward": "repetition", "eos_expected": False},
                             "model": start.meta["config"]["model"]})
    finetune(cfg, start.policy, ref, start.tokenizer, build_reward("repetition", REWARDS), progress=False)
    assert len(seen) == 2
    lengths = set()
    for rewards, values, mask, g, lm, adv, ret in seen:
        assert (g, lm) == (gamma, lam)
        expected_adv, expected_ret = _closed_form_gae(rewards.double().numpy(), values.double().numpy(),
                                                      mask.double().numpy(), gamma, lam)
        np.testing.assert_allclose(adv.double().numpy(), expected_adv, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ret.double().numpy(), expected_ret, rtol=1e-4, atol=1e-5)
        lengths |= set(mask.sum(1).tolist())
    assert len(lengths) > 1  # the masks really differ between rollouts


def returns_to_go(rewards: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(B, N): at gamma 1, the sum of each row's masked rewards from each token to the end."""
    return np.flip(np.cumsum(np.flip(rewards * mask, 1), 1), 1) * mask


def test_returns_rms_by_hand():
    """Rewards (1, 2, 3) and (4, pad): returns-to-go (6, 5, 3) and (4), RMS sqrt(86 / 4);
    discounted by 0.5: (2.75, 3.5, 3) and (4)."""
    rewards = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert float(returns_rms(rewards, mask, 1.0)) == pytest.approx(math.sqrt(86 / 4))
    assert float(returns_rms(rewards, mask, 0.5)) == pytest.approx(math.sqrt((2.75**2 + 3.5**2 + 9 + 16) / 4))


def test_scaled_rewards_inside_a_real_update_are_the_kl_shaped_rewards_over_their_returns_rms(
        tmp_path, trained_run, monkeypatch):
    """With ppo.scale_rewards, GAE sees the KL-shaped rewards of that update divided by the root
    mean square of their returns-to-go (so those returns have RMS 1; zero past the end)."""
    import rlmusic.train.ppo as ppo_module
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    shaped, seen = [], []
    real_shaped, real_gae = ppo_module.kl_shaped_rewards, ppo_module.gae

    def recording_shaped(*args):
        out = real_shaped(*args)
        shaped.append(out[0].clone())
        return out

    def recording_gae(rewards, values, mask, g, lm):
        if lm != 1.0:  # the advantages' call, not returns_rms's own
            seen.append((rewards.clone(), mask.clone()))
        return real_gae(rewards, values, mask, g, lm)

    monkeypatch.setattr(ppo_module, "kl_shaped_rewards", recording_shaped)
    monkeypatch.setattr(ppo_module, "gae", recording_gae)
    start = load_checkpoint(trained_run, load_policy)
    ref = load_checkpoint(trained_run, load_policy).policy
    cfg = load_config(None, {"ppo": {"out_dir": str(tmp_path / "ppo"), "updates": 2, "batch_size": 8,
                                     "minibatch_size": 4, "max_new_tokens": 40, "prompt": "bos", "epochs": 1,
                                     "reward": "repetition", "scale_rewards": True, "kl_coef": 1.0, "lam": 0.95},
                             "model": start.meta["config"]["model"]})
    finetune(cfg, start.policy, ref, start.tokenizer, build_reward("repetition", REWARDS), progress=False)
    assert len(seen) == len(shaped) == 2
    for raw, (rewards, mask) in zip(shaped, seen):
        raw, rewards, m = raw.double().numpy(), rewards.double().numpy(), mask.double().numpy()
        to_go = returns_to_go(raw, m)
        rms = math.sqrt((to_go**2).sum() / m.sum())
        assert rms > 0
        np.testing.assert_allclose(rewards, raw / rms * m, rtol=1e-4, atol=1e-6)
        scaled_to_go = returns_to_go(rewards, m)
        assert math.sqrt((scaled_to_go**2).sum() / m.sum()) == pytest.approx(1.0, rel=1e-4)


def test_min_new_tokens_keeps_every_rollout_to_its_full_length(tmp_path, trained_run):
    """The rollouts above end at different lengths; with EOS held back for all 40 tokens, none
    ends early, and PPO's masks cover every token."""
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    start = load_checkpoint(trained_run, load_policy)
    ref = load_checkpoint(trained_run, load_policy).policy
    cfg = load_config(None, {"ppo": {"out_dir": str(tmp_path / "ppo"), "updates": 2, "batch_size": 8,
                                     "minibatch_size": 4, "max_new_tokens": 40, "min_new_tokens": 40,
                                     "prompt": "bos", "epochs": 1, "reward": "repetition"},
                             "model": start.meta["config"]["model"]})
    finetune(cfg, start.policy, ref, start.tokenizer, build_reward("repetition", REWARDS), progress=False)
    rows = read_metrics(tmp_path / "ppo")
    assert [r["rollout/length"] for r in rows] == [40.0, 40.0]
    assert [r["rollout/eos_fraction"] for r in rows] == [0.0, 0.0]


def descend(update: int, recent: list[list[int]]) -> dict[str, float]:
    """A refresh in miniature: three SGD steps on a linear least-squares fit, as the
    discriminator's refresh takes optimizer steps inside the run's precision. 1.0 when every
    forward after a step saw the stepped weights (each loss below the one before it)."""
    gen = torch.Generator().manual_seed(update)
    lin, x = torch.nn.Linear(16, 1), torch.randn(32, 16, generator=gen)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        loss = lin(x).float().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"test/refresh_fresh_weights": float(all(b < a for a, b in zip(losses, losses[1:])))}


def test_bf16_on_the_cpu_keeps_rollouts_fp32_and_the_first_ratio_near_one(tmp_path, trained_run):
    """ppo.mixed_precision=bf16 on the CPU: rollouts (and so the first update's samples) are the
    fp32 run's exactly, the update's bf16 forward gives a first-minibatch ratio within 1% of 1,
    a refresh's optimizer steps inside the run's precision each see the last step's weights, and
    one process may switch precision between stages (fp32 run first, then bf16)."""
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    samples = {}
    for precision in ("no", "bf16"):
        start = load_checkpoint(trained_run, load_policy)
        ref = load_checkpoint(trained_run, load_policy).policy
        out = tmp_path / precision
        cfg = load_config(None, {"ppo": {"out_dir": str(out), "updates": 2, "batch_size": 8, "minibatch_size": 8,
                                         "max_new_tokens": 24, "min_new_tokens": 24, "prompt": "bos", "epochs": 1,
                                         "reward": "repetition", "sample_every": 1},
                                 "model": start.meta["config"]["model"]})
        cfg.ppo.mixed_precision, cfg.ppo.refresh_every = precision, 1
        finetune(cfg, start.policy, ref, start.tokenizer, build_reward("repetition", REWARDS), progress=False, cpu=True,
                 refresh=descend)
        rows = read_metrics(out)
        assert len(rows) == 2 and all(math.isfinite(r["loss/policy"]) for r in rows)
        # each refresh step's forward sees the previous step's weights (not autocast's cached cast)
        assert all(r["test/refresh_fresh_weights"] == 1.0 for r in rows)
        assert abs(rows[0]["policy/ratio"] - 1) < (1e-6 if precision == "no" else 1e-2)
        samples[precision] = sorted((p.name, p.read_bytes()) for p in (out / "samples" / "update_00001").glob("*.mid"))
    assert samples["no"] and samples["bf16"] == samples["no"]


def test_make_accelerator_switches_precision_within_a_process():
    from rlmusic.train.accel import make_accelerator

    assert make_accelerator("no", cpu=True).mixed_precision == "no"
    assert make_accelerator("bf16", cpu=True).mixed_precision == "bf16"
    assert make_accelerator("no", cpu=True).mixed_precision == "no"


def test_the_entropy_bonus_raises_the_rollouts_entropy(tmp_path, trained_run):
    """``ppo.ent_coef``: the update reads the entropy only when there is a bonus to give it; with
    one, the same seeds and rewards end at a more uncertain policy than without."""
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    entropy = {}
    for coef in (0.0, 1.0):
        start = load_checkpoint(trained_run, load_policy)
        ref = load_checkpoint(trained_run, load_policy).policy
        out = tmp_path / f"ppo{coef}"
        cfg = load_config(None, {"ppo": {"out_dir": str(out), "updates": 6, "batch_size": 8, "minibatch_size": 8,
                                         "max_new_tokens": 24, "prompt": "bos", "epochs": 2, "lr": 3e-3,
                                         "ent_coef": coef, "reward": "repetition"},
                                 "model": start.meta["config"]["model"]})
        finetune(cfg, start.policy, ref, start.tokenizer, build_reward("repetition", REWARDS), progress=False)
        rows = read_metrics(out)
        entropy[coef] = np.mean([r["objective/entropy"] for r in rows[-2:]])
    assert entropy[1.0] > entropy[0.0] + 0.05, entropy


def test_without_a_critic_the_advantages_are_the_whitened_returns_to_go(tmp_path, trained_run, monkeypatch):
    """ppo.value_head=false: GAE sees zero values, so (lam 1) each token's advantage before
    whitening is the sum of the KL-shaped rewards from it to the rollout's end; the value head
    gets no gradient and no value loss is logged."""
    import rlmusic.train.ppo as ppo_module
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    seen, whitened = [], []
    real_gae, real_whiten = ppo_module.gae, ppo_module.masked_whiten

    def recording_gae(rewards, values, mask, g, lm):
        seen.append((rewards.clone(), values.clone(), mask.clone()))
        return real_gae(rewards, values, mask, g, lm)

    def recording_whiten(x, mask, shift_mean=True):
        whitened.append(x.clone())
        return real_whiten(x, mask, shift_mean)

    monkeypatch.setattr(ppo_module, "gae", recording_gae)
    monkeypatch.setattr(ppo_module, "masked_whiten", recording_whiten)
    start = load_checkpoint(trained_run, load_policy)
    before = {k: v.clone() for k, v in start.policy.named_parameters()}
    assert any(k.startswith("value_head") for k in before)
    ref = load_checkpoint(trained_run, load_policy).policy
    cfg = load_config(None, {"ppo": {"out_dir": str(tmp_path / "ppo"), "updates": 2, "batch_size": 8,
                                     "minibatch_size": 4, "max_new_tokens": 40, "prompt": "bos", "epochs": 2,
                                     "reward": "repetition", "value_head": False, "lam": 1.0, "kl_coef": 0.2},
                             "model": start.meta["config"]["model"]})
    finetune(cfg, start.policy, ref, start.tokenizer, build_reward("repetition", REWARDS), progress=False)
    assert len(seen) == len(whitened) == 2
    for (rewards, values, mask), adv in zip(seen, whitened):
        assert not values.any()
        r, m = rewards.double().numpy(), mask.double().numpy()
        to_go = returns_to_go(r, m)
        np.testing.assert_allclose(adv.double().numpy(), to_go, rtol=1e-5, atol=1e-6)
        assert np.abs(r).sum() > 0
    after = dict(start.policy.named_parameters())
    assert all(torch.equal(after[k], v) for k, v in before.items() if k.startswith("value_head"))
    assert any(not torch.equal(after[k], v) for k, v in before.items() if not k.startswith("value_head"))
    rows = read_metrics(tmp_path / "ppo")
    assert all("loss/value" not in r and "value/explained_variance" not in r for r in rows)
    with pytest.raises(RLMusicError, match="ppo.lam=1"):
        load_config(None, {"ppo": {"value_head": False}})

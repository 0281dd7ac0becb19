"""The gymnasium environment passes gymnasium's checker; TRL's GRPO/RLOO run with our rewards."""

import pytest
from gymnasium.utils.env_checker import check_env

from rewards import REWARDS
from rlmusic.cli import main
from rlmusic.config.sections import TokenizerConfig
from rlmusic.data.tokens import build_tokenizer
from rlmusic.reward_contract import build_reward
from rlmusic.tracking import read_metrics
from rlmusic.train.env import MusicEnv


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(TokenizerConfig())


def test_music_env_passes_gymnasium_checker(tok):
    env = MusicEnv(tok, build_reward("repetition,tonic=0.5", REWARDS), max_length=32, window=16)
    check_env(env, skip_render_check=True)


def test_music_env_episode_by_hand(tok):
    env = MusicEnv(tok, build_reward("repetition,tonic=0.5", REWARDS), max_length=40, window=8)
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0] * 7 + [tok.vocab["BOS_None"]]
    v = tok.vocab
    notes = [v["Bar_None"]] + sum(([v[f"Position_{12 * i}"], v[f"Pitch_{p}"], v["Duration_1.0.12"]]
                                   for i, p in enumerate([60, 64, 67, 72])), [])
    for a in notes:
        obs, r, term, trunc, info = env.step(a)
        assert r == 0.0 and not term and not trunc
    obs, r, term, trunc, info = env.step(v["EOS_None"])
    assert term and not trunc
    # C E G C in one bar: no repetition (0), starts and ends on the tonic (1): 0 + 0.5 * 1
    assert info["rewards"] == {"repetition": 0.0, "tonic": 1.0} and r == 0.5
    env.reset()
    for _ in range(40):
        obs, r, term, trunc, info = env.step(v["Bar_None"])
    assert trunc and not term and info["length"] == 40 and r == -1.0  # no notes at all


@pytest.mark.parametrize("algo", ["grpo", "rloo"])
def test_trl_trainers_run_with_our_rewards(algo, trained_run, tmp_path):
    out = tmp_path / algo
    argv = ["finetune", "--policy", str(trained_run), "--reward", "repetition,tonic=0.5", "--algo", algo,
            "--out", str(out), "ppo.updates=2", "ppo.batch_size=8", "ppo.group_size=4", "ppo.max_new_tokens=16",
            "ppo.prompt=bos"]
    assert main(argv) == 0
    rows = read_metrics(out)
    assert len([r for r in rows if "reward/repetition" in r]) == 2
    assert (out / "checkpoint-000002" / "model.safetensors").is_file()


@pytest.mark.parametrize("precision, bf16", [("bf16", True), ("no", False), ("auto", None)])
def test_trl_trainers_take_ppo_mixed_precision(precision, bf16, tmp_path):
    """``ppo.mixed_precision`` reaches TRL as it reaches our PPO: bf16 asked for is bf16 on the CPU
    too; ``auto`` is bf16 only on a CUDA device that has it."""
    import torch

    from rlmusic.config.load import load_config
    from rlmusic.train.trl_algos import trl_config

    cfg = load_config(None, {"ppo": {"mixed_precision": precision, "out_dir": str(tmp_path), "group_size": 4}})
    args = trl_config(cfg, "grpo", build_reward("repetition", REWARDS))
    expected = (torch.cuda.is_available() and torch.cuda.is_bf16_supported()) if bf16 is None else bf16
    assert args.bf16 is expected and args.fp16 is False

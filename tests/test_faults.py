"""Faults lose nothing: a kill during a real save, resume parity for PPO, non-finite guards."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from policies import build_policy, load_policy
from rewards import REWARDS
from rlmusic.config.load import load_config
from rlmusic.data.corpus import prepare_corpus
from rlmusic.data.tokens import special_ids
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import list_checkpoints, load_checkpoint
from rlmusic.music.metrics import METRICS
from rlmusic.reward_contract import WeightedReward, build_reward, reward
from rlmusic.train.ppo import STATE_SCHEMA, finetune
from rlmusic.train.pretrain import STATE_SCHEMA as PRETRAIN_STATE
from rlmusic.train.pretrain import pretrain

ROOT = Path(__file__).resolve().parent.parent


def test_kill_during_save_keeps_the_previous_checkpoint(tmp_path, folk_dir, cache_dir):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "rlmusic.cli", "pretrain", "--data", str(folk_dir), "--out", str(run),
           "model.n_layer=2", "model.n_embd=64", "model.n_head=2", "model.block_size=64", "pretrain.batch_size=4",
           "pretrain.max_steps=400", "pretrain.save_every=1", "pretrain.keep_last=2", "pretrain.eval_every=1000",
           "data.workers=1", f"data.cache_dir={cache_dir}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caught = False
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            # Kill the moment a save is under way and an earlier checkpoint exists.
            if len(list_checkpoints(run)) >= 2 and any(p.name.startswith(".tmp-") for p in run.iterdir()):
                proc.send_signal(signal.SIGKILL)
                caught = True
                break
            time.sleep(0.0005)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert caught, "never saw a save in progress"
    newest = list_checkpoints(run)[-1]
    ckpt = load_checkpoint(run, load_policy)  # the loader picks a complete checkpoint
    assert ckpt.path == newest and ckpt.training_state(PRETRAIN_STATE)["step"] == ckpt.meta["step"]
    assert any(p.name.startswith(".tmp-") for p in run.iterdir())  # the half-written one is left aside
    step = ckpt.meta["step"]
    # and the run resumes from it
    resume = [x for x in cmd if not x.startswith("pretrain.max_steps")] + ["--resume", f"pretrain.max_steps={step + 2}"]
    assert subprocess.run(resume, cwd=ROOT, capture_output=True).returncode == 0
    assert load_checkpoint(run, load_policy).meta["step"] == step + 2


def _ppo_setup(tmp_path, trained_run, out, updates, **ppo):
    start = load_checkpoint(trained_run, load_policy)
    cfg = load_config(None, {"ppo": {"out_dir": str(out), "updates": updates, "batch_size": 8, "minibatch_size": 4,
                                     "max_new_tokens": 24, "prompt": "bos", "epochs": 2, "lr": 1e-3,
                                     "save_every": 2, "keep_last": 0} | ppo},
                      base=load_config(None, {"model": start.meta["config"]["model"]}))
    reference = load_checkpoint(trained_run, load_policy).policy
    return cfg, start, reference


# metric_match's critic learns from the rollouts it has seen: resuming must give it its memory.
TARGET = {name: np.random.default_rng(i).uniform(0, 3, 40).tolist() for i, name in enumerate(METRICS)}


@pytest.mark.parametrize("spec", ["repetition,tonic", "repetition,metric_match"])
def test_ppo_resume_matches_a_straight_run(tmp_path, trained_run, spec):
    cfg, start, ref = _ppo_setup(tmp_path, trained_run, tmp_path / "a", 4)
    finetune(cfg, start.policy, ref, start.tokenizer, build_reward(spec, REWARDS, reference_metrics=TARGET),
             progress=False)
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-000002", tmp_path / "b" / "checkpoint-000002")
    half = load_checkpoint(tmp_path / "b", load_policy)
    cfg_b, _, ref_b = _ppo_setup(tmp_path, trained_run, tmp_path / "b", 4)
    finetune(cfg_b, half.policy, ref_b, half.tokenizer, build_reward(spec, REWARDS, reference_metrics=TARGET),
             resume_state=half.training_state(STATE_SCHEMA), progress=False)
    a, b = load_checkpoint(tmp_path / "a", load_policy), load_checkpoint(tmp_path / "b", load_policy)
    assert a.meta["update"] == b.meta["update"] == 4
    for (name, x), y in zip(a.policy.state_dict().items(), b.policy.state_dict().values()):
        assert torch.equal(x, y), name


def test_non_finite_reward_stops_ppo_and_keeps_the_last_good_checkpoint(tmp_path, trained_run):
    calls = {"n": 0}

    @reward("flaky", -1, 1)
    def flaky(batch):
        calls["n"] += 1
        return [float("nan") if calls["n"] > 2 else 0.0] * len(batch)

    cfg, start, ref = _ppo_setup(tmp_path, trained_run, tmp_path / "nan", 10, max_bad_steps=2)
    with pytest.raises(RLMusicError, match="non-finite for 2 consecutive updates"):
        finetune(cfg, start.policy, ref, start.tokenizer, WeightedReward([(flaky, 1.0)]), progress=False)
    assert [p.name for p in list_checkpoints(tmp_path / "nan")] == ["checkpoint-000002"]


def test_non_finite_loss_stops_pretraining(tmp_path, folk_dir, monkeypatch):
    import rlmusic.train.pretrain as P

    cfg = tiny_config(tmp_path, folk_dir, max_steps=20, save_every=2, max_bad_steps=3)
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, progress=False)
    real = P.lm_loss
    calls = {"n": 0}

    def sometimes_nan(policy, batch):
        calls["n"] += 1
        loss = real(policy, batch)
        return loss * float("nan") if calls["n"] > 4 else loss

    monkeypatch.setattr(P, "lm_loss", sometimes_nan)
    torch.manual_seed(0)
    with pytest.raises(RLMusicError, match="non-finite for 3 consecutive steps"):
        pretrain(cfg, build_policy(cfg.model, len(tok), special_ids(tok)), tok, corpus, progress=False)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-000002", "checkpoint-000004"]


def test_wrong_checkpoint_kinds_are_one_line_errors(tmp_path, trained_run, tiny_clf, capsys):
    from rlmusic.cli import main

    assert main(["generate", str(tiny_clf)]) == 2  # a discriminator is not a policy
    assert "not an rlmusic policy checkpoint" in capsys.readouterr().err
    assert main(["finetune", "--policy", str(trained_run), "--reward", "jazz_clf", "--discriminator",
                 str(trained_run), "--out", str(tmp_path / "x")]) == 2  # a policy is not a discriminator
    assert "not a jazz discriminator checkpoint" in capsys.readouterr().err
    assert main(["finetune", "--policy", str(trained_run), "--reward", "repetiton", "--out", str(tmp_path / "y")]) == 2
    assert "unknown reward 'repetiton'" in capsys.readouterr().err

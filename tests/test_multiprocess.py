"""PPO on two processes (gloo on the CPU, ``torchrun``): the ranks agree, one writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

LAUNCHER = Path(__file__).with_name("mp_finetune.py")


def launch(out: Path, argv: list[str], cache_dir: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"RLMUSIC_CACHE": str(cache_dir), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(LAUNCHER.parents[1])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(29500 + os.getpid() % 1000), str(LAUNCHER), str(out), *argv],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, trained_run, tiny_clf, jazz_set, cache_dir):
    root = tmp_path_factory.mktemp("mp")
    run = root / "run"
    argv = ["finetune", "--cpu", "--data", str(jazz_set), "--policy", str(trained_run), "--discriminator", str(tiny_clf),
            "--reward", "repetition,jazz_clf", "--out", str(run), "ppo.updates=4", "ppo.refresh_every=2",
            "ppo.refresh_from=corpus:/jazz/", "ppo.refresh_steps=5", "ppo.refresh_target=0.01",
            "ppo.refresh_real_floor=0", "ppo.batch_size=4", "ppo.minibatch_size=2", "ppo.max_new_tokens=24",
            "ppo.prompt=bos", "ppo.save_every=2", "ppo.keep_last=0", "ppo.group_size=4", "data.workers=1"]
    ranks = launch(root / "first", argv, cache_dir)
    return run, argv, ranks


def test_every_rank_holds_the_same_policy_value_head_and_discriminator(two_ranks):
    """After updates with two refreshes, the ranks' weights are identical: gradients are
    averaged, and the discriminator is trained on the main process on both ranks' rollouts and
    broadcast (each rank refreshing on its own rollouts would leave two discriminators)."""
    _, _, (a, b) = two_ranks
    assert a["rc"] == b["rc"] == 0
    assert a["lm"] == b["lm"] and a["value_head"] == b["value_head"]
    assert a["disc"] is not None and a["disc"] == b["disc"]
    assert a["scores"] != b["scores"]  # each rank sampled its own rollouts


def test_the_logged_reward_is_the_mean_over_both_ranks_and_one_process_writes(two_ranks):
    run, _, (a, b) = two_ranks
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r["reward/total"] for r in rows if "reward/total" in r]
    assert len(logged) == 4
    np.testing.assert_allclose(logged, [np.mean(x + y) for x, y in zip(a["scores"], b["scores"])], rtol=1e-6)
    assert any("clf/refresh_steps" in r for r in rows)
    assert a["checkpoints_written"] == [2, 4] and b["checkpoints_written"] == []
    meta = json.loads((run / "checkpoint-000004" / "rlmusic.json").read_text())
    assert meta["processes"] == 2 and (run / "checkpoint-000004" / "discriminator").is_dir()
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no half-written folder left


def test_a_two_process_run_resumes(two_ranks, tmp_path, cache_dir):
    run, argv, _ = two_ranks
    argv = [x for x in argv if not x.startswith("ppo.updates=")] + ["--resume", "ppo.updates=6"]
    a, b = launch(tmp_path / "resumed", argv, cache_dir)
    assert a["lm"] == b["lm"] and a["disc"] == b["disc"] and len(a["scores"]) == 2  # updates 5 and 6 only
    assert a["checkpoints_written"] == [6] and b["checkpoints_written"] == []
    assert json.loads((run / "checkpoint-000006" / "rlmusic.json").read_text())["update"] == 6


def test_the_cli_closes_its_process_group_on_every_exit(tmp_path):
    """A process group nobody destroys is freed during interpreter teardown, where gloo can abort
    a finished run (SIGABRT after the last update, seen on CI); ``main`` closes it, error or not."""
    import torch.distributed as dist

    from rlmusic.cli import main

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        assert main(["generate", str(tmp_path / "no such checkpoint")]) == 2  # a one-line error
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()

"""bf16 autocast vs fp32 on the CPU: the demo's PPO update and discriminator refresh step.

    python bench/cpu_bf16.py [--policy checkpoints/pretrain-tiny] [--updates 4]

The demo's PPO batch (16 rollouts x 255 new tokens from BOS, 4 epochs of 2 minibatches,
reward ``repetition,scale``), fp32 then bf16 in the same process and alternately, torch's
default threads; the first update of each is warm-up and left out. The refresh step is one
AdamW step of the shipped discriminator on 32 windows of 128 tokens. Also printed: how far the
update's first bf16 forward is from the rollout's log-probabilities (``policy/ratio`` and
``policy/clipfrac`` of the first minibatch measure what bf16 noise adds to the clipped ratio).
Pays only where the CPU multiplies bf16 natively (``rlmusic.train.accel.cpu_bf16``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies import load_policy  # noqa: E402
from rewards import REWARDS  # noqa: E402
from rlmusic.config.load import load_config, resolve_config_path  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.models.discriminator import load_discriminator  # noqa: E402
from rlmusic.reward_contract import build_reward  # noqa: E402
from rlmusic.tracking import quiet_libraries, read_metrics  # noqa: E402
from rlmusic.train.accel import cpu_bf16  # noqa: E402
from rlmusic.train.ppo import finetune  # noqa: E402


def ppo_rows(ckpt, precision: str, updates: int) -> list[dict]:
    import copy

    with tempfile.TemporaryDirectory() as d:
        cfg = load_config(resolve_config_path("tiny"), [
            f"ppo.out_dir={d}", f"ppo.updates={updates}", "ppo.batch_size=16", "ppo.minibatch_size=8",
            "ppo.max_new_tokens=255", "ppo.min_new_tokens=255", "ppo.prompt=bos", "ppo.save_every=1000"])
        cfg.ppo.mixed_precision = precision
        reward = build_reward("repetition,scale", REWARDS, bands={"scale_consistency": (0.8, 1.0)})
        finetune(cfg, copy.deepcopy(ckpt.policy), copy.deepcopy(ckpt.policy), ckpt.tokenizer, reward, progress=False)
        return read_metrics(d)[1:]


def refresh_step(disc, windows: list[list[int]], bf16: bool, steps: int = 5) -> float:
    opt = torch.optim.AdamW(disc.parameters(), lr=1e-5)
    labels = torch.tensor([i % 2 for i in range(len(windows))])
    disc.train()
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(disc.logits(windows).float(), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=str(ROOT / "checkpoints" / "pretrain-tiny"))
    ap.add_argument("--discriminator", default=str(ROOT / "checkpoints" / "jazz-clf"))
    ap.add_argument("--updates", type=int, default=4)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    quiet_libraries()
    ckpt = load_checkpoint(args.policy, load_policy)
    disc = load_discriminator(args.discriminator)
    rng = np.random.default_rng(0)
    windows = [rng.integers(3, len(ckpt.tokenizer), 128).tolist() for _ in range(32)]
    res: dict[str, dict] = {}
    for precision in ("no", "bf16", "no", "bf16"):  # alternately: load drifts hit both
        rows = ppo_rows(ckpt, precision, args.updates + 1)
        r = res.setdefault(precision, {"rollout": [], "update": [], "ratio": [], "clipfrac": [], "refresh": []})
        r["rollout"] += [x["time/rollout"] for x in rows]
        r["update"] += [x["time/update"] for x in rows]
        r["ratio"] += [x["policy/ratio"] for x in rows]
        r["clipfrac"] += [x["policy/clipfrac"] for x in rows]
        r["refresh"].append(refresh_step(disc, windows, precision == "bf16"))
    med = {p: {k: float(np.median(v)) for k, v in r.items()} for p, r in res.items()}
    print(f"native bf16 on this CPU: {cpu_bf16()}; torch threads {torch.get_num_threads()}")
    print(f"{'':>22} {'fp32':>8} {'bf16':>8} {'fp32/bf16':>10}")
    for k, what in (("rollout", "rollout s/update"), ("update", "epochs s/update"), ("refresh", "refresh step s")):
        print(f"{what:>22} {med['no'][k]:8.3f} {med['bf16'][k]:8.3f} {med['no'][k] / med['bf16'][k]:9.2f}x")
    for k in ("ratio", "clipfrac"):
        print(f"{'policy/' + k:>22} {med['no'][k]:8.4f} {med['bf16'][k]:8.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"native_bf16": cpu_bf16(), "median": med}, indent=1))


if __name__ == "__main__":
    main()

"""Seconds per update: rlmusic's PPO vs TRL 1.16 GRPO vs TRL 1.12 PPO, same model, prompts, batch and rewards.

    python bench/ppo_step.py [--policy CKPT | --config tiny|small|base] [--batch 32] [--new 128]
                             [--updates 3] [--skip-trl112]

Batch: 32 rollouts x 128 new tokens from BOS prompts, rewards ``repetition,tonic,scale``, one
torch thread on the CPU (a GPU is used where there is one: ``bench/gpu.sh``). Our PPO runs at
TRL 1.12's setting (one epoch, one minibatch) for the ratio, and at its own default (4 epochs
of 4 minibatches) for reference; once more with its rollouts sampled through
``transformers``' GPT-2 forward instead of ``policies/gpt2_decode.py``. GRPO groups 8
completions per prompt. TRL 1.12 runs in its own virtual environment (created on first use in
``$TRL112_VENV``, default /tmp/trl112: ``python -m venv --system-site-packages`` then
``pip install trl==1.12.0``). The first update of every algorithm is warm-up and left out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies import build_policy, load_policy  # noqa: E402
from rewards import REWARDS  # noqa: E402
from rlmusic.config.load import load_config  # noqa: E402
from rlmusic.data.tokens import build_tokenizer, special_ids  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from rlmusic.reward_contract import build_reward  # noqa: E402
from rlmusic.tracking import quiet_libraries, read_metrics  # noqa: E402
from rlmusic.train.ppo import finetune  # noqa: E402

REWARD = "repetition,tonic,scale"
BANDS = {"scale_consistency": (0.9, 1.0)}  # the scale band the figures were measured with


def ours(cfg, policy, tok, epochs: int, minibatch: int, updates: int, fast_decode: bool = True) -> list[float]:
    with tempfile.TemporaryDirectory() as d:
        c = load_config(None, {"ppo": {"out_dir": d, "updates": updates, "epochs": epochs, "minibatch_size": minibatch,
                                       "save_every": 1000}}, base=cfg)
        ref, trained = load_policy_copy(policy), load_policy_copy(policy)
        trained.fast_decode = fast_decode and trained.fast_decode
        finetune(c, trained, ref, tok, build_reward(REWARD, REWARDS, bands=BANDS), progress=False)
        rows = read_metrics(d)
    return [r["time/rollout"] + r["time/score"] + r["time/update"] for r in rows]


def load_policy_copy(policy):
    import copy

    return copy.deepcopy(policy)


def grpo(cfg, policy, tok, updates: int) -> list[float]:
    from rlmusic.train.trl_algos import run_trl

    with tempfile.TemporaryDirectory() as d:
        c = load_config(None, {"ppo": {"out_dir": d, "updates": updates, "algo": "grpo", "group_size": 8}}, base=cfg)
        run_trl(c, load_policy_copy(policy), tok, build_reward(REWARD, REWARDS, bands=BANDS), None, {})
        log = json.loads((Path(d) / "trl" / "log_history.json").read_text())
    return [r["step_time"] for r in log if "step_time" in r]


def trl112(folder: Path, updates: int, threads: int) -> list[float]:
    venv = Path(os.environ.get("TRL112_VENV", "/tmp/trl112"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "trl==1.12.0"], check=True)
    out = subprocess.run([str(py), str(ROOT / "bench" / "trl112_ppo.py"), "--model", str(folder), "--reward", REWARD,
                          "--updates", str(updates), "--threads", str(threads)], capture_output=True, text=True,
                         env=os.environ | {"PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise SystemExit("TRL 1.12 run failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["update_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policy", help="pretrained checkpoint (default: a fresh transformer of --config)")
    ap.add_argument("--config", default="tiny", help="model size of the fresh transformer (configs/*.yaml)")
    ap.add_argument("--batch", type=int, default=32, help="rollouts per update")
    ap.add_argument("--new", type=int, default=128, help="new tokens per rollout")
    ap.add_argument("--updates", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the comparison, the algorithms in turn")
    ap.add_argument("--precision", default="no", choices=("no", "bf16"),
                    help="ppo.mixed_precision of our PPO and of GRPO alike (bf16 pays on a CPU with AMX or "
                         "AVX512-BF16); TRL 1.12 PPO runs in fp32 and is left out with bf16")
    ap.add_argument("--skip-trl112", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    quiet_libraries()
    torch.set_num_threads(args.threads)
    cfg = load_config(ROOT / "configs" / f"{args.config}.yaml", {"ppo": {"batch_size": args.batch,
                                                                         "max_new_tokens": args.new, "prompt": "bos",
                                                                         "threads": args.threads,
                                                                         "mixed_precision": args.precision}})
    if args.policy:
        ckpt = load_checkpoint(args.policy, load_policy)
        policy, tok = ckpt.policy, ckpt.tokenizer
    else:
        tok = build_tokenizer(cfg.tokenizer)
        torch.manual_seed(0)
        policy = build_policy(cfg.model, len(tok), special_ids(tok))
    b = args.batch
    algorithms = {
        "ours (1 epoch, 1 minibatch)": lambda: ours(cfg, policy, tok, 1, b, args.updates + 1),
        "ours (4 epochs x 4 minibatches)": lambda: ours(cfg, policy, tok, 4, max(1, b // 4), args.updates + 1),
        "ours, transformers decode (1 epoch, 1 minibatch)": lambda: ours(cfg, policy, tok, 1, b, args.updates + 1,
                                                                         fast_decode=False),
        "TRL 1.16 GRPO": lambda: grpo(cfg, policy, tok, args.updates + 1)}
    # Rounds in turn (each algorithm's updates, warm-up left out, appended round by round), so a
    # slow spell of a shared machine falls on every algorithm rather than on one.
    runs: dict[str, list[float]] = {k: [] for k in algorithms}
    for _ in range(args.rounds):
        for k, run in algorithms.items():
            runs[k] += run()[1:]
    if not args.skip_trl112 and args.precision == "no":
        with tempfile.TemporaryDirectory() as d:
            save_checkpoint(d, 0, policy, tok, {"stage": "bench"})
            runs["TRL 1.12 PPO (1 epoch, 1 minibatch)"] = trl112(Path(d) / "checkpoint-000000", args.updates + 1,
                                                                args.threads)[1:]
    per_update = {k: float(np.median(v)) for k, v in runs.items()}
    base = per_update["ours (1 epoch, 1 minibatch)"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"seconds per update on {device}, {args.config} size, {b} rollouts x {args.new} new tokens, rewards {REWARD}, "
          f"median of {args.updates} after warm-up x {args.rounds} round(s), precision {args.precision}")
    for k, v in per_update.items():
        print(f"  {k:50s} {v:7.2f} s   {v / base:4.2f}x the time of ours (1 epoch, 1 minibatch)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "config": args.config, "batch": b, "new_tokens": args.new,
                                               "precision": args.precision, "per_update_s": per_update, "raw": runs}, indent=2))


if __name__ == "__main__":
    main()

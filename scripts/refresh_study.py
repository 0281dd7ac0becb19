"""How one refresh of the co-evolving discriminator moves P(jazz), offline and fast.

    python scripts/refresh_study.py RUN_CHECKPOINT [--out bench/results/refresh_study.json]

Samples two sets of rollouts from a fine-tuned policy as PPO samples them (BOS, 128 tokens):
one to train the refresh on, one it never sees. Then, for each way of refreshing, it trains a
copy of the shipped discriminator for 25, 50, 100 and 200 steps (unguarded) and reports mean
P(jazz) of: the rollouts trained on, the unseen rollouts (does it separate the policy, or only
those samples?), held-out real jazz openings (what the PPO guard watches), held-out real jazz
windows from random bars, and held-out non-jazz openings (still rejected?).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import load_policy  # noqa: E402
from rlmusic.config.load import load_config, resolve_config_path  # noqa: E402
from rlmusic.config.sections import DataConfig, SampleConfig  # noqa: E402
from rlmusic.data.tokens import bar_ids  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.models.discriminator import load_discriminator  # noqa: E402
from rlmusic.models.generate import generate_pieces  # noqa: E402
from rlmusic.music.bands import bar_window  # noqa: E402
from rlmusic.resources import SHIPPED_CLF  # noqa: E402
from rlmusic.tracking import quiet_libraries  # noqa: E402
from rlmusic.train.finetune import jazz_set_splits  # noqa: E402
from rlmusic.train.refresh import refresh_discriminator  # noqa: E402

VARIANTS = {
    "fresh negatives alone, 25% of each batch": {},
    "fresh negatives + matched real jazz openings (shipped)": {"matched": True},
    "matched, half the learning rate": {"matched": True, "lr_scale": 0.5},
    "matched, fresh 12.5% of each batch": {"matched": True, "share": 0.125},
}


def rollouts(policy, tokenizer, n: int, seed: int) -> list[list[int]]:
    cfg = SampleConfig(num=n, max_new_tokens=128, batch_size=32, seed=seed)
    return [p.ids for p in generate_pieces(policy, tokenizer, cfg)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("policy", help="a fine-tuned checkpoint (e.g. the demo's finetune run)")
    ap.add_argument("--rollouts", type=int, default=320, help="rollouts trained on (PPO: 32 x 10 updates)")
    ap.add_argument("--out", default="bench/results/refresh_study.json")
    args = ap.parse_args()
    quiet_libraries()
    torch.set_num_threads(2)
    ckpt = load_checkpoint(args.policy, load_policy)
    policy, tok = ckpt.policy.eval(), ckpt.tokenizer
    base = load_discriminator(SHIPPED_CLF)
    cfg = load_config(resolve_config_path("tiny")).clf  # what `rlmusic finetune` refreshes with
    train, test_set = jazz_set_splits(tok, DataConfig())
    test = list(zip(test_set.pieces, test_set.labels))
    rng, bars = np.random.default_rng(0), bar_ids(tok)
    sets = {
        "real jazz openings": [p[:128].tolist() for p, y in test if y == 1][:128],
        "real jazz bar windows": [bar_window(p, 128, rng, bars).tolist() for p, y in test if y == 1][:128],
        "non-jazz openings": [p[:128].tolist() for p, y in test if y == 0][:128],
    }
    matched = [p for p, y in zip(train.pieces, train.labels) if y == 1]
    t0 = time.time()
    fresh, unseen = rollouts(policy, tok, args.rollouts, 1), rollouts(policy, tok, 128, 2)
    print(f"{len(fresh)} + {len(unseen)} rollouts in {time.time() - t0:.0f}s")

    def measure(disc) -> dict:
        out = {"rollouts trained on": fresh, "unseen rollouts": unseen} | sets
        return {k: round(float(disc.prob_jazz([w[-disc.max_window:] for w in v]).mean()), 3) for k, v in out.items()}

    results = {"before": measure(base), "variants": {}}
    print("before:", results["before"])
    for name, v in VARIANTS.items():
        rows = {}
        for steps in (25, 50, 100, 200):
            disc = copy.deepcopy(base)
            vcfg = copy.deepcopy(cfg)
            vcfg.lr *= v.get("lr_scale", 1.0)
            t0 = time.time()
            refresh_discriminator(disc, train, fresh, vcfg, steps, share=v.get("share", 0.25), target=0.0, seed=10,
                                  matched=matched if v.get("matched") else None)
            rows[steps] = measure(disc) | {"seconds": round(time.time() - t0, 1)}
            print(f"{name}, {steps} steps: {rows[steps]}", flush=True)
        results["variants"][name] = rows
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

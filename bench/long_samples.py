"""Sampling past the policy's context: what the sliding window costs per token.

    python bench/long_samples.py [--policy checkpoints/pretrain-tiny] [--batch 16] [--json out.json]

The shipped tiny policy (context 256), one torch thread, per generated token (best of 3; the
slow third way once):
1. within the context: 255 tokens from BOS with the KV cache (the baseline);
2. past it: 640 tokens with the sliding window of ``rlmusic.models.policy.sample`` (each time the
   window is full, its last ``sample.context_keep`` = 128 tokens are re-read once);
3. past it, the plain way: every token read from a full forward over the last 256 tokens
   (no cache once the context is full), the same 640 tokens.
EOS is held back (``min_new_tokens``) so every row is as long as asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.timing import best_of  # noqa: E402
from policies import load_policy  # noqa: E402
from rlmusic.config.sections import SampleConfig  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.models.policy import draw, sample  # noqa: E402
from rlmusic.resources import SHIPPED_POLICY  # noqa: E402


@torch.no_grad()
def plain_window(policy, prompts: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Each next token from a full forward over (at most) the last ``policy.max_length`` tokens."""
    ids = prompts
    eos = policy.special["eos"]
    for _ in range(n):
        logits = policy(ids[:, -policy.max_length:], with_values=False).logits[:, -1].float()
        logits[:, eos] = -float("inf")
        ids = torch.cat([ids, draw(torch.softmax(logits, -1), generator)[:, None]], 1)
    return ids



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=str(SHIPPED_POLICY))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--long", type=int, default=640)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    policy = load_checkpoint(args.policy, load_policy).policy.eval()
    limit = policy.max_length
    prompts = torch.full((args.batch, 1), policy.special["bos"], dtype=torch.long)

    def run(n: int):
        cfg = SampleConfig(max_new_tokens=n, min_new_tokens=n)
        return lambda: sample(policy, prompts, cfg, torch.Generator().manual_seed(0))

    short = limit - 1
    within = best_of(run(short)) / short
    sliding = best_of(run(args.long)) / args.long
    plain = best_of(lambda: plain_window(policy, prompts, args.long, torch.Generator().manual_seed(0)), 1) / args.long
    result = {"policy": args.policy, "context": limit, "batch": args.batch, "long_tokens": args.long,
              "ms_per_token": {"within_context": 1e3 * within, "sliding_window": 1e3 * sliding,
                               "plain_window": 1e3 * plain},
              "sliding_over_within": sliding / within, "plain_over_sliding": plain / sliding}
    print(f"batch {args.batch}, context {limit}, ms per generated token (all rows):")
    rows = [(f"within the context ({short} tokens, KV cache)", within, ""),
            (f"sliding window ({args.long} tokens)", sliding, f"{sliding / within:.2f}x within"),
            (f"full forward over the window ({args.long} tokens)", plain, f"{plain / sliding:.1f}x sliding")]
    for what, t, ratio in rows:
        print(f"  {what:<48s} {1e3 * t:8.2f}  {ratio}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

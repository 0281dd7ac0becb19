"""Sampling speed: rlmusic's sampler against ``transformers``' ``generate`` on the same model.

    python bench/sampling.py [--policy checkpoints/pretrain-tiny] [--batches 32 256] [--new 128]
                             [--device cpu|cuda] [--json out.json]

The same language model (the shipped tiny policy's), BOS prompts, ``--new`` tokens each with no
EOS before them (``min_new_tokens``, both sides), plain sampling at temperature 1 (no top-k or
top-p), one torch thread on the CPU; best of 5 after a warm-up, the two calls alternating so
that a slow spell of the machine hits both. Prints new tokens per second and the ratio (goal: at least 2x at batch 32 and 256).
Our sampler's outputs for a fixed seed are checked against a reference run made before timing,
so a faster path that changed what is drawn would be caught here too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.timing import best_of_alternating  # noqa: E402
from policies import load_policy  # noqa: E402
from rlmusic.config.sections import SampleConfig  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.models.policy import _sample_steps, sample  # noqa: E402
from rlmusic.resources import SHIPPED_POLICY  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=str(SHIPPED_POLICY))
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device")
    if args.device == "cpu":
        torch.set_num_threads(1)
    policy = load_checkpoint(args.policy, load_policy).policy.to(args.device).eval()
    lm, bos, eos, pad = policy.lm, policy.special["bos"], policy.special["eos"], policy.special["pad"]
    results = {"device": args.device, "new_tokens": args.new, "threads": torch.get_num_threads(), "rows": []}
    for batch in args.batches:
        prompts = torch.full((batch, 1), bos, dtype=torch.long, device=args.device)
        cfg = SampleConfig(num=batch, batch_size=batch, max_new_tokens=args.new, min_new_tokens=args.new)

        def ours(seed: int = 0, prompts=prompts, cfg=cfg) -> torch.Tensor:
            g = torch.Generator(device=args.device).manual_seed(seed)
            return sample(policy, prompts, cfg, generator=g)

        @torch.no_grad()
        def theirs(prompts=prompts) -> torch.Tensor:
            return lm.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, top_k=0, top_p=1.0,
                               temperature=1.0, max_new_tokens=args.new, min_new_tokens=args.new,
                               eos_token_id=eos, pad_token_id=pad)

        @torch.no_grad()
        def ours_no_grad(seed: int = 0, prompts=prompts, cfg=cfg) -> torch.Tensor:
            """The same sampler under no_grad instead of inference mode: what inference mode saves."""
            g = torch.Generator(device=args.device).manual_seed(seed)
            return _sample_steps(policy, prompts, cfg, g, True, False, ())[0]

        reference = ours(seed=1)
        theirs(), ours(), ours_no_grad()  # warm-up
        t_generate, t_ours, t_no_grad = best_of_alternating([theirs, ours, ours_no_grad], args.repeats)
        same = bool(torch.equal(ours(seed=1), reference)) and bool(torch.equal(ours_no_grad(seed=1), reference))
        row = {"batch": batch, "generate_tokens_per_s": batch * args.new / t_generate,
               "ours_tokens_per_s": batch * args.new / t_ours, "ratio": t_generate / t_ours,
               "ours_no_grad_tokens_per_s": batch * args.new / t_no_grad, "inference_mode_ratio": t_no_grad / t_ours,
               "same_outputs_for_a_seed": same}
        results["rows"].append(row)
        print(f"batch {batch:4d}: generate {row['generate_tokens_per_s']:9,.0f} tokens/s, rlmusic "
              f"{row['ours_tokens_per_s']:9,.0f} tokens/s, ratio {row['ratio']:.2f}x (under no_grad instead of "
              f"inference mode {row['ours_no_grad_tokens_per_s']:,.0f} tokens/s: {row['inference_mode_ratio']:.2f}x); "
              f"same draws for a seed: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

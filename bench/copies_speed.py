"""Copy detection on the demo's sample size: the probe-first search vs comparing whole queries.

    python bench/copies_speed.py --policy checkpoints/pretrain-tiny

64 samples of 640 tokens from the policy (seeded) looked up in the embedded corpus's training
split, as ``rlmusic metrics`` does; both searches must give the same run at every start.
Prints seconds for each and their ratio (best of --repeats).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from policies import load_policy
    from rlmusic.config.load import load_config, resolve_config_path
    from rlmusic.config.sections import SampleConfig
    from rlmusic.data.corpus import prepare_corpus
    from rlmusic.evaluate.copies import CopyIndex
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.generate import generate_pieces

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="checkpoints/pretrain-tiny")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=640)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.policy, load_policy)
    cfg = load_config(resolve_config_path("tiny"), [])
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=ckpt.tokenizer)
    index = CopyIndex.build([corpus.piece(i) for i in corpus.indices("train")], len(tok),
                            cache=Path(corpus.meta["cache"]) / "suffixes-train.npy")
    pieces = generate_pieces(ckpt.policy, ckpt.tokenizer, SampleConfig(num=args.samples, max_new_tokens=args.tokens,
                                                                       min_new_tokens=args.tokens, seed=0, batch_size=64))
    queries = [p.ids for p in pieces]
    times = {"whole query": [], "probe 64 first": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        whole = [index.matching_lengths(q, probe=len(q)) for q in queries]
        times["whole query"].append(time.perf_counter() - t)
        t = time.perf_counter()
        probed = [index.matching_lengths(q) for q in queries]
        times["probe 64 first"].append(time.perf_counter() - t)
        assert all(np.array_equal(a, b) for a, b in zip(whole, probed)), "the two searches disagree"
    best = {k: min(v) for k, v in times.items()}
    runs = np.concatenate(probed)
    print(f"{len(queries)} samples x {args.tokens} tokens against {len(index.text):,} corpus tokens; "
          f"identical runs at all {len(runs):,} starts (longest {runs.max()}, "
          f"{np.mean(runs >= 64):.1%} reach the probe)")
    for k, v in best.items():
        print(f"{k:>16}: {v:.2f} s  ({best['whole query'] / v:.1f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps({"seconds": best, "starts": len(runs),
                                               "share_reaching_probe": float(np.mean(runs >= 64))}, indent=1))


if __name__ == "__main__":
    main()

"""Can the prior play jazz? Continuations of held-out jazz openings against real jazz's texture.

    python bench/continuation.py CKPT [CKPT ...] [--pieces 64] [--prompt 64] [--new 128] [--seeds 1]
                                 [--json out.json]

PPO with a KL leash can only move a policy toward music its prior already plays. Each
checkpoint continues the first ``--prompt`` tokens of the corpus's held-out (validation) jazz
pieces by ``--new`` tokens (seed 0; with ``--seeds N`` each opening is continued N times,
seeds 0 to N-1, the shares taken over all continuations and their spread over the seeds printed:
one continuation of 64 openings moves the share by several points from seed to seed). The
continuations' note onsets per beat, notes per bar and polyphony are compared with the 5th-95th
band of real jazz, measured on windows of the same
``--new`` tokens of the training split's jazz pieces. Prints the median of each metric and the
share of continuations inside the band; the goal is "inside for most pieces".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import load_policy  # noqa: E402
from rlmusic.config.sections import DataConfig, SampleConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.evaluate.metrics_command import reference_band, share_inside  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.models.generate import generate_pieces  # noqa: E402
from rlmusic.music.bands import corpus_sample  # noqa: E402
from rlmusic.music.metrics import METRICS  # noqa: E402
from rlmusic.music.piece import piece_from_score  # noqa: E402
from rlmusic.tracking import quiet_libraries  # noqa: E402

TEXTURE = ("onsets_per_beat", "notes_per_bar", "polyphony")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--pieces", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=64, help="opening tokens given")
    ap.add_argument("--new", type=int, default=128, help="tokens continued")
    ap.add_argument("--select", default="/jazz/", help="which corpus pieces are jazz")
    ap.add_argument("--seeds", type=int, default=1, help="continuations of each opening (seeds 0 to N-1)")
    ap.add_argument("--json")
    args = ap.parse_args()
    quiet_libraries()
    torch.set_num_threads(1)
    first = load_checkpoint(args.checkpoints[0], load_policy)
    tok, corpus = prepare_corpus(DataConfig(), TokenizerConfig(), progress=False, tokenizer=first.tokenizer)
    val = [i for i in corpus.indices("val") if args.select in corpus.names[i] and len(corpus.piece(i)) > args.prompt]
    val = val[: args.pieces]
    real, _ = corpus_sample(corpus, tok, "train", 400, select=args.select, window=args.new)
    bands = {m: reference_band([METRICS[m](p) for p in real]) for m in TEXTURE}
    bos = first.policy.special["bos"]
    prompts = torch.tensor([[bos] + corpus.piece(i)[: args.prompt].astype(np.int64).tolist() for i in val])
    print(f"{len(val)} held-out {args.select} openings of {args.prompt} tokens, continued by {args.new}; real band "
          + ", ".join(f"{m} {lo:.2f}-{hi:.2f}" for m, (lo, hi) in bands.items()))
    out = {"pieces": len(val), "prompt": args.prompt, "new": args.new, "seeds": args.seeds, "bands": bands,
           "checkpoints": {}}
    for path in args.checkpoints:
        ckpt = load_checkpoint(path, load_policy)
        pieces = []
        for seed in range(args.seeds):
            cfg = SampleConfig(num=len(val), max_new_tokens=args.new, seed=seed, batch_size=16)
            pieces += [piece_from_score(g.score) for g in generate_pieces(ckpt.policy, ckpt.tokenizer, cfg,
                                                                          prompts=prompts)]
        row = {}
        for m in TEXTURE:
            values = [METRICS[m](p) for p in pieces]
            row[m] = {"median": float(np.nanmedian(values)), "inside_band": share_inside(values, *bands[m])}
        inside = np.array([all(bands[m][0] <= METRICS[m](p) <= bands[m][1] for m in TEXTURE) for p in pieces])
        row["all_three_inside"] = float(inside.mean())
        row["all_three_inside_by_seed"] = [float(s.mean()) for s in np.split(inside, args.seeds)]
        out["checkpoints"][str(path)] = row
        spread = (f" (seeds {min(row['all_three_inside_by_seed']):.0%}-{max(row['all_three_inside_by_seed']):.0%})"
                  if args.seeds > 1 else "")
        print(f"{path}: " + "; ".join(f"{m} median {v['median']:.2f}, {v['inside_band']:.0%} inside"
                                      for m, v in row.items() if m in TEXTURE)
              + f"; all three inside {row['all_three_inside']:.0%}{spread}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

"""Tokens/s of ``rlmusic pretrain``'s training loop against a bare torch loop, same model and batches.

    python bench/pretrain_throughput.py                  # tiny config, CPU, 1 thread
    python bench/pretrain_throughput.py --config small --steps 8
    python bench/pretrain_throughput.py --precision bf16 # on a GPU: bf16 autocast vs fp32

The baseline is the least a training step can do: HF forward, cross-entropy,
backward, AdamW step, on batches prepared in advance. rlmusic's figure is the
``pretrain()`` call itself (window sampling, transposition, accelerate,
gradient clipping, logging), timed two ways: the loop's own per-step timer
(``perf/tokens_per_s`` in metrics.jsonl) and the wall clock of the whole call
including set-up, the final validation and the checkpoint. Runs alternate
(bare, rlmusic, bare, rlmusic, ...) so machine drift hits both.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import build_policy  # noqa: E402
from rlmusic.config.load import load_config, resolve_config_path  # noqa: E402
from rlmusic.data.batches import WindowSampler  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.data.tokens import pitch_of_ids, special_ids, transpose_table  # noqa: E402
from rlmusic.tracking import (
    quiet_libraries,  # noqa: E402
    read_metrics,  # noqa: E402
)
from rlmusic.train.pretrain import param_groups, pretrain  # noqa: E402


def bare_loop(cfg, vocab, special, batches, device, dtype) -> float:
    """Tokens/s of forward + cross-entropy + backward + AdamW on prepared batches."""
    torch.manual_seed(cfg.pretrain.seed)
    policy = build_policy(cfg.model, vocab, special).to(device).train()
    lm = policy.lm if hasattr(policy, "lm") else policy
    opt = torch.optim.AdamW(param_groups(lm, cfg.pretrain.weight_decay), lr=cfg.pretrain.lr)
    batches = [b.to(device) for b in batches]
    n_tokens = 0
    sync(device)
    t0 = time.perf_counter()
    for b in batches:
        x, y = b[:, :-1], b[:, 1:]
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = lm(x).logits  # (B, T, V)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        n_tokens += x.numel()
    sync(device)
    return n_tokens / (time.perf_counter() - t0)


def rlmusic_loop(cfg, tok, corpus, precision) -> tuple[float, float]:
    """(tokens/s by the loop's own timer, tokens/s by the wall clock of the whole call)."""
    with tempfile.TemporaryDirectory() as d:
        cfg.pretrain.out_dir = d
        cfg.pretrain.mixed_precision = precision
        torch.manual_seed(cfg.pretrain.seed)
        policy = build_policy(cfg.model, len(tok), special_ids(tok))
        t0 = time.perf_counter()
        pretrain(cfg, policy, tok, corpus, progress=False)
        wall = time.perf_counter() - t0
        rows = [r for r in read_metrics(d) if "perf/tokens_per_s" in r]
    tokens = cfg.pretrain.max_steps * cfg.pretrain.batch_size * cfg.pretrain.grad_accum * cfg.model.block_size
    # The first log window includes warm-up (allocator, first kernels); the bare loop has it too,
    # so weight every window by its steps: the mean over all steps.
    steps = [r["step"] for r in rows]
    widths = [b - a for a, b in zip([0] + steps[:-1], steps)]
    loop_rate = sum(widths) / sum(w / r["perf/tokens_per_s"] for w, r in zip(widths, rows))
    return loop_rate, tokens / wall


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per timed run")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", default="no", choices=["no", "bf16"], help="bf16: also time bf16 autocast")
    ap.add_argument("--data", default="", help="folder of MIDI files (default: the embedded corpus)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    quiet_libraries()
    torch.set_num_threads(args.threads)
    cfg = load_config(resolve_config_path(args.config), [
        f"pretrain.max_steps={args.steps}", f"pretrain.eval_every={args.steps}", f"pretrain.save_every={args.steps}",
        "pretrain.log_every=1", "pretrain.eval_windows=1", "pretrain.grad_accum=1", "pretrain.warmup_steps=1",
        f"pretrain.threads={args.threads}"] + ([f"data.data={args.data}"] if args.data else []))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, progress=False)
    sp = special_ids(tok)
    sampler = WindowSampler(corpus.stream("train", sp["bos"], sp["eos"]), cfg.model.block_size,
                            cfg.pretrain.batch_size, cfg.pretrain.seed,
                            transpose_table(tok, cfg.pretrain.augment_transpose), pitch_of_ids(tok))
    batches = [sampler.batch(s) for s in range(args.steps)]  # the very windows pretrain() will draw

    precisions = ["no"] + (["bf16"] if args.precision == "bf16" else [])
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{args.threads} thread(s)",
               "config": args.config, "steps": args.steps, "batch": [cfg.pretrain.batch_size, cfg.model.block_size]}
    for prec in precisions:
        dtype = torch.bfloat16 if prec == "bf16" else torch.float32
        bare, loop, wall = [], [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(cfg, len(tok), sp, batches, device, dtype))
            lr, wr = rlmusic_loop(cfg, tok, corpus, prec)
            loop.append(lr)
            wall.append(wr)
        key = "fp32" if prec == "no" else "bf16"
        results[key] = {"bare_tokens_per_s": max(bare), "rlmusic_loop_tokens_per_s": max(loop),
                        "rlmusic_wall_tokens_per_s": max(wall),
                        "ratio_loop": max(loop) / max(bare), "ratio_wall": max(wall) / max(bare)}
        r = results[key]
        print(f"[{key}] bare torch loop      {r['bare_tokens_per_s']:9.0f} tokens/s")
        print(f"[{key}] rlmusic pretrain     {r['rlmusic_loop_tokens_per_s']:9.0f} tokens/s  "
              f"ratio {r['ratio_loop']:.3f}  (loop timer)")
        print(f"[{key}] rlmusic whole call   {r['rlmusic_wall_tokens_per_s']:9.0f} tokens/s  "
              f"ratio {r['ratio_wall']:.3f}  (wall clock incl. set-up, validation, checkpoint)")
    if "bf16" in results:
        print(f"bf16 / fp32 speed-up (rlmusic loop): "
              f"{results['bf16']['rlmusic_loop_tokens_per_s'] / results['fp32']['rlmusic_loop_tokens_per_s']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

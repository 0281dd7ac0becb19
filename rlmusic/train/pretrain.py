"""Maximum-likelihood pretraining: random windows, transposition, AdamW with cosine warmup.

Reads top to bottom: set-up, (resume), then per step: micro-batches -> loss ->
backward -> clip -> step; every so often log, validate, checkpoint.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from tqdm import tqdm
from transformers import get_cosine_schedule_with_warmup

from rlmusic.config.load import load_config, merge_overrides, resolve_config_path
from rlmusic.config.sections import RunConfig
from rlmusic.data.batches import WindowSampler, eval_windows
from rlmusic.data.corpus import Corpus, prepare_corpus, tokenize_folder
from rlmusic.data.tokens import notes_per_id, pitch_of_ids, special_ids, transpose_table
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    read_meta,
    reopen_run,
    restore_optimizer,
    restoring,
    save_checkpoint,
)
from rlmusic.models.policy import Policy
from rlmusic.tracking import RunLogger
from rlmusic.train.accel import make_accelerator

LN2 = math.log(2.0)


# What a pretrain checkpoint keeps for resuming, checked when it is read (cuda_rng may be None).
STATE_SCHEMA = {"optimizer": dict, "scheduler": dict, "step": int, "torch_rng": torch.Tensor}


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices only: biases and norm gains are not shrunk (GPT-2 / nanoGPT practice)."""
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lm_loss(policy: Policy, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) of (B, T+1) windows."""
    x, y = batch[:, :-1], batch[:, 1:]  # (B, T), (B, T)
    logits = policy(x, with_values=False).logits  # (B, T, V)
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))


@torch.no_grad()
def evaluate(policy: Policy, stream: np.ndarray, block_size: int, batch_size: int, max_windows: int,
             notes_of_id: np.ndarray, accelerator: Accelerator | None = None) -> dict[str, float]:
    """Validation loss in bits per token and bits per note (notes = Pitch tokens among the targets)."""
    was_training = policy.training
    policy.eval()
    device = next(policy.parameters()).device
    notes_t = torch.as_tensor(notes_of_id, device=device)
    total_nats, n_tokens, n_notes = 0.0, 0, 0
    for batch in eval_windows(stream, block_size, batch_size, max_windows):
        batch = batch.to(device)
        x, y = batch[:, :-1], batch[:, 1:]
        ctx = accelerator.autocast() if accelerator is not None else torch.autocast(device.type, enabled=False)
        with ctx:
            logits = policy(x, with_values=False).logits  # (B, T, V)
        nll = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum")
        total_nats += float(nll)
        n_tokens += y.numel()
        n_notes += int(notes_t[y].sum())
    policy.train(was_training)
    if n_tokens == 0:
        return {}
    return {"val/loss": total_nats / n_tokens, "val/bits_per_token": total_nats / n_tokens / LN2,
            "val/bits_per_note": total_nats / LN2 / n_notes if n_notes else float("nan")}


def pretrain(cfg: RunConfig, policy: Policy, tokenizer, corpus: Corpus, resume_state: dict | None = None,
             progress: bool = True, cpu: bool = False) -> str:
    """Train ``policy`` on ``corpus`` for ``cfg.pretrain.max_steps`` steps; returns the last checkpoint's path."""
    pc, mc = cfg.pretrain, cfg.model
    if pc.threads:
        torch.set_num_threads(pc.threads)
    accelerator = make_accelerator(pc.mixed_precision, cpu=cpu)
    if resume_state is None:
        torch.manual_seed(pc.seed)

    # --- data: train windows (augmented), fixed validation windows
    sp = special_ids(tokenizer)
    block = mc.block_size
    augment = pc.augment_transpose > 0 and not tokenizer.is_trained
    # A BPE id can merge several pitches: its pieces are transposed before encoding instead
    corpus.check_prefixes(pc.oversample, "train", "pretrain.oversample")
    copies = [tokenize_folder(Path(corpus.meta["source"]), tokenizer, cfg.data, progress=progress, shift=s)
              .stream("train", sp["bos"], sp["eos"], pc.oversample)
              for s in range(-pc.augment_transpose, pc.augment_transpose + 1) if s and tokenizer.is_trained]
    sampler = WindowSampler(corpus.stream("train", sp["bos"], sp["eos"], pc.oversample), block, pc.batch_size, pc.seed,
                            transpose=transpose_table(tokenizer, pc.augment_transpose) if augment else None,
                            pitch_of_id=pitch_of_ids(tokenizer), transposed_streams=copies)
    val_stream = corpus.stream("val", sp["bos"], sp["eos"])
    notes_of_id = notes_per_id(tokenizer)

    # --- optimizer and schedule
    optimizer = torch.optim.AdamW(param_groups(policy, pc.weight_decay), lr=pc.lr, betas=(pc.beta1, pc.beta2))
    # The scheduler stays unprepared: accelerate's wrapper would step it once per process.
    scheduler = get_cosine_schedule_with_warmup(optimizer, pc.warmup_steps, pc.max_steps)
    model, optimizer = accelerator.prepare(policy, optimizer)
    start = 0
    if resume_state is not None:
        with restoring(resume_state):
            restore_optimizer(optimizer, resume_state["optimizer"], resume_state)
            scheduler.load_state_dict(resume_state["scheduler"])
            torch.set_rng_state(resume_state["torch_rng"])
            if torch.cuda.is_available() and resume_state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state_all(resume_state["cuda_rng"])
        start = resume_state["step"]
    if start >= pc.max_steps:
        raise RLMusicError(f"the run in {pc.out_dir} is already at step {start} >= pretrain.max_steps "
                           f"({pc.max_steps}); raise pretrain.max_steps to train further")

    logger = RunLogger(pc.out_dir, pc.report_to, config=cfg.to_dict()) if accelerator.is_main_process else None
    meta = {"stage": "pretrain", "config": cfg.to_dict(),
            "corpus": {k: corpus.meta.get(k) for k in ("source", "pieces", "tokens", "tokenizer")}}
    last_eval: dict[str, float] = {}
    last_path = None
    best = resume_state.get("best_val_loss", math.inf) if resume_state is not None else math.inf

    def checkpoint(step: int):
        nonlocal last_path
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                     "torch_rng": torch.get_rng_state(), "best_val_loss": float(best),
                     "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
            last_path = save_checkpoint(pc.out_dir, step, accelerator.unwrap_model(model), tokenizer,
                                        meta | {"val": last_eval}, state, keep_last=pc.keep_last)

    model.train()
    bad_steps = 0
    tokens_per_step = pc.batch_size * pc.grad_accum * block * accelerator.num_processes
    bar = tqdm(range(start, pc.max_steps), initial=start, total=pc.max_steps, desc="pretrain", unit="step",
               disable=not (progress and accelerator.is_main_process))
    train_seconds, steps_since = 0.0, 0  # training time only: eval and saving are not throughput
    for step in bar:
        t_step = time.perf_counter()
        # --- micro-batches: forward, backward (gradients summed over grad_accum)
        loss_sum = 0.0
        for micro in range(pc.grad_accum):
            batch = sampler.batch(step, micro * accelerator.num_processes + accelerator.process_index)
            batch = batch.to(accelerator.device)
            sync = accelerator.no_sync(model) if micro + 1 < pc.grad_accum else nullcontext()
            with sync, accelerator.autocast():
                loss = lm_loss(model, batch) / pc.grad_accum
                accelerator.backward(loss)
            loss_sum += float(loss.detach())
        # --- clip, guard against non-finite values, step
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), pc.grad_clip if pc.grad_clip else float("inf"))
        if not (math.isfinite(loss_sum) and math.isfinite(float(grad_norm))):
            bad_steps += 1
            optimizer.zero_grad(set_to_none=True)
            if bad_steps >= pc.max_bad_steps:
                raise RLMusicError(f"loss or gradient was non-finite for {bad_steps} consecutive steps (at step "
                                   f"{step}); the last good checkpoint in {pc.out_dir} is kept. Lower pretrain.lr?")
            scheduler.step()
            continue
        bad_steps = 0
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        steps_since += 1
        train_seconds += time.perf_counter() - t_step

        # --- log, validate, checkpoint
        if logger and (done % pc.log_every == 0 or done == pc.max_steps):
            rate = steps_since * tokens_per_step / max(train_seconds, 1e-9)
            train_seconds, steps_since = 0.0, 0
            logger.log(done, {"loss/train": loss_sum, "train/bits_per_token": loss_sum / LN2,
                              "train/lr": scheduler.get_last_lr()[0], "train/grad_norm": float(grad_norm),
                              "perf/tokens_per_s": rate})
            bar.set_postfix(loss=f"{loss_sum:.3f}", tok_s=f"{rate:.0f}")
        if done % pc.eval_every == 0 or done == pc.max_steps:
            last_eval = evaluate(accelerator.unwrap_model(model), val_stream, block, pc.batch_size,
                                 pc.eval_windows, notes_of_id, accelerator)
            if logger and last_eval:
                logger.log(done, last_eval)
            if pc.keep_best and last_eval and last_eval["val/loss"] < best and accelerator.is_main_process:
                best = last_eval["val/loss"]  # weights only: the best is for using, the newest for resuming
                save_checkpoint(Path(pc.out_dir) / "best", done, accelerator.unwrap_model(model), tokenizer,
                                meta | {"val": last_eval, "best_of": "val/loss"}, keep_last=1)
        if done % pc.save_every == 0 or done == pc.max_steps:
            checkpoint(done)
    bar.close()
    if logger:
        logger.close()
    return str(last_path)



# What ``--init-from`` changes before the user's own overrides: fine-tuning, not training from
# scratch (a tenth of the prior's learning rate, a short warm-up, frequent validation, the best
# checkpoint kept).
FINETUNE_DEFAULTS = ["pretrain.lr=1e-4", "pretrain.warmup_steps=20", "pretrain.max_steps=600", "pretrain.eval_every=50",
                     "pretrain.save_every=100", "pretrain.keep_best=true"]


def run_pretrain(config: str | None, overrides: list[str] | dict, plugins, resume: bool = False, cpu: bool = False,
                 init_from: str | None = None) -> Path | None:
    """``rlmusic pretrain``: a new run, or the run folder's newest checkpoint continued with its
    own config and ``overrides`` on top; returns the last checkpoint (None: already complete).
    ``init_from``: maximum-likelihood fine-tuning of that checkpoint (``FINETUNE_DEFAULTS``
    first); returns the best checkpoint by validation loss."""
    overrides = merge_overrides(FINETUNE_DEFAULTS if init_from else None,
                                {"pretrain": {"init_from": init_from}} if init_from else None, overrides)
    cfg = load_config(resolve_config_path(config), overrides)
    if cfg.data.data and not Path(cfg.data.data).is_dir():
        raise RLMusicError(f"data folder {cfg.data.data!r} does not exist")
    out_dir = Path(cfg.pretrain.out_dir)
    newest, _, resumed = reopen_run(out_dir, resume, overrides)
    resume_state, tokenizer = None, None
    if newest is not None:
        ckpt, cfg = load_checkpoint(newest, plugins.load_policy), resumed
        policy, tokenizer, resume_state = ckpt.policy, ckpt.tokenizer, ckpt.training_state(STATE_SCHEMA)
        if ckpt.meta["step"] >= cfg.pretrain.max_steps:
            print(f"{out_dir} is complete at step {ckpt.meta['step']} (pretrain.max_steps={cfg.pretrain.max_steps}); "
                  f"nothing to do. Raise pretrain.max_steps to train further.")
            return None
        if resume_state is None:
            raise RLMusicError(f"{ckpt.path} holds weights only (no {ckpt.path.name}/training_state.pt: shipped "
                               f"checkpoints leave it out); start a new run with --out to train further")
        print(f"resuming {out_dir} from {ckpt.path.name} (step {ckpt.meta['step']})")
    start = None
    if resume_state is None and cfg.pretrain.init_from:
        start = load_checkpoint(cfg.pretrain.init_from, plugins.load_policy)
        tokenizer = start.tokenizer
        cfg.model = start.policy.model_config
        print(f"fine-tuning {start.path} on {cfg.data.data or 'the embedded corpus'} with its own tokenizer")
    tokenizer, corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=tokenizer)
    if start is not None:
        policy = start.policy
        if not corpus.is_val.any():
            raise RLMusicError(f"{cfg.data.data} holds too few pieces for a validation split (data.val_fraction="
                               f"{cfg.data.val_fraction}); add pieces or raise data.val_fraction")
    elif resume_state is None:
        torch.manual_seed(cfg.pretrain.seed)
        policy = plugins.build_policy(cfg.model, len(tokenizer), special_ids(tokenizer))
    print(f"corpus: {corpus.meta['pieces']} pieces, {corpus.meta['tokens']:,} tokens; "
          f"policy: {cfg.model.policy} ({policy.num_parameters() / 1e6:.2f} M parameters); run folder: {out_dir}")
    last = Path(pretrain(cfg, policy, tokenizer, corpus, resume_state=resume_state, cpu=cpu))
    best = list_checkpoints(out_dir / "best")
    if cfg.pretrain.keep_best and best:
        val = read_meta(best[-1]).get("val", {})
        print(f"best by validation loss: {best[-1]} (step {best[-1].name.split('-')[-1].lstrip('0') or 0}, "
              f"{val.get('val/bits_per_note', float('nan')):.3f} bits per note)")
        return best[-1]
    return last

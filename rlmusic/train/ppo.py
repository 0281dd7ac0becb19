"""PPO fine-tuning of a music policy against weighted rewards, with a KL leash to the pretrained prior.

CleanRL's layout with the RLHF details of TRL's last PPO trainer. Each update:

1. rollout: sample continuations of prompts with the KV cache;
2. score: the weighted rewards on each rollout (decoded once), minus a missing-EOS penalty;
3. KL-shaped reward: -beta * (log pi - log pi_ref) per token, the score added at the last token
   (optionally scaled so that the returns are near unit size, ``ppo.scale_rewards``);
4. advantages: GAE computed backwards, whitened over valid tokens;
5. clipped epochs: minibatches with the clipped policy loss and a clipped value loss, one
   network (the value head sits on the policy's trunk), gradient clipping;
6. log and checkpoint; adapt beta toward the target KL.

Dropout is off throughout (the policy stays in eval mode), so on the first minibatch the
new and old log-probabilities are equal and the ratio is exactly 1.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from rlmusic.config.sections import RunConfig, SampleConfig
from rlmusic.data.prompts import make_prompts
from rlmusic.data.tokens import decode_ids
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import restore_optimizer, restoring, save_checkpoint
from rlmusic.models.generate import GeneratedPiece, write_pieces
from rlmusic.models.policy import Policy, sample, sample_recorded
from rlmusic.reward_contract import RewardBatch, WeightedReward
from rlmusic.tracking import RunLogger
from rlmusic.train.accel import make_accelerator
from rlmusic.train.quantile import QuantileReward
from rlmusic.train.refresh import Refresher

# --- numerics (each tested against hand-computed cases) -----------------------------------------


# What a finetune checkpoint keeps for resuming, checked when it is read.
STATE_SCHEMA = {"optimizer": dict, "kl_coef": (float, int), "update": int}


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = masked_mean(x, mask)
    n = mask.sum()
    var = masked_mean((x - mean) ** 2, mask)
    return var * n / (n - 1).clamp(min=1)  # unbiased, as TRL


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    return (out if shift_mean else out + mean) * mask


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation, backwards over (B, N); returns (advantages, returns).

    Rewards and values past a sequence's end must be 0 (masked): then the last valid token
    bootstraps from 0, as an episode that terminates there.
    """
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    n = rewards.shape[1]
    for t in reversed(range(n)):
        next_value = values[:, t + 1] if t + 1 < n else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def returns_rms(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Root mean square over valid tokens of the discounted returns-to-go of ``rewards`` (B, N)."""
    returns = gae(rewards, torch.zeros_like(rewards), mask, gamma, 1.0)[1]
    return masked_mean(returns**2, mask).sqrt().clamp(min=1e-8)


def kl_shaped_rewards(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, scores: torch.Tensor,
                      mask: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token reward -beta * KL estimate, plus each sequence's score at its last valid token.

    Returns (rewards (B, N), kl (B, N)), both zero past the end.
    """
    kl = (logprobs - ref_logprobs) * mask  # (B, N): k1 estimate of KL(pi || pi_ref) per token
    rewards = -beta * kl
    last = (mask.sum(1).long() - 1).clamp(min=0)  # (B,)
    rewards[torch.arange(len(scores)), last] += scores
    return rewards * mask, kl


def policy_loss(new_logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, cliprange: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate: mean over valid tokens of max(-A r, -A clip(r, 1-e, 1+e))."""
    log_ratio = (new_logprobs - old_logprobs) * mask
    ratio = torch.exp(log_ratio)
    loss1 = -advantages * ratio
    loss2 = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    loss = masked_mean(torch.max(loss1, loss2), mask)
    with torch.no_grad():
        stats = {"clipfrac": masked_mean((loss2 > loss1).float(), mask),
                 "approx_kl": masked_mean((ratio - 1) - log_ratio, mask),  # k3, always >= 0
                 "ratio": masked_mean(ratio, mask)}
    return loss, stats


def value_loss(new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               cliprange_value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss 0.5 * max((v - R)^2, (v_clipped - R)^2) over valid tokens; and the clip fraction."""
    clipped = old_values + torch.clamp(new_values - old_values, -cliprange_value, cliprange_value)
    loss1 = (new_values - returns) ** 2
    loss2 = (clipped - returns) ** 2
    return 0.5 * masked_mean(torch.max(loss1, loss2), mask), masked_mean((loss2 > loss1).float(), mask).detach()


class AdaptiveKLController:
    """Ziegler et al. (2019): beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * n / horizon."""

    def __init__(self, init: float, target: float, horizon: int):
        self.value, self.target, self.horizon = init, target, horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        error = float(np.clip(current_kl / self.target - 1, -0.2, 0.2))
        self.value *= 1 + error * n_steps / self.horizon


class FixedKLController:
    def __init__(self, init: float):
        self.value = init

    def update(self, current_kl: float, n_steps: int) -> None:
        pass


# --- helpers ------------------------------------------------------------------------------------


def response_mask(responses: torch.Tensor, eos: int, pad: int) -> torch.Tensor:
    """(B, N) 1.0 for generated tokens up to and including the first EOS; 0 after (PAD)."""
    is_eos = responses == eos
    after_eos = (torch.cumsum(is_eos.int(), dim=1) - is_eos.int()) > 0
    return (~after_eos & (responses != pad)).float()


def logprobs_values(policy: Policy, ids: torch.Tensor, prompt_len: int, temperature: float,
                    min_new_tokens: int = 0, eos: int | None = None, with_entropy: bool = True,
                    with_values: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Log-probabilities of the response tokens, the values of the states before them, entropies.

    The first ``min_new_tokens`` positions are read as they were sampled: EOS out of reach
    (``mask_eos``), so the ratio, the KL and the entropy are those of the distribution the
    rollout came from, and EOS gets no gradient where it could never be drawn. ``eos`` defaults
    to the policy's own; pass it when ``policy`` is wrapped (DDP hides the policy's attributes).
    ``with_entropy`` / ``with_values=False``: None in their place, sparing four passes over
    (B, N, V) and their backward, or the value head (the reference needs neither; the update
    needs no entropy without a bonus, ``ppo.ent_coef=0``: the rollout's own entropy is logged)."""
    out = policy(ids[:, :-1], with_values=with_values)
    logits = out.logits[:, prompt_len - 1 :].float()  # (B, N, V): predicts ids[:, P:]
    if temperature != 1.0:  # x / 1.0 is x: a pass over (B, N, V), and one in the backward, spared
        logits = logits / temperature
    if min_new_tokens:
        logits = mask_eos(logits, policy.special["eos"] if eos is None else eos, min_new_tokens)
    logp_all = F.log_softmax(logits, dim=-1)
    logprobs = torch.gather(logp_all, 2, ids[:, prompt_len:, None]).squeeze(2)  # (B, N)
    entropy = None
    if with_entropy:
        entropy = -(logp_all.exp() * logp_all.clamp(min=-1e9)).sum(-1)  # (B, N); 0 log 0 = 0 (EOS held back)
    values = out.values[:, prompt_len - 1 :].float() if with_values else None  # (B, N)
    return logprobs, values, entropy


def mask_eos(logits: torch.Tensor, eos: int, positions: int) -> torch.Tensor:
    """(B, N, V) logits with EOS at -inf at the first ``positions`` response positions."""
    if positions <= 0:
        return logits
    logits = logits.clone()
    logits[:, :positions, eos] = float("-inf")
    return logits


def generated_ids(responses: torch.Tensor, mask: torch.Tensor, eos: int) -> list[list[int]]:
    """Each rollout's generated ids as the rewards read them: cut at EOS, EOS itself left out."""
    return [[t for t, m in zip(row, mrow) if m and t != eos] for row, mrow in zip(responses.tolist(), mask.tolist())]


def reference_rollouts(reference: Policy, count: int, sample_cfg: SampleConfig, openings: list[np.ndarray] | None,
                       seed: int, device: torch.device, progress: bool = True, batch_size: int = 64
                       ) -> tuple[list[list[int]], list[list[int]]]:
    """(generated ids, prompts) of ``count`` rollouts of the frozen reference, drawn as the run's
    rollouts are (prompts, length, temperature; seeds of their own): the sample of the
    reference's reward distribution that ``ppo.reward_quantiles`` ranks every rollout against.
    Every process draws the same ones."""
    special, rollouts, prompts_out = reference.special, [], []
    bar = tqdm(total=count, desc="reference rollouts", unit="rollout", disable=not progress)
    for i in range(math.ceil(count / batch_size)):
        n = min(batch_size, count - i * batch_size)
        prompts = make_prompts(openings, special["bos"], seed, 10**6 + i, n).to(device)
        generator = torch.Generator(device=device).manual_seed(seed * 1_000_003 + 10**9 + i)
        ids = sample(reference, prompts, dataclasses.replace(sample_cfg, num=n, batch_size=n), generator=generator)
        responses = ids[:, prompts.shape[1]:]
        rollouts += generated_ids(responses, response_mask(responses, special["eos"], special["pad"]), special["eos"])
        prompts_out += prompts.tolist()
        bar.update(n)
    bar.close()
    return rollouts, prompts_out


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    var = masked_var(returns, mask)
    return float(1 - masked_var(returns - values, mask) / var) if var > 0 else float("nan")


# --- the loop -----------------------------------------------------------------------------------


def finetune(cfg: RunConfig, policy: Policy, reference: Policy, tokenizer, reward_fn: WeightedReward,
             openings: list[np.ndarray] | None = None, meta: dict | None = None, resume_state: dict | None = None,
             refresh: Refresher | Callable[[int, list[list[int]]], dict] | None = None, progress: bool = True,
             cpu: bool = False, companions: dict[str, Callable[[Path], None]] | None = None,
             monitors: dict[str, Callable[[RewardBatch], float]] | None = None) -> Path:
    """Run ``cfg.ppo.updates`` PPO updates; returns the final checkpoint's path (written even when
    the last update was skipped as non-finite: its weights are the last good ones).

    ``refresh`` (a :class:`~rlmusic.train.refresh.Refresher`, or ``fn(update, rollouts)`` to make one;
    ``fn(update, rollouts, earlier)`` with ``ppo.refresh_history``)
    retrains the discriminator every ``ppo.refresh_every`` updates on those updates' rollouts;
    ``companions`` ({subfolder: save}) go into every checkpoint (the discriminator's weights, so
    a resumed run refreshes from the same one); ``monitors`` ({name: fn(batch)}) are logged every
    update and never enter the reward (the independent judge: the Goodhart curve).

    On several processes (``accelerate launch``) each rank samples its own rollouts (seeded by
    rank), gradients are averaged, the logged figures are means over every rank's rollouts, the
    KL coefficient follows the mean KL, and only the main process writes."""
    pc = cfg.ppo
    if pc.threads:
        torch.set_num_threads(pc.threads)
    accelerator = make_accelerator(pc.mixed_precision, cpu=cpu)
    device = accelerator.device
    special = policy.special
    optimizer = torch.optim.AdamW(policy.parameters(), lr=pc.lr, eps=1e-5)
    model, optimizer = accelerator.prepare(policy, optimizer)
    # accelerate wraps forward in autocast; every pass below says its precision itself instead
    model = accelerator.unwrap_model(model, keep_fp32_wrapper=False) if accelerator.num_processes == 1 else model
    reference = reference.to(device).eval().requires_grad_(False)
    model.eval()  # dropout off: rollouts, old and new log-probabilities all see the same network
    # Sampling steps one token at a time: on a CPU bf16 makes those small steps slower
    # (bench/cpu_bf16.py), so there rollouts stay fp32 and only the batched passes use autocast.
    rollout_precision = accelerator.autocast if device.type == "cuda" else nullcontext
    kl_ctl = AdaptiveKLController(pc.kl_coef, pc.target_kl, pc.kl_horizon) if pc.adaptive_kl else FixedKLController(pc.kl_coef)
    start = 0
    if resume_state is not None:
        with restoring(resume_state):
            restore_optimizer(optimizer, resume_state["optimizer"], resume_state)
        kl_ctl.value = float(resume_state["kl_coef"])
        start = resume_state["update"]
    if start >= pc.updates:
        raise RLMusicError(f"the run in {pc.out_dir} is already at update {start} >= ppo.updates ({pc.updates})")
    sample_cfg = SampleConfig(num=pc.batch_size, max_new_tokens=pc.max_new_tokens, temperature=pc.temperature,
                              top_k=pc.top_k, top_p=pc.top_p, min_new_tokens=pc.min_new_tokens,
                              batch_size=pc.batch_size, seed=pc.seed)
    logger = RunLogger(pc.out_dir, pc.report_to, config=cfg.to_dict()) if accelerator.is_main_process else None
    meta = (meta or {}) | {"stage": "finetune", "config": cfg.to_dict(), "reward": reward_fn.names,
                           "processes": accelerator.num_processes}
    last_path, bad = None, 0
    refresher = refresh if isinstance(refresh, Refresher) or refresh is None or not pc.refresh_every \
        else Refresher(refresh, pc.refresh_every, history=pc.refresh_history)
    if refresher is not None and resume_state is not None:
        refresher.restore(resume_state.get("refresh_buffer"))
    if resume_state is not None:
        reward_fn.restore(resume_state.get("reward_state"))
    many = accelerator.num_processes > 1

    def everywhere(ok: bool) -> bool:
        """Whether ``ok`` holds on every process: a rank skipping a step alone would leave the
        others waiting in the gradient all-reduce."""
        if not many:
            return ok
        return bool(accelerator.reduce(torch.tensor(float(ok), device=device), "sum") == accelerator.num_processes)

    def checkpoint(update: int) -> None:
        nonlocal last_path
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:  # one writer; every rank holds the same weights
            state = {"optimizer": optimizer.state_dict(), "kl_coef": kl_ctl.value, "update": update,
                     "refresh_buffer": refresher.state() if refresher is not None else [],
                     "reward_state": reward_fn.state()}
            save_checkpoint(pc.out_dir, update, accelerator.unwrap_model(model), tokenizer,
                            meta | {"update": update, "kl_coef": kl_ctl.value}, state,
                            keep_last=pc.keep_last, companions=companions)
        accelerator.wait_for_everyone()
        last_path = Path(pc.out_dir) / f"checkpoint-{update:06d}"  # save_checkpoint's name, known on every rank

    def skip_update(bad: int, what: str, update: int) -> int:
        """A non-finite update is skipped, weights untouched; too many in a row stop the run."""
        if bad + 1 >= pc.max_bad_steps:
            raise RLMusicError(f"{what} non-finite for {bad + 1} consecutive updates (update {update}); the last good "
                               f"checkpoint in {pc.out_dir} is kept. Lower ppo.lr?")
        return bad + 1

    # --- 0. the reference's own reward distribution (ppo.reward_quantiles; kept in checkpoints)
    if isinstance(reward_fn, QuantileReward) and reward_fn.reference is None:
        with rollout_precision():
            drawn = reference_rollouts(reference, reward_fn.count, sample_cfg, openings, pc.seed, device,
                                       progress=progress and accelerator.is_main_process)
        reward_fn.fit_rollouts(*drawn, tokenizer)

    bar = tqdm(range(start, pc.updates), initial=start, total=pc.updates, desc=pc.algo, unit="update",
               disable=not (progress and accelerator.is_main_process))
    for update in bar:
        # --- 1. rollout
        t0 = time.perf_counter()
        rank = accelerator.process_index  # each process draws its own prompts and samples
        prompts = make_prompts(openings, special["bos"], pc.seed, update * 1000 + rank, pc.batch_size).to(device)
        P = prompts.shape[1]
        generator = torch.Generator(device=device).manual_seed(pc.seed * 1_000_003 + update * 1000 + rank)
        with rollout_precision():
            # Old log-probabilities and values come from the sampling passes themselves (KV-cache
            # logits equal a full forward's to ~1e-6): no second forward of the policy.
            ids, seen = sample_recorded(accelerator.unwrap_model(model), prompts, sample_cfg, generator=generator)
        responses = ids[:, P:]  # (B, N)
        mask = response_mask(responses, special["eos"], special["pad"])  # (B, N)
        old_logprobs, old_values, entropy = seen.logprobs * mask, seen.values * mask, seen.entropy
        if not pc.value_head:  # no critic: the advantages are the returns themselves
            old_values = torch.zeros_like(old_values)
        with torch.no_grad(), rollout_precision():  # the same precision as old_logprobs: KL without bf16 noise
            ref_logprobs, _, _ = logprobs_values(reference, ids, P, pc.temperature, pc.min_new_tokens,
                                                 with_entropy=False, with_values=False)
        t_rollout = time.perf_counter() - t0

        # --- 2. score: weighted rewards on the generated ids (cut at EOS), missing-EOS penalty
        t1 = time.perf_counter()
        gen_ids = generated_ids(responses, mask, special["eos"])
        batch = RewardBatch(gen_ids, tokenizer, prompts=prompts.tolist())
        scores_np, parts = reward_fn(batch)
        has_eos = (responses == special["eos"]).any(1)
        scores = torch.tensor(scores_np, dtype=torch.float32, device=device)
        if pc.eos_expected:
            scores = scores - pc.missing_eos_penalty * (~has_eos).float()
        t_score = time.perf_counter() - t1
        if not everywhere(bool(torch.isfinite(scores).all())):
            bad = skip_update(bad, "rewards were", update)
            continue

        # --- 3. KL-shaped per-token rewards
        rewards, kl = kl_shaped_rewards(old_logprobs, ref_logprobs, scores, mask, kl_ctl.value)
        if pc.scale_rewards:
            rewards = rewards / returns_rms(rewards, mask, pc.gamma)

        # --- 4. advantages: GAE backwards, whitened over valid tokens
        advantages, returns = gae(rewards, old_values, mask, pc.gamma, pc.lam)
        if pc.whiten_advantages:
            advantages = masked_whiten(advantages, mask)

        # --- 5. clipped epochs over minibatches
        t2 = time.perf_counter()
        rng = np.random.default_rng([pc.seed, update, 2])
        stats: dict[str, list[float]] = {}
        finite = True
        for _epoch in range(pc.epochs):
            for mb in np.split(rng.permutation(pc.batch_size), pc.batch_size // pc.minibatch_size):
                mb = torch.as_tensor(mb, device=device)
                with accelerator.autocast():
                    new_logprobs, new_values, new_entropy = logprobs_values(model, ids[mb], P, pc.temperature,
                                                                            pc.min_new_tokens, special["eos"],
                                                                            with_entropy=pc.ent_coef > 0,
                                                                            with_values=pc.value_head)
                pg_loss, pg_stats = policy_loss(new_logprobs, old_logprobs[mb], advantages[mb], mask[mb], pc.cliprange)
                loss = pg_loss
                if pc.value_head:
                    vf_loss, vf_clipfrac = value_loss(new_values, old_values[mb], returns[mb], mask[mb],
                                                      pc.cliprange_value)
                    loss = loss + pc.vf_coef * vf_loss
                    pg_stats |= {"loss/value": vf_loss, "value/clipfrac": vf_clipfrac}
                if new_entropy is not None:  # the bonus, where there is one
                    loss = loss - pc.ent_coef * masked_mean(new_entropy, mask[mb])
                if not everywhere(bool(torch.isfinite(loss))):
                    finite = False
                    break
                optimizer.zero_grad(set_to_none=True)
                accelerator.backward(loss)
                grad_norm = accelerator.clip_grad_norm_(model.parameters(), pc.max_grad_norm or float("inf"))
                if not math.isfinite(float(grad_norm)):  # the same on every rank: gradients are all-reduced
                    finite = False
                    break
                optimizer.step()
                for k, v in (("loss/policy", pg_loss), ("policy/clipfrac", pg_stats["clipfrac"]),
                             ("policy/approx_kl", pg_stats["approx_kl"]), ("policy/ratio", pg_stats["ratio"]),
                             ("policy/grad_norm", grad_norm),
                             *((k, pg_stats[k]) for k in ("loss/value", "value/clipfrac") if k in pg_stats)):
                    stats.setdefault(k, []).append(float(v.detach()) if torch.is_tensor(v) else float(v))
            if not finite:
                break
        t_update = time.perf_counter() - t2
        if not finite:
            optimizer.zero_grad(set_to_none=True)
            bad = skip_update(bad, "loss or gradient was", update)
            continue
        bad = 0

        # --- 6. what this update saw, with the KL coefficient it used; the monitors (never rewards)
        kl_per_seq = float(kl.sum(1).mean())
        done = update + 1
        row = {"reward/total": float(scores.mean()), "objective/kl": kl_per_seq, "objective/kl_coef": kl_ctl.value,
               "objective/entropy": float(masked_mean(entropy, mask)),
               "objective/rlhf_reward": float(scores.mean()) - kl_ctl.value * kl_per_seq,
               "rollout/length": float(mask.sum(1).mean()), "rollout/eos_fraction": float(has_eos.float().mean()),
               "time/rollout": t_rollout, "time/score": t_score, "time/update": t_update,
               "perf/tokens_per_s": float(mask.sum()) / (t_rollout + t_score + t_update)}
        if pc.value_head:
            row["value/explained_variance"] = explained_variance(old_values, returns, mask)
        row |= reward_fn.log_values(parts) | {k: float(np.mean(v)) for k, v in stats.items()}
        row |= {name: float(fn(batch)) for name, fn in (monitors or {}).items()}
        if many:  # every rank's batch is as large: the mean of the ranks' means is the mean over all
            keys = sorted(row)
            means = accelerator.reduce(torch.tensor([row[k] for k in keys], dtype=torch.float64, device=device), "mean")
            row = dict(zip(keys, means.tolist()))
            kl_per_seq = row["objective/kl"]

        # --- 7. adapt beta to this batch's KL (every rank's: each keeps the same beta)
        kl_ctl.update(kl_per_seq, pc.batch_size * accelerator.num_processes)

        # --- 8. co-evolve the discriminator on the last refresh_every updates' rollouts (and F with it)
        if refresher is not None:
            row |= refresher.step(done, gen_ids, accelerator)
            if isinstance(reward_fn, QuantileReward) and done % refresher.every == 0:
                reward_fn.refit(tokenizer)  # F as the refreshed discriminator hears the reference

        # --- 9. log, samples and checkpoints (the main process writes)
        if logger:
            logger.log(done, row)
        bar.set_postfix(reward=f"{row['reward/total']:.3f}", kl=f"{kl_per_seq:.2f}")
        if pc.sample_every and done % pc.sample_every == 0 and accelerator.is_main_process:
            write_pieces([GeneratedPiece(g, *decode_ids(tokenizer, g)) for g in gen_ids[:4]],
                         Path(pc.out_dir) / "samples" / f"update_{done:05d}")
        if done % pc.save_every == 0 or done == pc.updates:
            checkpoint(done)
    bar.close()
    if logger:
        logger.close()
    if last_path is None or last_path.name != f"checkpoint-{pc.updates:06d}":
        checkpoint(pc.updates)
    return last_path

"""The co-evolving discriminator's owner: which rollouts a refresh sees, when, and on which process.

The seeds' GAN classifier learns from the generator's own output. Every ``ppo.refresh_every``
updates the discriminator retrains on the rollouts of exactly those updates, with those of the
``ppo.refresh_history`` updates before them as further negatives (a buffer of that many
batches, kept in the run's checkpoint so a resumed run refreshes on the same ones). On
several processes every rank's rollouts go into the buffer, the main process trains, and its
weights are broadcast, so every rank rewards with the same discriminator.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
import torch
from accelerate.utils import AutocastKwargs, broadcast_object_list, gather_object
from torch import nn

from rlmusic.config.sections import ClfConfig
from rlmusic.data.labelled import Labelled, sample_windows
from rlmusic.models.discriminator import Discriminator, discriminator_loss

RefreshFn = Callable[..., dict]  # fn(update, rollouts) -> logged figures; with a history, fn(update, rollouts, earlier)


class Refresher:
    """``step(update, this update's rollouts, accelerator)`` after every update: the refresh's
    logged figures when one ran (``{}`` otherwise). ``fn(update, rollouts)`` trains the
    discriminator ``disc`` (see ``rlmusic.models.discriminator.refresh_discriminator``) on the
    last ``every`` updates' rollouts; with ``history`` > 0 it is called as ``fn(update,
    rollouts, earlier)``, ``earlier`` the ``history`` updates' rollouts before those."""

    def __init__(self, fn: RefreshFn, every: int, disc: nn.Module | None = None, history: int = 0):
        if every <= 0 or history < 0:
            raise ValueError("a Refresher refreshes every so many updates (every >= 1, history >= 0)")
        self.fn, self.every, self.disc, self.history = fn, every, disc, history
        # one entry per update, all ranks' rollouts
        self.buffer: deque[list[list[int]]] = deque(maxlen=every + history)

    def rollouts(self) -> list[list[int]]:
        """What the next refresh trains on: the last ``every`` updates' rollouts, oldest first."""
        return [x for batch in list(self.buffer)[-self.every :] for x in batch]

    def earlier(self) -> list[list[int]]:
        """The history: the rollouts of the updates before those, oldest first."""
        return [x for batch in list(self.buffer)[: -self.every] for x in batch]

    def state(self) -> list[list[list[int]]]:
        return [list(batch) for batch in self.buffer]

    def restore(self, state: list[list[list[int]]] | None) -> None:
        self.buffer.clear()
        self.buffer.extend(state or [])

    def step(self, update: int, rollouts: list[list[int]], accelerator) -> dict:
        many = accelerator.num_processes > 1
        self.buffer.append(gather_object(rollouts) if many else rollouts)
        if update % self.every:
            return {}
        row: dict = {}
        if accelerator.is_main_process:
            # The run's precision, without autocast's weight cache: it would keep serving the
            # first forward's bf16 weights through every optimizer step.
            with accelerator.autocast(AutocastKwargs(cache_enabled=False)):
                row = self.fn(update, self.rollouts(), self.earlier()) if self.history else \
                    self.fn(update, self.rollouts())
        if many:
            row = broadcast_object_list([row])[0]
            if self.disc is not None:
                with torch.no_grad():
                    for tensor in self.disc.state_dict().values():
                        torch.distributed.broadcast(tensor, src=0)
        return row


def refresh_discriminator(disc: Discriminator, data: Labelled, fresh: list[list[int]], cfg: ClfConfig,
                          steps: int, share: float = 0.25, target: float = 0.3, seed: int = 0,
                          held_out: list[list[int]] | None = None, real_floor: float = 0.0,
                          check_every: int = 5, matched: list[np.ndarray] | None = None,
                          matched_openings: bool = True, scrambled: list[np.ndarray] | None = None,
                          held_out_scrambled: list[list[int]] | None = None,
                          earlier: list[list[int]] | None = None) -> dict[str, float]:
    """The co-evolving discriminator (the seeds' "GAN classifier"): train on the labelled set
    (real jazz against non-jazz) with the policy's ``fresh`` rollouts as negatives, a fixed
    ``share`` of every batch, each read as the ``jazz_clf`` reward reads it (its last
    ``max_window`` ids). Every ``check_every`` steps it measures the rollouts' mean P(jazz) and
    the ``held_out`` real jazz windows'; it stops once the rollouts are below ``target`` while
    real jazz is still at least ``real_floor``. Real jazz may dip on the way (the first steps
    move the discriminator most: measured, 0.85 -> 0.58 after 5 steps, 0.93 after 25); if the
    ``steps`` budget ends with real jazz below the floor, the weights go back to the last check
    where it was not: separating the policy's samples must not cost the recognition of real
    jazz. A discriminator that starts below the floor is left untouched.
    No augmentation: the fresh negatives are the policy's own output, read exactly as the
    reward reads them. With ``matched`` (real jazz pieces), every fresh negative comes with a
    positive cut like it: as many tokens, from a real piece's start (``matched_openings``: the
    samples start at BOS) or from anywhere in it. Without it the only windows of that shape
    are negatives, and the discriminator learns "a 128-token opening is not jazz", which is
    also what held-out real jazz openings are (scripts/refresh_study.py measures both).
    ``scrambled`` (corrupted copies of real jazz) stay ``cfg.scrambled_share`` of every batch, as
    in training: a discriminator that may only separate the samples by texture would keep
    calling texture without harmony jazz. ``held_out_scrambled``: corrupted copies of the
    held-out real jazz, whose P(jazz) is reported after the refresh (the scramble test).
    ``earlier``: the policy's rollouts from before ``fresh`` (``ppo.refresh_history``), drawn as
    negatives beside them; the stop reads ``fresh`` alone, as samples the discriminator already
    rejects would otherwise end a refresh before it saw the new ones.
    Seeded by ``seed`` (windows and dropout), so a resumed run refreshes identically."""
    fresh = [f[-disc.max_window :] for f in fresh if len(f) >= 8]
    pool = fresh + [f[-disc.max_window :] for f in earlier or () if len(f) >= 8]  # the negatives drawn
    before = float(disc.prob_jazz(fresh).mean()) if fresh else math.nan
    out = {"clf/refresh_p_jazz_before": before}
    if not fresh:
        return out
    rng = np.random.default_rng([cfg.seed, seed])
    n_fresh = max(1, round(share * cfg.batch_size))
    opt = torch.optim.AdamW(disc.parameters(), lr=cfg.lr * 0.5, weight_decay=0.01)
    watch_real = bool(held_out) and real_floor > 0

    def real_p() -> float:
        return float(disc.prob_jazz(held_out).mean()) if watch_real else 1.0

    done, p, real = 0, before, real_p()
    good = {k: v.detach().clone() for k, v in disc.state_dict().items()} if watch_real else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        for step in range(steps):
            if real < real_floor and done == 0 or p < target and real >= real_floor:
                break
            disc.train()
            windows, labels = sample_windows(data, rng, cfg.batch_size - n_fresh * (2 if matched else 1),
                                             cfg.min_window, cfg.max_window, cfg.balance, scrambled,
                                             cfg.scrambled_share)
            picked = [pool[i] for i in rng.integers(len(pool), size=n_fresh)]
            windows, labels = windows + picked, labels + [0] * n_fresh
            if matched:
                for i, w in zip(rng.integers(len(matched), size=n_fresh), picked):
                    start = 0 if matched_openings else int(rng.integers(0, max(len(matched[i]) - len(w), 0) + 1))
                    windows.append(matched[i][start : start + len(w)].tolist())
                labels += [1] * n_fresh
            loss = discriminator_loss(disc, windows, labels, cfg.lm_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(disc.parameters(), 1.0)
            opt.step()
            done = step + 1
            if done % check_every == 0 or done == steps:
                p, real = float(disc.prob_jazz(fresh).mean()), real_p()
                if watch_real and real >= real_floor:
                    good = {k: v.detach().clone() for k, v in disc.state_dict().items()}
    if watch_real and done and real < real_floor:  # the budget ran out with real jazz lost
        disc.load_state_dict(good)
        out["clf/refresh_rolled_back"] = 1.0
    disc.eval()
    out |= {"clf/refresh_p_jazz_after": float(disc.prob_jazz(fresh).mean()), "clf/refresh_steps": float(done)}
    if held_out:
        out["clf/refresh_real_jazz"] = float(disc.prob_jazz(held_out).mean())
    if held_out_scrambled:
        out["clf/refresh_scrambled_jazz"] = float(disc.prob_jazz(held_out_scrambled).mean())
    return out

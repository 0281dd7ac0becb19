"""The co-evolving discriminator's owner: which rollouts a refresh sees, when, and on which process.

The seeds' GAN classifier learns from the generator's own output. Every ``ppo.refresh_every``
updates the discriminator retrains on the rollouts of exactly those updates (a buffer of that
many batches, kept in the run's checkpoint so a resumed run refreshes on the same ones). On
several processes every rank's rollouts go into the buffer, the main process trains, and its
weights are broadcast, so every rank rewards with the same discriminator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch
from accelerate.utils import AutocastKwargs, broadcast_object_list, gather_object
from torch import nn

RefreshFn = Callable[[int, list[list[int]]], dict]


class Refresher:
    """``step(update, this update's rollouts, accelerator)`` after every update: the refresh's
    logged figures when one ran (``{}`` otherwise). ``fn(update, rollouts)`` trains the
    discriminator ``disc`` (see ``rlmusic.discriminator.refresh_discriminator``)."""

    def __init__(self, fn: RefreshFn, every: int, disc: nn.Module | None = None):
        if every <= 0:
            raise ValueError("a Refresher refreshes every so many updates (every >= 1)")
        self.fn, self.every, self.disc = fn, every, disc
        self.buffer: deque[list[list[int]]] = deque(maxlen=every)  # one entry per update, all ranks' rollouts

    def rollouts(self) -> list[list[int]]:
        """What the next refresh trains on: the last ``every`` updates' rollouts, oldest first."""
        return [x for batch in self.buffer for x in batch]

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
                row = self.fn(update, self.rollouts())
        if many:
            row = broadcast_object_list([row])[0]
            if self.disc is not None:
                with torch.no_grad():
                    for tensor in self.disc.state_dict().values():
                        torch.distributed.broadcast(tensor, src=0)
        return row

"""``jazz_clf``: the discriminator's probability that a sample is jazz.

Range [0, 1]: P(jazz) from the softmax of the classifier's two logits, on the sample's last
``max_window`` ids, batched, in eval mode (deterministic). A policy with another tokenizer than
the discriminator's has its samples re-encoded with the discriminator's own. The probability rather
than the log-probability keeps the reward bounded: a log-probability lets a single hopeless
sample dominate a batch's advantages.

Example::

    >>> from rlmusic.models.discriminator import load_discriminator
    >>> reward = jazz_clf(discriminator=load_discriminator("checkpoints/jazz-clf"))
    >>> reward(batch)  # P(jazz) of each sample
"""

from __future__ import annotations

from rlmusic.errors import RLMusicError
from rlmusic.reward_contract import RewardBatch


class JazzClf:
    """P(jazz) of each sample under ``discriminator`` (a picklable reward object)."""

    NAME, RANGE = "jazz_clf", (0.0, 1.0)

    def __init__(self, discriminator):
        self.name = self.__name__ = self.NAME  # TRL logs reward functions by __name__
        self.range = self.RANGE
        self.discriminator = discriminator

    def ids(self, batch: RewardBatch) -> list[list[int]]:
        """The samples as the discriminator reads them (re-encoded with its own tokenizer if need be)."""
        d = self.discriminator
        return batch.ids if d.speaks(batch.tokenizer) else d.encode(batch.pieces)

    def __call__(self, batch: RewardBatch) -> list[float]:
        return [float(p) for p in self.discriminator.prob_jazz(self.ids(batch))]


def require_discriminator(discriminator, name: str) -> None:
    """The one-line error for a discriminator reward built without one."""
    if discriminator is None:
        raise RLMusicError(f"the {name} reward needs a discriminator: pass --discriminator CKPT "
                           "(train one with `rlmusic train-clf`)")


def jazz_clf(discriminator=None) -> JazzClf:
    """The ``jazz_clf`` reward: range [0, 1]."""
    require_discriminator(discriminator, "jazz_clf")
    return JazzClf(discriminator)

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

    def __init__(self, discriminator):
        self.name = self.__name__ = "jazz_clf"  # TRL logs reward functions by __name__
        self.range = (0.0, 1.0)
        self.discriminator = discriminator

    def __call__(self, batch: RewardBatch) -> list[float]:
        d = self.discriminator
        ids = batch.ids if d.speaks(batch.tokenizer) else d.encode(batch.pieces)
        return [float(p) for p in d.prob_jazz(ids)]


def jazz_clf(discriminator=None) -> JazzClf:
    """The ``jazz_clf`` reward: range [0, 1]."""
    if discriminator is None:
        raise RLMusicError("the jazz_clf reward needs a discriminator: pass --discriminator CKPT "
                           "(train one with `rlmusic train-clf`)")
    return JazzClf(discriminator)

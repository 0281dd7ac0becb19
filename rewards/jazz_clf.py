"""``jazz_clf``: the discriminator's probability that a sample is jazz.

Range [0, 1]: P(jazz) from the softmax of the classifier's two logits, on the sample's last
``max_window`` ids, batched, in eval mode (deterministic). A policy with another tokenizer than
the discriminator's has its samples re-encoded with the discriminator's own. The probability rather
than the log-probability keeps the reward bounded: a log-probability lets a single hopeless
sample dominate a batch's advantages.
"""

from __future__ import annotations

from rlmusic.errors import RLMusicError
from rlmusic.reward_contract import RewardBatch, reward


def jazz_clf(discriminator=None):
    if discriminator is None:
        raise RLMusicError("the jazz_clf reward needs a discriminator: pass --discriminator CKPT "
                           "(train one with `rlmusic train-clf`)")

    @reward("jazz_clf", 0.0, 1.0)
    def score(batch: RewardBatch) -> list[float]:
        ids = batch.ids if discriminator.speaks(batch.tokenizer) else discriminator.encode(batch.pieces)
        return [float(p) for p in discriminator.prob_jazz(ids)]

    return score

"""``jazz_logodds``: the discriminator's log-odds that a sample is jazz, clipped to [-4, 4].

``jazz_clf`` pays P(jazz), which saturates: a sample at 0.99 earns little more than one at
0.9, and nothing in it says where to stop. The log-odds ``log P(jazz) / P(other)`` is the
discriminator's estimate of ``log p_jazz(x) / p_negatives(x)``, and with it PPO's objective has a
known answer. The KL-regularised objective ``E[r] - beta * KL(pi || prior)`` is maximised by
``pi(x) ∝ prior(x) * exp(r(x) / beta)`` (Korbak, Perez and Buckley, "RL with KL penalties is
better viewed as Bayesian inference", 2022). With ``r`` these log-odds and ``--kl-coef 1``
that is ``prior(x) * p_jazz(x) / p_negatives(x)``; for a discriminator whose negatives are the
prior's own samples, ``p_jazz`` itself: the jazz it was shown, not the single sample it likes
most. Co-evolving (``ppo.refresh_every``), the negatives are the policy's rollouts, and a
discriminator trained to its optimum on them alone would make the reward's expected gradient
that of ``-KL(pi || p_jazz)``. Neither held on the demo's corpus in 200 updates: alone, the
runs fell onto single lines; inside the demo's reward it behaves much as ``jazz_clf`` does
(docs/results.md, "The discriminator's log-odds as the reward"). At ``--kl-coef 1`` set
``ppo.scale_rewards``: without it the value head diverged.

The clip keeps the tilt ``exp(r / beta)`` between any two samples under ``e^8`` at ``beta = 1``:
a discriminator is least calibrated where it is surest, and an unbounded reward lets one
sample dominate a batch's advantages. Range [-4, 4]; a policy with another tokenizer than the
discriminator's has its samples re-encoded with the discriminator's own, as for ``jazz_clf``.

Example::

    >>> from rlmusic.models.discriminator import load_discriminator
    >>> reward = jazz_logodds(discriminator=load_discriminator("checkpoints/jazz-clf-gan"))
    >>> reward(batch)  # log P(jazz) / P(other) of each sample, clipped to [-4, 4]
"""

from __future__ import annotations

import numpy as np

from rewards.jazz_clf import JazzClf, require_discriminator
from rlmusic.reward_contract import RewardBatch

CLIP = 4.0  # P(jazz) 0.018 to 0.982


class JazzLogOdds(JazzClf):
    """Clipped log P(jazz) / P(other) of each sample under ``discriminator`` (a picklable reward object)."""

    NAME, RANGE = "jazz_logodds", (-CLIP, CLIP)

    def __call__(self, batch: RewardBatch) -> list[float]:
        return [float(x) for x in np.clip(self.discriminator.log_odds_jazz(self.ids(batch)), -CLIP, CLIP)]


def jazz_logodds(discriminator=None) -> JazzLogOdds:
    """The ``jazz_logodds`` reward: range [-4, 4]."""
    require_discriminator(discriminator, "jazz_logodds")
    return JazzLogOdds(discriminator)

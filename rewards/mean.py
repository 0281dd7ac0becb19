"""Mean rewards: draw a metric toward the target music's mean, not only inside its band.

A band reward is 0 anywhere inside the target's 5th-95th band, so a policy can sit at one end
of every band at once: each sample passes, and the set's means still give it away to the
two-sample test of ``rlmusic metrics`` (a logistic regression on the metric vector reads mean
shifts). ``mean:NAME`` scores each sample by how far its metric lies from the target windows'
mean, in the target's standard deviations:

    score = -min(1, |x - mean| / (2 * sd))

0 at the mean, -0.5 one standard deviation away, -1 at two or more and for a piece on which the
metric is undefined (NaN). The target's values are the windows the band rewards are measured on
(the corpus's pieces named by ``ppo.bands_from``, or ``ppo.target``). With ``mean:NAME`` in the
reward, that metric's share of the two-sample test is something the policy trained toward.

Example::

    >>> from rewards.mean import mean
    >>> reward = mean("voice_leading", reference_metrics={"voice_leading": [2.0, 3.0, 4.0], ...})
    >>> reward(batch)  # 0.0 at 3.0 semitones, -1.0 at 1.37 or less (two sd of 0.816 away)
"""

from __future__ import annotations

import math

import numpy as np

from rlmusic.errors import RLMusicError
from rlmusic.music.metrics import METRICS
from rlmusic.reward_contract import RewardBatch, reads


class Mean:
    """``mean_score`` of one metric against the target's mean and standard deviation, per
    sample (a picklable reward object)."""

    def __init__(self, name: str, metric: str, mean: float, sd: float):
        self.name = self.__name__ = name  # TRL logs reward functions by __name__
        self.range = (-1.0, 0.0)
        self.metric, self.mean, self.sd = metric, float(mean), float(sd)

    def __call__(self, batch: RewardBatch) -> list[float]:
        return [mean_score(v, self.mean, self.sd) for v in batch.metric(self.metric).tolist()]

    def __repr__(self) -> str:
        return f"Mean({self.name!r}, {self.metric!r}, {self.mean}, {self.sd})"


def mean_score(value: float, mean: float, sd: float) -> float:
    """0 at ``mean``; -(distance / 2 sd), clipped at -1; -1 for NaN."""
    if math.isnan(value):
        return -1.0
    return -min(1.0, abs(value - mean) / max(2.0 * sd, 1e-6))


@reads(argument=True)
def mean(metric: str, reference_metrics: dict[str, list[float]] | None = None) -> Mean:
    """``metric`` near the target's mean: range [-1, 0]."""
    if metric not in METRICS:
        raise RLMusicError(f"mean:{metric}: unknown metric; metrics: {', '.join(METRICS)}")
    if not reference_metrics or metric not in reference_metrics:
        raise RLMusicError(f"the mean:{metric} reward needs the target's values of {metric} "
                           f"(the finetune command measures them on the corpus, or on ppo.target)")
    v = np.asarray(reference_metrics[metric], float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        raise RLMusicError(f"mean:{metric}: the metric is defined on fewer than two target windows; "
                           f"give ppo.bands_from or ppo.target more music")
    return Mean(f"mean:{metric}", metric, float(v.mean()), float(v.std()))

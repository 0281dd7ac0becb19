"""``metric_match``: the samples' whole metric vectors look like the target music's.

A band reward keeps one metric inside the target's band; eight metrics can each sit inside
their bands and still, together, give every sample away (the classifier two-sample test of
``rlmusic metrics``). This reward is that test turned into a critic, as in a feature-matching
GAN: a logistic regression on the standardised vector of every ``rlmusic.music.metrics``
metric, refit at every call on the policy's recent samples (label 0) against the target's
windows (label 1), scores each sample with its probability of being target music. It
co-evolves with the policy by construction: whatever still separates the latest samples is
what the critic weighs next.

With it in the reward, the two-sample AUC and Fréchet distance of ``rlmusic metrics`` are what
the policy trained against, no longer a yardstick it never saw (``rlmusic metrics`` says so in
an alarm line); the judge and the scramble test stay outside it.

Range [0, 1]. The target's vectors are the windows the band rewards are measured on (the
corpus's pieces named by ``ppo.bands_from``, or ``ppo.target``), as long as the rollouts. A
metric undefined on a piece (NaN) takes the target's median, so a sample without a bass line
is judged on the rest. The critic's memory of recent samples goes into the checkpoint, so a
resumed run scores as the uninterrupted one; on several processes each remembers its own
rollouts, and the checkpoint keeps the main process's.

Example::

    >>> from rewards.metric_match import metric_match
    >>> reward = metric_match(reference_metrics={"polyphony": [2.0, 3.1, ...], ...})
    >>> reward(batch)  # P(target) of each sample under the critic refit on this batch too
"""

from __future__ import annotations

import math
import warnings
from collections import deque

import numpy as np

from rlmusic.errors import RLMusicError
from rlmusic.music.metrics import METRICS
from rlmusic.reward_contract import RewardBatch, reads


class MetricMatch:
    """P(target) of each sample's metric vector under a logistic critic refit on every batch
    (a picklable reward object). ``reference``: {metric: its value on each target window}."""

    def __init__(self, reference: dict[str, list[float]], memory: int = 256, c: float = 1.0):
        self.name = self.__name__ = "metric_match"  # TRL logs reward functions by __name__
        self.range = (0.0, 1.0)
        names = [n for n in METRICS if n in reference]
        ref = np.array([reference[n] for n in names], float).T
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a metric NaN on every window: dropped below
            fill = np.nanmedian(ref, axis=0)
        ref = np.where(np.isnan(ref), fill, ref)
        sd = ref.std(0)
        keep = np.isfinite(fill) & (sd > 1e-12)  # a metric constant in the target tells nothing
        if len(ref) < 2 or not keep.any():
            raise RLMusicError("metric_match needs target windows on which some metric varies; "
                               "give ppo.bands_from or ppo.target more music")
        self.names = [n for n, k in zip(names, keep) if k]
        self.fill, self.mean, self.sd = fill[keep], ref[:, keep].mean(0), sd[keep]
        self.reference = (ref[:, keep] - self.mean) / self.sd
        self.memory: deque = deque(maxlen=memory)
        self.c = c

    def vectors(self, batch: RewardBatch) -> np.ndarray:
        """(samples, metrics) standardised by the target's mean and spread, NaN as its median."""
        x = np.stack([batch.metric(n) for n in self.names], axis=1).reshape(-1, len(self.names))
        x = np.where(np.isnan(x), self.fill, x)
        return (x - self.mean) / self.sd

    def __call__(self, batch: RewardBatch) -> list[float]:
        from sklearn.linear_model import LogisticRegression

        x = self.vectors(batch)
        self.memory.extend(x)
        fake = np.array(self.memory)
        critic = LogisticRegression(C=self.c, class_weight="balanced", max_iter=1000)
        critic.fit(np.vstack([fake, self.reference]), np.r_[np.zeros(len(fake)), np.ones(len(self.reference))])
        return [float(p) for p in critic.predict_proba(x)[:, 1]]

    def state(self) -> dict:
        return {"memory": [list(map(float, v)) for v in self.memory]}

    def restore(self, state: dict) -> None:
        self.memory.clear()
        self.memory.extend(np.asarray(v, float) for v in state.get("memory", []))

    def __repr__(self) -> str:
        return f"MetricMatch({len(self.names)} metrics, {len(self.reference)} target windows, memory {self.memory.maxlen})"


@reads(*METRICS)
def metric_match(reference_metrics: dict[str, list[float]] | None = None) -> MetricMatch:
    """The ``metric_match`` reward: range [0, 1]."""
    if not reference_metrics:
        raise RLMusicError("the metric_match reward needs the target's metric values "
                           "(the finetune command measures them on the corpus, or on ppo.target)")
    if not any(len(v) and not all(math.isnan(x) for x in v) for v in reference_metrics.values()):
        raise RLMusicError("metric_match: every target metric is undefined (no notes in the target windows?)")
    return MetricMatch(reference_metrics)

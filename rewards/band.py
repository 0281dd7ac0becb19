"""Band rewards: keep a metric inside the band the target music spans.

Maximising pitch-class entropy would reward chromatic noise, maximising note onsets per beat
would reward a machine gun, and a jazz discriminator alone is pleased by one sustained chord
every two beats. So a band reward is 0 inside the target set's [low, high] band (by default
its 5th-95th percentiles on windows as long as the samples, computed by ``rlmusic.music.bands``
from the corpus, or from its pieces named by ``ppo.bands_from``) and falls linearly outside,
by the band's width, to -1. A piece where the metric is undefined (NaN: no notes) scores -1.

``band:NAME`` works for every metric of ``rlmusic.music.metrics.METRICS`` (``band:onsets_per_beat``,
``band:polyphony``, ``band:pitch_class_entropy``, ...). ``pitch_entropy`` and ``scale`` are the
two original names, kept so old commands and runs still work: ``pitch_entropy`` is
``band:pitch_class_entropy`` (pitch-*class* entropy, not the metric ``pitch_entropy``) and
``scale`` is ``band:scale_consistency``.

Example::

    >>> from rlmusic.reward_contract import build_reward
    >>> from rewards import REWARDS
    >>> fn = build_reward("band:onsets_per_beat", REWARDS, bands={"onsets_per_beat": (1.0, 3.0)})
    >>> fn(batch)  # one float per sample: 0.0 inside the band, down to -1.0 outside
"""

from __future__ import annotations

import math

from rlmusic.errors import RLMusicError
from rlmusic.music.metrics import METRICS
from rlmusic.reward_contract import RewardBatch, reads


class Band:
    """``band_score`` of one metric against a fixed band, per sample (a picklable reward object).
    It reads the batch's measured metric (``RewardBatch.metric``), so rewards reading the same
    metric measure it once."""

    def __init__(self, name: str, metric: str, low: float, high: float):
        self.name = self.__name__ = name  # TRL logs reward functions by __name__
        self.range = (-1.0, 0.0)
        self.metric, self.low, self.high = metric, float(low), float(high)

    def __call__(self, batch: RewardBatch) -> list[float]:
        return [band_score(v, self.low, self.high) for v in batch.metric(self.metric).tolist()]

    def __repr__(self) -> str:
        return f"Band({self.name!r}, {self.metric!r}, {self.low}, {self.high})"


def band_score(value: float, low: float, high: float) -> float:
    """0 inside [low, high]; -(distance / width) outside, clipped at -1; -1 for NaN."""
    if math.isnan(value):
        return -1.0
    width = max(high - low, 1e-6)
    distance = max(low - value, value - high, 0.0)
    return -min(1.0, distance / width)


@reads(argument=True)
def band(metric: str, bands: dict | None = None, name: str | None = None):
    """``metric`` inside its band: range [-1, 0]. ``bands``: {metric: (low, high)}."""
    if metric not in METRICS:
        raise RLMusicError(f"band:{metric}: unknown metric; metrics: {', '.join(METRICS)}")
    if not bands or metric not in bands:
        raise RLMusicError(f"the band:{metric} reward needs the target band of {metric} "
                           f"(the finetune command measures it on the corpus, or on ppo.bands_from)")
    low, high = bands[metric]
    return Band(name or f"band:{metric}", metric, low, high)


@reads("pitch_class_entropy")
def pitch_entropy(bands: dict | None = None):
    """The original name of ``band:pitch_class_entropy``: pitch-*class* entropy inside the band,
    range [-1, 0]."""
    return band("pitch_class_entropy", bands, name="pitch_entropy")


@reads("scale_consistency")
def scale(bands: dict | None = None):
    """Scale consistency inside the band: range [-1, 0] (``band:scale_consistency``)."""
    return band("scale_consistency", bands, name="scale")

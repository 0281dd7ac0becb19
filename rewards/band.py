"""``pitch_entropy`` and ``scale``: keep a metric inside the band the training corpus spans.

Maximising pitch-class entropy would reward chromatic noise and maximising scale
consistency would reward one-note melodies, so each reward is 0 inside the corpus's
[low, high] band (by default its 5th-95th percentiles, computed by ``rlmusic.bands``) and
falls linearly outside, by the band's width, to -1. A piece with no notes scores -1.
"""

from __future__ import annotations

import math

from rlmusic.metrics import pitch_class_entropy, scale_consistency
from rlmusic.reward import per_piece

# Used only when no corpus band is passed (e.g. a quick test); the CLI passes the corpus's own.
DEFAULT_BANDS = {"pitch_class_entropy": (2.2, 3.0), "scale_consistency": (0.9, 1.0)}


def band_score(value: float, low: float, high: float) -> float:
    """0 inside [low, high]; -(distance / width) outside, clipped at -1; -1 for NaN."""
    if math.isnan(value):
        return -1.0
    width = max(high - low, 1e-6)
    distance = max(low - value, value - high, 0.0)
    return -min(1.0, distance / width)


def _band(bands: dict | None, metric: str) -> tuple[float, float]:
    return tuple((bands or {}).get(metric, DEFAULT_BANDS[metric]))


def pitch_entropy(bands: dict | None = None):
    """Pitch-class entropy inside the corpus band: range [-1, 0]."""
    low, high = _band(bands, "pitch_class_entropy")
    return per_piece("pitch_entropy", -1.0, 0.0, lambda p: band_score(pitch_class_entropy(p), low, high))


def scale(bands: dict | None = None):
    """Scale consistency inside the corpus band: range [-1, 0]."""
    low, high = _band(bands, "scale_consistency")
    return per_piece("scale", -1.0, 0.0, lambda p: band_score(scale_consistency(p), low, high))

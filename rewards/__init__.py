"""Rewards by name. A new reward is one file plus one line in ``REWARDS``.

Each entry is a factory returning a reward (``rlmusic.reward_contract.Reward``): a callable that
takes a ``RewardBatch`` and returns one float per sample. Factories name the context they
need as keyword arguments (``bands`` measured on the corpus; ``discriminator`` for
``jazz_clf``), which is how ``rlmusic finetune`` knows what to prepare. A name ending in ``:``
is a family: ``band:onsets_per_beat`` calls ``REWARDS["band:"]("onsets_per_beat", ...)``.
"""

from __future__ import annotations

from rewards.band import band, pitch_entropy, scale
from rewards.jazz_clf import jazz_clf
from rewards.jazz_logodds import jazz_logodds
from rewards.mean import mean
from rewards.metric_match import metric_match
from rewards.novelty import novelty
from rewards.repetition import repetition
from rewards.rl_tuner import autocorrelation, in_key, leaps_resolved, motif, repeated_motif, tonic, unique_extrema

REWARDS = {
    "repetition": repetition,
    "novelty": novelty,
    "pitch_entropy": pitch_entropy,
    "scale": scale,
    "in_key": in_key,
    "tonic": tonic,
    "leaps_resolved": leaps_resolved,
    "unique_extrema": unique_extrema,
    "motif": motif,
    "repeated_motif": repeated_motif,
    "autocorrelation": autocorrelation,
    "jazz_clf": jazz_clf,
    "jazz_logodds": jazz_logodds,
    "metric_match": metric_match,
    "band:": band,
    "mean:": mean,
}

# Names that are never rewards, with the reason given when one is asked for.
_JUDGE = ("the independent jazz judge of `rlmusic metrics` is a yardstick the policy never trains against; "
          "use jazz_clf (the discriminator) as the reward")
RESERVED: dict[str, str] = {"judge": _JUDGE, "jazz_judge": _JUDGE, "judge/p_jazz": _JUDGE}

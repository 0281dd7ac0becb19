"""A reward read as its quantile among the reference policy's rollouts (``ppo.reward_quantiles``).

Best-of-N sampling keeps, of N draws from the prior pi_0, the one the reward r scores highest.
Its distribution is close to pi_0(y) F(r(y))^(N-1), where F is r's distribution function under
pi_0 (Sessa et al., 2024, BOND). That is exactly the optimum of PPO's objective
E[s] - beta KL(pi || pi_0), namely pi_0 exp(s / beta), for the score s = log F(r) and
beta = 1 / (N - 1). So PPO on the log-quantile with a fixed KL coefficient of 1 / (N - 1) aims
at best-of-N, not at the reward's maximum: a rollout beyond the reference's best earns no more
than that best, so over-pleasing a reward term stops paying once the reference's own top is
reached.

F is estimated before the first update from ``ppo.reward_quantiles`` rollouts of the frozen
reference, scored by the same reward, and again from the same rollouts after every refresh of a
co-evolving discriminator: F is always the reference's distribution of the reward as it now is.
A term that remembers the samples it scored (``novelty``, ``metric_match``) would score the
reference's rollouts against the policy's, so it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rlmusic.errors import RLMusicError
from rlmusic.reward_contract import RewardBatch, WeightedReward

RAW = "quantile/raw"  # the underlying reward's total, kept in the parts for the log
STATE = "quantile"  # the reference scores' key in a checkpoint's reward state


def mid_quantiles(reference: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Each value of ``raw`` ranked among ``reference`` (sorted, K values): (below + ties / 2 + 1/2) / (K + 1).

    The half counts keep every quantile inside (0, 1): 0.5 / (K + 1) under the reference's
    lowest, (K + 0.5) / (K + 1) over its highest, so its log is finite. NaN stays NaN.
    """
    raw = np.asarray(raw, dtype=float)
    below = np.searchsorted(reference, raw, side="left")
    ties = np.searchsorted(reference, raw, side="right") - below
    q = (below + ties / 2 + 0.5) / (len(reference) + 1)
    return np.where(np.isfinite(raw), q, np.nan)


class QuantileReward:
    """A :class:`WeightedReward` whose total is replaced by log F(total), F its distribution
    function over the reference's rollouts (:meth:`fit`); the terms are logged as they were.

    Example::

        >>> quantiles = QuantileReward(spec.build(bands=bands, discriminator=disc), count=1024)
        >>> quantiles.fit(reference_totals)  # the reward's totals on 1,024 reference rollouts
        >>> scores, parts = quantiles(batch)  # log-quantiles in (-log(K + 1), 0)
    """

    def __init__(self, inner: WeightedReward, count: int):
        stateful = [fn.name for fn, _ in inner.terms if callable(getattr(fn, "state", None))]
        if stateful:
            raise RLMusicError(f"ppo.reward_quantiles ranks rollouts against the reference's, but "
                               f"{', '.join(stateful)} scores a sample by the samples before it; drop it from the "
                               f"reward or set ppo.reward_quantiles=0")
        self.inner, self.count = inner, count
        self.reference: np.ndarray | None = None  # F's sample: the totals, sorted
        self.rollouts: list[list[int]] = []  # the reference's rollouts (ids), scored again by refit
        self.prompts: list[list[int]] = []

    @property
    def names(self) -> list[str]:
        return self.inner.names

    def fit(self, totals: np.ndarray) -> None:
        """Keep the finite totals of the reference's rollouts, sorted, as F's sample."""
        totals = np.asarray(totals, dtype=float)
        kept = np.sort(totals[np.isfinite(totals)])
        if len(kept) < 2:
            raise RLMusicError(f"the reward was finite on {len(kept)} of {len(totals)} reference rollouts; "
                               f"ppo.reward_quantiles needs a reward defined on the reference's own music")
        self.reference = kept

    def fit_rollouts(self, rollouts: list[list[int]], prompts: list[list[int]], tokenizer,
                     batch_size: int = 64) -> None:
        """Score the reference's ``rollouts`` (generated ids, with their ``prompts``) and fit F to
        them; :meth:`refit` scores them again."""
        self.rollouts, self.prompts = [list(map(int, r)) for r in rollouts], [list(map(int, p)) for p in prompts]
        self.refit(tokenizer, batch_size)

    def refit(self, tokenizer, batch_size: int = 64) -> None:
        """F again from the kept rollouts, scored by the reward as it now is (after a refresh)."""
        totals = []
        for i in range(0, len(self.rollouts), batch_size):
            batch = RewardBatch(self.rollouts[i:i + batch_size], tokenizer, prompts=self.prompts[i:i + batch_size])
            totals.extend(self.inner(batch)[0].tolist())
        self.fit(np.asarray(totals))

    def __call__(self, batch: RewardBatch) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self.reference is None:
            raise RLMusicError("QuantileReward.fit must see the reference's rollouts before scoring")
        raw, parts = self.inner(batch)
        return np.log(mid_quantiles(self.reference, raw)), {**parts, RAW: raw}

    def log_values(self, parts: Mapping[str, np.ndarray]) -> dict[str, float]:
        """The terms as :class:`WeightedReward` logs them, ``reward/raw`` (the total the
        quantile ranks) and ``reward/quantile`` (the rollouts' mean quantile)."""
        q = mid_quantiles(self.reference, parts[RAW])
        return self.inner.log_values(parts) | {"reward/raw": float(np.nanmean(parts[RAW])),
                                               "reward/quantile": float(np.nanmean(q))}

    def state(self) -> dict:
        return self.inner.state() | {STATE: {"reference": self.reference.tolist() if self.reference is not None else [],
                                             "rollouts": self.rollouts, "prompts": self.prompts}}

    def restore(self, state: Mapping[str, dict] | None) -> None:
        self.inner.restore(state)
        kept = (state or {}).get(STATE, {})
        if kept.get("reference"):
            self.reference = np.asarray(kept["reference"], dtype=float)
            self.rollouts, self.prompts = kept.get("rollouts", []), kept.get("prompts", [])

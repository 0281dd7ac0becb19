"""``rlmusic generate --best-of N``: each piece the best of N drawn from a policy, under a reward.

Best-of-N is a reward's cheapest use and PPO's yardstick: it trains nothing, and its pieces stay
near the policy they come from, at a KL divergence of at most log N - (N - 1) / N nats from it
(Stiennon et al. 2020; Gao et al. 2022), whatever their length; a PPO run logs its own KL as
``objective/kl``. The reward is a fine-tuned run's own (its reward spec, the bands it recorded and
its discriminator, co-evolved or not), or any ``--reward`` spec with ``--discriminator`` and bands
measured as ``rlmusic finetune`` measures them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rlmusic.config.commands import BestOfOptions
from rlmusic.config.sections import SampleConfig
from rlmusic.errors import RLMusicError
from rlmusic.models.generate import GeneratedPiece, generate_pieces
from rlmusic.reward_contract import RewardBatch, RewardSpec, WeightedReward

SCORE_BATCH = 64  # candidates scored together


def kl_bound(n: int) -> float:
    """The most nats best-of-``n`` moves from the policy it draws from: log n - (n - 1) / n."""
    return math.log(n) - (n - 1) / n


def best_in_groups(rewards: np.ndarray, n: int) -> np.ndarray:
    """Index of the highest reward in each run of ``n`` consecutive candidates (the first on a tie;
    a NaN never wins unless its whole group is NaN)."""
    groups = np.asarray(rewards, float).reshape(-1, n)
    filled = np.where(np.isnan(groups), -np.inf, groups)
    return np.arange(len(groups)) * n + filled.argmax(1)


def run_reward(ckpt_meta: dict, folder: Path, opts: BestOfOptions, rewards, reserved,
               tokenizer) -> tuple[str, WeightedReward]:
    """The reward ``opts`` names, built: (its spec, the callable). A run's recorded bands serve any
    spec whose band metrics they hold; otherwise bands are measured on the corpus
    (``opts.bands_from``), as ``rlmusic finetune`` measures them."""
    from rlmusic.models.checkpoint import META_FILE, read_meta, resolve_checkpoint
    from rlmusic.models.discriminator import Discriminator, load_discriminator

    run_meta, run_folder = ckpt_meta, folder
    if opts.reward_from:
        run_folder = resolve_checkpoint(opts.reward_from)
        if not (run_folder / META_FILE).is_file():
            raise RLMusicError(f"--reward-from {opts.reward_from}: not an rlmusic checkpoint; pass a fine-tuned one")
        run_meta = read_meta(run_folder)
    recorded = run_meta.get("reward_spec")
    spec_text = opts.reward or recorded
    if not spec_text:
        raise RLMusicError("--best-of needs a reward: pass --reward SPEC, or --reward-from a fine-tuned checkpoint")
    spec = RewardSpec.parse(spec_text, rewards, reserved)
    needs = spec.needs
    disc = None
    if "discriminator" in needs:
        own = run_folder / "discriminator"  # a co-evolved run saved the discriminator as it ended
        if opts.discriminator or not (recorded and own.is_dir()):
            path = opts.discriminator or run_meta.get("discriminator")
            if not path:
                raise RLMusicError(f"the reward {spec_text!r} reads a discriminator: pass --discriminator CKPT")
            disc = load_discriminator(path)
        else:
            disc = Discriminator.load(own)
        disc.check_tokenizer(tokenizer, "the sampled checkpoint")
    recorded_bands = {k: tuple(v) for k, v in (run_meta.get("bands") or {}).items()}
    if "bands" in needs and recorded_bands and "reference_metrics" not in needs:
        try:  # a run's recorded bands serve any spec whose band metrics they hold
            return spec_text, spec.build(bands=recorded_bands, discriminator=disc)
        except RLMusicError:
            pass  # a band the run did not record: all of them are measured on the corpus below
    bands = reference_metrics = None
    if needs & {"bands", "reference_metrics"}:
        from rlmusic.config.load import load_config, resolve_config_path
        from rlmusic.data.corpus import prepare_corpus
        from rlmusic.music.bands import reward_bands, reward_reference_metrics

        cfg = load_config(resolve_config_path(None), {"ppo": {"bands_from": opts.bands_from}})
        corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=tokenizer)[1]
        values = reward_reference_metrics(cfg.ppo, corpus, tokenizer)
        bands = reward_bands(cfg.ppo, values) if "bands" in needs else None
        reference_metrics = values if "reference_metrics" in needs else None
    return spec_text, spec.build(bands=bands, discriminator=disc, reference_metrics=reference_metrics)


def best_of_pieces(policy, tokenizer, cfg: SampleConfig, n: int, reward_fn: WeightedReward,
                   progress: bool = False) -> tuple[list[GeneratedPiece], dict]:
    """``cfg.num`` pieces, each the best of ``n`` candidates under ``reward_fn``; and a record of
    the ranking: every kept piece's reward and terms, the candidates' mean, the KL bound."""
    candidates = generate_pieces(policy, tokenizer, replace(cfg, num=cfg.num * n), progress=progress)
    totals, parts = [], []
    for start in tqdm(range(0, len(candidates), SCORE_BATCH), desc="scoring", disable=not progress):
        chunk = candidates[start : start + SCORE_BATCH]
        total, terms = reward_fn(RewardBatch([c.ids for c in chunk], tokenizer))
        totals.append(np.asarray(total, float))
        parts.append({k: np.asarray(v, float) for k, v in terms.items()})
    total = np.concatenate(totals)
    terms = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = best_in_groups(total, n)
    record = {"best_of": n, "kl_bound_nats": kl_bound(n), "candidates": len(candidates),
              "candidates_mean_reward": float(np.nanmean(total)), "kept_mean_reward": float(np.nanmean(total[keep])),
              "kept": [{"candidate": int(i), "reward": float(total[i]), **{k: float(v[i]) for k, v in terms.items()}}
                       for i in keep]}
    return [candidates[i] for i in keep], record

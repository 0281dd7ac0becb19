"""``rlmusic finetune``: everything around the RL loop.

The run folder (new, or resumed with its own config), the pretrained policy and its frozen
copy, what the rewards say they need (bands, the discriminator, co-evolved so far on resume),
the prompts, the co-evolving discriminator's refresh and the judge as a monitor; then
:func:`rlmusic.train.ppo.finetune`, or TRL's GRPO/RLOO. Every check that can fail runs before any
work starts.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from rlmusic.config.load import load_config, merge_overrides, resolve_config_path
from rlmusic.config.sections import RunConfig
from rlmusic.data.corpus import Corpus, prepare_corpus, tokenize_folder
from rlmusic.data.jazz_data import read_manifest
from rlmusic.data.jazz_set import build_default_set
from rlmusic.data.labelled import Labelled, labelled_from_corpus, labelled_from_selection, labelled_from_target
from rlmusic.data.prompts import openings_for
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import choose_policy, list_checkpoints, load_checkpoint, reopen_run
from rlmusic.models.discriminator import Discriminator, load_discriminator
from rlmusic.music.bands import reward_bands, reward_reference_metrics
from rlmusic.music.corrupt import check_kinds
from rlmusic.music.scramble import jazz_of
from rlmusic.plugins import Plugins
from rlmusic.resources import SHIPPED_CLF, SHIPPED_JUDGE
from rlmusic.reward_contract import RewardSpec
from rlmusic.train.ppo import STATE_SCHEMA, finetune
from rlmusic.train.quantile import QuantileReward
from rlmusic.train.refresh import Refresher, refresh_discriminator

# Corrupted copies made of at most this many real jazz pieces for the refreshes (about 30 ms
# each): a few hundred pieces give thousands of distinct windows.
SCRAMBLED_PIECES = 256


def run_finetune(config: str | None, overrides: list[str] | dict, plugins: Plugins, policy: str | None = None,
                 discriminator: str | None = None, resume: bool = False, cpu: bool = False) -> Path | None:
    """Fine-tune ``policy`` (default: :func:`choose_policy`) on ``ppo.reward``; returns the last
    checkpoint (None: the run was already complete)."""
    overrides = merge_overrides(overrides)
    cfg = load_config(resolve_config_path(config), overrides)
    check_kinds(cfg.clf.scrambled_kinds, "clf.scrambled_kinds")
    out_dir = Path(cfg.ppo.out_dir)
    newest, prior, resumed = reopen_run(out_dir, resume, overrides)
    resume_state, meta, run = None, {}, None
    if newest is not None:
        run, cfg = load_checkpoint(newest, plugins.load_policy), resumed
        meta = {k: prior[k] for k in ("reference", "discriminator") if k in prior}
        policy, discriminator = policy or meta.get("reference"), discriminator or meta.get("discriminator")
        resume_state = run.training_state(STATE_SCHEMA)
        if run.meta["update"] >= cfg.ppo.updates:
            print(f"{out_dir} is complete at update {run.meta['update']}; raise ppo.updates to train further.")
            return None
    policy = choose_policy(policy, "--policy")

    spec = RewardSpec.parse(cfg.ppo.reward, plugins.rewards, plugins.reserved)  # parsed once, read below
    needs = spec.needs  # each reward names what it needs
    start = load_checkpoint(policy, plugins.load_policy)
    reference = copy.deepcopy(start.policy)  # frozen in finetune(); the policy itself trains
    model = run.policy if run is not None else start.policy
    tokenizer = start.tokenizer
    disc = None
    if "discriminator" in needs:
        if not discriminator:
            if not list_checkpoints(SHIPPED_CLF):
                raise RLMusicError("a reward that reads the discriminator (jazz_clf, jazz_logodds, ...) needs "
                                   "--discriminator CKPT (train one with `rlmusic train-clf`)")
            discriminator = str(SHIPPED_CLF)
        if newest is not None and cfg.ppo.refresh_every and (newest / "discriminator").is_dir():
            disc = Discriminator.load(newest / "discriminator")  # as co-evolved so far
        else:
            disc = load_discriminator(discriminator)
        disc.check_tokenizer(tokenizer, f"the policy {policy}")
    target = tokenize_folder(Path(cfg.ppo.target), tokenizer, cfg.data) if cfg.ppo.target else None
    needs_corpus = (cfg.ppo.prompt == "corpus" or needs & {"bands", "reference_metrics"}) and target is None or \
        cfg.ppo.refresh_every and cfg.ppo.refresh_from.startswith("corpus:")
    corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=tokenizer)[1] if needs_corpus else None
    source = target if target is not None else corpus
    # one measurement of the target windows for the band rewards and metric_match alike
    values = reward_reference_metrics(cfg.ppo, source, tokenizer) if needs & {"bands", "reference_metrics"} else None
    bands = reward_bands(cfg.ppo, values) if "bands" in needs else None
    reference_metrics = values if "reference_metrics" in needs else None
    reward_fn = spec.build(bands=bands, discriminator=disc, reference_metrics=reference_metrics)
    if cfg.ppo.reward_quantiles:  # ranked among the reference's rollouts, drawn when the loop starts
        reward_fn = QuantileReward(reward_fn, cfg.ppo.reward_quantiles)
    openings = openings_for(cfg.ppo, target if target is not None else corpus, tokenizer)
    meta |= {"reference": str(start.path), "reference_step": start.meta.get("step"),
             "discriminator": str(discriminator) if disc is not None else None,
             "discriminator_fingerprint": disc.fingerprint if disc is not None else None,
             "reward_spec": cfg.ppo.reward, "bands": bands}
    print(f"fine-tuning {start.path} ({model.name}, {model.num_parameters() / 1e6:.2f} M parameters) with "
          f"{cfg.ppo.algo} on {cfg.ppo.reward}; run folder: {out_dir}")
    if cfg.ppo.algo != "ppo":
        from rlmusic.train.trl_algos import run_trl

        return Path(run_trl(cfg, model, tokenizer, reward_fn, openings, meta))
    refresh = make_refresh(cfg, disc, tokenizer, corpus) if disc is not None and cfg.ppo.refresh_every else None
    if disc is not None and torch.cuda.is_available() and not cpu:
        disc.to("cuda")
    companions = {"discriminator": disc.save} if refresh is not None else None
    last = finetune(cfg, model, reference, tokenizer, reward_fn, openings=openings, meta=meta,
                    resume_state=resume_state, refresh=refresh, cpu=cpu, companions=companions,
                    monitors=judge_monitor())
    return Path(last) if last else None


def jazz_set_splits(tokenizer, data_cfg) -> tuple[Labelled, Labelled]:
    """The default jazz set (built or reused) read with ``tokenizer``: its (train, test) splits."""
    folder = build_default_set(progress=False)
    return train_test(labelled_from_corpus(tokenize_folder(folder, tokenizer, data_cfg, progress=False),
                                           read_manifest(folder)))


def train_test(data: Labelled) -> tuple[Labelled, Labelled]:
    return tuple(data.select(np.array([s == split for s in data.splits])) for split in ("train", "test"))


def make_refresh(cfg: RunConfig, disc: Discriminator, tokenizer, corpus: Corpus | None = None):
    """The co-evolving discriminator: the training split of ``ppo.refresh_from`` (the jazz set,
    or ``corpus`` by selection) against the fresh rollouts, each beside a real jazz window cut
    like it (openings when rollouts start at BOS); its test split's jazz (one window each, as
    long as the reward reads) must stay recognised. Everything is in the discriminator's own
    tokens: a policy's rollouts of another tokenizer are re-encoded."""
    own = tokenizer if disc.speaks(tokenizer) else disc.tokenizer
    if cfg.ppo.refresh_from == "jazz_set":
        train, test = jazz_set_splits(own, cfg.data)
    elif cfg.ppo.refresh_from == "target":
        train, test = train_test(labelled_from_target(cfg.ppo.target, own, cfg.data, cfg.ppo.seed))
    else:
        if own is not tokenizer:
            corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=own)[1]
        train, test = train_test(labelled_from_selection(corpus, cfg.ppo.refresh_from.removeprefix("corpus:")))
    real = [p[: disc.max_window].tolist() for p, y in zip(test.pieces, test.labels) if y == 1][:128]
    if not real and cfg.ppo.refresh_real_floor > 0:
        raise RLMusicError(f"ppo.refresh_from={cfg.ppo.refresh_from} holds out no jazz piece to keep recognised "
                           "during refreshes; raise data.val_fraction or set ppo.refresh_real_floor=0")
    matched = [p for p, y in zip(train.pieces, train.labels) if y == 1]
    scrambled = held_scrambled = None
    if cfg.clf.scrambled_share:  # texture without harmony stays "not jazz" through every refresh
        scrambled = jazz_of(train, own, cfg.ppo.seed, max_pieces=SCRAMBLED_PIECES, kinds=cfg.clf.scrambled_kinds)
        held_scrambled = [p[: disc.max_window].tolist() for p in jazz_of(test, own, cfg.ppo.seed + 1,
                                                                           max_pieces=len(real),
                                                                           kinds=cfg.clf.scrambled_kinds)]
    pc = cfg.ppo
    return Refresher(lambda update, recent, earlier=(): refresh_discriminator(
        disc, train, disc.ids_for(recent, tokenizer), cfg.clf, pc.refresh_steps, share=pc.refresh_share,
        target=pc.refresh_target, seed=update, held_out=real, real_floor=pc.refresh_real_floor, matched=matched,
        matched_openings=pc.prompt == "bos", scrambled=scrambled, held_out_scrambled=held_scrambled,
        earlier=disc.ids_for(earlier, tokenizer) if earlier else None),
        pc.refresh_every, disc, history=pc.refresh_history)


def judge_monitor() -> dict:
    """judge/p_jazz of every update's rollouts, logged beside the reward (never part of it)."""
    from rlmusic.models.judge import Judge

    if not SHIPPED_JUDGE.exists():
        return {}
    judge = Judge.load(SHIPPED_JUDGE)

    def p_jazz(batch) -> float:
        p = judge.prob_jazz(batch.pieces)
        return float(np.nanmean(p)) if np.isfinite(p).any() else float("nan")

    return {"judge/p_jazz": p_jazz}

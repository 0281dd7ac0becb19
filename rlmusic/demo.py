"""``rlmusic demo``: the whole story in one command, on the embedded default data.

Corpus preparation, the shipped discriminator (trained if missing), PPO from the shipped
pretrained policy toward jazz with the harmony, texture and silence kept inside real jazz's
band and the melodies kept varied (``DEMO_REWARD``, or ``--reward``; on the embedded corpus
the prior tuned on its jazz and the discriminator co-evolving with the policy, ``demo_models``),
``rlmusic metrics`` before vs after, MIDI and WAV samples, piano rolls, reward/KL curves, and
``report.html`` (``report.md`` beside it); with ``--target DIR``, toward a folder of your own.
Each step is the library call behind the ``rlmusic`` subcommand a user would type.
"""

from __future__ import annotations

import time
from pathlib import Path

from rlmusic.config.commands import DemoOptions
from rlmusic.evaluate.before_after import (
    discriminator_lines,
    intro,
    judge_lines,
    listen,
    measure,
    summary_table,
    unseen_summary,
    write_report,
)
from rlmusic.plugins import Plugins
from rlmusic.resources import CORPUS_JAZZ, SHIPPED_CLF, SHIPPED_GAN_CLF, SHIPPED_JAZZ_POLICY, SHIPPED_POLICY
from rlmusic.reward_contract import RewardSpec

# Toward jazz (the discriminator hears harmony: pitch-scrambled jazz scores near 0), while the
# harmony (chord fit, the bass on the root at chord changes, chord changes per bar), pitch-class
# entropy, scale consistency, the texture (onsets per beat, notes per bar, polyphony, note
# lengths) and the longest silence stay inside the band of the corpus's real jazz, and each
# sample plays melodic 4-grams the recent samples did not (novelty): alone, a discriminator is
# pleased by dense sustained chords (frozen), by long gaps or a thinned texture (co-evolving), and
# by one comping pattern played again and again (docs/results.md compares the recipes on the
# independent measures). The bands come from real jazz, not the folk-heavy whole corpus. Chord
# changes per bar weigh 3 inside a narrower band (DEMO_BAND_QUANTILES): measured on 255-token
# rollouts, the 5th-95th band is wide enough to let the policy change chords on nearly every
# beat, which the 640-token samples then show.
DEMO_REWARD = ("repetition,jazz_clf=2,band:chord_fit=3,band:bass_on_root,band:chord_changes_per_bar=3,"
               "band:pitch_class_entropy=2,band:scale_consistency,band:onsets_per_beat=2,band:notes_per_bar=2,"
               "band:polyphony=3,band:longest_silence=2,band:mean_duration=2,novelty=1.5")
DEMO_BAND_QUANTILES = {"chord_changes_per_bar": [0.15, 0.85]}
DEMO_REFRESH_EVERY = 10  # on the embedded corpus: frozen, the jazz-tuned pair's discriminator is exploited


def demo_models(args: DemoOptions) -> tuple[Path, Path, int]:
    """The policy, the discriminator and ``refresh_every`` a demo starts from: the flags where
    given; on the embedded corpus the prior tuned on its jazz and ``jazz-clf-gan`` co-evolving
    every ``DEMO_REFRESH_EVERY`` updates; toward a ``--data`` or ``--target`` folder the general
    prior and ``jazz-clf``, frozen (what those runs were measured with)."""
    own = bool(args.data or args.target)
    policy = Path(args.policy) if args.policy else SHIPPED_POLICY if own else SHIPPED_JAZZ_POLICY
    clf = Path(args.discriminator) if args.discriminator else SHIPPED_CLF if own else SHIPPED_GAN_CLF
    every = args.refresh_every if args.refresh_every is not None else 0 if own else DEMO_REFRESH_EVERY
    return policy, clf, every


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.time()


def run_demo(args: DemoOptions, plugins: Plugins) -> int:
    from rlmusic.config.load import load_config, resolve_config_path
    from rlmusic.data.corpus import describe_corpus, prepare_corpus
    from rlmusic.evaluate.html_report import write_html
    from rlmusic.models.checkpoint import list_checkpoints, read_meta
    from rlmusic.train.finetune import run_finetune
    from rlmusic.train.pretrain import run_pretrain
    from rlmusic.train.train_clf import run_train_clf

    args.validate()
    reward = args.reward or DEMO_REWARD
    # a misspelt reward fails here, before minutes of corpus and discriminator work
    named = {name for name, *_ in RewardSpec.parse(reward, plugins.rewards, plugins.reserved).terms}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    data = {"data": {"data": args.data}} if args.data else {}  # typed values, not key=value text

    t = _step("1/6 corpus (embedded: music21's folk tunes and Bach chorales, plus MMA arrangements)")
    cfg = load_config(resolve_config_path(args.config), data)
    print(describe_corpus(*prepare_corpus(cfg.data, cfg.tokenizer), seconds=time.time() - t))
    timings = {"corpus": time.time() - t}

    base_policy, clf, refresh_every = demo_models(args)
    t = _step("2/6 pretrained policy" + (f", fine-tuned on {args.target} by maximum likelihood" if args.target else ""))
    policy_path = base_policy
    if args.target:
        mle = out / "mle"
        run_pretrain(args.config, {"data": {"data": args.target},
                                   "pretrain": {"out_dir": str(mle), "max_steps": args.target_steps}}, plugins,
                     resume=bool(list_checkpoints(mle)), init_from=str(base_policy))
        policy_path = list_checkpoints(mle / "best")[-1]
    elif not list_checkpoints(policy_path) and not (policy_path / "rlmusic.json").is_file():
        print(f"no policy in {policy_path}: pretraining the tiny one (rlmusic pretrain)")
        policy_path = out / "pretrain"
        run_pretrain(args.config, data | {"pretrain": {"out_dir": str(policy_path)}}, plugins,
                     resume=bool(list_checkpoints(policy_path)))
    print(f"policy: {policy_path} (step {read_meta(policy_path)['step']})")
    timings["policy"] = time.time() - t

    t = _step("3/6 jazz discriminator" + (f" trained on {args.target} against the embedded non-jazz" if args.target else ""))
    if args.target and not args.discriminator:  # the target's own, from the fine-tuned policy's language model
        from rlmusic.models.checkpoint import load_checkpoint

        clf = out / "jazz-clf"
        window = min(128, load_checkpoint(policy_path, plugins.load_policy).policy.max_length or 128)
        run_train_clf(args.config, data | {"clf": {"out_dir": str(clf), "init_from": str(policy_path),
                                                   "steps": args.target_clf_steps, "max_window": window,
                                                   "min_window": min(32, window // 2)}},
                      plugins, source={"jazz": args.target}, resume=bool(list_checkpoints(clf)))
    elif not list_checkpoints(clf) and not (clf / "rlmusic.json").is_file():
        print(f"no discriminator in {clf}: training one (rlmusic train-clf)")
        clf = out / "jazz-clf"
        # a demo cut short goes on where it stopped
        run_train_clf(args.config, {"clf": {"out_dir": str(clf)}}, plugins, resume=bool(list_checkpoints(clf)))
    clf_meta = read_meta(clf)
    test = clf_meta.get("test") or {}
    cv = clf_meta.get("grouped_cv") or {}
    print(f"discriminator {clf}: held-out accuracy {test.get('accuracy', float('nan')):.3f}, ROC-AUC "
          f"{test.get('roc_auc', float('nan')):.3f}" + (f"; unseen groove families {unseen_summary(cv)}" if cv else ""))
    timings["discriminator"] = time.time() - t

    refresh_from = args.refresh_from or ("target" if args.target else "" if args.data else f"corpus:{CORPUS_JAZZ}")
    refresh = {"refresh_every": refresh_every, "refresh_history": args.refresh_history,
               "refresh_from": refresh_from} \
        if refresh_from and refresh_every else {}
    precision = ppo_precision(args.precision)
    shown = ("fp32" if precision == "no" else precision) + \
        (f", temperature {args.temperature:g}" if args.temperature != 1.0 else "")
    narrow = "".join(f"{k} at its {q[0]:.0%}-{q[1]:.0%} quantiles; " for k, q in DEMO_BAND_QUANTILES.items()
                     if f"band:{k}" in named)
    history = f", {args.refresh_history} earlier updates' rollouts kept as negatives" if args.refresh_history else ""
    disc_line = f"co-evolving on {refresh_from}{history}" if refresh else "frozen"
    t = _step(f"4/6 PPO with --reward {reward} ({narrow}{args.updates} updates, {shown}, discriminator {disc_line})")
    run = out / "finetune"
    # the bands: the target's, a user's --data folder's own, or the corpus's jazz
    bands = {"target": args.target} if args.target else {} if args.data else {"bands_from": CORPUS_JAZZ}
    ppo = {**bands, **refresh, "reward": reward, "band_quantiles": DEMO_BAND_QUANTILES, "out_dir": str(run),
           "target_kl": 12.0, "updates": args.updates,
           "batch_size": args.batch_size, "minibatch_size": min(8, args.batch_size),
           "max_new_tokens": args.max_new_tokens, "min_new_tokens": args.max_new_tokens, "prompt": "bos",
           "lr": args.lr, "seed": args.seed, "kl_coef": args.kl_coef,
           "reward_quantiles": args.reward_quantiles, "adaptive_kl": not args.reward_quantiles,
           "scale_rewards": args.scale_rewards, **({"value_head": False, "lam": 1.0} if args.no_critic else {}),
           "save_every": max(1, args.updates // 4),
           "mixed_precision": precision, "temperature": args.temperature}
    run_finetune(args.config, data | {"ppo": ppo}, plugins, policy=str(policy_path), discriminator=str(clf), resume=True)
    timings["ppo"] = time.time() - t

    t = _step("5/6 metrics before vs after")
    reference = {"reference": args.target, "reference_tokens": args.sample_tokens, "copies_from": [args.target]} \
        if args.target else {"reference": args.data} if args.data else {"reference_from": CORPUS_JAZZ}
    reference |= {"data": args.data} if args.data else {}  # copies searched in the corpus the policy learned
    summary = measure(out, policy_path, run, clf, args.num_samples, args.sample_tokens, args.config, reference,
                      plugins, bars=args.sample_bars, first=[str(base_policy)] if args.target else [],
                      temperature=args.temperature)
    timings["metrics"] = time.time() - t

    t = _step("6/6 samples: MIDI, audio, piano rolls, curves, report")
    samples, curves, goodhart, audio_note = listen(out, policy_path, run, args.listen, args.sample_tokens, plugins,
                                                   bars=args.sample_bars, temperature=args.temperature)
    timings["samples"] = time.time() - t
    coevolved = refresh_from if refresh else ""
    report = write_report(out, reward, summary, samples, curves, clf_meta, timings, audio_note, goodhart, coevolved)
    page = write_html(out, "rlmusic demo report", intro(reward, coevolved), summary, samples, curves, goodhart,
                      out / "plots", notes=discriminator_lines(clf_meta) + judge_lines())
    total = time.time() - t_start

    print(f"\n=== done in {total / 60:.1f} min")
    print(summary_table(summary))
    for alarm in summary.get("alarms", []):
        print(f"ALARM {alarm}")
    print(f"\nreport:   {page} ({report.name} beside it)\nsamples:  {out / 'samples'}\ncurves:   {curves}\n"
          f"plots:    {out / 'plots'}")
    return 0


def ppo_precision(choice: str) -> str:
    """ppo.mixed_precision for ``--precision``: ``auto`` is bf16 on a CPU that computes it
    natively (1.4x faster updates and refreshes on the 2-core machine the demo is timed on),
    accelerate's own choice on a GPU, fp32 elsewhere."""
    import torch

    from rlmusic.train.accel import cpu_bf16

    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return "auto"
    return "bf16" if cpu_bf16() else "no"

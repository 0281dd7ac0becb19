"""``rlmusic train-clf``: the discriminator's run folder, resumable at every step.

Training from the newest checkpoint (optimizer and both random streams kept, so the result
equals an uninterrupted run's), then evaluation on the held-out split, then grouped
cross-validation fold by fold (a finished fold is kept in ``cv_folds.json``, written
atomically; a fold cut short is trained again).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from rlmusic.config.commands import JazzSetSpec
from rlmusic.config.load import load_config, merge_overrides, resolve_config_path
from rlmusic.data.corpus import tokenize_folder
from rlmusic.data.jazz_data import read_manifest
from rlmusic.data.jazz_set import build_default_set
from rlmusic.data.labelled import generated_pieces, labelled_from_corpus, labelled_from_folders, labelled_from_target
from rlmusic.data.tokens import build_tokenizer, load_miditok
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import STATE_FILE, load_checkpoint, read_json, read_training_state, reopen_run
from rlmusic.models.discriminator import (
    STATE_SCHEMA,
    Discriminator,
    evaluate_discriminator,
    grouped_cv,
    load_discriminator,
    save_discriminator,
    score_pieces,
    style_folds,
    train_discriminator,
)
from rlmusic.music.corrupt import check_kinds
from rlmusic.music.scramble import format_scramble, jazz_of, pieces_of_ids, scramble_test, token_scorer
from rlmusic.plugins import Plugins

EMBEDDED = "embedded"  # the source of the negatives when only --jazz is given: the embedded non-jazz


def run_train_clf(config: str | None, overrides: list[str] | dict, plugins: Plugins, source: dict[str, str] | None = None,
                  policy: str | None = None, resume: bool = False, spec: JazzSetSpec | None = None) -> Path:
    """Train (or resume) the discriminator in ``clf.out_dir``. ``source``: ``{"jazz": DIR,
    "other": DIR}`` (user folders; without ``other``, the embedded corpus's real non-jazz),
    ``{"set": DIR}`` (a built set) or empty (the default set, built or reused as ``spec`` says);
    ``"generated": DIR`` beside any of them: a generator's samples as negatives too.
    Returns the final checkpoint."""
    overrides = merge_overrides(overrides)
    cfg = load_config(resolve_config_path(config), overrides)
    check_kinds(cfg.clf.scrambled_kinds, "clf.scrambled_kinds")
    source = {k: v for k, v in (source or {}).items() if v}
    generated_dir = source.pop("generated", "")
    if "other" in source and "jazz" not in source:
        raise RLMusicError("--other needs --jazz (the folder of the music to recognise)")
    if "jazz" in source:  # user folders take the place of a built set; no --other: the embedded non-jazz
        source = {"jazz": source["jazz"], "other": source.get("other", EMBEDDED)}
    if generated_dir:
        source["generated"] = generated_dir
    out_dir = Path(cfg.clf.out_dir)
    newest, prior, resumed = reopen_run(out_dir, resume, overrides)
    if prior:  # the run's own config and data, with this command line's overrides on top (e.g. --cv)
        cfg = resumed

        def resolved(src: dict) -> dict:
            return {k: v if v == EMBEDDED else str(Path(v).resolve()) for k, v in src.items() if v}

        if source and resolved(source) != resolved(prior["source"]):
            raise RLMusicError(f"{out_dir} was trained on {prior['source']}; resume it without "
                               f"--jazz/--other/--set/--generated, or start a new run with --out")
        source = prior["source"]
        generated_dir = source.get("generated", "")
        print(f"resuming {out_dir} from {newest.name}")
    if generated_dir and not cfg.clf.generated_share:
        raise RLMusicError("--generated needs clf.generated_share above 0 (its share of every batch), e.g. 0.2")
    if cfg.clf.threads:
        torch.set_num_threads(cfg.clf.threads)
    init = policy or cfg.clf.init_from  # the discriminator speaks its tokenizer
    if prior:
        tokenizer = load_miditok(newest)
    else:
        tokenizer = load_checkpoint(init, plugins.load_policy).tokenizer if init else build_tokenizer(cfg.tokenizer)
    t0 = time.time()
    if "jazz" in source and source["other"] == EMBEDDED:
        data = labelled_from_target(source["jazz"], tokenizer, cfg.data, cfg.clf.seed, cfg.clf.split_by)
    elif "jazz" in source:
        data = labelled_from_folders(source["jazz"], source["other"], tokenizer, cfg.data, cfg.clf.split_by)
    else:
        folder = Path(source["set"]) if source.get("set") else build_default_set(spec)
        data = labelled_from_corpus(tokenize_folder(folder, tokenizer, cfg.data), read_manifest(folder))
        source = {"set": str(folder)} | ({"generated": generated_dir} if generated_dir else {})
    generated, generated_test = generated_pieces(generated_dir, tokenizer, cfg.data) if generated_dir else ([], [])
    if generated_dir and not generated:
        raise RLMusicError(f"--generated {generated_dir}: every sample fell in the held-out fifth; give it more samples")
    if cfg.clf.cv_folds:
        style_folds(data.groups, data.labels, cfg.clf.cv_folds, cfg.clf.seed)  # too few groups: fail before training
    train = data.select(np.array([s == "train" for s in data.splits]))
    test = data.select(np.array([s == "test" for s in data.splits]))
    print(f"training pieces: {int((train.labels == 1).sum())} jazz, {int((train.labels == 0).sum())} other; "
          f"test pieces: {int((test.labels == 1).sum())} jazz, {int((test.labels == 0).sum())} other")
    if generated_dir:
        print(f"generated negatives: {len(generated)} samples of {generated_dir}, {cfg.clf.generated_share:.0%} of "
              f"every batch ({len(generated_test)} held out)")
    meta = {"config": cfg.to_dict(), "source": source, "counts": data.counts()}

    def scramble(pieces) -> list[np.ndarray] | None:  # corrupted copies of the jazz: negatives
        return jazz_of(pieces, tokenizer, cfg.clf.seed, copies=cfg.clf.scrambled_copies,
                       kinds=cfg.clf.scrambled_kinds) if cfg.clf.scrambled_share \
            else None

    def scramble_report(disc) -> dict:  # the held-out jazz against its own corrupted copies
        jazz = [p for p, y in zip(test.pieces, test.labels) if y == 1]
        return scramble_test(token_scorer(disc.prob_jazz, tokenizer, disc.max_window), pieces_of_ids(tokenizer, jazz),
                             seed=cfg.clf.seed) if jazz else {}

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
            disc, state = load_discriminator(newest), read_training_state(newest, STATE_SCHEMA)
            if state is None:
                raise RLMusicError(f"{newest} holds weights only (no {STATE_FILE}); start a new run with --out")
        else:
            torch.manual_seed(cfg.clf.seed)
            disc = Discriminator.build(cfg.clf, tokenizer)
        scrambled = scramble(train)
        if scrambled:
            print(f"structure-destroyed negatives: {len(scrambled)} corrupted copies of the jazz training pieces, "
                  f"{cfg.clf.scrambled_share:.0%} of every batch")
        disc = train_discriminator(disc, train, cfg.clf, tokenizer=tokenizer, resume_state=state,
                                   checkpoint=lambda s, st: save(disc, s, {}, st), scrambled=scrambled,
                                   generated=generated or None)
        result = evaluate_discriminator(disc, test, cfg.clf) if len(test.labels) else {}
        if generated_test:  # the generator's held-out samples: does it still pass for jazz?
            result["generated_p_jazz"] = float(np.mean(score_pieces(disc, generated_test, cfg.clf.max_window,
                                                                    cfg.clf.eval_windows)))
        scrambled_test = scramble_report(disc)
        path = save(disc, cfg.clf.steps, {"test": result, "scramble_test": scrambled_test})
    else:
        disc, path, result = load_discriminator(newest), newest, prior.get("test") or {}
        scrambled_test = prior.get("scramble_test") or {}

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

        cv = grouped_cv(data, tokenizer, cfg.clf, done=list(done), on_fold=keep, scramble=scramble)
        path = save(disc, cfg.clf.steps, {"test": result, "scramble_test": scrambled_test, "grouped_cv": cv})
        folds_file.unlink(missing_ok=True)
    elif prior and step >= cfg.clf.steps:
        print(f"{out_dir} is complete at step {step}; its results:")
    print_results(result, cv, cfg.clf.cv_folds)
    if scrambled_test:
        print(format_scramble(scrambled_test, "held-out jazz"))
    print(f"discriminator: {path} ({seconds():.0f}s)")
    return path


def print_results(result: dict, cv: dict | None, folds: int) -> None:
    if result:
        c = result["confusion"]
        print(f"held-out test: accuracy {result['accuracy']:.3f}, balanced {result['balanced_accuracy']:.3f}, "
              f"ROC-AUC {result['roc_auc']:.3f}; confusion "
              f"(jazz->jazz {c['true_jazz_pred_jazz']}, jazz->other {c['true_jazz_pred_other']}, "
              f"other->jazz {c['true_other_pred_jazz']}, other->other {c['true_other_pred_other']})")
        if 1 < len(result.get("auc_by_jazz_group") or {}) <= 8:  # folders of one's own (all of them in the JSON)
            print("ROC-AUC of each jazz folder against every held-out non-jazz piece: "
                  + ", ".join(f"{g} {a:.3f}" for g, a in result["auc_by_jazz_group"].items()))
        if "folk_bach_accuracy" in result:
            print(f"held-out folk/Bach pieces called not-jazz: {result['folk_bach_accuracy']:.3f}")
        if "generated_p_jazz" in result:
            print(f"held-out generated samples: mean P(jazz) {result['generated_p_jazz']:.3f}")
    if cv:
        print(f"grouped CV ({folds} folds, whole groove families held out): accuracy {cv['accuracy']:.3f} "
              f"(all 'other' would score {cv['majority_rate']:.3f}), balanced accuracy "
              f"{cv.get('balanced_accuracy', float('nan')):.3f}, ROC-AUC {cv['roc_auc']:.3f}")
        for label, name in ((1, "jazz"), (0, "other")):
            fams = sorted(((k, v) for k, v in cv.get("by_family", {}).items() if v["label"] == label),
                          key=lambda kv: kv[1]["accuracy"])
            print(f"  unseen {name} families, accuracy: " + ", ".join(f"{k} {v['accuracy']:.2f}" for k, v in fams))

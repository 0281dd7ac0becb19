"""Shared fixtures: real MIDI files converted from music21's bundled corpus, and a tiny trained run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # deterministic speed on a 2-core CI box (2 threads spin-wait)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rlmusic-cache")
    os.environ["RLMUSIC_CACHE"] = str(d)
    return d


@pytest.fixture(scope="session")
def folk_dir(cache_dir) -> Path:
    """~180 real folk tunes (music21's miscFolk ABC collection) converted to MIDI."""
    from rlmusic.config.sections import DataConfig
    from rlmusic.data.embedded import build_default_midi

    return build_default_midi(DataConfig(cache_dir=str(cache_dir)), collections={"miscFolk": "miscfolk"},
                              bach=False, progress=False) / "miscfolk"


@pytest.fixture(scope="session")
def bach_dir(tmp_path_factory) -> Path:
    """Five Bach chorales converted through music21's parser."""
    from rlmusic.data.embedded import _convert_music21_file, music21_corpus_dir

    out = tmp_path_factory.mktemp("bach")
    for f in sorted((music21_corpus_dir() / "bach").glob("*.mxl"))[:5]:
        n, failed = _convert_music21_file((str(f), "bach_" + f.stem.replace(".", "_"), str(out)))
        assert n == 1, failed
    return out


def tiny_config(out_dir: Path, data: Path, **pretrain):
    from rlmusic.config.load import load_config

    overrides = {"data": {"data": str(data), "workers": 1},
                 "model": {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 64, "dropout": 0.1},
                 "pretrain": {"out_dir": str(out_dir), "max_steps": 60, "batch_size": 8, "lr": 3e-3,
                              "warmup_steps": 5, "eval_every": 30, "save_every": 30, "log_every": 5,
                              "eval_windows": 16} | pretrain}
    return load_config(None, overrides)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, folk_dir, cache_dir) -> Path:
    """A tiny transformer pretrained for 60 steps on the folk tunes (run folder)."""
    from rlmusic.cli import main

    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(out, folk_dir)
    args = ["pretrain", "--config", "tiny", "--data", str(folk_dir), "--out", str(out)]
    for section in ("model", "pretrain"):
        for k, v in getattr(cfg, section).__dict__.items():
            if k != "out_dir":
                args.append(f"{section}.{k}={v}")
    args.append("data.workers=1")
    assert main(args) == 0
    return out


@pytest.fixture(scope="session")
def jazz_set(tmp_path_factory, folk_dir) -> Path:
    """A small real MMA set: swing and bebop vs march and polka, 6 + 3 charts each, and folk tunes."""
    from rlmusic.data.jazz_data import build_jazz_set

    out = tmp_path_factory.mktemp("jazz") / "set"
    return build_jazz_set(out, per_style={"train": 6, "test": 3}, styles=(["swing", "bebop"], ["march", "polka"]),
                          folk_dir=folk_dir, folk_counts={"train": 6, "test": 3}, progress=False)


@pytest.fixture(scope="session")
def tiny_clf(tmp_path_factory, jazz_set, cache_dir) -> Path:
    """A small discriminator trained on a few MMA renders (swing, bebop vs march, polka) and folk tunes."""
    import numpy as np

    from rlmusic.config.sections import ClfConfig, DataConfig, TokenizerConfig
    from rlmusic.data.corpus import tokenize_folder
    from rlmusic.data.jazz_data import read_manifest
    from rlmusic.data.labelled import labelled_from_corpus
    from rlmusic.data.tokens import build_tokenizer
    from rlmusic.models.discriminator import Discriminator, evaluate_discriminator, save_discriminator, train_discriminator

    folder, root = jazz_set, tmp_path_factory.mktemp("clf")
    tok = build_tokenizer(TokenizerConfig())
    data = labelled_from_corpus(tokenize_folder(folder, tok, DataConfig(workers=1, cache_dir=str(cache_dir)),
                                                progress=False), read_manifest(folder))
    cfg = ClfConfig(n_layer=1, n_embd=64, n_head=2, steps=80, batch_size=16, lr=2e-3, min_window=32, max_window=96)
    torch.manual_seed(0)
    train = data.select(np.array([s == "train" for s in data.splits]))
    test = data.select(np.array([s == "test" for s in data.splits]))
    disc = train_discriminator(Discriminator.build(cfg, tok), train, cfg, progress=False, tokenizer=tok)
    out = root / "clf"
    save_discriminator(disc, out, tok, {"test": evaluate_discriminator(disc, test, cfg), "step": 80,
                                        "set": str(folder)})
    return out

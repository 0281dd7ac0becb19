"""Target bands for band-shaped rewards, measured on the training corpus and cached beside it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from rlmusic.config.ppo import PPOConfig
from rlmusic.data.corpus import Corpus
from rlmusic.data.tokens import decode_ids
from rlmusic.errors import RLMusicError
from rlmusic.music.metrics import METRICS
from rlmusic.music.piece import Piece, piece_from_score


def bar_window(ids: np.ndarray, length: int, rng: np.random.Generator, bars: np.ndarray) -> np.ndarray:
    """``length`` tokens of a piece starting at one of its Bar tokens, drawn by ``rng`` among those
    that leave a full window (the whole piece when it is no longer than that)."""
    if len(ids) <= length:
        return ids
    starts = np.flatnonzero(np.isin(ids[: len(ids) - length + 1], bars)) if len(bars) else np.zeros(0, np.int64)
    start = int(rng.choice(starts)) if len(starts) else int(rng.integers(0, len(ids) - length + 1))
    return ids[start : start + length]


def corpus_sample(corpus: Corpus, tokenizer, split: str = "train", max_pieces: int = 1000, seed: int = 0,
                  select: str = "", window: int = 0):
    """(pieces, ids) of up to ``max_pieces`` pieces of a split, chosen with a fixed seed; pieces
    are decoded from their tokens, so they are quantized exactly like generated pieces.
    ``select``: only pieces whose name contains it (e.g. ``/jazz/``: the jazz arrangements).
    ``window``: each piece cut to that many tokens from one of its bars (seeded), so real music
    compares with samples of the same length."""
    idx = corpus.indices(split)
    if select:
        idx = np.array([i for i in idx if select in corpus.names[i]], dtype=np.int64)
        if len(idx) == 0:
            raise RLMusicError(f"no {split} piece of the corpus has {select!r} in its name; the names look "
                               f"like {corpus.names[0]!r}")
    if len(idx) > max_pieces:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_pieces, replace=False))
    ids = [corpus.piece(i) for i in idx]
    if window:
        from rlmusic.data.tokens import bar_ids

        rng, bars = np.random.default_rng(seed + 1), bar_ids(tokenizer)
        ids = [bar_window(np.asarray(x), window, rng, bars) for x in ids]
    ids = [np.asarray(x).tolist() for x in ids]
    return [piece_from_score(decode_ids(tokenizer, x)[0]) for x in ids], ids


def corpus_bands(corpus: Corpus, tokenizer, quantiles: tuple[float, float] = (0.05, 0.95),
                 max_pieces: int = 1000, select: str = "", window: int = 0,
                 split: str = "train") -> dict[str, tuple[float, float]]:
    """{metric: (low, high)} quantiles of every metric over a split (its pieces named with
    ``select`` only, if given), each piece cut to a ``window`` of tokens (0: whole pieces) so the
    band describes music as long as the samples."""
    return bands_of(metric_values(corpus, tokenizer, max_pieces, select, window, split), quantiles)


def bands_of(values: dict[str, list[float]], quantiles: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """{metric: (low, high)} quantiles of each metric's values, NaN left out; a metric NaN on
    every piece has no band."""
    bands = {}
    for name, v in values.items():
        v = np.asarray(v, float)
        v = v[~np.isnan(v)]
        if len(v):
            bands[name] = (float(np.quantile(v, quantiles[0])), float(np.quantile(v, quantiles[1])))
    return bands


def metrics_of(pieces: list[Piece]) -> dict[str, list[float]]:
    """{metric: its value on each piece} for every metric of ``METRICS`` (NaN kept)."""
    return {name: [float(fn(p)) for p in pieces] for name, fn in METRICS.items()}


def metric_values(corpus: Corpus, tokenizer, max_pieces: int = 1000, select: str = "", window: int = 0,
                  split: str = "train") -> dict[str, list[float]]:
    """{metric: its value on each piece of ``corpus_sample``} (NaN kept), cached in the corpus
    folder: bands at other quantiles of the same pieces are read from it, not measured again."""
    key = json.dumps([select, window, sorted(METRICS)] + ([split] if split != "train" else []))
    tag = hashlib.sha1(key.encode()).hexdigest()[:8]
    cache = Path(corpus.meta.get("cache", "")) / f"band-values-{max_pieces}-{tag}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    pieces = corpus_sample(corpus, tokenizer, split, max_pieces, select=select, window=window)[0]
    values = metrics_of(pieces)
    if cache.parent.is_dir():
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))  # NaN is written as NaN and read back as such
        tmp.replace(cache)
    return values


def reward_reference_metrics(pc: PPOConfig, source: Corpus, tokenizer) -> dict[str, list[float]]:
    """{metric: its value on each target window}, windows as long as the rollouts. ``source``:
    the target folder (all its pieces, whole: a small folder has few) or the corpus (its
    training pieces named by ``pc.bands_from``). The band rewards and ``metric_match`` read them."""
    if pc.target:
        return metric_values(source, tokenizer, split="all", window=pc.max_new_tokens)
    return metric_values(source, tokenizer, select=pc.bands_from, window=pc.max_new_tokens)


def reward_bands(pc: PPOConfig, values: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """The band rewards' {metric: (low, high)}: ``pc.band_low``-``pc.band_high`` quantiles of the
    target windows' ``values`` (:func:`reward_reference_metrics`), and ``pc.band_quantiles`` where
    a metric has its own."""
    bands = bands_of(values, (pc.band_low, pc.band_high))
    for metric, q in pc.band_quantiles.items():
        if metric not in bands:
            raise RLMusicError(f"ppo.band_quantiles: {metric!r} is not a metric with a band; metrics: "
                               f"{', '.join(sorted(bands))}")
        bands[metric] = bands_of({metric: values[metric]}, (float(q[0]), float(q[1])))[metric]
    return bands

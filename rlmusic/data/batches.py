"""Training windows over a token stream, with pitch-transposition augmentation.

Batches are a pure function of (seed, step): resuming at step k replays exactly
the windows a straight run would have seen, with no sampler state to save.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class WindowSampler:
    """Random windows of ``block_size + 1`` tokens from a BOS/EOS-delimited stream."""

    def __init__(self, stream: np.ndarray, block_size: int, batch_size: int, seed: int,
                 transpose: np.ndarray | None = None, pitch_of_id: np.ndarray | None = None,
                 transposed_streams: list[np.ndarray] | None = None):
        if len(stream) < block_size + 2:
            # A tiny corpus: repeat it so one window fits (tests, toy folders).
            stream = np.tile(stream, (block_size + 2) // max(len(stream), 1) + 1)
        self.stream = np.asarray(stream, dtype=np.int64)
        self.block_size = block_size
        self.batch_size = batch_size
        self.seed = seed
        self.transpose = transpose  # (2K+1, V) from tokens.transpose_table, or None
        self.pitch_of_id = pitch_of_id  # (V,) pitch or -1
        # BPE: the same pieces encoded after transposition (corpus.tokenize_folder(shift=...)); a
        # window comes from the original or one of them, each as likely
        self.streams = [self.stream] + [np.asarray(s, dtype=np.int64) for s in transposed_streams or []
                                        if len(s) >= block_size + 2]

    def batch(self, step: int, micro: int = 0) -> torch.Tensor:
        """(B, T+1) int64 windows for optimizer step ``step``, micro-batch ``micro``."""
        rng = np.random.default_rng([self.seed, step, micro])
        span = np.arange(self.block_size + 1)
        if len(self.streams) > 1:
            which = rng.integers(0, len(self.streams), size=self.batch_size)
            windows = np.stack([self._window(self.streams[k], rng, span) for k in which])
            return torch.from_numpy(windows)
        starts = rng.integers(0, len(self.stream) - self.block_size - 1, size=self.batch_size)
        idx = starts[:, None] + span[None, :]
        windows = self.stream[idx]  # (B, T+1)
        if self.transpose is not None:
            windows = transpose_windows(windows, self.transpose, self.pitch_of_id, rng)
        return torch.from_numpy(windows)


    def _window(self, stream: np.ndarray, rng: np.random.Generator, span: np.ndarray) -> np.ndarray:
        return stream[int(rng.integers(0, len(stream) - self.block_size - 1)) + span]


def transpose_windows(windows: np.ndarray, table: np.ndarray, pitch_of_id: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Shift each (B, T) window's pitches by one random amount, only by shifts that keep every
    pitch of that window inside the vocabulary (``table`` from ``tokens.transpose_table``)."""
    k = (table.shape[0] - 1) // 2
    vocab_pitches = pitch_of_id[pitch_of_id >= 0]
    pitches = pitch_of_id[windows]  # (B, T), -1 where not a pitch
    has = pitches >= 0
    lo = np.where(has, pitches, vocab_pitches.max()).min(axis=1)  # (B,)
    hi = np.where(has, pitches, vocab_pitches.min()).max(axis=1)  # (B,)
    s_min = np.maximum(-k, vocab_pitches.min() - lo)
    s_max = np.minimum(k, vocab_pitches.max() - hi)
    shift = s_min + np.floor(rng.random(len(windows)) * (s_max - s_min + 1)).astype(np.int64)
    return table[(shift + k)[:, None], windows].astype(np.int64)  # (B, T)


def eval_windows(stream: np.ndarray, block_size: int, batch_size: int, max_windows: int) -> Iterator[torch.Tensor]:
    """Non-overlapping (B, T+1) windows from the start of ``stream``: the same every evaluation."""
    n = min(max_windows, max((len(stream) - 1) // block_size, 0))
    if n == 0 and len(stream) > 1:
        yield torch.from_numpy(np.asarray(stream, dtype=np.int64)[None, :])
        return
    starts = np.arange(n) * block_size
    for i in range(0, n, batch_size):
        s = starts[i : i + batch_size]
        idx = s[:, None] + np.arange(block_size + 1)[None, :]
        yield torch.from_numpy(np.asarray(stream, dtype=np.int64)[idx])

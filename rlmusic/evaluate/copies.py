"""Copy detection: the longest run of a sample's tokens found verbatim in the training corpus.

A policy can please every metric by replaying its training data. NotaGen and the
jazz-style-conditioned generation work filter such near-copies; here each sampled piece gets
the longest run of tokens (and of whole bars) it shares with any training piece.

The index is a suffix array of the corpus's training split (``pydivsufsort``, about a second
for 5 M tokens, cached beside the corpus), with a separator between pieces so no run crosses
two of them. Every start position of every sample is looked up at once by a vectorised binary
search over the sorted suffixes: O(total sample tokens x log corpus x run length), not a
quadratic scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COPY_BARS = 8  # a run of this many whole bars counts as a copy (the share reported)
_END, _QUERY_END = -1, -3  # pads: past the corpus's end, past the query's end (sorts lowest)


@dataclass
class CopyIndex:
    text: np.ndarray  # (N,) the pieces' ids back to back, a separator after each
    suffixes: np.ndarray  # (N,) int32: start of each suffix of text, in sorted order
    max_run: int = 4096  # runs are measured up to this many tokens

    @classmethod
    def build(cls, pieces: list[np.ndarray], vocab_size: int, cache: str | Path | None = None) -> CopyIndex:
        from pydivsufsort import divsufsort

        dtype = np.uint16 if vocab_size < 2**16 - 1 else np.uint32
        sep = np.iinfo(dtype).max  # no token has this id
        parts = []
        for p in pieces:
            parts += [np.asarray(p, dtype), np.array([sep], dtype)]
        text = np.concatenate(parts) if parts else np.zeros(0, dtype)
        if cache is not None and Path(cache).is_file():
            suffixes = np.load(cache)
            if len(suffixes) == len(text):
                return cls(text, suffixes)
        suffixes = divsufsort(text).astype(np.int32)
        if cache is not None and Path(cache).parent.is_dir():
            tmp = Path(cache).with_suffix(".tmp.npy")
            np.save(tmp, suffixes)
            tmp.replace(cache)
        return cls(text, suffixes)

    def _gather(self, starts: np.ndarray, width: int) -> np.ndarray:
        """(Q, width) int64: text from each start, padded with _END past the corpus."""
        pos = starts[:, None] + np.arange(width)[None, :]
        out = np.full(pos.shape, _END, np.int64)
        inside = pos < len(self.text)
        out[inside] = self.text[pos[inside]]
        return out

    def matching_lengths(self, ids: list[int], chunk: int = 256, probe: int = 64) -> np.ndarray:
        """(len(ids),) for each start position, the longest prefix of ids[start:] that occurs
        in the corpus (capped at ``max_run``). Every start is first searched on its next
        ``probe`` tokens only: a run shorter than that is already exact, since no suffix then
        ties with the query on those tokens and the cut comparison orders the suffixes as the
        whole one does. Only starts whose run fills the probe are searched again on all of it
        (runs are mostly a few dozen tokens: bench/copies_speed.py measures 5x on the demo's samples)."""
        q = np.asarray(ids, np.int64)
        if len(q) == 0 or len(self.text) == 0:
            return np.zeros(len(q), np.int64)
        full = min(len(q), self.max_run)
        cut = min(probe, full)
        runs = np.concatenate([self._lengths(q, np.arange(a, min(a + chunk, len(q))), cut)
                               for a in range(0, len(q), chunk)])
        again = np.flatnonzero(runs >= cut) if cut < full else np.zeros(0, np.int64)
        for a in range(0, len(again), chunk):
            runs[again[a : a + chunk]] = self._lengths(q, again[a : a + chunk], full)
        return runs

    def _lengths(self, q: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
        """Longest match of q[start:] for each start, comparing ``width`` tokens (runs cap there)."""
        n = len(starts)
        pos = starts[:, None] + np.arange(width)[None, :]
        query = np.where(pos < len(q), q[np.minimum(pos, len(q) - 1)], _QUERY_END)  # (n, width)
        rows, last = np.arange(n), len(self.suffixes) - 1
        lo, hi = np.zeros(n, np.int64), np.full(n, len(self.suffixes), np.int64)
        while np.any(lo < hi):  # lower bound: the first suffix not below each query
            active, mid = lo < hi, (lo + hi) // 2
            s = self._gather(self.suffixes[np.minimum(mid, last)], width)
            differ = s != query
            first = differ.argmax(1)
            less = differ.any(1) & (s[rows, first] < query[rows, first])
            lo = np.where(active & less, mid + 1, lo)
            hi = np.where(active & ~less, mid, hi)
        best = np.zeros(n, np.int64)
        for neighbour in (lo - 1, lo):  # the longest common prefix is with one of the two neighbours
            ok = (neighbour >= 0) & (neighbour <= last)
            same = (self._gather(self.suffixes[np.clip(neighbour, 0, last)], width) == query) & (query >= 0)
            run = np.where(same.all(1), width, (~same).argmax(1))
            best = np.maximum(best, np.where(ok, run, 0))
        return best

    def longest_copy(self, ids: list[int], bars: np.ndarray) -> tuple[int, float]:
        """(tokens, whole bars) of the longest run of ``ids`` found in the corpus. A bar is whole
        when the run holds it from its Bar token to the next one (or the sample's end); bars are
        NaN when ``bars`` is empty (no Bar tokens known)."""
        q = np.asarray(ids, np.int64)
        runs = self.matching_lengths(ids)
        if len(q) == 0:
            return 0, 0.0 if len(bars) else math.nan
        if len(bars) == 0:
            return int(runs.max()), math.nan
        starts = np.flatnonzero(np.isin(q, bars))
        ends = np.r_[starts[1:], len(q)]  # each bar runs to the next Bar token
        whole = 0
        for i in np.flatnonzero(runs):
            # bars starting at or after i and ending by the run's end
            whole = max(whole, int(np.count_nonzero((starts >= i) & (ends <= i + runs[i]))))
        return int(runs.max()), float(whole)


def copy_report(index: CopyIndex, samples: list[list[int]], bars: np.ndarray, copy_bars: int = COPY_BARS) -> dict:
    """Per column: the longest copied run (tokens, bars) and the share of samples with a run of
    ``copy_bars`` whole bars or more."""
    found = [index.longest_copy(s, bars) for s in samples]
    tokens = [t for t, _ in found]
    bar_runs = [b for _, b in found]
    known = [b for b in bar_runs if not math.isnan(b)]
    return {"copy/longest_tokens": float(max(tokens, default=0)),
            "copy/median_longest_tokens": float(np.median(tokens)) if tokens else math.nan,
            "copy/longest_bars": float(max(known)) if known else math.nan,
            f"copy/share_{copy_bars}_bars": float(np.mean([b >= copy_bars for b in known])) if known else math.nan,
            "per_sample": {"tokens": tokens, "bars": bar_runs}}

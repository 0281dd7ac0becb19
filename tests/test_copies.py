"""Copy detection: runs found in the corpus, checked by brute force and on a planted 8-bar copy."""

import math

import numpy as np
import pytest

from rlmusic.config.sections import DataConfig, TokenizerConfig
from rlmusic.data.corpus import tokenize_folder
from rlmusic.data.tokens import bar_ids, build_tokenizer, special_ids
from rlmusic.evaluate.copies import COPY_BARS, CopyIndex, copy_report


def _brute_force(q, pieces):
    best = []
    for i in range(len(q)):
        longest = 0
        for p in pieces:
            for j in range(len(p)):
                k = 0
                while i + k < len(q) and j + k < len(p) and q[i + k] == p[j + k]:
                    k += 1
                longest = max(longest, k)
        best.append(longest)
    return best


def test_matching_lengths_equal_brute_force_and_never_cross_pieces():
    rng = np.random.default_rng(0)
    pieces = [rng.integers(0, 4, rng.integers(3, 30)) for _ in range(40)]
    index = CopyIndex.build(pieces, 4)
    for _ in range(30):
        q = rng.integers(0, 5, 25).tolist()
        expected = _brute_force(q, pieces)
        assert index.matching_lengths(q, chunk=7).tolist() == expected
        # a short probe: runs that fill it are searched again on the whole query
        assert index.matching_lengths(q, chunk=7, probe=3).tolist() == expected
        assert index.matching_lengths(q, chunk=4, probe=1).tolist() == expected
    # two pieces back to back: the join is not a run of either
    index = CopyIndex.build([np.array([1, 2, 3]), np.array([4, 5, 6])], 7)
    assert index.matching_lengths([2, 3, 4, 5]).tolist() == [2, 1, 2, 1]


def test_a_planted_eight_bar_copy_is_found(folk_dir, cache_dir, tmp_path):
    tok = build_tokenizer(TokenizerConfig())
    corpus = tokenize_folder(folk_dir, tok, DataConfig(workers=1, cache_dir=str(cache_dir)), progress=False)
    pieces = [np.asarray(corpus.piece(i)) for i in range(len(corpus))]
    bars = bar_ids(tok)
    source = next(p for p in pieces if np.isin(p, bars).sum() >= 12)
    starts = np.flatnonzero(np.isin(source, bars))
    planted = source[starts[2]:starts[2 + COPY_BARS]].tolist()  # exactly 8 bars, Bar token to Bar token
    pad = special_ids(tok)["pad"]  # occurs in no piece: ends the run
    sample = [pad, pad] + planted + [int(bars[0]), pad]
    index = CopyIndex.build(pieces, len(tok), cache=tmp_path / "sa.npy")
    tokens, whole = index.longest_copy(sample, bars)
    assert tokens == len(planted) + 1 and whole == COPY_BARS  # the closing Bar token matches too
    assert (tmp_path / "sa.npy").is_file()
    again = CopyIndex.build(pieces, len(tok), cache=tmp_path / "sa.npy")  # from the cache
    assert np.array_equal(again.suffixes, index.suffixes)
    shorter = [pad] + source[starts[2]:starts[2 + COPY_BARS - 1]].tolist() + [int(bars[0]), pad]
    fresh = [pad, pad, pad]
    found = copy_report(index, [sample, shorter, fresh], bars)
    assert found["copy/longest_bars"] == COPY_BARS
    assert found["copy/share_8_bars"] == pytest.approx(1 / 3)
    assert found["per_sample"]["bars"] == [8.0, 7.0, 0.0] and found["per_sample"]["tokens"][2] == 0


def test_without_bar_tokens_bars_are_nan():
    index = CopyIndex.build([np.array([1, 2, 3])], 4)
    tokens, whole = index.longest_copy([1, 2, 3], np.zeros(0, np.int64))
    assert tokens == 3 and math.isnan(whole)

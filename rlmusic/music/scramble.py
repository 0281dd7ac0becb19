"""The scramble test, and structure-destroyed negatives as tokens.

A jazz model that gives real jazz and the same jazz with its pitches permuted among the notes
about the same P(jazz) hears texture, not harmony or melody, and a reward built on it teaches
texture. :func:`scramble_test` measures that gap on excerpts of real music for any scorer (the
discriminator, the judge); :func:`corrupted_pieces` makes the corrupted copies that the
discriminator, the judge and every co-evolving refresh train on as negatives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from rlmusic.config.sections import ClfConfig
from rlmusic.data.tokens import decode_ids, encode_score
from rlmusic.music.corrupt import CORRUPTIONS, corrupt, score_from_piece
from rlmusic.music.piece import Piece, piece_from_arrays, piece_from_score

NEGATIVES = tuple(ClfConfig().scrambled_kinds)  # the kinds the models learn from by default
EXCERPT_BEATS = 40  # ten bars of 4/4: long enough for a progression, short like a sample
Scorer = Callable[[list[Piece]], np.ndarray]


def beat_excerpt(piece: Piece, start_beat: int, beats: int) -> Piece:
    """The notes starting in beats [start, start + beats), shifted to start at 0 and cut at the end."""
    lo, hi = start_beat * piece.tpq, (start_beat + beats) * piece.tpq
    m = (piece.time >= lo) & (piece.time < hi)
    return piece_from_arrays(piece.time[m] - lo, np.minimum(piece.duration[m], hi - piece.time[m]), piece.pitch[m],
                             piece.is_drum[m], tpq=piece.tpq, bar_ticks=piece.bar_ticks)


def excerpts(pieces: Sequence[Piece], rng: np.random.Generator, beats: int = EXCERPT_BEATS,
             min_notes: int = 8) -> list[Piece]:
    """One excerpt of ``beats`` beats per piece, starting on a random bar line (the whole piece
    when shorter); excerpts with fewer than ``min_notes`` pitched notes are left out."""
    out = []
    for p in pieces:
        total = math.ceil(p.end / p.tpq)
        per_bar = max(1, round(p.bar_ticks / p.tpq))
        bar_starts = np.arange(0, max(1, total - beats + 1), per_bar)
        ex = beat_excerpt(p, int(rng.choice(bar_starts)), beats) if total > beats else p
        if len(ex.pitched) >= min_notes:
            out.append(ex)
    return out


def scramble_test(score: Scorer, pieces: Sequence[Piece], seed: int = 0,
                  kinds: Sequence[str] = tuple(CORRUPTIONS)) -> dict[str, float]:
    """Mean P(jazz) of excerpts of ``pieces`` (``real``) and of each corruption of the same
    excerpts, with ``gap/<kind>`` = real minus corrupted: near 0, the scorer cannot tell."""
    rng = np.random.default_rng(seed)
    ex = excerpts(pieces, rng)
    if not ex:
        return {}
    out = {"n": float(len(ex)), "real": float(np.nanmean(score(ex)))}
    for kind in kinds:
        p = float(np.nanmean(score(corrupt(ex, kind, rng))))
        out[kind] = p
        out[f"gap/{kind}"] = out["real"] - p
    return out


def format_scramble(result: dict[str, float], what: str) -> str:
    """One line: the real excerpts' mean P(jazz), then each corruption's (and the gap)."""
    if not result:
        return f"scramble test ({what}): no excerpts"
    parts = [f"{k} {result[k]:.3f} (gap {result[f'gap/{k}']:+.3f})" for k in CORRUPTIONS if k in result]
    return f"scramble test ({what}, {int(result['n'])} excerpts of {EXCERPT_BEATS} beats): real {result['real']:.3f}; " \
           + ", ".join(parts)


def token_scorer(prob_jazz: Callable[[list[list[int]]], np.ndarray], tokenizer, window: int) -> Scorer:
    """A scorer of pieces for a model over token windows: each piece encoded with ``tokenizer``,
    its last ``window`` ids scored (as the ``jazz_clf`` reward reads a sample)."""

    def score(pieces: list[Piece]) -> np.ndarray:
        return prob_jazz([encode_score(tokenizer, score_from_piece(p))[-window:] for p in pieces])

    return score


def pieces_of_ids(tokenizer, pieces: Sequence[Sequence[int]]) -> list[Piece]:
    return [piece_from_score(decode_ids(tokenizer, list(map(int, p)))[0]) for p in pieces]


def corrupted_pieces(tokenizer, pieces: Sequence[Sequence[int]], seed: int,
                     kinds: Sequence[str] = NEGATIVES, min_tokens: int = 16,
                     max_pieces: int = 0) -> list[np.ndarray]:
    """Token pieces -> one corrupted copy of each (of ``max_pieces`` of them drawn at random,
    when given), its kind drawn in turn from ``kinds`` (so every kind is about equally common),
    re-encoded with ``tokenizer``: negatives cut into windows exactly like the real pieces they
    came from. Copies shorter than ``min_tokens`` are left out."""
    rng = np.random.default_rng(seed)
    if max_pieces and len(pieces) > max_pieces:
        pieces = [pieces[i] for i in np.sort(rng.choice(len(pieces), max_pieces, replace=False))]
    decoded = pieces_of_ids(tokenizer, pieces)
    order = rng.permutation(len(decoded))
    out = []
    for n, i in enumerate(order):
        bad = CORRUPTIONS[kinds[n % len(kinds)]](decoded[i], rng, decoded)
        ids = np.asarray(encode_score(tokenizer, score_from_piece(bad)), dtype=np.int64)
        if len(ids) >= min_tokens:
            out.append(ids)
    return out


def jazz_of(data, tokenizer, seed: int, max_pieces: int = 0, copies: int = 1,
            kinds: Sequence[str] = NEGATIVES) -> list[np.ndarray]:
    """Corrupted copies of the jazz pieces of labelled pieces (``rlmusic.data.labelled.Labelled``),
    ``copies`` of each (each corrupted afresh, the ``kinds`` in turn over all of them)."""
    jazz = [p for p, y in zip(data.pieces, data.labels) if y == 1]
    return corrupted_pieces(tokenizer, jazz * copies, seed, kinds=kinds, max_pieces=max_pieces)

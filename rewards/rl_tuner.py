"""RL Tuner's music-theory rules (Jaques et al., 2017), each a reward in [0, 1] by name.

All read the piece's melody (highest note per onset) and its estimated key. A piece with
no notes scores 0 on every rule.

Example::

    >>> reward = in_key()
    >>> reward(batch)  # the share of each sample's melody notes in its estimated key
"""

from __future__ import annotations

import math

import numpy as np

from rlmusic.music import metrics as M
from rlmusic.music.piece import Piece
from rlmusic.reward_contract import per_piece, reads


def _or(value: float, default: float) -> float:
    return default if math.isnan(value) else value


def _empty(piece: Piece) -> bool:
    return len(piece.melody[1]) == 0


def in_key_score(piece: Piece) -> float:
    return 0.0 if _empty(piece) else 1.0 - M.notes_not_in_key(piece)


def tonic_score(piece: Piece) -> float:
    """Half for starting on the tonic, half for ending on it."""
    return 0.0 if _empty(piece) else 0.5 * (M.starts_with_tonic(piece) + M.ends_with_tonic(piece))


def leaps_score(piece: Piece) -> float:
    """Fraction of leaps resolved; 1 when the melody never leaps."""
    return 0.0 if _empty(piece) else _or(M.leaps_resolved(piece), 1.0)


def extrema_score(piece: Piece) -> float:
    """Half for a unique highest note, half for a unique lowest note."""
    return 0.0 if _empty(piece) else 0.5 * (M.unique_max(piece) + M.unique_min(piece))


def motif_score(piece: Piece) -> float:
    return 0.0 if _empty(piece) else M.notes_in_motif(piece)


def repeated_motif_score(piece: Piece) -> float:
    return 0.0 if _empty(piece) else M.notes_in_repeated_motif(piece)


def autocorrelation_score(piece: Piece) -> float:
    """1 - mean |autocorrelation| at lags 1-3. A constant melody (no variance) counts as fully
    self-similar (|r| = 1); lags longer than the melody allows are left out."""
    if _empty(piece):
        return 0.0
    _, p = piece.melody
    values = []
    for lag in (1, 2, 3):
        if len(p) < lag + 2:
            continue
        r = M.autocorrelation(piece, lag)
        values.append(1.0 if math.isnan(r) else abs(r))
    return 1.0 - float(np.mean(values)) if values else 0.0


@reads("notes_not_in_key")
def in_key():
    return per_piece("in_key", 0.0, 1.0, in_key_score)


@reads("starts_with_tonic")
def tonic():
    return per_piece("tonic", 0.0, 1.0, tonic_score)


@reads("leaps_resolved")
def leaps_resolved():
    return per_piece("leaps_resolved", 0.0, 1.0, leaps_score)


@reads("unique_max", "unique_min")
def unique_extrema():
    return per_piece("unique_extrema", 0.0, 1.0, extrema_score)


@reads("notes_in_motif")
def motif():
    return per_piece("motif", 0.0, 1.0, motif_score)


@reads("notes_in_repeated_motif")
def repeated_motif():
    return per_piece("repeated_motif", 0.0, 1.0, repeated_motif_score)


@reads("autocorrelation_1", "autocorrelation_2", "autocorrelation_3")
def autocorrelation():
    return per_piece("autocorrelation", 0.0, 1.0, autocorrelation_score)

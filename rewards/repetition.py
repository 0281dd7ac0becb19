"""``repetition``: penalise AAAA-loops, repeated bars and short loops played back to back.

Score per piece in [-1, 0], the mean of three fractions, negated:

* runs: melody notes that repeat one pitch more than 4 times in a row (RL Tuner's limit);
* bars: bars whose melody (positions and pitches) equals the bar just before;
* loops: melody notes inside a pitch pattern of 2-4 notes played 3 or more times back to
  back (ABABAB, ABCABCABC).

0 for varied music; -1 for a piece with no notes at all (nothing to hear is the worst loop).

Example::

    >>> from rlmusic.reward_contract import RewardBatch
    >>> reward = repetition()
    >>> reward(RewardBatch(ids, tokenizer))  # e.g. [-0.0, -0.33]: the second loops a bar
"""

from __future__ import annotations

import numpy as np

from rlmusic.music.metrics import repeated_note_mask
from rlmusic.music.piece import Piece
from rlmusic.reward_contract import per_piece, reads

LOOP_LENGTHS = (2, 3, 4)
LOOP_TIMES = 3  # a pattern counts as a loop from its third back-to-back occurrence


def repeated_bar_fraction(piece: Piece) -> float:
    """Of the bars after the first melody bar, the fraction equal to the bar just before."""
    numbers, patterns = piece.bars.numbers, piece.bars.patterns
    if len(patterns) < 2:
        return 0.0
    same = [numbers[i] == numbers[i - 1] + 1 and patterns[i] == patterns[i - 1] for i in range(1, len(patterns))]
    return float(np.mean(same))


def loop_mask(pitches: np.ndarray, lengths=LOOP_LENGTHS, times: int = LOOP_TIMES) -> np.ndarray:
    """True for notes inside a pattern of n in ``lengths`` notes repeated ``times``+ times back to back."""
    n_notes = len(pitches)
    mask = np.zeros(n_notes, bool)
    for n in lengths:
        if n_notes < n * times:
            continue
        same = pitches[n:] == pitches[:-n]  # note i equals note i + n
        # A run of k consecutive True starting at i means notes i .. i+k+n-1 repeat with period n.
        run = 0
        for i in range(len(same) - 1, -1, -1):
            run = run + 1 if same[i] else 0
            if run >= n * (times - 1) and (i == 0 or not same[i - 1]):
                mask[i : i + run + n] = True
    return mask


def repetition_score(piece: Piece) -> float:
    _, p = piece.melody
    if len(p) == 0:
        return -1.0
    runs = float(repeated_note_mask(p).mean())
    loops = float(loop_mask(p).mean())
    return -(runs + repeated_bar_fraction(piece) + loops) / 3.0


@reads("repeated_notes")  # its runs term is that metric; repeated bars and loops are not metrics
def repetition():
    """The ``repetition`` reward: range [-1, 0], 0 for varied music."""
    return per_piece("repetition", -1.0, 0.0, repetition_score)

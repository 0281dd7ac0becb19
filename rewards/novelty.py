"""``novelty``: each sample's share of the distinct melody 4-grams among recent samples.

The distinct-4 that ``rlmusic metrics`` reports (distinct 4-grams of melody pitches over all
4-grams, across a set of samples; Li et al., 2016) belongs to the set, not to one piece: a
policy that plays one two-bar pattern in every sample scores well on every per-piece metric
and on a discriminator, and only the set shows the collapse. This reward hands the set's
figure back to the samples. Each distinct 4-gram is worth 1, shared equally among its
occurrences in the set; a sample scores the credit it collects per 4-gram it plays:

    novelty(i) = sum over the 4-grams g of sample i of 1 / count(g in the set) / n_grams(i)

so the set's distinct-4 is the mean of its scores weighted by each sample's number of
4-grams, and a sample that repeats itself or the others loses exactly its part of it.

The set is the batch and the ``memory`` samples scored before it (256 by default): a PPO
batch (16 samples of 255 tokens in the demo) is too small for 4-grams to recur between its
samples, while a policy that settles on one pattern repeats it from batch to batch. The
memory goes into the checkpoint, so a resumed run scores as the uninterrupted one; on several
processes each remembers its own rollouts, and the checkpoint keeps the main process's.

It reads no model, so it holds while a co-evolving discriminator moves. Range [0, 1]: 1 for a
sample none of whose 4-grams occurs twice in the set, 1/k for one whose every 4-gram occurs k
times, 0 for a melody of fewer than 4 notes (nothing to hear scores worst, as in
``repetition``). Batches of 16 windows of the corpus's jazz, 255 tokens long, score 0.89 on
average after 256 others (0.82-0.94 a batch); pitch noise scores 1, so weigh it beside
rewards that keep the harmony (the chord-fit band).

Example::

    >>> from rlmusic.reward_contract import RewardBatch
    >>> reward = novelty()
    >>> reward(RewardBatch.from_pieces([a, a, b]))  # e.g. [0.5, 0.5, 1.0]: a is played twice
    >>> reward(RewardBatch.from_pieces([b]))  # [0.5]: b was played in the batch before
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence

from rlmusic.reward_contract import RewardBatch, reads

N = 4  # the n of the distinct-n that ``rlmusic metrics`` reports


def novelty_scores(sequences: Sequence[Sequence[int]], n: int = N,
                   before: Sequence[Sequence[int]] = ()) -> list[float]:
    """Each sequence's credit per n-gram, each distinct n-gram of the set (``before`` and
    ``sequences``) worth 1 shared among its occurrences; 0 for a sequence shorter than n."""
    def grams_of(seqs):
        return [[tuple(s[i : i + n]) for i in range(len(s) - n + 1)] for s in map(list, seqs)]

    grams = grams_of(sequences)
    count = Counter(g for gs in grams + grams_of(before) for g in gs)
    return [sum(1.0 / count[g] for g in gs) / len(gs) if gs else 0.0 for gs in grams]


class Novelty:
    """``novelty_scores`` of a batch's melody pitches among the last ``memory`` samples scored
    before it (a picklable reward object)."""

    def __init__(self, memory: int = 256):
        self.name = self.__name__ = "novelty"  # TRL logs reward functions by __name__
        self.range = (0.0, 1.0)
        self.memory: deque[list[int]] = deque(maxlen=memory)

    def __call__(self, batch: RewardBatch) -> list[float]:
        melodies = [p.melody[1].tolist() for p in batch.pieces]
        scores = novelty_scores(melodies, N, before=self.memory)
        self.memory.extend(melodies)
        return scores

    def state(self) -> dict:
        return {"memory": [list(m) for m in self.memory]}

    def restore(self, state: dict) -> None:
        self.memory.clear()
        self.memory.extend(list(map(int, m)) for m in state.get("memory", []))

    def __repr__(self) -> str:
        return f"Novelty(memory {self.memory.maxlen})"


@reads()  # distinct-4 is a measure of a set of samples, not one of the per-piece metrics
def novelty() -> Novelty:
    """The ``novelty`` reward: range [0, 1], a sample's share of the distinct 4-grams among
    its batch and the 256 samples before it."""
    return Novelty()

"""The reward contract, weighted combinations, the ``--reward`` parser and the TRL adapter.

A reward is a callable ``reward(batch: RewardBatch) -> list[float]`` (one float per sample)
with a ``name`` and a documented ``range``. A parameterised reward is a small factory that
returns such a callable (TRL's ``trl/rewards/`` style). The ``rewards`` package holds them
and their registry; this module only defines what they must look like.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from rlmusic.data.tokens import DecodeReport, decode_ids
from rlmusic.errors import RLMusicError
from rlmusic.music.metrics import METRICS
from rlmusic.music.piece import Piece, piece_from_score


class RewardBatch:
    """Generated samples as every reward sees them: ids, decoded once into shared pieces."""

    def __init__(self, ids: Sequence[Sequence[int]], tokenizer, prompts: Sequence[Sequence[int]] | None = None):
        self.ids = [list(map(int, x)) for x in ids]
        self.tokenizer = tokenizer
        self.prompts = prompts
        self._metrics: dict[str, np.ndarray] = {}  # metric name -> its value on each piece

    @classmethod
    def from_pieces(cls, pieces: Sequence[Piece]) -> RewardBatch:
        """A batch of pieces already read (no token ids): for rewards that score pieces, such
        as the band rewards, ``metric_match`` and ``repetition``, on music from anywhere."""
        batch = cls([[] for _ in pieces], tokenizer=None)
        batch.__dict__["decoded"] = [(p, DecodeReport(0, 0, len(p.pitch))) for p in pieces]
        return batch

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def decoded(self) -> list[tuple[Piece, DecodeReport]]:
        out = []
        for ids in self.ids:
            score, report = decode_ids(self.tokenizer, ids)
            out.append((piece_from_score(score), report))
        return out

    @property
    def pieces(self) -> list[Piece]:
        return [p for p, _ in self.decoded]

    @property
    def reports(self) -> list[DecodeReport]:
        return [r for _, r in self.decoded]

    def metric(self, name: str) -> np.ndarray:
        """(B,) ``rlmusic.music.metrics.METRICS[name]`` of each piece, measured once per batch:
        the demo's nine band rewards and ``metric_match`` read the same values."""
        if name not in self._metrics:
            self._metrics[name] = np.array([METRICS[name](p) for p in self.pieces], dtype=float)
        return self._metrics[name]


class Reward(Protocol):
    name: str
    range: tuple[float, float]

    def __call__(self, batch: RewardBatch) -> list[float]: ...

    # A reward that learns as the run goes (``metric_match``'s critic remembers recent samples)
    # may also define ``state() -> dict`` of plain lists and numbers and ``restore(state)``: the
    # checkpoint keeps it, so a resumed run scores as the uninterrupted one would.


def reward(name: str, low: float, high: float) -> Callable[[Callable], Reward]:
    """Decorator: give a per-batch scoring function its ``name`` and ``range``."""

    def wrap(fn: Callable) -> Reward:
        fn.name = name
        fn.__name__ = name  # TRL logs reward functions by __name__
        fn.range = (low, high)
        return fn

    return wrap


def reads(*metrics: str, argument: bool = False) -> Callable[[Callable], Callable]:
    """Decorator for a reward factory: the ``rlmusic.music.metrics`` names its reward scores directly
    (``argument=True``: a family such as ``band:``, which reads the metric it is given).

    ``rlmusic metrics`` keeps them out of ``overlap/unseen``, so that closeness to real music is
    also shown on what no reward term optimises."""

    def wrap(factory: Callable) -> Callable:
        factory.reads = metrics
        factory.reads_argument = argument
        return factory

    return wrap


class PerPiece:
    """A reward that scores each decoded piece on its own: ``score(piece) -> float``.

    A small class rather than a closure, so a reward pickles (to worker processes, into TRL)
    whenever its ``score`` does: a module-level function or a picklable callable object.

    Example::

        >>> def melody_notes(piece):
        ...     return float(len(piece.melody[1]))
        >>> reward = PerPiece("melody_notes", 0.0, float("inf"), melody_notes)
        >>> reward(RewardBatch(ids, tokenizer))  # one float per sample
    """

    def __init__(self, name: str, low: float, high: float, score: Callable[[Piece], float]):
        self.name = self.__name__ = name  # TRL logs reward functions by __name__
        self.range = (low, high)
        self.score = score

    def __call__(self, batch: RewardBatch) -> list[float]:
        return [float(self.score(p)) for p in batch.pieces]

    def __repr__(self) -> str:
        return f"PerPiece({self.name!r}, {self.range[0]}, {self.range[1]}, {self.score!r})"


def per_piece(name: str, low: float, high: float, score: Callable[[Piece], float]) -> Reward:
    """A reward that scores each decoded piece on its own (a ``PerPiece``)."""
    return PerPiece(name, low, high, score)


# --- the --reward syntax -----------------------------------------------------------------------


def parse_reward_spec(spec: str) -> list[tuple[str, float]]:
    """``"repetition,jazz_clf=0.5"`` -> ``[("repetition", 1.0), ("jazz_clf", 0.5)]``."""
    terms: list[tuple[str, float]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, weight = part.partition("=")
        name = name.strip()
        try:
            w = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise RLMusicError(f"reward weight {weight!r} for {name!r} is not a number (use name=0.5)") from None
        if not math.isfinite(w):
            raise RLMusicError(f"reward weight for {name!r} must be finite")
        if name in (n for n, _ in terms):
            raise RLMusicError(f"reward {name!r} is named twice in {spec!r}")
        terms.append((name, w))
    if not terms:
        raise RLMusicError("no reward given; use e.g. --reward repetition,band:pitch_class_entropy=0.3")
    return terms


@dataclass
class WeightedReward:
    """Sum of weighted rewards; each reward is computed once per batch and reported by name."""

    terms: list[tuple[Reward, float]]

    @property
    def names(self) -> list[str]:
        return [r.name for r, _ in self.terms]

    def __call__(self, batch: RewardBatch) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(total (B,), {name: raw scores (B,)})."""
        total = np.zeros(len(batch))
        parts: dict[str, np.ndarray] = {}
        for fn, w in self.terms:
            raw = np.asarray(fn(batch), dtype=float)
            if raw.shape != (len(batch),):
                raise RLMusicError(f"reward {fn.name!r} returned {raw.shape} scores for a batch of {len(batch)}")
            parts[fn.name] = raw
            total += w * raw
        return total, parts

    def state(self) -> dict[str, dict]:
        """{name: state} of the rewards that keep one (``state()``), for the checkpoint."""
        return {fn.name: fn.state() for fn, _ in self.terms if callable(getattr(fn, "state", None))}

    def restore(self, state: Mapping[str, dict] | None) -> None:
        """Give each reward that keeps a state its part of ``state`` (a checkpoint's)."""
        for fn, _ in self.terms:
            if state and fn.name in state and callable(getattr(fn, "restore", None)):
                fn.restore(state[fn.name])

    def log_values(self, parts: Mapping[str, np.ndarray]) -> dict[str, float]:
        """``reward/<name>`` (raw mean) and ``reward/<name>_weighted`` for a logger."""
        out = {}
        for fn, w in self.terms:
            out[f"reward/{fn.name}"] = float(np.mean(parts[fn.name]))
            out[f"reward/{fn.name}_weighted"] = float(w * np.mean(parts[fn.name]))
        return out


def resolve(name: str, registry: Mapping[str, Callable[..., Reward]]) -> tuple[Callable[..., Reward], tuple] | None:
    """(factory, positional arguments) for a reward name: ``band:polyphony`` resolves to the
    family ``band:`` called with ``"polyphony"``; ``my_module:my_reward`` or
    ``path/to/file.py:my_reward`` to that object of the user's (``user_reward``); None if none
    of these names a reward."""
    if name in registry:
        return registry[name], ()
    prefix, sep, arg = name.rpartition(":")
    if sep and arg and f"{prefix}:" in registry:
        return registry[f"{prefix}:"], (arg,)
    if sep and prefix and arg:
        return user_reward(load_object(prefix, arg), name), ()
    return None


def load_object(module: str, attr: str):
    """``attr`` of a module by import path (the current folder is searched too) or of a .py file."""
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    if module.endswith(".py"):
        path = Path(module)
        if not path.is_file():
            raise RLMusicError(f"reward file {module!r} does not exist")
        spec = importlib.util.spec_from_file_location(f"rlmusic_user_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # `rlmusic` is a console script: the cwd is not on the path
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            raise RLMusicError(f"cannot import {module!r} for the reward {module}:{attr} ({e}); run from the folder "
                               f"that holds it, install it, or pass a file: path/to/{module}.py:{attr}") from None
    if not hasattr(mod, attr):
        raise RLMusicError(f"{module} has no {attr!r}; the reward is named as module:function (or module:Class)")
    return getattr(mod, attr)


def user_reward(obj, name: str) -> Callable[..., Reward]:
    """A reward factory for an object of the user's, so it plugs in like a registered reward:

    - a class following the contract: constructed with the context it names (``bands``,
      ``discriminator``, ...), its instances called with a ``RewardBatch``;
    - a function made a reward with :func:`reward` (it has a ``name`` and a ``range``);
    - any other callable: a function of the batch's decoded pieces (a list of
      :class:`~rlmusic.music.piece.Piece`) returning one float per piece.
    """
    if isinstance(obj, type):
        def build(**context):
            fn = obj(**context)
            if not hasattr(fn, "name"):
                fn.name = name
            if not hasattr(fn, "range"):
                fn.range = (-math.inf, math.inf)
            return fn

        build.__signature__ = inspect.signature(obj)  # what it needs, as the registry's factories say
        return build
    if not callable(obj):
        raise RLMusicError(f"{name} is a {type(obj).__name__}, not a reward: give a function of the batch's pieces "
                           f"returning one float each, or a class following the reward contract")
    if hasattr(obj, "name") and hasattr(obj, "range"):
        return lambda: obj

    @reward(name, -math.inf, math.inf)
    def over_pieces(batch: RewardBatch) -> list[float]:
        return [float(x) for x in obj(batch.pieces)]

    return lambda: over_pieces


def installed_rewards(group: str = "rlmusic.rewards") -> dict[str, Callable[..., Reward]]:
    """Rewards that installed packages declare in the ``rlmusic.rewards`` entry-point group
    (``name = "package.module:object"``, any object ``user_reward`` takes). One that fails to
    load is left out with a warning: a broken package must not stop every command."""
    import warnings
    from importlib.metadata import entry_points

    out = {}
    for ep in entry_points(group=group):
        try:
            out[ep.name] = user_reward(ep.load(), ep.name)
        except Exception as e:  # noqa: BLE001 - anything a third-party import raises
            warnings.warn(f"reward {ep.name!r} of the {group} entry points could not be loaded: {e}", stacklevel=2)
    return out


@dataclass(frozen=True)
class RewardSpec:
    """A ``--reward`` spec parsed once against a registry: its terms resolved to factories, what
    they need and what they read; ``build`` makes the weighted reward. Every consumer (the
    finetune stage, ``rlmusic metrics``) reads this one object."""

    terms: tuple[tuple[str, float, Callable[..., Reward], tuple], ...]  # (name, weight, factory, args)

    @classmethod
    def parse(cls, spec: str, registry: Mapping[str, Callable[..., Reward]],
              reserved: Mapping[str, str] | None = None) -> RewardSpec:
        """One-line errors for a malformed spec, a name that is unknown or ``reserved`` (names that
        are never rewards, such as the independent judge, with the reason)."""
        terms = []
        for name, weight in parse_reward_spec(spec):
            if reserved and name in reserved:
                raise RLMusicError(f"{name!r} cannot be a reward: {reserved[name]}")
            found = resolve(name, registry)
            if found is None:
                known = sorted(n + "METRIC" if n.endswith(":") else n for n in registry)
                raise RLMusicError(f"unknown reward {name!r}; known rewards: {', '.join(known)}")
            terms.append((name, weight, *found))
        return cls(tuple(terms))

    @property
    def needs(self) -> set[str]:
        """The context the rewards ask for by keyword (e.g. ``{"bands", "discriminator"}``)."""
        return {p for _, _, factory, _ in self.terms for p in inspect.signature(factory).parameters} - {"metric", "name"}

    @property
    def reads(self) -> set[str]:
        """The metrics the rewards score directly (what their factories declare with ``reads``)."""
        out: set[str] = set()
        for _, _, factory, args in self.terms:
            out |= set(getattr(factory, "reads", ()))
            if getattr(factory, "reads_argument", False):
                out |= set(args)
        return out

    def build(self, **context) -> WeightedReward:
        """Each factory gets the keyword arguments of ``context`` it names (``bands`` from the
        corpus, ``discriminator``, ...), so adding a reward never changes this function."""
        made = []
        for _, weight, factory, args in self.terms:
            params = inspect.signature(factory).parameters
            made.append((factory(*args, **{k: v for k, v in context.items() if k in params}), weight))
        return WeightedReward(made)


def check_reward_names(spec: str, registry: Mapping[str, Callable[..., Reward]],
                       reserved: Mapping[str, str] | None = None) -> list[tuple[str, float]]:
    """The parsed spec's (name, weight) pairs, or a one-line error (``RewardSpec.parse``)."""
    return [(name, weight) for name, weight, _, _ in RewardSpec.parse(spec, registry, reserved).terms]


def reward_needs(spec: str, registry: Mapping[str, Callable[..., Reward]]) -> set[str]:
    return RewardSpec.parse(spec, registry).needs


def metrics_read(spec: str, registry: Mapping[str, Callable[..., Reward]]) -> set[str]:
    return RewardSpec.parse(spec, registry).reads


def build_reward(spec: str, registry: Mapping[str, Callable[..., Reward]], reserved: Mapping[str, str] | None = None,
                 **context) -> WeightedReward:
    """Resolve a ``--reward`` spec against a registry of factories and build it (``RewardSpec``)."""
    return RewardSpec.parse(spec, registry, reserved).build(**context)


def trl_reward_func(fn: Reward, tokenizer) -> Callable[..., list[float]]:
    """Adapt a reward to TRL's GRPO/RLOO signature ``f(prompts, completions, completion_ids, **kw)``."""

    def trl_fn(prompts=None, completions=None, completion_ids=None, **kwargs) -> list[float]:
        if completion_ids is None:
            raise RLMusicError("TRL did not pass completion_ids; rlmusic rewards score token ids")
        return list(fn(RewardBatch(completion_ids, tokenizer)))

    trl_fn.__name__ = fn.name
    return trl_fn

"""What the command line plugs into the library: the policy and reward registries.

``rlmusic/`` never imports ``policies/`` or ``rewards/`` (they implement its contracts); the
CLI builds one :class:`Plugins` and hands it to the stage functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Plugins:
    build_policy: Callable[..., Any]
    """``build_policy(model_cfg, vocab_size, special)``: a fresh policy of ``model.policy``'s kind."""
    load_policy: Callable[[Path], Any]
    """``load_policy(folder)``: whichever policy a checkpoint folder holds."""
    rewards: Mapping[str, Any]
    """Reward name (or ``family:`` prefix) -> reward class."""
    reserved: Mapping[str, str] = None  # type: ignore[assignment]
    """Names that may never be rewards, with the reason (the independent judge's)."""

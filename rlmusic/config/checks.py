"""The range checks every config section's ``validate`` shares: one line naming the key."""

from __future__ import annotations

from rlmusic.errors import RLMusicError


def positive(section: str, obj, *names: str) -> None:
    """Raise naming the first of ``names`` that is not > 0 (NaN included)."""
    for name in names:
        if not getattr(obj, name) > 0:
            raise RLMusicError(f"{section}.{name} must be positive, got {getattr(obj, name)}")


def non_negative(section: str, obj, *names: str) -> None:
    """Raise naming the first of ``names`` that is not >= 0 (NaN included)."""
    for name in names:
        if not getattr(obj, name) >= 0:
            raise RLMusicError(f"{section}.{name} must be >= 0, got {getattr(obj, name)}")

"""Files that ship with rlmusic: the configs and the small trained checkpoints.

Run from a checkout they are the top-level ``configs/`` and ``checkpoints/``; installed from
a wheel they are package data (``pyproject.toml`` maps both folders into
``rlmusic/_shipped/``), found with :mod:`importlib.resources`, so every command works from
any directory.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent.parent


def shipped(folder: str) -> Path:
    """``configs`` or ``checkpoints``: the checkout's own folder, else the installed copy."""
    if (_SOURCE / "pyproject.toml").is_file() and (_SOURCE / folder).is_dir():
        return _SOURCE / folder
    return Path(str(importlib.resources.files("rlmusic") / "_shipped" / folder))


CONFIGS_DIR = shipped("configs")
SHIPPED_POLICY = shipped("checkpoints") / "pretrain-tiny"
SHIPPED_CLF = shipped("checkpoints") / "jazz-clf"
# the demo's pair on the embedded corpus: the prior tuned on the corpus's jazz, and the
# discriminator that also learned four PPO policies' samples are not jazz (checkpoints/README.md)
SHIPPED_JAZZ_POLICY = shipped("checkpoints") / "pretrain-tiny-jazz"
SHIPPED_GAN_CLF = shipped("checkpoints") / "jazz-clf-gan"
SHIPPED_JUDGE = shipped("checkpoints") / "jazz-judge"
CORPUS_JAZZ = "/jazz/"  # the embedded corpus's jazz (iRb standards and jazz grooves), as a piece-name selection

"""Policy networks behind :class:`rlmusic.models.policy.Policy`. A new policy is one file plus one line here."""

from __future__ import annotations

from pathlib import Path

from policies.lstm import LSTMPolicy
from policies.transformer import TransformerPolicy
from rlmusic.config.sections import ModelConfig
from rlmusic.errors import RLMusicError
from rlmusic.models.policy import POLICY_FILE, Policy, read_policy_meta

POLICIES: dict[str, type[Policy]] = {
    TransformerPolicy.name: TransformerPolicy,
    LSTMPolicy.name: LSTMPolicy,
}


def _lookup(name: str) -> type[Policy]:
    if name not in POLICIES:
        raise RLMusicError(f"unknown policy {name!r}; known policies: {', '.join(sorted(POLICIES))}")
    return POLICIES[name]


def build_policy(cfg: ModelConfig, vocab_size: int, special: dict[str, int]) -> Policy:
    """A freshly initialised policy of the kind ``cfg.policy`` names."""
    return _lookup(cfg.policy)(cfg, vocab_size, special)


def load_policy(folder: str | Path, special: dict[str, int] | None = None) -> Policy:
    """Load whichever policy a checkpoint folder holds; a folder without rlmusic's ``policy.json``
    but with a transformers ``config.json`` is a causal LM made elsewhere, whose ``special``
    ids (PAD, BOS, EOS) come from its tokenizer."""
    folder = Path(folder)
    if not (folder / POLICY_FILE).is_file() and (folder / "config.json").is_file() and special is not None:
        return TransformerPolicy.from_lm_folder(folder, special)
    return _lookup(read_policy_meta(folder)["policy"]).load(folder)

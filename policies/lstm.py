"""LSTM policy: embedding, stacked LSTM, tied output layer, value head on the same hidden state.

Seeds 002 and 004 want an LSTM beside the transformer to compare; it has no
context limit, so ``max_length`` is None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from rlmusic.config.sections import ModelConfig
from rlmusic.models.policy import Policy, PolicyOutput

WEIGHTS_FILE = "model.safetensors"


class LSTMPolicy(Policy):
    name = "lstm"

    def __init__(self, cfg: ModelConfig, vocab_size: int, special: dict[str, int]):
        super().__init__(cfg, vocab_size, special)
        d = cfg.n_embd
        self.embed = nn.Embedding(vocab_size, d)
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(d, d, num_layers=cfg.n_layer, batch_first=True,
                            dropout=cfg.dropout if cfg.n_layer > 1 else 0.0)
        self.head = nn.Linear(d, vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied, as in GPT-2
        self.value_head = nn.Linear(d, 1)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.zeros_(self.value_head.bias)

    @property
    def max_length(self) -> int | None:
        return None

    def forward(self, input_ids: torch.Tensor, state: Any = None, use_cache: bool = False,
                with_values: bool = True) -> PolicyOutput:
        x = self.drop(self.embed(input_ids))  # (B, T, D)
        h, new_state = self.lstm(x, state)  # (B, T, D), ((L, B, D), (L, B, D))
        h = self.drop(h)
        logits = self.head(h)  # (B, T, V)
        values = self.value_head(h).squeeze(-1) if with_values else None  # (B, T)
        return PolicyOutput(logits=logits, values=values, state=new_state if use_cache else None)

    def _save_weights(self, folder: Path) -> None:
        save_model(self, str(folder / WEIGHTS_FILE))  # handles the tied embedding/head

    @classmethod
    def _load(cls, folder: Path, cfg: ModelConfig, vocab_size: int, special: dict[str, int]) -> LSTMPolicy:
        policy = cls(cfg, vocab_size, special)
        load_model(policy, str(folder / WEIGHTS_FILE))
        return policy

"""Decoder-only transformer policy: a ``transformers`` causal LM plus a value head on its trunk.

The LM is saved with ``save_pretrained``, so a checkpoint folder loads with
``AutoModelForCausalLM.from_pretrained`` too; the value head sits beside it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModelForCausalLM, GPT2Config, GPT2Model, LlamaConfig
from transformers.activations import ACT2FN

from policies import gpt2_decode
from rlmusic.config.sections import ModelConfig
from rlmusic.errors import RLMusicError
from rlmusic.models.policy import Policy, PolicyOutput

VALUE_HEAD_FILE = "value_head.safetensors"


def hf_config(cfg: ModelConfig, vocab_size: int, special: dict[str, int]):
    if cfg.arch not in ("gpt2", "llama"):
        raise RLMusicError(f"model.arch must be gpt2 or llama for a new policy, got {cfg.arch!r}")
    ids = dict(bos_token_id=special["bos"], eos_token_id=special["eos"], pad_token_id=special["pad"])
    if cfg.arch == "llama":
        return LlamaConfig(vocab_size=vocab_size, hidden_size=cfg.n_embd, intermediate_size=4 * cfg.n_embd,
                           num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head,
                           max_position_embeddings=cfg.block_size, attention_dropout=cfg.dropout,
                           tie_word_embeddings=True, **ids)
    return GPT2Config(vocab_size=vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
                      n_head=cfg.n_head, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
                      activation_function=FUSED_GELU, **ids)


# GPT-2's default "gelu_new" runs as a chain of elementwise Python ops (NewGELUActivation):
# forward and backward through it were a tenth of a PPO update on the tiny policy.
# "gelu_pytorch_tanh" is the same function (to 2e-7) in one op, under a name transformers
# knows, so a saved config still loads anywhere.
FUSED_GELU = "gelu_pytorch_tanh"


def fuse_gelu(lm: nn.Module) -> None:
    """A GPT-2 with "gelu_new" switched to its fused equivalent, in place (config included)."""
    if getattr(lm.config, "model_type", "") == "gpt2" and lm.config.activation_function == "gelu_new":
        lm.config.activation_function = FUSED_GELU
        for block in lm.transformer.h:
            block.mlp.act = ACT2FN[FUSED_GELU]


# transformers 5.23 renamed the trunk's ``past_key_values`` to ``cache`` (the old name warns on
# every forward and goes in 5.40); older releases only know the old one.
_CACHE_ARG = "cache" if "cache" in inspect.signature(GPT2Model.forward).parameters else "past_key_values"


class TransformerPolicy(Policy):
    name = "transformer"

    def __init__(self, cfg: ModelConfig, vocab_size: int, special: dict[str, int], lm: nn.Module | None = None):
        super().__init__(cfg, vocab_size, special)
        self.lm = lm if lm is not None else AutoModelForCausalLM.from_config(hf_config(cfg, vocab_size, special))
        fuse_gelu(self.lm)
        hidden = self.lm.config.hidden_size
        self.fast_decode = gpt2_decode.supported(self.lm)  # False: always the transformers forward
        self.value_head = nn.Linear(hidden, 1)
        nn.init.normal_(self.value_head.weight, std=1.0 / (hidden + 1) ** 0.5)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids: torch.Tensor, state: Any = None, use_cache: bool = False,
                with_values: bool = True) -> PolicyOutput:
        if use_cache and self.fast_decode and not self.training and not torch.is_grad_enabled():
            # Sampling: the same weights stepped over preallocated KV buffers (policies/gpt2_decode.py).
            capacity = min(self.lm.config.n_positions, input_ids.shape[1] + 256)
            h, kv = gpt2_decode.gpt2_forward(self.lm, input_ids, state, capacity)  # (B, T, D)
            return PolicyOutput(logits=self.lm.get_output_embeddings()(h),
                                values=self.value_head(h).squeeze(-1) if with_values else None, state=kv)
        trunk = self.lm.base_model  # GPT2Model / LlamaModel: the shared trunk
        out = trunk(input_ids=input_ids, use_cache=use_cache, **{_CACHE_ARG: state})
        h = out.last_hidden_state  # (B, T, D)
        logits = self.lm.get_output_embeddings()(h)  # (B, T, V)
        values = self.value_head(h).squeeze(-1) if with_values else None  # (B, T)
        return PolicyOutput(logits=logits, values=values, state=out[_CACHE_ARG] if use_cache else None)

    def _save_weights(self, folder: Path) -> None:
        self.lm.save_pretrained(str(folder), safe_serialization=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.value_head.state_dict().items()},
                  str(folder / VALUE_HEAD_FILE))

    @classmethod
    def from_lm_folder(cls, folder: str | Path, special: dict[str, int]) -> TransformerPolicy:
        """Any causal LM saved with ``save_pretrained`` (GPT-2, Llama, Mistral, Qwen2, Phi, ...),
        made outside rlmusic, with a fresh value head on its trunk; weights in fp32."""
        lm = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        c = lm.config
        context = getattr(c, "n_positions", None) or getattr(c, "max_position_embeddings", None)
        cfg = ModelConfig(policy=cls.name, arch=c.model_type, n_layer=c.num_hidden_layers,
                          n_head=c.num_attention_heads, n_embd=c.hidden_size, block_size=int(context or 1024),
                          dropout=0.0)
        return cls(cfg, int(c.vocab_size), special, lm=lm)

    @classmethod
    def _load(cls, folder: Path, cfg: ModelConfig, vocab_size: int, special: dict[str, int]) -> TransformerPolicy:
        lm = AutoModelForCausalLM.from_pretrained(str(folder))
        policy = cls(cfg, vocab_size, special, lm=lm)
        head = folder / VALUE_HEAD_FILE
        if head.is_file():
            policy.value_head.load_state_dict(load_file(str(head)))
        return policy

"""Inference-only GPT-2 stepping over preallocated key/value buffers.

Sampling a small policy is bound by per-token overhead, not arithmetic: measured on the tiny
policy, a step through ``transformers``' GPT-2 spends its time growing the DynamicCache with
``torch.cat`` and building masks. This runs the same weights (the ``transformers`` module's own
parameters, nothing copied) as plain tensor ops, writing each new key and value in place.
Used only with no gradients, in eval mode, for the stock GPT-2 block; ``supported`` says when.
``tests/test_policies.py`` checks its logits against the ``transformers`` forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# transformers' names of the GELUs this stepping computes, and torch's ``approximate`` for each:
# GPT-2's own tanh approximation, and the exact GELU of nanoGPT (``rlmusic import nanogpt``).
GELUS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


def supported(lm) -> bool:
    """The stock GPT-2 block: a GELU of ``GELUS``, 1/sqrt(d) scaling, no cross-attention."""
    c = lm.config
    return (c.model_type == "gpt2" and c.activation_function in GELUS and c.scale_attn_weights
            and not c.scale_attn_by_inverse_layer_idx and not c.reorder_and_upcast_attn
            and not c.add_cross_attention)


@dataclass
class KVBuffers:
    """Keys and values of every layer, (L, B, H, capacity, D); ``length`` positions are filled.
    A new position is one contiguous row per head: keys stored transposed made each write a
    scatter at stride ``capacity`` (a sixth of a sampling step at batch 256), while the scores'
    matmul reads a transposed view as cheaply."""

    keys: torch.Tensor
    values: torch.Tensor
    length: int = 0

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more positions (doubling, so a long sample reallocates rarely)."""
        need = self.length + extra
        if need <= self.values.shape[3]:
            return
        cap = max(need, 2 * self.values.shape[3])
        grown = []
        for old in (self.keys, self.values):
            new = old.new_empty(*old.shape[:3], cap, old.shape[4])
            new[:, :, :, : self.length] = old[:, :, :, : self.length]
            grown.append(new)
        self.keys, self.values = grown


@torch.no_grad()
def gpt2_forward(lm, input_ids: torch.Tensor, kv: KVBuffers | None, capacity: int) -> tuple[torch.Tensor, KVBuffers]:
    """Hidden states after ``ln_f`` for ``input_ids`` (B, T) continuing ``kv`` (None: a new sequence)."""
    trunk = lm.transformer
    cfg = lm.config
    B, T = input_ids.shape
    H, D = cfg.n_head, cfg.n_embd // cfg.n_head
    if kv is not None:
        kv.reserve(T)
    start = kv.length if kv is not None else 0
    end = start + T
    x = trunk.wte(input_ids) + trunk.wpe.weight[start:end]  # (B, T, C): positions start..end-1
    for i, block in enumerate(trunk.h):
        attn, mlp = block.attn, block.mlp
        h = F.layer_norm(x, (cfg.n_embd,), block.ln_1.weight, block.ln_1.bias, cfg.layer_norm_epsilon)
        qkv = torch.addmm(attn.c_attn.bias, h.view(B * T, -1), attn.c_attn.weight).view(B, T, 3, H, D)
        if kv is None:  # allocated in the dtype the projections produce (bf16 under autocast)
            cap = max(capacity, T)
            kv = KVBuffers(qkv.new_empty(cfg.n_layer, B, H, cap, D), qkv.new_empty(cfg.n_layer, B, H, cap, D))
        q = qkv[:, :, 0].transpose(1, 2)  # (B, H, T, D)
        kv.keys[i, :, :, start:end] = qkv[:, :, 1].transpose(1, 2)
        kv.values[i, :, :, start:end] = qkv[:, :, 2].transpose(1, 2)
        k, v = kv.keys[i, :, :, :end], kv.values[i, :, :, :end]  # (B, H, S, D)
        if T == 1:  # one new token attends to everything before it: two batched matmuls, no mask
            # (at batch 256 the fused attention kernel took over half of a sampling step for this)
            y = torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * D ** -0.5, dim=-1), v)
        else:  # a prompt: causal within itself, after whatever was cached
            mask = torch.ones(T, end, dtype=torch.bool, device=x.device).tril(start)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(B * T, -1)  # (B*T, C)
        x = x + torch.addmm(attn.c_proj.bias, y, attn.c_proj.weight).view(B, T, -1)
        h = F.layer_norm(x, (cfg.n_embd,), block.ln_2.weight, block.ln_2.bias, cfg.layer_norm_epsilon)
        h = F.gelu(torch.addmm(mlp.c_fc.bias, h.view(B * T, -1), mlp.c_fc.weight),
                   approximate=GELUS[cfg.activation_function])
        x = x + torch.addmm(mlp.c_proj.bias, h, mlp.c_proj.weight).view(B, T, -1)
    kv.length = end
    return F.layer_norm(x, (cfg.n_embd,), trunk.ln_f.weight, trunk.ln_f.bias, cfg.layer_norm_epsilon), kv

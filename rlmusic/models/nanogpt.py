"""``rlmusic import nanogpt``: a nanoGPT ``ckpt.pt`` as a transformers GPT-2 folder.

nanoGPT (karpathy/nanoGPT) saves ``{"model": state_dict, "model_args": {n_layer, n_head, n_embd,
block_size, bias, vocab_size, dropout}, ...}``. Its block is GPT-2's, with ``nn.Linear`` where
GPT-2 has ``Conv1D`` (weights transposed), an exact GELU (``activation_function="gelu"``),
optional biases (``bias=False``: zeros here) and, when trained with ``torch.compile``, keys
prefixed ``_orig_mod.``. The result is an ordinary ``GPT2LMHeadModel`` folder with the MidiTok
tokenizer beside it, which every rlmusic command takes as a policy.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from rlmusic.data.tokens import MIDITOK_FILE, check_single_stream, load_miditok, special_ids
from rlmusic.errors import RLMusicError

_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
MODEL_ARGS = ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")


def read_nanogpt(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(model_args, state dict without the compile prefix), loaded data-only."""
    path = Path(path)
    if not path.is_file():
        raise RLMusicError(f"nanoGPT checkpoint {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise RLMusicError(f"{path} holds Python objects beyond tensors and plain data, so it was refused unopened "
                           f"(loading it could run code)") from None
    except Exception as e:  # not a torch file, truncated
        raise RLMusicError(f"{path} is not a readable torch checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict) or not isinstance(ckpt.get("model_args"), dict):
        raise RLMusicError(f"{path} is not a nanoGPT checkpoint (it needs 'model' and 'model_args')")
    args = ckpt["model_args"]
    missing = [k for k in MODEL_ARGS if k not in args]
    if missing:
        raise RLMusicError(f"{path}: model_args lacks {', '.join(missing)}")
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    return args, state


def convert(args: dict, state: dict[str, torch.Tensor], vocab_size: int, special: dict[str, int]) -> GPT2LMHeadModel:
    """The GPT-2 of nanoGPT's ``args`` and ``state``, its vocabulary cut to ``vocab_size`` rows
    (nanoGPT pads it, e.g. to a multiple of 64: those rows are never the tokenizer's)."""
    if args["vocab_size"] < vocab_size:
        raise RLMusicError(f"the nanoGPT model has {args['vocab_size']} tokens, fewer than the tokenizer's {vocab_size}: "
                           f"they were not trained together")
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=args["block_size"], n_embd=args["n_embd"],
                     n_layer=args["n_layer"], n_head=args["n_head"], activation_function="gelu",
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                     bos_token_id=special["bos"], eos_token_id=special["eos"], pad_token_id=special["pad"])
    model = GPT2LMHeadModel(cfg)
    target = model.state_dict()
    out = {}
    for key, value in target.items():
        if key.endswith(".attn.bias") or key.endswith(".attn.masked_bias"):
            out[key] = value  # GPT-2's causal-mask buffers (older transformers), not weights
            continue
        src = key
        if src not in state and key.endswith(".bias"):  # bias=False in nanoGPT
            out[key] = torch.zeros_like(value)
            continue
        if src not in state:
            raise RLMusicError(f"the nanoGPT state dict has no {src!r}: not a nanoGPT GPT model")
        w = state[src]
        if any(key.endswith(s) for s in _TRANSPOSED):
            w = w.t()
        if key in ("transformer.wte.weight", "lm_head.weight"):
            w = w[:vocab_size]
        if tuple(w.shape) != tuple(value.shape):
            raise RLMusicError(f"{src}: shape {tuple(w.shape)} does not fit GPT-2's {tuple(value.shape)}")
        out[key] = w.to(value.dtype)
    model.load_state_dict(out)
    return model.eval()


def run_import_nanogpt(ckpt: str | Path, tokenizer: str | Path, out: str | Path) -> Path:
    """``rlmusic import nanogpt``: write the converted model and the tokenizer to ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise RLMusicError(f"{out} exists and is not empty; pass a new --out folder")
    tok = load_miditok(tokenizer)
    check_single_stream(tok, f"the tokenizer {tokenizer}")
    args, state = read_nanogpt(ckpt)
    model = convert(args, state, len(tok), special_ids(tok))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save(out / MIDITOK_FILE)
    padded = args["vocab_size"] - len(tok)
    print(f"nanoGPT {args['n_layer']} layers x {args['n_embd']} ({model.num_parameters() / 1e6:.2f} M parameters, "
          f"context {args['block_size']}) -> {out}" + (f"; {padded} padding rows of the vocabulary dropped" if padded else ""))
    return out

"""The policy contract every network in ``policies/`` implements, and sampling from it.

A policy maps token ids to next-token logits and a value estimate per position
from one shared trunk; with a state (KV cache or LSTM memory) it continues from
where the last call stopped, which is what sampling and PPO rollouts need.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from rlmusic.config.sections import ModelConfig, SampleConfig
from rlmusic.errors import RLMusicError

POLICY_FILE = "policy.json"


@dataclass
class PolicyOutput:
    logits: torch.Tensor  # (B, T, V)
    values: torch.Tensor | None  # (B, T), None when not asked for
    state: Any = None  # pass back to continue from the last position


class Policy(nn.Module, ABC):
    """Next-token logits and values from one trunk. Subclasses set ``name`` and implement
    ``forward``, ``_save_weights`` and ``_load``."""

    name: ClassVar[str]

    def __init__(self, cfg: ModelConfig, vocab_size: int, special: dict[str, int]):
        super().__init__()
        self.model_config = cfg
        self.vocab_size = vocab_size
        self.special = dict(special)  # {"pad": id, "bos": id, "eos": id}

    @abstractmethod
    def forward(self, input_ids: torch.Tensor, state: Any = None, use_cache: bool = False,
                with_values: bool = True) -> PolicyOutput:
        """``input_ids`` (B, T): the whole sequence, or only the new tokens when ``state`` is given."""

    @abstractmethod
    def _save_weights(self, folder: Path) -> None: ...

    @classmethod
    @abstractmethod
    def _load(cls, folder: Path, cfg: ModelConfig, vocab_size: int, special: dict[str, int]) -> Policy: ...

    @property
    def max_length(self) -> int | None:
        """Longest sequence the policy can attend over (None: unbounded)."""
        return self.model_config.block_size

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_weights(folder)
        meta = {"policy": self.name, "model": asdict(self.model_config), "vocab_size": self.vocab_size,
                "special": self.special}
        (folder / POLICY_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> Policy:
        meta = read_policy_meta(folder)
        if meta["policy"] != cls.name:
            raise RLMusicError(f"{folder} holds a {meta['policy']!r} policy, not {cls.name!r}")
        return cls._load(Path(folder), ModelConfig(**meta["model"]), meta["vocab_size"], meta["special"])

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def read_policy_meta(folder: str | Path) -> dict:
    path = Path(folder) / POLICY_FILE
    if not path.is_file():
        raise RLMusicError(f"{folder} is not an rlmusic policy checkpoint (no {POLICY_FILE})")
    return json.loads(path.read_text())


def logits_warpers(cfg: SampleConfig) -> LogitsProcessorList:
    """transformers' own temperature / top-k / top-p warpers, in generate's order."""
    procs = LogitsProcessorList()
    if cfg.temperature != 1.0:
        procs.append(TemperatureLogitsWarper(cfg.temperature))
    if cfg.top_k > 0:
        procs.append(TopKLogitsWarper(cfg.top_k))
    if cfg.top_p < 1.0:
        procs.append(TopPLogitsWarper(cfg.top_p))
    return procs


@dataclass
class Rollout:
    """What sampling saw at each generated position: saves PPO a second forward pass."""

    logprobs: torch.Tensor  # (B, N) log-probability of each sampled token, at the sampling temperature
    values: torch.Tensor  # (B, N) value of the state before each token
    entropy: torch.Tensor  # (B, N) entropy of the tempered next-token distribution


def run_on_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """A generator for the draws past ``max_new_tokens`` (``sample.min_bars``), seeded from
    ``generator``'s state without advancing it: the pieces of later batches, which share
    ``generator``, are drawn exactly as if no sample had run on."""
    if generator is None:
        return None
    digest = hashlib.sha256(generator.get_state().numpy().tobytes()).digest()
    return torch.Generator(device=generator.device).manual_seed(int.from_bytes(digest[:8], "little"))


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``probs`` (B, V), by inverting the CDF at a uniform draw.

    Same distribution as ``torch.multinomial(probs, 1)``, which on the CPU draws an exponential
    variate for every entry (a tenth of a tiny policy's sampling time). A zero-probability
    entry is never drawn: the CDF is flat there, and ``right=True`` picks the first entry
    whose CDF exceeds the draw."""
    cdf = probs.cumsum(-1)  # (B, V)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device, dtype=cdf.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=probs.shape[1] - 1)


def sample(policy: Policy, prompts: torch.Tensor, cfg: SampleConfig, generator: torch.Generator | None = None,
           stop_at_eos: bool = True, bar_ids: Sequence[int] = ()) -> torch.Tensor:
    """Sample continuations with a KV cache / recurrent state.

    ``prompts`` (B, P) must all have the same length P (e.g. BOS only, or openings
    cut to one length). Returns (B, P + N) ids, N <= cfg.max_new_tokens; after a
    sequence's EOS every further id is PAD. A sample longer than the policy's context
    goes on from its last ``cfg.context_keep`` tokens each time the window fills. With
    ``cfg.min_bars`` (``bar_ids``: the tokenizer's Bar tokens, each opening a bar), a sample
    still short of them at ``cfg.max_new_tokens`` goes on until the bar line that closes the
    last bar asked for (N up to twice ``cfg.max_new_tokens``).
    """
    return _sample(policy, prompts, cfg, generator, stop_at_eos, record=False, bar_ids=bar_ids)[0]


def sample_recorded(policy: Policy, prompts: torch.Tensor, cfg: SampleConfig,
                    generator: torch.Generator | None = None, stop_at_eos: bool = True) -> tuple[torch.Tensor, Rollout]:
    """:func:`sample`, and what sampling saw at each step: the log-probabilities (under the
    tempered, untruncated distribution), values and entropies (PPO's old policy, for free)."""
    return _sample(policy, prompts, cfg, generator, stop_at_eos, record=True)


def _sample(policy: Policy, prompts: torch.Tensor, cfg: SampleConfig, generator: torch.Generator | None,
            stop_at_eos: bool, record: bool, bar_ids: Sequence[int] = ()) -> tuple[torch.Tensor, Rollout | None]:
    # Inference mode skips autograd's per-op bookkeeping (version counters, views), which a
    # step of a small policy pays dozens of times (bench/sampling.py). Its tensors may neither
    # enter autograd (PPO's update reads the ids) nor change in place later: plain copies leave.
    with torch.inference_mode():
        ids, rollout = _sample_steps(policy, prompts, cfg, generator, stop_at_eos, record, bar_ids)
    if rollout is not None:
        rollout = Rollout(rollout.logprobs.clone(), rollout.values.clone(), rollout.entropy.clone())
    return ids.clone(), rollout


def _sample_steps(policy: Policy, prompts: torch.Tensor, cfg: SampleConfig, generator: torch.Generator | None,
                  stop_at_eos: bool, record: bool, bar_ids: Sequence[int]) -> tuple[torch.Tensor, Rollout | None]:
    if prompts.dim() != 2 or prompts.shape[1] == 0:
        raise RLMusicError("prompts must be a (batch, length) tensor with length >= 1")
    if cfg.min_bars and (record or not stop_at_eos):
        raise RLMusicError("sample.min_bars is for generation only: a PPO rollout has a fixed length")
    if cfg.min_bars and not len(bar_ids):
        raise RLMusicError("sample.min_bars counts the tokenizer's Bar tokens, which a BPE vocabulary merges away; "
                           "set it to 0 and ask for tokens instead")
    total = cfg.max_new_tokens * (2 if cfg.min_bars else 1)  # the most a sample short of bars may run to
    limit = policy.max_length
    slide = limit is not None and prompts.shape[1] + total > limit
    if slide and (record or prompts.shape[1] > limit):
        # PPO scores a rollout with one forward over all of it, so a rollout must fit the context
        raise RLMusicError(f"prompt ({prompts.shape[1]}) + max_new_tokens ({cfg.max_new_tokens}) exceeds the "
                           f"policy's context of {limit} tokens; lower max_new_tokens or the prompt")
    keep = min(cfg.context_keep or limit // 2, limit - 1) if slide else 0
    length = prompts.shape[1]  # tokens in the policy's current window
    was_training = policy.training
    policy.eval()
    pad, eos = policy.special["pad"], policy.special["eos"]
    warpers = logits_warpers(cfg)
    ids = prompts
    done = torch.zeros(len(prompts), dtype=torch.bool, device=prompts.device)
    bars = torch.as_tensor(list(bar_ids), dtype=torch.long, device=prompts.device)
    n_bars = torch.zeros(len(prompts), dtype=torch.long, device=prompts.device)  # bar lines sampled so far
    out = policy(prompts, use_cache=True, with_values=record)
    new, step_logits, vals = [], [], []
    for t in range(total):
        logits = out.logits[:, -1, :].float()  # (B, V)
        if cfg.min_bars:  # EOS held back until the bar line after the last bar asked for, before any warper
            logits = logits.clone()
            logits[n_bars <= cfg.min_bars, eos] = float("-inf")
        if t < cfg.min_new_tokens:  # EOS out of reach, first, as generate's MinNewTokensLengthLogitsProcessor
            logits = logits.clone()
            logits[:, eos] = float("-inf")
        scores = warpers(ids, logits) if warpers else logits
        probs = torch.softmax(scores, dim=-1)
        if t == cfg.max_new_tokens:  # running on for bars: draws of their own, see run_on_generator
            generator = run_on_generator(generator)
        nxt = draw(probs, generator)  # (B,)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        new.append(nxt)
        if record:  # kept raw (EOS masked as drawn, as rlmusic.train.ppo.logprobs_values reads them); normalised
            step_logits.append(logits)  # once after the loop (one big op beats N small ones)
            vals.append(out.values[:, -1].float())
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if cfg.min_bars:
            n_bars += torch.isin(nxt, bars)
        if stop_at_eos:
            done = done | (nxt == eos)
            if cfg.min_bars and t + 1 >= cfg.max_new_tokens:  # long enough, and its bars are there
                done = done | (n_bars > cfg.min_bars)
            if bool(done.all()):
                break
        if t + 1 == total:  # no forward for a token that will never be sampled from
            break
        if slide and length == limit:  # the window is full: go on from a fresh read of its tail
            out = policy(ids[:, -keep:], use_cache=True, with_values=record)
            length = keep
        else:
            out = policy(nxt[:, None], state=out.state, use_cache=True, with_values=record)
            length += 1
    policy.train(was_training)
    if record:
        logp_all = torch.log_softmax(torch.stack(step_logits, 1) / cfg.temperature, dim=-1)  # (B, N, V)
        logprobs = logp_all.gather(2, torch.stack(new, 1)[:, :, None]).squeeze(2)  # (B, N)
        entropy = -(logp_all.exp() * logp_all.clamp(min=-1e9)).sum(-1)  # (B, N); 0 log 0 = 0 (EOS held back)
        return ids, Rollout(logprobs, torch.stack(vals, 1), entropy)
    return ids, None

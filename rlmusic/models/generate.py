"""Pieces from a policy: sampled (from BOS or a file's opening bars), decoded safely, written as MIDI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from symusic import Score
from tqdm import tqdm

from rlmusic.config.sections import SampleConfig
from rlmusic.data.midi_io import write_score
from rlmusic.data.prompts import file_ids, mark_continuation, opening_bars
from rlmusic.data.tokens import DecodeReport, bar_ids, decode_ids
from rlmusic.errors import RLMusicError
from rlmusic.models.policy import Policy, sample
from rlmusic.music.piece import bar_ticks


@dataclass
class GeneratedPiece:
    ids: list[int]  # generated ids after the prompt (PAD after EOS removed); with the prompt if kept
    score: Score
    report: DecodeReport
    boundary: int | None = None  # tick where a kept prompt ends and the continuation begins


def generate_pieces(policy: Policy, tokenizer, cfg: SampleConfig, prompts: torch.Tensor | None = None,
                    progress: bool = False, keep_prompt: bool = False) -> list[GeneratedPiece]:
    """``cfg.num`` pieces, seeded by ``cfg.seed``; prompts default to BOS only. With
    ``keep_prompt`` each piece is the prompt (after BOS) and its continuation."""
    device = next(policy.parameters()).device
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    bos, pad = policy.special["bos"], policy.special["pad"]
    pieces: list[GeneratedPiece] = []
    bars = bar_ids(tokenizer).tolist() if cfg.min_bars else []
    bar = tqdm(total=cfg.num, desc="generating", unit="piece", disable=not progress)
    for start in range(0, cfg.num, cfg.batch_size):
        n = min(cfg.batch_size, cfg.num - start)
        p = prompts[start : start + n] if prompts is not None else torch.full((n, 1), bos, dtype=torch.long)
        p = p.to(device)
        ids = sample(policy, p, cfg, generator=generator, bar_ids=bars)  # (n, P + N), sliding past the context
        for row in ids[:, 1 if keep_prompt else p.shape[1]:].tolist():
            row = [i for i in row if i != pad]
            score, report = decode_ids(tokenizer, row)
            pieces.append(GeneratedPiece(ids=row, score=score, report=report))
        bar.update(n)
    bar.close()
    return pieces


def continue_file(policy: Policy, tokenizer, cfg: SampleConfig, path: str | Path, bars: int,
                  progress: bool = False) -> list[GeneratedPiece]:
    """``cfg.num`` continuations of the first ``bars`` bars of the MIDI file ``path``: each piece
    holds those bars as the tokenizer reads them, then the policy's continuation, with a marker
    and tracks of their own where the continuation starts (:func:`mark_continuation`)."""
    if bars < 1:
        raise RLMusicError(f"--prompt-bars must be at least 1, got {bars}")
    opening = opening_bars(file_ids(path, tokenizer), tokenizer, bars, what=str(path))
    if policy.max_length is not None and len(opening) + 2 > policy.max_length:
        raise RLMusicError(f"the first {bars} bar(s) of {path} are {len(opening)} tokens, filling the policy's "
                           f"context of {policy.max_length}; lower --prompt-bars")
    prompts = torch.tensor([[policy.special["bos"], *opening.tolist()]] * cfg.num, dtype=torch.long)
    pieces = generate_pieces(policy, tokenizer, cfg, prompts, progress=progress, keep_prompt=True)
    for piece in pieces:
        piece.boundary = bars * bar_ticks(piece.score)
        piece.score = mark_continuation(piece.score, piece.boundary)
    return pieces


def write_pieces(pieces: list[GeneratedPiece], out_dir: str | Path, prefix: str = "sample") -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(pieces))))
    return [write_score(p.score, out_dir / f"{prefix}_{i:0{width}d}.mid") for i, p in enumerate(pieces)]

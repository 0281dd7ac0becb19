"""``rlmusic generate``: pieces from a checkpoint written as MIDI, with piano rolls where a file's
opening was continued."""

from __future__ import annotations

from pathlib import Path

import torch

from rlmusic.config.sections import SampleConfig
from rlmusic.models.generate import GeneratedPiece, continue_file, generate_pieces, write_pieces


def write_piano_rolls(pieces: list[GeneratedPiece], paths: list[Path], what: str) -> list[Path]:
    """A piano roll beside each written file (``.png``), the prompt's end marked where there is one."""
    from rlmusic.evaluate.report import piano_roll_png
    from rlmusic.music.piece import piece_from_score

    return [piano_roll_png(piece_from_score(p.score), path.with_suffix(".png"), f"{path.name}: {what}",
                           mark=p.boundary) for p, path in zip(pieces, paths)]


def run_generate(checkpoint: str | None, cfg: SampleConfig, out: str | Path, load_policy, prompt: str = "",
                 prompt_bars: int = 4, cpu: bool = False) -> str:
    """``rlmusic generate``: ``cfg.num`` pieces from a checkpoint (or continuations of ``prompt``'s
    first ``prompt_bars`` bars, with piano rolls marking the boundary) written to ``out``; returns
    what was written, in words."""
    from rlmusic.models.checkpoint import choose_policy, load_checkpoint

    cfg.validate()
    ckpt = load_checkpoint(choose_policy(checkpoint), load_policy)
    policy = ckpt.policy.to("cuda" if torch.cuda.is_available() and not cpu else "cpu")
    if prompt:
        pieces = continue_file(policy, ckpt.tokenizer, cfg, prompt, prompt_bars, progress=True)
    else:
        pieces = generate_pieces(policy, ckpt.tokenizer, cfg, progress=True)
    paths = write_pieces(pieces, out)
    notes = [p.report.n_notes for p in pieces]
    said = (f"wrote {len(paths)} MIDI file(s) to {out} (notes per piece: min {min(notes)}, max {max(notes)}; "
            f"{sum(p.report.n_dropped for p in pieces)}/{sum(p.report.n_tokens for p in pieces)} generated tokens "
            f"dropped as ill-formed)")
    if prompt:  # the boundary shown: a piano roll beside each file
        write_piano_rolls(pieces, paths, f"{prompt_bars} bar(s) of {Path(prompt).name}, then the model")
        said += (f"\neach file: the first {prompt_bars} bar(s) of {prompt}, a 'continuation' marker, then the model's "
                 f"notes on tracks of their own; piano rolls beside them (.png)")
    return said

"""``rlmusic generate``: pieces from a checkpoint written as MIDI, with piano rolls where a file's
opening was continued."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rlmusic.config.commands import BestOfOptions
from rlmusic.config.sections import SampleConfig
from rlmusic.errors import RLMusicError
from rlmusic.evaluate.best_of import best_of_pieces, run_reward
from rlmusic.models.generate import GeneratedPiece, continue_file, generate_pieces, write_pieces


def write_piano_rolls(pieces: list[GeneratedPiece], paths: list[Path], what: str) -> list[Path]:
    """A piano roll beside each written file (``.png``), the prompt's end marked where there is one."""
    from rlmusic.evaluate.report import piano_roll_png
    from rlmusic.music.piece import piece_from_score

    return [piano_roll_png(piece_from_score(p.score), path.with_suffix(".png"), f"{path.name}: {what}",
                           mark=p.boundary) for p, path in zip(pieces, paths)]


def run_generate(checkpoint: str | None, cfg: SampleConfig, out: str | Path, load_policy, prompt: str = "",
                 prompt_bars: int = 4, cpu: bool = False, best_of: BestOfOptions | None = None, rewards=None,
                 reserved=None) -> str:
    """``rlmusic generate``: ``cfg.num`` pieces from a checkpoint (or continuations of ``prompt``'s
    first ``prompt_bars`` bars, with piano rolls marking the boundary) written to ``out``; with
    ``best_of.best_of`` > 1 each the best of that many under a reward (``rewards``: the registry), the
    ranking in ``best_of.json``. Returns what was written, in words."""
    from rlmusic.models.checkpoint import choose_policy, load_checkpoint

    cfg.validate()
    if best_of is not None:
        best_of.validate()
    ranked = best_of is not None and best_of.best_of > 1
    if ranked and prompt:
        raise RLMusicError("--best-of ranks pieces sampled from the start; drop --prompt or --best-of")
    ckpt = load_checkpoint(choose_policy(checkpoint), load_policy)
    policy = ckpt.policy.to("cuda" if torch.cuda.is_available() and not cpu else "cpu")
    record = None
    if ranked:
        spec, reward_fn = run_reward(ckpt.meta, ckpt.path, best_of, rewards, reserved, ckpt.tokenizer)
        pieces, record = best_of_pieces(policy, ckpt.tokenizer, cfg, best_of.best_of, reward_fn, progress=True)
    elif prompt:
        pieces = continue_file(policy, ckpt.tokenizer, cfg, prompt, prompt_bars, progress=True)
    else:
        pieces = generate_pieces(policy, ckpt.tokenizer, cfg, progress=True)
    paths = write_pieces(pieces, out)
    notes = [p.report.n_notes for p in pieces]
    said = (f"wrote {len(paths)} MIDI file(s) to {out} (notes per piece: min {min(notes)}, max {max(notes)}; "
            f"{sum(p.report.n_dropped for p in pieces)}/{sum(p.report.n_tokens for p in pieces)} generated tokens "
            f"dropped as ill-formed)")
    if record is not None:
        for kept, path in zip(record["kept"], paths):
            kept["file"] = path.name
        record |= {"checkpoint": str(ckpt.path), "reward": spec}
        (Path(out) / "best_of.json").write_text(json.dumps(record, indent=1))
        said += (f"\neach the best of {best_of.best_of} under {spec}: mean reward {record['kept_mean_reward']:.3f}, against "
                 f"{record['candidates_mean_reward']:.3f} over all {record['candidates']} drawn; at most "
                 f"{record['kl_bound_nats']:.2f} nats from the policy; {Path(out) / 'best_of.json'}")
    if prompt:  # the boundary shown: a piano roll beside each file
        write_piano_rolls(pieces, paths, f"{prompt_bars} bar(s) of {Path(prompt).name}, then the model")
        said += (f"\neach file: the first {prompt_bars} bar(s) of {prompt}, a 'continuation' marker, then the model's "
                 f"notes on tracks of their own; piano rolls beside them (.png)")
    return said

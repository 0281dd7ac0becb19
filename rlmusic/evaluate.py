"""``rlmusic metrics``: judge checkpoints and MIDI folders side by side, against real data.

Each input becomes a column of pieces: a checkpoint is sampled (fixed seed and sampling
options), a folder is read file by file (bad files skipped and listed). Every piece is one
merged non-drum stream, as the model sees music, so generated and real pieces compare like
with like; the reference (default: the embedded corpus's validation split) is decoded from
its tokens, quantized exactly as generated pieces are.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rlmusic.config import SampleConfig
from rlmusic.errors import RLMusicError
from rlmusic.generate import generate_pieces
from rlmusic.metrics import METRICS, distinct_n, overlap_area
from rlmusic.midi_io import BadMidi, find_midi_files, load_score, time_limit
from rlmusic.music import Piece, piece_from_score
from rlmusic.policy import Policy
from rlmusic.tokens import encode_score

DISTINCT_N = 4


@dataclass
class Column:
    label: str
    pieces: list[Piece]
    ids: list[list[int]] | None = None  # generated ids (checkpoints only)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)  # e.g. nll under a reference model

    def values(self, name: str) -> list[float]:
        return [METRICS[name](p) for p in self.pieces]


def column_from_folder(path: str | Path, label: str | None = None, limit: int | None = None,
                       tokenizer=None) -> Column:
    folder = Path(path)
    files = find_midi_files(folder)
    if not files:
        raise RLMusicError(f"no .mid/.midi files under {str(folder)!r}")
    pieces, skipped, ids = [], [], []
    for f in files[:limit]:
        try:
            with time_limit():
                score = load_score(f)
                piece = piece_from_score(score)
                encoded = encode_score(tokenizer, score) if tokenizer is not None else None
            pieces.append(piece)
            if encoded is not None:
                ids.append(encoded)
        except BadMidi as e:
            skipped.append((str(f.relative_to(folder)), str(e)))
    if not pieces:
        raise RLMusicError(f"none of the {len(files)} MIDI file(s) under {str(folder)!r} is usable "
                           f"(first reason: {skipped[0][1]})")
    return Column(label or folder.name, pieces, ids=ids if tokenizer is not None else None, skipped=skipped)


def add_jazz_probability(columns: list[Column], discriminator) -> None:
    """Mean P(jazz) of each column's pieces (their token ids) under the discriminator."""
    for c in columns:
        if c.ids:
            c.extra["jazz_probability"] = float(np.mean(discriminator.prob_jazz(c.ids)))


def column_from_policy(label: str, policy: Policy, tokenizer, cfg: SampleConfig) -> Column:
    generated = generate_pieces(policy, tokenizer, cfg, progress=True)
    col = Column(label, [piece_from_score(g.score) for g in generated], ids=[g.ids for g in generated])
    total = sum(g.report.n_tokens for g in generated)
    col.extra["dropped_tokens"] = sum(g.report.n_dropped for g in generated) / total if total else math.nan
    return col


@torch.no_grad()
def mean_nll(policy: Policy, sequences: list[list[int]], batch_size: int = 16) -> float:
    """Mean next-token NLL (nats per token) of ``sequences`` (each after a BOS) under ``policy``."""
    policy.eval()
    device = next(policy.parameters()).device
    bos, pad = policy.special["bos"], policy.special["pad"]
    total, count = 0.0, 0
    for i in range(0, len(sequences), batch_size):
        chunk = [[bos] + s for s in sequences[i : i + batch_size] if s]
        if not chunk:
            continue
        width = max(map(len, chunk))
        if policy.max_length is not None:
            width = min(width, policy.max_length)
        x = torch.full((len(chunk), width), pad, dtype=torch.long)
        for r, s in enumerate(chunk):
            s = s[:width]
            x[r, : len(s)] = torch.tensor(s)
        x = x.to(device)
        logits = policy(x[:, :-1], with_values=False).logits  # (B, T-1, V)
        target = x[:, 1:]
        nll = F.cross_entropy(logits.float().transpose(1, 2), target, reduction="none")  # (B, T-1)
        mask = torch.zeros_like(target, dtype=torch.bool)
        for r, s in enumerate(chunk):
            mask[r, : min(len(s), width) - 1] = True
        total += float(nll[mask].sum())
        count += int(mask.sum())
    return total / count if count else math.nan


def _mean(values: list[float]) -> float:
    v = [x for x in values if not math.isnan(x)]
    return float(np.mean(v)) if v else math.nan


def summarise(columns: list[Column], reference: Column | None, names: list[str] | None = None) -> dict:
    """Per column: mean of each metric over its pieces, distinct-n (melody pitch 4-grams over the
    first k pieces, k the smallest column), extras; overlap of each metric with the reference."""
    names = names or list(METRICS)
    everyone = columns + ([reference] if reference else [])
    per_piece = {c.label: {n: c.values(n) for n in names} for c in everyone}
    table: dict[str, dict[str, float]] = {}
    # distinct-n over a set grows rarer with the set's size: use the same number of pieces everywhere.
    k = min(len(c.pieces) for c in everyone)
    for c in everyone:
        row = {n: _mean(per_piece[c.label][n]) for n in names}
        row[f"distinct_{DISTINCT_N}"] = distinct_n([p.melody[1].tolist() for p in c.pieces[:k]], DISTINCT_N)
        row["pieces"] = float(len(c.pieces))
        row.update(c.extra)
        table[c.label] = row
    overlap = {}
    if reference is not None:
        for c in columns:
            overlap[c.label] = {n: overlap_area(per_piece[c.label][n], per_piece[reference.label][n]) for n in names}
            valid = [v for v in overlap[c.label].values() if not math.isnan(v)]
            overlap[c.label]["mean"] = float(np.mean(valid)) if valid else math.nan
    return {"columns": [c.label for c in everyone], "reference": reference.label if reference else None,
            "metrics": table, "overlap_with_reference": overlap, "per_piece": per_piece,
            "skipped": {c.label: c.skipped for c in everyone if c.skipped}}


def format_table(summary: dict) -> str:
    """A fixed-width table: one row per metric, one column per input (reference last)."""
    labels = summary["columns"]
    rows = list(next(iter(summary["metrics"].values())).keys()) if summary["metrics"] else []
    extra_rows = sorted({k for t in summary["metrics"].values() for k in t} - set(rows))
    width = max([14] + [len(label) for label in labels])
    name_w = max(len(r) for r in rows + extra_rows + [f"overlap/{m}" for m in METRICS]) + 2

    def fmt(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-".rjust(width)
        return (f"{v:.0f}" if float(v).is_integer() and abs(v) >= 10 else f"{v:.4f}").rjust(width)

    lines = ["metric".ljust(name_w) + "  ".join(label.rjust(width) for label in labels)]
    lines.append("-" * len(lines[0]))
    for r in rows + extra_rows:
        lines.append(r.ljust(name_w) + "  ".join(fmt(summary["metrics"][c].get(r)) for c in labels))
    if summary["overlap_with_reference"]:
        lines.append("")
        lines.append(f"overlap with {summary['reference']} (1 = same distribution)")
        for r in list(METRICS) + ["mean"]:
            if r in next(iter(summary["overlap_with_reference"].values())):
                lines.append(f"overlap/{r}".ljust(name_w) + "  ".join(
                    fmt(summary["overlap_with_reference"].get(c, {}).get(r)) for c in labels))
    for label, skipped in summary["skipped"].items():
        lines.append(f"\n{label}: skipped {len(skipped)} file(s)")
        lines += [f"  {name}: {reason}" for name, reason in skipped[:20]]
        if len(skipped) > 20:
            lines.append(f"  ... and {len(skipped) - 20} more (see --json)")
    return "\n".join(lines)


def write_json(summary: dict, path: str | Path) -> None:
    def clean(x):
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    Path(path).write_text(json.dumps(clean(summary), indent=1))


def write_csv(summary: dict, path: str | Path) -> None:
    labels = summary["columns"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric"] + labels)
        for r in next(iter(summary["metrics"].values())):
            w.writerow([r] + [summary["metrics"][c].get(r) for c in labels])
        for label, row in summary["overlap_with_reference"].items():
            for r, v in row.items():
                w.writerow([f"overlap/{r}"] + [v if c == label else "" for c in labels])


def write_plots(summary: dict, folder: str | Path) -> list[Path]:
    """One PNG per metric: each column's distribution over its pieces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in METRICS:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for label in summary["columns"]:
            v = np.array([x for x in summary["per_piece"][label][name] if not math.isnan(x)])
            if len(v):
                lo, hi = float(v.min()), float(v.max())
                if hi - lo < 1e-9:  # one value: a single bar around it
                    lo, hi = lo - 0.5, hi + 0.5
                ax.hist(v, bins=30, range=(lo, hi), density=True, histtype="step", linewidth=1.5,
                        label=f"{label} (n={len(v)})")
        ax.set_title(name)
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths

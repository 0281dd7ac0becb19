"""Validation bits per note against tokens seen, for pretraining runs, in one PNG.

    python scripts/prior_curves.py NAME=RUN [NAME=RUN ...] --out docs/prior_curves.png

RUN is a pretraining run folder (its ``metrics.jsonl`` and newest checkpoint's config give the
validation points and the tokens of one optimizer step: batch_size x grad_accum x block_size).
Bits per note compare runs with different tokenizers; bits per token do not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.models.checkpoint import list_checkpoints, read_meta  # noqa: E402
from rlmusic.tracking import read_metrics  # noqa: E402


def curve(run: Path) -> tuple[list[float], list[float]]:
    """(tokens seen, validation bits per note) at each evaluation of the run."""
    cfg = read_meta(list_checkpoints(run)[-1])["config"]
    per_step = cfg["pretrain"]["batch_size"] * cfg["pretrain"]["grad_accum"] * cfg["model"]["block_size"]
    rows = [r for r in read_metrics(run) if r.get("val/bits_per_note") is not None]
    return [r["step"] * per_step for r in rows], [r["val/bits_per_note"] for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="NAME=RUN")
    ap.add_argument("--out", default="prior_curves.png")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for spec in args.runs:
        name, _, path = spec.partition("=")
        tokens, bits = curve(Path(path))
        ax.plot([t / 1e6 for t in tokens], bits, marker=".", label=name)
        print(f"{name}: {len(bits)} points, last {bits[-1]:.3f} bits per note after {tokens[-1] / 1e6:.1f} M tokens")
    ax.set_xlabel("training tokens seen (millions)")
    ax.set_ylabel("validation bits per note")
    ax.set_ylim(top=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(args.out)


if __name__ == "__main__":
    main()

"""Bits per note of checkpoints on the whole validation split of the embedded corpus.

    python scripts/val_bits.py CKPT [CKPT ...] [--json out.json]

Each checkpoint reads the validation pieces (the same pieces for every tokenizer: the split is
a hash of the piece's name) tokenized with its own tokenizer, in non-overlapping windows of its
context, and reports nats and bits per token and bits per note (a note is a Pitch token; a BPE
id counts the notes it merges). Bits per note compare tokenizers; bits per token do not.
Training's own validation reads only the split's first 64 windows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from policies import load_policy  # noqa: E402
from rlmusic.config.sections import DataConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.data.tokens import notes_per_id, special_ids  # noqa: E402
from rlmusic.models.checkpoint import load_checkpoint  # noqa: E402
from rlmusic.train.pretrain import evaluate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for path in args.checkpoints:
        ckpt = load_checkpoint(path, load_policy)
        _, corpus = prepare_corpus(DataConfig(), TokenizerConfig(), tokenizer=ckpt.tokenizer, progress=False)
        sp = special_ids(ckpt.tokenizer)
        stream = corpus.stream("val", sp["bos"], sp["eos"])
        block = ckpt.policy.max_length
        t0 = time.time()
        result = evaluate(ckpt.policy, stream, block, 16, math.ceil(len(stream) / block), notes_per_id(ckpt.tokenizer))
        bars_per_context = block * int(notes_per_id(ckpt.tokenizer, "Bar")[np.asarray(stream)].sum()) / len(stream)
        rows[path] = result | {"val_tokens": int(len(stream)), "context": block, "seconds": round(time.time() - t0, 1),
                               "bars_per_context": bars_per_context}
        print(f"{path}: {result['val/bits_per_note']:.3f} bits per note, {result['val/bits_per_token']:.3f} bits per "
              f"token over {len(stream):,} validation tokens (context {block}: {bars_per_context:.1f} bars)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

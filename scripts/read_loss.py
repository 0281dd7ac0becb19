"""How many notes reading and tokenizing a folder of MIDI files keeps, per subfolder.

    python scripts/read_loss.py FOLDER [--max-tokens 16384]

For every file: the non-drum notes pretty_midi reads (the reference reading), the notes
rlmusic's reader keeps (tracks merged, drums dropped, re-struck notes as pretty_midi pairs
them), and the notes left after encoding with the default REMI tokenizer and decoding again
(quantized to 12 positions per beat, a note struck twice on the same pitch and grid point
kept once, pieces cut at ``data.max_tokens_per_piece`` tokens). Played and transcribed jazz
(expressive timing, tempo changes, pickups) is where notes could go missing.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pretty_midi  # noqa: E402

from rlmusic.config.sections import TokenizerConfig  # noqa: E402
from rlmusic.data.midi_io import find_midi_files, load_score, note_count  # noqa: E402
from rlmusic.data.tokens import build_tokenizer, decode_ids, encode_score  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--max-tokens", type=int, default=16384)
    args = ap.parse_args()
    root = Path(args.folder)
    tok = build_tokenizer(TokenizerConfig())
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for f in find_midi_files(root):
        group = f.relative_to(root).parts[0] if len(f.relative_to(root).parts) > 1 else root.name
        pm = pretty_midi.PrettyMIDI(str(f))
        ref = sum(len(i.notes) for i in pm.instruments if not i.is_drum)
        score = load_score(f)
        read = note_count(score)
        ids = encode_score(tok, score)
        full, _ = decode_ids(tok, ids)
        cut, _ = decode_ids(tok, ids[: args.max_tokens])
        t = totals[group]
        t[0] += 1
        t[1] += ref
        t[2] += read
        t[3] += note_count(full)
        t[4] += note_count(cut)
        t[5] += len(ids) > args.max_tokens
    print("| folder | files | notes (pretty_midi) | read by rlmusic | after tokens (whole) | after the token cap | "
          "pieces over the cap |")
    print("|---|---|---|---|---|---|---|")
    grand = [0] * 6
    for group, t in sorted(totals.items()):
        grand = [a + b for a, b in zip(grand, t)]
        print(f"| {group} | {t[0]} | {t[1]} | {t[2]} ({t[2] / t[1]:.1%}) | {t[3]} ({t[3] / t[1]:.1%}) | "
              f"{t[4]} ({t[4] / t[1]:.1%}) | {t[5]} |")
    g = grand
    print(f"| all | {g[0]} | {g[1]} | {g[2]} ({g[2] / g[1]:.1%}) | {g[3]} ({g[3] / g[1]:.1%}) | {g[4]} ({g[4] / g[1]:.1%}) "
          f"| {g[5]} |")


if __name__ == "__main__":
    main()

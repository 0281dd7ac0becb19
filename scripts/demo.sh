#!/usr/bin/env bash
# The main job on the embedded default data: build the corpus (music21's folk tunes and
# Bach chorales, offline), pretrain the tiny transformer, and write MIDI samples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
RUN="${RUN:-checkpoints/pretrain-tiny}"
if [ -d "$RUN" ] && ls "$RUN"/checkpoint-* >/dev/null 2>&1; then RESUME=--resume; else RESUME=; fi
rlmusic pretrain --config tiny --out "$RUN" $RESUME "$@"
rlmusic generate "$RUN" --num 8 --top-k 20 --max-new-tokens 255 --out "$RUN/samples"

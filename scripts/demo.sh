#!/usr/bin/env bash
# The main job on the embedded default data: build the corpus (music21's folk tunes and Bach
# chorales plus MMA arrangements, all offline), take the shipped prior tuned on the corpus's jazz
# and the shipped discriminator, fine-tune the prior with PPO toward jazz with the harmony,
# texture and silence inside real jazz's band and the melodies varied (rlmusic/demo.py's
# DEMO_REWARD; the discriminator co-evolving every 10 updates, --refresh-every 0 freezes it), and
# compare before vs after with metrics, MIDI, audio, piano rolls, curves and out/demo/report.html.
# Extra flags go to `rlmusic demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m rlmusic.cli demo "$@"

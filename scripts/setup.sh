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

if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch 2.13.0"
  "${PIP[@]}" "torch==2.13.0"
fi
if ! "$PY" -c "import rlmusic, policies, rewards, miditok, symusic, muspy, trl, pytest" 2>/dev/null \
   || ! "$PY" -m pip show -q rlmusic >/dev/null 2>&1; then
  echo "[setup] installing rlmusic and its dependencies"
  "${PIP[@]}" -e ".[test]"
fi

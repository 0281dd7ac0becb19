#!/usr/bin/env bash
# The test command: installs what is missing, lints (rules in pyproject.toml), then runs the
# whole suite on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RLMUSIC_CACHE="${RLMUSIC_CACHE:-$(mktemp -d)}"  # tests build their own small corpora
"${PYTHON:-python3}" -m ruff check --quiet .
exec "${PYTHON:-python3}" -m pytest -q "$@"

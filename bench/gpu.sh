#!/usr/bin/env bash
# The GPU checks in one go, JSON under bench/results/ (gpu_*.json): on one GPU, from a fresh
# clone with the CUDA build of torch 2.13.0 installed, in under 8 minutes.
#
#   bash bench/gpu.sh          # on a machine with a CUDA GPU
#   bash bench/gpu.sh --dry    # every step at toy sizes on the CPU, results in a temporary folder
#                              # (tests/test_bench_gpu.py runs this, so the script cannot rot)
#
# 1. pretraining tokens/s at the base size (8 layers, d=512), fp32 and bf16 autocast, against a
#    bare torch loop; 2. one PPO update at the base size against TRL GRPO on the same GPU;
# 3. our sampler against transformers' generate on CUDA, batch 32 and 256; 4. the two-process
#    PPO test (gloo: it runs its processes on the CPU beside the GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ "${1:-}" = "--dry" ]; then
  OUT="$(mktemp -d)"; CFG=tiny; STEPS=2; UPDATES=1; BATCH=8; NEW=16; DEVICE=cpu; SAMPLE_BATCHES="8"; REPEATS=1
else
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "bench/gpu.sh: no CUDA device (torch.cuda.is_available() is False); --dry runs it on the CPU" >&2; exit 2; }
  "$PY" -m pip show -q rlmusic >/dev/null 2>&1 || "$PY" -m pip install -q -e ".[test]"
  OUT=bench/results; CFG=base; STEPS=20; UPDATES=2; BATCH=32; NEW=128; DEVICE=cuda; SAMPLE_BATCHES="32 256"; REPEATS=3
fi
export RLMUSIC_CACHE="${RLMUSIC_CACHE:-$HOME/.cache/rlmusic}"
# A small corpus (music21's folk tunes and Bach chorales, about a minute to build): what the
# throughput benchmark trains on, so the script does not wait for the whole embedded corpus.
DATA="$("$PY" - <<'PYEOF'
from rlmusic.config.sections import DataConfig
from rlmusic.data.embedded import build_default_midi
print(build_default_midi(DataConfig(), collections={"miscFolk": "miscfolk"}, bach=True, progress=False))
PYEOF
)"
echo "== 1/4 pretraining throughput ($CFG, fp32 and bf16)"
"$PY" bench/pretrain_throughput.py --config "$CFG" --data "$DATA" --steps "$STEPS" --repeats 1 --precision bf16 \
  --json "$OUT/gpu_pretrain_throughput.json"
echo "== 2/4 one PPO update vs TRL GRPO ($CFG)"
"$PY" bench/ppo_step.py --config "$CFG" --batch "$BATCH" --new "$NEW" --updates "$UPDATES" --skip-trl112 \
  --json "$OUT/gpu_ppo_step.json"
echo "== 3/4 sampling vs generate ($DEVICE)"
# shellcheck disable=SC2086
"$PY" bench/sampling.py --device "$DEVICE" --batches $SAMPLE_BATCHES --new "$NEW" --repeats "$REPEATS" \
  --json "$OUT/gpu_sampling.json"
echo "== 4/4 PPO on two processes"
if [ "$DEVICE" = cuda ]; then
  "$PY" -m pytest -q tests/test_multiprocess.py 2>&1 | tail -1 | tee "$OUT/gpu_multiprocess.txt"
else
  echo "(dry: the suite runs tests/test_multiprocess.py itself)"
fi
echo "results: $OUT"

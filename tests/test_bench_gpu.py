"""bench/gpu.sh, the GPU checks in one go, runs end to end in its dry mode on the CPU."""

import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_script_dry_run(cache_dir):
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh"), "--dry"], capture_output=True, text=True,
                          env=os.environ | {"RLMUSIC_CACHE": str(cache_dir)}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(re.search(r"results: (\S+)", proc.stdout).group(1))
    throughput = json.loads((out / "gpu_pretrain_throughput.json").read_text())
    assert throughput["fp32"]["bare_tokens_per_s"] > 0 and "bf16" in throughput
    ppo = json.loads((out / "gpu_ppo_step.json").read_text())
    assert ppo["device"] == "cpu" and ppo["per_update_s"]["TRL 1.16 GRPO"] > 0
    sampling = json.loads((out / "gpu_sampling.json").read_text())
    assert sampling["rows"][0]["same_outputs_for_a_seed"] and sampling["rows"][0]["ratio"] > 0


def test_gpu_script_refuses_a_machine_without_a_gpu():
    # CUDA hidden, so a machine that has a GPU checks the refusal too
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh")], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr

"""The accelerate set-up every training stage shares."""

from __future__ import annotations

import torch
from accelerate import Accelerator


def cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): there bf16 autocast is
    faster than fp32, elsewhere it is emulated and slower."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def make_accelerator(mixed_precision: str, cpu: bool = False) -> Accelerator:
    """bf16 autocast on a CUDA device that supports it when ``auto``; full precision on CPU."""
    if mixed_precision == "auto":
        cuda = torch.cuda.is_available() and not cpu
        mixed_precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    from accelerate.state import AcceleratorState, PartialState

    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") != mixed_precision and PartialState().num_processes == 1:
        # One process running stages one after another at different precisions (the demo's
        # pretraining then bf16 PPO): accelerate keeps the first stage's precision for the
        # process and refuses another; forgetting it is safe when no other process shares it.
        AcceleratorState._reset_state()
    # cpu=True where there is no GPU: it is what makes accelerate run several CPU processes
    # (torchrun --nproc_per_node N) as one gloo job rather than N separate runs.
    return Accelerator(mixed_precision=mixed_precision, cpu=cpu or not torch.cuda.is_available())

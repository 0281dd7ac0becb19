"""The accelerate set-up every training stage shares."""

from __future__ import annotations

import torch
from accelerate import Accelerator


def make_accelerator(mixed_precision: str, cpu: bool = False) -> Accelerator:
    """bf16 autocast on a CUDA device that supports it when ``auto``; full precision on CPU."""
    if mixed_precision == "auto":
        cuda = torch.cuda.is_available() and not cpu
        mixed_precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    return Accelerator(mixed_precision=mixed_precision, cpu=cpu)

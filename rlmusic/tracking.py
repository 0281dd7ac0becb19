"""Run logging: always ``metrics.jsonl`` in the run folder; wandb (offline by default) or tensorboard on request."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from rlmusic.errors import RLMusicError


class RunLogger:
    """``log(step, {"loss/train": ...})`` appends one JSON line and forwards to the chosen tracker."""

    def __init__(self, run_dir: str | Path, report_to: str = "none", config: dict | None = None,
                 name: str | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"
        self._file = open(self.path, "a", buffering=1)
        self._wandb = self._tb = None
        if report_to == "wandb":
            os.environ.setdefault("WANDB_MODE", "offline")  # never reach the network unless the user asked
            try:
                import wandb
            except ImportError:
                raise RLMusicError("report_to=wandb needs wandb: pip install wandb") from None
            self._wandb = wandb.init(project="rlmusic", name=name or self.run_dir.name, dir=str(self.run_dir),
                                     config=config or {}, resume="allow")
        elif report_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))

    def log(self, step: int, values: dict) -> None:
        clean = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in values.items()}
        row = {"step": step, "time": round(time.time(), 3)} | {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in clean.items()}
        self._file.write(json.dumps(row) + "\n")
        if self._wandb is not None:
            self._wandb.log(clean, step=step)
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, float):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        self._file.close()
        if self._wandb is not None:
            self._wandb.finish()
            import wandb

            wandb.teardown()  # wandb-core writes the offline run file after finish() returns; teardown waits for it
        if self._tb is not None:
            self._tb.close()


def quiet_libraries() -> None:
    """transformers' per-call warnings and progress bars off: our own bars and messages say what runs."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []

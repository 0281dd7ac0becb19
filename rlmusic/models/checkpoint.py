"""Self-describing checkpoints, written atomically.

A checkpoint folder ``checkpoint-000500/`` holds the policy (for the transformer,
``save_pretrained`` files that ``AutoModelForCausalLM.from_pretrained`` opens), the
MidiTok and Hugging Face tokenizers, ``rlmusic.json`` (stage, step, full config,
package versions, anything the stage adds) and, for resuming, ``training_state.pt``.

Opening a checkpoint runs no code from it: weights are safetensors, descriptions JSON, and
``training_state.pt`` is read with ``torch.load(weights_only=True)``, which accepts tensors,
numbers, strings, lists, tuples and dicts and refuses any other Python object unopened. A
damaged or foreign file is an ``RLMusicError`` naming it, raised before anything is written.

It is written into a hidden temporary folder beside the final one, every file
fsync'ed, then renamed: a kill during the save leaves the previous checkpoint as
the newest complete one, and the loader never sees a half-written folder.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pickle
import platform
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlmusic.config.load import config_from_dict, load_config
from rlmusic.config.sections import RunConfig
from rlmusic.data.tokens import check_single_stream, find_miditok_file, load_miditok, save_tokenizers, special_ids
from rlmusic.errors import RLMusicError
from rlmusic.models.policy import Policy

META_FILE = "rlmusic.json"
STATE_FILE = "training_state.pt"
_NAME = re.compile(r"^checkpoint-(\d+)$")
_PACKAGES = ("rlmusic", "torch", "transformers", "trl", "accelerate", "miditok", "symusic", "numpy", "muspy")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run_dir: str | Path, step: int, policy: Policy, tokenizer, meta: dict,
                    training_state: dict | None = None, keep_last: int = 0,
                    companions: dict[str, Callable[[Path], None]] | None = None) -> Path:
    """Write ``run_dir/checkpoint-{step:06d}`` atomically and prune old ones; returns its path.
    ``companions``: {subfolder: save function} for models that belong to the run's state (the
    co-evolving discriminator), written inside the same atomic folder."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"checkpoint-{step:06d}"
    tmp = run_dir / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model = policy.module if hasattr(policy, "module") else policy  # unwrap DDP
    model.save(tmp)
    save_tokenizers(tokenizer, tmp)
    if training_state is not None:
        torch.save(training_state, tmp / STATE_FILE)
    for name, save in (companions or {}).items():
        (tmp / name).mkdir(parents=True, exist_ok=True)
        save(tmp / name)
    full_meta = {"step": step, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": versions(),
                 "policy": model.name, "num_parameters": model.num_parameters()} | meta
    (tmp / META_FILE).write_text(json.dumps(full_meta, indent=2, default=str))  # written last: marks completeness
    _fsync_tree(tmp)
    if final.exists():  # re-saving the same step (e.g. the final save after a periodic one)
        old = run_dir / f".old-{final.name}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    if keep_last > 0:
        for old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``run_dir``, oldest first (temporary folders are hidden and skipped)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir()
             if (m := _NAME.match(p.name)) and (p / META_FILE).is_file()]
    return [p for _, p in sorted(found)]


def is_external(path: str | Path) -> bool:
    """A model made outside rlmusic: a transformers folder (``config.json``) with a MidiTok
    tokenizer saved beside it, and no ``rlmusic.json``."""
    path = Path(path)
    return not (path / META_FILE).is_file() and (path / "config.json").is_file() and find_miditok_file(path) is not None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, a run folder whose newest checkpoint is meant, or a model made
    elsewhere (``is_external``)."""
    path = Path(path)
    if (path / META_FILE).is_file() or is_external(path):
        return path
    found = list_checkpoints(path)
    if found:
        return found[-1]
    if not path.exists():
        raise RLMusicError(f"checkpoint {str(path)!r} does not exist")
    if (path / "config.json").is_file():
        raise RLMusicError(f"{str(path)!r} holds a transformers model but no MidiTok tokenizer; save yours beside it "
                           f"with tokenizer.save('{path}/tokenizer.json')")
    raise RLMusicError(f"{str(path)!r} is neither an rlmusic checkpoint nor a run folder with one "
                       f"(no {META_FILE} inside) nor a transformers model with a MidiTok tokenizer; pass a "
                       f"checkpoint-NNNNNN folder, its run folder, or such a model folder")


def read_json(path: str | Path) -> dict:
    """A JSON object from a checkpoint file; a damaged one is an error naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RLMusicError(f"{path} is damaged ({type(e).__name__}: {str(e).splitlines()[0]}); restore it or "
                           f"use another checkpoint") from None
    if not isinstance(data, dict):
        raise RLMusicError(f"{path} is damaged (a JSON {type(data).__name__}, not an object); restore it or use "
                           f"another checkpoint")
    return data


def read_meta(path: str | Path) -> dict:
    return read_json(resolve_checkpoint(path) / META_FILE)


@dataclass
class Checkpoint:
    path: Path
    policy: Policy
    tokenizer: Any  # miditok.MusicTokenizer
    meta: dict

    def training_state(self, schema: dict[str, type | tuple[type, ...]]) -> TrainingState | None:
        return read_training_state(self.path, schema)


class TrainingState(dict):
    """The resume state of a checkpoint: a plain dict that remembers its file for error messages."""

    path: Path


def read_training_state(folder: str | Path, schema: dict[str, type | tuple[type, ...]]) -> TrainingState | None:
    """What a checkpoint saved for resuming (``training_state.pt``), or None (e.g. shipped ones).

    Loaded data-only (``weights_only=True``): a file holding any other Python object is refused
    without being run. ``schema`` is the stage's {key: type}; a missing key or a wrong type (a
    state from another stage, a damaged file) is an error naming the file."""
    f = Path(folder) / STATE_FILE
    if not f.is_file():
        return None
    try:
        raw = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" ({found.group(1)})" if found else ""
        raise RLMusicError(f"{f} holds a Python object{what} beyond tensors and plain data, so it was refused "
                           f"unopened (loading it could run code); resume only training states rlmusic wrote") from None
    except Exception as e:  # truncated, not a torch file, ...
        raise RLMusicError(f"{f} is damaged or not a training state ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else 'unreadable'}); start a new run with --out") from None
    if not isinstance(raw, dict):
        raise RLMusicError(f"{f} is not a training state (it holds a {type(raw).__name__}); start a new run with --out")
    for key, kind in schema.items():
        if key not in raw:
            stage = _stage_of(folder)
            raise RLMusicError(f"{f} has no {key!r}: it is not a state of this stage"
                               f"{f' (its checkpoint is a {stage} one)' if stage else ''} or it is damaged; "
                               f"start a new run with --out")
        if not isinstance(raw[key], kind) or isinstance(raw[key], bool) and kind is int:
            raise RLMusicError(f"{f}: {key!r} is a {type(raw[key]).__name__}, expected "
                               f"{getattr(kind, '__name__', kind)}; the file is damaged, start a new run with --out")
    state = TrainingState(raw)
    state.path = f
    return state


def _stage_of(folder: str | Path) -> str | None:
    try:
        return json.loads((Path(folder) / META_FILE).read_text()).get("stage")
    except (OSError, ValueError, AttributeError):
        return None


@contextmanager
def restoring(state: dict) -> Iterator[None]:
    """Around a stage's restore of its resume state: a value that does not fit (a damaged or
    foreign file that passed the schema) is one error naming the file, not a traceback."""
    try:
        yield
    except RLMusicError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as e:
        raise RLMusicError(f"{getattr(state, 'path', STATE_FILE)} does not fit this run ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else 'bad value'}); start a new run with --out") from None


def restore_optimizer(optimizer: torch.optim.Optimizer, saved: dict, state: dict) -> None:
    """``optimizer.load_state_dict(saved)``, refusing a state saved for another model (torch
    checks the number of parameters only, and a moment of a wrong shape fails steps later)."""
    where = getattr(state, "path", STATE_FILE)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    try:
        sizes = [len(g["params"]) for g in saved["param_groups"]]
        moments = saved["state"].items()
    except (KeyError, TypeError):
        raise RLMusicError(f"{where}: the optimizer state is damaged (no param_groups/state); start a new run "
                           f"with --out") from None
    if sizes != [len(g["params"]) for g in optimizer.param_groups]:
        raise RLMusicError(f"{where}: the optimizer state is for {sum(sizes)} parameter tensors, this model has "
                           f"{len(params)}: it was saved by another model; start a new run with --out")
    for index, moment in moments:
        for name, value in moment.items():
            if (isinstance(value, torch.Tensor) and value.dim() > 0 and isinstance(index, int)
                    and 0 <= index < len(params) and value.shape != params[index].shape):
                raise RLMusicError(f"{where}: optimizer {name} of parameter {index} has shape {tuple(value.shape)}, "
                                   f"the model's is {tuple(params[index].shape)}: it was saved by another model size; "
                                   f"start a new run with --out")
    try:
        optimizer.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise RLMusicError(f"{where}: the optimizer state does not fit ({type(e).__name__}: {e}); start a new run "
                           f"with --out") from None


def load_checkpoint(path: str | Path, load_policy: Callable[..., Policy]) -> Checkpoint:
    """Load a checkpoint, or a model made elsewhere (``is_external``: described as stage
    ``external``, step 0); ``load_policy`` comes from the ``policies`` registry (the CLI passes it)."""
    folder = resolve_checkpoint(path)
    external = is_external(folder)
    meta = {"stage": "external", "step": 0, "source": str(folder)} if external else read_meta(folder)
    try:
        tokenizer = load_miditok(folder)
        check_single_stream(tokenizer, f"the tokenizer of {folder}")
        policy = load_policy(folder, special_ids(tokenizer)) if external else load_policy(folder)
    except RLMusicError:
        raise
    except Exception as e:
        raise RLMusicError(f"checkpoint {str(folder)!r} could not be loaded ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else 'damaged'}); restore it or use another") from None
    if len(tokenizer) != policy.vocab_size:
        raise RLMusicError(f"{str(folder)!r}: the tokenizer has {len(tokenizer)} tokens but the model's vocabulary has "
                           f"{policy.vocab_size}; pair the model with the tokenizer it was trained on")
    return Checkpoint(path=folder, policy=policy, tokenizer=tokenizer, meta=meta)


def newest_run(root: str | Path, stage: str) -> Path | None:
    """The run folder under ``root`` whose newest checkpoint of ``stage`` (``pretrain``,
    ``finetune``) was saved last; None if there is none."""
    found = []
    root = Path(root)
    for run in (p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        ckpts = list_checkpoints(run)
        if ckpts:
            if _stage_of(ckpts[-1]) == stage:
                found.append(((ckpts[-1] / META_FILE).stat().st_mtime, run))
    return max(found)[1] if found else None


def default_policy(runs: str | Path, shipped: str | Path) -> Path:
    """What a command given no checkpoint uses: the newest ``rlmusic pretrain`` run under
    ``runs``, else the shipped pretrained policy."""
    return newest_run(runs, "pretrain") or Path(shipped)


def open_run(out_dir: str | Path, resume: bool) -> Path | None:
    """The newest checkpoint of the run folder ``out_dir`` when resuming it, None for a new run.
    A folder that already holds checkpoints is never started over: without ``resume`` that is
    an error."""
    existing = list_checkpoints(out_dir)
    if existing and not resume:
        raise RLMusicError(f"{out_dir} already holds checkpoints (newest {existing[-1].name}); pass --resume to "
                           f"continue that run, or --out to start a new one")
    return existing[-1] if existing else None


def reopen_run(out_dir: str | Path, resume: bool, overrides: dict) -> tuple[Path | None, dict, RunConfig | None]:
    """Every stage's resume preamble: the run folder's newest checkpoint (``open_run``), its
    metadata, and the config the run was started with, this command line's ``overrides`` on top
    (so a resumed run keeps its own settings and ``pretrain.max_steps=...`` can still extend it).
    ``(None, {}, None)`` for a new run."""
    newest = open_run(out_dir, resume)
    if newest is None:
        return None, {}, None
    meta = read_meta(newest)
    return newest, meta, load_config(None, overrides, base=config_from_dict(meta["config"]))


def choose_policy(path: str | Path | None, flag: str = "checkpoint") -> Path:
    """``path``, or what a command given none uses (said aloud): the newest ``rlmusic pretrain``
    run under ``checkpoints/runs/``, else the shipped pretrained policy."""
    if path:
        return Path(path)
    from rlmusic.resources import SHIPPED_POLICY

    chosen = default_policy(Path("checkpoints") / "runs", SHIPPED_POLICY)
    print(f"no {flag} given: using {chosen}")
    return chosen

"""Opening a checkpoint runs no code from it, and a damaged or foreign one is one clear error.

Each case resumes a real pretrain run whose newest checkpoint was tampered with; the command
must exit 2 with one line naming the file, print no traceback, and leave every file of the run
folder as it was.
"""

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from policies import build_policy, load_policy
from rlmusic.cli import main
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import STATE_FILE, list_checkpoints, load_checkpoint, read_training_state
from rlmusic.models.discriminator import STATE_SCHEMA as CLF_STATE
from rlmusic.train.ppo import STATE_SCHEMA as PPO_STATE
from rlmusic.train.pretrain import STATE_SCHEMA, param_groups


class RunsACommand:
    """Pickles to a call of os.system: what a crafted training_state.pt would hold."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy


def resume_fails(run: Path, capsys, *needles: str) -> str:
    before = snapshot(run)
    assert main(["pretrain", "--out", str(run), "--resume", "pretrain.max_steps=70"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("rlmusic: error: ") and "\n" not in err and "Traceback" not in captured.out + captured.err
    for needle in needles:
        assert needle in err, err
    assert snapshot(run) == before  # nothing overwritten, nothing added
    return err


def test_a_crafted_pickle_is_refused_without_running(run, tmp_path, capsys):
    marker = tmp_path / "the-command-ran"
    newest = list_checkpoints(run)[-1]
    state = torch.load(newest / STATE_FILE, weights_only=True)
    state["optimizer"] = RunsACommand(f"touch {marker}")
    torch.save(state, newest / STATE_FILE)
    err = resume_fails(run, capsys, str(newest / STATE_FILE), "refused unopened", "system")
    assert not marker.exists(), "loading the state ran the command it carried"
    # the same file read directly, for each stage's schema: refused, never run
    for schema in (STATE_SCHEMA, PPO_STATE, CLF_STATE):
        with pytest.raises(RLMusicError, match="refused unopened"):
            read_training_state(newest, schema)
    assert not marker.exists() and "could run code" in err


def _other_size_optimizer(run: Path) -> dict:
    """An AdamW state after one step on a model of another width (n_embd 32 instead of 64)."""
    ckpt = load_checkpoint(list_checkpoints(run)[-1], load_policy)
    cfg = tiny_config(run, run).model
    cfg.n_embd = 32
    other = build_policy(cfg, ckpt.policy.vocab_size, ckpt.policy.special)
    opt = torch.optim.AdamW(param_groups(other, 0.1), lr=1e-3)
    sum(p.sum() for p in other.parameters()).backward()
    opt.step()
    return opt.state_dict()


DAMAGE = {
    "truncated": lambda s, f, run: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]),
    "not a torch file": lambda s, f, run: f.write_text("hello"),
    "missing key": lambda s, f, run: torch.save({k: v for k, v in s.items() if k != "scheduler"}, f),
    "wrong type": lambda s, f, run: torch.save(s | {"step": "60"}, f),
    "another stage": lambda s, f, run: torch.save({"optimizer": s["optimizer"], "kl_coef": 0.1, "update": 3}, f),
    "another model size": lambda s, f, run: torch.save(s | {"optimizer": _other_size_optimizer(run)}, f),
    "a list, not a state": lambda s, f, run: torch.save([1, 2, 3], f),
}
EXPECTED = {
    "truncated": "is damaged or not a training state",
    "not a torch file": "is damaged or not a training state",
    "missing key": "has no 'scheduler'",
    "wrong type": "'step' is a str, expected int",
    "another stage": "(its checkpoint is a pretrain one)",
    "another model size": "saved by another model size",
    "a list, not a state": "it holds a list",
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_training_state_is_one_line(run, capsys, case):
    newest = list_checkpoints(run)[-1]
    f = newest / STATE_FILE
    DAMAGE[case](torch.load(f, weights_only=True), f, run)
    resume_fails(run, capsys, str(f), EXPECTED[case], "--out")


@pytest.mark.parametrize("name, expected", [
    ("rlmusic.json", "rlmusic.json is damaged (JSONDecodeError"),
    ("model.safetensors", "could not be loaded"),
    ("policy.json", "could not be loaded (JSONDecodeError"),
])
def test_a_damaged_checkpoint_file_is_one_line(run, capsys, name, expected):
    newest = list_checkpoints(run)[-1]
    f = newest / name
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    resume_fails(run, capsys, expected)


def test_a_damaged_discriminator_is_one_line(tiny_clf, tmp_path, capsys):
    clf = tmp_path / "clf"
    shutil.copytree(tiny_clf, clf)
    weights = list_checkpoints(clf)[-1] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert main(["metrics", str(tmp_path), "--discriminator", str(clf)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlmusic: error: discriminator ") and "could not be loaded" in err and "\n" not in err


def test_states_written_by_every_stage_load_data_only(run):
    # what pretrain wrote before this change (the same torch.save of tensors, numbers and dicts)
    # reads back under weights_only with the stage's schema
    state = read_training_state(list_checkpoints(run)[-1], STATE_SCHEMA)
    assert state["step"] == 60 and state.path.name == STATE_FILE
    assert isinstance(state["optimizer"]["state"][0]["exp_avg"], torch.Tensor)

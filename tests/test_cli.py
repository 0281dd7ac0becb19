import os
import shutil
from pathlib import Path

import pytest
from symusic import Score

from rlmusic.cli import main


def test_generate_writes_midi_files_with_notes(trained_run, tmp_path, capsys):
    out = tmp_path / "samples"
    assert main(["generate", str(trained_run), "--num", "3", "--out", str(out), "--top-k", "10",
                 "--max-new-tokens", "63", "--seed", "1"]) == 0
    files = sorted(out.glob("*.mid"))
    assert len(files) == 3
    assert all(sum(len(t.notes) for t in Score(str(f)).tracks) > 0 for f in files)
    assert "wrote 3 MIDI file(s)" in capsys.readouterr().out
    again = tmp_path / "again"
    main(["generate", str(trained_run), "--num", "3", "--out", str(again), "--top-k", "10",
          "--max-new-tokens", "63", "--seed", "1"])
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in sorted(again.glob("*.mid"))]


def test_min_bars_runs_a_short_sample_on_to_its_bar_line(trained_run):
    from dataclasses import replace

    from policies import load_policy
    from rlmusic.config.sections import SampleConfig
    from rlmusic.data.tokens import bar_ids
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.generate import generate_pieces

    ckpt = load_checkpoint(trained_run, load_policy)
    bars = set(bar_ids(ckpt.tokenizer).tolist())
    cfg = SampleConfig(num=8, max_new_tokens=24, min_new_tokens=24, min_bars=2, seed=0, batch_size=2)
    pieces = generate_pieces(ckpt.policy, ckpt.tokenizer, cfg)
    plain = generate_pieces(ckpt.policy, ckpt.tokenizer, replace(cfg, min_bars=0))
    for p, q in zip(pieces, plain):
        n = sum(i in bars for i in p.ids)
        assert p.ids[:24] == q.ids  # the same draws up to max_new_tokens, in every batch after one that ran on
        if len(p.ids) == 24:  # its two bars were there by then (the third bar line opened)
            assert n > 2
        elif len(p.ids) < 48:  # ran on, and ended on the bar line that closes bar 2
            assert n == 3 and p.ids[-1] in bars
        else:  # the cap, twice max_new_tokens
            assert len(p.ids) == 48 and n <= 2
    assert any(len(p.ids) > 24 for p in pieces)  # some sample was short of two bars at 24 tokens


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "--config", "nope"], "config 'nope' not found; known configs:"),
    (["pretrain", "pretrain.lr=-1"], "pretrain.lr must be positive"),
    (["pretrain", "model.bogus=1"], "unknown config key 'model.bogus'"),
    (["pretrain", "--data", "/definitely/not/here"], "does not exist"),
    (["generate", "/definitely/not/here"], "does not exist"),
    (["generate", ".", "--top-p", "0"], "sample.top_p must be in (0, 1]"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlmusic: error: ") and message in err and "\n" not in err


def test_existing_run_needs_resume(trained_run, capsys):
    assert main(["pretrain", "--out", str(trained_run)]) == 2
    assert "pass --resume" in capsys.readouterr().err


def test_resume_of_a_finished_run_is_a_no_op(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(trained_run, run)
    assert main(["pretrain", "--out", str(run), "--resume"]) == 0
    assert "complete at step 60" in capsys.readouterr().out
    assert [p.name for p in sorted(run.glob("checkpoint-*"))] == ["checkpoint-000030", "checkpoint-000060"]


def test_flags_and_overrides_in_any_order(capsys):
    from rlmusic.cli import main

    # both overrides reach the config, whichever side of a flag they stand
    assert main(["pretrain", "pretrain.lr=-1", "--cpu", "model.n_layer=2"]) == 2
    assert "pretrain.lr must be positive" in capsys.readouterr().err
    assert main(["pretrain", "--cpu", "pretrain.lr=1e-3", "model.n_embd=130"]) == 2
    assert "divisible by model.n_head" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--not-a-flag"])


def test_no_checkpoint_given_takes_the_newest_pretrain_run_else_the_shipped_policy(trained_run, tmp_path, monkeypatch,
                                                                                   capsys):
    from rlmusic.models.checkpoint import default_policy, newest_run
    from rlmusic.resources import SHIPPED_POLICY

    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "checkpoints" / "runs"
    assert default_policy(runs, SHIPPED_POLICY) == SHIPPED_POLICY  # nothing trained here yet
    assert main(["generate", "--num", "1", "--max-new-tokens", "8", "--out", str(tmp_path / "g")]) == 0
    assert f"no checkpoint given: using {SHIPPED_POLICY}" in capsys.readouterr().out
    shutil.copytree(trained_run, runs / "older")
    shutil.copytree(trained_run, runs / "mine")
    (runs / "not-a-run").mkdir()
    # the newest run is the one whose newest checkpoint was saved last
    meta = runs / "mine" / "checkpoint-000060" / "rlmusic.json"
    os.utime(meta, (meta.stat().st_atime, meta.stat().st_mtime + 60))
    assert newest_run(runs, "pretrain") == runs / "mine" and newest_run(runs, "finetune") is None
    assert main(["generate", "--num", "1", "--max-new-tokens", "8", "--out", str(tmp_path / "g2")]) == 0
    assert f"no checkpoint given: using {Path('checkpoints/runs/mine')}" in capsys.readouterr().out

"""`rlmusic train-clf` end to end: user folders, grouped CV on their subfolders, and resuming."""

import json
import shutil

import pytest
import torch

import rlmusic.train.train_clf as stage  # the train-clf stage: its calls are what a kill interrupts
from rlmusic.cli import main
from rlmusic.data.jazz_data import styles_available
from rlmusic.models.discriminator import load_discriminator

if not styles_available():  # pragma: no cover - CI installs mma through scripts/setup.sh
    pytest.fail("Debian's mma is required (scripts/setup.sh installs it)", pytrace=False)


TINY = ["clf.n_layer=1", "clf.n_embd=32", "clf.n_head=2", "clf.batch_size=8", "clf.min_window=16", "clf.max_window=48",
        "data.workers=1"]


def _user_folders(jazz_set, root, by_style: bool):
    """The built set's training files copied into user-style --jazz/--other folders."""
    for label, styles in (("jazz", ("swing", "bebop")), ("other", ("march", "polka"))):
        for style in styles:
            dest = root / label / (style if by_style else "")
            dest.mkdir(parents=True, exist_ok=True)
            for f in sorted((jazz_set / "train" / label).glob(f"{style}_*.mid")):
                shutil.copy(f, dest / f.name)
    return root / "jazz", root / "other"


def _meta(out):
    (path,) = out.glob("checkpoint-*/rlmusic.json")  # a run folder keeps its newest checkpoint only
    return json.loads(path.read_text())


def test_train_clf_on_user_folders_holds_out_their_subfolders(jazz_set, cache_dir, tmp_path, capsys):
    jazz, other = _user_folders(jazz_set, tmp_path / "mine", by_style=True)
    out = tmp_path / "clf"
    argv = ["train-clf", "--jazz", str(jazz), "--other", str(other), "--cv", "2", "--out", str(out), "clf.steps=10",
            f"data.cache_dir={cache_dir}", *TINY]
    assert main(argv) == 0
    meta = _meta(out)
    groups = {label: set(meta["counts"]["train"][label]) | set(meta["counts"].get("test", {}).get(label, {}))
              for label in ("jazz", "other")}
    assert groups == {"jazz": {"swing", "bebop"}, "other": {"march", "polka"}}
    n = sum(sum(c.values()) for split in meta["counts"].values() for c in split.values())
    assert n == 4 * 6  # every copied file, in one split or the other
    cv = meta["grouped_cv"]
    assert set(cv["by_family"]) == {"swing", "bebop", "march", "polka"}
    assert all(len(fold["held_out"]) == 2 for fold in cv["folds"])
    assert "unseen jazz families" in capsys.readouterr().out
    assert load_discriminator(out).prob_jazz([[5, 6, 7, 8]]).shape == (1,)


def test_train_clf_takes_a_generators_samples_as_negatives(jazz_set, cache_dir, tmp_path, capsys):
    """``--generated DIR``: the samples are negatives in training, a fifth held out and scored."""
    jazz, other = _user_folders(jazz_set, tmp_path / "mine", by_style=False)
    generated = tmp_path / "samples"
    generated.mkdir()
    for f in sorted((jazz_set / "train" / "other").glob("*.mid"))[:10]:  # stand-ins for a generator's output
        shutil.copy(f, generated / f"sample_{f.name}")
    out = tmp_path / "clf"
    argv = ["train-clf", "--jazz", str(jazz), "--other", str(other), "--generated", str(generated), "--out", str(out),
            "clf.steps=10", "clf.generated_share=0.2", f"data.cache_dir={cache_dir}", *TINY]
    assert main(argv) == 0
    meta = _meta(out)
    assert meta["source"]["generated"] == str(generated)
    assert 0.0 <= meta["test"]["generated_p_jazz"] <= 1.0
    printed = capsys.readouterr().out
    assert "generated negatives: " in printed and "held-out generated samples: mean P(jazz)" in printed
    unused = [a for a in argv if a != "clf.generated_share=0.2"] + ["clf.generated_share=0", "--out", str(tmp_path / "x")]
    assert main(unused) == 2
    assert "--generated needs clf.generated_share above 0" in capsys.readouterr().err
    # the run resumes on its own sources; other samples would be another run
    elsewhere = tmp_path / "other-samples"
    shutil.copytree(generated, elsewhere)
    argv[argv.index(str(generated))] = str(elsewhere)
    assert main(argv + ["--resume"]) == 2
    assert "resume it without" in capsys.readouterr().err


def test_train_clf_cv_on_flat_user_folders_fails_before_training(jazz_set, cache_dir, tmp_path, capsys):
    jazz, other = _user_folders(jazz_set, tmp_path / "flat", by_style=False)
    out = tmp_path / "clf"
    argv = ["train-clf", "--jazz", str(jazz), "--other", str(other), "--cv", "2", "--out", str(out),
            "data.workers=1", f"data.cache_dir={cache_dir}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the tokenizing progress bars
    assert err.startswith("rlmusic: error: grouped CV with 2 folds needs at least 2 groups of each label, "
                          "found 1 jazz and 1 other") and "subfolder" in err
    assert not out.exists()  # nothing trained, nothing written


def test_interrupted_training_and_cv_resume_to_the_uninterrupted_result(jazz_set, cache_dir, tmp_path, monkeypatch,
                                                                          capsys):
    base = ["train-clf", "--set", str(jazz_set), "--cv", "2", "clf.steps=30", "clf.save_every=10", "clf.dropout=0.1",
            f"data.cache_dir={cache_dir}", *TINY]
    whole = tmp_path / "whole"
    assert main([*base, "--out", str(whole)]) == 0
    reference = load_discriminator(whole).model.state_dict()
    real_train, real_cv = stage.train_discriminator, stage.grouped_cv

    # 1. Killed during training, right after the step-20 checkpoint.
    def train_then_stop(*args, checkpoint=None, **kw):
        def save_then_stop(step, state):
            checkpoint(step, state)
            if step == 20:
                raise KeyboardInterrupt
        return real_train(*args, checkpoint=save_then_stop if checkpoint else None, **kw)

    run = tmp_path / "run"
    monkeypatch.setattr(stage, "train_discriminator", train_then_stop)
    assert main([*base, "--out", str(run)]) == 130
    assert _meta(run)["step"] == 20 and "test" not in _meta(run)
    monkeypatch.setattr(stage, "train_discriminator", real_train)
    assert main([*base, "--out", str(run)]) == 2  # an existing run is never overwritten
    assert "pass --resume" in capsys.readouterr().err

    # 2. Resumed, then killed after the first CV fold.
    def cv_then_stop(*args, on_fold=None, **kw):
        def keep_then_stop(record):
            on_fold(record)
            raise KeyboardInterrupt
        return real_cv(*args, on_fold=keep_then_stop, **kw)

    monkeypatch.setattr(stage, "grouped_cv", cv_then_stop)
    torch.manual_seed(1234)  # as a new process would be: the dropout stream must come from the checkpoint
    assert main(["train-clf", "--out", str(run), "--resume"]) == 130
    resumed = load_discriminator(run).model.state_dict()
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)  # same windows, same dropout masks
    assert _meta(run)["step"] == 30 and "grouped_cv" not in _meta(run)
    assert len(json.loads((run / "cv_folds.json").read_text())["folds"]) == 1

    # 3. Resumed again: only the second fold is trained; the figures match the uninterrupted run's.
    monkeypatch.setattr(stage, "grouped_cv", real_cv)
    capsys.readouterr()
    assert main(["train-clf", "--out", str(run), "--resume"]) == 0
    assert "1 of 2 folds already done" in capsys.readouterr().out
    assert _meta(run)["grouped_cv"] == _meta(whole)["grouped_cv"]
    assert not (run / "cv_folds.json").exists()

    # 4. A finished run resumed: nothing trained, its results printed.
    def never(*args, **kw):
        raise AssertionError("a finished run trained again")

    monkeypatch.setattr(stage, "train_discriminator", never)
    monkeypatch.setattr(stage, "grouped_cv", never)
    assert main(["train-clf", "--out", str(run), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "is complete at step 30" in out and "grouped CV (2 folds" in out


def test_an_unknown_corruption_fails_before_anything_is_read(tmp_path, capsys):
    out = tmp_path / "clf"
    assert main(["train-clf", "--out", str(out), "clf.scrambled_kinds=[permuted_pitches, shuffled_bars]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlmusic: error: clf.scrambled_kinds: shuffled_bars is not a corruption; "
                                               "choose from permuted_pitches, shuffled_onsets, spliced_bars, shuffled_beats")
    assert not out.exists()

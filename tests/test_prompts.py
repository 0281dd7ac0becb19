"""Continuing the user's own openings: `generate --prompt song.mid`, and `ppo.prompt=file:DIR`."""

import shutil

import numpy as np
import pytest
from symusic import Note, Score, TimeSignature, Track

from rlmusic.cli import main
from rlmusic.config.sections import PPOConfig, TokenizerConfig
from rlmusic.data.midi_io import find_midi_files, load_score
from rlmusic.data.prompts import BOUNDARY_MARKER, file_ids, make_prompts, opening_bars, openings_for
from rlmusic.data.tokens import build_tokenizer, decode_ids


def notes_in_quarters(score: Score, before: float | None = None, after: float | None = None) -> list[tuple]:
    """(onset, duration, pitch) in quarter notes, all tracks, sorted."""
    q = score.to("quarter")
    out = sorted((round(n.time, 4), round(n.duration, 4), n.pitch) for t in q.tracks for n in t.notes)
    return [n for n in out if (before is None or n[0] < before) and (after is None or n[0] >= after)]


@pytest.fixture
def four_bars(tmp_path):
    """A hand-written 4/4 file: four bars of quarter notes, a new pitch on every beat."""
    score = Score(480)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    track = Track("melody", 0, False)
    for beat in range(16):
        track.notes.append(Note(beat * 480, 480, 60 + beat, 90))
    score.tracks.append(track)
    path = tmp_path / "song.mid"
    score.dump_midi(str(path))
    return path


def test_a_continuation_starts_with_the_prompts_bars(trained_run, four_bars, tmp_path, capsys):
    out = tmp_path / "cont"
    assert main(["generate", str(trained_run), "--prompt", str(four_bars), "--prompt-bars", "2", "--num", "3",
                 "--max-new-tokens", "24", "--top-k", "10", "--out", str(out)]) == 0
    assert "the first 2 bar(s)" in capsys.readouterr().out
    files = sorted(out.glob("*.mid"))
    assert len(files) == 3 and all(f.with_suffix(".png").is_file() for f in files)
    written = notes_in_quarters(Score(str(four_bars)), before=8)
    assert len(written) == 8
    for f in files:
        score = Score(str(f))
        q = score.to("quarter")
        # the first two bars are the file's own notes, exactly; a marker where the model takes over
        assert notes_in_quarters(score, before=8) == written
        assert [(m.time, m.text) for m in q.markers] == [(8.0, BOUNDARY_MARKER)]
        late = [t for t in q.tracks if t.name.endswith(f"({BOUNDARY_MARKER})")]
        assert all(n.time >= 8 for t in late for n in t.notes)
        assert all(n.time < 8 for t in q.tracks if t not in late for n in t.notes)


def test_a_real_multi_track_file_prompt_is_read_as_the_corpus_reads_it(trained_run, folk_dir, tmp_path):
    from policies import load_policy
    from rlmusic.config.sections import SampleConfig
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.generate import continue_file
    from rlmusic.music.piece import bar_ticks

    ckpt = load_checkpoint(trained_run, load_policy)
    song = max(find_midi_files(folk_dir)[:20], key=lambda f: len(load_score(f).tracks[0].notes))
    opening = opening_bars(file_ids(song, ckpt.tokenizer), ckpt.tokenizer, 2)
    expected, _ = decode_ids(ckpt.tokenizer, opening.tolist())
    pieces = continue_file(ckpt.policy, ckpt.tokenizer, SampleConfig(num=2, max_new_tokens=10, top_k=5), song, 2)
    for piece in pieces:
        assert piece.ids[: len(opening)] == opening.tolist()
        assert piece.boundary == 2 * bar_ticks(piece.score)
        boundary = piece.boundary / piece.score.ticks_per_quarter
        assert notes_in_quarters(piece.score, before=boundary) == notes_in_quarters(expected, before=boundary)


@pytest.mark.parametrize("extra, message", [
    (["--prompt", "/not/here.mid"], "does not exist"),
    (["--prompt", "{song}", "--prompt-bars", "9"], "has 4 bar(s), fewer than the 9 asked for"),
    (["--prompt", "{song}", "--prompt-bars", "0"], "--prompt-bars must be at least 1"),
    (["--prompt", "{junk}"], "pass another MIDI file"),
])
def test_bad_prompts_are_one_line(trained_run, four_bars, tmp_path, capsys, extra, message):
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd\x00")
    extra = [x.format(song=four_bars, junk=junk) for x in extra]
    assert main(["generate", str(trained_run), "--num", "1", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_ppo_prompts_from_a_folder_of_files(trained_run, folk_dir, tmp_path):
    folder = tmp_path / "openings"
    folder.mkdir()
    for f in find_midi_files(folk_dir)[:3]:
        shutil.copy(f, folder / f.name)
    tok = build_tokenizer(TokenizerConfig())
    cfg = PPOConfig(prompt=f"file:{folder}", prompt_tokens=12)
    cfg.validate()
    openings = openings_for(cfg, None, tok)
    heads = {tuple(file_ids(f, tok)[:12]) for f in find_midi_files(folder)}
    assert len(openings) == 3 and {tuple(o) for o in openings} == heads
    prompts = make_prompts(openings, 1, 0, 0, 8)
    assert prompts.shape == (8, 13) and (prompts[:, 0] == 1).all()
    assert all(tuple(row[1:]) in heads for row in prompts.tolist())
    # and a real fine-tuning run from them
    out = tmp_path / "ft"
    assert main(["finetune", "--policy", str(trained_run), "--reward", "repetition", "--out", str(out),
                 f"ppo.prompt=file:{folder}", "ppo.prompt_tokens=12", "ppo.updates=1", "ppo.batch_size=8",
                 "ppo.minibatch_size=4", "ppo.max_new_tokens=16"]) == 0
    assert (out / "checkpoint-000001" / "model.safetensors").is_file()
    with pytest.raises(Exception, match="no MIDI files there"):
        openings_for(PPOConfig(prompt=f"file:{tmp_path / 'empty'}"), None, tok)
    assert np.all([len(o) == 12 for o in openings])

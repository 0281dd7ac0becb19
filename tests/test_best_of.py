"""``rlmusic generate --best-of N``: the ranking by hand, and inside a real run of the command."""

import json
import math

import numpy as np
import pytest

from rlmusic.cli import main
from rlmusic.evaluate.best_of import best_in_groups, kl_bound


def test_best_in_groups_by_hand():
    rewards = np.array([1, 3, 2, np.nan, 0, 0, np.nan, np.nan])
    # groups of two: 3 wins, 2 beats NaN, the first of a tie, an all-NaN group keeps its first
    assert best_in_groups(rewards, 2).tolist() == [1, 2, 4, 6]
    assert best_in_groups(rewards, 1).tolist() == list(range(8))
    assert best_in_groups(rewards[:6], 3).tolist() == [1, 4]


def test_kl_bound_by_hand():
    assert kl_bound(1) == 0
    assert kl_bound(4) == math.log(4) - 3 / 4
    assert kl_bound(16) == pytest.approx(1.8351, abs=1e-4)


def test_each_piece_is_the_best_of_its_candidates(trained_run, tmp_path):
    from policies import load_policy
    from rewards import REWARDS
    from rlmusic.config.sections import SampleConfig
    from rlmusic.data.midi_io import load_score, merge_tracks
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.generate import generate_pieces
    from rlmusic.reward_contract import RewardBatch

    out = tmp_path / "best"
    assert main(["generate", str(trained_run), "--num", "3", "--best-of", "4", "--reward", "repetition",
                 "--max-new-tokens", "48", "--seed", "5", "--out", str(out)]) == 0
    record = json.loads((out / "best_of.json").read_text())
    assert record["best_of"] == 4 and record["candidates"] == 12 and record["reward"] == "repetition"
    # the same candidates, drawn and scored here without the command
    ckpt = load_checkpoint(trained_run, load_policy)
    candidates = generate_pieces(ckpt.policy, ckpt.tokenizer, SampleConfig(num=12, max_new_tokens=48, seed=5))
    scores = np.array(REWARDS["repetition"]()(RewardBatch([c.ids for c in candidates], ckpt.tokenizer)))
    best = scores.reshape(3, 4).argmax(1) + [0, 4, 8]
    assert [k["candidate"] for k in record["kept"]] == best.tolist()
    assert [k["reward"] for k in record["kept"]] == pytest.approx(scores[best].tolist())
    assert record["candidates_mean_reward"] == pytest.approx(scores.mean())
    for kept, i in zip(record["kept"], best):  # the files hold the winners
        notes = merge_tracks(load_score(out / kept["file"])).tracks[0].notes.numpy()
        won = merge_tracks(candidates[i].score).tracks[0].notes.numpy()
        assert sorted(zip(notes["time"], notes["pitch"])) == sorted(zip(won["time"], won["pitch"]))


@pytest.mark.parametrize("extra, message", [
    (["--best-of", "2"], "--best-of needs a reward: pass --reward SPEC, or --reward-from a fine-tuned checkpoint"),
    (["--best-of", "0"], "--best-of must be at least 1, got 0"),
    (["--best-of", "2", "--reward", "jazz_clf"], "reads a discriminator: pass --discriminator CKPT"),
    (["--best-of", "2", "--reward", "repetition", "--prompt", "x.mid"], "drop --prompt or --best-of"),
])
def test_best_of_errors_are_one_line(trained_run, tmp_path, capsys, extra, message):
    assert main(["generate", str(trained_run), "--num", "1", "--max-new-tokens", "8", "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_runs_recorded_reward_and_bands_rank(tmp_path):
    """``--reward-from RUN`` ranks by the run's reward spec with the bands it recorded (no corpus read)."""
    from rewards import RESERVED, REWARDS
    from rlmusic.config.commands import BestOfOptions
    from rlmusic.evaluate.best_of import run_reward
    from rlmusic.models.checkpoint import META_FILE
    from rlmusic.music.piece import piece_from_arrays
    from rlmusic.reward_contract import RewardBatch

    run = tmp_path / "checkpoint-000010"
    run.mkdir()
    (run / META_FILE).write_text(json.dumps({"stage": "finetune", "step": 10, "reward_spec": "band:pitch_range=2",
                                             "bands": {"pitch_range": [4, 8]}}))
    spec, fn = run_reward({}, tmp_path, BestOfOptions(best_of=2, reward_from=str(run)), REWARDS, RESERVED, None)
    assert spec == "band:pitch_range=2"
    inside = piece_from_arrays([0, 4, 8], [4] * 3, [60, 62, 66], tpq=4)  # range 6
    above = piece_from_arrays([0, 4, 8], [4] * 3, [60, 62, 70], tpq=4)  # range 10: 2 over a band 4 wide
    total, _ = fn(RewardBatch.from_pieces([inside, above]))
    assert total.tolist() == [0.0, 2 * -0.5]


def test_a_runs_recorded_bands_serve_another_weighting(tmp_path):
    from rewards import RESERVED, REWARDS
    from rlmusic.config.commands import BestOfOptions
    from rlmusic.evaluate.best_of import run_reward
    from rlmusic.models.checkpoint import META_FILE
    from rlmusic.music.piece import piece_from_arrays
    from rlmusic.reward_contract import RewardBatch

    (tmp_path / META_FILE).write_text(json.dumps({"stage": "finetune", "step": 10, "reward_spec": "band:pitch_range=2",
                                                  "bands": {"pitch_range": [4, 8]}}))
    opts = BestOfOptions(best_of=2, reward="band:pitch_range=0.5,repetition", reward_from=str(tmp_path))
    spec, fn = run_reward({}, tmp_path, opts, REWARDS, RESERVED, None)
    assert spec == "band:pitch_range=0.5,repetition"
    above = piece_from_arrays([0, 4, 8], [4] * 3, [60, 62, 70], tpq=4)  # range 10: half the band's width over
    total, parts = fn(RewardBatch.from_pieces([above]))
    assert parts["band:pitch_range"].tolist() == [-0.5] and total[0] == 0.5 * -0.5 + parts["repetition"][0]

"""The independent judge: features by hand, above chance on unseen groove families, never a reward."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rewards import RESERVED, REWARDS
from rlmusic.cli import main
from rlmusic.config.sections import DataConfig, TokenizerConfig
from rlmusic.data.corpus import tokenize_folder
from rlmusic.data.jazz_data import read_manifest
from rlmusic.data.labelled import labelled_from_corpus
from rlmusic.data.tokens import build_tokenizer, decode_ids
from rlmusic.errors import RLMusicError
from rlmusic.models.judge import FEATURES, Judge, excerpt, features, train_judge
from rlmusic.music.piece import piece_from_arrays, piece_from_score
from rlmusic.reward_contract import build_reward


def test_features_by_hand():
    # swung eighths on C and E over a walking bass, 12 ticks per beat, one 4/4 bar
    p = piece_from_arrays([0, 8, 12, 20, 0, 12, 24, 36], [8, 4, 8, 4, 12, 12, 12, 12],
                          [60, 64, 60, 64, 36, 38, 40, 41], tpq=12, bar_ticks=48)
    f = dict(zip(FEATURES, features(p)))
    assert len(f) == len(FEATURES)
    assert f["phase_0"] == pytest.approx(4 / 6) and f["phase_8"] == pytest.approx(2 / 6)
    assert f["swung_offbeats"] == 1.0 and f["straight_offbeats"] == 0.0
    assert f["notes_per_beat"] == pytest.approx(8 / 4) and f["onsets_per_beat"] == pytest.approx(6 / 4)
    assert f["bass_beats"] == pytest.approx(4 / 4) and f["bass_steps"] == 1.0  # +2 +2 +1: all steps
    assert f["metre_4"] == 1.0 and f["chord_onsets"] == 0.0
    assert features(piece_from_arrays([0], [4], [60], tpq=4)) is None


def test_excerpt_keeps_whole_bars_shifted_to_zero():
    p = piece_from_arrays([0, 16, 20, 32], [4, 4, 16, 4], [60, 62, 64, 65], tpq=4, bar_ticks=16)
    e = excerpt(p, 1, 1)  # bar 1: ticks 16-31, the long note cut at the bar's end
    assert e.time.tolist() == [0, 4] and e.duration.tolist() == [4, 12] and e.pitch.tolist() == [62, 64]


JUDGE_STYLES = (["swing", "bebop", "jazzcombo", "bigband", "slowjazz", "modernjazz"],
                ["50srock", "8beat", "polka", "march", "countrywaltz", "salsa"])


@pytest.fixture(scope="module")
def judged(tmp_path_factory, cache_dir):
    """The judge trained on a real MMA set of 6 jazz and 6 other groove families, 6 charts each."""
    from rlmusic.data.jazz_data import build_jazz_set

    folder = build_jazz_set(tmp_path_factory.mktemp("judge") / "set", per_style={"train": 6}, styles=JUDGE_STYLES,
                            progress=False)
    tok = build_tokenizer(TokenizerConfig())
    data = labelled_from_corpus(tokenize_folder(folder, tok, DataConfig(workers=1, cache_dir=str(cache_dir)),
                                                progress=False), read_manifest(folder))
    pieces = [piece_from_score(decode_ids(tok, p)[0]) for p in data.pieces]
    return train_judge(pieces, data.labels, data.groups, data.names, folds=3, progress=False), pieces, data


@pytest.fixture(scope="module")
def judged_on_texture(judged):
    """The same judge trained without the scrambled negatives (jazz against other grooves only)."""
    _, pieces, data = judged
    return train_judge(pieces, data.labels, data.groups, data.names, folds=3, progress=False, scrambled=False)


def test_scrambled_negatives_make_the_judge_hear_structure(judged, judged_on_texture):
    """Both judges tell jazz grooves from others; only the one trained with structure-destroyed
    negatives calls the held-out jazz with its pitches permuted (or its voices transposed) not jazz."""
    heard, deaf = judged[0].meta["scramble_test"], judged_on_texture.meta["scramble_test"]
    assert heard["real"] > 0.6 and deaf["real"] > 0.6
    for kind in ("permuted_pitches", "transposed_voices"):
        assert deaf[f"gap/{kind}"] < 0.25, kind
        assert heard[f"gap/{kind}"] > deaf[f"gap/{kind}"] + 0.2, kind


def test_the_judges_negatives_are_the_kinds_named(judged):
    """``kinds`` chooses the corruption of every negative excerpt: with pitches permuted, each
    excerpt keeps its rhythm and its pitch histogram, so those features equal the real excerpt's
    row by row while the harmony's do not; with the beats shuffled the rhythm moves too."""
    from rlmusic.models.judge import excerpt_matrix

    _, pieces, _ = judged
    col = {n: i for i, n in enumerate(FEATURES)}
    real, _ = excerpt_matrix(pieces[:6], 2, seed=3)
    permuted, _ = excerpt_matrix(pieces[:6], 2, seed=3, corrupt=True, kinds=("permuted_pitches",))
    beats, _ = excerpt_matrix(pieces[:6], 2, seed=3, corrupt=True, kinds=("shuffled_beats",))
    for name in ("onsets_per_beat", "notes_per_beat", "pitch_mean", "pitch_std"):
        assert np.allclose(real[:, col[name]], permuted[:, col[name]], rtol=1e-12), name  # summed in another order
    assert (real[:, col["chord_fit"]] != permuted[:, col["chord_fit"]]).any()
    assert not np.array_equal(real[:, col["onsets_per_beat"]], beats[:, col["onsets_per_beat"]])


def test_judge_beats_chance_on_unseen_groove_families(judged, judged_on_texture):
    """On groove families it never saw, the texture judge is well above chance; the structure
    judge, whose trees also split on harmony, less so on this small set of 36 jazz charts."""
    judge, pieces, data = judged
    cv = judged_on_texture.meta["grouped_cv"]
    assert len(cv["folds"]) == 3 and cv["roc_auc"] > 0.7 and cv["balanced_accuracy"] > 0.55  # 0.80 and 0.67
    assert judge.meta["grouped_cv"]["roc_auc"] > 0.55
    probs = judge.prob_jazz(pieces)
    assert probs[data.labels == 1].mean() > probs[data.labels == 0].mean() + 0.3


def test_judge_trees_equal_scikit_learn(judged):
    from sklearn.ensemble import GradientBoostingClassifier

    from rlmusic.models.judge import judge_from_sklearn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, len(FEATURES)))
    y = (x[:, 0] + 0.5 * x[:, 3] ** 2 + rng.normal(0, 0.5, 300) > 0.5).astype(int)
    model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(x, y)
    test = rng.normal(size=(50, len(FEATURES)))
    assert np.allclose(judge_from_sklearn(model).decision(test), model.decision_function(test), atol=1e-9)


def test_judge_round_trips_through_its_json_file(judged, tmp_path):
    judge, pieces, _ = judged
    path = judge.save(tmp_path / "j")
    assert json.loads(path.read_text())["features"] == FEATURES
    assert np.allclose(Judge.load(tmp_path / "j").prob_jazz(pieces[:10]), judge.prob_jazz(pieces[:10]))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(RLMusicError, match="not a judge"):
        Judge.load(tmp_path / "bad.json")


@pytest.mark.parametrize("name", ["judge", "jazz_judge"])
def test_the_judge_is_never_a_reward(name, trained_run, capsys):
    with pytest.raises(RLMusicError, match="cannot be a reward"):
        build_reward(f"repetition,{name}", REWARDS, reserved=RESERVED)
    assert main(["finetune", "--policy", str(trained_run), "--reward", f"repetition,{name}=0.5", "ppo.updates=1"]) == 2
    assert f"'{name}' cannot be a reward" in capsys.readouterr().err
    # the rewards package does not even import the judge
    out = subprocess.run([sys.executable, "-c", "import sys, rewards; print('rlmusic.models.judge' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_train_judge_refuses_an_unknown_corruption_before_reading_anything(tmp_path, capsys):
    out = tmp_path / "judge"
    assert main(["train-judge", "--out", str(out), "clf.scrambled_kinds=[permuted_pitch]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlmusic: error: clf.scrambled_kinds: permuted_pitch is not a corruption")
    assert not out.exists()

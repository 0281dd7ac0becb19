"""The demo path at tiny size: every stage, audio, plots and the report, on a small folder."""

import json
import math
from pathlib import Path

import pytest

from rlmusic.cli import main


def test_demo_smoke(trained_run, tiny_clf, folk_dir, tmp_path, capsys):
    from rlmusic.demo import DEMO_REWARD

    out = tmp_path / "demo"
    reward = DEMO_REWARD + ",band:pitch_range"  # the recipe's terms, and --reward reaching PPO
    argv = ["demo", "--out", str(out), "--data", str(folk_dir), "--policy", str(trained_run),
            "--discriminator", str(tiny_clf), "--reward", reward, "--updates", "2", "--batch-size", "8",
            "--max-new-tokens", "32", "--sample-tokens", "80",  # 80 > the context of 64
            "--sample-bars", "2", "--num-samples", "4", "--listen", "2", "--temperature", "0.9"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "jazz_probability" in printed and "report:" in printed
    # one temperature for the rollouts and for both measured columns, and the table says which
    assert "sampled: 4 pieces of 80 new tokens at temperature 0.9, seed 0" in printed
    assert "discriminator frozen" in printed  # a user's folder names no jazz pieces to co-evolve on
    assert f"PPO with --reward {reward} (chord_changes_per_bar at its 15%-85% quantiles; 2 updates" in printed
    ppo_meta = json.loads(next((out / "finetune").glob("checkpoint-*/rlmusic.json")).read_text())
    assert ppo_meta["reward_spec"] == reward and ppo_meta["config"]["ppo"]["temperature"] == 0.9
    report = (out / "report.md").read_text()
    assert "## Against real music" in report and "curves.png" in report
    assert "sampled: 4 pieces of 80 new tokens at temperature 0.9, seed 0" in report
    # the report leads with the measures the reward never sees
    assert report.index("two-sample AUC") < report.index("judge/p_jazz") < report.index("jazz_probability")
    for tag in ("before", "after"):
        assert len(list((out / "samples" / tag).glob("*.mid"))) == 2
        assert len(list((out / "samples" / tag).glob("*.png"))) == 2
        wavs = list((out / "samples" / tag).glob("*.wav"))
        assert len(wavs) == 2 and all(w.stat().st_size > 44 for w in wavs)  # fluidsynth rendered sound
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["sampling"]["temperature"] == 0.9 and summary["sampling"]["min_new_tokens"] == 80
    assert all("jazz_probability" in summary["metrics"][c] for c in summary["columns"])
    assert all(summary["metrics"][c]["length/median_bars"] >= 1 for c in summary["columns"])
    assert (out / "curves.png").stat().st_size > 0
    # overlap/unseen: every column over the metrics the demo's reward does not score
    from rewards import REWARDS
    from rlmusic.evaluate.metrics_command import unseen_overlap
    from rlmusic.reward_contract import metrics_read

    seen = frozenset(metrics_read(reward, REWARDS))
    assert "mean_duration" in seen
    for c, d in summary["distance_to_reference"].items():
        overlap = {k: (math.nan if v is None else v) for k, v in summary["overlap_with_reference"][c].items()}
        assert d["overlap_unseen"] == pytest.approx(unseen_overlap(overlap, seen))
    assert "overlap/unseen" in printed


def test_a_misspelt_demo_reward_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--reward", "repetition,jazz_cfl"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlmusic: error: unknown reward 'jazz_cfl'") and "\n" not in err
    assert not out.exists()  # no corpus, no discriminator, no folder: it failed first


def test_a_demo_temperature_must_be_positive(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--temperature", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rlmusic: error: --temperature must be positive, got 0.0" and not out.exists()


def test_unseen_summary_shows_balanced_accuracy_when_recorded():
    from rlmusic.evaluate.before_after import unseen_summary

    old = {"accuracy": 0.693, "roc_auc": 0.686}  # a record written before balanced accuracy was reported
    assert unseen_summary(old) == "accuracy 0.693, ROC-AUC 0.686"
    assert unseen_summary(old | {"balanced_accuracy": 0.644}) == "accuracy 0.693, balanced 0.644, ROC-AUC 0.686"


def test_the_demo_starts_from_the_jazz_pair_on_the_embedded_corpus_only(tmp_path):
    from rlmusic.config.commands import DemoOptions
    from rlmusic.demo import demo_models
    from rlmusic.resources import SHIPPED_CLF, SHIPPED_GAN_CLF, SHIPPED_JAZZ_POLICY, SHIPPED_POLICY

    assert demo_models(DemoOptions()) == (SHIPPED_JAZZ_POLICY, SHIPPED_GAN_CLF, 10)
    assert demo_models(DemoOptions(data=str(tmp_path))) == (SHIPPED_POLICY, SHIPPED_CLF, 0)
    assert demo_models(DemoOptions(target=str(tmp_path)))[::2] == (SHIPPED_POLICY, 0)
    mine = DemoOptions(policy="my-policy", discriminator="my-clf", refresh_every=0)
    assert demo_models(mine) == (Path("my-policy"), Path("my-clf"), 0)  # a flag always wins
    assert demo_models(DemoOptions(data=str(tmp_path), refresh_every=5))[2] == 5
    for pair in (SHIPPED_JAZZ_POLICY, SHIPPED_GAN_CLF):
        assert (pair / "rlmusic.json").is_file() or any(pair.glob("checkpoint-*/rlmusic.json"))  # they ship


def test_the_report_says_what_the_discriminator_co_evolved_on():
    from rlmusic.evaluate.before_after import intro, refresh_of

    assert refresh_of({"refresh_every": 10, "refresh_from": "corpus:/jazz/"}) == "corpus:/jazz/"
    assert refresh_of({"refresh_every": 10}) == "jazz_set"  # a config from before refresh_from: the default
    assert refresh_of({"refresh_every": 0, "refresh_from": "corpus:/jazz/"}) == ""
    assert "co-evolving with it on corpus:/jazz/" in intro("jazz_clf", "corpus:/jazz/")
    assert "co-evolving" not in intro("jazz_clf")


def test_demo_toward_a_target_folder(trained_run, folk_dir, bach_dir, tmp_path, capsys):
    """``rlmusic demo --target DIR``: maximum-likelihood fine-tuning on the folder (the best
    checkpoint kept), a discriminator trained on it against the corpus's non-jazz with its
    scramble test, PPO with the folder's bands co-evolving the discriminator on it, and the report
    against the folder cut to windows as long as the samples, copies of it searched."""
    from rlmusic.models.checkpoint import list_checkpoints, read_meta

    out = tmp_path / "target"
    argv = ["demo", "--out", str(out), "--data", str(folk_dir), "--target", str(bach_dir), "--policy",
            str(trained_run), "--updates", "2", "--batch-size", "8", "--max-new-tokens", "32", "--refresh-every", "1",
            "--sample-tokens", "48", "--sample-bars", "0", "--num-samples", "4", "--listen", "1",
            "--target-steps", "10", "--target-clf-steps", "10"]
    assert main(argv) == 0
    best = list_checkpoints(out / "mle" / "best")
    assert len(best) == 1 and read_meta(best[0])["config"]["pretrain"]["init_from"] == str(trained_run)
    clf = read_meta(out / "jazz-clf")
    assert clf["source"] == {"jazz": str(bach_dir), "other": "embedded"} and "scramble_test" in clf
    ppo = read_meta(out / "finetune")
    assert ppo["config"]["ppo"]["target"] == str(bach_dir) and ppo["config"]["ppo"]["refresh_from"] == "target"
    assert ppo["reference"] == str(best[0])
    rows = [json.loads(line) for line in (out / "finetune" / "metrics.jsonl").read_text().splitlines()]
    assert any("clf/refresh_scrambled_jazz" in r for r in rows)  # the scramble test after each refresh
    summary = json.loads((out / "metrics.json").read_text())
    assert len(summary["columns"]) == 4 and summary["reference"].startswith(f"real ({bach_dir.name}, 48-token")
    after = summary["columns"][2]
    assert "copy/longest_tokens" in summary["metrics"][after]
    assert "chord_fit" in summary["metrics"][after] and "band/chord_fit" not in summary["metrics"][after]
    assert "chord_fit" in summary["inside_reference_band"][after]

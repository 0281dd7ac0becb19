import json
import math
import shutil

import numpy as np
import torch
import torch.nn.functional as F

from policies import load_policy
from rlmusic.cli import main
from rlmusic.data.midi_io import find_midi_files
from rlmusic.evaluate.metrics_command import Column, distinct_labels, mean_nll, standard_error, summarise, unseen_overlap
from rlmusic.models.checkpoint import load_checkpoint
from rlmusic.music.metrics import METRICS
from rlmusic.music.piece import piece_from_arrays


def test_metrics_cli_checkpoint_and_folder_against_reference(trained_run, folk_dir, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    for f in find_midi_files(folk_dir)[:8]:
        shutil.copy(f, folder / f.name)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00")
    out = tmp_path / "m.json"
    argv = ["metrics", str(trained_run), str(folder), "--num-samples", "4", "--max-new-tokens", "40",
            "--top-k", "10", "--reference", str(folk_dir), "--reference-samples", "20",
            "--reference-model", str(trained_run), "--json", str(out), "--csv", str(tmp_path / "m.csv"),
            "--plot", str(tmp_path / "plots")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pitch_class_entropy" in printed and "overlap/mean" in printed and "broken.mid" in printed
    summary = json.loads(out.read_text())
    run_label = f"{trained_run.name}@60"
    assert summary["columns"] == [run_label, "folder", "reference"]
    assert summary["metrics"][run_label]["pieces"] == 4 and summary["metrics"]["folder"]["pieces"] == 8
    assert summary["metrics"][run_label]["nll_under_reference"] > 0
    assert set(summary["overlap_with_reference"]) == {run_label, "folder"}
    assert summary["skipped"]["folder"][0][0] == "broken.mid"
    # the headline: whole-vector distances, the judge, copy detection for the sampled column only
    for label in (run_label, "folder"):
        d = summary["distance_to_reference"][label]
        assert d["frechet"] > 0 and 0 <= d["two_sample_auc"] <= 1 and d["overlap_mean"] == summary[
            "overlap_with_reference"][label]["mean"]
        assert 0 <= summary["metrics"][label]["judge/p_jazz"] <= 1
    assert printed.index("classifier two-sample AUC") < printed.index("pitch_class_entropy")
    for label in (run_label, "folder"):  # each metric's AUC alone, most separating first, and printed
        ranked = summary["separating_metrics"][label]
        aucs = [a for _, a in ranked]
        assert len(ranked) >= 10 and aucs == sorted(aucs, reverse=True) and all(0.5 <= a <= 1 for a in aucs)
        assert f"{label}: alone, the metrics that tell it from reference most (AUC): {ranked[0][0]}" in printed
    assert summary["metrics"][run_label]["copy/longest_tokens"] >= 1
    assert "copy/longest_tokens" not in summary["metrics"]["folder"]
    assert set(summary["inside_reference_band"]["folder"]) >= {"onsets_per_beat", "polyphony"}
    assert len(list((tmp_path / "plots").glob("*.png"))) == len(METRICS)
    assert (tmp_path / "m.csv").read_text().startswith("metric,")
    # The same seed gives the same samples and so the same table.
    assert main(argv[:-6] + ["--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"][run_label] == summary["metrics"][run_label]


def test_columns_of_one_name_are_told_apart_by_the_folders_above(tmp_path):
    runs = tmp_path / "runs"
    labels = ["samples", "samples", "finetune@200", "finetune@200", "prior", "samples"]
    anchors = [runs / "a" / "samples", runs / "b" / "samples", runs / "x" / "s0" / "finetune",
               runs / "y" / "s0" / "finetune", runs / "prior", runs / "a" / "samples"]
    assert distinct_labels(labels, anchors) == ["a/samples", "b/samples", "x/s0/finetune@200",
                                                "y/s0/finetune@200", "prior", "a/samples #2"]


def test_two_folders_of_one_name_are_two_columns(folk_dir, tmp_path):
    for run, files in (("a", slice(0, 3)), ("b", slice(3, 6))):
        (tmp_path / run / "samples").mkdir(parents=True)
        for f in find_midi_files(folk_dir)[files]:
            shutil.copy(f, tmp_path / run / "samples" / f.name)
    out = tmp_path / "m.json"
    assert main(["metrics", str(tmp_path / "a" / "samples"), str(tmp_path / "b" / "samples"), "--no-reference",
                 "--no-judge", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["columns"] == ["a/samples", "b/samples"]
    assert summary["metrics"]["a/samples"] != summary["metrics"]["b/samples"]


def test_standard_error_by_hand():
    assert standard_error(np.array([0.0, 1.0, 0.0, 1.0])) == math.sqrt(1 / 3) / 2  # sample sd sqrt(1/3), n 4
    assert standard_error(np.array([0.5, 0.5, 0.5])) == 0
    assert math.isnan(standard_error(np.array([0.7])))


def test_folder_of_identical_pieces_overlaps_itself():
    p = piece_from_arrays([0, 4, 8, 12], [4] * 4, [60, 64, 67, 72], tpq=4)
    q = piece_from_arrays([0, 4, 8, 12], [4] * 4, [60, 62, 64, 66], tpq=4)
    a = Column("a", [p, q] * 5)
    s = summarise([a], Column("ref", [p, q] * 5))
    assert s["overlap_with_reference"]["a"]["pitch_range"] > 0.99
    assert s["metrics"]["a"]["distinct_4"] == 2 / 10  # two distinct 4-grams among ten


def test_overlap_unseen_leaves_out_what_any_compared_reward_scores():
    p = piece_from_arrays([0, 4, 8, 12], [4] * 4, [60, 64, 67, 72], tpq=4)
    q = piece_from_arrays([0, 2, 4, 6], [2] * 4, [60, 62, 63, 66], tpq=4)
    ref = Column("ref", [p, q] * 4)
    plain = summarise([Column("a", [p] * 8), Column("b", [q] * 8)], ref)
    assert all("overlap_unseen" not in d for d in plain["distance_to_reference"].values())
    s = summarise([Column("a", [p] * 8, reward_reads=frozenset({"pitch_range"})),
                   Column("b", [q] * 8, reward_reads=frozenset({"polyphony"}))], ref)
    for label in ("a", "b"):  # both columns over the same metrics: neither pitch_range nor polyphony
        overlap = s["overlap_with_reference"][label]
        kept = [v for n, v in overlap.items() if n not in ("mean", "pitch_range", "polyphony") and not math.isnan(v)]
        assert s["distance_to_reference"][label]["overlap_unseen"] == float(np.mean(kept))
        assert len(kept) < len([v for n, v in overlap.items() if n != "mean" and not math.isnan(v)])
    assert math.isnan(unseen_overlap({"mean": 0.5, "x": 0.2}, frozenset({"x"})))
    assert not [a for a in s["alarms"] if "trained against" in a]
    # a reward reading every metric (metric_match) has trained against the whole-vector distances
    from rewards import REWARDS
    from rlmusic.reward_contract import metrics_read

    every = frozenset(metrics_read("repetition,metric_match", REWARDS))
    s = summarise([Column("a", [p] * 8, reward_reads=every), Column("b", [q] * 8)], ref)
    assert [a.split(":")[0] for a in s["alarms"] if "trained against" in a] == ["a"]


def test_length_in_bars_per_column():
    one = piece_from_arrays([0, 12], [4, 4], [60, 62], tpq=4)  # 16 ticks: one 4/4 bar
    eight = piece_from_arrays([0, 124], [4, 4], [60, 62], tpq=4)  # 128 ticks: 8 bars
    nine = piece_from_arrays([0, 125], [4, 4], [60, 62], tpq=4)  # one tick into bar 9
    empty = piece_from_arrays([], [], [], tpq=4)
    m = summarise([Column("a", [one, eight, nine, empty])], None)["metrics"]["a"]
    assert m["length/median_bars"] == 8.0  # of 1, 8, 9: the silent piece has no length
    assert m["length/share_8_bars"] == 2 / 4  # the silent piece is not 8 bars long


def test_mean_nll_matches_cross_entropy(trained_run):
    policy = load_checkpoint(trained_run, load_policy).policy.eval()
    seqs = [[10, 20, 30, 40, 50], [7, 8, 9]]
    bos = policy.special["bos"]
    total, n = 0.0, 0
    for s in seqs:
        x = torch.tensor([[bos] + s])
        logits = policy(x[:, :-1]).logits[0]
        total += float(F.cross_entropy(logits, x[0, 1:], reduction="sum").detach())
        n += len(s)
    assert math.isclose(mean_nll(policy, seqs), total / n, rel_tol=1e-5)


def test_all_bad_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "x.mid").write_bytes(b"junk")
    assert main(["metrics", str(tmp_path), "--no-reference"]) == 2
    assert "none of the 1 MIDI file(s)" in capsys.readouterr().err


def test_folders_get_p_jazz_from_the_discriminators_own_tokenizer(tiny_clf, trained_run, folk_dir, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for f in find_midi_files(folk_dir)[:6]:
        shutil.copy(f, folder / f.name)
    out = tmp_path / "m.json"
    # the folder comes first: no checkpoint has named a tokenizer yet
    assert main(["metrics", str(folder), str(trained_run), "--num-samples", "3", "--max-new-tokens", "32",
                 "--discriminator", str(tiny_clf), "--reference", str(folk_dir), "--reference-samples", "12",
                 "--no-copies", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    for label in summary["columns"]:
        assert 0 <= summary["metrics"][label]["jazz_probability"] <= 1, label


def test_alarms_fire_on_a_column_that_pleases_the_reward_but_not_the_texture():
    real = [piece_from_arrays(np.arange(16) * 2, [2] * 16, 60 + np.arange(16) % 5, tpq=4) for _ in range(20)]
    pads = [piece_from_arrays([0, 0, 0, 8, 8, 8], [8] * 6, [48, 52, 55, 50, 53, 57], tpq=4) for _ in range(20)]
    hacked = Column("hacked", pads, extra={"jazz_probability": 0.93, "judge/p_jazz": 0.40})
    reference = Column("real", real, extra={"jazz_probability": 0.82, "judge/p_jazz": 0.80})
    found = summarise([hacked], reference)["alarms"]
    assert any("above real music's own 0.82" in a for a in found)
    assert any("disagree by more than 0.3" in a for a in found)
    assert any(a.startswith("hacked: onsets_per_beat lies outside") and "100% of pieces" in a for a in found)
    honest = Column("honest", real, extra={"jazz_probability": 0.80, "judge/p_jazz": 0.70})
    assert summarise([honest], reference)["alarms"] == []

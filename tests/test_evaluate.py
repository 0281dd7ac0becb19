import json
import math
import shutil

import torch
import torch.nn.functional as F

from policies import load_policy
from rlmusic.checkpoint import load_checkpoint
from rlmusic.cli import main
from rlmusic.evaluate import Column, mean_nll, summarise
from rlmusic.metrics import METRICS
from rlmusic.midi_io import find_midi_files
from rlmusic.music import piece_from_arrays


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
    assert len(list((tmp_path / "plots").glob("*.png"))) == len(METRICS)
    assert (tmp_path / "m.csv").read_text().startswith("metric,")
    # The same seed gives the same samples and so the same table.
    assert main(argv[:-6] + ["--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"][run_label] == summary["metrics"][run_label]


def test_folder_of_identical_pieces_overlaps_itself():
    p = piece_from_arrays([0, 4, 8, 12], [4] * 4, [60, 64, 67, 72], tpq=4)
    q = piece_from_arrays([0, 4, 8, 12], [4] * 4, [60, 62, 64, 66], tpq=4)
    a = Column("a", [p, q] * 5)
    s = summarise([a], Column("ref", [p, q] * 5))
    assert s["overlap_with_reference"]["a"]["pitch_range"] > 0.99
    assert s["metrics"]["a"]["distinct_4"] == 2 / 10  # two distinct 4-grams among ten


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

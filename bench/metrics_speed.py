"""Metrics speed against MusPy on real files (identical values required), and reward cost per batch.

    python bench/metrics_speed.py [--files 300] [--json out.json]

1. MusPy's own functions on ``muspy.Music`` objects vs rlmusic's on ``Piece`` s built from
   symusic scores (building the piece is counted on our side), over every 45th file of the
   embedded corpus (folk tunes and Bach chorales). Also end to end, reading the files included.
   Every value is compared; the script fails if one differs by more than 1e-6.
2. The texture metrics, every metric, and the independent judge on the same pieces, against
   the ten MusPy metrics (ours): what the new columns of ``rlmusic metrics`` cost.
3. All registered rewards on a batch of 32 x 256 real tokens (decoding included), against the
   time the tiny policy takes to sample 32 x 256 tokens: a floor for one PPO step's cost.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import muspy  # noqa: E402
import symusic  # noqa: E402
import torch  # noqa: E402

from bench.timing import best_of  # noqa: E402
from rewards import REWARDS  # noqa: E402
from rlmusic.config.sections import DataConfig, ModelConfig, SampleConfig, TokenizerConfig  # noqa: E402
from rlmusic.data.corpus import prepare_corpus  # noqa: E402
from rlmusic.data.embedded import build_default_midi  # noqa: E402
from rlmusic.data.midi_io import find_midi_files  # noqa: E402
from rlmusic.data.tokens import special_ids  # noqa: E402
from rlmusic.models.judge import features as judge_features  # noqa: E402
from rlmusic.models.policy import sample  # noqa: E402
from rlmusic.music import metrics as M  # noqa: E402
from rlmusic.music.piece import piece_from_score  # noqa: E402
from rlmusic.music.texture import TEXTURE_METRICS  # noqa: E402
from rlmusic.reward_contract import RewardBatch, build_reward  # noqa: E402
from rlmusic.tracking import quiet_libraries  # noqa: E402

NAMES = ["pitch_class_entropy", "pitch_entropy", "scale_consistency", "empty_beat_rate", "polyphony",
         "polyphony_rate", "pitch_range", "n_pitches_used", "n_pitch_classes_used"]


def muspy_all(music) -> list[float]:
    return [getattr(muspy, n)(music) for n in NAMES] + [muspy.groove_consistency(music, 4 * music.resolution)]


def ours_all(piece) -> list[float]:
    return [getattr(M, n)(piece) for n in NAMES] + [M.groove_consistency(piece, 4 * piece.tpq)]



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    quiet_libraries()
    torch.set_num_threads(1)
    folder = build_default_midi(DataConfig())
    # the folk tunes and chorales: MMA's renders carry drums, which MusPy's pitch metrics count and ours leave out
    files = [f for f in find_midi_files(folder) if "mma" not in f.relative_to(folder).parts][::45][: args.files]
    musics = [muspy.read_midi(str(f)) for f in files]
    scores = [symusic.Score(str(f)) for f in files]

    # --- identical values
    worst = 0.0
    for f, music, score in zip(files, musics, scores):
        for name, a, b in zip(NAMES + ["groove_consistency"], muspy_all(music), ours_all(piece_from_score(score))):
            if math.isnan(a) != math.isnan(b) or (not math.isnan(a) and abs(a - b) > 1e-6):
                raise SystemExit(f"value differs: {f.name} {name}: muspy {a} vs rlmusic {b}")
            if not math.isnan(a):
                worst = max(worst, abs(a - b))

    # --- speed: metrics only, then with reading the files
    t_muspy = best_of(lambda: [muspy_all(m) for m in musics], args.repeats)
    t_ours = best_of(lambda: [ours_all(piece_from_score(s)) for s in scores], args.repeats)
    t_muspy_io = best_of(lambda: [muspy_all(muspy.read_midi(str(f))) for f in files], args.repeats)
    t_ours_io = best_of(lambda: [ours_all(piece_from_score(symusic.Score(str(f)))) for f in files], args.repeats)
    print(f"{len(files)} real MIDI files, {len(NAMES) + 1} MusPy metrics each; max |difference| {worst:.1e}")
    print(f"  metrics only:   MusPy {t_muspy * 1e3:8.1f} ms   rlmusic {t_ours * 1e3:7.1f} ms   ratio {t_muspy / t_ours:5.1f}x")
    print(f"  reading files:  MusPy {t_muspy_io * 1e3:8.1f} ms   rlmusic {t_ours_io * 1e3:7.1f} ms   "
          f"ratio {t_muspy_io / t_ours_io:5.1f}x")

    # --- the new metrics on the same pieces, against the ten MusPy ones (ours)
    # fresh pieces every repeat (building them counted in each), so no repeat reads the piano
    # roll, melody or chords that a Piece caches from the one before
    def fresh():
        return [piece_from_score(s) for s in scores]

    t_muspy10 = best_of(lambda: [ours_all(p) for p in fresh()], args.repeats)
    t_texture = best_of(lambda: [[fn(p) for fn in TEXTURE_METRICS.values()] for p in fresh()], args.repeats)
    t_every = best_of(lambda: [M.evaluate_piece(p) for p in fresh()], args.repeats)
    t_judge = best_of(lambda: [judge_features(p) for p in fresh()], args.repeats)
    print(f"  on {len(scores)} pieces: the ten MusPy metrics {t_muspy10 * 1e3:.1f} ms; {len(TEXTURE_METRICS)} texture "
          f"metrics {t_texture * 1e3:.1f} ms ({t_texture / t_muspy10:.1f}x); all {len(M.METRICS)} metrics "
          f"{t_every * 1e3:.1f} ms ({t_every / t_muspy10:.1f}x); judge features {t_judge * 1e3:.1f} ms "
          f"({t_judge / t_muspy10:.1f}x); MusPy's ten {t_muspy * 1e3:.0f} ms")

    # --- rewards on 32 x 256 real tokens vs sampling 32 x 256 tokens with the tiny policy
    tok, corpus = prepare_corpus(DataConfig(), TokenizerConfig(), progress=False)
    sp = special_ids(tok)
    stream = corpus.stream("val", sp["bos"], sp["eos"])
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(stream) - 257, 32)
    ids = [[int(i) for i in stream[s : s + 256] if i not in (sp["bos"], sp["eos"])] for s in starts]
    names = [n + "onsets_per_beat" if n.endswith(":") else n for n in REWARDS if n != "jazz_clf"]
    ref = fresh()  # metric_match's target: the real pieces above
    reference = {n: [fn(p) for p in ref] for n, fn in M.METRICS.items()}
    all_rewards = build_reward(",".join(names), REWARDS, bands={n: (0.5, 2.0) for n in M.METRICS},
                               reference_metrics=reference)
    t_reward = best_of(lambda: all_rewards(RewardBatch(ids, tok)), args.repeats)
    t_decode = best_of(lambda: RewardBatch(ids, tok).decoded, args.repeats)
    from policies import build_policy

    torch.manual_seed(0)
    policy = build_policy(ModelConfig(n_layer=4, n_head=4, n_embd=128, block_size=512), len(tok), sp)
    prompts = torch.full((32, 1), sp["bos"], dtype=torch.long)
    t_sample = best_of(lambda: sample(policy, prompts, SampleConfig(max_new_tokens=256, top_k=20),
                                      torch.Generator().manual_seed(0), stop_at_eos=False), 1)
    print(f"rewards ({len(all_rewards.names)}, jazz_clf aside) on 32 x 256 tokens: {t_reward * 1e3:.1f} ms "
          f"(decoding {t_decode * 1e3:.1f} ms); "
          f"sampling 32 x 256 tokens with the tiny policy: {t_sample * 1e3:.0f} ms; "
          f"rewards / sampling = {t_reward / t_sample:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "files": len(files), "max_abs_difference": worst, "muspy_s": t_muspy, "rlmusic_s": t_ours,
            "ratio": t_muspy / t_ours, "muspy_with_io_s": t_muspy_io, "rlmusic_with_io_s": t_ours_io,
            "ratio_with_io": t_muspy_io / t_ours_io, "muspy_ten_ours_s": t_muspy10, "texture_s": t_texture,
            "all_metrics_s": t_every, "judge_features_s": t_judge, "reward_batch_s": t_reward, "decode_batch_s": t_decode,
            "sample_batch_s": t_sample, "reward_over_sampling": t_reward / t_sample}, indent=2))


if __name__ == "__main__":
    main()

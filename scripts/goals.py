"""The PPO goals, read from `rlmusic metrics --json` files (pretrained column first, then the run).

    python scripts/goals.py RUN.json [RUN.json ...]

Goals (on measures the reward never sees, against the reference column, real jazz):
the judge's mean P(jazz) rises by at least 0.3 over the pretrained policy; onsets per beat,
notes per bar and polyphony inside real jazz's 5th-95th band for at least 60% of samples.
Prints one row per file: the judge before/after, the reward's P(jazz), the three band shares
(and the share inside all three at once), the two-sample AUC and Fréchet distance to real
jazz, the longest copied run in bars, and which goals are met.
"""

from __future__ import annotations

import json
import sys

import numpy as np

TEXTURE = ("onsets_per_beat", "notes_per_bar", "polyphony")


def row(path: str) -> dict:
    d = json.loads(open(path).read())
    before, after, ref = d["columns"][0], d["columns"][1], d["reference"]
    m, bands, per = d["metrics"], d["bands"], d["per_piece"]
    inside = {k: d["inside_reference_band"][after][k] for k in TEXTURE}
    values = np.array([per[after][k] for k in TEXTURE], float)  # (3, pieces)
    low = np.array([bands[k][0] for k in TEXTURE])[:, None]
    high = np.array([bands[k][1] for k in TEXTURE])[:, None]
    all_three = float(np.mean(((values >= low) & (values <= high)).all(0)))
    judge_gain = m[after]["judge/p_jazz"] - m[before]["judge/p_jazz"]
    return {"run": path, "judge": (m[before]["judge/p_jazz"], m[after]["judge/p_jazz"], m[ref]["judge/p_jazz"]),
            "reward_p_jazz": (m[before].get("jazz_probability"), m[after].get("jazz_probability"),
                              m[ref].get("jazz_probability")),
            "inside": inside, "all_three": all_three, "auc": d["distance_to_reference"][after]["two_sample_auc"],
            "frechet": d["distance_to_reference"][after]["frechet"], "copy_bars": m[after].get("copy/longest_bars"),
            "goal_judge": judge_gain >= 0.3, "goal_texture": all(v >= 0.6 for v in inside.values()),
            "alarms": [a for a in d["alarms"] if a.startswith(after)]}


def main() -> None:
    for path in sys.argv[1:]:
        r = row(path)
        j, p = r["judge"], r["reward_p_jazz"]
        print(f"{r['run']}\n  judge P(jazz) {j[0]:.3f} -> {j[1]:.3f} (real {j[2]:.3f}); reward P(jazz) "
              f"{p[0]:.3f} -> {p[1]:.3f} (real {p[2]:.3f})\n  inside real jazz's band: "
              + ", ".join(f"{k} {v:.0%}" for k, v in r["inside"].items())
              + f", all three {r['all_three']:.0%}\n  two-sample AUC {r['auc']:.3f}, Frechet {r['frechet']:.1f}, "
              f"longest copy {r['copy_bars']} bars\n  goals: judge +0.3 {'met' if r['goal_judge'] else 'NOT met'}, "
              f"texture 60% {'met' if r['goal_texture'] else 'NOT met'}; alarms: {len(r['alarms'])}")
        for a in r["alarms"]:
            print(f"    {a}")


if __name__ == "__main__":
    main()

"""The PPO goals, read from `rlmusic metrics --json` files (the last two policy columns: the prior PPO
started from, then the run).

    python scripts/goals.py RUN.json [RUN.json ...]

Goals (on measures the reward never sees, against the reference column, real jazz): the
judge's mean P(jazz) rises by at least 0.3 over the pretrained policy; onsets per beat, notes
per bar and polyphony inside real jazz's 5th-95th band for at least 60% of samples;
overlap/mean at least 0.60 and the Fréchet distance at most half the pretrained policy's; the
reward's P(jazz) not above real jazz's; repeated notes at most 0.5%; distinct-4 at least 0.8
of the pretrained policy's; no sample copying 8 bars of the corpus; every sample at least 8
bars. Prints per file the figures behind each goal, whether it is met, the alarms, and the
metrics that tell the run's samples from real jazz most on their own (what the two-sample AUC is
made of).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlmusic.evaluate.distance import separating_metrics  # noqa: E402

TEXTURE = ("onsets_per_beat", "notes_per_bar", "polyphony")


def row(path: str) -> dict:
    d = json.loads(open(path).read())
    ref = d["reference"]
    # the last two policies: the prior PPO started from and the run (a demo may measure a first prior before them)
    before, after = [c for c in d["columns"] if c != ref][-2:]
    m, bands, per, dist = d["metrics"], d["bands"], d["per_piece"], d["distance_to_reference"]
    inside = {k: d["inside_reference_band"][after][k] for k in TEXTURE}
    values = np.array([per[after][k] for k in TEXTURE], float)  # (3, pieces)
    low = np.array([bands[k][0] for k in TEXTURE])[:, None]
    high = np.array([bands[k][1] for k in TEXTURE])[:, None]
    all_three = float(np.mean(((values >= low) & (values <= high)).all(0)))
    a, b, r = m[after], m[before], m[ref]
    goals = {
        "judge +0.3": a["judge/p_jazz"] - b["judge/p_jazz"] >= 0.3,
        "texture 60%": all(v >= 0.6 for v in inside.values()),
        "overlap 0.60": dist[after]["overlap_mean"] >= 0.6,
        "Frechet halved": dist[after]["frechet"] <= dist[before]["frechet"] / 2,
        "reward <= real": a["jazz_probability"] <= r["jazz_probability"],
        "repeated <= 0.5%": a["repeated_notes"] <= 0.005,
        "distinct-4 0.8x": a["distinct_4"] >= 0.8 * b["distinct_4"],
        # None: not measured (`rlmusic metrics --no-copies`)
        "no 8-bar copy": a["copy/share_8_bars"] == 0 if "copy/share_8_bars" in a else None,
        "8 bars": a["length/share_8_bars"] == 1,
    }
    # the gain's standard error, where the metrics recorded each mean's (a draw of 64 leaves about 0.05)
    se = float(np.hypot(a.get("judge/p_jazz_se", np.nan), b.get("judge/p_jazz_se", np.nan)))
    return {"run": path, "judge": (b["judge/p_jazz"], a["judge/p_jazz"], r["judge/p_jazz"]), "judge_gain_se": se,
            "reward_p_jazz": (b["jazz_probability"], a["jazz_probability"], r["jazz_probability"]),
            "inside": inside, "all_three": all_three, "auc": dist[after]["two_sample_auc"],
            "frechet": (dist[before]["frechet"], dist[after]["frechet"]),
            "overlap": (dist[before]["overlap_mean"], dist[after]["overlap_mean"]),
            "unseen": (dist[before].get("overlap_unseen"), dist[after].get("overlap_unseen")),
            "bars": (a["length/median_bars"], a["length/share_8_bars"]), "copy_bars": a.get("copy/longest_bars", float("nan")),
            "goals": goals, "alarms": [x for x in d["alarms"] if x.startswith(after)],
            # rlmusic metrics writes them; a JSON from before it did is measured here
            "separating": (d.get("separating_metrics") or {}).get(after)
            or separating_metrics(per[after], per[ref], sorted(set(per[after]) & set(per[ref])))}


def main() -> None:
    for path in sys.argv[1:]:
        r = row(path)
        j, p, f, o, u = r["judge"], r["reward_p_jazz"], r["frechet"], r["overlap"], r["unseen"]
        unseen = f", overlap/unseen {u[0]:.3f} -> {u[1]:.3f}" if u[1] is not None else ""
        gain = f"gain {j[1] - j[0]:+.3f}" + (f" +/- {r['judge_gain_se']:.3f}" if np.isfinite(r["judge_gain_se"]) else "")
        print(f"{r['run']}\n  judge P(jazz) {j[0]:.3f} -> {j[1]:.3f} ({gain}; real {j[2]:.3f}); reward P(jazz) "
              f"{p[0]:.3f} -> {p[1]:.3f} (real {p[2]:.3f})\n  inside real jazz's band: "
              + ", ".join(f"{k} {v:.0%}" for k, v in r["inside"].items())
              + f", all three {r['all_three']:.0%}\n  overlap/mean {o[0]:.3f} -> {o[1]:.3f}{unseen}; Frechet "
              f"{f[0]:.1f} -> {f[1]:.1f}; two-sample AUC {r['auc']:.3f}\n  bars: median {r['bars'][0]:.0f}, "
              f"{r['bars'][1]:.0%} at least 8; longest copy {r['copy_bars']:.0f} bars\n  goals: "
              + ", ".join(f"{k} {'not measured' if v is None else 'met' if v else 'NOT met'}"
                          for k, v in r["goals"].items())
              + "\n  alone, the metrics that tell it from real jazz most (AUC): "
              + ", ".join(f"{k} {v:.2f}" for k, v in r["separating"][:8])
              + f"\n  alarms: {len(r['alarms'])}")
        for a in r["alarms"]:
            print(f"    {a}")


if __name__ == "__main__":
    main()

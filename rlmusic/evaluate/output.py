"""The summary of ``rlmusic metrics`` as people and other tools read it: a table on stdout,
JSON, CSV, and one distribution plot per metric."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from rlmusic.music.metrics import METRICS


def sampling_line(sampling: dict) -> str:
    """How the sampled columns were drawn, in one line."""
    cut = "".join([f", top-k {sampling['top_k']}" if sampling.get("top_k") else "",
                   f", top-p {sampling['top_p']:g}" if sampling.get("top_p", 1.0) < 1.0 else ""])
    return (f"sampled: {sampling['num']} pieces of {sampling['max_new_tokens']} new tokens at temperature "
            f"{sampling['temperature']:g}{cut}, seed {sampling['seed']}")


def format_table(summary: dict) -> str:
    """A fixed-width table: one row per metric, one column per input (reference last)."""
    labels = summary["columns"]
    rows = list(next(iter(summary["metrics"].values())).keys()) if summary["metrics"] else []
    extra_rows = sorted({k for t in summary["metrics"].values() for k in t} - set(rows))
    width = max([14] + [len(label) for label in labels])
    name_w = max(len(r) for r in rows + extra_rows + [f"overlap/{m}" for m in METRICS] + [f"band/{m}" for m in METRICS]) + 2

    def fmt(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-".rjust(width)
        return (f"{v:.0f}" if float(v).is_integer() and abs(v) >= 10 else f"{v:.4f}").rjust(width)

    header = "metric".ljust(name_w) + "  ".join(label.rjust(width) for label in labels)
    lines = [sampling_line(summary["sampling"]), ""] if summary.get("sampling") else []
    if summary.get("distance_to_reference"):
        dist = summary["distance_to_reference"]
        lines += [f"distance to {summary['reference']} (whole metric vector; lower is closer, AUC 0.5 = "
                  f"indistinguishable)", header, "-" * len(header)]
        for r, what in (("two_sample_auc", "classifier two-sample AUC"), ("frechet", "Frechet distance"),
                        ("overlap_mean", "overlap/mean (higher is closer)"),
                        ("overlap_unseen", "overlap/unseen (no reward's)")):
            if any(r in dist.get(c, {}) for c in labels):
                lines.append(what.ljust(name_w) + "  ".join(fmt(dist.get(c, {}).get(r)) for c in labels))
        for c, ranked in (summary.get("separating_metrics") or {}).items():  # what the AUC is made of
            lines.append(f"{c}: alone, the metrics that tell it from {summary['reference']} most (AUC): "
                         + ", ".join(f"{n} {a:.2f}" for n, a in ranked[:5]))
        lines.append("")
    if summary.get("alarms"):
        lines += [f"ALARM {a}" for a in summary["alarms"]] + [""]
    lines += [header, "-" * len(header)]
    for r in rows + extra_rows:
        lines.append(r.ljust(name_w) + "  ".join(fmt(summary["metrics"][c].get(r)) for c in labels))
    if summary["overlap_with_reference"]:
        lines.append("")
        lines.append(f"overlap with {summary['reference']} (1 = same distribution)")
        for r in list(METRICS) + ["mean"]:
            if r in next(iter(summary["overlap_with_reference"].values())):
                lines.append(f"overlap/{r}".ljust(name_w) + "  ".join(
                    fmt(summary["overlap_with_reference"].get(c, {}).get(r)) for c in labels))
    if summary.get("inside_reference_band"):
        lines.append("")
        lines.append(f"share of pieces inside {summary['reference']}'s 5th-95th band")
        for r in next(iter(summary["inside_reference_band"].values())):
            lines.append(f"band/{r}".ljust(name_w) + "  ".join(
                fmt(summary["inside_reference_band"].get(c, {}).get(r)) for c in labels))
    for label, skipped in summary["skipped"].items():
        lines.append(f"\n{label}: skipped {len(skipped)} file(s)")
        lines += [f"  {name}: {reason}" for name, reason in skipped[:20]]
        if len(skipped) > 20:
            lines.append(f"  ... and {len(skipped) - 20} more (see --json)")
    return "\n".join(lines)


def write_json(summary: dict, path: str | Path) -> None:
    def clean(x):
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    Path(path).write_text(json.dumps(clean(summary), indent=1))


def write_csv(summary: dict, path: str | Path) -> None:
    labels = summary["columns"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric"] + labels)
        for r in next(iter(summary["metrics"].values())):
            w.writerow([r] + [summary["metrics"][c].get(r) for c in labels])
        for section, prefix in (("distance_to_reference", "distance/"), ("overlap_with_reference", "overlap/"),
                                ("inside_reference_band", "band/")):
            rows = summary.get(section) or {}
            for r in (next(iter(rows.values())) if rows else {}):
                w.writerow([prefix + r] + [rows.get(c, {}).get(r, "") for c in labels])


def write_plots(summary: dict, folder: str | Path) -> list[Path]:
    """One PNG per metric: each column's distribution over its pieces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in METRICS:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for label in summary["columns"]:
            v = np.array([x for x in summary["per_piece"][label][name] if not math.isnan(x)])
            if len(v):
                lo, hi = float(v.min()), float(v.max())
                if hi - lo < 1e-9:  # one value: a single bar around it
                    lo, hi = lo - 0.5, hi + 0.5
                ax.hist(v, bins=30, range=(lo, hi), density=True, histtype="step", linewidth=1.5,
                        label=f"{label} (n={len(v)})")
        ax.set_title(name)
        ax.set_ylabel("density")
        if ax.get_legend_handles_labels()[0]:  # a metric undefined (NaN) on every piece draws nothing
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


# --- the `rlmusic metrics` stage -------------------------------------------------------------


def print_and_write(summary: dict, json_path: str = "", csv_path: str = "", plot_dir: str = "") -> None:
    """The table on stdout, and the files asked for."""
    print(format_table(summary))
    if json_path:
        write_json(summary, json_path)
        print(f"\njson: {json_path}")
    if csv_path:
        write_csv(summary, csv_path)
        print(f"csv: {csv_path}")
    if plot_dir:
        print(f"plots: {len(write_plots(summary, plot_dir))} PNG files in {plot_dir}")

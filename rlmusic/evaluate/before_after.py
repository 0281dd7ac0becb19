"""Before and after a run: measure both policies, listen to both, and write the report.

``rlmusic report`` (``report_folder``) and the demo's last two steps: ``rlmusic metrics`` on
the policy before and after PPO against real music (``measure``), samples as MIDI, WAV and
piano rolls with the run's curves (``listen``), and the pages (``report.md``, ``report.html``).
"""

from __future__ import annotations

import json
from pathlib import Path

from rlmusic.config.commands import MetricsOptions
from rlmusic.config.sections import SampleConfig
from rlmusic.errors import RLMusicError
from rlmusic.evaluate.output import sampling_line
from rlmusic.plugins import Plugins
from rlmusic.resources import CORPUS_JAZZ, SHIPPED_CLF

# The independent measures first (the reward never sees them), then what the reward scores.
DISTANCE_ROWS = [("two_sample_auc", "two-sample AUC vs real"), ("frechet", "Frechet distance"),
                 ("overlap_mean", "overlap/mean"), ("overlap_unseen", "overlap/unseen")]
SUMMARY_ROWS = ["judge/p_jazz", "judge/p_jazz_se", "chord_fit", "bass_on_root", "chord_changes_per_bar", "root_changes_per_bar",
                "chord_changes_on_strong_beats", "voice_leading", "melody_steps", "pitch_range", "n_pitch_classes_used",
                "length/median_bars", "onsets_per_beat", "notes_per_bar", "polyphony", "longest_silence",
                "bass_onsets_per_beat", "swing_ratio",
                "copy/longest_bars", "jazz_probability", "repeated_notes", "pitch_class_entropy", "scale_consistency",
                "distinct_4", "nll_under_reference", "dropped_tokens"]



def unseen_summary(cv: dict) -> str:
    """Grouped-CV figures for a line of text: balanced accuracy where the checkpoint recorded it
    (plain accuracy alone flatters: most held-out pieces are "other")."""
    bal = f", balanced {cv['balanced_accuracy']:.3f}" if "balanced_accuracy" in cv else ""
    return f"accuracy {cv['accuracy']:.3f}{bal}, ROC-AUC {cv['roc_auc']:.3f}"


def sample_config(num: int, tokens: int, seed: int = 0, bars: int = 0, temperature: float = 1.0) -> SampleConfig:
    """``num`` samples of ``tokens`` tokens (no EOS before them), so every sample is as long as the
    real windows it is compared with; one still short of ``bars`` bars then goes on to the bar
    line that closes them."""
    # 64 at a time: on 2 cores 64 x 640 tokens take 6.6 s so, 11.3 s 16 at a time
    return SampleConfig(num=num, max_new_tokens=tokens, min_new_tokens=tokens, batch_size=64, seed=seed,
                        min_bars=bars, temperature=temperature)


def measure(out: Path, policy_path: Path, run: Path, clf: Path, num: int, sample_tokens: int, config: str,
            reference: dict, plugins: Plugins, bars: int = 0, first: list[str] | None = None,
            temperature: float = 1.0) -> dict:
    """``rlmusic metrics`` before vs after into ``out`` (metrics.json, metrics.csv, plots/); the summary.
    ``first``: checkpoints measured before both (the prior a --target demo fine-tuned first)."""
    from rlmusic.evaluate.metrics_command import run_metrics
    from rlmusic.evaluate.output import print_and_write

    opts = MetricsOptions(paths=[*(first or []), str(policy_path), str(run)],
                          sample=sample_config(num, sample_tokens, bars=bars, temperature=temperature),
                          discriminator=str(clf), reference_model=str(policy_path), config=config, **reference)
    summary = run_metrics(opts, plugins.load_policy, plugins.rewards)
    print_and_write(summary, str(out / "metrics.json"), str(out / "metrics.csv"), str(out / "plots"))
    return json.loads((out / "metrics.json").read_text())  # as written: what report pages read back


def listen(out: Path, policy_path: Path, run: Path, n: int, sample_tokens: int, plugins: Plugins, bars: int = 0,
           temperature: float = 1.0):
    """``n`` samples before and after as MIDI, piano-roll PNG and WAV; the run's curves.
    Returns (samples, curves, goodhart, why there is no audio or '')."""
    from rlmusic.evaluate.report import audio_available, curves_png, goodhart_png, piano_roll_png, render_wav
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.generate import generate_pieces, write_pieces
    from rlmusic.music.piece import piece_from_score

    samples = {}
    sample_cfg = sample_config(n, sample_tokens, seed=1, bars=bars, temperature=temperature)
    for tag, path in (("before", policy_path), ("after", run)):
        ckpt = load_checkpoint(path, plugins.load_policy)
        pieces = generate_pieces(ckpt.policy, ckpt.tokenizer, sample_cfg)
        midis = write_pieces(pieces, out / "samples" / tag, prefix=tag)
        rolls = [piano_roll_png(piece_from_score(p.score), m.with_suffix(".png"), f"{tag}: {m.name}")
                 for p, m in zip(pieces, midis)]
        samples[tag] = {"midi": midis, "png": rolls, "wav": []}
    audio_note = audio_available()
    if audio_note:
        print(f"no audio: {audio_note}")
    else:
        for tag in samples:
            samples[tag]["wav"] = [render_wav(m, m.with_suffix(".wav")) for m in samples[tag]["midi"]]
    return samples, curves_png(run, out / "curves.png"), goodhart_png(run, out / "goodhart.png"), audio_note


def intro(reward: str, refresh_from: str = "") -> str:
    coevolving = f", the discriminator co-evolving with it on {refresh_from}" if refresh_from else ""
    return (f"The pretrained policy, then the same policy after PPO against {reward}{coevolving}, judged on the "
            "same metrics as real music (the embedded corpus's jazz, or your --data folder).")


def refresh_of(ppo: dict) -> str:
    """What a finetune config's discriminator co-evolved on ("" when it stayed frozen)."""
    return ppo.get("refresh_from", "jazz_set") if ppo.get("refresh_every") else ""


def scramble_line(meta: dict, what: str) -> list[str]:
    """The scramble test a model's checkpoint recorded: does it hear structure, or only texture?"""
    from rlmusic.music.scramble import format_scramble

    result = meta.get("scramble_test") or {}
    return [f"{what} {format_scramble(result, 'its held-out jazz')}."] if result else \
        [f"{what} recorded no scramble test (trained before it existed): it may hear only texture."]


def discriminator_lines(clf_meta: dict) -> list[str]:
    test, cv = clf_meta.get("test") or {}, clf_meta.get("grouped_cv") or {}
    return [f"The discriminator (the reward): held-out accuracy {test.get('accuracy', float('nan')):.3f}, ROC-AUC "
            f"{test.get('roc_auc', float('nan')):.3f}" + (f"; on unseen groove families {unseen_summary(cv)}" if cv else "")
            + ".", *scramble_line(clf_meta, "The discriminator's")]


def summary_table(summary: dict) -> str:
    cols = summary["columns"]
    widths = [max(16, len(c) + 2) for c in cols]  # a long label never runs into its neighbour

    def line(title: str, vals) -> str:
        return title.ljust(24) + "".join(("-" if v is None else f"{v:.4f}").rjust(w) for v, w in zip(vals, widths))

    lines = [sampling_line(summary["sampling"])] if summary.get("sampling") else []  # report.md says it too
    lines.append("".ljust(24) + "".join(c.rjust(w) for c, w in zip(cols, widths)))
    dist = summary.get("distance_to_reference") or {}
    for key, title in DISTANCE_ROWS if dist else []:
        vals = [dist.get(c, {}).get(key) for c in cols]
        if any(v is not None for v in vals):
            lines.append(line(title, vals))
    for row in SUMMARY_ROWS:
        vals = [summary["metrics"][c].get(row) for c in cols]
        if any(v is not None for v in vals):
            lines.append(line(row, vals))
    return "\n".join(lines)


def judge_lines() -> list[str]:
    """The independent judge's own figures, beside the discriminator's."""
    from rlmusic.models.judge import Judge
    from rlmusic.resources import SHIPPED_JUDGE

    if not SHIPPED_JUDGE.exists():
        return []
    meta = Judge.load(SHIPPED_JUDGE).meta
    h, cv = meta.get("held_out") or {}, meta.get("grouped_cv") or {}
    line = (f"The independent judge (features and gradient-boosted trees, never a reward): on its own held-out "
            f"pieces accuracy {h.get('accuracy', float('nan')):.3f}, ROC-AUC {h.get('roc_auc', float('nan')):.3f}")
    return [line + (f"; on unseen groove families {unseen_summary(cv)}" if cv else "") + ".",
            *scramble_line(meta, "The judge's"), ""]


def write_report(out: Path, reward: str, summary: dict, samples: dict, curves: Path, clf_meta: dict, timings: dict,
                 audio_note: str, goodhart: Path | None = None, refresh_from: str = "") -> Path:
    def rel(p: Path) -> str:
        return str(Path(p).relative_to(out))

    test = clf_meta.get("test") or {}
    cv = clf_meta.get("grouped_cv") or {}
    lines = ["# rlmusic demo report", "",
             f"The tiny pretrained policy, then the same policy after PPO against `{reward}`"
             + (f" (the discriminator co-evolving with it on `{refresh_from}`)" if refresh_from else "")
             + ", judged on the same metrics as real music (the embedded corpus's jazz arrangements, or your "
             "`--data` folder).", "",
             "## Against real music", "",
             "First the measures the reward never sees: how far each column is from real music on the whole "
             "metric vector (a classifier two-sample AUC, 0.5 = indistinguishable; a Fréchet distance on "
             "standardised metrics, comparable between columns of the same size only; the mean overlap of "
             "the per-metric distributions), the independent judge's P(jazz), texture and copying; then "
             "the discriminator's P(jazz), which is the reward, and the other rewarded metrics.", "",
             "```", summary_table(summary), "```", ""]
    if summary.get("alarms"):
        lines += ["Hacking alarms:", ""] + [f"- {a}" for a in summary["alarms"]] + [""]
    lines += ["Full table (every metric, overlap with real data, share inside real music's band): "
             "`metrics.json`, `metrics.csv`; one distribution plot per metric in `plots/`.", "",
             "## Training curves", "", f"![reward and KL]({rel(curves)})", ""]
    if goodhart is not None:
        lines += ["The reward's P(jazz) against the independent judge's, per update:", "",
                  f"![reward vs judge]({rel(goodhart)})", ""]
    lines += ["## Discriminator", "",
              f"Held-out accuracy {test.get('accuracy', float('nan')):.3f}, ROC-AUC {test.get('roc_auc', float('nan')):.3f}"
              + (f"; on groove families never seen in training {unseen_summary(cv)}" if cv else "")
              + ".", "", *scramble_line(clf_meta, "The discriminator's"), ""] + judge_lines() + ["## Listen", ""]
    if audio_note:
        lines += [f"(No audio: {audio_note}.)", ""]
    for tag in ("before", "after"):
        lines += [f"### {tag}", ""]
        for i, midi in enumerate(samples[tag]["midi"]):
            wav = samples[tag]["wav"][i] if samples[tag]["wav"] else None
            lines.append(f"- [{midi.name}]({rel(midi)})" + (f" · [{wav.name}]({rel(wav)})" if wav else ""))
            lines.append(f"  ![{midi.stem}]({rel(samples[tag]['png'][i])})")
        lines.append("")
    lines += ["## Time", ""] + [f"- {k}: {v:.0f} s" for k, v in timings.items()]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def report_folder(folder: Path, plugins: Plugins, num: int = 32, sample_tokens: int = 640, listen_n: int = 4,
                  config: str = "tiny", sample_bars: int = 8) -> Path:
    """``rlmusic report``: a demo folder's report.html rebuilt from its files, or, for a finetune
    run, metrics before (its reference policy) vs after, samples and the page in ``RUN/report/``."""
    from rlmusic.evaluate.html_report import write_html
    from rlmusic.models.checkpoint import list_checkpoints, read_meta

    folder = Path(folder)
    if (folder / "metrics.json").is_file() and (folder / "samples").is_dir():
        samples = {}
        for tag in ("before", "after"):
            midis = sorted((folder / "samples" / tag).glob("*.mid"))
            samples[tag] = {"midi": midis, "png": [m.with_suffix(".png") for m in midis],
                            "wav": [m.with_suffix(".wav") for m in midis if m.with_suffix(".wav").is_file()]}
        summary = json.loads((folder / "metrics.json").read_text())
        return write_html(folder, "rlmusic report", "Before and after PPO, against real music.", summary, samples,
                          folder / "curves.png", folder / "goodhart.png", folder / "plots")
    ckpts = list_checkpoints(folder)
    meta = read_meta(ckpts[-1]) if ckpts else {}
    if meta.get("stage") != "finetune":
        raise RLMusicError(f"{folder} is neither a demo folder (metrics.json, samples/) nor a finetune run; "
                           f"pass the folder `rlmusic demo --out` or `rlmusic finetune --out` wrote")
    out = folder / "report"
    out.mkdir(exist_ok=True)
    policy_path, clf = Path(meta["reference"]), Path(meta.get("discriminator") or SHIPPED_CLF)
    selection = meta["config"]["ppo"].get("bands_from") or CORPUS_JAZZ
    summary = measure(out, policy_path, folder, clf, num, sample_tokens, config, {"reference_from": selection},
                      plugins, bars=sample_bars)
    samples, curves, goodhart, _ = listen(out, policy_path, folder, listen_n, sample_tokens, plugins, bars=sample_bars)
    what = intro(meta.get("reward_spec", "its rewards"), refresh_of(meta["config"]["ppo"]))
    return write_html(out, f"rlmusic report: {folder.name}", what, summary,
                      samples, curves, goodhart, out / "plots", notes=discriminator_lines(read_meta(clf)) + judge_lines())

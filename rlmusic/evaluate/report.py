"""Things a person would rather see and hear than read: WAV audio, piano rolls, training curves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from rlmusic.errors import RLMusicError
from rlmusic.music.piece import Piece
from rlmusic.tracking import read_metrics

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/default-GM.sf2")


def find_soundfont() -> Path | None:
    for p in SOUNDFONTS:
        if Path(p).is_file():
            return Path(p)
    return None


def audio_available() -> str:
    """'' when fluidsynth and a General MIDI soundfont are installed, else what to install."""
    missing = [] if shutil.which("fluidsynth") else ["fluidsynth"]
    if find_soundfont() is None:
        missing.append("fluid-soundfont-gm")
    return "" if not missing else f"audio needs Debian's {' and '.join(missing)}: apt-get install {' '.join(missing)}"


def render_wav(midi: str | Path, wav: str | Path, sample_rate: int = 44100) -> Path:
    """Render a MIDI file to a stereo WAV with fluidsynth and the FluidR3 General MIDI soundfont."""
    why = audio_available()
    if why:
        raise RLMusicError(why)
    wav = Path(wav)
    wav.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(sample_rate), str(find_soundfont()),
                        str(midi)], capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not wav.is_file():
        raise RLMusicError(f"fluidsynth could not render {midi}: {(r.stderr or r.stdout).strip()[:200]}")
    return wav


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(plt, fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def piano_roll_png(piece: Piece, path: str | Path, title: str = "", mark: int | None = None) -> Path:
    """Notes as horizontal bars (time in quarter notes, pitch vertical), bar lines dotted;
    ``mark`` (ticks): where a prompt ends, a red line, the prompt's notes grey."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    idx = piece.pitched
    t, d, p = piece.time[idx] / piece.tpq, piece.duration[idx] / piece.tpq, piece.pitch[idx]
    colour = np.where(t < mark / piece.tpq, "#9a9a9a", "#3b6fb6") if mark is not None else "#3b6fb6"
    ax.barh(p, np.maximum(d, 0.05), left=t, height=0.8, color=colour, edgecolor="none")
    if mark is not None:
        ax.axvline(mark / piece.tpq, color="#c0392b", linewidth=1.5, zorder=3)
        ax.text(mark / piece.tpq, 1.01, " continuation", color="#c0392b", fontsize=8, transform=ax.get_xaxis_transform())
    end = max(float((t + d).max()) if len(t) else 1.0, 1.0)
    bar = piece.bar_ticks / piece.tpq
    for x in np.arange(0, end + bar, bar):
        ax.axvline(x, color="0.85", linewidth=0.6, zorder=0)
    ax.set_xlim(0, end)
    if len(p):
        ax.set_ylim(p.min() - 2, p.max() + 2)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title, fontsize=9)
    return _save_figure(plt, fig, path)


def curves_png(run_dir: str | Path, path: str | Path) -> Path:
    """Reward (total and per reward) and KL per update from a fine-tuning run's metrics.jsonl."""
    plt = _plt()
    rows = [r for r in read_metrics(run_dir) if "reward/total" in r]
    if not rows:
        raise RLMusicError(f"no fine-tuning metrics in {run_dir}/metrics.jsonl")
    steps = [r["step"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(steps, [r["reward/total"] for r in rows], label="total", linewidth=2)
    for k in sorted(k for k in rows[0] if k.startswith("reward/") and not k.endswith("_weighted") and k != "reward/total"):
        a.plot(steps, [r.get(k) for r in rows], label=k.split("/", 1)[1], linewidth=1)
    a.set_xlabel("update")
    a.set_title("reward")
    a.legend(fontsize=8)
    b.plot(steps, [r["objective/kl"] for r in rows], color="#b63b3b")
    b.set_xlabel("update")
    b.set_title("KL to the pretrained policy (nats per sample)")
    return _save_figure(plt, fig, path)


def goodhart_png(run_dir: str | Path, path: str | Path) -> Path | None:
    """The reward's P(jazz) (the discriminator) against the independent judge's, per update: where
    the first keeps rising and the second does not, the policy is optimising the reward, not the
    music (Goodhart's law). None when the run logged no judge."""
    rows = [r for r in read_metrics(run_dir) if "reward/jazz_clf" in r and "judge/p_jazz" in r]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["reward/jazz_clf"] for r in rows], label="discriminator P(jazz) (the reward)", linewidth=2)
    ax.plot(steps, [r["judge/p_jazz"] for r in rows], label="independent judge P(jazz) (never a reward)", linewidth=2)
    refreshed = [r for r in rows if "clf/refresh_p_jazz_after" in r]
    if refreshed:  # each refresh: the samples', held-out real jazz's and its scrambled copies' P(jazz)
        at = [r["step"] for r in refreshed]
        ax.scatter(at, [r["clf/refresh_p_jazz_after"] for r in refreshed], s=14, color="0.4",
                   label="after a refresh: the samples", zorder=3)
        for key, colour, what in (("clf/refresh_real_jazz", "#2e8b57", "held-out real jazz"),
                                  ("clf/refresh_scrambled_jazz", "#c0392b", "the same jazz scrambled")):
            if all(key in r for r in refreshed):
                ax.scatter(at, [r[key] for r in refreshed], s=14, marker="^", color=colour,
                           label=f"after a refresh: {what}", zorder=3)
    ax.set_ylim(0, 1)
    ax.set_xlabel("update")
    ax.set_title("reward vs judge: where over-optimisation starts")
    ax.legend(fontsize=8)
    return _save_figure(plt, fig, path)

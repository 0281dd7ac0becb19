"""The default labelled jazz / not-jazz set: what it holds, where it is cached, how it is built.

The MMA grooves and charts live in :mod:`rlmusic.data.jazz_data`; this module adds the real jazz
standards (:mod:`rlmusic.data.irb`) and the folk/Bach negatives of the embedded corpus, so
``rlmusic data jazz``, ``train-clf``, ``train-judge`` and the co-evolving discriminator all
read the same cached folder.
"""

from __future__ import annotations

from pathlib import Path

from rlmusic.config.commands import JazzSetSpec
from rlmusic.config.sections import DataConfig
from rlmusic.data.corpus import cache_root
from rlmusic.data.embedded import build_default_midi
from rlmusic.data.irb import load_tunes, tune_split
from rlmusic.data.jazz_data import DATA_VERSION, build_jazz_set


def default_set_dir(spec: JazzSetSpec) -> Path:
    """The cache folder of the set ``spec`` describes (its counts and whether the iRb standards were there)."""
    folk = (0, 0) if spec.no_folk else (spec.folk_train, spec.folk_test)
    counts = f"{spec.train_per_style}-{spec.test_per_style}-{folk[0]}-{folk[1]}"
    irb = "" if load_tunes(cache_root(DataConfig())) else "-no-irb"
    return cache_root(DataConfig()) / "jazz" / f"{DATA_VERSION}-{counts}{irb}"


def build_default_set(spec: JazzSetSpec | None = None, out: str | Path | None = None, progress: bool = True) -> Path:
    """Build (or reuse) the set in ``out`` or its cache folder; returns the folder."""
    spec = spec or JazzSetSpec()
    folk = build_default_midi(DataConfig(workers=spec.workers), progress=progress) if not spec.no_folk else None
    # Every real standard twice, in a jazz and in a non-jazz groove, its whole tune in one split:
    # the harmony says nothing of the label, the groove does.
    tunes = [(tune_split(t.title), label, t) for t in load_tunes(cache_root(DataConfig())) or [] for label in (1, 0)]
    return build_jazz_set(Path(out) if out else default_set_dir(spec),
                          per_style={"train": spec.train_per_style, "test": spec.test_per_style}, folk_dir=folk,
                          folk_counts={"train": spec.folk_train, "test": spec.folk_test}, workers=spec.workers,
                          progress=progress, tunes=tunes)


def describe_set(folder: Path) -> str:
    """What ``rlmusic data jazz`` prints: pieces per split, label and groove style."""
    from rlmusic.data.jazz_data import read_manifest

    m = read_manifest(folder)
    counts: dict = {}
    for p in m["pieces"]:
        styles = counts.setdefault((p["split"], "jazz" if p["label"] else "other"), {})
        styles[p["style"]] = styles.get(p["style"], 0) + 1
    lines = [f"jazz set in {folder} (MMA rendering {m['render_seconds']}s)"]
    lines += [f"  {split:6s} {label:5s} {sum(styles.values()):5d} pieces: "
              + ", ".join(f"{k} {v}" for k, v in sorted(styles.items())) for (split, label), styles in sorted(counts.items())]
    if m["failed"]:
        lines.append(f"  {len(m['failed'])} chart(s) failed to render, e.g. {m['failed'][0]}")
    return "\n".join(lines)

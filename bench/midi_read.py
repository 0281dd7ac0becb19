"""Reading MIDI faithfully: note counts against pretty_midi, metrics against MusPy, and the cost.

    python bench/midi_read.py [--json out.json]

1. Every MMA render of the jazz set and of the embedded corpus (multi-track arrangements with
   strummed, re-struck notes): the notes ``load_score`` keeps (every non-drum note) against
   pretty_midi's non-drum notes, and what symusic 0.6's own pairing kept. Fails on any
   difference from pretty_midi.
2. The MusPy metrics of the merged, drum-free stream, ours against MusPy's own functions on the
   notes pretty_midi reads, on every 10th of those renders (to 1e-6; fails otherwise).
3. The cost: ``load_score`` today (symusic, then our note reader) against symusic alone, on the
   297-file bench set of ``metrics_speed.py`` (every 45th file of the corpus) and on the renders.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import muspy  # noqa: E402
import pretty_midi  # noqa: E402
import symusic  # noqa: E402
from midi_reference import muspy_like_pretty_midi  # noqa: E402

from bench.timing import best_of  # noqa: E402
from rlmusic import metrics as M  # noqa: E402
from rlmusic.config.sections import DataConfig  # noqa: E402
from rlmusic.data.embedded import build_default_midi  # noqa: E402
from rlmusic.data.jazz_set import build_default_set  # noqa: E402
from rlmusic.data.midi_io import clean_score, find_midi_files, load_score  # noqa: E402
from rlmusic.music.piece import piece_from_score  # noqa: E402
from rlmusic.tracking import quiet_libraries  # noqa: E402

MUSPY = ["pitch_class_entropy", "pitch_entropy", "scale_consistency", "empty_beat_rate", "polyphony",
         "polyphony_rate", "pitch_range", "n_pitches_used", "n_pitch_classes_used"]


def symusic_only(path: Path):
    """The read before this reader: symusic's own note pairing."""
    return clean_score(symusic.Score(str(path)))


def pitched_notes(score) -> int:
    return sum(len(t.notes) for t in score.tracks if not t.is_drum)



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json")
    args = ap.parse_args()
    quiet_libraries()
    jazz = build_default_set(progress=False)
    corpus = build_default_midi(DataConfig(), progress=False)
    renders = [f for f in find_midi_files(jazz) if "folk" not in f.parent.name] + find_midi_files(corpus / "mma")
    print(f"{len(renders)} MMA renders ({jazz.name} jazz set and the corpus's arrangements)")

    # 1. note counts
    ours_total = pm_total = sym_total = 0
    lossy = 0
    for f in renders:
        ours = pitched_notes(load_score(f))
        pm = sum(len(i.notes) for i in pretty_midi.PrettyMIDI(str(f)).instruments if not i.is_drum)
        sym = pitched_notes(symusic_only(f))
        if ours != pm:
            raise SystemExit(f"note count differs from pretty_midi: {f}: {ours} vs {pm}")
        ours_total, pm_total, sym_total = ours_total + ours, pm_total + pm, sym_total + sym
        lossy += sym < 0.95 * pm
    print(f"  notes: load_score {ours_total:,}, pretty_midi {pm_total:,} (equal on every file); symusic alone "
          f"{sym_total:,} ({1 - sym_total / pm_total:.1%} lost; {lossy} files lose more than 5%)")

    # 2. metrics against MusPy on the merged drum-free stream
    worst, checked = 0.0, renders[::10]
    for f in checked:
        music = muspy_like_pretty_midi(f)
        piece = piece_from_score(load_score(f))
        for name in MUSPY:
            a, b = getattr(muspy, name)(music), getattr(M, name)(piece)
            if math.isnan(a) != math.isnan(b) or (not math.isnan(a) and abs(a - b) > 1e-6):
                raise SystemExit(f"{f.name} {name}: MusPy {a} vs rlmusic {b}")
            worst = max(worst, 0.0 if math.isnan(a) else abs(a - b))
    print(f"  MusPy metrics on {len(checked)} renders: equal (max |difference| {worst:.1e})")

    # 3. cost
    bench_set = find_midi_files(corpus)[::45][:300]
    out = {"renders": len(renders), "notes_load_score": ours_total, "notes_pretty_midi": pm_total,
           "notes_symusic": sym_total, "files_losing_over_5pct": lossy, "muspy_files": len(checked),
           "muspy_max_abs_difference": worst}
    for name, files in (("bench set", bench_set), ("renders", renders[::10])):
        t_old = best_of(lambda: [symusic_only(f) for f in files])  # noqa: B023
        t_new = best_of(lambda: [load_score(f) for f in files])  # noqa: B023
        print(f"  read {len(files)} files ({name}): symusic alone {t_old * 1e3:.0f} ms, load_score "
              f"{t_new * 1e3:.0f} ms ({t_new / t_old:.2f}x)")
        out[name.replace(" ", "_")] = {"files": len(files), "symusic_s": t_old, "load_score_s": t_new,
                                       "ratio": t_new / t_old}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

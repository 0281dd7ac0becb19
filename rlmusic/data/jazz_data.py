"""An honest jazz / not-jazz set, rendered offline with Debian's MMA (Musical MIDI Accompaniment).

Positives are chord charts rendered in jazz-family grooves, negatives the same kind of charts
in non-jazz grooves plus folk tunes and Bach chorales. What could make the task fake is drawn
independently of the label: the progression family (jazzy or plain), the chord spelling
(triads, sevenths, extensions), the key, the tempo and whether MMA adds a melody. Drums are
dropped (by ``is_drum``) when the files are read, and the classifier trains on random windows,
so length is no cue either.

Three disjoint sets come out of one call, from separate random streams: ``train`` and ``test``
for the discriminator, and ``arrangements`` (every groove, both labels) which the default
pretraining corpus includes so that PPO's KL leash allows jazz at all.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rlmusic.errors import RLMusicError

DATA_VERSION = "jazz-v3"  # v3: the iRb standards, each in a jazz and a non-jazz groove
MMA_LIB = Path("/usr/share/mma/lib")
MMA_STYLES = MMA_LIB / "stdlib"

# Style files by label: a bare name is in MMA's stdlib, "lib/name" in another MMA library
# (casio, yamaha, kara). Left out as ambiguous: the blues family (blues, slowblues, fastblues,
# countryblues, bluefolk), ragtime, boogie (boggiewoggie, shuffleboggie), western/country swing,
# charleston, softshoe, strut, 68swing, jive, foxtrot, quickstep, showtune and broadway
# (swing-era show and dance styles), ballad (documented as a rock ballad), jazzrock, jazzrhumba
# (written for "Nardis"), lfusion, casio/fusion and yamaha/jazzcountry. The zoom library is drums only;
# 68march rejects the 3-beat melody patterns. descendingjazz is jazz but missing from jazz-v2: a
# groove-name bug (now fixed) hid its grooves. Adding it and jazzrhumba as jazz was measured with
# scripts/clf_feature_baseline.py and left unseen-family balanced accuracy where it was (0.72).
JAZZ_STYLES = ["swing", "fastswing", "easyswing", "bebop", "jazzcombo", "jazzguitar", "bigband", "slowjazz",
               "modernjazz", "mellowjazz", "nitejazz", "evansish", "jazzwaltz", "fastjazzwaltz", "modernjazzwaltz",
               "bossanova", "dixie", "gypsyjazz", "folkyjazz", "jazz-54",
               "casio/fastbigband", "casio/middlebigband", "casio/slowbigband", "casio/jazzcombo", "casio/jazzwaltz",
               "casio/modernjazz", "casio/slowswing", "casio/swing",
               "yamaha/jazzGrtrio", "yamaha/jazzbasie", "yamaha/jazzbossa", "yamaha/jazzbouncy", "yamaha/jazzswing",
               "yamaha/jazztrio", "yamaha/jazzwaltz", "kara/kbossa"]
OTHER_STYLES = ["50srock", "60srock", "basicrock", "8beat", "softrock", "folkrock", "rockballad", "countrywaltz",
                "slowcountry", "bluegrass", "polka", "march", "folk", "hymn", "waltz", "vienesewaltz", "tango",
                "salsa", "merengue", "trance", "ska", "twist",
                "beguine", "bolero", "calypso", "chacha", "mambo", "samba", "son", "rhumba", "afro-cuban", "popballad",
                "lullaby", "zydeco", "bubblerock", "rb", "dsoul", "bvfunk", "frenchwaltz", "spiritual",
                "hillcountry", "cubanguitar", "lighttango", "desert", "guitarballad", "pianoballad", "rockwaltz",
                "arpeggio44",
                "casio/16beat1", "casio/8beat1", "casio/60spop", "casio/80spop", "casio/funk1", "casio/heavymetal",
                "casio/house", "casio/techno", "casio/rock1", "casio/polka", "casio/germanmarch", "casio/soul",
                "casio/twist", "casio/trance1", "casio/electricpop", "casio/dance1", "casio/hip-hop",
                "casio/worldpop", "casio/digitalrock", "casio/poprock1", "casio/serenade", "casio/popwaltz",
                "casio/8beatballad1", "casio/mellowrb",
                "yamaha/mambo", "yamaha/salsa1", "yamaha/w-rock", "yamaha/western",
                "kara/8beatmotown", "kara/K50s_rock", "kara/Kfunk1", "kara/fasttwist"]
# The first set (jazz-v1): the styles of the default pretraining corpus's arrangements, kept
# as they were so the shipped policy's corpus does not change.
CORPUS_JAZZ_STYLES, CORPUS_OTHER_STYLES = JAZZ_STYLES[:18], OTHER_STYLES[:22]

# Grouped cross-validation holds out whole families: variants of one groove (fast/slow, another
# library's version) are held out together, so "unseen" means no close relative was seen.
FAMILIES = {
    "swing": ["swing", "fastswing", "easyswing", "casio/swing", "casio/slowswing", "yamaha/jazzswing",
              "yamaha/jazzbouncy"],
    "bigband": ["bigband", "casio/fastbigband", "casio/middlebigband", "casio/slowbigband", "yamaha/jazzbasie"],
    "jazzcombo": ["jazzcombo", "casio/jazzcombo", "yamaha/jazztrio", "yamaha/jazzGrtrio"],
    "modernjazz": ["modernjazz", "casio/modernjazz"],
    "jazzwaltz": ["jazzwaltz", "fastjazzwaltz", "modernjazzwaltz", "casio/jazzwaltz", "yamaha/jazzwaltz"],
    "bossa": ["bossanova", "yamaha/jazzbossa", "kara/kbossa"],
    "jazzguitar": ["jazzguitar", "folkyjazz"],
    "rock": ["50srock", "60srock", "basicrock", "kara/K50s_rock", "casio/rock1", "yamaha/w-rock",
             "casio/digitalrock", "casio/heavymetal", "bubblerock"],
    "8beat": ["8beat", "casio/8beat1", "casio/16beat1", "casio/poprock1"],
    "polka": ["polka", "casio/polka"],
    "march": ["march", "casio/germanmarch"],
    "waltz": ["waltz", "vienesewaltz", "frenchwaltz"],
    "tango": ["tango", "lighttango"],
    "latin": ["salsa", "yamaha/salsa1", "mambo", "yamaha/mambo", "son", "chacha", "rhumba", "afro-cuban",
              "cubanguitar"],
    "twist": ["twist", "casio/twist", "kara/fasttwist"],
    "trance": ["trance", "casio/trance1", "casio/techno", "casio/house", "casio/dance1"],
    "funk": ["bvfunk", "casio/funk1", "kara/Kfunk1"],
    "soul": ["rb", "dsoul", "casio/soul", "casio/mellowrb", "kara/8beatmotown"],
    "ballad": ["rockballad", "popballad", "casio/8beatballad1", "guitarballad", "pianoballad"],
    "hymn": ["hymn", "spiritual"],
    "country": ["countrywaltz", "slowcountry", "hillcountry", "yamaha/western"],
}
FAMILY_OF = {style: family for family, members in FAMILIES.items() for style in members}


def family_of(style: str) -> str:
    """The groove family grouped cross-validation holds out together (the style itself if alone)."""
    return FAMILY_OF.get(style, style)


# Progressions in C as (roman numeral, quality) per bar; families drawn independently of the label.
JAZZY = [
    [("ii", "m"), ("V", "dom"), ("I", "maj"), ("VI", "dom")],
    [("I", "maj"), ("vi", "m"), ("ii", "m"), ("V", "dom")],
    [("iii", "m"), ("VI", "dom"), ("ii", "m"), ("V", "dom")],
    [("ii", "m"), ("bII", "dom"), ("I", "maj"), ("I", "maj")],
    [("I", "maj"), ("I", "dom"), ("IV", "maj"), ("iv", "m")],
    [("vii", "hdim"), ("III", "dom"), ("vi", "m"), ("II", "dom")],
]
PLAIN = [
    [("I", "maj"), ("IV", "maj"), ("V", "maj"), ("I", "maj")],
    [("I", "maj"), ("V", "maj"), ("vi", "m"), ("IV", "maj")],
    [("I", "maj"), ("vi", "m"), ("IV", "maj"), ("V", "maj")],
    [("I", "maj"), ("IV", "maj"), ("I", "maj"), ("V", "maj")],
    [("vi", "m"), ("IV", "maj"), ("I", "maj"), ("V", "maj")],
    [("I", "maj"), ("ii", "m"), ("IV", "maj"), ("V", "maj")],
]
ROOTS = {"I": "C", "bII": "Db", "II": "D", "ii": "D", "iii": "E", "III": "E", "IV": "F", "iv": "F", "V": "G",
         "vi": "A", "VI": "A", "vii": "B"}
# Chord symbol suffix per quality and spelling (MMA chord names).
SPELLINGS = {
    "triads": {"maj": "", "m": "m", "dom": "", "hdim": "dim"},
    "sevenths": {"maj": "maj7", "m": "m7", "dom": "7", "hdim": "m7b5"},
    "extensions": {"maj": "maj9", "m": "m9", "dom": "13", "hdim": "m7b5"},
}
MELODY_PATTERNS = [  # Aria sequences: offsets below 3 so 3/4 grooves accept them too
    "{1 8 90; 1.5 8 90; 2 4 90}",
    "{1 4 90; 2 4 90; 3 4 90}",
    "{1 8 90; 2 8 90; 2.5 8 90; 3 4 90}",
]


def styles_available() -> bool:
    return shutil.which("mma") is not None and MMA_STYLES.is_dir()


def require_mma() -> None:
    if not styles_available():
        raise RLMusicError("MMA is not installed; run: apt-get install mma (Debian's Musical MIDI Accompaniment)")


# Intros, endings, fills, breaks and metronomes. Every MMA library spells endings "End" or
# "END"; a lowercase "end" is inside a word ("DescendingJazz" is a main groove).
NOT_A_MAIN_GROOVE = re.compile(r"(?i:intro|fill|break|metronome)|End|END")


def grooves_of(style: str) -> list[str]:
    """Main grooves a style file defines (intros, endings, fills and metronomes left out), named
    so MMA finds them: bare for the stdlib, ``lib/file:Groove`` for the other libraries."""
    lib, name = style.split("/") if "/" in style else ("stdlib", style)
    text = (MMA_LIB / lib / f"{name}.mma").read_text(errors="replace")
    names = re.findall(r"(?m)^\s*DefGroove\s+(\S+)", text)
    names = [n for n in names if not NOT_A_MAIN_GROOVE.search(n)]
    return names if lib == "stdlib" else [f"{lib}/{name}:{n}" for n in names]


@dataclass
class Chart:
    style: str
    groove: str
    label: int  # 1 jazz, 0 not
    family: str  # "jazzy" | "plain"
    spelling: str
    chords: list[str]
    transpose: int
    tempo: int
    melody: str | None  # Aria sequence or None
    mma_seed: int = 0  # MMA's own random timing/volume/skips: seeded from the clock unless set

    def mma(self) -> str:
        lines = [f"RndSeed {self.mma_seed}", f"Tempo {self.tempo}", f"Groove {self.groove}",
                 f"Transpose {self.transpose}"]
        if self.melody:
            lines += ["Begin Aria", "  Voice Piano1", f"  Sequence {self.melody}", "  Range 1", "  Direction r",
                      "  ScaleType Chord", "  Octave 5", "End"]
        lines += [f"{i + 1} {c}" for i, c in enumerate(self.chords)]
        return "\n".join(lines) + "\n"


def style_meter(style: str) -> int:
    """Beats per bar of a style file (its first ``Time N``; 4 if it says none)."""
    lib, name = style.split("/") if "/" in style else ("stdlib", style)
    m = re.search(r"(?mi)^\s*Time\s+(\d+)", (MMA_LIB / lib / f"{name}.mma").read_text(errors="replace"))
    return int(m.group(1)) if m else 4


def tune_chart(rng: np.random.Generator, tune, style: str, groove: str, label: int) -> Chart:
    """A real standard (``rlmusic.data.irb.Tune``) through its form, in one groove; its own key, a
    tempo and a melody line drawn as for the synthetic charts, independently of the label."""
    melody = MELODY_PATTERNS[rng.integers(len(MELODY_PATTERNS))] if rng.random() < 0.5 else None
    return Chart(style, groove, label, "irb", "irb", tune.bars(), 0, int(rng.integers(70, 201)), melody)


def random_chart(rng: np.random.Generator, style: str, groove: str, label: int) -> Chart:
    family = "jazzy" if rng.random() < 0.5 else "plain"
    progs = JAZZY if family == "jazzy" else PLAIN
    spelling = ["triads", "sevenths", "extensions"][rng.integers(3)]
    bars = []
    for _ in range(int(rng.integers(4, 9))):  # 16-32 bars of 4-bar phrases
        bars += progs[rng.integers(len(progs))]
    chords = [ROOTS[numeral] + SPELLINGS[spelling][quality] for numeral, quality in bars]
    melody = MELODY_PATTERNS[rng.integers(len(MELODY_PATTERNS))] if rng.random() < 0.5 else None
    return Chart(style, groove, label, family, spelling, chords, int(rng.integers(-5, 7)),
                 int(rng.integers(70, 201)), melody)


# MMA's modules a render imports: loaded once per worker, so a render forks a process that
# has them instead of starting Python and importing MMA again (a chart took 0.15 s that way,
# 2.4 times MMA's own work: bench/mma_render.py).
_MMA_MODULES = ("MMA.gbl", "MMA.common", "MMA.midi", "MMA.midifuncs", "MMA.parse", "MMA.file", "MMA.options",
                "MMA.auto", "MMA.docs", "MMA.tempo", "MMA.debug", "MMA.paths", "MMA.writeMid", "MMA.safe_eval")
_mma_loaded = False
MMA_TIMEOUT = 60  # seconds a chart may take


def preload_mma() -> bool:
    """Import MMA's modules into this (worker) process; False where they cannot be, and renders
    run the ``mma`` program instead. MMA's ``gbl`` reads its folder and platform from ``__main__``,
    as its launcher sets them: they are set here the same way."""
    global _mma_loaded
    home = next((d for d in (os.environ.get("MMA_HOME"), "/usr/local/share/mma", "/usr/share/mma")
                 if d and (Path(d) / "MMA" / "main.py").is_file()), None)
    if home is None or not hasattr(os, "fork"):
        return False
    import importlib
    import platform

    import __main__

    try:
        __main__.MMAdir, __main__.platform = home, platform.system()
        if home not in sys.path:
            sys.path.insert(0, home)
        for name in _MMA_MODULES:
            importlib.import_module(name)
    except Exception:  # an MMA this code does not know: the program itself still works
        return False
    _mma_loaded = True
    return True


def _run_mma_forked(src: Path, out: Path) -> tuple[int, str]:
    """MMA's ``main`` in a forked child of a process that has its modules loaded: the same
    program and output as ``mma -xNOCREDIT -f OUT SRC``, each render in a fresh process state."""
    log = src.with_suffix(".log")
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # not a handler the worker may have set
            signal.alarm(MMA_TIMEOUT)  # SIGALRM ends a chart that hangs
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.argv = ["mma", "-xNOCREDIT", "-f", str(out), str(src)]
            try:
                import MMA.main  # noqa: F401  (importing it runs MMA)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else int(e.code is not None)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    text = log.read_text(errors="replace") if log.is_file() else ""
    log.unlink(missing_ok=True)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 1, "mma timed out" if sig == signal.SIGALRM else f"mma killed by signal {sig}"
    return os.WEXITSTATUS(status), text


def _render(job: tuple[dict, str]) -> tuple[str, str]:
    """Worker: write the .mma file, run MMA, return (path, error or '')."""
    chart, out = job
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".mma")
    src.write_text(Chart(**chart).mma())
    if _mma_loaded:
        code, text = _run_mma_forked(src, out)
        if text == "mma timed out":
            return str(out), text
    else:
        try:
            r = subprocess.run(["mma", "-xNOCREDIT", "-f", str(out), str(src)], capture_output=True, text=True,
                               timeout=MMA_TIMEOUT)
        except subprocess.TimeoutExpired:
            return str(out), "mma timed out"
        code, text = r.returncode, r.stdout + r.stderr
    src.unlink()
    if code != 0 or not out.is_file():
        return str(out), text.strip().splitlines()[-1][:100] if text.strip() else "mma failed"
    return str(out), ""


SPLITS = {"train": 24, "test": 8, "arrangements": 6}  # charts per groove style and split


def build_jazz_set(out_dir: str | Path, per_style: dict[str, int] | None = None, styles: tuple[list, list] | None = None,
                   folk_dir: str | Path | None = None, folk_counts: dict[str, int] | None = None, workers: int = 2,
                   seed: int = 0, progress: bool = True, tunes: list[tuple[str, int, object]] | None = None) -> Path:
    """Render the labelled set into ``out_dir/<split>/<jazz|other>/`` with a ``manifest.json``.

    ``folk_dir``: folk/Bach MIDI files added as negatives (``folk_counts`` per split).
    ``tunes``: real standards as (split, label, ``rlmusic.data.irb.Tune``), each rendered in a groove
    of that label drawn from the styles of the tune's meter (4/4 or 3/4; others are skipped).
    Written to a temporary folder and renamed, so an interrupted build leaves nothing half-made.
    """
    require_mma()
    per_style = SPLITS if per_style is None else per_style
    jazz, other = styles or (JAZZ_STYLES, OTHER_STYLES)
    final = Path(out_dir)
    if (final / "manifest.json").is_file():
        return final
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    jobs, charts = [], []
    for split, count in per_style.items():
        rng = np.random.default_rng([seed, list(SPLITS).index(split) if split in SPLITS else 99])
        for label, style_list in ((1, jazz), (0, other)):
            for style in style_list:
                grooves = grooves_of(style)
                for i in range(count):
                    chart = random_chart(rng, style, grooves[rng.integers(len(grooves))], label)
                    name = f"{split}/{'jazz' if label else 'other'}/{style.replace('/', '-')}_{i:03d}.mid"
                    # from the name, not the chart stream, so the charts drawn stay the same
                    chart.mma_seed = zlib.crc32(f"{seed}/{name}".encode())
                    jobs.append((chart.__dict__, str(tmp / name)))
                    charts.append({"file": name, "split": split} | {k: v for k, v in chart.__dict__.items() if k != "chords"}
                                  | {"bars": len(chart.chords)})
    by_meter = {(label, m): [st for st in style_list if style_meter(st) == m]
                for label, style_list in ((1, jazz), (0, other)) for m in (3, 4)} if tunes else {}
    streams: dict[str, np.random.Generator] = {}  # one per split: the corpus's and the set's draws differ
    for i, (split, label, tune) in enumerate(tunes or []):
        pool = by_meter.get((label, tune.beats_per_bar))
        if not pool:
            continue  # 5/4, 6/4, 6/8: too few tunes and grooves
        rng = streams.setdefault(split, np.random.default_rng([seed, 11, zlib.crc32(split.encode())]))
        style = pool[rng.integers(len(pool))]
        grooves = grooves_of(style)
        chart = tune_chart(rng, tune, style, grooves[rng.integers(len(grooves))], label)
        name = f"{split}/{'jazz' if label else 'other'}/{style.replace('/', '-')}_irb{i:04d}.mid"
        chart.mma_seed = zlib.crc32(f"{seed}/{name}".encode())
        jobs.append((chart.__dict__, str(tmp / name)))
        charts.append({"file": name, "split": split, "tune": tune.title, "composer": tune.composer}
                      | {k: v for k, v in chart.__dict__.items() if k != "chords"} | {"bars": len(chart.chords)})
    t0 = time.time()
    failed = []
    with mp.get_context("fork" if hasattr(os, "fork") else "spawn").Pool(workers, initializer=preload_mma) as pool:
        for path, err in tqdm(pool.imap_unordered(_render, jobs, chunksize=4), total=len(jobs),
                              desc="rendering MMA charts", unit="piece", disable=not progress):
            if err:
                failed.append((str(Path(path).relative_to(tmp)), err))
    failed_names = {f for f, _ in failed}
    charts = [c for c in charts if c["file"] not in failed_names]
    folk = []
    if folk_dir is not None:
        # Folk tunes and Bach chorales only: the default corpus folder also holds MMA arrangements.
        files = [f for f in sorted(Path(folk_dir).rglob("*.mid")) if "mma" not in f.relative_to(folk_dir).parts]
        order = np.random.default_rng([seed, 7]).permutation(len(files))
        start = 0
        for split, n in (folk_counts or {"train": 300, "test": 100}).items():
            for j in order[start : start + n]:
                dest = tmp / split / "other" / f"folk_{files[j].stem}.mid"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(files[j], dest)
                folk.append({"file": str(dest.relative_to(tmp)), "split": split, "label": 0, "style": "folk/bach"})
            start += n
    manifest = {"version": DATA_VERSION, "seed": seed, "jazz_styles": jazz, "other_styles": other,
                "pieces": charts + folk, "failed": failed, "render_seconds": round(time.time() - t0, 1)}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    return final


def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise RLMusicError(f"{folder} is not a jazz set (no manifest.json); build one with `rlmusic data jazz`")
    return json.loads(path.read_text())

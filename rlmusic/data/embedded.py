"""The embedded default corpus as MIDI: music21's folk-tune ABC collections (Essen, O'Neill,
Aird, Ryan, misc folk) through symusic's built-in abc2midi, its Bach chorales through music21's
parser, and MMA's jazz and non-jazz arrangements (the iRb standards, when fetched), built offline
once and cached (written to a temporary folder and renamed when complete).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from rlmusic.config.sections import DataConfig
from rlmusic.data.corpus import cache_root
from rlmusic.data.midi_io import note_count, silence_native_output, write_score
from rlmusic.errors import RLMusicError

DEFAULT_CORPUS_VERSION = "default-v3"  # v3: the iRb jazz standards, when fetched
# Jazz and non-jazz MMA arrangements per groove style in the default corpus: without them a
# folk/Bach prior cannot play jazz, and PPO's KL leash cannot move it there.
ARRANGEMENTS_PER_STYLE = 10
# Folder in music21/corpus -> short name used in piece names.
ABC_COLLECTIONS = {
    "essenFolksong": "essen",
    "oneills1850": "oneill",
    "airdsAirs": "aird",
    "ryansMammoth": "ryan",
    "miscFolk": "miscfolk",
}

def music21_corpus_dir() -> Path:
    try:
        import music21
    except ImportError:  # pragma: no cover - music21 is a dependency
        raise RLMusicError("music21 is not installed; run: pip install music21") from None
    return Path(music21.__file__).parent / "corpus"


_HEADER = re.compile(r"^[A-Za-z+]:")
_QUOTED = re.compile(r'"[^"\n]*"')


def split_abc_tunes(text: str) -> list[tuple[str, str]]:
    """(reference number, tune text) per ``X:`` tune, chord symbols removed.

    Quoted strings in the tune body are guitar chords or annotations; abc2midi
    would render the chords as an accompaniment track (Debian's ``-NGUI``).
    """
    tunes = []
    for chunk in re.split(r"(?m)^(?=X:)", text):
        if not chunk.startswith("X:"):
            continue
        ref = chunk[2:].split("\n", 1)[0].strip() or str(len(tunes) + 1)
        lines = [ln if _HEADER.match(ln) else _QUOTED.sub("", ln) for ln in chunk.splitlines()]
        tunes.append((re.sub(r"\W", "", ref) or str(len(tunes) + 1), "\n".join(lines) + "\n"))
    return tunes


def _convert_abc_file(job: tuple[str, str, str]) -> tuple[int, list[str]]:
    """Worker: one ABC file -> one MIDI per tune. Returns (written, failures)."""
    from symusic import Score

    src, prefix, out_dir = job
    text = Path(src).read_text(encoding="latin-1")
    written, failed = 0, []
    for ref, tune in split_abc_tunes(text):
        name = f"{prefix}_{ref}"
        try:
            score = Score.from_abc(tune)
            if note_count(score) == 0:
                raise ValueError("no notes")
            # as one track, as the corpus default-v3 was built: its pieces are these files as read back
            write_score(score, Path(out_dir) / f"{name}.mid", split_voices=False)
            written += 1
        except Exception as e:  # a few Essen tunes lack K: and fail to parse
            failed.append(f"{name}: {str(e).splitlines()[0][:60] if str(e) else type(e).__name__}")
    return written, failed


def _convert_music21_file(job: tuple[str, str, str]) -> tuple[int, list[str]]:
    """Worker: one MusicXML score (Bach) -> MIDI via music21's parser and symusic's writer.

    music21's own MIDI writer fails on some scores ("TimeSignature already found").
    """
    import music21
    from symusic import Note, Score, TimeSignature, Track

    src, name, out_dir = job
    try:
        parsed = music21.converter.parse(src)
        parsed.stripTies(inPlace=True)  # the same notes as a stripped copy, without deep-copying the score
        flat = parsed.flatten()
        tpq = 480
        score = Score(tpq)
        track = Track(name=name, program=0, is_drum=False)
        for n in flat.notes:
            start = int(round(float(n.offset) * tpq))
            dur = max(1, int(round(float(n.quarterLength) * tpq)))
            for p in n.pitches:
                track.notes.append(Note(start, dur, int(p.midi), 80))
        if not len(track.notes):
            raise ValueError("no notes")
        track.notes.sort()
        score.tracks.append(track)
        seen = set()
        for ts in flat.getElementsByClass("TimeSignature"):
            t = int(round(float(ts.offset) * tpq))
            if t not in seen:  # one per onset: parts repeat the same signature
                seen.add(t)
                score.time_signatures.append(TimeSignature(t, ts.numerator, ts.denominator))
        # one track, as default-v3 was built: a unison of two voices reads back as one re-strike
        write_score(score, Path(out_dir) / f"{name}.mid", split_voices=False)
        return 1, []
    except Exception as e:
        return 0, [f"{name}: {str(e).splitlines()[0][:60] if str(e) else type(e).__name__}"]


def build_default_midi(cfg: DataConfig, collections: dict[str, str] | None = None, bach: bool = True,
                       progress: bool = True, arrangements_per_style: int | None = None) -> Path:
    """Build (once) the default MIDI corpus in the cache and return its folder.

    ``collections``/``bach``/``arrangements_per_style`` select a subset (tests build a handful
    of tunes). Arrangements need Debian's ``mma``; without it the corpus is folk and Bach only.
    """
    full = collections is None and bach and arrangements_per_style is None
    collections = ABC_COLLECTIONS if collections is None else collections
    if arrangements_per_style is None:
        arrangements_per_style = ARRANGEMENTS_PER_STYLE if full else 0
    from rlmusic.data.irb import load_tunes

    # The real standards in jazz grooves, so the prior knows the harmony and forms of real jazz.
    tunes = (load_tunes(cache_root(cfg)) or []) if full else []
    if full and not tunes:
        print("rlmusic: the iRb jazz standards are not fetched, so the default corpus has none "
              "(run `rlmusic data irb`, which needs npm)")
    tag = DEFAULT_CORPUS_VERSION + ("" if tunes else "-no-irb") + ("" if full else "-" + hashlib.sha1(json.dumps(
        [sorted(collections.items()), bach, arrangements_per_style]).encode()).hexdigest()[:8])
    final = cache_root(cfg) / "midi" / tag
    if (final / "manifest.json").is_file():
        return final
    src = music21_corpus_dir()
    jobs_abc, jobs_xml = [], []
    tmp = final.with_name(f".tmp-{tag}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for folder, short in collections.items():
        for f in sorted((src / folder).glob("*.abc")):
            stem = re.sub(r"\W", "", f.stem)
            jobs_abc.append((str(f), f"{short}_{stem}", str(tmp / short)))
    if bach:
        for f in sorted((src / "bach").glob("*.mxl")) + sorted((src / "bach").glob("*.xml")):
            jobs_xml.append((str(f), "bach_" + re.sub(r"\W", "_", f.stem), str(tmp / "bach")))
    if not jobs_abc and not jobs_xml:
        raise RLMusicError(f"music21's bundled corpus at {src} has none of the expected collections; reinstall music21")
    t0 = time.time()
    written, failures = 0, []
    # abc2midi inside symusic prints a warning per odd bar at C level: silence the workers.
    ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(cfg.workers, initializer=silence_native_output) as pool:
        work = [(_convert_abc_file, j) for j in jobs_abc] + [(_convert_music21_file, j) for j in jobs_xml]
        bar = tqdm(total=len(work), desc="converting music21 corpus to MIDI", unit="file", disable=not progress)
        for n, fails in pool.imap_unordered(_call, work, chunksize=4):
            written += n
            failures += fails
            bar.update(1)
        bar.close()
    if written == 0:
        raise RLMusicError("converting music21's corpus produced no MIDI file; check the music21 install")
    arrangements = standards = 0
    if arrangements_per_style:
        from rlmusic.data.jazz_data import (
            CORPUS_JAZZ_STYLES,
            CORPUS_OTHER_STYLES,
            build_jazz_set,
            read_manifest,
            styles_available,
        )

        if styles_available():
            # The "arrangements" split draws charts from its own random stream, disjoint from the
            # discriminator's train and test charts.
            folder = build_jazz_set(tmp / "mma", per_style={"arrangements": arrangements_per_style},
                                    styles=(CORPUS_JAZZ_STYLES, CORPUS_OTHER_STYLES), workers=cfg.workers,
                                    progress=progress, tunes=[("standards", 1, t) for t in tunes])
            made = read_manifest(folder)["pieces"]
            arrangements, standards = len(made), sum(p["split"] == "standards" for p in made)
        else:
            print("rlmusic: MMA is not installed, so the default corpus has no jazz/non-jazz arrangements "
                  "(apt-get install mma, then delete the cache to rebuild)")
    manifest = {"version": tag, "pieces": written + arrangements, "folk_bach": written, "arrangements": arrangements,
                "standards": standards, "failed": failures, "seconds": round(time.time() - t0, 1),
                "sources": sorted(collections) + (["bach"] if bach else []) + (["mma"] if arrangements else [])}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, final)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _call(fn_job):
    fn, job = fn_job
    return fn(job)

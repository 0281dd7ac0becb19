"""Corpora: the embedded default (built offline from music21's bundled scores) and user folders.

Two cached stages, each written to a temporary folder and renamed when complete:

1. MIDI files. The default corpus converts music21's folk-tune ABC collections
   (Essen, O'Neill, Aird, Ryan, misc folk) with symusic's built-in abc2midi and
   the Bach chorales through music21's parser. A user folder is used as it is.
2. Token ids, keyed by the MIDI source, the cleaning options and the tokenizer's
   fingerprint, so later runs start at once.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rlmusic.config.sections import DataConfig, TokenizerConfig
from rlmusic.data.midi_io import BadMidi, find_midi_files, load_score, note_count, silence_native_output, time_limit, write_score
from rlmusic.data.tokens import build_tokenizer, encode_score, load_miditok, tokenizer_fingerprint
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
TOKENS_VERSION = 3  # bump when the cleaning or encoding changes (3: re-struck notes read as pretty_midi counts them)


def cache_root(cfg: DataConfig) -> Path:
    return Path(cfg.cache_dir or os.environ.get("RLMUSIC_CACHE") or Path.home() / ".cache" / "rlmusic")


# --- stage 1: the embedded default corpus as MIDI ------------------------------------------


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
            write_score(score, Path(out_dir) / f"{name}.mid")
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
        write_score(score, Path(out_dir) / f"{name}.mid")
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


# --- stage 2: tokens -----------------------------------------------------------------------


@dataclass
class Corpus:
    """A tokenized corpus: every piece's ids concatenated, with offsets and a stable split."""

    ids: np.ndarray  # (N,) uint16/int32: all pieces back to back, no BOS/EOS
    offsets: np.ndarray  # (P+1,) int64: piece i is ids[offsets[i]:offsets[i+1]]
    names: list[str]
    is_val: np.ndarray  # (P,) bool
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def piece(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def indices(self, split: str) -> np.ndarray:
        """Pieces of ``split``: "train", "val" or "all"."""
        if split not in ("train", "val", "all"):
            raise ValueError(split)
        if split == "all":
            return np.arange(len(self.is_val))
        return np.flatnonzero(self.is_val if split == "val" else ~self.is_val)

    def stream(self, split: str, bos: int, eos: int) -> np.ndarray:
        """(M,) int64 ids: BOS piece EOS BOS piece EOS ... over one split."""
        parts = []
        for i in self.indices(split):
            parts += [np.array([bos]), self.piece(i).astype(np.int64), np.array([eos])]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def holdout_mask(names: list[str], fraction: float) -> np.ndarray:
    """Hash each name to [0, 1): stable when files are added, independent of order."""
    h = np.array([int(hashlib.md5(n.encode()).hexdigest()[:8], 16) / 2**32 for n in names])
    mask = h < fraction
    if fraction > 0 and not mask.any() and len(names) > 1:
        mask[int(np.argmin(h))] = True  # a tiny corpus still gets one validation piece
    return mask


_WORKER_TOK = None


def _init_tokenize_worker(tok_path: str) -> None:
    global _WORKER_TOK
    _WORKER_TOK = load_miditok(tok_path)


def transpose_score(score, shift: int, low: int, high: int) -> bool:
    """Move every non-drum note of ``score`` by ``shift`` semitones in place, unless one would leave
    [low, high]; returns whether it moved."""
    pitched = [t for t in score.tracks if not t.is_drum]
    pitches = [p for t in pitched for p in t.notes.numpy()["pitch"].tolist()]
    if not pitches or min(pitches) + shift < low or max(pitches) + shift > high:
        return False
    for t in pitched:
        t.shift_pitch(shift, inplace=True)
    return True


def _tokenize_file(job: tuple[str, str, int, int, int]) -> tuple[str, np.ndarray | None, str]:
    path, name, program, max_tokens, shift = job
    try:
        with time_limit():
            score = load_score(path, program=program)
            if shift:
                low, high = _WORKER_TOK.config.pitch_range
                if not transpose_score(score, shift, low, high - 1):
                    raise BadMidi(f"transposed by {shift:+d} it leaves the pitch range")
            ids = encode_score(_WORKER_TOK, score)
        if not ids:
            raise BadMidi("no tokens after quantization")
        return name, np.asarray(ids[:max_tokens], dtype=np.int32), ""
    except BadMidi as e:
        return name, None, str(e)
    except Exception as e:  # MidiTok on odd files (e.g. ZeroDivisionError); never crash the corpus
        return name, None, f"tokenization failed ({type(e).__name__}: {str(e)[:60]})"


def _source_key(files: list[Path], root: Path) -> str:
    h = hashlib.sha1(str(root.resolve()).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def tokenize_folder(folder: Path, tok, cfg: DataConfig, progress: bool = True, shift: int = 0) -> Corpus:
    """Tokenize every MIDI file below ``folder`` (cached); bad files are skipped and counted.
    ``shift``: every piece transposed by that many semitones before encoding (pieces it would
    take out of the tokenizer's pitch range are skipped), the augmentation a BPE vocabulary
    needs (its merged ids cannot be transposed token by token); names and split unchanged."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RLMusicError(f"data folder {str(folder)!r} does not exist")
    files = find_midi_files(folder)
    if not files:
        raise RLMusicError(f"no .mid/.midi files found under {str(folder)!r}")
    key = hashlib.sha1(json.dumps([_source_key(files, folder), tokenizer_fingerprint(tok), cfg.program,
                                   cfg.max_tokens_per_piece, cfg.val_fraction, TOKENS_VERSION]
                                  + ([shift] if shift else [])).encode()).hexdigest()[:16]
    final = cache_root(cfg) / "tokens" / key
    if (final / "meta.json").is_file():
        return load_corpus(final)
    t0 = time.time()
    tmp = final.with_name(f".tmp-{key}-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    tok.save(tmp / "miditok.json")
    jobs = [(str(f), str(f.relative_to(folder).with_suffix("")), cfg.program, cfg.max_tokens_per_piece, shift)
            for f in files]
    results = []
    ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(cfg.workers, initializer=_init_tokenize_worker, initargs=(str(tmp / "miditok.json"),)) as pool:
        for r in tqdm(pool.imap(_tokenize_file, jobs, chunksize=32), total=len(jobs),
                      desc=f"tokenizing (transposed {shift:+d})" if shift else "tokenizing",
                      unit="file", disable=not progress):
            results.append(r)
    skipped = [(name, reason) for name, ids, reason in results if ids is None]
    seen, names, arrays, duplicates = set(), [], [], 0
    for name, ids, _ in results:
        if ids is None:
            continue
        digest = hashlib.sha1(ids.tobytes()).digest()
        if digest in seen:  # O'Neill's collection repeats a few tunes
            duplicates += 1
            continue
        seen.add(digest)
        names.append(name)
        arrays.append(ids)
    if not arrays:
        raise RLMusicError(f"none of the {len(files)} MIDI file(s) under {str(folder)!r} is usable "
                           f"(first reason: {skipped[0][1] if skipped else 'unknown'})")
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    dtype = np.uint16 if len(tok) < 2**16 else np.int32
    is_val = holdout_mask(names, cfg.val_fraction)  # by name: a transposed copy keeps its piece's split
    np.save(tmp / "ids.npy", np.concatenate(arrays).astype(dtype))
    np.save(tmp / "offsets.npy", offsets)
    np.save(tmp / "is_val.npy", is_val)
    (tmp / "names.json").write_text(json.dumps(names))
    meta = {"source": str(folder), "files": len(files), "pieces": len(names), "tokens": int(offsets[-1]),
            "skipped": skipped, "duplicates": duplicates, "val_pieces": int(is_val.sum()),
            "tokenizer": tokenizer_fingerprint(tok), "seconds": round(time.time() - t0, 1)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_corpus(final)


def load_corpus(folder: Path) -> Corpus:
    folder = Path(folder)
    return Corpus(
        ids=np.load(folder / "ids.npy", mmap_mode="r"),
        offsets=np.load(folder / "offsets.npy"),
        names=json.loads((folder / "names.json").read_text()),
        is_val=np.load(folder / "is_val.npy"),
        meta=json.loads((folder / "meta.json").read_text()) | {"cache": str(folder)},
    )


def _train_bpe(tok, folder: Path, cfg: DataConfig, tok_cfg: TokenizerConfig):
    """Train MidiTok BPE on the training split's files (cached by source and size)."""
    files = find_midi_files(folder)
    key = hashlib.sha1(json.dumps([_source_key(files, folder), tokenizer_fingerprint(tok),
                                   tok_cfg.bpe_vocab_size]).encode()).hexdigest()[:16]
    path = cache_root(cfg) / "bpe" / f"{key}.json"
    if path.is_file():
        return load_miditok(path)
    names = [str(f.relative_to(folder).with_suffix("")) for f in files]
    train_files = [f for f, v in zip(files, holdout_mask(names, cfg.val_fraction)) if not v]
    if tok_cfg.bpe_vocab_size <= len(tok):
        raise RLMusicError(f"tokenizer.bpe_vocab_size ({tok_cfg.bpe_vocab_size}) must exceed the base vocabulary ({len(tok)})")
    tok.train(vocab_size=tok_cfg.bpe_vocab_size, model="BPE", files_paths=train_files)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.json")
    tok.save(tmp)
    os.replace(tmp, path)
    return tok


def prepare_corpus(data_cfg: DataConfig, tok_cfg: TokenizerConfig, progress: bool = True, tokenizer=None):
    """The tokenizer and the tokenized corpus for a config: what ``pretrain`` trains on.

    ``tokenizer`` (from a checkpoint being resumed or fine-tuned) overrides ``tok_cfg``.
    """
    folder = Path(data_cfg.data) if data_cfg.data else build_default_midi(data_cfg, progress=progress)
    tok = tokenizer
    if tok is None:
        tok = build_tokenizer(tok_cfg)
        if tok_cfg.bpe_vocab_size:
            tok = _train_bpe(tok, folder, data_cfg, tok_cfg)
    return tok, tokenize_folder(folder, tok, data_cfg, progress=progress)


def describe_corpus(tok, corpus: Corpus, seconds: float) -> str:
    """What ``rlmusic prepare`` prints: size, source, cache, what was dropped and why."""
    m = corpus.meta
    lines = [f"corpus: {m['pieces']} pieces, {m['tokens']:,} tokens ({m['val_pieces']} validation pieces), "
             f"vocabulary {len(tok)}, ready in {seconds:.1f}s", f"source: {m['source']}", f"cache:  {m['cache']}"]
    if m.get("duplicates"):
        lines.append(f"duplicates dropped: {m['duplicates']}")
    if m["skipped"]:
        lines.append(f"skipped {len(m['skipped'])} file(s):")
        lines += [f"  {name}: {reason}" for name, reason in m["skipped"][:20]]
        if len(m["skipped"]) > 20:
            lines.append(f"  ... and {len(m['skipped']) - 20} more (listed in {m['cache']}/meta.json)")
    return "\n".join(lines)

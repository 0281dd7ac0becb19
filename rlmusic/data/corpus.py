"""Corpora as token ids: the embedded default (its MIDI built by :mod:`rlmusic.data.embedded`) or a
user's folder, tokenized once and cached, keyed by the MIDI source, the cleaning options and the
tokenizer's fingerprint (written to a temporary folder and renamed when complete), so later runs
start at once.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rlmusic.config.sections import DataConfig, TokenizerConfig
from rlmusic.data.midi_io import BadMidi, find_midi_files, load_score, time_limit
from rlmusic.data.tokens import build_tokenizer, encode_score, load_miditok, tokenizer_fingerprint
from rlmusic.errors import RLMusicError

TOKENS_VERSION = 3  # bump when the cleaning or encoding changes (3: re-struck notes read as pretty_midi counts them)


def cache_root(cfg: DataConfig) -> Path:
    return Path(cfg.cache_dir or os.environ.get("RLMUSIC_CACHE") or Path.home() / ".cache" / "rlmusic")


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

    def stream(self, split: str, bos: int, eos: int, repeat: dict[str, int] | None = None) -> np.ndarray:
        """(M,) int64 ids: BOS piece EOS BOS piece EOS ... over one split; a piece whose name starts
        with a key of ``repeat`` enters that many times (its copies back to back)."""
        parts = []
        for i in self.indices(split):
            times = max((n for prefix, n in (repeat or {}).items() if self.names[i].startswith(prefix)), default=1)
            parts += [np.array([bos]), self.piece(i).astype(np.int64), np.array([eos])] * times
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def check_prefixes(self, prefixes, split: str, what: str) -> None:
        """A name prefix that matches no piece of ``split`` is a typo: say so, and how names look."""
        names = [self.names[i] for i in self.indices(split)]
        for prefix in prefixes:
            if not any(n.startswith(prefix) for n in names):
                looks = f" (names look like {names[0]!r})" if names else ""
                raise RLMusicError(f"{what}: no {split} piece's name starts with {prefix!r}{looks}; use a prefix "
                                   "of the corpus's piece names")


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
    from rlmusic.data.embedded import build_default_midi  # it imports cache_root from here

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

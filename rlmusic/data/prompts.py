"""Where a piece starts: BOS alone, the opening of a corpus piece, or the opening of the
user's own MIDI file (read through the same safe reader as the corpus), and how a
continuation marks where the prompt ends.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from symusic import Score, TextMeta, Track

from rlmusic.data.corpus import Corpus
from rlmusic.data.midi_io import BadMidi, find_midi_files, load_score
from rlmusic.data.tokens import bar_ids, encode_score
from rlmusic.errors import RLMusicError

FILE_PREFIX = "file:"
BOUNDARY_MARKER = "continuation"




def file_ids(path: str | Path, tokenizer) -> np.ndarray:
    """All ids of a MIDI file, as the corpus would tokenize it; an unreadable file is an error."""
    if not Path(path).is_file():
        raise RLMusicError(f"prompt {str(path)!r} does not exist; pass a MIDI file")
    try:
        return np.asarray(encode_score(tokenizer, load_score(path)), np.int64)
    except BadMidi as e:
        raise RLMusicError(f"prompt {str(path)!r}: {e}; pass another MIDI file") from None


def opening_bars(ids: np.ndarray, tokenizer, bars: int, what: str = "the prompt") -> np.ndarray:
    """The ids of the first ``bars`` bars and the Bar token that opens the next one, so that a
    continuation starts on the bar line (never inside the prompt's last bar)."""
    if tokenizer.is_trained:  # a BPE vocabulary has no Bar token left standing
        raise RLMusicError("prompts cut at bar lines need an unmerged (non-BPE) tokenizer")
    starts = np.flatnonzero(np.isin(ids, bar_ids(tokenizer)))
    if len(starts) < bars:
        raise RLMusicError(f"{what} has {len(starts)} bar(s), fewer than the {bars} asked for; lower --prompt-bars")
    if len(starts) > bars:
        return ids[: starts[bars] + 1]
    return np.append(ids, ids[starts[0]])  # the file ends after those bars: open the next one


def corpus_openings(corpus: Corpus, tokens: int, name_filter: str = "") -> list[np.ndarray]:
    """The first ``tokens`` ids of each training piece that long (named with ``name_filter``, if set)."""
    train = corpus.indices("train")
    train = train[np.diff(corpus.offsets)[train] >= tokens]
    if name_filter:
        train = np.array([i for i in train if name_filter in corpus.names[i]], dtype=np.int64)
    if len(train) == 0:
        what = f" named with {name_filter!r}" if name_filter else ""
        raise RLMusicError(f"no training piece{what} has {tokens} tokens for a prompt; lower ppo.prompt_tokens "
                           f"or change ppo.prompt_from")
    return [corpus.piece(i)[:tokens].astype(np.int64) for i in train]


def file_openings(folder: str | Path, tokenizer, tokens: int) -> list[np.ndarray]:
    """The first ``tokens`` ids of each MIDI file in ``folder`` that long (unreadable files skipped)."""
    files = find_midi_files(folder) if Path(folder).is_dir() else []
    if not files:
        raise RLMusicError(f"ppo.prompt=file:{folder}: no MIDI files there; pass a folder of .mid files")
    out = []
    for f in files:
        try:
            ids = file_ids(f, tokenizer)
        except RLMusicError:  # unreadable: skipped, as corpus folders skip it
            continue
        if len(ids) >= tokens:
            out.append(ids[:tokens])
    if not out:
        raise RLMusicError(f"ppo.prompt=file:{folder}: no readable file has {tokens} tokens; lower ppo.prompt_tokens")
    return out


def openings_for(cfg, corpus: Corpus | None, tokenizer) -> list[np.ndarray] | None:
    """The pool PPO prompts are drawn from, by ``ppo.prompt`` (``cfg`` is the PPO config); None: BOS only."""
    if cfg.prompt == "bos" or cfg.prompt_tokens == 0:
        return None
    if cfg.prompt.startswith(FILE_PREFIX):
        return file_openings(cfg.prompt[len(FILE_PREFIX):], tokenizer, cfg.prompt_tokens)
    return corpus_openings(corpus, cfg.prompt_tokens, cfg.prompt_from) if corpus is not None else None


def make_prompts(openings: list[np.ndarray] | None, bos: int, seed: int, update: int, n: int) -> torch.Tensor:
    """(n, P) prompts: BOS, then an opening drawn for this update (all openings equally long)."""
    first = torch.full((n, 1), bos, dtype=torch.long)
    if not openings:
        return first
    picks = np.random.default_rng([seed, update, 1]).choice(len(openings), n)
    return torch.cat([first, torch.tensor(np.stack([openings[i] for i in picks]))], dim=1)


def mark_continuation(score: Score, boundary: int) -> Score:
    """The score with a ``continuation`` marker at ``boundary`` and the notes starting there
    moved to tracks of their own (named "... (continuation)", same instrument), so a player or
    DAW shows and can solo where the prompt ends."""
    out = score.copy()
    out.markers.append(TextMeta(boundary, BOUNDARY_MARKER))
    tracks = []
    for track in out.tracks:
        notes = track.notes.numpy()
        late = notes["time"] >= boundary
        head, tail = track.copy(), Track(f"{track.name or 'track'} ({BOUNDARY_MARKER})", track.program, track.is_drum)
        head.notes = [n for n, is_late in zip(track.notes, late) if not is_late]
        tail.notes = [n for n, is_late in zip(track.notes, late) if is_late]
        tracks += [head, tail]
    out.tracks = [t for t in tracks if len(t.notes)]
    return out

"""MidiTok tokens for one merged stream, the matching Hugging Face tokenizer, and safe decoding.

The model sees MidiTok's ids; ``hf_tokenizer`` gives a ``PreTrainedTokenizerFast``
with the very same ids so ``generate``, ``save_pretrained`` and TRL accept it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import miditok
import numpy as np
from miditok import TokSequence
from symusic import Score
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from rlmusic.config.sections import TokenizerConfig
from rlmusic.errors import RLMusicError

PAD, BOS, EOS = "PAD_None", "BOS_None", "EOS_None"
# About 20% of the folk tunes are in 2/2, 3/2 or 4/2: midi_io rewrites those as 4/4, 6/4
# and 8/4 (same bar length, one 12-per-quarter grid), so the /4 range goes up to 8.
TIME_SIGNATURE_RANGE = {8: [3, 6, 9, 12], 4: [1, 2, 3, 4, 5, 6, 7, 8]}
MIDITOK_FILE = "miditok.json"


def build_tokenizer(cfg: TokenizerConfig) -> miditok.MusicTokenizer:
    """A fresh (untrained) MidiTok tokenizer for one merged, velocity-free stream."""
    beat_res = {tuple(int(x) for x in k.split("-")): int(v) for k, v in cfg.beat_res.items()}
    tok_cfg = miditok.TokenizerConfig(
        pitch_range=(cfg.pitch_low, cfg.pitch_high),  # inclusive in MidiTok
        beat_res=beat_res,
        use_velocities=False,
        use_time_signatures=cfg.time_signatures,
        time_signature_range=TIME_SIGNATURE_RANGE,
        special_tokens=["PAD", "BOS", "EOS"],
        remove_duplicated_notes=True,  # merged tracks double some pitches
        use_programs=False,
    )
    return getattr(miditok, cfg.kind)(tok_cfg)


def is_miditok_file(path: Path) -> bool:
    """A JSON file MidiTok's ``tokenizer.save`` wrote (it records its ``tokenization``)."""
    try:
        return path.is_file() and path.suffix == ".json" and "tokenization" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def find_miditok_file(folder: Path) -> Path | None:
    """``miditok.json`` (rlmusic's name), else any JSON file of MidiTok's in ``folder`` (MidiTok's
    own default name is ``tokenizer.json``, which is also transformers' name for its tokenizers)."""
    folder = Path(folder)
    if (folder / MIDITOK_FILE).is_file():
        return folder / MIDITOK_FILE
    for p in sorted(folder.glob("*.json")):
        if is_miditok_file(p):
            return p
    return None


def load_miditok(path: str | Path) -> miditok.MusicTokenizer:
    """Load a tokenizer saved with ``tok.save`` (a file, or a folder holding one): the file records its class."""
    path = Path(path)
    if path.is_dir():
        path = find_miditok_file(path) or path / MIDITOK_FILE
    if not path.is_file():
        raise RLMusicError(f"no MidiTok tokenizer at {str(path)!r}")
    kind = json.loads(path.read_text()).get("tokenization", "REMI")
    if not hasattr(miditok, kind):
        raise RLMusicError(f"{path}: unknown MidiTok tokenization {kind!r}")
    return getattr(miditok, kind)(params=path)


def tokenizer_fingerprint(tok: miditok.MusicTokenizer) -> str:
    """Short hash of everything that fixes the ids: config and (BPE) learned vocabulary."""
    payload = {"kind": type(tok).__name__, "config": tok.config.to_dict(serialize=True), "vocab": _vocab(tok)}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _vocab(tok: miditok.MusicTokenizer) -> dict[str, int]:
    return dict(tok.vocab_model) if tok.is_trained else dict(tok.vocab)


def vocab_size(tok: miditok.MusicTokenizer) -> int:
    return len(tok)


def special_ids(tok: miditok.MusicTokenizer) -> dict[str, int]:
    """PAD, BOS and EOS ids; a one-line error naming what a tokenizer made elsewhere lacks."""
    missing = [t for t in (PAD, BOS, EOS) if t not in tok.vocab]
    if missing:
        raise RLMusicError(f"the MidiTok tokenizer has no {', '.join(missing)} token: rlmusic starts samples at BOS, "
                           f"ends them at EOS and pads with PAD; make it with special_tokens=['PAD', 'BOS', 'EOS'] "
                           f"(MidiTok's default) and retrain the model on it")
    return {"pad": tok.vocab[PAD], "bos": tok.vocab[BOS], "eos": tok.vocab[EOS]}


def bar_ids(tokenizer: miditok.MusicTokenizer) -> np.ndarray:
    """Ids of the tokenizer's Bar tokens (empty for a BPE vocabulary, whose ids merge tokens)."""
    if tokenizer.is_trained:
        return np.zeros(0, np.int64)
    return np.array(sorted(i for t, i in tokenizer.vocab.items() if t.startswith("Bar")), np.int64)


def check_single_stream(tok: miditok.MusicTokenizer, where: str = "the tokenizer") -> None:
    """Refuse a multi-vocabulary tokenizer (CPWord, Octuple, MuMIDI: several ids per step), which
    a causal LM over one id per step cannot model."""
    if tok.is_multi_voc:
        raise RLMusicError(f"{where} is a {type(tok).__name__} tokenizer, which writes several ids per step; rlmusic's "
                           f"policies emit one id per step: use a single-stream tokenization (REMI, TSD, MIDILike, "
                           f"Structured, ...), with or without BPE")


def hf_tokenizer(tok: miditok.MusicTokenizer) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` whose ids equal MidiTok's.

    Text is MidiTok token strings joined by single spaces. Split on plain spaces
    only: BPE pieces contain U+0085 and U+00A0, which whitespace splitting breaks.
    """
    core = Tokenizer(models.WordLevel(vocab=_vocab(tok), unk_token=PAD))
    core.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=PAD,
        model_max_length=1_000_000,
        clean_up_tokenization_spaces=False,
    )


def encode_score(tok: miditok.MusicTokenizer, score: Score) -> list[int]:
    """Ids of a one-track score, without BOS/EOS (BPE applied if the tokenizer is trained)."""
    seqs = tok.encode(score)
    seq = seqs[0] if isinstance(seqs, list) else seqs
    return list(seq.ids)


@dataclass
class DecodeReport:
    """What :func:`decode_ids` kept and dropped from a generated sequence."""

    n_tokens: int
    n_dropped: int
    n_notes: int
    error: str = ""

    @property
    def dropped_fraction(self) -> float:
        return self.n_dropped / self.n_tokens if self.n_tokens else 0.0


def _token_type(token: str) -> str:
    return token.split("_", 1)[0]


# Tokens that open a note, and the attributes MidiTok writes after them, in its order.
NOTE_OPENERS = ("Pitch", "NoteOn", "PitchDrum", "PitchIntervalTime", "PitchIntervalChord")
NOTE_ATTRIBUTES = ("Velocity", "Duration")


def note_attributes(tok: miditok.MusicTokenizer) -> tuple[str, ...]:
    """The token types that follow every note opener in ``tok``'s sequences (Velocity with
    velocities, Duration where durations are tokens: REMI, TSD, Structured; not MIDILike)."""
    types = {_token_type(t) for t in tok.vocab}
    return tuple(a for a in NOTE_ATTRIBUTES if a in types)


def decode_ids(tok: miditok.MusicTokenizer, ids: list[int] | np.ndarray) -> tuple[Score, DecodeReport]:
    """Decode generated ids to a score, never raising on an ill-formed sequence.

    Stops at the first EOS; drops PAD/BOS/MASK, note openers (Pitch, NoteOn, ...) not followed
    by the attributes the tokenizer writes after them (Velocity, Duration: ``note_attributes``)
    and attributes outside a note; decodes the rest. If MidiTok still fails, returns an empty
    score and says why in the report. Works for any single-stream MidiTok tokenizer, with or
    without a trained BPE/Unigram/WordPiece model.
    """
    ids = [int(i) for i in ids]
    n_total = len(ids)
    sp = special_ids(tok)
    if sp["eos"] in ids:
        ids = ids[: ids.index(sp["eos"])]
    ids = [i for i in ids if i not in (sp["pad"], sp["bos"]) and 0 <= i < len(tok)]
    seq = TokSequence(ids=ids, are_ids_encoded=tok.is_trained)
    if tok.is_trained:
        tok.decode_token_ids(seq)  # BPE ids -> base ids
    tokens = [tok[i] for i in seq.ids]
    attrs = note_attributes(tok)
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        t = _token_type(tokens[i])
        if t in NOTE_OPENERS:
            follow = tokens[i + 1 : i + 1 + len(attrs)]
            if len(follow) == len(attrs) and all(_token_type(f) == a for f, a in zip(follow, attrs)):
                kept += tokens[i : i + 1 + len(attrs)]
                i += 1 + len(attrs)
                continue
        elif t not in (*NOTE_ATTRIBUTES, "PAD", "BOS", "EOS", "MASK"):
            kept.append(tokens[i])
        i += 1
    base_ids = [tok.vocab[t] for t in kept]
    n_dropped = n_total - len(kept) if not tok.is_trained else len(tokens) - len(kept)
    try:
        kept_seq = TokSequence(tokens=kept, ids=base_ids, are_ids_encoded=False)
        score = tok.decode(kept_seq if tok.one_token_stream else [kept_seq])
        error = ""
    except Exception as e:  # MidiTok can still fail on odd time-signature/position mixes
        score, error = Score(tok.time_division), f"{type(e).__name__}: {e}"
        n_dropped = max(n_total, len(tokens))
    n_notes = int(sum(len(t.notes) for t in score.tracks))
    return score, DecodeReport(n_tokens=n_total, n_dropped=n_dropped, n_notes=n_notes, error=error)


def pitch_of_ids(tok: miditok.MusicTokenizer) -> np.ndarray:
    """(V,) MIDI pitch of each id that is a Pitch token, -1 elsewhere (base vocabulary only)."""
    out = np.full(len(tok), -1, dtype=np.int16)
    if tok.is_trained:
        return out  # a BPE id can hold several tokens: no single pitch
    for token, i in tok.vocab.items():
        if token.startswith("Pitch_"):
            out[i] = int(token.split("_", 1)[1])
    return out


def transpose_table(tok: miditok.MusicTokenizer, max_shift: int) -> np.ndarray:
    """(2*max_shift+1, V) table: row ``s + max_shift`` maps each id to its id transposed by ``s``.

    Pitch ids whose transposition leaves the range map to -1; every other id maps to itself.
    """
    pitches = pitch_of_ids(tok)
    base = np.arange(len(tok), dtype=np.int32)
    table = np.tile(base, (2 * max_shift + 1, 1))
    for row, s in enumerate(range(-max_shift, max_shift + 1)):
        for i in np.flatnonzero(pitches >= 0):
            table[row, i] = tok.vocab.get(f"Pitch_{pitches[i] + s}", -1)
    return table


def save_tokenizers(tok: miditok.MusicTokenizer, folder: str | Path) -> None:
    """MidiTok params (``miditok.json``) and the HF tokenizer files, side by side."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(folder / MIDITOK_FILE)
    hf_tokenizer(tok).save_pretrained(str(folder))


def notes_per_id(tok: miditok.MusicTokenizer, prefix: str = "Pitch_") -> np.ndarray:
    """(V,) how many notes (Pitch tokens) each id stands for: 0/1, or more for BPE pieces.
    ``prefix="Bar"`` counts bar lines instead."""
    if not tok.is_trained:
        return np.array([int(tok[i].startswith(prefix)) for i in range(len(tok))], np.int32)
    out = np.zeros(len(tok), dtype=np.int32)
    for i in range(len(tok)):
        seq = TokSequence(ids=[i], are_ids_encoded=True)
        tok.decode_token_ids(seq)
        out[i] = sum(tok[j].startswith(prefix) for j in seq.ids)
    return out

"""The jazz / not-jazz discriminator: a small sequence classifier over token windows.

It speaks one tokenizer, saved in its checkpoint. Samples in that tokenizer are scored as
generated (no MIDI round trip); samples of a policy with another tokenizer are decoded and
re-encoded with its own (``ids_for``), so one discriminator serves every policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    get_cosine_schedule_with_warmup,
)

from rlmusic.config.sections import ClfConfig
from rlmusic.data.batches import transpose_windows
from rlmusic.data.jazz_data import family_of
from rlmusic.data.labelled import Labelled, drop_notes, sample_windows
from rlmusic.data.tokens import (
    decode_ids,
    encode_score,
    find_miditok_file,
    load_miditok,
    notes_per_id,
    pitch_of_ids,
    special_ids,
    tokenizer_fingerprint,
    transpose_table,
)
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import read_json, resolve_checkpoint, restore_optimizer, restoring, save_checkpoint
from rlmusic.models.classify_eval import classification_report, family_accuracy, roc_auc, style_folds
from rlmusic.models.surprisal import SurprisalClassifier
from rlmusic.music.corrupt import score_from_piece
from rlmusic.music.piece import Piece, piece_from_score

CLF_FILE = "discriminator.json"
# What a train-clf checkpoint keeps for resuming, checked when it is read.
STATE_SCHEMA = {"optimizer": dict, "scheduler": dict, "numpy_rng": dict, "torch_rng": torch.Tensor, "step": int}


class Discriminator(nn.Module):
    """P(jazz) for token windows. ``save``/``name``/``num_parameters`` fit ``save_checkpoint``."""

    name = "jazz_discriminator"

    def __init__(self, model: nn.Module, fingerprint: str, max_window: int, tokenizer=None):
        super().__init__()
        self.model = model
        self.fingerprint = fingerprint
        self.max_window = max_window
        self.pad = model.config.pad_token_id
        self.tokenizer = tokenizer  # the MidiTok tokenizer its ids are in (None: only same-vocabulary ids)

    @classmethod
    def build(cls, cfg: ClfConfig, tokenizer) -> Discriminator:
        """A fresh discriminator of ``cfg.arch``, its trunk from ``cfg.init_from`` (a GPT-2 policy
        of the same vocabulary, which already knows the corpus's music) or new."""
        sp = special_ids(tokenizer)
        labels = dict(num_labels=2, pad_token_id=sp["pad"], id2label={0: "other", 1: "jazz"},
                      label2id={"other": 0, "jazz": 1})
        fingerprint = tokenizer_fingerprint(tokenizer)
        surprisal = cfg.arch == "surprisal"
        # the ids that carry a pitch (a BPE id that holds a Pitch token among others counts)
        pitch_mask = torch.from_numpy(notes_per_id(tokenizer) > 0) if surprisal and cfg.pitch_surprise else None
        if cfg.init_from:
            folder = resolve_checkpoint(cfg.init_from)
            if tokenizer_fingerprint(load_miditok(folder)) != fingerprint:
                raise RLMusicError(f"clf.init_from={cfg.init_from} has another vocabulary than the discriminator's "
                                   f"tokenizer; pass the same checkpoint as --policy")
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32) if surprisal else \
                AutoModelForSequenceClassification.from_pretrained(str(folder), **labels)
            if model.config.model_type != "gpt2" or model.config.n_positions < cfg.max_window:
                raise RLMusicError(f"clf.init_from must be a GPT-2 policy with a context of at least "
                                   f"clf.max_window={cfg.max_window} tokens")
            model.config.pad_token_id = sp["pad"]
            return cls(SurprisalClassifier(model, pitch_mask) if surprisal else model, fingerprint, cfg.max_window,
                       tokenizer)
        hf = GPT2Config(vocab_size=len(tokenizer), n_positions=cfg.max_window, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
                        n_head=cfg.n_head, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
                        bos_token_id=sp["bos"], eos_token_id=sp["eos"], **labels)
        model = SurprisalClassifier(GPT2LMHeadModel(hf), pitch_mask) if surprisal \
            else AutoModelForSequenceClassification.from_config(hf)
        return cls(model, fingerprint, cfg.max_window, tokenizer)

    @property
    def kind(self) -> str:
        return getattr(self.model, "kind", "classifier")

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.model.save_pretrained(str(folder), safe_serialization=True)
        (folder / CLF_FILE).write_text(json.dumps({"fingerprint": self.fingerprint, "max_window": self.max_window,
                                                   "kind": self.kind}))

    @classmethod
    def load(cls, folder: str | Path) -> Discriminator:
        folder = Path(folder)
        if not (folder / CLF_FILE).is_file():
            raise RLMusicError(f"{folder} is not a jazz discriminator checkpoint (no {CLF_FILE}); "
                               f"train one with `rlmusic train-clf`")
        info = read_json(folder / CLF_FILE)
        try:
            if info.get("kind") == SurprisalClassifier.kind:
                model = SurprisalClassifier.from_pretrained(folder)
            else:
                model = AutoModelForSequenceClassification.from_pretrained(str(folder))
            tokenizer = load_miditok(folder) if find_miditok_file(folder) else None
            return cls(model, info["fingerprint"], info["max_window"], tokenizer).eval()
        except Exception as e:  # truncated weights, a foreign config, missing keys
            raise RLMusicError(f"discriminator {str(folder)!r} could not be loaded ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else 'damaged'}); restore it or train another "
                               f"with `rlmusic train-clf`") from None

    def speaks(self, tokenizer) -> bool:
        """Whether ids of ``tokenizer`` are this discriminator's ids."""
        return tokenizer_fingerprint(tokenizer) == self.fingerprint

    def check_tokenizer(self, tokenizer, what: str = "the policy") -> None:
        """Samples of ``tokenizer`` can be scored: the same vocabulary, or one it re-encodes from."""
        if not self.speaks(tokenizer) and self.tokenizer is None:
            raise RLMusicError(f"the discriminator was trained on another vocabulary than {what} (tokenizer "
                               f"{self.fingerprint} vs {tokenizer_fingerprint(tokenizer)}) and its checkpoint has no "
                               f"tokenizer to re-encode samples with; retrain it with `rlmusic train-clf`")

    def encode(self, pieces: list[Piece]) -> list[list[int]]:
        """Pieces as this discriminator's ids (its own tokenizer), for samples of another vocabulary."""
        return [encode_score(self.tokenizer, score_from_piece(p)) for p in pieces]

    def ids_for(self, ids: list[list[int]], tokenizer, pieces: list[Piece] | None = None) -> list[list[int]]:
        """Sequences of ``tokenizer`` as this discriminator reads them: as they are when it speaks
        that tokenizer, else decoded (or ``pieces``, already decoded) and re-encoded."""
        if self.speaks(tokenizer):
            return ids
        self.check_tokenizer(tokenizer)
        if pieces is None:
            pieces = [piece_from_score(decode_ids(tokenizer, x)[0]) for x in ids]
        return self.encode(pieces)

    def logits(self, windows: list[list[int]]) -> torch.Tensor:
        """(B, 2) logits for windows of ids (right-padded here, last ``max_window`` ids kept)."""
        return self.scores(windows)[0]

    def scores(self, windows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 2) logits, and for a ``surprisal`` discriminator each window's mean next-token NLL
        (its language model's loss; None for a plain classifier)."""
        windows = [w[-self.max_window :] or [self.pad] for w in windows]
        width = max(map(len, windows))
        device = next(self.parameters()).device
        x = torch.full((len(windows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(windows), width), dtype=torch.long)
        for i, w in enumerate(windows):
            x[i, : len(w)] = torch.tensor(w)
            mask[i, : len(w)] = 1
        out = self.model(input_ids=x.to(device), attention_mask=mask.to(device))
        return out if isinstance(out, tuple) else (out.logits, None)  # (B, 2), (B,)

    def prob_jazz(self, sequences: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """(B,) P(jazz) of each sequence's last ``max_window`` ids, in eval mode (deterministic)."""
        return self._per_sequence(sequences, batch_size, lambda z: torch.softmax(z, -1)[:, 1])

    def log_odds_jazz(self, sequences: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """(B,) log P(jazz) / P(other), the difference of the two logits, read as ``prob_jazz`` reads."""
        return self._per_sequence(sequences, batch_size, lambda z: z[:, 1] - z[:, 0])

    @torch.no_grad()
    def _per_sequence(self, sequences: list[list[int]], batch_size: int, head) -> np.ndarray:
        was = self.training
        self.eval()
        out = [head(self.logits(sequences[i : i + batch_size]).float()).cpu().numpy()
               for i in range(0, len(sequences), batch_size)]
        self.train(was)
        return np.concatenate(out) if out else np.zeros(0)


def load_discriminator(path: str | Path) -> Discriminator:
    """A discriminator checkpoint folder, or its run folder (newest checkpoint)."""
    return Discriminator.load(resolve_checkpoint(path))


# --- training ---------------------------------------------------------------------------------


def discriminator_loss(disc: Discriminator, windows: list[list[int]], labels: list[int],
                       lm_weight: float) -> torch.Tensor:
    """Cross-entropy of the labels, plus ``lm_weight`` times a ``surprisal`` discriminator's own
    language-model loss on the jazz windows (it stays a model of jazz)."""
    logits, nll = disc.scores(windows)
    target = torch.tensor(labels, device=logits.device)
    loss = F.cross_entropy(logits.float(), target)
    if nll is not None and lm_weight and bool((target == 1).any()):
        loss = loss + lm_weight * nll[target == 1].mean()
    return loss


def train_discriminator(disc: Discriminator, data: Labelled, cfg: ClfConfig, progress: bool = True,
                        log: Callable[[int, dict], None] | None = None, tokenizer=None,
                        resume_state: dict | None = None,
                        checkpoint: Callable[[int, dict], None] | None = None,
                        scrambled: list[np.ndarray] | None = None,
                        generated: list[np.ndarray] | None = None) -> Discriminator:
    """``tokenizer`` (base vocabulary) enables ``cfg.augment_transpose`` and ``cfg.augment_drop_notes``.
    ``scrambled``: corrupted copies of the jazz training pieces, ``cfg.scrambled_share`` of each
    batch, as negatives (transposed like every window: a transposed scramble is still one).
    ``generated``: a generator's samples, ``cfg.generated_share`` of each batch, as negatives.

    ``checkpoint(step, state)`` is called every ``cfg.save_every`` steps (before the last) with
    what ``resume_state`` takes back: the optimizer, schedule and both random streams, so a
    resumed run draws the same windows and dropout masks as one never interrupted."""
    if not (data.labels == 1).any() or not (data.labels == 0).any():
        raise RLMusicError("the discriminator needs both jazz and non-jazz training pieces")
    rng = np.random.default_rng(cfg.seed)
    table = pitches = None
    if tokenizer is not None and cfg.augment_transpose and not tokenizer.is_trained:
        table, pitches = transpose_table(tokenizer, cfg.augment_transpose), pitch_of_ids(tokenizer)
    is_pitch = is_duration = None
    if tokenizer is not None and cfg.augment_drop_notes and not tokenizer.is_trained:
        is_pitch = pitch_of_ids(tokenizer) >= 0
        is_duration = np.array([t.startswith("Duration_") for t, _ in sorted(tokenizer.vocab.items(), key=lambda kv: kv[1])])
    opt = torch.optim.AdamW(disc.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = get_cosine_schedule_with_warmup(opt, min(50, cfg.steps // 10), cfg.steps)
    start = 0
    if resume_state is not None:
        with restoring(resume_state):
            restore_optimizer(opt, resume_state["optimizer"], resume_state)
            sched.load_state_dict(resume_state["scheduler"])
            rng.bit_generator.state = resume_state["numpy_rng"]
            torch.set_rng_state(resume_state["torch_rng"])
        start = resume_state["step"]
    disc.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="train-clf", unit="step",
               disable=not progress)
    for step in bar:
        windows, labels = sample_windows(data, rng, cfg.batch_size, cfg.min_window, cfg.max_window, cfg.balance,
                                         scrambled, cfg.scrambled_share, generated, cfg.generated_share)
        if table is not None:  # the pretraining sampler's transposition, window by window (lengths differ)
            windows = [transpose_windows(np.asarray(w)[None, :], table, pitches, rng)[0].tolist() for w in windows]
        if is_pitch is not None:
            windows = [drop_notes(w, is_pitch, is_duration, cfg.augment_drop_notes, rng) for w in windows]
        loss = discriminator_loss(disc, windows, labels, cfg.lm_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(disc.parameters(), 1.0)
        opt.step()
        sched.step()
        if log and (step + 1) % 25 == 0:
            log(step + 1, {"loss/clf": loss.item()})
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if checkpoint and cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            disc.eval()  # saved as it will be loaded: in eval mode
            checkpoint(step + 1, {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step + 1,
                                  "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()})
            disc.train()
    disc.eval()
    return disc


# --- evaluation -------------------------------------------------------------------------------


def piece_windows(piece: np.ndarray, length: int, n: int) -> list[list[int]]:
    """``n`` evenly spaced windows of ``length`` ids (the whole piece if shorter)."""
    if len(piece) <= length:
        return [piece.tolist()]
    starts = np.linspace(0, len(piece) - length, n).round().astype(int)
    return [piece[s : s + length].tolist() for s in np.unique(starts)]


def score_pieces(disc: Discriminator, pieces: list[np.ndarray], window: int, n: int) -> np.ndarray:
    """Mean P(jazz) over each piece's windows."""
    spans, flat = [], []
    for p in pieces:
        w = piece_windows(p, window, n)
        spans.append((len(flat), len(flat) + len(w)))
        flat += w
    probs = disc.prob_jazz(flat)
    return np.array([probs[a:b].mean() for a, b in spans])


def evaluate_discriminator(disc: Discriminator, data: Labelled, cfg: ClfConfig) -> dict:
    """The classification report of the test pieces, and each jazz group's ROC-AUC against all
    the test negatives (``auc_by_jazz_group``: solo lines, piano, melodies, for a folder of them)."""
    probs = score_pieces(disc, data.pieces, cfg.max_window // 2, cfg.eval_windows)
    out = classification_report(data.labels, probs, data.groups)
    groups = np.array(data.groups)
    jazz_groups = sorted(set(groups[data.labels == 1]))
    if len(jazz_groups) > 1:
        out["auc_by_jazz_group"] = {g: roc_auc(data.labels[(groups == g) | (data.labels == 0)],
                                               probs[(groups == g) | (data.labels == 0)]) for g in jazz_groups}
    folk = np.array([g == "folk/bach" for g in data.groups])
    if folk.any():
        out["folk_bach_accuracy"] = float((probs[folk] < 0.5).mean())
    return out


def grouped_cv(data: Labelled, tokenizer, cfg: ClfConfig, progress: bool = True, done: list[dict] | None = None,
               on_fold: Callable[[dict], None] | None = None,
               scramble: Callable[[Labelled], list[np.ndarray]] | None = None) -> dict:
    """Train on all but a fold of groove families, test on the held-out families' pieces (every split).

    Reports per fold and overall accuracy, balanced accuracy (the held-out pieces are mostly
    "other", so plain accuracy flatters), the majority-class rate, ROC-AUC, and each family's
    accuracy when it was held out. ``on_fold(record)`` gets each finished fold; passing those
    records back as ``done`` skips their folds (each fold is seeded by its index, so a resumed
    CV gives the same figures). ``scramble(train)``: the corrupted negatives of a fold's training
    pieces, as in the full training run."""
    metrics = ("accuracy", "balanced_accuracy", "majority_rate", "roc_auc")
    finished = {tuple(r["held_out"]): r for r in done or []}
    records = []
    for i, held in enumerate(style_folds(data.groups, data.labels, cfg.cv_folds, cfg.seed)):
        if tuple(sorted(held)) in finished:
            records.append(finished[tuple(sorted(held))])
            continue
        held_mask = np.array([family_of(g) in held for g in data.groups])
        train = data.select(~held_mask & np.array([s == "train" for s in data.splits]))
        test = data.select(held_mask)
        torch.manual_seed(cfg.seed + i)
        scrambled = scramble(train) if scramble is not None and cfg.scrambled_share else None
        disc = train_discriminator(Discriminator.build(cfg, tokenizer), train, cfg, progress=progress, tokenizer=tokenizer,
                                   scrambled=scrambled)
        r = evaluate_discriminator(disc, test, cfg)
        records.append({"held_out": sorted(held), "n": r["n"], "by_style": r["by_style"]} | {k: r[k] for k in metrics})
        if on_fold:
            on_fold(records[-1])
        if progress:
            tqdm.write(f"fold {i + 1}/{cfg.cv_folds}: held out {', '.join(sorted(held))}: accuracy "
                       f"{r['accuracy']:.3f} (all 'other': {r['majority_rate']:.3f}), balanced "
                       f"{r['balanced_accuracy']:.3f}, ROC-AUC {r['roc_auc']:.3f} ({r['n']} pieces)")
    by_style = {s: v for r in records for s, v in r["by_style"].items()}  # each style is held out in one fold only
    mean = {k: float(np.nanmean([r[k] for r in records])) for k in metrics}
    folds = [{k: v for k, v in r.items() if k != "by_style"} for r in records]
    return {"folds": folds, **mean, "by_family": family_accuracy(by_style)}


def save_discriminator(disc: Discriminator, out_dir: str | Path, tokenizer, meta: dict,
                       training_state: dict | None = None, keep_last: int = 0) -> Path:
    return save_checkpoint(out_dir, meta.get("step", 0), disc, tokenizer, meta | {"stage": "classifier"},
                           training_state=training_state, keep_last=keep_last)


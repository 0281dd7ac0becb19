"""Config dataclasses, one per stage, loadable from ``configs/*.yaml`` and overridable.

A YAML file has one mapping per section (``tokenizer:``, ``data:``, ``model:``,
``pretrain:``, ``clf:``, and ``ppo:``, whose dataclass is in ``rlmusic/config/ppo.py``);
the command line overrides any field with ``section.field=value``. Unknown sections or keys, wrong types and impossible
values are :class:`RLMusicError` s naming the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from rlmusic.config.checks import non_negative, positive
from rlmusic.config.ppo import PPOConfig  # here too: every stage imports its config from this module
from rlmusic.errors import RLMusicError


@dataclass
class TokenizerConfig:
    """How MIDI becomes tokens (MidiTok)."""

    kind: str = "REMI"
    """MidiTok tokenization: ``REMI`` (default) or ``TSD``."""
    pitch_low: int = 21
    """Lowest pitch in the vocabulary (A0)."""
    pitch_high: int = 108
    """Highest pitch in the vocabulary (C8)."""
    beat_res: dict = field(default_factory=lambda: {"0-4": 12, "4-12": 4})
    """Positions per beat for duration ranges in beats. 12 per beat keeps both
    straight sixteenths and swing/triplet eighths exact; 8 would split swing."""
    time_signatures: bool = True
    """Emit TimeSig tokens. /2 meters (about 20% of the folk tunes) are written as /4
    with the same bar length (2/2 -> 4/4, 4/2 -> 8/4) so one grid fits every meter."""
    bpe_vocab_size: int = 0
    """Train MidiTok BPE to this vocabulary size on the training split (0: no BPE). With BPE,
    ``pretrain.augment_transpose`` encodes the corpus once more per shift, transposed before
    encoding (a merged id cannot be transposed token by token)."""

    def validate(self) -> None:
        if self.kind not in ("REMI", "TSD"):
            raise RLMusicError(f"tokenizer.kind must be REMI or TSD, got {self.kind!r}")
        if not 0 <= self.pitch_low < self.pitch_high <= 127:
            raise RLMusicError("tokenizer.pitch_low/pitch_high must satisfy 0 <= low < high <= 127")
        for k, v in self.beat_res.items():
            try:
                a, b = (int(x) for x in str(k).split("-"))
            except ValueError:
                raise RLMusicError(f"tokenizer.beat_res key {k!r} must look like '0-4'") from None
            if not (0 <= a < b) or not isinstance(v, int) or v <= 0:
                raise RLMusicError(f"tokenizer.beat_res entry {k!r}: {v!r} is not a range with a positive resolution")
        if self.bpe_vocab_size < 0:
            raise RLMusicError("tokenizer.bpe_vocab_size must be >= 0")


@dataclass
class DataConfig:
    """Where the training pieces come from and how they are cleaned."""

    data: str = ""
    """Folder of .mid/.midi files (searched recursively); empty: the embedded
    default corpus (music21's folk-tune ABC collections and Bach chorales)."""
    program: int = -1
    """Keep only non-drum tracks with this General MIDI program (0-127); -1 merges
    every non-drum track into one stream."""
    val_fraction: float = 0.05
    """Fraction of pieces held out for validation (chosen by a hash of the name,
    so the split is stable when files are added)."""
    max_tokens_per_piece: int = 16384
    """Pieces longer than this are cut (a note at tick 2.7e8 would make ~280k tokens)."""
    workers: int = 2
    """Processes used to convert and tokenize the corpus."""
    cache_dir: str = ""
    """Where prepared corpora are cached; empty: $RLMUSIC_CACHE or ~/.cache/rlmusic."""

    def validate(self) -> None:
        if not -1 <= self.program <= 127:
            raise RLMusicError(f"data.program must be -1 or a GM program 0-127, got {self.program}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise RLMusicError(f"data.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.max_tokens_per_piece < 16:
            raise RLMusicError("data.max_tokens_per_piece must be >= 16")
        if self.workers < 1:
            raise RLMusicError("data.workers must be >= 1")


@dataclass
class ModelConfig:
    """The policy network (see ``policies/``)."""

    policy: str = "transformer"
    """Policy name from the registry in ``policies/``: ``transformer`` or ``lstm``."""
    arch: str = "gpt2"
    """Transformer flavour from ``transformers``: ``gpt2`` or ``llama`` for a new policy; a model
    loaded from elsewhere keeps its own ``model_type`` here (``mistral``, ``qwen2``, ...)."""
    n_layer: int = 4
    """Transformer blocks (or LSTM layers)."""
    n_head: int = 4
    """Attention heads (transformer only)."""
    n_embd: int = 256
    """Embedding / hidden width."""
    block_size: int = 512
    """Longest context in tokens (positions of the transformer)."""
    dropout: float = 0.1
    """Dropout on residuals, attention and embeddings (LSTM: between layers)."""

    def validate(self) -> None:
        if not self.arch.replace("_", "").isalnum():
            raise RLMusicError(f"model.arch must be gpt2 or llama (or a loaded model's model_type), got {self.arch!r}")
        positive("model", self, "n_layer", "n_head", "n_embd", "block_size")
        if self.n_embd % self.n_head:
            raise RLMusicError(f"model.n_embd ({self.n_embd}) must be divisible by model.n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise RLMusicError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class PretrainConfig:
    """Maximum-likelihood pretraining (``rlmusic pretrain``)."""

    out_dir: str = "checkpoints/runs/pretrain"
    """Run folder: checkpoints, metrics.jsonl and logs go here."""
    seed: int = 0
    """Seeds initialisation, window sampling and augmentation."""
    max_steps: int = 2000
    """Optimizer steps in total (each of batch_size x grad_accum windows)."""
    batch_size: int = 16
    """Windows per micro-batch."""
    grad_accum: int = 1
    """Micro-batches accumulated per optimizer step."""
    lr: float = 5e-4
    """Peak learning rate (AdamW)."""
    warmup_steps: int = 100
    """Linear warmup steps before the cosine decay to zero."""
    weight_decay: float = 0.01
    """AdamW weight decay on matrices (not on biases, norms or embeddings' bias)."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.999
    """AdamW beta2."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this (0: off)."""
    augment_transpose: int = 5
    """Random pitch transposition of each window by up to +/- this many semitones
    (0: off), only where every pitch stays in range. With a BPE vocabulary the pieces are
    transposed before encoding, one cached copy of the corpus per shift."""
    oversample: dict = field(default_factory=dict)
    """Piece-name prefix -> how many times each training piece whose name starts with it enters
    the training stream (``{"mma/": 4}``: the default corpus's MMA arrangements four times). A
    corpus's mixture sets what the prior plays from BOS: in the default corpus one piece in ten
    is a jazz arrangement, though they are 43% of the tokens. Validation is unchanged; names are
    those of the corpus (the MIDI file's path under its folder, without the suffix)."""
    eval_every: int = 200
    """Validate every this many steps (and at the end)."""
    eval_windows: int = 64
    """At most this many validation windows per evaluation."""
    save_every: int = 500
    """Write a checkpoint every this many steps (and at the end)."""
    keep_last: int = 3
    """Keep only the newest this many checkpoints (0: keep all)."""
    keep_best: bool = False
    """Also keep the checkpoint with the lowest validation loss so far in ``out_dir/best/`` (a
    small folder of one's own overfits within minutes; ``--init-from`` turns it on)."""
    init_from: str = ""
    """Start from this checkpoint's weights and tokenizer (an rlmusic checkpoint, a run folder, or
    a transformers model with its MidiTok tokenizer) instead of a fresh model: maximum-likelihood
    fine-tuning on ``--data``, the step before PPO."""
    log_every: int = 10
    """Write training metrics every this many steps."""
    report_to: str = "none"
    """Extra logging besides metrics.jsonl: ``none``, ``wandb`` (offline unless
    WANDB_MODE says otherwise) or ``tensorboard``."""
    mixed_precision: str = "auto"
    """``auto`` (bf16 on CUDA, fp32 on CPU), ``bf16``, ``fp16`` or ``no``."""
    threads: int = 0
    """torch CPU threads (0: leave torch's default). On a loaded 2-core machine one
    thread can be faster than two."""
    max_bad_steps: int = 3
    """Consecutive steps with a non-finite loss or gradient (each skipped) before the
    run stops with an error; the last good checkpoint stays."""

    def validate(self) -> None:
        positive("pretrain", self, "max_steps", "max_bad_steps", "batch_size", "grad_accum", "eval_every",
                  "save_every", "log_every", "eval_windows", "lr")
        non_negative("pretrain", self, "warmup_steps", "weight_decay", "grad_clip", "augment_transpose", "keep_last",
                      "threads")
        if self.report_to not in ("none", "wandb", "tensorboard"):
            raise RLMusicError(f"pretrain.report_to must be none, wandb or tensorboard, got {self.report_to!r}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise RLMusicError(f"pretrain.mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")
        for prefix, times in self.oversample.items():
            if not isinstance(times, int) or isinstance(times, bool) or times < 1:
                raise RLMusicError(f"pretrain.oversample.{prefix} must be a whole number of times >= 1, got {times!r}")


@dataclass
class SampleConfig:
    """How pieces are sampled from a policy: the flags of ``rlmusic generate`` and ``rlmusic metrics``
    (PPO's rollouts take theirs from the ``ppo:`` section)."""

    num: int = 8
    """Pieces to generate."""
    max_new_tokens: int = 512
    """Tokens generated after the prompt (past the policy's context, by a sliding window)."""
    temperature: float = 1.0
    """Softmax temperature (> 0)."""
    top_k: int = 0
    """Sample among the k most likely tokens (0: all)."""
    top_p: float = 1.0
    """Nucleus sampling: smallest set with this much probability (1.0: off)."""
    batch_size: int = 16
    """Pieces generated together."""
    seed: int = 0
    """Sampling seed: the same seed gives the same pieces."""
    min_new_tokens: int = 0
    """No end (EOS) before this many new tokens (transformers' ``min_new_tokens``): pieces as
    long as asked for, however early the policy would end them."""
    min_bars: int = 0
    """No end before this many bars: EOS is held back, and a sample still short of them at
    ``max_new_tokens`` goes on (up to twice as many tokens) until its next bar line; 0: off."""
    context_keep: int = 0
    """A sample that outgrows the policy's context goes on from its last this-many tokens, re-read
    as a fresh window (a sliding window; the policy was trained on windows cut anywhere in a
    piece); 0: half the context."""

    def validate(self) -> None:
        if self.num <= 0 or self.batch_size <= 0 or self.max_new_tokens <= 0:
            raise RLMusicError("sample.num, sample.batch_size and sample.max_new_tokens must be positive")
        non_negative("sample", self, "context_keep", "min_new_tokens", "min_bars")
        if not self.temperature > 0:
            raise RLMusicError(f"sample.temperature must be > 0, got {self.temperature}")
        non_negative("sample", self, "top_k")
        if not 0 < self.top_p <= 1:
            raise RLMusicError(f"sample.top_p must be in (0, 1], got {self.top_p}")


@dataclass
class ClfConfig:
    """The jazz / not-jazz discriminator (``rlmusic train-clf``)."""

    out_dir: str = "checkpoints/runs/jazz-clf"
    """Where the discriminator checkpoint goes."""
    arch: str = "surprisal"
    """``surprisal``: a causal language model of the music whose head reads its mean hidden state
    and its surprise at each next token (``rlmusic/models/surprisal.py``: it hears when the pitches
    make no sense); ``classifier``: a GPT-2 sequence classifier over the last token's state."""
    pitch_surprise: bool = False
    """``surprisal`` only: the head also reads the surprise statistics over the pitch tokens alone,
    where permuted pitches show undiluted by the rhythm tokens around them."""
    lm_weight: float = 0.5
    """``surprisal`` only: weight of the language model's own loss on the jazz windows beside the
    classification loss, so its surprise stays that of a model of jazz."""
    n_layer: int = 2
    """Transformer blocks of the classifier."""
    n_head: int = 4
    """Attention heads."""
    n_embd: int = 128
    """Width."""
    dropout: float = 0.1
    """Dropout."""
    steps: int = 600
    """Optimizer steps."""
    batch_size: int = 32
    """Windows per step, half jazz and half not."""
    lr: float = 5e-4
    """AdamW learning rate (cosine decay after 50 warmup steps)."""
    min_window: int = 32
    """Shortest training window in tokens; each window gets a random length in [min, max]."""
    max_window: int = 128
    """Longest training window, and the context scored by the reward (a sample's last tokens):
    about two bars of a dense arrangement, enough for swing and comping rhythm."""
    eval_windows: int = 4
    """Windows averaged per test piece."""
    balance: str = "piece"
    """How a label's training windows are drawn: "piece" (every piece equally likely) or
    "family" (every groove family equally likely, then a piece in it), so that families with
    many style files (swing, rock) do not outweigh the rest."""
    augment_transpose: int = 6
    """Random transposition of each training window by up to +/- this many semitones (0: off),
    so the classifier cannot key on a groove's exact voicings."""
    augment_drop_notes: float = 0.0
    """Drop each note (its Pitch token and the Duration after it) of a training window with this
    probability (0: off), so the classifier cannot key on a groove's exact note pattern."""
    scrambled_share: float = 0.25
    """Share of every training batch (and of every co-evolving refresh's) drawn from corrupted
    copies of the jazz training pieces, as negatives: pitches permuted among the notes, onsets
    shuffled within the bar, bars spliced from other pieces in other keys, half the voices
    transposed (``scrambled_kinds``). Texture without harmony must read as not jazz; 0: off."""
    scrambled_kinds: list[str] = field(default_factory=lambda: ["permuted_pitches", "shuffled_onsets",
                                                                "spliced_bars", "transposed_voices"])
    """Which corruptions make those negatives (names of ``rlmusic.music.corrupt.CORRUPTIONS``,
    in turn over the copies; the judge learns from the same default). The default leaves out
    ``shuffled_beats``, which the scramble test measures all the same: a discriminator that also
    learned from it heard it better, but PPO against it changed chord as often (docs/results.md)."""
    scrambled_copies: int = 1
    """Corrupted copies of each jazz training piece (each corrupted afresh, the kinds in
    turn over all of them): with one and the four default kinds, a hundred pieces give some 25
    pitch-permuted copies, few enough to learn by heart rather than to learn what a permutation does."""
    generated_share: float = 0.2
    """With ``train-clf --generated DIR`` (a generator's samples): their share of every training
    batch, as negatives beside the scrambled copies: the seeds' GAN, whose classifier learns
    from the generator's own output."""
    split_by: str = "file"
    """How ``--jazz``/``--other`` folders are split into train and test (a fifth held out): by
    ``file``, or by ``prefix``, the part of a file name before its first underscore, so the
    ``Performer_Tune`` files of one performer stay on one side."""
    cv_folds: int = 0
    """Grouped cross-validation folds, holding out whole groove families (0: off)."""
    save_every: int = 200
    """Steps between resumable checkpoints of the discriminator (0: only the final one);
    ``train-clf --resume`` continues from the newest, and grouped CV from its last finished fold."""
    init_from: str = ""
    """A GPT-2 policy checkpoint whose trunk initialises the classifier (its sizes replace
    n_layer/n_head/n_embd/dropout); empty: a fresh transformer of those sizes."""
    seed: int = 0
    """Seeds windows, initialisation and folds."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""

    def validate(self) -> None:
        positive("clf", self, "n_layer", "n_head", "n_embd", "steps", "batch_size", "min_window", "eval_windows", "lr",
                 "scrambled_copies")
        if self.max_window < self.min_window:
            raise RLMusicError("clf.max_window must be >= clf.min_window")
        if self.n_embd % self.n_head:
            raise RLMusicError("clf.n_embd must be divisible by clf.n_head")
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise RLMusicError("clf.cv_folds must be 0 (off) or at least 2")
        if self.save_every < 0:
            raise RLMusicError("clf.save_every must be 0 (only the final checkpoint) or positive")
        if not 0 <= self.augment_drop_notes < 1:
            raise RLMusicError("clf.augment_drop_notes must be in [0, 1)")
        if not 0 <= self.scrambled_share < 0.5:
            raise RLMusicError(f"clf.scrambled_share must be in [0, 0.5) (half of a batch is jazz), "
                               f"got {self.scrambled_share}")
        if not 0 <= self.generated_share < 0.5 or self.scrambled_share + self.generated_share >= 0.5:
            raise RLMusicError(f"clf.generated_share must be in [0, 0.5) and, with clf.scrambled_share, below 0.5 "
                               f"(half of a batch is jazz), got {self.generated_share}")
        if self.split_by not in ("file", "prefix"):
            raise RLMusicError(f"clf.split_by must be file or prefix, not {self.split_by!r}")
        if self.arch not in ("surprisal", "classifier"):
            raise RLMusicError(f"clf.arch must be surprisal or classifier, not {self.arch!r}")
        if self.lm_weight < 0:
            raise RLMusicError("clf.lm_weight must be >= 0")
        if self.pitch_surprise and self.arch != "surprisal":
            raise RLMusicError("clf.pitch_surprise reads the surprisal head's statistics: it needs clf.arch=surprisal")
        if self.balance not in ("piece", "family"):
            raise RLMusicError(f"clf.balance must be 'piece' or 'family', not {self.balance!r}")


@dataclass
class RunConfig:
    """Everything one command reads: a section per stage."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    """``tokenizer:`` MidiTok's vocabulary (every stage reads the same ids)."""
    data: DataConfig = field(default_factory=DataConfig)
    """``data:`` where the corpus comes from and how it is cut and cached."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """``model:`` the policy's kind and size."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """``pretrain:`` maximum-likelihood training."""
    clf: ClfConfig = field(default_factory=ClfConfig)
    """``clf:`` the jazz discriminator (and its refreshes during PPO)."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """``ppo:`` RL fine-tuning."""

    def validate(self) -> RunConfig:
        for f in fields(self):
            getattr(self, f.name).validate()
        return self

    def to_dict(self) -> dict:
        return asdict(self)

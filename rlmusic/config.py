"""Config dataclasses, one per stage, loadable from ``configs/*.yaml`` and overridable.

A YAML file has one mapping per section (``tokenizer:``, ``data:``, ``model:``,
``pretrain:``, ``sample:``); the command line overrides any field with
``section.field=value``. Unknown sections or keys, wrong types and impossible
values are :class:`RLMusicError` s naming the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from rlmusic.errors import RLMusicError


def _positive(section: str, obj, *names: str) -> None:
    """Raise naming the first of ``names`` that is not > 0 (NaN included)."""
    for name in names:
        if not getattr(obj, name) > 0:
            raise RLMusicError(f"{section}.{name} must be positive, got {getattr(obj, name)}")


def _non_negative(section: str, obj, *names: str) -> None:
    for name in names:
        if not getattr(obj, name) >= 0:
            raise RLMusicError(f"{section}.{name} must be >= 0, got {getattr(obj, name)}")



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
        _positive("model", self, "n_layer", "n_head", "n_embd", "block_size")
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
        _positive("pretrain", self, "max_steps", "max_bad_steps", "batch_size", "grad_accum", "eval_every",
                  "save_every", "log_every", "eval_windows", "lr")
        _non_negative("pretrain", self, "warmup_steps", "weight_decay", "grad_clip", "augment_transpose", "keep_last",
                      "threads")
        if self.report_to not in ("none", "wandb", "tensorboard"):
            raise RLMusicError(f"pretrain.report_to must be none, wandb or tensorboard, got {self.report_to!r}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise RLMusicError(f"pretrain.mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")


@dataclass
class SampleConfig:
    """Sampling from a policy (``rlmusic generate``, and rollouts later)."""

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
        _non_negative("sample", self, "context_keep", "min_new_tokens", "min_bars")
        if not self.temperature > 0:
            raise RLMusicError(f"sample.temperature must be > 0, got {self.temperature}")
        _non_negative("sample", self, "top_k")
        if not 0 < self.top_p <= 1:
            raise RLMusicError(f"sample.top_p must be in (0, 1], got {self.top_p}")


@dataclass
class ClfConfig:
    """The jazz / not-jazz discriminator (``rlmusic train-clf``)."""

    out_dir: str = "checkpoints/runs/jazz-clf"
    """Where the discriminator checkpoint goes."""
    arch: str = "surprisal"
    """``surprisal``: a causal language model of the music whose head reads its mean hidden state
    and its surprise at each next token (``rlmusic/surprisal.py``: it hears when the pitches
    make no sense); ``classifier``: a GPT-2 sequence classifier over the last token's state."""
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
    transposed (``rlmusic/corrupt.py``). Texture without harmony must read as not jazz; 0: off."""
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
        _positive("clf", self, "n_layer", "n_head", "n_embd", "steps", "batch_size", "min_window", "eval_windows", "lr")
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
        if self.split_by not in ("file", "prefix"):
            raise RLMusicError(f"clf.split_by must be file or prefix, not {self.split_by!r}")
        if self.arch not in ("surprisal", "classifier"):
            raise RLMusicError(f"clf.arch must be surprisal or classifier, not {self.arch!r}")
        if self.lm_weight < 0:
            raise RLMusicError("clf.lm_weight must be >= 0")
        if self.balance not in ("piece", "family"):
            raise RLMusicError(f"clf.balance must be 'piece' or 'family', not {self.balance!r}")


@dataclass
class PPOConfig:
    """RL fine-tuning (``rlmusic finetune``)."""

    out_dir: str = "checkpoints/runs/finetune"
    """Run folder: checkpoints, metrics.jsonl, samples."""
    algo: str = "ppo"
    """``ppo`` (ours), or TRL's ``grpo`` / ``rloo`` with the same rewards."""
    reward: str = "repetition"
    """Rewards and weights, e.g. ``repetition=1,jazz_clf=0.5``."""
    target: str = ""
    """A folder of MIDI in the style to move toward (e.g. jazz that people played): its pieces give
    the band rewards' bands, corpus prompts' openings, and with ``refresh_from=target`` the
    co-evolving discriminator's positives (against the embedded corpus's non-jazz); empty: the
    training corpus (``bands_from``, ``prompt_from``) does."""
    bands_from: str = ""
    """The ``pitch_entropy``/``scale`` bands come from the training pieces whose name contains
    this (e.g. ``/jazz/``: the corpus's jazz arrangements, the style PPO is pushed toward);
    empty: the whole training split."""
    band_low: float = 0.05
    """A band reward's band starts at this quantile of the target pieces' values..."""
    band_high: float = 0.95
    """...and ends at this one: 0.25 and 0.75 hold a metric to the middle half of the target
    music rather than only keeping it out of the tails."""
    updates: int = 100
    """PPO updates (each: rollouts, scoring, several epochs of minibatches)."""
    batch_size: int = 32
    """Rollouts per update."""
    max_new_tokens: int = 128
    """Tokens generated per rollout after the prompt."""
    prompt: str = "corpus"
    """``corpus``: BOS plus the opening of a random training piece; ``file:DIR``: the opening
    of a random MIDI file of DIR (your own openings, continued); ``bos``: BOS only."""
    prompt_tokens: int = 16
    """Opening length (tokens after BOS) for corpus and file prompts."""
    prompt_from: str = ""
    """Corpus prompts come only from training pieces whose name contains this (e.g. ``/jazz/``:
    openings of the corpus's jazz, where the prior already plays jazz); empty: any piece."""
    temperature: float = 1.0
    """Sampling temperature; log-probabilities use the same temperature."""
    top_k: int = 0
    """Top-k during rollouts (0: off). Anything but 0 samples from a truncated distribution
    while the ratio uses the full one, so leave it off unless you know why."""
    top_p: float = 1.0
    """Nucleus sampling during rollouts (1.0: off); the same caveat as top_k."""
    min_new_tokens: int = 0
    """Rollouts may not end (EOS) before this many tokens (0: any time). A reward scored per
    piece can teach a policy to end early, where a short piece escapes the penalties a longer
    one would collect. Log-probabilities, ratio, KL and entropy are those of the distribution
    drawn from (EOS out of reach there), so EOS's own logit gets no gradient until then."""
    group_size: int = 8
    """GRPO/RLOO only: completions per prompt (must divide batch_size)."""
    epochs: int = 4
    """Optimisation epochs over each batch of rollouts."""
    minibatch_size: int = 8
    """Rollouts per minibatch."""
    lr: float = 1e-5
    """AdamW learning rate (policy and value head)."""
    cliprange: float = 0.2
    """PPO ratio clip."""
    cliprange_value: float = 0.2
    """Value prediction clip around the rollout's values."""
    vf_coef: float = 0.1
    """Weight of the value loss."""
    ent_coef: float = 0.0
    """Weight of an entropy bonus (0: none; the KL leash already keeps entropy up)."""
    gamma: float = 1.0
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    kl_coef: float = 0.05
    """Initial beta of the per-token KL penalty against the frozen reference."""
    adaptive_kl: bool = True
    """Adapt beta toward target_kl (Ziegler et al.); false: fixed beta."""
    target_kl: float = 6.0
    """Target KL (nats per sequence) of the adaptive controller."""
    kl_horizon: int = 10000
    """Horizon of the adaptive controller."""
    whiten_advantages: bool = True
    """Normalise advantages over the batch's valid tokens."""
    eos_expected: bool = False
    """Penalise rollouts that end without EOS (set when max_new_tokens allows whole pieces)."""
    missing_eos_penalty: float = 1.0
    """Subtracted from the score of a rollout without EOS when eos_expected."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    save_every: int = 10
    """Checkpoint every this many updates (and at the end)."""
    keep_last: int = 3
    """Checkpoints kept (0: all)."""
    sample_every: int = 0
    """Write the first rollouts of every this many updates as MIDI (0: never)."""
    refresh_every: int = 0
    """Co-evolving discriminator: every this many updates, train it on real jazz against
    non-jazz plus the policy's fresh rollouts (the seeds' GAN classifier; 0: off, frozen)."""
    refresh_steps: int = 200
    """Most discriminator steps per refresh (it stops earlier once refresh_target is reached)."""
    refresh_share: float = 0.25
    """Share of every refresh batch drawn from the fresh rollouts (as negatives; as many real jazz
    windows cut like them come beside them as positives), each read as
    the reward reads it: its last window of the discriminator's length."""
    refresh_real_floor: float = 0.7
    """Held-out real jazz (openings of the test split's jazz in refresh_from) must end a refresh
    at or above this mean P(jazz): a refresh stops only once it is, and one whose step budget
    ends below it goes back to its last check above it (0: no such guard)."""
    refresh_target: float = 0.3
    """A refresh stops once the fresh rollouts' mean P(jazz) falls below this."""
    refresh_from: str = "jazz_set"
    """The real music a refresh trains on: ``jazz_set`` (the rendered jazz / not-jazz set,
    ``rlmusic data jazz``, where every standard comes in a jazz and a non-jazz groove),
    ``corpus:SELECTION`` (the training corpus: pieces whose name contains SELECTION, e.g.
    ``corpus:/jazz/``, are jazz, the rest are not; its validation split is held out) or
    ``target`` (``ppo.target``'s pieces against the embedded corpus's non-jazz). The corpus
    costs nothing to build, but its negatives are mostly folk tunes and chorales."""
    seed: int = 0
    """Seeds prompts, sampling and minibatch order."""
    report_to: str = "none"
    """``none``, ``wandb`` (offline unless WANDB_MODE says otherwise) or ``tensorboard``."""
    mixed_precision: str = "auto"
    """``auto`` (bf16 on CUDA, fp32 on CPU), ``bf16``, ``fp16`` or ``no``. ``bf16`` also works
    on the CPU, and pays where it computes bf16 natively (``rlmusic.accel.cpu_bf16``): the
    demo's updates and discriminator refreshes run about 1.4x faster on such a 2-core machine."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    max_bad_steps: int = 3
    """Consecutive updates with a non-finite reward, loss or gradient before the run stops."""

    def validate(self) -> None:
        if self.algo not in ("ppo", "grpo", "rloo"):
            raise RLMusicError(f"ppo.algo must be ppo, grpo or rloo, got {self.algo!r}")
        _positive("ppo", self, "updates", "batch_size", "max_new_tokens", "epochs", "minibatch_size", "save_every",
                  "max_bad_steps", "refresh_steps", "kl_horizon", "lr", "temperature", "cliprange", "cliprange_value",
                  "target_kl")
        _non_negative("ppo", self, "kl_coef", "vf_coef", "ent_coef", "missing_eos_penalty", "max_grad_norm",
                      "prompt_tokens", "sample_every", "refresh_every", "keep_last", "threads", "top_k",
                      "min_new_tokens")
        if self.min_new_tokens > self.max_new_tokens:
            raise RLMusicError(f"ppo.min_new_tokens ({self.min_new_tokens}) must not exceed ppo.max_new_tokens "
                               f"({self.max_new_tokens})")
        if self.batch_size % self.minibatch_size:
            raise RLMusicError(f"ppo.batch_size ({self.batch_size}) must be a multiple of ppo.minibatch_size "
                               f"({self.minibatch_size})")
        if self.algo != "ppo" and (self.group_size < 2 or self.batch_size % self.group_size):
            raise RLMusicError(f"ppo.group_size ({self.group_size}) must be >= 2 and divide ppo.batch_size "
                               f"({self.batch_size})")
        if self.prompt not in ("corpus", "bos") and not (self.prompt.startswith("file:") and len(self.prompt) > 5):
            raise RLMusicError(f"ppo.prompt must be corpus, bos or file:DIR (a folder of MIDI files), "
                               f"got {self.prompt!r}")
        if self.refresh_from not in ("jazz_set", "target") and not (self.refresh_from.startswith("corpus:")
                                                                     and len(self.refresh_from) > 7):
            raise RLMusicError(f"ppo.refresh_from must be jazz_set, target or corpus:SELECTION (e.g. corpus:/jazz/), "
                               f"got {self.refresh_from!r}")
        if self.refresh_from == "target" and not self.target:
            raise RLMusicError("ppo.refresh_from=target needs ppo.target=DIR (a folder of the style to move toward)")
        if not (0 < self.refresh_share < 1 and 0 < self.refresh_target <= 1 and 0 <= self.refresh_real_floor < 1):
            raise RLMusicError("ppo.refresh_share must be in (0, 1), ppo.refresh_target in (0, 1] and "
                               "ppo.refresh_real_floor in [0, 1)")
        if not 0 <= self.band_low < self.band_high <= 1:
            raise RLMusicError(f"ppo.band_low and ppo.band_high must be quantiles with 0 <= low < high <= 1, "
                               f"got {self.band_low} and {self.band_high}")
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise RLMusicError("ppo.gamma and ppo.lam must be in [0, 1]")
        if not 0 < self.top_p <= 1:
            raise RLMusicError(f"ppo.top_p must be in (0, 1], got {self.top_p}")
        if self.report_to not in ("none", "wandb", "tensorboard"):
            raise RLMusicError(f"ppo.report_to must be none, wandb or tensorboard, got {self.report_to!r}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise RLMusicError(f"ppo.mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")


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
    sample: SampleConfig = field(default_factory=SampleConfig)
    """``sample:`` generation."""
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


# --- loading --------------------------------------------------------------------------------

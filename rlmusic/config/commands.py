"""The options of the stages that have no YAML section (``rlmusic metrics``, ``rlmusic demo``,
``rlmusic generate --best-of``, the
default jazz set): one documented field per command-line flag, and light to import, so the
parser is built without loading torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rlmusic.config.sections import SampleConfig
from rlmusic.errors import RLMusicError


@dataclass
class MetricsOptions:
    """What ``rlmusic metrics`` compares and how (the command's flags, one field each)."""

    paths: list[str] = field(default_factory=list)
    """Checkpoints (sampled) or folders of MIDI files (default: the newest rlmusic pretrain run under
    checkpoints/runs/, else the shipped checkpoints/pretrain-tiny)."""
    sample: SampleConfig = field(default_factory=lambda: SampleConfig(num=32, max_new_tokens=256))
    """How each checkpoint is sampled (a fixed seed: columns are reproducible)."""
    reference: str = ""
    """Folder of real MIDI files (default: the embedded corpus's validation split)."""
    no_reference: bool = False
    """No real-data column."""
    reference_samples: int = 200
    """Most pieces in the reference column (and in each --also-from column)."""
    reference_from: str = ""
    """Reference: the embedded corpus's pieces whose name contains this text, every split (e.g. /jazz/ for its
    jazz arrangements)."""
    reference_tokens: int | None = None
    """Cut each corpus piece of the reference and --also-from columns to this many tokens from one of its bars
    (default: --max-new-tokens when a checkpoint is sampled; 0: whole pieces)."""
    reference_model: str = ""
    """Checkpoint whose NLL of each checkpoint's samples is reported."""
    config: str = "tiny"
    """Config naming the default reference corpus (its data and tokenizer sections)."""
    data: str = ""
    """The training corpus for copy detection and corpus columns (default: the embedded one)."""
    discriminator: str = ""
    """Jazz discriminator: adds each column's mean P(jazz), the reward's view."""
    judge: str = ""
    """Independent jazz judge for judge/p_jazz (default: the shipped checkpoints/jazz-judge)."""
    no_judge: bool = False
    """No judge/p_jazz row."""
    also_from: list[str] = field(default_factory=list)
    """Add a column of the corpus's pieces whose name contains this text (repeatable), e.g. miscfolk."""
    no_copies: bool = False
    """Skip copy detection (the longest run of sampled tokens found in the training corpus)."""
    copies_from: list[str] = field(default_factory=list)
    """Folders whose pieces copy detection searches too, beside the training corpus (repeatable),
    e.g. the small target folder a policy was fine-tuned on."""
    cpu: bool = False
    """Sample on the CPU even if a GPU is present."""


@dataclass
class BestOfOptions:
    """``rlmusic generate --best-of N``: how many candidates each piece is the best of, and under
    which reward (one field per flag)."""

    best_of: int = 1
    """Candidates drawn per piece written, the best kept (1: no ranking)."""
    reward: str = ""
    """Reward spec to rank by; empty: the ``reward_from`` run's own."""
    reward_from: str = ""
    """A fine-tuned checkpoint whose reward ranks: its spec, recorded bands and discriminator; empty:
    the sampled checkpoint where it is one."""
    discriminator: str = ""
    """Discriminator for a ``reward`` that reads one (default: the ``reward_from`` run's)."""
    bands_from: str = ""
    """Corpus pieces whose name holds this give a ``reward``'s bands (as ``ppo.bands_from``), where no
    run recorded them; empty: the whole training split."""

    def validate(self) -> None:
        if self.best_of < 1:
            raise RLMusicError(f"--best-of must be at least 1, got {self.best_of}")


@dataclass
class DemoOptions:
    """What ``rlmusic demo`` runs (the command's flags, one field each)."""

    out: str = "out/demo"
    """Output folder."""
    config: str = "tiny"
    """Config name in configs/ or a YAML path."""
    data: str = ""
    """Folder of MIDI files instead of the embedded corpus (its own texture bands and reference)."""
    target: str = ""
    """A folder of MIDI in the style you want (e.g. jazz people played): the policy is first
    fine-tuned on it by maximum likelihood, a discriminator is trained on it against the embedded
    non-jazz, PPO takes its bands and openings and co-evolves the discriminator on it, and the
    report measures against it (copies of it included)."""
    target_steps: int = 300
    """With --target: maximum-likelihood fine-tuning steps (the best by validation loss is kept)."""
    target_clf_steps: int = 400
    """With --target: discriminator training steps."""
    policy: str = ""
    """Pretrained checkpoint (default: the shipped checkpoints/pretrain-tiny-jazz on the embedded
    corpus, checkpoints/pretrain-tiny with --data or --target)."""
    discriminator: str = ""
    """Discriminator (default: the shipped checkpoints/jazz-clf-gan on the embedded corpus,
    checkpoints/jazz-clf with --data; with --target one is trained on the folder)."""
    reward: str = ""
    """PPO's reward, as ``rlmusic finetune --reward`` takes it (default: the demo's recipe,
    ``rlmusic.demo.DEMO_REWARD``; the demo's narrower band quantiles apply to the bands it names)."""
    updates: int = 200
    """PPO updates."""
    batch_size: int = 16
    """Rollouts per update."""
    max_new_tokens: int = 255
    """Tokens per PPO rollout, none ending sooner (a policy rewarded per piece otherwise learns to
    end early); 255 fills the tiny policy's context after BOS."""
    refresh_every: int | None = None
    """Co-evolve the discriminator every this many updates (ppo.refresh_every; 0: frozen;
    default: 10 on the embedded corpus, frozen with --data or --target). Frozen, the policy
    learns to please it beyond real jazz (docs/results.md)."""
    refresh_history: int = 0
    """A refresh also trains against the rollouts of this many updates before the last
    --refresh-every (ppo.refresh_history; 0: only those)."""
    refresh_from: str = ""
    """Its real music (ppo.refresh_from); default corpus:/jazz/ on the embedded corpus. With
    --data, name the folder's jazz pieces (e.g. corpus:/jazz/), or it stays frozen."""
    sample_tokens: int = 640
    """Tokens per measured and rendered sample, none ending sooner (past the policy's context by
    a sliding window); real music is cut to windows as long."""
    sample_bars: int = 8
    """Bars every measured and rendered sample has at least: one still short of them after
    --sample-tokens goes on to the bar line that closes them (0: off)."""
    lr: float = 2e-5
    """PPO learning rate (5e-5 made the longer-trained prior's rewards rise, then fall)."""
    kl_coef: float = 0.05
    """The KL leash's coefficient (ppo.kl_coef): how much a nat of divergence from the
    pretrained policy costs, per sample."""
    reward_quantiles: int = 0
    """Rank each rollout's reward among this many rollouts of the prior and pay its log-quantile
    (ppo.reward_quantiles; 0: off); the KL coefficient then stays fixed at --kl-coef, which at
    1 / (N - 1) aims PPO at the prior's best-of-N. Needs a --reward without novelty."""
    no_critic: bool = False
    """PPO without a value head (ppo.value_head=false, ppo.lam=1): each token's advantage is the
    rollout's return, whitened over the batch. An untrained value head's errors otherwise move
    the policy from the first update on."""
    scale_rewards: bool = False
    """Scale PPO's per-token rewards so their returns are near unit size (ppo.scale_rewards):
    keeps the value head stable at a KL coefficient near 1 or with a wide reward."""
    temperature: float = 1.0
    """Sampling temperature of PPO's rollouts (ppo.temperature) and of every measured and
    rendered sample, before and after alike, so the two columns compare at one temperature."""
    seed: int = 0
    """PPO's ppo.seed (its prompts, rollouts and minibatch order; the measured samples keep theirs)."""
    precision: str = "auto"
    """PPO's ppo.mixed_precision; ``auto``: bf16 on a GPU and on a CPU that computes bf16
    natively, fp32 elsewhere."""
    num_samples: int = 64
    """Pieces per column in the metrics table."""
    listen: int = 4
    """Samples rendered to MIDI/WAV/PNG before and after."""

    def validate(self) -> None:
        if min(self.updates, self.num_samples, self.batch_size, self.listen, self.max_new_tokens,
               self.sample_tokens) <= 0:
            raise RLMusicError("--updates, --num-samples, --batch-size, --max-new-tokens, --sample-tokens and "
                               "--listen must be positive")
        if not self.temperature > 0:
            raise RLMusicError(f"--temperature must be positive, got {self.temperature}")
        if self.sample_bars < 0:
            raise RLMusicError(f"--sample-bars must be 0 (off) or positive, got {self.sample_bars}")
        if self.refresh_history < 0:
            raise RLMusicError(f"--refresh-history must be 0 or positive, got {self.refresh_history}")
        if self.refresh_every is not None and self.refresh_every < 0:
            raise RLMusicError(f"--refresh-every must be 0 (frozen) or positive, got {self.refresh_every}")
        if self.reward_quantiles < 0 or self.reward_quantiles == 1:
            raise RLMusicError(f"--reward-quantiles must be 0 (off) or at least 2, got {self.reward_quantiles}")
        if self.precision not in ("auto", "bf16", "no"):
            raise RLMusicError(f"--precision must be auto, bf16 or no, got {self.precision!r}")
        if self.target and not Path(self.target).is_dir():
            raise RLMusicError(f"--target {self.target!r} is not a folder; pass a folder of MIDI files in the style "
                               f"you want")



@dataclass
class JazzSetSpec:
    """How many pieces of each kind the default set holds."""

    train_per_style: int = 24
    """Charts per groove style in the training split."""
    test_per_style: int = 8
    """Charts per groove style in the test split."""
    folk_train: int = 300
    """Folk/Bach negatives in the training split."""
    folk_test: int = 100
    """Folk/Bach negatives in the test split."""
    no_folk: bool = False
    """No folk/Bach negatives at all."""
    workers: int = 2
    """Processes rendering with MMA."""

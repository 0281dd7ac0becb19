"""``ppo:``, the RL fine-tuning section of a run config (``rlmusic finetune``): its fields, each
documented, and their validation. ``rlmusic.config.sections.RunConfig`` holds it beside the other sections."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlmusic.config.checks import non_negative, positive
from rlmusic.errors import RLMusicError


@dataclass
class PPOConfig:
    """RL fine-tuning (``rlmusic finetune``)."""

    out_dir: str = "checkpoints/runs/finetune"
    """Run folder: checkpoints, metrics.jsonl, samples."""
    algo: str = "ppo"
    """``ppo`` (ours), or TRL's ``grpo`` / ``rloo`` with the same rewards."""
    reward: str = "repetition"
    """Rewards and weights, e.g. ``repetition=1,jazz_clf=0.5``."""
    reward_quantiles: int = 0
    """PPO scores each rollout by log F(reward), F the reward's distribution over this many
    rollouts of the frozen reference drawn before the first update (0: off, the reward itself).
    With ``adaptive_kl: false`` and ``kl_coef`` = 1 / (N - 1) the objective's optimum is then the
    reference's best-of-N (``rlmusic.train.quantile``): no more paid for beating its best. After
    each refresh of a co-evolving discriminator the same rollouts are scored again. No term that
    scores a sample by those before it (``novelty``, ``metric_match``). Take it several times N,
    so the top of F that best-of-N lives in is resolved."""
    target: str = ""
    """A folder of MIDI in the style to move toward (e.g. jazz that people played): its pieces give
    the band rewards' bands, corpus prompts' openings, and with ``refresh_from=target`` the
    co-evolving discriminator's positives (against the embedded corpus's non-jazz); empty: the
    training corpus (``bands_from``, ``prompt_from``) does."""
    bands_from: str = ""
    """The band rewards' bands come from the training pieces whose name contains
    this (e.g. ``/jazz/``: the corpus's jazz arrangements, the style PPO is pushed toward);
    empty: the whole training split."""
    band_low: float = 0.05
    """A band reward's band starts at this quantile of the target pieces' values..."""
    band_high: float = 0.95
    """...and ends at this one: 0.25 and 0.75 hold a metric to the middle half of the target
    music rather than only keeping it out of the tails."""
    band_quantiles: dict = field(default_factory=dict)
    """Quantiles of its own for some metrics' bands, e.g. ``{chord_fit: [0.15, 0.85]}``: a narrow
    band where the loose one does not pull (harmony) while the others keep ``band_low``-``band_high``
    (real jazz's silence band at the 15th-85th percentiles is a point at zero)."""
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
    value_head: bool = True
    """Learn each state's value (a head on the policy's trunk) and take GAE's advantages against
    it. false: no critic; the values are 0, so with ``lam: 1`` each token's advantage is the
    rollout's return from there, whitened over the batch (REINFORCE with the batch's mean as
    the baseline, as RLOO and GRPO go without a critic). The head starts untrained, and its
    errors enter every advantage; whitened, they move the policy as far as a real signal would
    (docs/results.md)."""
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
    scale_rewards: bool = False
    """Divide the per-token rewards (KL penalty and score) by the root mean square of their
    returns-to-go over the batch's valid tokens before GAE, so the value head's targets are
    near unit size. The policy's advantages are whitened either way; the value head's clipped
    loss moves a prediction at most ``cliprange_value`` an update, and with a KL coefficient
    near 1 or a wide reward the returns reach hundreds: the value loss then dominates the
    trunk it shares with the policy and the run diverges (docs/results.md)."""
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
    refresh_history: int = 0
    """A refresh also takes as negatives the rollouts of this many updates before the last
    refresh_every (0: only those), so the policy cannot please the discriminator again with
    what it played before and was refreshed against (a history of generated samples, as in
    Shrivastava et al., 2017). They share the refresh batch's negatives with the fresh ones; the
    refresh stops on the fresh ones' P(jazz) alone (``ppo.refresh_target``)."""
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
    on the CPU, and pays where it computes bf16 natively (``rlmusic.train.accel.cpu_bf16``): the
    demo's updates and discriminator refreshes run about 1.4x faster on such a 2-core machine."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    max_bad_steps: int = 3
    """Consecutive updates with a non-finite reward, loss or gradient before the run stops."""

    def validate(self) -> None:
        if self.algo not in ("ppo", "grpo", "rloo"):
            raise RLMusicError(f"ppo.algo must be ppo, grpo or rloo, got {self.algo!r}")
        positive("ppo", self, "updates", "batch_size", "max_new_tokens", "epochs", "minibatch_size", "save_every",
                  "max_bad_steps", "refresh_steps", "kl_horizon", "lr", "temperature", "cliprange", "cliprange_value",
                  "target_kl")
        non_negative("ppo", self, "kl_coef", "vf_coef", "ent_coef", "missing_eos_penalty", "max_grad_norm",
                      "prompt_tokens", "sample_every", "refresh_every", "reward_quantiles", "refresh_history", "keep_last",
                      "threads", "top_k", "min_new_tokens")
        if self.reward_quantiles and (self.reward_quantiles < 2 or self.algo != "ppo"):
            raise RLMusicError(f"ppo.reward_quantiles ({self.reward_quantiles}) needs at least 2 reference rollouts "
                               f"and ppo.algo=ppo")
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
        for metric, q in self.band_quantiles.items():
            if not (isinstance(q, (list, tuple)) and len(q) == 2 and all(isinstance(x, (int, float)) for x in q)
                    and 0 <= q[0] < q[1] <= 1):
                raise RLMusicError(f"ppo.band_quantiles.{metric} must be [low, high] quantiles with "
                                   f"0 <= low < high <= 1, got {q!r}")
        if not 0 <= self.band_low < self.band_high <= 1:
            raise RLMusicError(f"ppo.band_low and ppo.band_high must be quantiles with 0 <= low < high <= 1, "
                               f"got {self.band_low} and {self.band_high}")
        if not self.value_head and self.lam != 1:
            raise RLMusicError(f"ppo.value_head=false needs ppo.lam=1 (got {self.lam}): without values, GAE would "
                               f"discount the score at a rollout's end to nothing at its start")
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise RLMusicError("ppo.gamma and ppo.lam must be in [0, 1]")
        if not 0 < self.top_p <= 1:
            raise RLMusicError(f"ppo.top_p must be in (0, 1], got {self.top_p}")
        if self.report_to not in ("none", "wandb", "tensorboard"):
            raise RLMusicError(f"ppo.report_to must be none, wandb or tensorboard, got {self.report_to!r}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise RLMusicError(f"ppo.mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")

"""``--algo grpo`` / ``--algo rloo``: TRL 1.16's trainers with the very same reward functions.

TRL trains Hugging Face causal LMs, so this path takes the transformer policy's LM (the
value head is unused and saved unchanged). Prompts are MidiTok token strings joined by
spaces and starting with ``BOS_None``, read by the HF tokenizer wrapper; rewards receive
``completion_ids`` and score them exactly as in our PPO.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from rlmusic.config.sections import RunConfig
from rlmusic.data.prompts import make_prompts
from rlmusic.data.tokens import hf_tokenizer
from rlmusic.errors import RLMusicError
from rlmusic.models.checkpoint import save_checkpoint
from rlmusic.models.policy import Policy
from rlmusic.reward_contract import WeightedReward, trl_reward_func
from rlmusic.tracking import RunLogger


def prompt_texts(cfg: RunConfig, openings: list[np.ndarray] | None, tokenizer, policy: Policy, n: int) -> list[str]:
    """``n`` prompts as text, one per group of completions."""
    prompts = make_prompts(openings, policy.special["bos"], cfg.ppo.seed, 0, n)  # (n, P)
    return [" ".join(tokenizer[i] for i in row) for row in prompts.tolist()]


def trl_config(cfg: RunConfig, algo: str, reward_fn: WeightedReward):
    pc = cfg.ppo
    cuda = torch.cuda.is_available()
    # ppo.mixed_precision as our PPO reads it (make_accelerator): auto is bf16 on a CUDA device with it
    bf16 = pc.mixed_precision == "bf16" or (pc.mixed_precision == "auto" and cuda and torch.cuda.is_bf16_supported())
    common = dict(
        output_dir=str(Path(pc.out_dir) / "trl"), learning_rate=pc.lr, per_device_train_batch_size=pc.batch_size,
        num_generations=pc.group_size, max_completion_length=pc.max_new_tokens, temperature=pc.temperature,
        top_k=pc.top_k, top_p=pc.top_p, max_steps=pc.updates, logging_steps=1, save_strategy="no",
        report_to=[] if pc.report_to == "none" else [pc.report_to], gradient_checkpointing=False,  # on by default
        use_cpu=not cuda, bf16=bf16, fp16=pc.mixed_precision == "fp16", reward_weights=[w for _, w in reward_fn.terms],
        seed=pc.seed, disable_dropout=True, beta=pc.kl_coef, num_iterations=1,
        generation_kwargs={"min_new_tokens": pc.min_new_tokens} if pc.min_new_tokens else None)
    if algo == "grpo":
        from trl import GRPOConfig

        return GRPOConfig(**common)
    from trl import RLOOConfig

    return RLOOConfig(**common)


def run_trl(cfg: RunConfig, policy: Policy, tokenizer, reward_fn: WeightedReward, openings: list[np.ndarray] | None,
            meta: dict) -> str:
    pc = cfg.ppo
    if not hasattr(policy, "lm"):  # TRL trains the Hugging Face model itself
        raise RLMusicError(f"--algo {pc.algo} trains Hugging Face causal LMs; the {policy.name} policy needs --algo ppo")
    from datasets import Dataset

    hf_tok = hf_tokenizer(tokenizer)
    hf_tok.padding_side = "left"  # TRL batches prompts of equal length anyway
    n_prompts = pc.updates * pc.batch_size // pc.group_size
    dataset = Dataset.from_dict({"prompt": prompt_texts(cfg, openings, tokenizer, policy, n_prompts)})
    funcs = [trl_reward_func(fn, tokenizer) for fn, _ in reward_fn.terms]
    args = trl_config(cfg, pc.algo, reward_fn)
    if pc.algo == "grpo":
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOTrainer as Trainer
    # TRL rebuilds the KL reference from config._name_or_path: point it at the starting weights.
    initial = Path(pc.out_dir) / "trl" / "initial"
    policy.lm.save_pretrained(str(initial))
    policy.lm.config._name_or_path = str(initial)
    trainer = Trainer(model=policy.lm, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=hf_tok)
    trainer.train()
    # TRL's log history, under our slash-named keys, in metrics.jsonl like every other stage.
    logger = RunLogger(pc.out_dir, "none")
    names = {f"rewards/{fn.name}/mean": f"reward/{fn.name}" for fn, _ in reward_fn.terms}
    names |= {"reward": "reward/total", "kl": "objective/kl", "entropy": "objective/entropy", "loss": "loss/policy",
              "step_time": "time/update"}
    for row in trainer.state.log_history:
        if "step" in row:
            logger.log(int(row["step"]), {names.get(k, f"trl/{k}"): v for k, v in row.items()
                                           if k != "step" and isinstance(v, (int, float))})
    logger.close()
    path = save_checkpoint(pc.out_dir, pc.updates, policy, tokenizer,
                           meta | {"stage": "finetune", "algo": pc.algo, "config": cfg.to_dict(), "update": pc.updates,
                                   "reward": reward_fn.names})
    (Path(pc.out_dir) / "trl" / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1))
    return str(path)

"""Time TRL 1.12.0's ``trl.experimental.ppo.PPOTrainer`` (the last TRL with PPO) on rlmusic's model and rewards.

Run by ``ppo_step.py`` inside its own virtual environment (trl==1.12.0 beside torch 2.13 and
transformers 5.23); prints one JSON line with the seconds of each update.

TRL 1.12 takes only a reward *model*: it calls ``getattr(model, model.base_model_prefix)``
for hidden states and ``model.score`` on the last one, then reads the value at each
sequence's last token. ``RewardModule`` puts each sequence's rlmusic score there. As TRL
does, the critic is a second full transformer (initialised from the policy's weights).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from types import SimpleNamespace

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402


class _Backbone(nn.Module):
    def __init__(self, reward_fn, tokenizer, special):
        super().__init__()
        self.reward_fn, self.tokenizer, self.special = reward_fn, tokenizer, special
        self.dummy = nn.Parameter(torch.zeros(1))  # TRL moves and prepares it like a model

    def forward(self, input_ids, attention_mask=None, **_):
        from rlmusic.reward_contract import RewardBatch

        skip = {self.special["bos"], self.special["eos"], self.special["pad"]}
        rows = [[t for t, m in zip(r, a) if m and t not in skip] for r, a in zip(input_ids.tolist(), attention_mask.tolist())]
        total, _ = self.reward_fn(RewardBatch(rows, self.tokenizer))
        h = torch.tensor(total, dtype=torch.float32, device=input_ids.device)[:, None, None]
        return SimpleNamespace(hidden_states=(h.expand(-1, input_ids.shape[1], 1),))


class RewardModule(nn.Module):
    base_model_prefix = "backbone"

    def __init__(self, reward_fn, tokenizer, special):
        super().__init__()
        self.backbone = _Backbone(reward_fn, tokenizer, special)
        self.score = nn.Identity()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="folder of the policy LM (save_pretrained) and tokenizers")
    ap.add_argument("--reward", default="repetition,tonic,scale")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--response", type=int, default=128)
    ap.add_argument("--updates", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, TrainerCallback
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from rewards import REWARDS
    from rlmusic.data.tokens import hf_tokenizer, load_miditok, special_ids
    from rlmusic.reward_contract import build_reward

    tok = load_miditok(args.model)
    hf = hf_tokenizer(tok)
    special = special_ids(tok)
    policy = AutoModelForCausalLM.from_pretrained(args.model)
    ref = AutoModelForCausalLM.from_pretrained(args.model)
    value = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=1)
    value.config.pad_token_id = special["pad"]
    reward = RewardModule(build_reward(args.reward, REWARDS, bands={"scale_consistency": (0.9, 1.0)}), tok, special)
    prompts = [[special["bos"]]] * (args.batch * (args.updates + 1))
    dataset = Dataset.from_dict({"input_ids": prompts})
    cfg = PPOConfig(output_dir="/tmp/trl112-ppo-bench", per_device_train_batch_size=args.batch, num_mini_batches=1,
                    num_ppo_epochs=1, response_length=args.response, total_episodes=args.batch * args.updates,
                    stop_token="eos", temperature=1.0, use_cpu=not torch.cuda.is_available(), report_to=[],
                    num_sample_generations=0, save_strategy="no", local_rollout_forward_batch_size=args.batch,
                    gradient_checkpointing=False, seed=0)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            times.append(time.perf_counter())

    trainer = PPOTrainer(args=cfg, processing_class=hf, model=policy, ref_model=ref, reward_model=reward,
                         train_dataset=dataset, value_model=value, callbacks=[Clock()])
    t0 = time.perf_counter()
    trainer.train()
    marks = [t0] + times
    print(json.dumps({"trl": trl.__version__, "update_seconds": [b - a for a, b in zip(marks, marks[1:])]}))


if __name__ == "__main__":
    sys.exit(main())

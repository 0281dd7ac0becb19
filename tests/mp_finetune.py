"""``rlmusic finetune`` on several processes, reporting what each process holds at the end.

    torchrun --nproc_per_node 2 tests/mp_finetune.py OUT finetune ARGS...

Each rank writes ``OUT/rank{i}.json``: the exit code, digests of its policy (language model and
value head) and discriminator weights, the total reward of each of its rollout batches, and
how many checkpoints it wrote. Used by tests/test_multiprocess.py.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import rlmusic.train.finetune as stage
import rlmusic.train.ppo as ppo
from rlmusic.reward_contract import WeightedReward

out, argv = Path(sys.argv[1]), sys.argv[2:]
rank = int(os.environ["RANK"])  # torchrun's
scores, captured, writes = [], {}, []

score_batch = WeightedReward.__call__


def recording(self, batch):
    total, parts = score_batch(self, batch)
    scores.append([float(x) for x in total])
    return total, parts


WeightedReward.__call__ = recording
run_ppo = stage.finetune


def capturing(cfg, model, reference, tokenizer, reward_fn, **kw):
    captured["policy"] = model
    if "discriminator" in (kw.get("companions") or {}):
        captured["disc"] = kw["companions"]["discriminator"].__self__
    return run_ppo(cfg, model, reference, tokenizer, reward_fn, **kw)


stage.finetune = capturing
save = ppo.save_checkpoint


def counting(*args, **kw):
    writes.append(args[1])
    return save(*args, **kw)


ppo.save_checkpoint = counting

from rlmusic.cli import main  # noqa: E402

rc = main(argv)


def digest(module) -> str:
    h = hashlib.sha1()
    for _, v in sorted(module.state_dict().items()):
        h.update(v.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()


policy = captured["policy"]
(out / f"rank{rank}.json").write_text(json.dumps({
    "rc": rc, "lm": digest(policy.lm), "value_head": digest(policy.value_head),
    "disc": digest(captured["disc"]) if "disc" in captured else None, "scores": scores, "checkpoints_written": writes}))

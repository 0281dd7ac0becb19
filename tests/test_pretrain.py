
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conftest import tiny_config
from policies import build_policy, load_policy
from rlmusic.data.corpus import prepare_corpus
from rlmusic.data.tokens import special_ids
from rlmusic.models.checkpoint import list_checkpoints, load_checkpoint, read_meta
from rlmusic.tracking import read_metrics
from rlmusic.train.pretrain import STATE_SCHEMA, pretrain


def _run(cfg, resume=None):
    tok, corpus = prepare_corpus(cfg.data, cfg.tokenizer, progress=False,
                                 tokenizer=resume.tokenizer if resume else None)
    if resume is None:
        torch.manual_seed(cfg.pretrain.seed)
        policy = build_policy(cfg.model, len(tok), special_ids(tok))
        state = None
    else:
        policy, state = resume.policy, resume.training_state(STATE_SCHEMA)
    return pretrain(cfg, policy, tok, corpus, resume_state=state, progress=False)


def test_trained_run_loss_falls_and_checkpoints_describe_themselves(trained_run):
    rows = read_metrics(trained_run)
    train = [r["loss/train"] for r in rows if "loss/train" in r]
    val = [r for r in rows if "val/bits_per_token" in r]
    assert train[-1] < train[0] - 0.5
    assert len(val) == 2 and val[-1]["val/bits_per_token"] < val[0]["val/bits_per_token"]
    assert val[-1]["val/bits_per_note"] > val[-1]["val/bits_per_token"]  # several tokens per note
    ckpts = list_checkpoints(trained_run)
    assert [c.name for c in ckpts] == ["checkpoint-000030", "checkpoint-000060"]
    meta = read_meta(trained_run)
    assert meta["step"] == 60 and meta["stage"] == "pretrain" and meta["policy"] == "transformer"
    assert meta["config"]["model"]["n_embd"] == 64 and "torch" in meta["versions"]
    assert {"model.safetensors", "config.json", "tokenizer.json", "miditok.json", "training_state.pt",
            "value_head.safetensors", "policy.json"} <= {p.name for p in ckpts[-1].iterdir()}


def test_checkpoint_loads_with_identical_logits_everywhere(trained_run):
    ckpt = load_checkpoint(trained_run, load_policy)
    policy = ckpt.policy.eval()
    x = torch.randint(3, policy.vocab_size, (2, 30))
    lm = AutoModelForCausalLM.from_pretrained(str(ckpt.path)).eval()
    assert torch.equal(lm(x).logits, policy(x).logits)
    again = load_checkpoint(ckpt.path, load_policy).policy.eval()
    assert torch.equal(again(x).logits, policy(x).logits)
    hf = AutoTokenizer.from_pretrained(str(ckpt.path))
    assert hf.convert_tokens_to_ids(ckpt.tokenizer[5]) == 5


def test_parameters_change_and_resume_matches_a_straight_run(tmp_path, folk_dir):
    import shutil

    straight = tiny_config(tmp_path / "a", folk_dir, max_steps=12, save_every=6, eval_every=6, keep_last=0)
    _run(straight)
    # What a run killed after step 6 leaves behind: its step-6 checkpoint.
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-000006", tmp_path / "b" / "checkpoint-000006")
    half = load_checkpoint(tmp_path / "b", load_policy)
    assert half.meta["step"] == 6 and half.training_state(STATE_SCHEMA)["step"] == 6
    torch.manual_seed(straight.pretrain.seed)
    init = build_policy(straight.model, half.policy.vocab_size, half.policy.special)
    changed = [n for (n, a), b in zip(init.state_dict().items(), half.policy.state_dict().values()) if not torch.equal(a, b)]
    assert len(changed) > 10
    # Resume to step 12: same windows, dropout RNG, optimizer and schedule as the straight run.
    _run(tiny_config(tmp_path / "b", folk_dir, max_steps=12, save_every=6, eval_every=6, keep_last=0), resume=half)
    a = load_checkpoint(tmp_path / "a", load_policy)
    b = load_checkpoint(tmp_path / "b", load_policy)
    assert a.meta["step"] == b.meta["step"] == 12
    for (name, x), y in zip(a.policy.state_dict().items(), b.policy.state_dict().values()):
        assert torch.equal(x, y), name


def test_lstm_pretrains_and_reloads(tmp_path, folk_dir):
    cfg = tiny_config(tmp_path, folk_dir, max_steps=20, save_every=20, eval_every=20)
    cfg.model.policy = "lstm"
    _run(cfg)
    ckpt = load_checkpoint(tmp_path, load_policy)
    assert ckpt.policy.name == "lstm" and ckpt.meta["val"]["val/bits_per_token"] < 8.0
    rows = read_metrics(tmp_path)
    train = [r["loss/train"] for r in rows if "loss/train" in r]
    assert train[-1] < train[0]


def test_interrupted_save_leaves_previous_checkpoint(tmp_path, trained_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    # A save killed half-way leaves only a hidden temporary folder behind.
    half = run / ".tmp-checkpoint-000090-123"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"partial")
    assert list_checkpoints(run)[-1].name == "checkpoint-000060"
    assert load_checkpoint(run, load_policy).meta["step"] == 60


def test_init_from_fine_tunes_on_a_folder_and_keeps_the_best_checkpoint(trained_run, bach_dir, tmp_path):
    """``pretrain --init-from CKPT --data DIR``: the checkpoint's weights and tokenizer go on
    learning a folder of one's own; a learning rate high enough to overfit five chorales makes
    validation loss turn up, and the best checkpoint is the one at the lowest logged loss."""
    import json

    from policies import load_policy
    from rlmusic.cli import main
    from rlmusic.data.tokens import tokenizer_fingerprint
    from rlmusic.models.checkpoint import load_checkpoint, read_meta

    out = tmp_path / "ft"
    assert main(["pretrain", "--init-from", str(trained_run), "--data", str(bach_dir), "--out", str(out),
                 "pretrain.max_steps=60", "pretrain.eval_every=5", "pretrain.lr=1e-2", "pretrain.warmup_steps=0",
                 "pretrain.batch_size=8", "data.workers=1", "data.val_fraction=0.3"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = {r["step"]: r["val/loss"] for r in rows if "val/loss" in r}
    best_step = min(val, key=val.get)
    best = sorted((out / "best").glob("checkpoint-*"))
    assert len(best) == 1 and read_meta(best[0])["step"] == best_step
    assert read_meta(best[0])["val"]["val/loss"] == val[best_step]
    assert best_step < 60 and val[60] > val[best_step]  # it did overfit, and the best was kept
    start, tuned = load_checkpoint(trained_run, load_policy), load_checkpoint(best[0], load_policy)
    assert tokenizer_fingerprint(start.tokenizer) == tokenizer_fingerprint(tuned.tokenizer)
    assert read_meta(best[0])["config"]["pretrain"]["init_from"] == str(trained_run)
    # it starts from the trained weights: five steps in, the loss is far below a fresh model's
    # ln(vocabulary of ~400) = 6.0
    assert val[min(val)] < 4.0

"""Models made outside rlmusic (plain transformers + MidiTok, nanoGPT) through every command, a
discriminator of another tokenizer, and rewards of the user's own."""

import json
import math
import sys
from pathlib import Path

import miditok
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from symusic import Score
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from rlmusic.cli import main
from rlmusic.data.midi_io import find_midi_files


def _special(tok):
    return dict(bos_token_id=tok.vocab["BOS_None"], eos_token_id=tok.vocab["EOS_None"],
                pad_token_id=tok.vocab["PAD_None"])


@pytest.fixture(scope="module")
def llama_tsd_bpe(tmp_path_factory, folk_dir) -> Path:
    """A tiny LlamaForCausalLM and a MidiTok TSD tokenizer (velocities on) with a trained BPE model,
    made and saved with plain transformers and MidiTok code."""
    out = tmp_path_factory.mktemp("llama")
    tok = miditok.TSD(miditok.TokenizerConfig(use_velocities=True))
    tok.train(vocab_size=len(tok) + 120, files_paths=find_midi_files(folk_dir)[:20])
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                                         **_special(tok)))
    model.save_pretrained(out)
    tok.save(out / "tokenizer.json")  # MidiTok's own default file name
    return out


@pytest.fixture(scope="module")
def gpt2_remi(tmp_path_factory) -> Path:
    """A tiny GPT2LMHeadModel and MidiTok's default REMI tokenizer (velocities, no BPE)."""
    out = tmp_path_factory.mktemp("gpt2")
    tok = miditok.REMI()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=128,
                                       **_special(tok)))
    model.save_pretrained(out)
    tok.save(out / "tokenizer.json")
    return out


@pytest.mark.parametrize("model", ["llama_tsd_bpe", "gpt2_remi"])
def test_generate_from_a_model_made_elsewhere(model, request, tmp_path):
    folder = request.getfixturevalue(model)
    out = tmp_path / "samples"
    assert main(["generate", str(folder), "--num", "3", "--max-new-tokens", "48", "--out", str(out)]) == 0
    files = sorted(out.glob("*.mid"))
    assert len(files) == 3 and all(Score(str(f)) is not None for f in files)


@pytest.mark.parametrize("model", ["llama_tsd_bpe", "gpt2_remi"])
def test_finetune_with_the_shipped_discriminator_then_reload_with_plain_libraries(model, request, tmp_path):
    """``finetune --reward repetition,jazz_clf`` as typed (the shipped discriminator speaks REMI
    without velocities: it re-encodes the samples), and the fine-tuned folder opens with
    AutoModelForCausalLM and MidiTok alone, giving the policy's own logits."""
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    folder = request.getfixturevalue(model)
    run = tmp_path / "run"
    assert main(["finetune", "--policy", str(folder), "--reward", "repetition,jazz_clf", "--out", str(run),
                 "ppo.updates=2", "ppo.batch_size=4", "ppo.minibatch_size=2", "ppo.max_new_tokens=24",
                 "ppo.prompt=bos"]) == 0
    ckpt = run / "checkpoint-000002"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(0 <= r.get("reward/jazz_clf", -1) <= 1 for r in rows)
    lm = AutoModelForCausalLM.from_pretrained(str(ckpt)).eval()
    tok = getattr(miditok, json.loads((ckpt / "miditok.json").read_text())["tokenization"])(params=ckpt / "miditok.json")
    assert len(tok) == lm.config.vocab_size
    policy = load_checkpoint(ckpt, load_policy).policy.eval()
    x = torch.tensor([[tok.vocab["BOS_None"], 5, 9, 12]])
    with torch.no_grad():
        torch.testing.assert_close(lm(x).logits, policy(x, with_values=False).logits)
    assert json.loads((ckpt / "rlmusic.json").read_text())["reference"] == str(folder)


def test_metrics_of_a_model_made_elsewhere(llama_tsd_bpe, folk_dir, tmp_path):
    out = tmp_path / "m.json"
    assert main(["metrics", str(llama_tsd_bpe), "--num-samples", "3", "--max-new-tokens", "48",
                 "--reference", str(folk_dir), "--reference-samples", "10", "--data", str(folk_dir),
                 "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    col = summary["metrics"][llama_tsd_bpe.name]
    assert col["pieces"] == 3 and "copy/longest_tokens" in col  # copies searched in the corpus's own tokens


def test_a_discriminator_of_another_tokenizer_scores_re_encoded_samples(tiny_clf, llama_tsd_bpe):
    """The jazz_clf reward on a TSD+BPE policy's samples equals the discriminator's P(jazz) of
    the same music encoded with its own REMI tokenizer."""
    from policies import load_policy
    from rewards import REWARDS
    from rlmusic.config.sections import SampleConfig
    from rlmusic.data.tokens import decode_ids, encode_score
    from rlmusic.models.checkpoint import load_checkpoint
    from rlmusic.models.discriminator import load_discriminator
    from rlmusic.models.generate import generate_pieces
    from rlmusic.music.corrupt import score_from_piece
    from rlmusic.music.piece import piece_from_score
    from rlmusic.reward_contract import RewardBatch, build_reward

    disc = load_discriminator(tiny_clf)
    ckpt = load_checkpoint(llama_tsd_bpe, load_policy)
    assert not disc.speaks(ckpt.tokenizer)
    ids = [g.ids for g in generate_pieces(ckpt.policy, ckpt.tokenizer, SampleConfig(num=4, max_new_tokens=48, seed=1))]
    own = [encode_score(disc.tokenizer, score_from_piece(piece_from_score(decode_ids(ckpt.tokenizer, x)[0])))
           for x in ids]
    assert disc.ids_for(ids, ckpt.tokenizer) == own
    reward = build_reward("jazz_clf", REWARDS, discriminator=disc)
    total, _ = reward(RewardBatch(ids, ckpt.tokenizer))
    np.testing.assert_allclose(total, disc.prob_jazz(own), rtol=1e-6)


def test_multi_stream_tokenizer_and_vocabulary_mismatch_are_one_line_errors(gpt2_remi, tmp_path, capsys):
    octuple = tmp_path / "octuple"
    octuple.mkdir()
    for f in ("config.json", "model.safetensors"):
        (octuple / f).write_bytes((gpt2_remi / f).read_bytes())
    miditok.Octuple().save(octuple / "tokenizer.json")
    assert main(["generate", str(octuple), "--num", "1"]) == 2
    err = capsys.readouterr().err
    assert "Octuple" in err and "single-stream" in err and len(err.strip().splitlines()) == 1
    mismatch = tmp_path / "mismatch"
    mismatch.mkdir()
    for f in ("config.json", "model.safetensors"):
        (mismatch / f).write_bytes((gpt2_remi / f).read_bytes())
    miditok.TSD().save(mismatch / "tokenizer.json")  # another vocabulary size than the model's
    assert main(["finetune", "--policy", str(mismatch), "--reward", "repetition"]) == 2
    err = capsys.readouterr().err
    assert "vocabulary" in err and len(err.strip().splitlines()) == 1
    no_bos = tmp_path / "no_bos"
    no_bos.mkdir()
    tok = miditok.REMI(miditok.TokenizerConfig(special_tokens=["PAD"]))
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=32)).save_pretrained(no_bos)
    tok.save(no_bos / "tokenizer.json")
    assert main(["generate", str(no_bos), "--num", "1"]) == 2
    assert "BOS_None" in capsys.readouterr().err


# --- nanoGPT ------------------------------------------------------------------------------


def nanogpt_logits(state: dict, args: dict, idx: torch.Tensor) -> torch.Tensor:
    """nanoGPT's GPT.forward (model.py), written out over its state dict: pre-LayerNorm blocks,
    causal self-attention, exact GELU, tied embeddings; biases absent when ``bias=False``."""
    C, H = args["n_embd"], args["n_head"]

    def ln(x, name):
        return F.layer_norm(x, (C,), state[f"{name}.weight"], state.get(f"{name}.bias"), 1e-5)

    def lin(x, name):
        return F.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias"))

    B, T = idx.shape
    x = state["transformer.wte.weight"][idx] + state["transformer.wpe.weight"][:T]
    for i in range(args["n_layer"]):
        p = f"transformer.h.{i}"
        q, k, v = lin(ln(x, f"{p}.ln_1"), f"{p}.attn.c_attn").split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + lin(y, f"{p}.attn.c_proj")
        x = x + lin(F.gelu(lin(ln(x, f"{p}.ln_2"), f"{p}.mlp.c_fc")), f"{p}.mlp.c_proj")
    return F.linear(ln(x, "transformer.ln_f"), state["lm_head.weight"])


def write_nanogpt(path: Path, vocab: int, bias: bool, seed: int = 0) -> tuple[dict, dict]:
    """A checkpoint as nanoGPT's train.py writes it (compiled: keys prefixed ``_orig_mod.``)."""
    g = torch.Generator().manual_seed(seed)
    args = dict(n_layer=2, n_head=2, n_embd=32, block_size=64, bias=bias, vocab_size=vocab, dropout=0.0)
    C = args["n_embd"]
    shapes = {"transformer.wte.weight": (vocab, C), "transformer.wpe.weight": (64, C),
              "transformer.ln_f.weight": (C,)}
    for i in range(2):
        p = f"transformer.h.{i}"
        shapes |= {f"{p}.ln_1.weight": (C,), f"{p}.attn.c_attn.weight": (3 * C, C), f"{p}.attn.c_proj.weight": (C, C),
                   f"{p}.ln_2.weight": (C,), f"{p}.mlp.c_fc.weight": (4 * C, C), f"{p}.mlp.c_proj.weight": (C, 4 * C)}
        if bias:
            shapes |= {f"{p}.ln_1.bias": (C,), f"{p}.attn.c_attn.bias": (3 * C,), f"{p}.attn.c_proj.bias": (C,),
                       f"{p}.ln_2.bias": (C,), f"{p}.mlp.c_fc.bias": (4 * C,), f"{p}.mlp.c_proj.bias": (C,)}
    if bias:
        shapes["transformer.ln_f.bias"] = (C,)
    state = {k: torch.randn(s, generator=g) * 0.2 + (1.0 if k.endswith("ln_1.weight") else 0.0) for k, s in shapes.items()}
    state["lm_head.weight"] = state["transformer.wte.weight"]  # tied, as nanoGPT saves it
    torch.save({"model": {f"_orig_mod.{k}": v for k, v in state.items()}, "model_args": args, "iter_num": 100,
                "best_val_loss": torch.tensor(1.5), "config": {"dataset": "maestro", "learning_rate": 6e-4}}, path)
    return state, args


@pytest.mark.parametrize("bias, padding", [(True, 0), (False, 24)])
def test_nanogpt_import_gives_the_same_logits(tmp_path, bias, padding):
    tok = miditok.TSD()
    tok_file = tmp_path / "tokenizer.json"
    tok.save(tok_file)
    state, args = write_nanogpt(tmp_path / "ckpt.pt", len(tok) + padding, bias)
    out = tmp_path / "hf"
    assert main(["import", "nanogpt", str(tmp_path / "ckpt.pt"), "--tokenizer", str(tok_file), "--out", str(out)]) == 0
    lm = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    idx = torch.randint(0, len(tok), (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = nanogpt_logits(state, args, idx)[..., : len(tok)]
        torch.testing.assert_close(lm(idx).logits, expected, atol=1e-4, rtol=1e-4)
    # and it is a policy: the fast sampling path steps the same weights
    from policies import load_policy
    from rlmusic.models.checkpoint import load_checkpoint

    policy = load_checkpoint(out, load_policy).policy.eval()
    with torch.no_grad():
        h = policy(idx, use_cache=True, with_values=False).logits
    torch.testing.assert_close(h, expected, atol=1e-4, rtol=1e-4)


def test_nanogpt_import_refuses_pickled_objects_and_small_vocabularies(tmp_path, capsys):
    tok = miditok.TSD()
    tok.save(tmp_path / "tok.json")
    write_nanogpt(tmp_path / "small.pt", len(tok) - 1, True)
    assert main(["import", "nanogpt", str(tmp_path / "small.pt"), "--tokenizer", str(tmp_path / "tok.json"),
                 "--out", str(tmp_path / "a")]) == 2
    assert "fewer than the tokenizer" in capsys.readouterr().err
    torch.save({"model": {}, "model_args": {}, "evil": Path("x")}, tmp_path / "evil.pt")
    assert main(["import", "nanogpt", str(tmp_path / "evil.pt"), "--tokenizer", str(tmp_path / "tok.json"),
                 "--out", str(tmp_path / "b")]) == 2
    assert "refused unopened" in capsys.readouterr().err and not (tmp_path / "b").exists()


# --- rewards of one's own -----------------------------------------------------------------


USER_REWARDS = '''
def note_count(pieces):
    """More notes, up to 20 (a toy reward over the decoded pieces)."""
    return [min(len(p.time), 20) / 20 for p in pieces]


class Longer:
    """A class following the reward contract: called with the RewardBatch."""
    name = "longer"
    range = (0.0, 1.0)

    def __call__(self, batch):
        return [min(len(x), 40) / 40 for x in batch.ids]
'''


def test_rewards_of_ones_own_module_file_and_entry_point(trained_run, tmp_path, monkeypatch):
    """``--reward my_module:function=0.5`` (importable from the working folder), a file path, a
    class, and a reward an installed package declares in the rlmusic.rewards entry points: each
    scores what it promises, logged under its name."""
    pkg = tmp_path / "site"
    pkg.mkdir()
    (pkg / "my_rewards.py").write_text(USER_REWARDS)
    dist = pkg / "my_rewards-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-rewards\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[rlmusic.rewards]\nnotes = my_rewards:note_count\n")
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.chdir(pkg)
    run = tmp_path / "run"
    spec = f"my_rewards:note_count=0.5,{pkg / 'my_rewards.py'}:Longer,notes"
    assert main(["finetune", "--policy", str(trained_run), "--reward", spec, "--out", str(run), "ppo.updates=1",
                 "ppo.batch_size=4", "ppo.minibatch_size=2", "ppo.max_new_tokens=24", "ppo.min_new_tokens=24",
                 "ppo.prompt=bos"]) == 0
    row = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "reward/total" in line][0]
    assert 0 < row["reward/my_rewards:note_count"] <= 1 and row["reward/notes"] == row["reward/my_rewards:note_count"]
    assert row["reward/longer"] == pytest.approx(24 / 40)  # every rollout is 24 tokens (no EOS before)
    assert row["reward/my_rewards:note_count_weighted"] == pytest.approx(0.5 * row["reward/my_rewards:note_count"])
    assert not math.isnan(row["reward/total"])
    sys.modules.pop("my_rewards", None)

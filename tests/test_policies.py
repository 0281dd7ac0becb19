import pytest
import torch
from transformers import AutoModelForCausalLM

from policies import POLICIES, build_policy, load_policy
from rlmusic.config.sections import ModelConfig, SampleConfig
from rlmusic.errors import RLMusicError
from rlmusic.models.policy import Policy, PolicyOutput, sample, sample_recorded

SPECIAL = {"pad": 0, "bos": 1, "eos": 2}
V = 40


def make(name, arch="gpt2"):
    torch.manual_seed(0)
    cfg = ModelConfig(policy=name, arch=arch, n_layer=2, n_head=2, n_embd=32, block_size=48, dropout=0.0)
    return build_policy(cfg, V, SPECIAL).eval()


CASES = [("transformer", "gpt2"), ("transformer", "llama"), ("lstm", "gpt2")]


@pytest.mark.parametrize("name, arch", CASES)
def test_forward_shapes_and_cached_steps_match_full_forward(name, arch):
    p = make(name, arch)
    x = torch.randint(3, V, (3, 17))
    full = p(x)
    assert full.logits.shape == (3, 17, V) and full.values.shape == (3, 17)
    a = p(x[:, :10], use_cache=True)
    b = p(x[:, 10:], state=a.state, use_cache=True)
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1), full.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat([a.values, b.values], 1), full.values, atol=1e-5, rtol=1e-5)
    assert p(x, with_values=False).values is None


@pytest.mark.parametrize("name, arch", CASES)
def test_save_load_gives_identical_logits_and_values(name, arch, tmp_path):
    p = make(name, arch)
    with torch.no_grad():
        p.value_head.bias.fill_(0.3)  # a trained head must survive the round trip
    p.save(tmp_path)
    q = load_policy(tmp_path).eval()
    assert type(q) is type(p)
    x = torch.randint(3, V, (2, 12))
    assert torch.equal(p(x).logits, q(x).logits) and torch.equal(p(x).values, q(x).values)


def test_transformer_checkpoint_opens_with_automodel(tmp_path):
    p = make("transformer")
    p.save(tmp_path)
    lm = AutoModelForCausalLM.from_pretrained(str(tmp_path)).eval()
    x = torch.randint(3, V, (2, 12))
    assert torch.equal(lm(x).logits, p(x).logits)


def test_top_k_one_is_greedy():
    p = make("transformer")
    prompts = torch.ones(4, 1, dtype=torch.long)
    out = sample(p, prompts, SampleConfig(max_new_tokens=12, top_k=1), torch.Generator().manual_seed(0),
                 stop_at_eos=False)
    ids = prompts
    for _ in range(12):  # greedy by hand, no cache
        ids = torch.cat([ids, p(ids).logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, ids)


class Scripted(Policy):
    """Row b emits EOS at step b + 1 and token 5 before it: the answer is known by construction."""

    name = "scripted"

    def forward(self, input_ids, state=None, use_cache=False, with_values=True):
        t = (state or 0) + input_ids.shape[1]
        logits = torch.full((input_ids.shape[0], input_ids.shape[1], V), -1e4)
        for b in range(input_ids.shape[0]):
            logits[b, -1, 2 if t - 1 >= b + 1 else 5] = 0.0
        return PolicyOutput(logits=logits, values=None, state=t if use_cache else None)

    def _save_weights(self, folder): ...

    @classmethod
    def _load(cls, folder, cfg, vocab_size, special): ...


def test_eos_ends_a_row_with_padding_and_stops_when_all_ended():
    p = Scripted(ModelConfig(block_size=64), V, SPECIAL)
    p.dummy = torch.nn.Parameter(torch.zeros(1))
    out = sample(p, torch.ones(3, 1, dtype=torch.long), SampleConfig(max_new_tokens=20), None)
    assert out.tolist() == [[1, 5, 2, 0, 0], [1, 5, 5, 2, 0], [1, 5, 5, 5, 2]]


def test_min_new_tokens_holds_the_end_back():
    p = Scripted(ModelConfig(block_size=64), V, SPECIAL)
    p.dummy = torch.nn.Parameter(torch.zeros(1))
    cfg = SampleConfig(max_new_tokens=20, min_new_tokens=3)
    # rows would end with their 2nd, 3rd and 4th new token; EOS is barred from the first 3, so
    # rows 0 and 1 play something else there and end with the 4th, row 2 is unchanged
    out = sample(p, torch.ones(3, 1, dtype=torch.long), cfg, torch.Generator().manual_seed(0))
    assert out.shape == (3, 5) and out[:, 4].tolist() == [2, 2, 2] and (out[:, :4] != 2).all()
    assert out[2].tolist() == [1, 5, 5, 5, 2] and out[1, :3].tolist() == [1, 5, 5]


class BarScripted(Scripted):
    """Row b opens a bar (token 7) every b + 2 new tokens, from its first, and plays 5 between;
    row 0 would end (EOS first, 5 second) with its 4th new token."""

    name = "bar-scripted"

    def forward(self, input_ids, state=None, use_cache=False, with_values=True):
        t = (state or 0) + input_ids.shape[1]
        logits = torch.full((input_ids.shape[0], input_ids.shape[1], V), -1e4)
        for b in range(input_ids.shape[0]):
            step = t - 1  # new tokens so far (the prompt is BOS alone)
            logits[b, -1, 7 if step % (b + 2) == 0 else 5] = 0.0
            if b == 0 and step == 3:
                logits[b, -1, 5], logits[b, -1, 2] = -1.0, 0.0
        return PolicyOutput(logits=logits, values=None, state=t if use_cache else None)


def test_min_bars_holds_the_end_back_and_runs_on_to_the_bar_line():
    p = BarScripted(ModelConfig(block_size=64), V, SPECIAL)
    p.dummy = torch.nn.Parameter(torch.zeros(1))
    prompts = torch.ones(3, 1, dtype=torch.long)
    plain = sample(p, prompts, SampleConfig(max_new_tokens=4), torch.Generator().manual_seed(0))
    assert plain.tolist() == [[1, 7, 5, 7, 2], [1, 7, 5, 5, 7], [1, 7, 5, 5, 5]]
    # two bars: each row goes on until its third bar line (the end of bar 2), row 0 past the
    # EOS it wanted, row 2 until the cap of twice max_new_tokens (8) without reaching it
    out = sample(p, prompts, SampleConfig(max_new_tokens=4, min_bars=2), torch.Generator().manual_seed(0),
                 bar_ids=[7])
    assert out.tolist() == [[1, 7, 5, 7, 5, 7, 0, 0, 0], [1, 7, 5, 5, 7, 5, 5, 7, 0], [1, 7, 5, 5, 5, 7, 5, 5, 5]]
    # one bar: rows 0 and 1 have it by max_new_tokens and end as without min_bars (row 0 by
    # its EOS, bar 1 closed); row 2 goes on to its second bar line
    one = sample(p, prompts, SampleConfig(max_new_tokens=4, min_bars=1), torch.Generator().manual_seed(0),
                 bar_ids=[7])
    assert one.tolist() == [[1, 7, 5, 7, 2, 0], [1, 7, 5, 5, 7, 0], [1, 7, 5, 5, 5, 7]]
    with pytest.raises(RLMusicError, match="BPE vocabulary merges away"):
        sample(p, prompts, SampleConfig(max_new_tokens=4, min_bars=2), None)
    with pytest.raises(RLMusicError, match="for generation only"):
        sample_recorded(p, prompts, SampleConfig(max_new_tokens=4, min_bars=2), None)


def test_top_k_restricts_support():
    p = make("lstm")
    prompts = torch.ones(64, 1, dtype=torch.long)
    out = sample(p, prompts, SampleConfig(max_new_tokens=1, top_k=3), torch.Generator().manual_seed(0))
    top3 = p(prompts[:1]).logits[0, -1].topk(3).indices
    assert set(out[:, 1].tolist()) <= set(top3.tolist()) and len(set(out[:, 1].tolist())) > 1


def test_same_seed_same_samples_and_context_limit():
    p = make("transformer")
    cfg = SampleConfig(max_new_tokens=20, temperature=1.3, top_p=0.9)
    prompts = torch.ones(3, 1, dtype=torch.long)
    a = sample(p, prompts, cfg, torch.Generator().manual_seed(5))
    b = sample(p, prompts, cfg, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    # a rollout is scored by one forward over all of it, so it must fit; so must a prompt
    with pytest.raises(RLMusicError, match="exceeds the policy's context of 48"):
        sample_recorded(p, prompts, SampleConfig(max_new_tokens=48), None)
    with pytest.raises(RLMusicError, match="exceeds the policy's context of 48"):
        sample(p, torch.ones(3, 49, dtype=torch.long), SampleConfig(max_new_tokens=1), None)


@pytest.mark.parametrize("fast, keep", [(True, 0), (False, 0), (True, 30)])
def test_a_sample_longer_than_the_context_slides_its_window(fast, keep):
    """Greedy by hand, no cache: whenever the 48-token window is full, the next token is read
    from the last ``keep`` tokens alone (half the context by default), at positions 0.."""
    p = make("transformer")
    p.fast_decode = fast
    prompts = torch.randint(3, V, (3, 5))
    out = sample(p, prompts, SampleConfig(max_new_tokens=130, top_k=1, context_keep=keep), None, stop_at_eos=False)
    keep = keep or 24
    ids, window = prompts, prompts
    for _ in range(130):
        nxt = p(window).logits[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], 1)
        window = ids[:, -keep:] if window.shape[1] == 48 else torch.cat([window, nxt], 1)
    assert out.shape == (3, 135) and torch.equal(out, ids)


def test_registry_names_and_unknown_policy():
    assert set(POLICIES) == {"transformer", "lstm"}
    with pytest.raises(RLMusicError, match="unknown policy 'gru'; known policies: lstm, transformer"):
        build_policy(ModelConfig(policy="gru"), V, SPECIAL)


def test_fast_gpt2_decode_matches_transformers_forward():
    from policies.gpt2_decode import KVBuffers, gpt2_forward

    p = make("transformer")
    assert p.fast_decode
    x = torch.randint(3, V, (3, 30))
    full = p(x)
    with torch.no_grad():  # sampling's setting: the fast path, KV buffers as the state
        a = p(x[:, :7], use_cache=True)
        steps = [a]
        for t in range(7, 30):
            steps.append(p(x[:, t : t + 1], state=steps[-1].state, use_cache=True))
        assert isinstance(steps[-1].state, KVBuffers) and steps[-1].state.length == 30
        torch.testing.assert_close(torch.cat([s.logits for s in steps], 1), full.logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(torch.cat([s.values for s in steps], 1), full.values, atol=1e-5, rtol=1e-5)
        # Buffers that start too small grow and keep what they held; a chunk after a cache is causal.
        h, kv = gpt2_forward(p.lm, x[:, :5], None, capacity=5)
        h2, kv = gpt2_forward(p.lm, x[:, 5:30], kv, capacity=5)
        assert kv.keys.shape[3] >= 30 and kv.values.shape[3] >= 30
        hf = p.lm.transformer(x).last_hidden_state
        torch.testing.assert_close(torch.cat([h, h2], 1), hf, atol=1e-5, rtol=1e-5)


def test_fast_decode_samples_what_the_transformers_path_samples():
    p = make("transformer")
    prompts = torch.ones(4, 1, dtype=torch.long)
    cfg = SampleConfig(max_new_tokens=30, top_k=10)
    runs = []
    for fast in (True, False):
        p.fast_decode = fast
        ids, r = sample_recorded(p, prompts, cfg, torch.Generator().manual_seed(3), stop_at_eos=False)
        runs.append((ids, r))
    assert torch.equal(runs[0][0], runs[1][0])
    torch.testing.assert_close(runs[0][1].logprobs, runs[1][1].logprobs, atol=1e-5, rtol=1e-5)


def test_draw_follows_the_distribution_and_never_picks_zero_probability():
    from rlmusic.models.policy import draw

    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3, 0.0]]).repeat(200_000, 1)
    picks = draw(probs, torch.Generator().manual_seed(0))
    freq = torch.bincount(picks, minlength=5).double() / len(picks)
    assert freq[1] == 0 and freq[4] == 0
    # 200k draws: the standard error of each frequency is below 0.0011, so 0.005 is > 4 sigma.
    torch.testing.assert_close(freq, probs[0].double(), atol=5e-3, rtol=0)
    one_hot = torch.zeros(3, 7)
    one_hot[:, 6] = 1.0
    assert draw(one_hot).tolist() == [6, 6, 6]


def test_fast_decode_under_bf16_autocast_keeps_its_cache_in_bf16():
    p = make("transformer")
    x = torch.randint(3, V, (2, 12))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # what accelerate does on a GPU
        a = p(x[:, :8], use_cache=True)
        b = p(x[:, 8:], state=a.state, use_cache=True)
    assert a.state.keys.dtype == torch.bfloat16 and a.state.length == 12
    full = p(x).logits
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1).float(), full, atol=0.1, rtol=0.05)


@pytest.mark.parametrize("name, arch", CASES)
def test_what_sampling_returns_can_enter_autograd_and_change_in_place(name, arch):
    """Sampling runs in inference mode, whose tensors autograd refuses: PPO's update reads the
    sampled ids in a forward with gradients, and a user may edit a sample in place."""
    p = make(name, arch)
    ids, seen = sample_recorded(p, torch.ones(2, 1, dtype=torch.long), SampleConfig(max_new_tokens=6), None)
    assert not any(t.is_inference() for t in (ids, seen.logprobs, seen.values, seen.entropy))
    p.train()
    out = p(ids)
    (out.logits.log_softmax(-1).mean() + (out.values[:, 1:] * seen.values).mean()).backward()
    assert any(q.grad is not None and bool(q.grad.abs().sum() > 0) for q in p.parameters())
    ids[:, -1] = SPECIAL["eos"]
    seen.logprobs += 1.0
    assert sample(p, torch.ones(2, 1, dtype=torch.long), SampleConfig(max_new_tokens=3), None).is_inference() is False

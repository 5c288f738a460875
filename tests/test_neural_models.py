"""The neural backends behind the LanguageModel protocol: incremental == full forward, causality,
beam reordering, state immutability, normalisation, the KV-cache window, the cell equations."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from arlm_tui.lm.neural.backend import NeuralLanguageModel
from arlm_tui.lm.neural.config import (
    TransformerConfig,
    make_config,
    window_spans,
    window_start,
)
from arlm_tui.lm.neural.io import build_net
from arlm_tui.lm.neural.transformer import KVPool
from arlm_tui.text.tokenizers import CharTokenizer

KINDS = ("rnn", "gru", "lstm", "ffn", "transformer")
TOKENIZER = CharTokenizer.from_vocab("abcdefg ")  # V = 11
V = len(TOKENIZER.vocab)


def make_model(kind: str, *, seed: int = 0, context: int = 6, **overrides) -> NeuralLanguageModel:
    """A tiny random net whose distributions are far from uniform (so argmaxes are clear)."""
    torch.manual_seed(seed)
    options = {"layers": 2, "d_model": 12, "heads": 3, "context": context} | overrides
    net = build_net(kind, make_config(kind, V, **options))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.4)
    return NeuralLanguageModel(net, TOKENIZER, backend=kind, name=f"tiny-{kind}")


def random_ids(n: int, seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).integers(3, V, n).tolist()


def stepwise_logprobs(model, ids: list[int]) -> np.ndarray:
    """log p(ids[k] | ids[:k]) from start + one extend per token."""
    out = []
    logprobs, state = model.start([[]])
    for k, token in enumerate(ids):
        out.append(logprobs[0, token])
        if k + 1 < len(ids):
            logprobs, state = model.extend(state, [token])
    return np.array(out)


def full_forward_logits(model, ids: list[int]) -> torch.Tensor:
    """Logits after each prefix of <s> + ids from the net's plain forward pass (no state)."""
    net = model.net
    seq = torch.tensor([[1, *ids]])
    with torch.no_grad():
        if model.backend == "ffn":
            return net.sequence_logits([1, *ids])
        if model.backend == "transformer":
            assert seq.shape[1] <= net.config.context
            return net(seq)[0]
        return net(seq)[0][0]


# ----------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("kind", KINDS)
def test_stepwise_equals_full_forward(kind):
    model = make_model(kind, context=16)
    ids = random_ids(12)
    logits = full_forward_logits(model, ids[:-1])
    full = torch.log_softmax(logits.double(), -1).numpy()
    expected = full[np.arange(len(ids)), ids]
    np.testing.assert_allclose(stepwise_logprobs(model, ids), expected, atol=1e-5)
    np.testing.assert_allclose(model.score_ids(ids), expected, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_long_text_stepwise_equals_fresh_reads(kind):
    # 25 tokens with context 6: the transformer's window restarts several times
    model = make_model(kind, context=6)
    ids = random_ids(25, seed=1)
    fresh = np.array([model.next_logprobs(ids[:k])[ids[k]] for k in range(len(ids))])
    np.testing.assert_allclose(stepwise_logprobs(model, ids), fresh, atol=1e-5)
    np.testing.assert_allclose(model.score_ids(ids), fresh, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_logprobs_are_normalised_float64_and_never_predict_start(kind):
    model = make_model(kind)
    lp = model.next_logprobs(random_ids(4))
    assert lp.dtype == np.float64 and lp.shape == (V,)
    assert lp[model.bos_id] == -np.inf
    assert abs(np.logaddexp.reduce(lp)) < 1e-12
    batch, _ = model.start([[], [3, 4]])
    assert batch.shape == (2, V) and np.all(batch[:, 1] == -np.inf)


@pytest.mark.parametrize("kind", KINDS)
def test_greedy_with_cache_equals_greedy_without(kind):
    model = make_model(kind, context=5)
    cached, fresh = [], []
    logprobs, state = model.start([[4]])
    for _ in range(15):
        token = int(np.argmax(logprobs[0]))
        cached.append(token)
        logprobs, state = model.extend(state, [token])
    for _ in range(15):
        fresh.append(int(np.argmax(model.next_logprobs([4, *fresh]))))
    assert cached == fresh


@pytest.mark.parametrize("kind", KINDS)
def test_causality_future_tokens_never_change_the_past(kind):
    model = make_model(kind, context=16)
    ids = random_ids(10, seed=2)
    base = full_forward_logits(model, ids)
    for j in range(len(ids)):
        changed = list(ids)
        changed[j] = 3 + (changed[j] - 3 + 1) % (V - 3)
        other = full_forward_logits(model, changed)
        # position p of the logits has read <s> + ids[:p]; token j sits at position j + 1
        torch.testing.assert_close(other[: j + 1], base[: j + 1], rtol=0, atol=0)
        assert not torch.allclose(other[j + 1 :], base[j + 1 :])


@pytest.mark.parametrize("kind", KINDS)
def test_select_reorders_beams(kind):
    model = make_model(kind, context=6)
    contexts = [[3, 4], [5, 6, 7, 8, 3], [9, 10, 3, 4, 5, 6, 7, 8]]  # different lengths
    _, state = model.start(contexts)
    steps = [[3, 4, 5], [6, 6, 6]]
    for tokens in steps:
        _, state = model.extend(state, tokens)
    histories = [c + [s[i] for s in steps] for i, c in enumerate(contexts)]
    order = [2, 0, 0]
    picked = model.select(state, order)
    assert len(picked) == 3
    logprobs, _ = model.extend(picked, [4, 5, 6])
    for row, (source, token) in enumerate(zip(order, [4, 5, 6])):
        expected = model.next_logprobs(histories[source] + [token])
        np.testing.assert_allclose(logprobs[row], expected, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_extend_leaves_its_input_state_usable(kind):
    model = make_model(kind, context=6)
    _, state = model.start([[3, 4, 5, 6, 7]])  # the transformer's window is nearly full
    first, after_a = model.extend(state, [8])
    second, _ = model.extend(state, [9])  # branch from the kept state (undo, another beam)
    again, _ = model.extend(state, [8])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(second, model.next_logprobs([3, 4, 5, 6, 7, 9])[None], atol=1e-5)
    later, _ = model.extend(after_a, [3])  # the first branch is still intact
    np.testing.assert_allclose(later[0], model.next_logprobs([3, 4, 5, 6, 7, 8, 3]), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_arguments_raise_value_error_naming_them(kind):
    model = make_model(kind)
    with pytest.raises(ValueError, match="context_ids"):
        model.next_logprobs([V + 5])
    _, state = model.start([[3], [4]])
    with pytest.raises(ValueError, match="token_ids"):
        model.extend(state, [3])
    with pytest.raises(ValueError, match="indices"):
        model.select(state, [0, 2])


@pytest.mark.parametrize("kind", KINDS)
def test_describe_reports_size_and_shape(kind):
    facts = make_model(kind).describe()
    assert facts["backend"] == kind and facts["vocab_size"] == V
    assert facts["parameters"] == sum(p.numel() for p in make_model(kind).net.parameters())
    assert facts["layers"] == 2 and facts["width"] == 12
    assert (facts["heads"] == 3) == (kind == "transformer")


def test_beam_search_over_a_neural_model_agrees_with_exact_enumeration():
    from arlm_tui.decoding import beam_search
    from arlm_tui.decoding.beam import exact_search

    tokenizer = CharTokenizer.from_vocab("ab")  # V = 5: <unk> <s> </s> a b
    torch.manual_seed(3)
    net = build_net("lstm", make_config("lstm", 5, layers=1, d_model=8))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    model = NeuralLanguageModel(net, tokenizer, backend="lstm")
    exact = exact_search(model, [3], max_tokens=4)
    beam = beam_search(model, [3], width=64, max_tokens=4, early_stopping=False)
    assert [ids for ids, _ in beam] == [ids for ids, _ in exact[: len(beam)]]
    np.testing.assert_allclose([s for _, s in beam], [s for _, s in exact[: len(beam)]], atol=1e-5)


# ----------------------------------------------------------------------------- transformer
def test_window_rule_matches_its_spans():
    C, K = 8, 4
    for n in range(1, 40):
        start = window_start(n, C, K)
        assert K + 1 <= n - start <= C or n <= C
        # the span that scores input position n−1 starts where window_start says
        (a, _, _), *_ = [s for s in window_spans(n, C, K) if s[0] + s[2] <= n - 1 < s[1]]
        assert a == start
    covered = [p for a, b, first in window_spans(30, C, K) for p in range(a + first, b)]
    assert covered == list(range(30))


def test_chunk_after_cache_uses_a_bottom_right_mask():
    model = make_model("transformer", context=16)
    net = model.net
    ids = torch.tensor([[1, *random_ids(9, seed=4)]])
    pool = KVPool(net.config, 16)
    slots = np.arange(10)[None, :]
    with torch.no_grad():
        net.forward_cached(ids[:, :4], pool, slots[:, :4], past=0)
        chunk_logprobs, _ = net.forward_cached(ids[:, 4:], pool, slots, past=4)  # 6 q, 10 keys
        full = torch.log_softmax(net(ids)[0, -1].double(), dim=-1)
    torch.testing.assert_close(torch.from_numpy(chunk_logprobs[0]), full, atol=1e-5, rtol=1e-5)


def test_last_attention_has_one_row_per_layer_and_head():
    model = make_model("transformer", context=6)
    assert model.last_attention is None
    _, state = model.start([[3, 4]])
    att = model.last_attention
    assert att.shape == (2, 3, 3)  # layers, heads, keys: <s> a b
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-6)
    assert model.attention_keys == [1, 3, 4]
    for token in [5, 6, 7, 8]:  # 7 tokens > context 6: the window restarts with K = 3 kept
        _, state = model.extend(state, [token])
    assert model.attention_keys == [5, 6, 7, 8]
    att = model.last_attention
    assert att.shape == (2, 3, 4)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-6)
    # layer 0's weights, recomputed by hand from the window 5 6 7 8 at positions 0…3
    with torch.no_grad():
        net, ids = model.net, torch.tensor([[5, 6, 7, 8]])
        x = net.wte(ids) + net.wpe.weight[:4]
        block = net.blocks[0]
        q, k, _ = block.attn.c_attn(block.ln_1(x)).split(12, dim=2)
        q, k = block.attn.split_heads(q), block.attn.split_heads(k)
        scores = (q[0, :, -1:] @ k[0].transpose(-2, -1))[:, 0] / 2.0  # (H, 4), √d_head = 2
        expected = torch.softmax(scores, dim=-1)
    np.testing.assert_allclose(att[0], expected.double().numpy(), atol=1e-5)
    assert make_model("lstm").last_attention is None


def test_transformer_config_rejects_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="d_model must be a multiple of heads"):
        TransformerConfig(vocab_size=10, d_model=10, heads=3).validate()


# ----------------------------------------------------------------------------- the equations
def _sigmoid(x):
    return torch.sigmoid(x)


def test_lstm_computes_the_documented_equations():
    torch.manual_seed(0)
    m = 5
    cell = build_net("lstm", make_config("lstm", V, layers=1, d_model=m)).cell
    x, h, c = torch.randn(1, 1, m), torch.randn(1, 1, m), torch.randn(1, 1, m)
    with torch.no_grad():
        _out, (h1, c1) = cell(x, (h, c))
    W, R = cell.weight_ih_l0, cell.weight_hh_l0
    b = cell.bias_ih_l0 + cell.bias_hh_l0
    pre = W @ x[0, 0] + R @ h[0, 0] + b
    i, f, g, o = pre.split(m)
    c_t = _sigmoid(f) * c[0, 0] + _sigmoid(i) * torch.tanh(g)
    h_t = _sigmoid(o) * torch.tanh(c_t)
    torch.testing.assert_close(c1[0, 0], c_t.detach())
    torch.testing.assert_close(h1[0, 0], h_t.detach())


def test_gru_computes_the_documented_equations():
    torch.manual_seed(0)
    m = 5
    cell = build_net("gru", make_config("gru", V, layers=1, d_model=m)).cell
    x, h = torch.randn(m), torch.randn(m)
    with torch.no_grad():
        _, h1 = cell(x.view(1, 1, m), h.view(1, 1, m))
        Wx = cell.weight_ih_l0 @ x + cell.bias_ih_l0
        Wh = cell.weight_hh_l0 @ h + cell.bias_hh_l0
        (xr, xz, xn), (hr, hz, hn) = Wx.split(m), Wh.split(m)
        r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
        candidate = torch.tanh(xn + r * hn)
        expected = (1 - z) * candidate + z * h
    torch.testing.assert_close(h1[0, 0], expected)


def test_elman_rnn_computes_the_documented_equation():
    torch.manual_seed(0)
    m = 5
    cell = build_net("rnn", make_config("rnn", V, layers=1, d_model=m)).cell
    x, h = torch.randn(m), torch.randn(m)
    with torch.no_grad():
        _, h1 = cell(x.view(1, 1, m), h.view(1, 1, m))
        expected = torch.tanh(
            cell.weight_ih_l0 @ x + cell.bias_ih_l0 + cell.weight_hh_l0 @ h + cell.bias_hh_l0
        )
    torch.testing.assert_close(h1[0, 0], expected)


def test_feed_forward_reads_only_its_window():
    model = make_model("ffn", context=3)
    a = model.next_logprobs([3, 4, 5, 6, 7])
    b = model.next_logprobs([9, 9, 5, 6, 7])
    np.testing.assert_array_equal(a, b)  # only the last n−1 = 3 tokens matter
    padded = model.next_logprobs([5])  # window <s> <s> a... padded with <s>
    assert model.net.pad([1, 5]) == [1, 1, 5]
    np.testing.assert_allclose(padded, model.next_logprobs([5]))


def test_importing_the_package_does_not_import_torch():
    code = (
        "import sys, arlm_tui.lm.neural, arlm_tui.lm.neural.config, arlm_tui.cli.train_neural; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kind", ["lstm", "ffn", "transformer"])
def test_scoring_a_long_text_in_chunks_equals_one_pass(kind):
    model = make_model(kind, context=16)
    ids = random_ids(700, seed=5)  # more than one 512-position chunk
    with torch.no_grad():
        if kind == "transformer":  # windows of 16: compare with the fresh windowed reads
            expected = np.array([model.next_logprobs(ids[:k])[ids[k]] for k in (0, 511, 699)])
            np.testing.assert_allclose(model.score_ids(ids)[[0, 511, 699]], expected, atol=1e-5)
            return
        seq = torch.tensor([[1, *ids[:-1]]])
        logits = model.net(seq)[0] if kind == "lstm" else model.net(seq.unfold(1, 16, 1)[0])
    if kind == "ffn":  # the first 15 predictions read <s>-padded windows: compare the rest
        full = torch.log_softmax(logits.double(), -1).numpy()
        got = model.score_ids(ids)[15:]
        np.testing.assert_allclose(got, full[np.arange(len(ids) - 15), ids[15:]], atol=1e-5)
        return
    full = torch.log_softmax(logits[0].double(), -1).numpy()
    np.testing.assert_allclose(model.score_ids(ids), full[np.arange(len(ids)), ids], atol=1e-5)

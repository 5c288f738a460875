"""The transformer's numpy decode step (``fastpath``) against the torch full forward pass."""

from __future__ import annotations

import numpy as np
import torch

from arlm_tui.lm.neural import fastpath
from arlm_tui.lm.neural.backend import NeuralLanguageModel
from arlm_tui.lm.neural.config import make_config
from arlm_tui.lm.neural.io import build_net
from arlm_tui.lm.neural.transformer import KVCache
from arlm_tui.text.tokenizers import CharTokenizer

TOKENIZER = CharTokenizer.from_vocab("abcdefghij ")
V = len(TOKENIZER.vocab)
TOL = {"rtol": 1e-5, "atol": 1e-5}


def make_model(*, seed: int = 0, context: int = 16) -> NeuralLanguageModel:
    """A small random transformer with spread-out weights and non-trivial LayerNorm gains."""
    torch.manual_seed(seed)
    config = make_config("transformer", V, layers=2, d_model=16, heads=4, context=context)
    net = build_net("transformer", config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return NeuralLanguageModel(net, TOKENIZER, backend="transformer", name="tiny")


def reference_logprobs(model: NeuralLanguageModel, ids: list[int]) -> np.ndarray:
    """log softmax of the plain forward pass after <s> + ids (last position), <s> masked."""
    with torch.no_grad():
        logits = model.net(torch.tensor([[1, *ids]]))[0, -1].double()
    logits[1] = -np.inf
    return torch.log_softmax(logits, dim=-1).numpy()


def finite_close(a: np.ndarray, b: np.ndarray) -> None:
    assert np.array_equal(np.isneginf(a), np.isneginf(b))
    keep = np.isfinite(b)
    np.testing.assert_allclose(a[keep], b[keep], **TOL)


def test_layer_norm_folding_matches_torch_layer_norm_then_linear():
    model = make_model()
    block = model.net.blocks[0]
    weights = fastpath.step_weights(model.net, 1)
    x = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    with torch.no_grad():
        expected = block.attn.c_attn(block.ln_1(torch.from_numpy(x))).numpy()
    expected[:, :16] /= 2.0  # the query columns carry 1/√d_head (d_head = 4)
    qkv = weights.layers[0].qkv
    got = fastpath.normalize(x, weights.eps) @ qkv[:-1] + qkv[-1]
    np.testing.assert_allclose(got, expected, **TOL)


def test_gelu_is_the_tanh_form():
    u = np.linspace(-6, 6, 101).astype(np.float32)
    expected = torch.nn.functional.gelu(torch.from_numpy(u), approximate="tanh").numpy()
    np.testing.assert_allclose(fastpath.gelu_tanh(u.copy()), expected, **TOL)


def test_every_single_step_matches_the_full_forward_pass():
    model = make_model()
    ids = np.random.default_rng(1).integers(3, V, 14).tolist()
    logprobs, state = model.start([[]])
    finite_close(logprobs[0], reference_logprobs(model, []))
    for k, token in enumerate(ids):
        logprobs, state = model.extend(state, [token])
        finite_close(logprobs[0], reference_logprobs(model, ids[: k + 1]))


def test_steps_after_a_chunk_match_and_the_chunk_keys_are_the_steps_keys():
    model = make_model()
    ids = np.random.default_rng(2).integers(3, V, 12).tolist()
    _, chunked = model.start([ids[:6]])
    _, stepped = model.start([[]])
    for token in ids[:6]:
        _, stepped = model.extend(stepped, [token])
    k_chunk = chunked.cache.k[:, 0, :, :7].numpy()
    k_step = stepped.cache.k[:, 0, :, :7].numpy()
    np.testing.assert_allclose(k_step, k_chunk, **TOL)
    for k, token in enumerate(ids[6:], start=6):
        logprobs, chunked = model.extend(chunked, [token])
        finite_close(logprobs[0], reference_logprobs(model, ids[: k + 1]))


def test_beams_select_and_extend_in_a_batch_match_each_rows_own_forward():
    model = make_model()
    prompt = [4, 5, 6]
    _, state = model.start([prompt] * 3)
    texts = [list(prompt) for _ in range(3)]
    rng = np.random.default_rng(3)
    for _ in range(6):
        parents = rng.integers(0, 3, 3).tolist()
        state = model.select(state, parents)
        texts = [list(texts[p]) for p in parents]
        tokens = rng.integers(3, V, 3).tolist()
        logprobs, state = model.extend(state, tokens)
        for row, token in enumerate(tokens):
            texts[row].append(token)
            finite_close(logprobs[row], reference_logprobs(model, texts[row]))


def test_undo_input_states_are_never_modified():
    model = make_model()
    _, base = model.start([[4, 5]])
    first, _ = model.extend(base, [6])
    model.extend(base, [7])  # a different continuation from the same state
    again, _ = model.extend(base, [6])
    np.testing.assert_array_equal(again, first)
    finite_close(again[0], reference_logprobs(model, [4, 5, 6]))


def test_the_window_restarts_past_the_context_and_still_matches_fresh_reads():
    model = make_model(context=8)
    ids = np.random.default_rng(4).integers(3, V, 20).tolist()
    logprobs, state = model.start([[]])
    for k, token in enumerate(ids):
        logprobs, state = model.extend(state, [token])
        expected = model.next_logprobs(ids[: k + 1])  # a fresh read of the same window
        finite_close(logprobs[0], expected)


def test_last_attention_after_a_numpy_step_is_the_softmax_of_the_stored_query():
    model = make_model()
    ids = [4, 5, 6, 7, 8]
    _, state = model.start([ids[:-1]])
    model.extend(state, [ids[-1]])
    weights = model.last_attention
    assert weights.shape == (2, 4, len(ids) + 1)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    # layer 0's attention recomputed from the embedding of <s> + ids
    net = model.net
    with torch.no_grad():
        x = net.wte(torch.tensor([1, *ids])) + net.wpe.weight[: len(ids) + 1]
        qkv = net.blocks[0].attn.c_attn(net.blocks[0].ln_1(x))
        q, k = qkv[:, :16].view(-1, 4, 4), qkv[:, 16:32].view(-1, 4, 4)
        scores = torch.einsum("hd,thd->ht", q[-1], k) / 2.0
        expected = torch.softmax(scores, dim=-1).numpy()
    np.testing.assert_allclose(weights[0], expected, **TOL)


def test_changed_weights_are_picked_up_by_the_next_start():
    model = make_model()
    before, _ = model.start([[4, 5]])
    with torch.no_grad():
        model.net.blocks[1].mlp.c_fc.weight.mul_(1.5)
    after, state = model.start([[4, 5]])
    assert not np.allclose(before, after)
    logprobs, _ = model.extend(state, [6])
    finite_close(logprobs[0], reference_logprobs(model, [4, 5, 6]))


def test_take_copies_only_what_each_row_sees():
    model = make_model()
    cache = KVCache(model.net.config, 2)
    cache.k.normal_()
    cache.v.normal_()
    new = cache.take(model.net.config, torch.tensor([1, 1, 0]), np.array([5, 3, 4]))
    for b, (row, length) in enumerate([(1, 5), (1, 3), (0, 4)]):
        assert torch.equal(new.k[:, b, :, :length], cache.k[:, row, :, :length])
        assert torch.equal(new.v[:, b, :, :length], cache.v[:, row, :, :length])
        assert torch.equal(new.ids[b, :length], cache.ids[row, :length])
    assert new.filled.tolist() == [5, 3, 4]


def test_a_freed_cache_is_reused_only_when_nothing_still_views_it():
    config = make_model().net.config
    cache = KVCache(config, 1)
    cache.ids_np[:] = 7
    kept = cache.k[:, 0]  # a caller keeps a view of the keys
    kept.fill_(3.0)
    del cache
    fresh = KVCache(config, 1)
    fresh.k.fill_(-1.0)
    assert torch.all(kept == 3.0)  # the viewed memory was not handed out again
    assert torch.all(fresh.ids == 1)
    del kept, fresh
    reused = KVCache(config, 1)  # may be fresh's memory: it must still look new
    assert torch.all(reused.ids == 1) and reused.filled.tolist() == [0]

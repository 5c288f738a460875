"""The transformer's cached path against its full forward pass: the compiled step
(``kernels``) and the torch fallback, over the slot pool (``KVPool``)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from arlm_tui.lm.neural import fastpath, kernels, transformer
from arlm_tui.lm.neural.backend import NeuralLanguageModel
from arlm_tui.lm.neural.config import make_config
from arlm_tui.lm.neural.io import build_net
from arlm_tui.text.tokenizers import CharTokenizer

TOKENIZER = CharTokenizer.from_vocab("abcdefghij ")
V = len(TOKENIZER.vocab)
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(params=["compiled", "torch"])
def path(request, monkeypatch) -> str:
    """Run a test once with the compiled step and once with the torch fallback."""
    monkeypatch.setattr(transformer, "_KERNELS", [kernels if request.param == "compiled" else None])
    return request.param


def make_model(*, seed: int = 0, context: int = 16, bf16: bool = False) -> NeuralLanguageModel:
    """A small random transformer with spread-out weights and non-trivial LayerNorm gains;
    ``bf16``: every weight rounded to a bfloat16 number (as the bundled transformer's)."""
    torch.manual_seed(seed)
    config = make_config("transformer", V, layers=2, d_model=16, heads=4, context=context)
    net = build_net("transformer", config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
            if bf16:
                p.copy_(p.to(torch.bfloat16).float())
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


def test_the_compiled_step_is_used_when_numba_is_installed(monkeypatch):
    monkeypatch.setattr(transformer, "_KERNELS", [])
    monkeypatch.delenv("ARLM_NO_JIT", raising=False)
    assert transformer._kernels() is kernels
    monkeypatch.setattr(transformer, "_KERNELS", [])
    monkeypatch.setenv("ARLM_NO_JIT", "1")
    assert transformer._kernels() is None


def test_a_step_that_cannot_compile_falls_back_to_torch_with_a_warning(monkeypatch):
    def broken(*args):
        raise RuntimeError("cannot cache function: no locator available\nmore detail")

    monkeypatch.setattr(transformer, "_KERNELS", [kernels])
    monkeypatch.setattr(kernels, "extend_step", broken)
    model = make_model()
    with pytest.warns(RuntimeWarning, match="compiled step is unavailable .cannot cache"):
        _, state = model.start([[4, 5]])
    assert transformer._kernels() is None  # from now on: torch calls
    logprobs, _ = model.extend(state, [6])
    finite_close(logprobs[0], reference_logprobs(model, [4, 5, 6]))


def test_step_weights_are_the_modules_own_numbers():
    model = make_model()
    net = model.net
    weights = fastpath.step_weights(net, (1,))
    assert not weights.bfloat16 and weights.mats.dtype == np.float32 and not weights.in_out
    np.testing.assert_array_equal(
        weights.matrix("qkv", 1), net.blocks[1].attn.c_attn.weight.detach()
    )
    np.testing.assert_array_equal(weights.matrix("p", 0), net.blocks[0].mlp.c_proj.weight.detach())
    np.testing.assert_array_equal(weights.ln_2[0, 0], net.blocks[0].ln_2.weight.detach())
    np.testing.assert_array_equal(weights.head_t, net.wte.weight.detach())
    assert weights.head_b[1] == -np.inf and np.count_nonzero(weights.head_b) == 1
    assert weights.scale == 0.5  # 1/√d_head, d_head = 4


def test_a_bfloat16_model_keeps_its_matrices_as_16_bit_patterns():
    net = make_model(bf16=True).net
    weights = fastpath.step_weights(net, (1,))
    assert weights.bfloat16 and weights.mats.dtype == np.uint16
    fc = weights.matrix("fc", 0)
    widened = (fc.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(widened, net.blocks[0].mlp.c_fc.weight.detach())
    assert kernels.weight(fc[1, 2]) == widened[1, 2]  # the plain-Python meaning
    assert fastpath.is_bfloat16(np.array([1.0, -0.5, 3.0], np.float32))
    assert not fastpath.is_bfloat16(np.array([1.0, 0.1], np.float32))


def test_the_compiled_exp_is_accurate_and_clamps_underflow():
    x = np.concatenate([np.linspace(-80, 0, 4001), [-200.0, -1e30]]).astype(np.float32)
    a = x.copy()
    bits = np.empty(len(a), np.int32)
    kernels._exp(a, len(a), bits, bits.view(np.float32))
    expected = np.exp(x.astype(np.float64))
    small = x >= -20  # where softmax terms live: as good as float32 rounding
    np.testing.assert_allclose(a[small], expected[small], rtol=1e-6)
    np.testing.assert_allclose(a[:4001], expected[:4001], rtol=5e-6)
    assert np.all(a[-2:] == np.float32(2.0**-126))  # e^x below 1e-38: clamped, never 0 or NaN


@pytest.mark.parametrize("bf16", [False, True])
def test_in_out_products_match_numpy_for_every_batch_size_and_tail(bf16):
    """``_affine_in_out`` (GPT-2's (in, out) layout) against numpy, for 1 to 9 rows (fewer than
    four take ``_affine_in_out_few``), inputs that leave 0–7 rows after the groups of eight and
    four, and outputs over whole rows and in tiles; and one row alone gives the same numbers as
    in a batch of two."""
    rng = np.random.default_rng(3)
    for n, m in ((16, 24), (13, 40), (21, 1500), (7, 2100), (40, 3072)):
        w = rng.standard_normal((n, m), dtype=np.float32)
        if bf16:
            w = (w.view(np.uint32) >> 16).astype(np.uint16)
            wide = (w.astype(np.uint32) << 16).view(np.float32)
        else:
            wide = w
        bias = rng.standard_normal(m, dtype=np.float32)
        for B in range(1, 10):
            x = rng.standard_normal((B, n), dtype=np.float32)
            y = np.empty((B, m), np.float32)
            kernels._affine_in_out(x, w, bias, y)
            expected = x.astype(np.float64) @ wide.astype(np.float64) + bias
            np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4 * np.sqrt(n))
            if B == 2:
                alone = np.empty((1, m), np.float32)
                kernels._affine_in_out(x[1:], w, bias, alone)
                np.testing.assert_array_equal(alone[0], y[1])


@pytest.mark.parametrize("bf16", [False, True])
def test_every_single_step_matches_the_full_forward_pass(path, bf16):
    model = make_model(bf16=bf16)
    ids = np.random.default_rng(1).integers(3, V, 14).tolist()
    logprobs, state = model.start([[]])
    finite_close(logprobs[0], reference_logprobs(model, []))
    for k, token in enumerate(ids):
        logprobs, state = model.extend(state, [token])
        finite_close(logprobs[0], reference_logprobs(model, ids[: k + 1]))


def test_steps_after_a_chunk_match_and_the_chunk_keys_are_the_steps_keys(path):
    model = make_model()
    ids = np.random.default_rng(2).integers(3, V, 12).tolist()
    _, chunked = model.start([ids[:6]])
    _, stepped = model.start([[]])
    for token in ids[:6]:
        _, stepped = model.extend(stepped, [token])
    k_chunk = chunked.pool.k[:, chunked.slots[0, :7]]
    k_step = stepped.pool.k[:, stepped.slots[0, :7]]
    np.testing.assert_allclose(k_step, k_chunk, **TOL)
    for k, token in enumerate(ids[6:], start=6):
        logprobs, chunked = model.extend(chunked, [token])
        finite_close(logprobs[0], reference_logprobs(model, ids[: k + 1]))


@pytest.mark.parametrize("bf16", [False, True])
def test_beams_select_and_extend_in_a_batch_match_each_rows_own_forward(path, bf16):
    model = make_model(bf16=bf16)
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


def test_rows_of_different_lengths_step_together(path):
    model = make_model()
    texts = [[4], [5, 6, 7, 8], [], [9, 9]]
    _, state = model.start(texts)
    rng = np.random.default_rng(5)
    for _ in range(4):
        tokens = rng.integers(3, V, len(texts)).tolist()
        logprobs, state = model.extend(state, tokens)
        for row, token in enumerate(tokens):
            texts[row].append(token)
            finite_close(logprobs[row], reference_logprobs(model, texts[row]))


def test_beams_share_slots_instead_of_copying_keys():
    model = make_model()
    _, state = model.start([[4, 5, 6]] * 4)
    assert len(np.unique(state.slots)) == 4  # one prompt (<s> a b c) read once
    _, state = model.extend(state, [7, 8, 9, 10])
    used = state.pool.used
    picked = model.select(state, [2, 2, 0, 1])
    assert picked.pool is state.pool and picked.pool.used == used  # nothing copied
    np.testing.assert_array_equal(picked.slots, state.slots[[2, 2, 0, 1]])


def test_undo_input_states_are_never_modified(path):
    model = make_model()
    _, base = model.start([[4, 5]])
    first, _ = model.extend(base, [6])
    model.extend(base, [7])  # a different continuation from the same state
    again, _ = model.extend(base, [6])
    np.testing.assert_array_equal(again, first)
    finite_close(again[0], reference_logprobs(model, [4, 5, 6]))


def test_the_window_restarts_past_the_context_and_still_matches_fresh_reads(path):
    model = make_model(context=8)
    ids = np.random.default_rng(4).integers(3, V, 40).tolist()
    logprobs, state = model.start([[]])
    pools = {id(state.pool)}
    for k, token in enumerate(ids):
        logprobs, state = model.extend(state, [token])
        pools.add(id(state.pool))
        expected = model.next_logprobs(ids[: k + 1])  # a fresh read of the same window
        finite_close(logprobs[0], expected)
    assert len(pools) > 1  # a full pool moved the live slots to a new one on the way


def test_one_row_restarts_its_window_while_the_other_steps(path):
    model = make_model(context=8)
    texts = [[4, 5, 6, 7, 8, 9, 4], [5]]  # with <s>: 8 tokens (full) and 2
    _, state = model.start(texts)
    for token in (6, 7, 8):
        logprobs, state = model.extend(state, [token, token])
        for row in range(2):
            texts[row].append(token)
            finite_close(logprobs[row], model.next_logprobs(texts[row]))


def test_two_threads_extending_one_state_get_their_own_slots(path):
    model = make_model()
    _, base = model.start([[4, 5]])
    results: dict[int, np.ndarray] = {}

    def run(token: int) -> None:
        state = base
        for _ in range(5):
            logprobs, state = model.extend(state, [token])
        results[token] = logprobs[0]

    threads = [threading.Thread(target=run, args=(t,)) for t in (6, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for token in (6, 7):
        finite_close(results[token], reference_logprobs(model, [4, 5] + [token] * 5))


def test_last_attention_after_a_step_is_the_softmax_of_the_stored_query(path):
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
    assert model.attention_keys == [1, *ids]


def test_changed_weights_are_picked_up_by_the_next_start(path):
    model = make_model()
    before, _ = model.start([[4, 5]])
    with torch.no_grad():
        model.net.blocks[1].mlp.c_fc.weight.mul_(1.5)
    after, state = model.start([[4, 5]])
    assert not np.allclose(before, after)
    logprobs, _ = model.extend(state, [6])
    finite_close(logprobs[0], reference_logprobs(model, [4, 5, 6]))

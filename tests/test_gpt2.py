"""GPT-2 checkpoints on arlm's own transformer (``lm.neural.gpt2``), against ``transformers``
running the same folder: a tiny random GPT-2 with a byte-level BPE tokenizer, saved by
``transformers`` into a temporary folder (3 padding rows past the tokenizer, 24 positions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

import arlm_tui
from arlm_tui.decoding import beam_search
from arlm_tui.errors import ModelLoadError
from arlm_tui.lm.hf import HFModel
from arlm_tui.lm.neural import kernels, transformer
from arlm_tui.lm.neural.backend import NeuralLanguageModel
from arlm_tui.lm.neural.gpt2 import native_gpt2

TEXTS = ["the cat sat on the mat.", "a dog ran to the park!", "the bird sang a song, then flew."]
WINDOW = 24
PADDING_ROWS = 3
TOL = 1e-4  # the bound on |Δ log p|


def _save(directory: Path, **overrides) -> Path:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXTS * 4, trainer=trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    ))  # fmt: skip
    tok.add_special_tokens(["<|endoftext|>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.save_pretrained(directory)
    dtype = overrides.pop("dtype", torch.float32)
    config = GPT2Config(
        vocab_size=len(fast) + PADDING_ROWS, n_positions=WINDOW, n_embd=32, n_layer=2, n_head=4,
        initializer_range=0.3, bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id,
        **overrides,
    )  # fmt: skip
    torch.manual_seed(0)
    GPT2LMHeadModel(config).to(dtype).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    return _save(tmp_path_factory.mktemp("gpt2"))


@pytest.fixture(scope="module")
def model(gpt2_dir) -> NeuralLanguageModel:
    return arlm_tui.load_model(f"hf:{gpt2_dir}")


@pytest.fixture(scope="module")
def reference(gpt2_dir):
    return GPT2LMHeadModel.from_pretrained(gpt2_dir, dtype=torch.float32).eval()


@pytest.fixture(params=["compiled", "torch"])
def path(request, monkeypatch) -> str:
    monkeypatch.setattr(transformer, "_KERNELS", [kernels if request.param == "compiled" else None])
    return request.param


def _theirs(model, reference, rows: list[list[int]]) -> np.ndarray:
    """transformers' next-token log-probs after ``<s>`` + each row, with the ids arlm never
    predicts (the padding rows) removed and the rest renormalised."""
    out = []
    for row in rows:
        with torch.inference_mode():
            logits = reference(torch.tensor([[model.bos_id, *row]])).logits[0, -1].double()
        logits = logits.clone()
        logits[model.tokenizer.known :] = -torch.inf
        out.append(torch.log_softmax(logits, -1).numpy())
    return np.stack(out)


def _close(ours: np.ndarray, theirs: np.ndarray) -> float:
    assert np.array_equal(np.isfinite(ours), np.isfinite(theirs))
    keep = np.isfinite(theirs)
    delta = float(np.abs(ours[keep] - theirs[keep]).max())
    assert delta <= TOL
    return delta


def test_a_gpt2_folder_runs_on_arlms_transformer(model, gpt2_dir):
    assert native_gpt2(gpt2_dir)
    assert isinstance(model, NeuralLanguageModel) and model.backend == "transformer"
    assert model.name == f"hf:{gpt2_dir}"
    assert model.bos_id == model.eos_id == model.tokenizer.token_to_id["<|endoftext|>"]
    assert model.vocab_size == model.tokenizer.known + PADDING_ROWS
    facts = model.describe()
    assert (facts["layers"], facts["width"], facts["heads"], facts["context"]) == (2, 32, 4, 24)
    plain = arlm_tui.load_model(str(gpt2_dir))  # a plain path too
    assert plain.backend == "transformer" and plain.name == gpt2_dir.name
    text = "the cat sat on the mat."
    assert model.tokenizer.decode(model.tokenizer.encode(text)) == text


def test_log_probs_equal_transformers_step_by_step_and_in_beams(model, reference, path):
    enc = model.tokenizer.encode
    contexts = [enc("the cat sat"), enc("a dog"), [], enc("the"), enc("a bird sang")]  # 4 + 1
    logprobs, state = model.start(contexts)
    _close(logprobs, _theirs(model, reference, contexts))
    histories = [list(c) for c in contexts]
    for step in range(6):  # greedy steps, all three rows in one batch
        tokens = [int(np.argsort(row)[-1 - step % 2]) for row in logprobs]
        logprobs, state = model.extend(state, tokens)
        histories = [h + [t] for h, t in zip(histories, tokens)]
        _close(logprobs, _theirs(model, reference, histories))
    picked = model.select(state, [2, 0, 0, 4])  # beams: reorder and duplicate rows
    tokens = enc(" the")[:1] * 4
    logprobs, _ = model.extend(picked, tokens)
    expected = [histories[i] + tokens[:1] for i in (2, 0, 0, 4)]
    _close(logprobs, _theirs(model, reference, expected))


def test_greedy_and_beam_decoding_agree_with_transformers(model, reference):
    prompt = model.tokenizer.encode("the cat")
    ids = torch.tensor([[model.bos_id, *prompt]])
    never = list(range(model.tokenizer.known, model.vocab_size))
    with torch.inference_mode():
        out = reference.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=10, suppress_tokens=never,
                                 eos_token_id=model.eos_id, pad_token_id=model.eos_id)
    expected = out[0, ids.shape[1] :].tolist()
    assert arlm_tui.generate(model, "the cat", strategy="greedy", max_tokens=10)["token_ids"] \
        == expected  # fmt: skip
    results = beam_search(model, prompt, width=3, max_tokens=5, length_penalty=1.0)
    for tokens, score in results:  # each beam's score is its rescored log-probability
        history, total = list(prompt), 0.0
        for token in tokens:
            total += _theirs(model, reference, [history])[0, token]
            history.append(token)
        assert abs(score - total / len(tokens)) <= TOL


def test_the_weights_stay_in_the_memory_mapped_file(model, gpt2_dir):
    net = model.net
    mats = net.mapped_matrices.mats
    base = mats
    while not isinstance(base, np.memmap) and base.base is not None:
        base = base.base
    assert isinstance(base, np.memmap) and Path(base.filename) == gpt2_dir / "model.safetensors"
    for module in (net.blocks[0].attn.c_attn, net.blocks[1].mlp.c_proj):
        assert np.shares_memory(module.weight.numpy(), mats)  # (out, in) views of (in, out)
        assert not module.weight.is_contiguous()
    model.start([[5, 6]])
    fast = net._fast
    assert fast.in_out and fast.mats is mats
    assert np.shares_memory(fast.head_t, net.wte.weight.numpy())  # E, tied and in place
    np.testing.assert_array_equal(fast.matrix("fc", 1), net.blocks[1].mlp.c_fc.weight.numpy())


def test_a_long_text_restarts_the_window_and_matches_fresh_reads(model):
    ids = model.tokenizer.encode(" ".join(TEXTS * 2))[: 2 * WINDOW]
    logprobs, state = model.start([ids[:5]])
    for k in range(5, len(ids)):
        logprobs, state = model.extend(state, [ids[k]])
    np.testing.assert_allclose(logprobs[0], model.next_logprobs(ids), atol=1e-5)
    assert np.isclose(np.logaddexp.reduce(logprobs[0]), 0.0)


def test_bfloat16_checkpoints_are_widened_and_match(tmp_path):
    directory = _save(tmp_path / "bf16", dtype=torch.bfloat16)
    model = arlm_tui.load_model(f"hf:{directory}")
    assert model.backend == "transformer"
    reference = GPT2LMHeadModel.from_pretrained(directory, dtype=torch.float32).eval()
    context = model.tokenizer.encode("the bird")
    logprobs, state = model.start([context])
    logprobs, _ = model.extend(state, [context[0]])
    _close(logprobs, _theirs(model, reference, [context + context[:1]]))


def test_other_architectures_still_go_through_transformers(tmp_path):
    directory = _save(tmp_path / "erf", activation_function="gelu")
    assert not native_gpt2(directory)
    assert isinstance(arlm_tui.load_model(f"hf:{directory}"), HFModel)


def test_a_broken_checkpoint_is_one_line_naming_the_file(tmp_path, gpt2_dir):
    def copy(name: str) -> Path:
        directory = tmp_path / name
        directory.mkdir()
        for file in gpt2_dir.iterdir():
            (directory / file.name).write_bytes(file.read_bytes())
        return directory

    truncated = copy("truncated")
    (truncated / "model.safetensors").write_bytes(b"truncated")
    nan = copy("nan")
    raw = bytearray((nan / "model.safetensors").read_bytes())
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    begin = 8 + int.from_bytes(raw[:8], "little")
    begin += header["transformer.h.1.mlp.c_fc.weight"]["data_offsets"][0]
    raw[begin : begin + 4] = np.array([np.nan], np.float32).tobytes()
    (nan / "model.safetensors").write_bytes(bytes(raw))
    tokenizer = copy("tokenizer")
    (tokenizer / "tokenizer.json").write_text("{not json")
    for directory, what in ((truncated, "safetensors"), (nan, "NaN"), (tokenizer, "tokenizer")):
        with pytest.raises(ModelLoadError, match=what) as info:
            arlm_tui.load_model(f"hf:{directory}")
        assert str(directory) in str(info.value) and "\n" not in str(info.value)


def test_openai_style_names_and_mask_buffers_load_too(tmp_path, gpt2_dir, model):
    """The original GPT-2 files name tensors without ``transformer.`` and keep each layer's
    causal-mask buffer (``h.N.attn.bias``): names are read either way, buffers ignored."""
    from safetensors.numpy import load_file, save_file

    directory = tmp_path / "openai"
    directory.mkdir()
    for file in gpt2_dir.iterdir():
        if file.name != "model.safetensors":
            (directory / file.name).write_bytes(file.read_bytes())
    tensors = {k.removeprefix("transformer."): v
               for k, v in load_file(gpt2_dir / "model.safetensors").items()}  # fmt: skip
    for i in range(2):
        tensors[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, WINDOW, WINDOW), np.float32))
    save_file(tensors, directory / "model.safetensors")
    loaded = arlm_tui.load_model(f"hf:{directory}")
    context = model.tokenizer.encode("the cat sat")
    np.testing.assert_array_equal(loaded.next_logprobs(context), model.next_logprobs(context))

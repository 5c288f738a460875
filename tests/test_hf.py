"""The optional ``hf:PATH`` backend, on tiny randomly initialised GPT-2 models saved to a temp dir.

Two models: one whose tokenizer has ``<unk>``, ``<s>``, ``</s>`` at the *end* of its vocabulary
and whose embedding has 4 padding rows (so the adapter must use the Hugging Face ids, not arlm's
0, 1, 2), and a GPT-2-style one with a single ``<|endoftext|>`` token (no start token: the end
token starts a text). ``transformers`` is in the ``test`` extra, so nothing here is skipped.

Both use the exact (erf) GELU, which arlm's own transformer does not compute, so they load
through ``transformers``; GPT-2 checkpoints that arlm runs itself: tests/test_gpt2.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

import arlm_tui
from arlm_tui.api import score_ids_from
from arlm_tui.cli import main
from arlm_tui.decoding import beam_search
from arlm_tui.errors import ArlmError, ModelLoadError
from arlm_tui.lm.hf import HFModel

TEXTS = ["the cat sat on the mat.", "a dog ran to the park!", "the bird sang a song, then flew."]
WINDOW = 24  # n_positions of the tiny models: long enough for most tests, short enough to outgrow
PADDING_ROWS = 4


def _byte_bpe(vocab_size: int = 300) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TEXTS * 4, trainer=trainer)
    return tok


def _save_tiny_gpt2(directory: Path, fast: PreTrainedTokenizerFast, extra_rows: int) -> Path:
    fast.save_pretrained(directory)
    config = GPT2Config(
        vocab_size=len(fast) + extra_rows,
        n_positions=WINDOW,
        n_embd=32,
        n_layer=2,
        n_head=2,
        initializer_range=0.3,  # peaked distributions: argmax ties are out of the question
        activation_function="gelu",  # not GPT-2's tanh form: transformers runs these
        bos_token_id=fast.bos_token_id if fast.bos_token_id is not None else fast.eos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory) -> Path:
    tok = _byte_bpe()
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])  # ids after the byte alphabet and merges
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    return _save_tiny_gpt2(tmp_path_factory.mktemp("tiny_hf"), fast, PADDING_ROWS)


@pytest.fixture(scope="module")
def gpt2_style_dir(tmp_path_factory) -> Path:
    tok = _byte_bpe()
    tok.add_special_tokens(["<|endoftext|>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    return _save_tiny_gpt2(tmp_path_factory.mktemp("tiny_gpt2_style"), fast, 0)


@pytest.fixture(scope="module")
def model(hf_dir) -> HFModel:
    return arlm_tui.load_model("hf:" + str(hf_dir))


def _finite_close(a: np.ndarray, b: np.ndarray, atol: float = 1e-5) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.array_equal(np.isfinite(a), np.isfinite(b))
    assert np.allclose(a[np.isfinite(a)], b[np.isfinite(b)], atol=atol)


def _hf_logprobs(model: HFModel, row: list[int]) -> np.ndarray:
    """The net's own next-token distribution after ``row`` (start token included), with the ids
    arlm never predicts removed and the rest renormalised."""
    with torch.inference_mode():
        logits = model.net(torch.tensor([row])).logits[0, -1]
    logits = logits.double().clone()  # a normal tensor: writable outside inference mode
    logits[model.tokenizer.known :] = -torch.inf
    if model.bos_id != model.eos_id:
        logits[model.bos_id] = -torch.inf
    return torch.log_softmax(logits, -1).numpy()


# ---------------------------------------------------------------------------------- loading
def test_load_uses_the_hugging_face_ids_of_special_tokens(model, hf_dir):
    hf = model.tokenizer._hf
    assert model.backend == "hf" and model.name == f"hf:{hf_dir}"
    assert (model.unk_id, model.bos_id, model.eos_id) == (
        hf.unk_token_id, hf.bos_token_id, hf.eos_token_id
    )
    assert min(model.unk_id, model.bos_id, model.eos_id) > 2  # not arlm's own 0, 1, 2
    assert [model.vocab[i] for i in (model.unk_id, model.bos_id, model.eos_id)] == [
        "<unk>", "<s>", "</s>"
    ]
    # one vocabulary entry per row of the net's output, padding rows included
    assert model.vocab_size == model.net.config.vocab_size == len(hf) + PADDING_ROWS
    assert model.describe()["layers"] == 2 and model.describe()["context"] == WINDOW


def test_tokenizer_adapter_round_trips_text(model):
    tok = model.tokenizer
    text = "the cat sat on the mat."
    ids = tok.encode(text)
    assert ids == tok._hf.encode(text, add_special_tokens=False)  # no special tokens added
    assert tok.decode(ids) == text
    assert tok.decode([model.bos_id, *ids, model.eos_id]) == text  # start/end are not text
    assert all(tok.token_to_id[tok.vocab[i]] == i for i in ids)
    assert "".join(tok.token_text(i) for i in ids) == text
    assert tok.token_text(model.eos_id) == "</s>"
    assert tok.token_text(tok.token_to_id["Ġ"]) == " "  # byte-level symbols read as text
    with pytest.raises(ValueError, match="token_id"):
        tok.token_text(model.vocab_size)


# ---------------------------------------------------------------------------------- next_logprobs
def test_next_logprobs_reads_start_token_then_context(model):
    context = model.tokenizer.encode("the dog sang")
    logprobs = model.next_logprobs(context)
    assert logprobs.dtype == np.float64 and logprobs.shape == (model.vocab_size,)
    assert abs(np.logaddexp.reduce(logprobs)) < 1e-12
    assert logprobs[model.bos_id] == -np.inf  # <s> only starts a text
    assert np.all(logprobs[-PADDING_ROWS:] == -np.inf)  # padding rows are no token
    assert np.isfinite(logprobs[model.eos_id])
    _finite_close(logprobs, _hf_logprobs(model, [model.bos_id, *context]), atol=1e-9)
    _finite_close(model.next_logprobs([]), _hf_logprobs(model, [model.bos_id]), atol=1e-9)


def test_start_extend_equal_full_forward_and_keep_the_input_state(model):
    enc = model.tokenizer.encode
    contexts = [enc("the cat sat on"), enc("a"), []]  # different lengths: left padding
    logprobs, state = model.start(contexts)
    for row, context in zip(logprobs, contexts):
        _finite_close(row, model.next_logprobs(context))
    histories = [list(contexts[0]), list(contexts[1]), []]
    for _ in range(4):
        tokens = [int(np.argmax(row)) for row in logprobs]
        before = [layer.keys.clone() for layer in state.cache.layers]
        logprobs, new = model.extend(state, tokens)
        # the state passed in is unchanged: callers keep it for undo
        assert all(torch.equal(k, layer.keys) for k, layer in zip(before, state.cache.layers))
        again, _ = model.extend(state, tokens)
        assert np.array_equal(again, logprobs)
        histories = [h + [t] for h, t in zip(histories, tokens)]
        for row, history in zip(logprobs, histories):
            _finite_close(row, model.next_logprobs(history))
        state = new
    assert state.histories == histories


def test_select_reorders_duplicates_and_drops_sequences(model):
    enc = model.tokenizer.encode
    contexts = [enc("the cat"), enc("a dog ran"), enc("the bird")]
    _, state = model.start(contexts)
    picked = model.select(state, [2, 0, 0])
    assert len(picked) == 3 and len(state) == 3
    tokens = [enc(" sat")[0], enc(" on")[0], enc(" the")[0]]
    logprobs, _ = model.extend(picked, tokens)
    for row, source, token in zip(logprobs, [2, 0, 0], tokens):
        _finite_close(row, model.next_logprobs(contexts[source] + [token]))
    # the original state still holds the three contexts in their order
    logprobs, _ = model.extend(state, tokens)
    for row, context, token in zip(logprobs, contexts, tokens):
        _finite_close(row, model.next_logprobs(context + [token]))
    with pytest.raises(ValueError, match="indices"):
        model.select(state, [3])


def test_a_context_longer_than_the_window_reads_its_last_tokens(model):
    long = model.tokenizer.encode(" ".join(TEXTS * 2))
    assert len(long) > WINDOW
    _finite_close(model.next_logprobs(long), model.next_logprobs(long[-(WINDOW - 1) :]), 0)
    logprobs, state = model.start([long[: WINDOW - 2]])
    for token in long[WINDOW - 2 : WINDOW + 3]:  # crosses the window: the cache is rebuilt
        logprobs, state = model.extend(state, [token])
        _finite_close(logprobs[0], model.next_logprobs(state.histories[0]))


def test_sequence_logprobs_equal_the_chain_rule_step_by_step(model):
    short = model.tokenizer.encode("the bird sang a song") + [model.eos_id]
    long = model.tokenizer.encode(" ".join(TEXTS * 2))
    for ids in (short, long):
        fast = model.sequence_logprobs(ids)
        assert np.allclose(fast, score_ids_from(model, [], ids), atol=1e-5)
    result = arlm_tui.score(model, "the cat sat")
    assert result["normalized"] and result["perplexity"] > 1
    assert result["tokens"][-1] == "</s>"


# ---------------------------------------------------------------------------------- decoding
def test_greedy_generate_equals_hugging_face_greedy(model):
    prompt = "the cat"
    result = arlm_tui.generate(model, prompt, strategy="greedy", max_tokens=12)
    prompt_ids = model.tokenizer.encode(prompt)
    never = [model.bos_id, *range(model.tokenizer.known, model.vocab_size)]
    with torch.inference_mode():
        out = model.net.generate(
            torch.tensor([[model.bos_id, *prompt_ids]]),
            attention_mask=torch.ones((1, len(prompt_ids) + 1), dtype=torch.long),
            do_sample=False,
            max_new_tokens=12,
            suppress_tokens=never,
            eos_token_id=model.eos_id,
            pad_token_id=model.eos_id,
        )
    expected = out[0, len(prompt_ids) + 1 :].tolist()
    assert result["token_ids"] == expected
    assert result["num_tokens"] == len(expected) > 0
    assert result["text"] == model.tokenizer.decode(prompt_ids + expected)
    assert np.isclose(result["logprob"], sum(score_ids_from(model, prompt_ids, expected)))


def test_beam_search_scores_match_rescoring(model):
    prompt_ids = model.tokenizer.encode("the dog")
    results = beam_search(model, prompt_ids, width=3, max_tokens=6, length_penalty=1.0)
    assert len(results) == 3
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    for ids, score in results:
        assert 0 < len(ids) <= 6 and model.bos_id not in ids
        # the beams' cached states were reordered correctly iff rescoring from scratch agrees
        logprob = float(np.sum(score_ids_from(model, prompt_ids, ids)))
        assert np.isclose(score, logprob / len(ids), atol=1e-5)
    assert arlm_tui.generate(model, "the dog", strategy="beam", beam_width=3, max_tokens=6)[
        "token_ids"
    ] == results[0][0]


def test_gpt2_style_tokenizer_starts_from_its_end_token(gpt2_style_dir):
    model = arlm_tui.load_model(f"hf:{gpt2_style_dir}")
    hf = model.tokenizer._hf
    assert hf.bos_token_id is None and hf.unk_token_id is None
    assert model.bos_id == model.eos_id == model.unk_id == hf.eos_token_id
    logprobs = model.next_logprobs(model.tokenizer.encode("the"))
    assert np.all(np.isfinite(logprobs))  # the end token may be predicted although it starts
    _finite_close(logprobs, _hf_logprobs(model, [model.eos_id, *model.tokenizer.encode("the")]))
    result = arlm_tui.generate(model, "the", max_tokens=5)
    assert result["num_tokens"] > 0
    # the learner may force the end of the text even though the same token also starts it
    from arlm_tui.decoding import Session

    session = Session(model, "the")
    trace = session.force(model.eos_id)
    assert trace.chosen_id == model.eos_id and session.done


# ---------------------------------------------------------------------------------- CLI, errors
def test_cli_generate_json(hf_dir, model, capsys):
    code = main(["generate", "--model", f"hf:{hf_dir}", "--prompt", "the cat",
                 "--max-tokens", "5", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)
    assert result["model"] == f"hf:{hf_dir}"
    assert result["token_ids"] == arlm_tui.generate(model, "the cat", max_tokens=5)["token_ids"]
    assert "Loading" not in captured.err  # no progress bars over the terminal


def test_cli_missing_directory_is_one_line_exit_2(tmp_path, capsys):
    missing = tmp_path / "no_such_model"
    code = main(["generate", "--model", f"hf:{missing}", "--json"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(missing) in err and "Traceback" not in err


def test_directories_that_cannot_be_loaded_name_the_path(tmp_path, hf_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="config.json") as info:
        arlm_tui.load_model(f"hf:{empty}")
    assert str(empty) in str(info.value)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((hf_dir / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(ModelLoadError, match="safetensors") as info:
        arlm_tui.load_model(f"hf:{pickled}")
    assert str(pickled) in str(info.value)
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in hf_dir.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    (broken / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(ModelLoadError, match="cannot load the model") as info:
        arlm_tui.load_model(f"hf:{broken}")
    assert str(broken) in str(info.value) and "\n" not in str(info.value)


def test_missing_transformers_says_how_to_install_it(hf_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(ArlmError, match="pip install transformers") as info:
        arlm_tui.load_model(f"hf:{hf_dir}")
    assert "\n" not in str(info.value)


def test_importing_the_package_or_the_hf_module_loads_neither_torch_nor_transformers():
    code = (
        "import sys, arlm_tui, arlm_tui.lm.registry, arlm_tui.lm.hf; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

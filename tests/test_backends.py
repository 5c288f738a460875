"""The table of backends (``arlm_tui.lm.backends``) is the one place a backend is registered:
every row loads (or round-trips) a model, the play screen's thread decision, the neural configs,
nets, training defaults and ``arlm train`` commands all come from it, and a row added here (by a
test) becomes loadable, trainable and a command without touching any other module."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import arlm_tui
from arlm_tui.errors import ModelLoadError
from arlm_tui.lm import backends
from arlm_tui.lm.backends import BACKENDS, Backend, Training
from arlm_tui.lm.base import LanguageModel
from arlm_tui.lm.registry import load_model
from arlm_tui.lm.table import TableModel, greedy_trap_model
from arlm_tui.text.tokenizers import WordTokenizer

PACKAGE = Path(arlm_tui.__file__).resolve().parent
TOKENIZER = WordTokenizer.from_vocab(["the", "cat", "sat", "on", "a", "mat", "."])
CONTEXT = TOKENIZER.encode("the cat sat on the mat . the cat")


# ------------------------------------------------------------------ each row loads its models
def _neural(kind: str, tmp_path: Path) -> tuple[str, LanguageModel]:
    """A tiny random net of ``kind`` saved as a model directory: (its path, the model)."""
    import torch

    from arlm_tui.lm.neural.backend import NeuralLanguageModel
    from arlm_tui.lm.neural.config import make_config
    from arlm_tui.lm.neural.io import save_neural

    torch.manual_seed(0)
    config = make_config(kind, len(TOKENIZER.vocab), layers=1, d_model=8, heads=2, context=4)
    model = NeuralLanguageModel(BACKENDS[kind].build_net(config), TOKENIZER, backend=kind)
    save_neural(model, tmp_path / f"tiny-{kind}")
    return str(tmp_path / f"tiny-{kind}"), model


def _arpa(tmp_path: Path) -> tuple[str, LanguageModel]:
    from arlm_tui.lm.arpa import write_arpa

    kn3 = load_model("oracle-kn3")
    write_arpa(kn3, tmp_path / "kn3.arpa")
    return str(tmp_path / "kn3.arpa"), kn3


def _gpt2(tmp_path: Path) -> tuple[str, None]:
    from test_gpt2 import _save  # a tiny random GPT-2, saved by transformers

    return f"hf:{_save(tmp_path / 'gpt2')}", None


def _hf(tmp_path: Path) -> tuple[str, None]:
    from test_hf import _byte_bpe, _save_tiny_gpt2  # exact-GELU GPT-2: only transformers runs it
    from transformers import PreTrainedTokenizerFast

    tok = _byte_bpe()
    tok.add_special_tokens(["<|endoftext|>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    return f"hf:{_save_tiny_gpt2(tmp_path / 'hf', fast, 0)}", None


#: How to get a model of each loadable row: a shipped model's name, or a maker that writes one
#: (and returns the model it wrote, to compare with, when there is one).
MAKERS = {
    "ngram": lambda tmp_path: ("oracle-kn3", None),
    "oracle": lambda tmp_path: ("oracle", None),
    "arpa": _arpa,
    "gpt2": _gpt2,
    "hf": _hf,
    **{kind: (lambda tmp_path, kind=kind: _neural(kind, tmp_path))
       for kind in ("rnn", "gru", "lstm", "ffn", "transformer")},
}
#: The backend attribute a loaded model reports, where it is not the row's name.
REPORTS = {"gpt2": "transformer"}


def test_every_loadable_row_has_a_round_trip_here():
    """A new row with a loader needs a model to load in MAKERS (and so a test)."""
    loadable = {name for name, row in BACKENDS.items() if row.load is not None}
    assert loadable == set(MAKERS)
    assert {name for name, row in BACKENDS.items() if row.load is None} == {"table"}


@pytest.mark.parametrize("name", list(MAKERS))
def test_every_row_loads_its_models_through_the_registry(name, tmp_path):
    where, written = MAKERS[name](tmp_path)
    model = load_model(where)
    assert isinstance(model, LanguageModel)
    assert model.backend == REPORTS.get(name, name)
    text = model.tokenizer.encode("the cat sat")
    logprobs = model.next_logprobs(text)
    assert logprobs.shape == (model.vocab_size,)
    assert np.isclose(np.logaddexp.reduce(logprobs[np.isfinite(logprobs)]), 0.0, atol=1e-6)
    if written is not None:  # what was saved is what comes back
        np.testing.assert_allclose(model.next_logprobs(text), written.next_logprobs(text),
                                   atol=1e-9)
    if BACKENDS[name].neural:
        assert model.name == Path(where).name
        assert json.loads((Path(where) / "config.json").read_text())["backend"] == name


def test_shipped_models_name_a_row_that_reads_them():
    from arlm_tui.lm.registry import list_models

    bundled = [e for e in list_models() if e.origin == "bundled"]
    assert bundled
    for entry in bundled:
        assert backends.by_config(entry.backend) is not None, entry.name


# ------------------------------------------------------------------ the UI thread
def test_the_inline_decision_is_the_tables():
    for name, row in BACKENDS.items():
        assert backends.inline_step(name) == row.inline_step
    assert {n for n, r in BACKENDS.items() if r.inline_step} == {"ngram", "table", "oracle"}
    assert not backends.inline_step("no such backend")


async def test_the_play_screen_asks_the_table_whether_a_step_may_block(monkeypatch):
    from tui_helpers import make_play_app, start_play

    app = make_play_app()  # the bundled word trigram: an "ngram" row, inline
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        assert screen.session.model.backend == "ngram" and not screen.threaded
        monkeypatch.setitem(BACKENDS, "ngram",
                            dataclasses.replace(BACKENDS["ngram"], inline_step=False))
        assert screen.threaded


# ------------------------------------------------------------------ one place to register
def test_neural_backends_is_defined_once():
    from arlm_tui.lm import neural
    from arlm_tui.lm.neural import config

    assert neural.NEURAL_BACKENDS is config.NEURAL_BACKENDS is backends.NEURAL_BACKENDS
    assert backends.NEURAL_BACKENDS == ("rnn", "gru", "lstm", "ffn", "transformer")
    assert backends.RECURRENT_CELLS == ("rnn", "gru", "lstm")
    defined = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if re.search(r"^(NEURAL_BACKENDS|INLINE_BACKENDS)\b.*=", p.read_text(), re.M)]
    assert defined == ["lm/backends.py"]


def test_a_fake_row_becomes_loadable_without_touching_other_modules(tmp_path, monkeypatch):
    directory = tmp_path / "trap"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"backend": "trap"}))
    with pytest.raises(ModelLoadError, match='unknown backend "trap"'):
        load_model(directory)

    def load_trap(path):
        return greedy_trap_model()

    monkeypatch.setitem(BACKENDS, "trap", Backend("trap", "a hand-written table",
                                                  load=load_trap, inline_step=True))
    model = load_model(directory)
    assert isinstance(model, TableModel) and model.name == "trap"
    assert backends.inline_step("trap")


def test_a_row_found_by_suffix_reads_files_and_is_named_in_the_error(tmp_path, monkeypatch):
    text = tmp_path / "story.txt"
    text.write_text("once upon a time")
    with pytest.raises(ModelLoadError, match="not a model directory or an .arpa file"):
        load_model(text)
    monkeypatch.setitem(BACKENDS, "txt", Backend("txt", "a text file", suffix=".txt",
                                                 load=lambda path: greedy_trap_model()))
    assert load_model(text).name == "story"


def test_a_fake_neural_row_trains_loads_and_is_a_train_command(tmp_path, monkeypatch):
    from arlm_tui.cli import train_neural as cli_neural
    from arlm_tui.lm.neural.config import FeedForwardConfig
    from arlm_tui.train.neural import train_neural

    @dataclasses.dataclass
    class WideFFNConfig(FeedForwardConfig):
        kind: ClassVar[str] = "wide-ffn"

    row = Backend(
        "wide-ffn", "a feed-forward net under another name",
        load="arlm_tui.lm.neural:load_neural", config=WideFFNConfig,
        net="arlm_tui.lm.neural.ffn:FeedForwardLM",
        training=Training(help="train the wide one", title="wide feed-forward", lr=3e-3,
                          batch_size=8, batches="window", context_help="window n−1"),
        options=(backends.Option("--width-note", "a flag only this kind has"),),
    )
    monkeypatch.setitem(BACKENDS, "wide-ffn", row)

    texts = ["the cat sat on the mat .", "a cat sat on a mat .", "the mat sat on the cat ."]
    out = tmp_path / "wide"
    result = train_neural("wide-ffn", texts, texts[:1], TOKENIZER, out, d_model=8, context=3,
                          steps=3, seed=1)
    assert result.backend == "wide-ffn" and result.steps == 3
    config = json.loads((out / "config.json").read_text())
    assert config["backend"] == "wide-ffn" and config["architecture"]["context"] == 3
    assert "wide feed-forward language model" in (out / "card.md").read_text()
    model = load_model(out)
    assert model.backend == "wide-ffn" and model.describe()["context"] == 3
    assert np.isfinite(model.next_logprobs(CONTEXT)[3])

    parser = argparse.ArgumentParser()
    cli_neural.register(parser.add_subparsers())
    args = parser.parse_args(["wide-ffn", "--corpus", "toy", "--width-note", "x"])
    assert args.kind == "wide-ffn" and args.width_note == "x"
    with pytest.raises(SystemExit):  # --heads is the transformer's row's option only
        parser.parse_args(["lstm", "--corpus", "toy", "--heads", "2"])
    assert parser.parse_args(["transformer", "--corpus", "toy", "--heads", "2", "--bf16"]).bf16


def test_training_defaults_come_from_the_rows():
    from arlm_tui.train.neural import DEFAULT_BATCH, DEFAULT_LR

    for row in backends.neural_backends():
        assert DEFAULT_LR[row.name] == row.training.lr
        assert DEFAULT_BATCH[row.name] == row.training.batch_size
    assert DEFAULT_BATCH["ffn"] == 512 and DEFAULT_LR["transformer"] == 2e-3
    with pytest.raises(ValueError, match="kind must be one of rnn, gru, lstm, ffn, transformer"):
        backends.neural("ngram")


def test_reading_the_table_imports_neither_torch_nor_numpy():
    code = (
        "import sys; from arlm_tui.lm import backends as b; "
        "rows = list(b.BACKENDS.values()); [b.inline_step(r.name) for r in rows]; "
        "b.neural_backends(); b.by_config('lstm'); "
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ the protocol's additions
def test_sequence_logprobs_defaults_to_the_chain_rule():
    model = greedy_trap_model()  # TableModel: no one-pass scorer of its own
    assert type(model).sequence_logprobs is LanguageModel.sequence_logprobs
    ids = model.tokenizer.encode("the dog") + [model.eos_id]
    expected = [model.next_logprobs(ids[:k])[ids[k]] for k in range(len(ids))]
    np.testing.assert_allclose(model.sequence_logprobs(ids), expected)
    assert model.sequence_logprobs([]).shape == (0,)


def test_a_one_pass_scorer_agrees_with_the_default():
    kn3 = load_model("oracle-kn3")
    assert type(kn3).sequence_logprobs is not LanguageModel.sequence_logprobs
    ids = kn3.tokenizer.encode("the king saw a dragon") + [kn3.eos_id]
    np.testing.assert_allclose(kn3.sequence_logprobs(ids),
                               LanguageModel.sequence_logprobs(kn3, ids), atol=1e-9)


def test_attention_is_none_except_for_the_transformer(tmp_path):
    assert greedy_trap_model().attention([3]) is None
    assert load_model("oracle-kn3").attention(CONTEXT) is None
    _, lstm = _neural("lstm", tmp_path)
    assert lstm.attention(CONTEXT) is None
    _, transformer = _neural("transformer", tmp_path)
    seen = transformer.attention(CONTEXT[:3])
    assert seen is not None
    assert seen.weights.shape == (1, 2, 4)  # (layers, heads, keys): <s> and three tokens
    np.testing.assert_allclose(seen.weights.sum(axis=-1), 1.0, atol=1e-6)
    assert seen.key_ids == [transformer.bos_id, *CONTEXT[:3]]

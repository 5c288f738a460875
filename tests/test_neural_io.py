"""Neural model directories: save → load round trip, and every broken directory refused with
one line naming the file at fault."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from arlm_tui.errors import ModelLoadError
from arlm_tui.lm.neural import load_neural
from arlm_tui.lm.neural.backend import NeuralLanguageModel
from arlm_tui.lm.neural.config import make_config
from arlm_tui.lm.neural.io import build_net, save_neural
from arlm_tui.text.tokenizers import CharTokenizer, WordTokenizer

KINDS = ("rnn", "gru", "lstm", "ffn", "transformer")
TOKENIZER = WordTokenizer.from_vocab(["the", "cat", "sat", "on", "a", "mat", "."])
V = len(TOKENIZER.vocab)


def saved_model(tmp_path, kind="lstm", **options):
    torch.manual_seed(1)
    config = make_config(
        kind, V, **({"layers": 2, "d_model": 8, "heads": 2, "context": 5} | options)
    )
    model = NeuralLanguageModel(
        build_net(kind, config),
        TOKENIZER,
        backend=kind,
        summary={"corpus": "unit test", "heldout_perplexity": 7.5},
    )
    directory = tmp_path / f"tiny-{kind}"
    save_neural(model, directory, training={"seed": 1})
    return model, directory


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_gives_identical_logprobs(tmp_path, kind):
    model, directory = saved_model(tmp_path, kind)
    loaded = load_neural(directory)
    assert loaded.backend == kind and loaded.name == directory.name
    context = TOKENIZER.encode("the cat sat on the mat . the cat")
    np.testing.assert_array_equal(loaded.next_logprobs(context), model.next_logprobs(context))
    np.testing.assert_array_equal(loaded.score_ids(context), model.score_ids(context))
    facts = loaded.describe()
    assert facts["corpus"] == "unit test" and facts["heldout_perplexity"] == 7.5
    assert facts["parameters"] == model.parameters
    config = json.loads((directory / "config.json").read_text())
    assert config["backend"] == kind and config["format"] == 1 and config["vocab_size"] == V
    assert config["training"] == {"seed": 1}
    assert "unit test" in (directory / "card.md").read_text()


def test_the_registry_loads_neural_directories(tmp_path):
    from arlm_tui.lm.registry import load_model

    _, directory = saved_model(tmp_path, "transformer")
    model = load_model(str(directory))
    assert model.backend == "transformer" and model.vocab_size == V


def test_loading_leaves_the_global_seed_alone(tmp_path):
    _, directory = saved_model(tmp_path)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    load_neural(directory)
    torch.testing.assert_close(torch.rand(3), expected)


def _message(directory) -> str:
    with pytest.raises(ModelLoadError) as info:
        load_neural(directory)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_files(tmp_path):
    _, directory = saved_model(tmp_path)
    (directory / "model.safetensors").unlink()
    assert "model.safetensors" in _message(directory)
    _, directory = saved_model(tmp_path)
    (directory / "tokenizer.json").unlink()
    assert "tokenizer.json" in _message(directory)
    _, directory = saved_model(tmp_path)
    (directory / "config.json").unlink()
    assert "config.json" in _message(directory)
    assert "not a directory" in _message(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"backend": "ngram", "format": 1}', "not a neural backend"),
        ('{"backend": "lstm", "format": 9, "architecture": {}}', "format 9"),
    ],
)
def test_bad_config_json(tmp_path, text, words):
    _, directory = saved_model(tmp_path)
    (directory / "config.json").write_text(text)
    message = _message(directory)
    assert "config.json" in message and words in message


def test_bad_architecture_values(tmp_path):
    _, directory = saved_model(tmp_path)
    config = json.loads((directory / "config.json").read_text())
    config["architecture"]["layers"] = -1
    (directory / "config.json").write_text(json.dumps(config))
    assert "layers must be" in _message(directory)
    config["architecture"]["layers"] = 2
    config["architecture"]["colour"] = "blue"
    (directory / "config.json").write_text(json.dumps(config))
    assert "colour" in _message(directory)


def test_truncated_and_garbage_weights(tmp_path):
    _, directory = saved_model(tmp_path)
    weights = directory / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    message = _message(directory)
    assert "model.safetensors" in message and "cannot read" in message
    weights.write_bytes(b"\x00" * 3)
    assert "model.safetensors" in _message(directory)


def test_weights_that_do_not_match_the_config(tmp_path):
    _, directory = saved_model(tmp_path, "transformer")
    config = json.loads((directory / "config.json").read_text())
    config["architecture"]["d_model"] = 12
    (directory / "config.json").write_text(json.dumps(config))
    message = _message(directory)
    assert "model.safetensors" in message and "shape" in message
    config["architecture"]["d_model"] = 8
    config["architecture"]["layers"] = 3
    (directory / "config.json").write_text(json.dumps(config))
    message = _message(directory)
    assert "model.safetensors" in message and "missing" in message


def test_tokenizer_that_does_not_match_the_vocabulary(tmp_path):
    _, directory = saved_model(tmp_path)
    CharTokenizer.from_vocab("xyz").save(directory / "tokenizer.json")
    message = _message(directory)
    assert "tokenizer.json" in message and "vocab_size" in message
    (directory / "tokenizer.json").write_text("{oops")
    assert "tokenizer.json" in _message(directory)


def test_weights_with_nan_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    _, directory = saved_model(tmp_path)
    tensors = load_file(str(directory / "model.safetensors"))
    tensors["b_y"][0] = float("nan")
    save_file(tensors, str(directory / "model.safetensors"))
    assert "NaN" in _message(directory)

"""Every input is bounded before it is read (issue #12 §3): only regular files, sizes checked
first, a neural config's parameter count checked before a net is built, JSON depth limited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arlm_tui import inputs
from arlm_tui.errors import ArlmError, CorpusError, ModelLoadError

ROOT = Path(__file__).resolve().parents[1]
DEEP = "[" * 200_000 + "]" * 200_000  # json.loads alone: RecursionError


def _zero_link(folder: Path, name: str) -> Path:
    link = folder / name
    link.symlink_to("/dev/zero")
    return link


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def _arlm(*argv: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    """Run ``arlm`` in a child with a time limit: a read that never ends fails the test."""
    env = dict(os.environ, ARLM_HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "arlm_tui", *argv], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=env)


@pytest.mark.parametrize("make", [_zero_link, _fifo], ids=["link to /dev/zero", "FIFO"])
def test_a_corpus_that_is_not_a_regular_file_is_refused_with_one_line(tmp_path, make):
    corpus = make(tmp_path, "corpus.txt")
    done = _arlm("train", "ngram", "--corpus", str(corpus), "--out", str(tmp_path / "m"),
                 cwd=tmp_path, home=tmp_path / "home")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "corpus.txt" in lines[0] and "not a regular file" in lines[0]
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("make", [_zero_link, _fifo], ids=["link to /dev/zero", "FIFO"])
def test_read_text_refuses_what_is_not_a_regular_file(tmp_path, make):
    path = make(tmp_path, "x.json")
    with pytest.raises(ArlmError, match="not a regular file") as info:
        inputs.read_text(path, limit=1000)
    assert "\n" not in str(info.value) and "x.json" in str(info.value)


def test_a_file_over_its_limit_is_refused_from_its_length(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:  # sparse: 300 MiB long, nothing written
        handle.truncate(300 * 1024 * 1024)
    with pytest.raises(CorpusError, match="too large"):
        from arlm_tui.text.corpora import read_text_file

        read_text_file(big)
    with pytest.raises(ArlmError, match="too large.*limit is 1.0 KiB"):
        inputs.read_bytes(big, limit=1024)


def test_tokenizer_cards_config_and_session_links_to_dev_zero(tmp_path):
    from arlm_tui.learn.cards import load_own_cards
    from arlm_tui.lm.registry import read_config
    from arlm_tui.text.tokenizers import load_tokenizer

    with pytest.raises(ModelLoadError, match="not a regular file"):
        load_tokenizer(_zero_link(tmp_path, "tokenizer.json"))
    own = load_own_cards(_zero_link(tmp_path, "my_cards.txt"))
    assert own.errors and "not a regular file" in str(own.errors[0])
    model = tmp_path / "model"
    model.mkdir()
    _zero_link(model, "config.json")
    with pytest.raises(ModelLoadError, match="not a regular file"):
        read_config(model)
    with pytest.raises(ArlmError, match="not a regular file"):
        inputs.read_text(_zero_link(tmp_path, "s.json"), limit=inputs.LIMITS["session"])


def test_json_nested_too_deeply_is_one_line(tmp_path):
    from arlm_tui.decoding.session import Session
    from arlm_tui.lm.neural.io import read_neural_config
    from arlm_tui.lm.registry import read_config
    from arlm_tui.text.tokenizers import load_tokenizer

    with pytest.raises(RecursionError):
        json.loads(DEEP)  # what would happen without the bound
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(DEEP)
    (model / "tokenizer.json").write_text(DEEP)
    for load in (read_config, read_neural_config, load_tokenizer):
        with pytest.raises(ModelLoadError, match="nested more than 64 levels") as info:
            load(model)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="more than 64 levels"):
        Session.from_json(DEEP, model_loader=lambda name: None)


def test_depth_scan_ignores_brackets_in_strings():
    text = json.dumps({"s": "[" * 500, "a": [[1], {"b": "}}}"}]})
    assert inputs.json_depth_problem(text) is None
    assert inputs.parse_json(text, source="x")["s"] == "[" * 500
    assert inputs.json_depth_problem("[" * 65 + "]" * 65) == 1
    assert inputs.json_depth_problem("[" * 64 + "]" * 64) is None


@pytest.mark.parametrize(
    ("backend", "architecture"),
    [
        ("transformer", {"vocab_size": 50, "context": 64, "layers": 4, "heads": 4,
                         "d_model": 12000}),
        ("lstm", {"cell": "lstm", "vocab_size": 50, "d_model": 10**9}),
        ("ffn", {"vocab_size": 10**9, "context": 4, "d_model": 64, "d_hidden": 256}),
    ],
)
def test_a_config_whose_net_would_not_fit_is_refused_before_building(tmp_path, backend,
                                                                     architecture):
    model = tmp_path / "huge"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(
        {"backend": backend, "format": 1, "architecture": architecture,
         "vocab_size": architecture["vocab_size"]}))
    # a child process, so that an allocation attempt would show in its peak memory
    code = ("import resource, sys\nfrom arlm_tui.lm.registry import load_model\n"
            "from arlm_tui.errors import ArlmError\n"
            f"try:\n    load_model({str(model)!r})\nexcept ArlmError as e:\n    print(e)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    message, peak_kib = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stderr
    assert "config.json" in message and f"this {backend}" in message
    assert "parameters" in message and "the limit is 250,000,000" in message
    assert int(peak_kib) < 1_000_000  # nothing near the net's size was allocated


def test_the_parameter_estimate_is_the_nets_own_count():
    pytest.importorskip("torch")
    from arlm_tui.lm.neural.backend import parameter_count
    from arlm_tui.lm.neural.config import (
        FeedForwardConfig,
        RecurrentConfig,
        TransformerConfig,
        parameter_estimate,
    )
    from arlm_tui.lm.neural.io import build_net

    configs = [
        ("rnn", RecurrentConfig(cell="rnn", vocab_size=11, d_model=6, layers=2)),
        ("gru", RecurrentConfig(cell="gru", vocab_size=11, d_model=6, layers=1)),
        ("lstm", RecurrentConfig(cell="lstm", vocab_size=11, d_model=6, layers=3,
                                 tie_weights=False)),
        ("ffn", FeedForwardConfig(vocab_size=11, context=3, d_model=5, d_hidden=7, layers=2)),
        ("transformer", TransformerConfig(vocab_size=11, context=9, layers=2, heads=2,
                                          d_model=8)),
    ]
    for backend, config in configs:
        assert parameter_estimate(config) == parameter_count(build_net(backend, config)), backend


def test_training_a_net_that_would_not_fit_is_one_line(tmp_path):
    done = _arlm("train", "transformer", "--corpus", "toy", "--d-model", "12000",
                 "--out", str(tmp_path / "m"), cwd=tmp_path, home=tmp_path / "home")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "6,9" in lines[0] and "parameters" in lines[0] and "limit" in lines[0]

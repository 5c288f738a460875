"""Training the neural backends: the loss goes down, validation perplexity is the scored one,
runs are deterministic and resumable, early stopping, errors, the progress bar and the CLI."""

from __future__ import annotations

import argparse
import io
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from arlm_tui.errors import ArlmError, ModelLoadError
from arlm_tui.lm.neural import load_neural
from arlm_tui.text.tokenizers import WordTokenizer
from arlm_tui.train import neural as training
from arlm_tui.train.neural import TrainingBar, TrainProgress, train_neural

KINDS = ("rnn", "gru", "lstm", "ffn", "transformer")
TINY = {"layers": 1, "d_model": 16, "heads": 2, "context": 6, "batch_size": 8}


def corpus(n: int, seed: int = 0) -> list[str]:
    """Sentences with structure a small net can pick up: 'the A N V the A N .'"""
    rng = np.random.default_rng(seed)
    adjectives, nouns, verbs = ["big", "red", "old"], ["cat", "dog", "bird"], ["sees", "likes"]
    texts = []
    for _ in range(n):
        words = [
            "the",
            rng.choice(adjectives),
            rng.choice(nouns),
            rng.choice(verbs),
            "the",
            rng.choice(adjectives),
            rng.choice(nouns),
        ]
        if rng.random() < 0.3:  # a few long texts: windows restart, RNN rows run several chunks
            words += ["and", "the", rng.choice(nouns), rng.choice(verbs), "the", rng.choice(nouns)]
        texts.append(" ".join(words) + " .")
    return texts


TRAIN, VALID = corpus(60), corpus(12, seed=1)
TOKENIZER = WordTokenizer.train(TRAIN + VALID)


def weights(directory) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_training_lowers_the_loss_and_reports_the_scored_perplexity(tmp_path, kind):
    steps: list[int] = []
    result = train_neural(
        kind,
        TRAIN,
        VALID,
        TOKENIZER,
        tmp_path / kind,
        epochs=3,
        lr=1e-2,
        progress=lambda e: steps.append(e.step) if e.phase == "step" else None,
        **TINY,
    )
    assert steps == list(range(1, result.steps + 1)) and result.epochs_completed == 3
    first, *_, last = result.loss_history
    assert last < first - 0.3  # mean NLL per token over an epoch, in nats
    assert result.val_history[-1] < result.val_history[0]
    assert result.val_perplexity < len(TOKENIZER.vocab) / 2
    model = load_neural(tmp_path / kind)
    # the held-out perplexity training reports is the one the loaded model gives the texts
    logprobs = [model.score_ids(TOKENIZER.encode(t) + [model.eos_id]) for t in VALID]
    n = sum(len(lp) for lp in logprobs)
    ppl = math.exp(-sum(lp.sum() for lp in logprobs) / n)
    assert ppl == pytest.approx(result.val_perplexity, rel=1e-5)
    files = sorted(p.name for p in (tmp_path / kind).iterdir())
    assert files == ["card.md", "config.json", "model.safetensors", "tokenizer.json"]
    config = json.loads((tmp_path / kind / "config.json").read_text())
    assert config["summary"]["heldout_perplexity"] == pytest.approx(result.val_perplexity)
    assert config["summary"]["parameters"] == result.parameters
    card = (tmp_path / kind / "card.md").read_text()
    assert "held-out perplexity" in card and f"{result.parameters:,}" in card


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_the_same_seed_gives_the_same_model(tmp_path, kind):
    options = TINY | {"steps": 12, "dropout": 0.2}
    train_neural(kind, TRAIN, VALID, TOKENIZER, tmp_path / "a", seed=3, **options)
    train_neural(kind, TRAIN, VALID, TOKENIZER, tmp_path / "b", seed=3, **options)
    train_neural(kind, TRAIN, VALID, TOKENIZER, tmp_path / "c", seed=4, **options)
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    with pytest.raises(AssertionError):
        assert_same_weights(tmp_path / "a", tmp_path / "c")


class Stop(Exception):
    pass


@pytest.mark.parametrize("kind", ["gru", "transformer", "ffn"])
def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path, kind):
    options = TINY | {"epochs": 3, "dropout": 0.1, "seed": 2, "lr": 5e-3, "patience": 0}
    if kind == "ffn":
        options["batch_size"] = 64
    whole = train_neural(kind, TRAIN, VALID, TOKENIZER, tmp_path / "whole", **options)
    assert whole.steps > 12

    def interrupt(event: TrainProgress) -> None:
        if event.phase == "step" and event.step == whole.steps // 2 + 1:
            raise Stop

    with pytest.raises(Stop):
        train_neural(
            kind,
            TRAIN,
            VALID,
            TOKENIZER,
            tmp_path / "cut",
            checkpoint_every=2,
            progress=interrupt,
            **options,
        )
    assert (tmp_path / "cut" / "checkpoint.safetensors").is_file()
    resumed = train_neural(kind, TRAIN, VALID, TOKENIZER, tmp_path / "cut", **options)
    assert 0 < resumed.resumed_from_step <= whole.steps // 2 + 1
    assert resumed.steps == whole.steps
    assert resumed.val_history == whole.val_history
    assert_same_weights(tmp_path / "whole", tmp_path / "cut")
    assert not (tmp_path / "cut" / "checkpoint.safetensors").exists()


def test_a_checkpoint_of_other_settings_is_not_resumed_silently(tmp_path):
    def interrupt(event: TrainProgress) -> None:
        if event.phase == "step" and event.step == 5:
            raise Stop

    out = tmp_path / "m"
    with pytest.raises(Stop):
        train_neural(
            "lstm",
            TRAIN,
            VALID,
            TOKENIZER,
            out,
            steps=10,
            checkpoint_every=1,
            progress=interrupt,
            **TINY,
        )
    with pytest.raises(ArlmError, match="checkpoint.safetensors.*lr"):
        train_neural("lstm", TRAIN, VALID, TOKENIZER, out, steps=10, lr=0.5, **TINY)
    (out / "checkpoint.safetensors").write_bytes(b"{broken")
    with pytest.raises(ModelLoadError, match="checkpoint.safetensors"):
        train_neural("lstm", TRAIN, VALID, TOKENIZER, out, steps=10, **TINY)
    result = train_neural("lstm", TRAIN, VALID, TOKENIZER, out, steps=10, resume=False, **TINY)
    assert result.resumed_from_step == 0 and result.steps == 10


def test_early_stopping_keeps_the_best_epoch(tmp_path, monkeypatch):
    scores = iter([9.0, 5.0, 6.0, 7.0, 4.0, 3.0])
    monkeypatch.setattr(training, "evaluate", lambda net, kind, data: next(scores))
    result = train_neural(
        "ffn", TRAIN, VALID, TOKENIZER, tmp_path / "m", epochs=6, patience=2, **TINY
    )
    assert result.stopped_early and result.epochs_completed == 4
    assert result.val_history == [9.0, 5.0, 6.0, 7.0]
    assert result.val_perplexity == 5.0


def test_training_without_validation_texts_keeps_the_last_weights(tmp_path):
    result = train_neural("ffn", TRAIN, [], TOKENIZER, tmp_path / "m", epochs=1, **TINY)
    assert result.val_perplexity is None and result.val_history == []
    assert load_neural(tmp_path / "m").describe()["heldout_perplexity"] is None


def test_a_corpus_too_small_for_the_context_is_a_user_error(tmp_path):
    with pytest.raises(ArlmError, match="--context 64"):
        train_neural("transformer", ["the cat ."], [], TOKENIZER, tmp_path / "m", context=64)
    with pytest.raises(ArlmError, match="no tokens"):
        train_neural("lstm", [""], [], TOKENIZER, tmp_path / "m")
    # a recurrent net's context is only its BPTT length: a tiny corpus is fine
    train_neural("lstm", ["the cat ."], [], TOKENIZER, tmp_path / "m", context=64, steps=1)


def test_data_that_is_not_text_is_a_user_error(tmp_path):
    with pytest.raises(ArlmError, match="text 2 is not text"):
        train_neural("lstm", ["the cat .", b"\x00\x01"], [], TOKENIZER, tmp_path / "m")
    with pytest.raises(ArlmError, match="NUL byte"):
        train_neural("lstm", ["the cat .", "the\x00dog"], [], TOKENIZER, tmp_path / "m")


@pytest.mark.parametrize(
    "options, name",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"dropout": 1.0}, "dropout"),
        ({"patience": -1}, "patience"),
        ({"layers": 0}, "layers"),
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_them(tmp_path, options, name):
    with pytest.raises(ValueError, match=name):
        train_neural("lstm", TRAIN, VALID, TOKENIZER, tmp_path / "m", **options)


# ----------------------------------------------------------------------------- progress bar
class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events():
    common = {
        "total_steps": 4,
        "epochs": 2,
        "val_perplexity": None,
        "best_val_perplexity": None,
        "tokens_per_second": 100.0,
    }
    yield TrainProgress(phase="step", step=1, epoch=1, loss=3.0, **common)
    yield TrainProgress(phase="step", step=2, epoch=1, loss=2.9, **common)
    yield TrainProgress(
        phase="epoch", step=2, epoch=1, loss=2.95, **common | {"val_perplexity": 9.5}
    )
    yield TrainProgress(phase="step", step=4, epoch=2, loss=2.5, **common)
    yield TrainProgress(phase="done", step=4, epoch=2, loss=2.5, **common)


def test_progress_bar_is_one_line_per_epoch_when_not_a_terminal():
    stream = io.StringIO()
    bar = TrainingBar("training lstm", stream=stream)
    for event in _events():
        bar(event)
    lines = stream.getvalue().splitlines()
    assert lines == ["training lstm: epoch 1/2 · step 2 · train loss 2.950 · val ppl 9.50"]


def test_progress_bar_redraws_one_line_on_a_terminal():
    stream = FakeTTY()
    bar = TrainingBar("training lstm", stream=stream)
    for event in _events():
        bar(event)
    text = stream.getvalue()  # drawn by rich.progress: the bar is redrawn in place
    assert "\r\x1b[2Ktraining lstm " in text and "step 1/4" in text and "loss 3.000" in text
    assert "step 4/4" in text  # the last step is always drawn
    lines = [line.rsplit("\x1b[2K", 1)[-1] for line in text.split("\n")[:-1]]
    # the epoch line stays (printed above the bar), the bar is gone at the end
    assert "training lstm: epoch 1/2 · step 2 · train loss 2.950 · val ppl 9.50" in lines
    assert text.endswith("\x1b[2K")


# ----------------------------------------------------------------------------- command line
def test_register_adds_the_five_subcommands():
    from arlm_tui.cli import train_neural as cli_neural

    parser = argparse.ArgumentParser()
    cli_neural.register(parser.add_subparsers(dest="kind"))
    for kind in KINDS:
        args = parser.parse_args([kind, "--corpus", "toy", "--out", "x", "--d-model", "8"])
        assert args.kind == kind and args.d_model == 8 and args.func is cli_neural.run
    assert parser.parse_args(["transformer", "--corpus", "toy", "--heads", "2"]).heads == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["lstm", "--corpus", "toy", "--heads", "2"])


def test_cli_trains_and_saves_a_loadable_model(tmp_path, capsys):
    from arlm_tui.cli import main

    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(TRAIN), encoding="utf-8")
    out = tmp_path / "cli-model"
    status = main(
        [
            "train",
            "gru",
            "--corpus",
            str(text),
            "--unit",
            "line",
            "--out",
            str(out),
            "--d-model",
            "8",
            "--steps",
            "5",
            "--batch-size",
            "16",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"saved {out}" in captured.out and "held-out perplexity" in captured.out
    model = load_neural(out)
    assert model.backend == "gru" and model.net.config.d_model == 8


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--batch-size", "0"], "--batch-size must be"),
        (["--d-model", "10", "--heads", "3"], "--d-model must be a multiple of heads"),
        (["--context", "500"], "--context 500"),
        (["--valid-fraction", "1.5"], "--valid-fraction"),
    ],
)
def test_cli_reports_bad_flags_in_one_line(tmp_path, capsys, flags, words):
    from arlm_tui.cli import main

    status = main(["train", "transformer", "--corpus", "toy", "--out", str(tmp_path / "m"), *flags])
    err = capsys.readouterr().err
    assert status == 2 and words in err and err.count("\n") == 1


def test_oracle_corpus_models_use_the_oracle_tokenizer(tmp_path, capsys):
    from arlm_tui.cli import main
    from arlm_tui.lm.oracle import OracleModel

    out = tmp_path / "oracle-ffn"
    status = main(
        [
            "train",
            "ffn",
            "--corpus",
            "oracle:40",
            "--out",
            str(out),
            "--steps",
            "3",
            "--d-model",
            "8",
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert load_neural(out).vocab == OracleModel().vocab
    status = main(
        ["train", "ffn", "--corpus", "oracle:40", "--out", str(out), "--tokenizer", "char"]
    )
    assert status == 2 and "oracle's own word tokenizer" in capsys.readouterr().err


def test_bf16_flag_stores_bfloat16_weights_that_generate_like_the_reloaded_model(
    tmp_path, capsys
):
    from safetensors import safe_open

    from arlm_tui.cli import main
    from arlm_tui.lm.neural import fastpath

    out = tmp_path / "tiny-transformer"
    status = main(["train", "transformer", "--corpus", "oracle:60", "--out", str(out), "--steps",
                   "3", "--d-model", "16", "--heads", "2", "--layers", "1", "--context", "32",
                   "--bf16"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "weights rounded to bfloat16: held-out perplexity" in captured.out
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert all(f.get_tensor(k).dtype == torch.bfloat16 for k in f.keys())  # noqa: SIM118
    model = load_neural(out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["summary"]["weights"] == "bfloat16"
    assert "rounded to bfloat16" in (out / "card.md").read_text(encoding="utf-8")
    assert fastpath.step_weights(model.net, model.bos_id).bfloat16
    ids = model.tokenizer.encode("one day,")
    logprobs, state = model.start([ids])
    logprobs, _ = model.extend(state, [ids[0]])
    expected = model.next_logprobs([*ids, ids[0]])
    keep = np.isfinite(expected)
    np.testing.assert_allclose(logprobs[0][keep], expected[keep], atol=1e-5)


def test_neural_training_reads_a_file_one_sentence_per_line_unless_told(tmp_path, capsys):
    """The lecture's toy corpus typed on three lines is three sentences for every backend, and
    the output says which reading was used (issue #11 §3)."""
    from arlm_tui.cli import main

    text = tmp_path / "toy.txt"
    text.write_text("i love cats\ni love dogs\ncats chase mice\n", encoding="utf-8")
    args = ["train", "ffn", "--corpus", str(text), "--d-model", "8", "--steps", "2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert f"corpus {text}: one sentence per line" in out
    assert main([*args, "--out", str(tmp_path / "b"), "--sentences", "punctuation"]) == 0
    assert f"corpus {text}: sentences cut at . ! ? (as asked)" in capsys.readouterr().out

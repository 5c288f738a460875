"""The ``arlm`` command line: every command, its JSON, and one-line errors with status 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from arlm_tui.cli import main

BUNDLED = "pyref-word-kn3"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_usage_error(capsys, *argv):
    """A usage error may exit through argparse (SystemExit) or return 2: both are status 2."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture()
def toy_mle(tmp_path, capsys):
    out = tmp_path / "toy-mle"
    code, _, _ = run(
        capsys, "train", "ngram", "--corpus", "toy", "--order", "3", "--smoothing", "mle",
        "--valid-fraction", "0", "--out", str(out),
    )
    assert code == 0
    return out


def test_generate_json_fields_and_determinism(capsys):
    argv = ["generate", "--model", BUNDLED, "--prompt", "the", "--strategy", "sample",
            "--temperature", "0.9", "--top-p", "0.9", "--seed", "7", "--max-tokens", "12", "--json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    first = json.loads(out)
    for key in ("text", "tokens", "logprob", "strategy", "seed"):
        assert key in first
    assert first["strategy"] == "sample" and first["seed"] == 7
    assert 1 <= len(first["tokens"]) <= 12
    assert first["text"].startswith("the")
    assert first["logprob"] < 0
    code, out, _ = run(capsys, *argv)
    assert json.loads(out)["text"] == first["text"]


def test_generate_greedy_and_beam(capsys):
    code, out, _ = run(capsys, "generate", "--model", BUNDLED, "--prompt", "the value",
                       "--max-tokens", "8", "--json")
    greedy = json.loads(out)
    assert code == 0 and greedy["strategy"] == "greedy"
    code, out, _ = run(capsys, "generate", "--model", BUNDLED, "--prompt", "the value",
                       "--strategy", "beam", "--beam-width", "3", "--max-tokens", "8", "--json")
    beam = json.loads(out)
    assert code == 0 and beam["strategy"] == "beam" and beam["tokens"]


def test_generate_plain_text_output(capsys):
    code, out, err = run(capsys, "generate", "--prompt", "the", "--max-tokens", "5")
    assert code == 0
    assert out.startswith("the")
    assert "tokens" in err


def test_score_toy_sentence_chain_rule(capsys, toy_mle):
    code, out, _ = run(capsys, "score", "--model", str(toy_mle), "i love cats", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["tokens"] == ["i", "love", "cats", "</s>"]
    # p(i|<s><s>) p(love|<s> i) p(cats|i love) p(</s>|love cats) = 2/3 · 1 · 1/2 · 1
    assert math.isclose(result["nll"], -math.log(2 / 3 * 0.5), rel_tol=1e-9)
    assert math.isclose(result["perplexity"], math.exp(result["nll"] / 4), rel_tol=1e-9)
    assert math.isclose(result["bits_per_token"], result["nll"] / 4 / math.log(2), rel_tol=1e-9)


def test_score_unseen_sentence_infinite_under_mle_finite_under_add_one(capsys, tmp_path, toy_mle):
    code, out, _ = run(capsys, "score", "--model", str(toy_mle), "i love mice", "--json")
    assert code == 0
    assert json.loads(out)["perplexity"] == "inf"
    add1 = tmp_path / "toy-add1"
    run(capsys, "train", "ngram", "--corpus", "toy", "--order", "3", "--smoothing", "addk",
        "--k", "1", "--valid-fraction", "0", "--out", str(add1))
    code, out, _ = run(capsys, "score", "--model", str(add1), "i love mice", "--json")
    ppl = json.loads(out)["perplexity"]
    assert isinstance(ppl, float) and math.isfinite(ppl) and ppl > 1


def test_score_table_and_file(capsys, tmp_path):
    text_file = tmp_path / "t.txt"
    text_file.write_text("the object is returned .\n", encoding="utf-8")
    code, out, _ = run(capsys, "score", "--model", BUNDLED, "--file", str(text_file))
    assert code == 0
    assert "perplexity:" in out and "NLL:" in out and "</s>" in out


def test_train_export_arpa_and_reload(capsys, tmp_path):
    model_dir = tmp_path / "kn"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "the cat sat on the mat. the dog sat on the log. a cat saw a dog.\n\n"
        "the dog ran to the cat. a bird sat on the dog.\n", encoding="utf-8")
    code, out, _ = run(capsys, "train", "ngram", "--corpus", str(corpus), "--order", "3",
                       "--smoothing", "kn", "--valid-fraction", "0", "--out", str(model_dir))
    assert code == 0 and (model_dir / "card.md").is_file() and (model_dir / "config.json").is_file()
    arpa = tmp_path / "kn.arpa"
    code, out, _ = run(capsys, "export-arpa", "--model", str(model_dir), "--out", str(arpa))
    assert code == 0 and arpa.read_text().startswith("\\data\\") or "\\data\\" in arpa.read_text()
    code, out, _ = run(capsys, "score", "--model", str(model_dir), "the cat sat on the log.", "--json")
    original = json.loads(out)
    code, out, _ = run(capsys, "score", "--model", str(arpa), "the cat sat on the log.", "--json")
    reloaded = json.loads(out)
    assert reloaded["tokens"] == original["tokens"]
    assert reloaded["logprobs"] == pytest.approx(original["logprobs"], rel=1e-5, abs=1e-6)


def test_models_list_shows_bundled_and_user_models(capsys):
    code, out, _ = run(capsys, "train", "ngram", "--corpus", "toy", "--order", "2",
                       "--valid-fraction", "0", "--name", "my-toy")
    assert code == 0
    code, out, _ = run(capsys, "models", "list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows[BUNDLED]["backend"] == "ngram" and rows[BUNDLED]["origin"] == "bundled"
    assert rows[BUNDLED]["heldout_perplexity"] > 1
    assert rows[BUNDLED]["config"]["order"] == 3
    assert rows["my-toy"]["origin"] == "user"
    code, out, _ = run(capsys, "models", "list")
    assert BUNDLED in out and "my-toy" in out
    code, out, _ = run(capsys, "generate", "--model", "my-toy", "--prompt", "i", "--json")
    assert code == 0 and json.loads(out)["text"].startswith("i")


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["generate", "--model", "no-such-model"], ["no-such-model"]),
        (["generate", "--temperature", "-1"], ["temperature"]),
        (["generate", "--top-p", "1.5"], ["--top-p"]),
        (["generate", "--top-k", "-3"], ["--top-k"]),
        (["generate", "--strategy", "beam", "--beam-width", "0"], ["--beam-width"]),
        (["generate", "--top-k", "many"], ["--top-k"]),
        (["score", "--model", BUNDLED, "--file", "/nonexistent/file.txt"], ["/nonexistent/file.txt"]),
        (["score", "--model", BUNDLED], ["nothing to score"]),
        (["train", "ngram", "--corpus", "/nonexistent/corpus.txt", "--out", "x"], ["/nonexistent/corpus.txt"]),
        (["train", "ngram", "--corpus", "toy", "--order", "7", "--out", "x"], ["order"]),
        (["train", "ngram", "--corpus", "toy"], ["--out"]),
        (["frobnicate"], ["frobnicate"]),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, argv, needles):
    code, _, err = run_usage_error(capsys, *argv)
    assert_one_line_error(code, err, *needles)


def test_corrupt_model_directory_names_the_file(capsys, tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{ not json", encoding="utf-8")
    code, _, err = run_usage_error(capsys, "score", "--model", str(bad), "hello")
    assert_one_line_error(code, err, "config.json")


def test_binary_corpus_is_refused(capsys, tmp_path):
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x00\x01\x02binary")
    code, _, err = run_usage_error(capsys, "train", "ngram", "--corpus", str(binary),
                                   "--out", str(tmp_path / "m"))
    assert_one_line_error(code, err, "data.bin")


def test_python_dash_m_and_console_script_run():
    out = subprocess.run(
        [sys.executable, "-m", "arlm_tui", "generate", "--prompt", "the", "--max-tokens", "3",
         "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["text"].startswith("the")
    bad = subprocess.run([sys.executable, "-m", "arlm_tui", "generate", "--model", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    # the command line is a package: ``python -m arlm_tui.cli`` runs it as it did the module
    bad = subprocess.run([sys.executable, "-m", "arlm_tui.cli", "generate", "--model", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown model 'nope'" in bad.stderr


def test_demo_steps_through_a_generation(capsys):
    code, out, _ = run(capsys, "demo", "--max-tokens", "3", "--seed", "1")
    assert code == 0
    assert "step 1" in out and "→" in out and "entropy" in out and "text:" in out

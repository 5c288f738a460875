"""``arlm train ngram`` on files: one sentence per line or wrapped prose (detected, or forced
with --sentences), and held-out sentences only for a method that needs them or when asked."""

from __future__ import annotations

import json
import math
import textwrap

import pytest

from arlm_tui.cli import main

PROSE = (
    "The quick brown fox jumps over the lazy dog near the river bank. A second sentence "
    "follows the first one and carries on for a while before it stops. Short one! Does the "
    "reader know where each sentence ends when the lines are wrapped at seventy columns? It "
    "should, because the punctuation says so and the line breaks say nothing at all. The last "
    "sentence of the paragraph is here."
)
PROSE_SENTENCES = 6


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def summary(model_dir):
    return json.loads((model_dir / "config.json").read_text("utf-8"))["summary"]


def nll(capsys, model_dir, text):
    code, out, _ = run(capsys, "score", "--model", model_dir, text, "--json")
    assert code == 0
    return json.loads(out)["nll"]


@pytest.fixture()
def toy_file(tmp_path):
    path = tmp_path / "toy.txt"
    path.write_text("i love cats\ni love dogs\ncats chase mice\n", encoding="utf-8")
    return path


def test_the_lecture_toy_corpus_typed_in_a_file_gives_the_lecture_numbers(capsys, tmp_path, toy_file):
    model = tmp_path / "m"
    code, out, _ = run(capsys, "train", "ngram", "--corpus", toy_file, "--order", 3,
                       "--smoothing", "mle", "--out", model)
    assert code == 0
    assert "one sentence per line" in out and "--sentences punctuation" in out
    assert "held-out perplexity" not in out  # nothing was held out
    assert summary(model)["train_texts"] == 3 and summary(model)["heldout_tokens"] == 0
    # p(i|<s><s>) p(love|<s> i) p(cats|i love) p(</s>|love cats) = 2/3 · 1 · 1/2 · 1 = 1/3
    assert nll(capsys, model, "i love cats") == pytest.approx(math.log(3))
    # p(cats|<s><s>) p(chase|<s> cats) p(mice|cats chase) p(</s>|chase mice) = 1/3
    assert nll(capsys, model, "cats chase mice") == pytest.approx(math.log(3))


def test_forcing_punctuation_reads_the_toy_file_as_one_sentence(capsys, tmp_path, toy_file):
    model = tmp_path / "m"
    code, out, _ = run(capsys, "train", "ngram", "--corpus", toy_file, "--order", 3,
                       "--smoothing", "mle", "--sentences", "punctuation", "--out", model)
    assert code == 0 and "cut at . ! ?" in out and "as asked" in out
    assert summary(model)["train_texts"] == 1
    # the defect when the file is read as one sentence: "cats" never opens one
    assert nll(capsys, model, "cats chase mice") == "inf"


@pytest.mark.parametrize("width", [60, 70, 79])
def test_wrapped_prose_is_cut_at_punctuation(capsys, tmp_path, width):
    corpus = tmp_path / "prose.txt"
    text = textwrap.fill(PROSE, width) + "\n\n" + textwrap.fill(PROSE.upper(), width) + "\n"
    corpus.write_text(text, encoding="utf-8")
    model = tmp_path / "m"
    code, out, _ = run(capsys, "train", "ngram", "--corpus", corpus, "--out", model)
    assert code == 0
    assert "cut at . ! ?" in out and "wrapped" in out and "--sentences lines" in out
    assert summary(model)["train_texts"] == 2 * PROSE_SENTENCES
    forced = tmp_path / "lines"
    code, out, _ = run(capsys, "train", "ngram", "--corpus", corpus, "--sentences", "lines",
                       "--out", forced)
    assert code == 0 and "one sentence per line (as asked)" in out
    assert summary(forced)["train_texts"] == len([x for x in text.splitlines() if x.strip()])


def test_one_sentence_per_line_with_punctuation_is_read_per_line(capsys, tmp_path):
    corpus = tmp_path / "lines.txt"
    lines = ["The cat sat on the mat.", "Dogs bark at night", "Is it raining?",
             "A much longer sentence about nothing in particular goes on this line.", "Yes."]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = tmp_path / "m"
    code, out, _ = run(capsys, "train", "ngram", "--corpus", corpus, "--out", model)
    assert code == 0 and "one sentence per line" in out
    assert summary(model)["train_texts"] == len(lines)


def test_sentences_are_held_out_only_when_needed_or_asked(capsys, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"w{i % 7} w{i % 5} w{i % 3}" for i in range(40)) + "\n",
                      encoding="utf-8")
    cases = [  # (extra flags, sentences held out)
        (["--smoothing", "kn"], 0),
        (["--smoothing", "addk"], 0),
        (["--smoothing", "interp"], 4),  # interp fits its weights on a tenth
        (["--smoothing", "kn", "--valid-fraction", "0.25"], 10),
        (["--smoothing", "interp", "--valid-fraction", "0.5"], 20),
    ]
    for i, (flags, held_out) in enumerate(cases):
        model = tmp_path / f"m{i}"
        code, out, _ = run(capsys, "train", "ngram", "--corpus", corpus, *flags, "--out", model)
        assert code == 0
        facts = summary(model)
        assert facts["train_texts"] == 40 - held_out, flags
        assert ("held-out perplexity" in out) == (held_out > 0), (flags, out)
        assert (facts["heldout_perplexity"] is None) == (held_out == 0)


def test_the_older_unit_flag_still_works(capsys, tmp_path, toy_file):
    model = tmp_path / "m"
    code, out, _ = run(capsys, "train", "ngram", "--corpus", toy_file, "--unit", "sentence",
                       "--out", model)
    assert code == 0 and summary(model)["train_texts"] == 1

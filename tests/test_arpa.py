"""ARPA export and import: exact round trips for the back-off smoothings, the file layout, the
back-off recursion on a hand-written file, and clear errors for malformed files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.errors import ArlmError
from arlm_tui.lm.arpa import ArpaModel, read_arpa, write_arpa
from arlm_tui.lm.ngram import STUPID_ALPHA, NGramModel
from arlm_tui.text.corpora import TOY_CORPUS
from arlm_tui.text.tokenizers import CharTokenizer, WordTokenizer


@pytest.fixture(scope="module")
def toy():
    tok = WordTokenizer.train(TOY_CORPUS)
    return tok, [tok.encode(s) for s in TOY_CORPUS]


def assert_same_distribution(expected: np.ndarray, got: np.ndarray) -> None:
    assert np.array_equal(np.isfinite(expected), np.isfinite(got))
    finite = np.isfinite(expected)
    assert np.allclose(expected[finite], got[finite], rtol=1e-6, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcde"), max_size=6), min_size=1, max_size=10),
    st.integers(2, 5),
    st.sampled_from(["kn", "interp", "mle"]),
    st.lists(st.lists(st.integers(0, 8), max_size=5), min_size=1, max_size=5),
)
def test_export_then_import_gives_the_same_probabilities(
    tmp_path_factory, sentences, order, smoothing, contexts
):
    tok = WordTokenizer.from_vocab(list("abcdef"))  # ids 0..8; "f" never seen
    ids = [tok.encode(" ".join(s)) for s in sentences]
    model = NGramModel.fit(ids, tok, order=order, smoothing=smoothing)
    path = tmp_path_factory.mktemp("arpa") / "model.arpa"
    write_arpa(model, path)
    with_tokenizer = read_arpa(path, tok)
    own_vocab = read_arpa(path)
    assert own_vocab.vocab == tok.vocab and own_vocab.order == order
    seen = [s[:i] for s in ids for i in range(len(s) + 1)]
    for context in seen[:8] + contexts:
        expected = model.next_logprobs(context)
        assert_same_distribution(expected, with_tokenizer.next_logprobs(context))
        assert_same_distribution(expected, own_vocab.next_logprobs(context))


def test_stupid_backoff_round_trips_for_listed_histories(toy, tmp_path):
    tok, sentences = toy
    model = NGramModel.fit(sentences, tok, order=3, smoothing="stupid")
    write_arpa(model, tmp_path / "s.arpa")
    arpa = read_arpa(tmp_path / "s.arpa", tok)
    for text in ("", "i", "i love", "cats chase", "love dogs"):
        context = tok.encode(text)
        assert_same_distribution(model.next_logprobs(context), arpa.next_logprobs(context))
    bows = [line.split("\t")[2] for line in _section(tmp_path / "s.arpa", 2)]
    assert all(float(b) == pytest.approx(math.log10(STUPID_ALPHA)) for b in bows)


def _section(path, j):
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"\\{j}-grams:") + 1
    end = lines.index("", start)
    return lines[start:end]


def test_file_layout(toy, tmp_path):
    tok, sentences = toy
    model = NGramModel.fit(sentences, tok, order=3, smoothing="kn")
    path = tmp_path / "kn.arpa"
    write_arpa(model, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "\\data\\" in lines and lines[-1] == "\\end\\"
    for j in (1, 2, 3):
        declared = next(int(x.split("=")[1]) for x in lines if x.startswith(f"ngram {j}="))
        section = _section(path, j)
        assert len(section) == declared
        for line in section:
            fields = line.split("\t")
            assert len(fields) == (2 if j == 3 else 3)
            assert len(fields[1].split()) == j
            assert float(fields[0]) <= 0
    unigrams = {line.split("\t")[1]: line.split("\t") for line in _section(path, 1)}
    assert set(unigrams) == set(tok.vocab)
    # <s> is never predicted but, as a context, has a back-off weight
    assert float(unigrams["<s>"][0]) == -99 and len(unigrams["<s>"]) == 3
    # the listed probability of a seen trigram is the model's interpolated one
    for line in _section(path, 3):
        log_p, words = line.split("\t")
        *context, word = words.split()
        expected = model.prob(tok.token_to_id[word], [tok.token_to_id[w] for w in context])
        assert 10 ** float(log_p) == pytest.approx(expected)


def test_addk_and_whitespace_tokens_are_refused(toy, tmp_path):
    tok, sentences = toy
    laplace = NGramModel.fit(sentences, tok, order=2, smoothing="addk")
    with pytest.raises(ArlmError, match="add-k"):
        write_arpa(laplace, tmp_path / "a.arpa")
    chars = CharTokenizer.train(TOY_CORPUS)
    char_model = NGramModel.fit([chars.encode(s) for s in TOY_CORPUS], chars, order=2)
    with pytest.raises(ArlmError, match="whitespace"):
        write_arpa(char_model, tmp_path / "c.arpa")


HAND_WRITTEN = """\
Some header text that readers skip.

\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t</s>
-99\t<s>\t-0.30103
-0.5\ta\t-0.5
-0.8\tb\t0
-0.6\tc

\\2-grams:
-0.2\t<s> a
-0.1\ta b
-0.4\tb </s>

\\end\\
"""


def test_back_off_recursion_on_a_hand_written_file(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    model = read_arpa(path)
    assert isinstance(model, ArpaModel) and model.backend == "arpa" and model.order == 2
    assert model.vocab == ["<unk>", "<s>", "</s>", "a", "b", "c"]
    a, b, c, eos = 3, 4, 5, 2
    p = np.exp(model.next_logprobs([]))  # context <s>
    assert p[a] == pytest.approx(10**-0.2)
    assert p[b] == pytest.approx(10**-0.30103 * 10**-0.8)
    assert p[model.bos_id] == 0 and p[model.unk_id] == 0  # <unk> is not in the file
    p = np.exp(model.next_logprobs([a]))
    assert p[b] == pytest.approx(10**-0.1)
    assert p[c] == pytest.approx(10**-0.5 * 10**-0.6)
    p = np.exp(model.next_logprobs([c]))  # c has no bow: 1
    assert p[eos] == pytest.approx(10**-1.0)
    logprobs, state = model.start([[], [a]])
    logprobs, state = model.extend(state, [a, b])
    assert np.allclose(logprobs[1], model.next_logprobs([a, b]))
    assert model.describe()["ngrams"] == {1: 5, 2: 3}


@pytest.mark.parametrize(
    ("edit", "line", "needle"),
    [
        (lambda t: t.replace("\\data\\", "\\daata\\"), None, "data"),
        (lambda t: t.replace("ngram 2=3", "ngram 2=three"), 5, "ngram"),
        (lambda t: t.replace("ngram 2=3", "ngram 2=4"), None, "declares 4"),
        (lambda t: t.replace("-0.1\ta b", "-0.1\ta b c d"), 16, "fields"),
        (lambda t: t.replace("-0.1\ta b", "oops\ta b"), 16, "not a number"),
        (lambda t: t.replace("-0.4\tb </s>", "-0.4\tb zzz"), 17, "zzz"),
        (lambda t: t.replace("\\end\\", ""), None, "end"),
        (lambda t: t.replace("\\2-grams:", "\\3-grams:"), 14, "not declared"),
        (lambda t: t.replace("-0.1\ta b", "-0.1\ta b\t-0.2"), 16, "fields"),
        (lambda t: t.replace("-0.6\tc", "nan\tc"), 12, "finite"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, edit, line, needle):
    path = tmp_path / "bad.arpa"
    path.write_text(edit(HAND_WRITTEN), encoding="utf-8")
    with pytest.raises(ArlmError) as info:
        read_arpa(path)
    message = str(info.value)
    assert message.startswith(str(path)) and needle in message and "\n" not in message
    if line is not None:
        assert message.startswith(f"{path}:{line}:")


def test_unreadable_files(tmp_path):
    with pytest.raises(ArlmError, match="not found"):
        read_arpa(tmp_path / "missing.arpa")
    (tmp_path / "bin.arpa").write_bytes(b"\\data\\\n\xff\xfe")
    with pytest.raises(ArlmError, match="UTF-8"):
        read_arpa(tmp_path / "bin.arpa")
    tok = WordTokenizer.from_vocab(["a"])
    (tmp_path / "hand.arpa").write_text(HAND_WRITTEN, encoding="utf-8")
    with pytest.raises(ArlmError, match="tokenizer's vocabulary"):
        read_arpa(tmp_path / "hand.arpa", tok)


# ---------------------------------------------------------------------------------- bounds
@pytest.mark.parametrize(
    ("edit", "line", "needles"),
    [
        (lambda t: t.replace("ngram 1=5", "ngram 1=12000000"), 4, ["12,000,000 unigrams"]),
        (lambda t: t.replace("ngram 2=3", "ngram 2=30000000"), 5, ["30,000,005 n-grams"]),
        (lambda t: t.replace("-0.5\ta\t-0.5", "-0.5\ta\t400"), 10, ["back-off", "out of range"]),
        (lambda t: t.replace("-0.5\ta\t-0.5", "-0.5\ta\tinf"), 10, ["back-off", "finite"]),
        (lambda t: t.replace("-0.6\tc", "1e400\tc"), 12, ["probability", "finite"]),
        (lambda t: t.replace("-0.6\tc", "0.5\tc"), 12, ["above 0"]),
        (lambda t: t.replace("-0.6\tc", "-0.6\ta"), 12, ["'a'", "twice"]),
        (lambda t: t.replace("-0.4\tb </s>", "-0.4\ta b"), 17, ["twice"]),
        (lambda t: t.replace("\\end\\", "-0.5\tb c\n\\end\\"), 19, ["declares 3 2-grams", "more"]),
        (lambda t: t.replace("-0.4\tb </s>", "-0.4\tb " + "x" * 70_000), 17, ["longer"]),
    ],
)
def test_sizes_and_values_out_of_range_are_refused_with_file_and_line(tmp_path, edit, line, needles):
    path = tmp_path / "bad.arpa"
    path.write_text(edit(HAND_WRITTEN), encoding="utf-8")
    with pytest.raises(ArlmError) as info:
        read_arpa(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:") and "\n" not in message, message
    for needle in needles:
        assert needle in message, message


def test_a_file_whose_probabilities_are_all_zero_is_refused(tmp_path):
    zero = HAND_WRITTEN
    for old in ("-1.0\t</s>", "-0.5\ta", "-0.8\tb", "-0.6\tc"):
        zero = zero.replace(old, "-99\t" + old.split("\t")[1])
    path = tmp_path / "zero.arpa"
    path.write_text(zero, encoding="utf-8")
    with pytest.raises(ArlmError, match="probability 0") as info:
        read_arpa(path)
    assert str(info.value).startswith(f"{path}:7:")  # the \1-grams: line


def test_header_counts_are_checked_before_anything_is_read(tmp_path, monkeypatch):
    """A header declaring too much is refused at once, however long the file: the reader stops
    at the \\data\\ block (here the rest of the file is not even valid)."""
    import arlm_tui.lm.arpa as arpa

    monkeypatch.setattr(arpa, "MAX_ARPA_NGRAMS", 7)
    path = tmp_path / "big.arpa"
    path.write_text("\\data\\\nngram 1=5\nngram 2=3\n\n\\1-grams:\n" + "garbage\n" * 1000)
    with pytest.raises(ArlmError, match="8 n-grams; arlm reads at most 7") as info:
        read_arpa(path)
    assert str(info.value).startswith(f"{path}:3:")  # the last ngram line


def test_only_regular_files_are_read(tmp_path):
    with pytest.raises(ArlmError, match="not a regular file"):
        read_arpa(tmp_path)


def test_a_word_of_a_longer_ngram_must_be_a_unigram(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text(HAND_WRITTEN.replace("-0.4\tb </s>", "-0.4\tb zzz"), encoding="utf-8")
    tok = WordTokenizer.from_vocab(["a", "b", "c", "zzz"])  # the tokenizer knows zzz
    with pytest.raises(ArlmError, match=r":17: word 'zzz' is not in the 1-grams"):
        read_arpa(path, tok)
